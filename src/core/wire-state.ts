import type { TaskStatus } from './task-state';

/** MCP tasks (SEP-1686) status for a task status (DESIGN §3). */
export type McpTaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

export function toMcpTaskStatus(status: TaskStatus): McpTaskStatus {
  switch (status) {
    case 'waiting':
    case 'pending':
    case 'running':
    case 'rate_limited':
      return 'working';
    case 'waiting_answer':
      return 'input_required';
    case 'completed':
      return 'completed';
    case 'failed':
    case 'timed_out':
    case 'unknown':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
    default: {
      const never: never = status;
      throw new Error(`Unhandled status ${String(never)}`);
    }
  }
}
