// The input of a task made from another one: Retry and Follow-up build it here, in one place, because they differ
// exactly where it matters (a retry starts over; a follow-up continues the same session on the same account).
import type { CreateTaskInput, TaskState } from './task-state';

/** Extra fields for tasks made by Retry and Follow-up. */
export interface CreateTaskLinks {
  parentId?: string;
  continueSession?: boolean;
  sessionId?: string;
}

/**
 * The input of a task made from a finished one. A retry starts over with the same settings (on a pinned profile
 * only); a follow-up sends `message` into the same session, so it stays on the account that holds it.
 */
export function inputFrom(task: TaskState, how: { kind: 'retry' } | { kind: 'followUp'; message: string }): { input: CreateTaskInput; links: CreateTaskLinks } {
  const input: CreateTaskInput = {
    prompt: how.kind === 'retry' ? task.prompt : how.message,
    provider: task.provider,
    taskType: task.taskType,
    model: task.model,
    cwd: task.cwd,
    labels: task.labels,
    timeoutMinutes: task.timeoutMs !== undefined ? task.timeoutMs / 60_000 : 0,
    profile: how.kind === 'retry' ? (task.profilePinned ? task.profile : undefined) : task.profile,
  };
  const links: CreateTaskLinks = how.kind === 'retry' ? { parentId: task.id } : { parentId: task.id, continueSession: true, sessionId: task.sessionId };
  return { input, links };
}
