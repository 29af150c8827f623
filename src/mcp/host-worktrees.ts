// The host side of the MCP worktree tools (DESIGN §8): a bounded page of a task's diff (get_task_changes), and
// merging or applying a delegated task's work (merge_task_changes), which only the user's agentTasks.mcp.allowAgentMerge
// permits.
import * as path from 'node:path';
import type { Logger } from '../core/events';
import { WorktreeMergeError, type TaskIsolation } from '../core/task-isolation';
import { type OutputEntry, type TaskState, type TaskWorktree } from '../core/task-state';
import type { DiffPage } from '../core/worktree-port';
import {
  DIFF_PAGE_LINES,
  MAX_DIFF_LINE_CHARS,
  MAX_DIFF_PAGE_CHARS,
  MAX_DIFF_PAGE_LINES,
  MAX_WIRE_FILES,
  type HostMethods, type WireDiffPage, type WireMergeResult, type WireTask } from './protocol';
import { wireWorktree } from './wire';

/** The tasks as the worktree requests use them (TaskManager has it all). */
export interface WorktreeTasks {
  /** DESIGN §8: diffs and merges of task worktrees (throws where there are none). */
  readonly worktrees: Pick<TaskIsolation, 'diff' | 'mergeChanges'>;
  appendOutput(id: string, entry: Omit<OutputEntry, 'at'>): void;
}

/** The host server's settings and log. */
export interface WorktreeSettings {
  /** agentTasks.mcp.allowAgentMerge (user settings only). */
  allowAgentMerge(): boolean;
  log: Logger;
}

/**
 * The host server's own lookups, so who may read or change a task is decided in one place. `Caller` is whoever the
 * host server says is asking (passed through untouched).
 */
export interface TaskLookups<Caller> {
  /** A task the delegating agent may read, as `get` gives it (throws for an unknown one). */
  readable(id: unknown, caller: Caller): TaskState;
  /** A task the delegating agent may change (throws for one only the user may). */
  delegated(id: unknown, caller: Caller, verb: string): TaskState;
  wire(task: TaskState): WireTask;
}

export class WorktreeRequests<Caller = void> {
  constructor(
    private readonly tasks: WorktreeTasks,
    private readonly settings: WorktreeSettings,
    private readonly lookups: TaskLookups<Caller>,
  ) {}

  async changes({ taskId, path: file, offset, limit }: HostMethods['changes']['params'], caller: Caller): Promise<WireDiffPage> {
    const task = this.lookups.readable(taskId, caller);
    const worktree = worktreeOf(task);
    if (worktree.state === 'applied' || worktree.state === 'discarded') {
      throw new Error(`Task ${task.id}'s changes were already ${worktree.state}: its branch is gone, so there is no diff to show`);
    }
    if (file !== undefined && (typeof file !== 'string' || !file.trim() || path.isAbsolute(file) || file.split(/[\\/]/).includes('..'))) {
      throw new Error('path must be a file path relative to the repository, as get_task lists it');
    }
    const start = wholeNumber(offset, 'offset', 0, 0);
    const lines = Math.min(wholeNumber(limit, 'limit', DIFF_PAGE_LINES, 1), MAX_DIFF_PAGE_LINES);
    const page = await this.tasks.worktrees.diff(task.id, { path: file, offset: start, limit: lines });
    return { taskId: task.id, worktree: wireWorktree(worktree), ...(file !== undefined ? { path: file } : {}), ...boundedPage(page) };
  }

  /** DESIGN §8: refused unless the user turned on agentTasks.mcp.allowAgentMerge; only a delegated task's work. */
  async merge({ taskId, how }: HostMethods['merge']['params'], caller: Caller): Promise<WireMergeResult> {
    if (how !== undefined && how !== 'merge' && how !== 'apply') throw new Error('how must be "merge" or "apply"');
    if (!this.settings.allowAgentMerge()) {
      throw new Error(
        "Refused: merging a task's changes into the user's checkout is the user's call (Merge Changes in VS Code). An agent may merge " +
          'the changes of tasks it delegated only when the user turns on the setting agentTasks.mcp.allowAgentMerge. Review the work with ' +
          'get_task_changes and tell the user it is ready to merge.',
      );
    }
    const task = this.lookups.delegated(taskId, caller, 'merge');
    const way = how ?? 'merge';
    this.tasks.appendOutput(task.id, { kind: 'status', text: `[mcp] The delegating agent asked to ${way} the changes` });
    try {
      await this.tasks.worktrees.mergeChanges(task.id, { how: way });
    } catch (error) {
      if (!(error instanceof WorktreeMergeError)) throw error;
      const mine = error.reason === 'dirty' ? " Those are the user's own edits: leave them alone and tell the user." : '';
      this.settings.log.info(`[mcp] the delegating agent's ${way} of ${task.id} was refused (${error.reason})`);
      return { outcome: error.reason, message: `${error.message}${mine}`, files: [...error.files], task: this.lookups.wire(this.lookups.readable(task.id, caller)) };
    }
    const after = this.lookups.readable(task.id, caller);
    const changes = after.worktree?.changes ?? { files: [], insertions: 0, deletions: 0 };
    const summary = `${changes.files.length} file${changes.files.length === 1 ? '' : 's'}, +${changes.insertions} −${changes.deletions}`;
    const message =
      way === 'merge'
        ? `Merged task ${task.id}'s changes into the user's checkout, on its current branch (${summary}). The worktree was removed; the branch ${after.worktree?.branch ?? ''} stays until the user clears finished tasks.`
        : `Applied task ${task.id}'s changes to the user's checkout as uncommitted changes (${summary}). The worktree and its branch were removed.`;
    this.settings.log.info(`[mcp] the delegating agent ${way === 'merge' ? 'merged' : 'applied'} the changes of ${task.id}`);
    return { outcome: way === 'merge' ? 'merged' : 'applied', message, files: changes.files.slice(0, MAX_WIRE_FILES).map((f) => f.path), task: this.lookups.wire(after) };
  }
}

/** The task's worktree, or an error that says why it has none. */
function worktreeOf(task: TaskState): TaskWorktree {
  if (task.worktree) return task.worktree;
  if (task.isolation === 'worktree' && (task.status === 'waiting' || task.status === 'pending')) {
    throw new Error(`Task ${task.id} has no worktree yet: it is made when the task starts (it is ${task.status})`);
  }
  throw new Error(`Task ${task.id} did not run in a worktree of its own (it ran in its folder), so it has no separate changes to show`);
}

/** A whole number ≥ min from a request, or the fallback when absent. */
function wholeNumber(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}`);
  return value;
}

/** The page cut to MAX_DIFF_PAGE_CHARS on a whole line (its very long lines cut too); the next page starts after it. */
export function boundedPage(page: DiffPage): Pick<WireDiffPage, 'text' | 'offset' | 'lines' | 'totalLines' | 'nextOffset'> {
  const lines = page.text === '' ? [] : page.text.replace(/\n$/, '').split('\n');
  const kept: string[] = [];
  let chars = 0;
  for (const line of lines) {
    const shown = line.length > MAX_DIFF_LINE_CHARS ? `${line.slice(0, MAX_DIFF_LINE_CHARS)} … [${line.length - MAX_DIFF_LINE_CHARS} more characters not shown]` : line;
    if (kept.length > 0 && chars + shown.length + 1 > MAX_DIFF_PAGE_CHARS) break;
    kept.push(shown);
    chars += shown.length + 1;
  }
  const nextOffset = kept.length < lines.length ? page.offset + kept.length : page.nextOffset;
  return {
    text: kept.length > 0 ? `${kept.join('\n')}\n` : '',
    offset: page.offset,
    lines: kept.length,
    totalLines: page.totalLines,
    ...(nextOffset !== undefined ? { nextOffset } : {}),
  };
}
