/** Task worktrees (DESIGN §8): the port, its implementation and the summary watcher. */
export { ChangeWatcher, type ChangeWatcherOptions } from './change-watcher';
export { fallbackFolder, siblingFolder, taskBranch } from './placement';
export type { DiffPage, DiffRequest, IsolationCheck, MergeHow, MergeResult, PreparedWorktree, PrepareInput, PruneReport, TaskWorkspaces, WorktreeRef } from './port';
export { pageLines, summarize, TaskWorktrees, type TaskWorktreesOptions } from './task-worktrees';
