/**
 * Task worktrees (DESIGN §8): the port, its implementation and the summary watcher. Wiring, for the integrator:
 * - container: `new TaskWorktrees({fallbackDir: <globalStorage>/worktrees})`, one per extension host.
 * - runner prepare (isolation `worktree`): `resolve(task.cwd)`; `in-place` → a `status` entry with its reason; else
 *   `prepare({taskId, cwd, base, reuse})` — base `{branch}` of the one isolated completed dependency, `{commit}` of the
 *   retried task's `baseCommit`; `reuse` = the follow-up's parent worktree — then store `worktree` (state `active`,
 *   empty changes) on the task and run the agent in `cwd` (Codex writable roots included).
 * - summaries: a `ChangeWatcher` per running task over `changes(ref)`, triggered by file events under `ref.path` and
 *   by the agent's file-change / command-end items; one flush when the task ends.
 * - merge/apply: `merge(ref, how, message)` → `merged`/`applied` update the snapshot; `conflict` stores `conflicts`;
 *   `refused` rejects with `message`. Discard (after the modal) → `discard(ref)`; Clear Finished → `forget(ref)` for
 *   `merged` only. Activation → `prune(known)`, a `[recovery]` entry per `missing` worktree.
 */
export { ChangeWatcher, type ChangeWatcherOptions } from '../core/change-watcher';
export { fallbackFolder, siblingFolder, taskBranch } from './placement';
export type { DiffPage, DiffRequest, IsolationCheck, MergeHow, MergeResult, PreparedWorktree, PrepareInput, PruneReport, WorktreePort, WorktreeRef, FileVersion } from './port';
export { pageLines, summarize, TaskWorktrees, type TaskWorktreesOptions } from './task-worktrees';
