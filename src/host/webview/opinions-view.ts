// DESIGN §9 in the task panel: a task's check, a review task's findings, and the second-opinion actions its state allows.
import { isLive } from '../../core/task-isolation';
import { isTerminal, type TaskState } from '../../core/task-state';
import { taskTitle } from '../../core/task-title';
import { checkLine, findingsSummary } from '../opinion-presentation';
import type { OpinionAction, TaskView } from './protocol';

export function opinionsView(task: TaskState, peek: (id: string) => TaskState | undefined, all: readonly TaskState[]): Pick<TaskView, 'check' | 'review' | 'attempts' | 'opinions'> {
  const opinions: OpinionAction[] = [];
  const live = isLive(task.worktree);
  const finished = isTerminal(task.status);
  if (finished && live) opinions.push(task.check?.state === 'running' ? 'cancelCheck' : 'runCheck');
  if (finished && live && task.worktree!.changes.files.length > 0 && task.reviewOf === undefined) opinions.push('reviewWithAgent');
  if (task.reviewOf !== undefined && (task.findings?.length ?? 0) > 0) opinions.push('sendFindings');
  const attempts = task.attemptGroup !== undefined ? all.filter((other) => other.attemptGroup === task.attemptGroup).length : undefined;
  if (attempts !== undefined && attempts > 1) opinions.push('compareAttempts');
  const reviewed = task.reviewOf !== undefined ? peek(task.reviewOf) : undefined;
  return {
    check: task.check && { ...task.check, line: checkLine(task.check) },
    review: task.reviewOf !== undefined ? { of: task.reviewOf, ofTitle: reviewed ? taskTitle(reviewed) : task.reviewOf, findings: task.findings, summary: findingsSummary(task.findings) } : undefined,
    attempts,
    opinions,
  };
}
