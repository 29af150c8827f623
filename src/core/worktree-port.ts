/**
 * The port core needs for task worktrees (DESIGN §8), implemented by `TaskWorktrees` (src/worktrees) on the git CLI.
 * Everything is plain data so it persists with the task and crosses to the host, MCP and tests.
 */
import type { TaskWorktree, WorktreeChanges } from './task-state';

/** Whether a folder can run isolated: the repository it belongs to, or why the task runs in place. */
export type IsolationCheck =
  | {
      kind: 'repository';
      /** Top level of the checkout containing the folder (the "main checkout" merges go back into). */
      root: string;
      /** Its HEAD commit: the base a new worktree starts from. */
      head: string;
      /** The checked-out branch, undefined when detached. */
      branch?: string;
    }
  | {
      kind: 'in-place';
      /** A sentence for the task's `status` entry, e.g. "… is not in a git repository, so the task runs in place". */
      reason: string;
    };

/** What identifies a task worktree; persisted as part of `TaskSnapshot.worktree`. */
export type WorktreeRef = Pick<TaskWorktree, 'path' | 'branch' | 'baseCommit' | 'repository'>;

/** Which version of a file `show` reads: the base commit's, or the task branch's latest commit's. */
export type FileVersion = 'base' | 'branch';

/** Input of `prepare`. */
export interface PrepareInput {
  taskId: string;
  /** The task's working folder in the main checkout. */
  cwd: string;
  /** Stacked task: start from a dependency's branch head; retry: from the failed task's `baseCommit`. Default: HEAD. */
  base?: { branch: string } | { commit: string };
  /** Follow-up: continue in this existing worktree (re-created from its branch if its folder is gone). */
  reuse?: WorktreeRef;
  /**
   * A task recovered after a restart: when an earlier prepare of it already made its worktree (the host died before
   * the task was saved with it), take that one back instead of refusing.
   */
  adopt?: boolean;
}

/** A worktree ready for a task, and the folder its agent runs in. */
export interface PreparedWorktree extends WorktreeRef {
  /** The agent's cwd: the task's cwd at the same relative path inside the worktree. */
  cwd: string;
}

/** `merge` folds the branch into the main checkout's branch; `apply` leaves it as uncommitted (staged) changes. */
export type MergeHow = 'merge' | 'apply';

/** How a merge or apply ended. Only `merged` and `applied` changed the main checkout. */
export type MergeResult =
  | { state: 'merged'; /** main's new HEAD */ commit: string; /** a clean-up step that failed (worktree removal) */ warning?: string }
  | { state: 'applied'; /** the paths written into the main checkout */ files: string[]; warning?: string }
  | { state: 'conflict'; conflicts: string[] }
  | {
      state: 'refused';
      /** `dirty`: files the merge would write have uncommitted work; `busy`: a merge/rebase is in progress there. */
      reason: 'dirty' | 'busy';
      files: string[];
      /** A sentence naming the files, for the user. */
      message: string;
    };

/** Options of `diff`: one file or all, and the page (in lines). */
export interface DiffRequest {
  /** A path relative to the worktree's top level; default every changed file. */
  path?: string;
  /** First line of the page (0-based). */
  offset?: number;
  /** Lines per page (default 500). */
  limit?: number;
}

/** One page of a unified diff. */
export interface DiffPage {
  text: string;
  offset: number;
  totalLines: number;
  /** Where the next page starts; undefined on the last page. */
  nextOffset?: number;
}

/** What `prune` found. */
export interface PruneReport {
  /** Known worktrees whose folder was deleted by hand (their branches, with any committed work, are kept). */
  missing: WorktreeRef[];
  /** Folders of `agent-tasks/*` worktrees git knows that no known task owns (e.g. a crash during prepare). */
  orphaned: string[];
}

/** A shell command to run in a worktree (DESIGN §9: setup and check). */
export interface WorktreeCommand {
  command: string;
  /** A folder inside the worktree (the agent's cwd); anything else is refused. */
  cwd: string;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  timeoutMs?: number;
  onOutput?: (text: string) => void;
}

/** How a worktree command ended. */
export interface WorktreeCommandResult {
  /** undefined when it was ended by a signal (cancel, timeout) or could not start. */
  exitCode: number | undefined;
  /** The last ≤ 40 lines of its output. */
  tail: string;
  durationMs: number;
  cancelled: boolean;
  timedOut: boolean;
}

/** DESIGN §8 as an interface: the task runner, host and MCP use only this. */
export interface WorktreePort {
  /** Where `cwd` stands: in a repository with commits, or the reason isolation does not apply. Rejects when git is missing. */
  resolve(cwd: string, signal?: AbortSignal): Promise<IsolationCheck>;
  /** Creates (or for a follow-up, reuses) the task's worktree. Rejects with a `GitError` when it cannot. */
  prepare(input: PrepareInput, signal?: AbortSignal): Promise<PreparedWorktree>;
  /** The change summary against `baseCommit`: committed, uncommitted and untracked. Cheap; never writes. */
  changes(worktree: WorktreeRef, signal?: AbortSignal): Promise<WorktreeChanges>;
  /** The unified diff against `baseCommit`, paged by lines. */
  diff(worktree: WorktreeRef, request?: DiffRequest, signal?: AbortSignal): Promise<DiffPage>;
  /** Commits what is uncommitted in the worktree with `message`, then merges or applies it into the main checkout. */
  merge(worktree: WorktreeRef, how: MergeHow, message: string, signal?: AbortSignal): Promise<MergeResult>;
  /** Removes the worktree and its branch, unmerged work included (the caller has confirmed). */
  discard(worktree: WorktreeRef, signal?: AbortSignal): Promise<void>;
  /** Deletes the branch kept after a merge, only if main's HEAD contains it; false when it was kept. */
  forget(worktree: WorktreeRef, signal?: AbortSignal): Promise<boolean>;
  /** Commits what is uncommitted in the worktree (a stacked task then starts from it); false when there was nothing. */
  commit(worktree: WorktreeRef, message: string, signal?: AbortSignal): Promise<boolean>;
  /** A file's content at `version` (path relative to the top level); undefined when it does not exist there. */
  show(worktree: WorktreeRef, version: FileVersion, path: string, signal?: AbortSignal): Promise<string | undefined>;
  /**
   * Resolving a conflict: commits the worktree's work, then starts merging the main checkout's HEAD into the task
   * branch inside the worktree (never the main checkout), leaving conflict markers there for the agent. Returns the
   * main branch's name, the commit merged in and the files in conflict; an empty list means it went through cleanly.
   */
  mergeMainInto(worktree: WorktreeRef, signal?: AbortSignal): Promise<{ into: string; commit: string; conflicts: string[] }>;
  /**
   * DESIGN §9: copies the main checkout's files that git does not track (ignored ones included) matching `globs` into
   * the worktree at the same paths, never overwriting a file there; returns the paths copied.
   */
  copyUntracked(worktree: WorktreeRef, globs: readonly string[], signal?: AbortSignal): Promise<string[]>;
  /** DESIGN §9: runs a shell command inside the worktree (never the main checkout); its process tree dies on cancel or timeout. */
  runCommand(worktree: WorktreeRef, command: WorktreeCommand): Promise<WorktreeCommandResult>;
  /** Runs `git worktree prune` and says which known worktrees lost their folder. */
  prune(known: readonly WorktreeRef[], signal?: AbortSignal): Promise<PruneReport>;
}
