import type { TaskStatus } from './task-state';

/** DESIGN §3: which status may follow which. Terminal states have no successors. */
export const TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  waiting: ['pending', 'failed', 'cancelled', 'unknown'],
  pending: ['running', 'failed', 'cancelled', 'unknown'],
  running: ['waiting_answer', 'rate_limited', 'completed', 'failed', 'timed_out', 'cancelled', 'unknown'],
  waiting_answer: ['running', 'failed', 'timed_out', 'cancelled', 'unknown'],
  rate_limited: ['pending', 'running', 'failed', 'timed_out', 'cancelled', 'unknown'],
  completed: [],
  failed: [],
  timed_out: [],
  cancelled: [],
  unknown: [],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export class IllegalTransitionError extends Error {
  constructor(readonly taskId: string, readonly from: TaskStatus, readonly to: TaskStatus) {
    super(`Task ${taskId} cannot go from ${from} to ${to}`);
    this.name = 'IllegalTransitionError';
  }
}
