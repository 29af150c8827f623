import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { CallToolResult, Request, RequestId, Result, Task as McpTask } from '@modelcontextprotocol/sdk/types.js';
import { isTerminal } from '../core/task-state';
import { finishedText, statusMessage, taskMarkdown, toMcpTask } from './format';
import { boundedQuestion } from '../core/question-bounds';
import type { HostConnection } from './host-connection';
import type { WireTask } from './protocol';

const PAGE_SIZE = 100;

/** What a task-augmented spawn_task passes through RequestTaskStore.createTask: the task it already started. */
export interface SpawnedTaskContext extends Record<string, unknown> {
  agentTaskId: string;
}

/**
 * The SDK's TaskStore (SEP-1686) backed by Agent Task Worker: MCP tasks *are* the delegated agent tasks, so there is no
 * second copy of state. tasks/get, tasks/result, tasks/list and tasks/cancel are served by the SDK through this store.
 */
export class HostTaskStore implements TaskStore {
  constructor(private readonly host: HostConnection) {}

  async createTask(params: CreateTaskOptions, _requestId: RequestId, request: Request): Promise<McpTask> {
    const context = params.context as Partial<SpawnedTaskContext> | undefined;
    if (typeof context?.agentTaskId !== 'string') {
      throw new Error(`${request.method} cannot create an MCP task here: only spawn_task runs as a task`);
    }
    return toMcpTask(await this.host.call('get', { taskId: context.agentTaskId }));
  }

  async getTask(taskId: string): Promise<McpTask | null> {
    const task = await this.delegated(taskId);
    return task ? toMcpTask(task) : null;
  }

  /** Results are the tasks' own: nothing to store. */
  async storeTaskResult(): Promise<void> {}

  async getTaskResult(taskId: string): Promise<Result> {
    const task = await this.delegated(taskId);
    if (!task) throw new Error(`No delegated task ${taskId}`);
    return taskResult(task);
  }

  /** The SDK calls this for tasks/cancel; other statuses follow from the agent task itself. */
  async updateTaskStatus(taskId: string, status: McpTask['status']): Promise<void> {
    if (status === 'cancelled') await this.host.call('cancel', { taskId });
  }

  async listTasks(cursor?: string): Promise<{ tasks: McpTask[]; nextCursor?: string }> {
    const start = cursor ? Number.parseInt(cursor, 10) : 0;
    if (!Number.isInteger(start) || start < 0) throw new Error(`Invalid cursor ${cursor}`);
    const tasks = (await this.host.call('list', { delegatedOnly: true })).sort((a, b) => b.created - a.created);
    const page = tasks.slice(start, start + PAGE_SIZE);
    return { tasks: page.map(toMcpTask), nextCursor: start + PAGE_SIZE < tasks.length ? String(start + PAGE_SIZE) : undefined };
  }

  private async delegated(taskId: string): Promise<WireTask | undefined> {
    try {
      const task = await this.host.call('get', { taskId });
      return task.delegated ? task : undefined;
    } catch (error) {
      if (/unknown task/i.test((error as Error).message)) return undefined;
      throw error;
    }
  }
}

/** The CallToolResult of a spawn_task that ran as an MCP task (tasks/result). */
export function taskResult(task: WireTask): CallToolResult {
  const failed = isTerminal(task.status) && task.status !== 'completed';
  return {
    content: [{ type: 'text', text: isTerminal(task.status) ? finishedText(task) : taskMarkdown(task) }],
    structuredContent: { message: isTerminal(task.status) ? finishedText(task) : statusMessage(task), ...structuredTask(task) },
    isError: failed || undefined,
  };
}

/** The machine-readable part of tool results about one task. */
export function structuredTask(task: WireTask): Record<string, unknown> {
  return {
    taskId: task.id,
    status: task.status,
    provider: task.provider,
    taskType: task.taskType,
    labels: task.labels,
    ...(task.result !== undefined ? { result: task.result } : {}),
    ...(task.error !== undefined ? { error: task.error } : {}),
    pendingQuestions: task.pendingQuestions.map((question) => boundedQuestion(question)),
    ...(task.worktree !== undefined ? { worktree: task.worktree } : {}),
    ...(task.check !== undefined ? { check: task.check } : {}),
    ...(task.attemptGroup !== undefined ? { attemptGroup: task.attemptGroup } : {}),
    ...(task.reviewOf !== undefined ? { reviewOf: task.reviewOf } : {}),
    ...(task.findings !== undefined ? { findings: task.findings, findingCount: task.findingCount ?? task.findings.length } : {}),
  };
}
