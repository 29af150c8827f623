/**
 * Typed git operations on one checkout (a repository's main working tree or one of its linked worktrees). Each
 * operation is one or a few git commands through `run`; writes go through the repository's queue, reads don't wait.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GitError, run, type RunResult } from './git';
import { parseMergeTree, parseRawNumstat, parseStatusV2, parseWorktreeList, splitNul, type MergeTreeResult, type WorktreeEntry } from './parse';
import { queueFor, type OperationKind, type OperationQueue } from './queue';

/** How to reach git: the executable and extra environment (an identity for commits, in tests). */
export interface GitOptions {
  gitPath?: string;
  env?: Record<string, string | undefined>;
}

/** Options of one operation. */
export interface OperationOptions {
  signal?: AbortSignal;
}

/** One changed file against a base commit. Binary files count 0 lines and set `binary`. */
export interface ChangedFile {
  path: string;
  /** The path before, for a rename. */
  oldPath?: string;
  status: 'added' | 'modified' | 'deleted' | 'renamed';
  insertions: number;
  deletions: number;
  binary: boolean;
}

/** An operation left half-done in a checkout (a merge waiting for its commit, a rebase, …). */
export type InProgress = 'merge' | 'rebase' | 'cherry-pick' | 'revert' | 'bisect';

const IN_PROGRESS_MARKERS: readonly [string, InProgress][] = [
  ['MERGE_HEAD', 'merge'],
  ['rebase-merge', 'rebase'],
  ['rebase-apply', 'rebase'],
  ['CHERRY_PICK_HEAD', 'cherry-pick'],
  ['REVERT_HEAD', 'revert'],
  ['BISECT_LOG', 'bisect'],
];

/** Paths per git command line when a list of paths is passed as arguments (keeps far below ARG_MAX). */
const PATHS_PER_COMMAND = 2_000;

const STATUS_BY_LETTER: Record<string, ChangedFile['status']> = { A: 'added', C: 'added', D: 'deleted', R: 'renamed', M: 'modified', T: 'modified', U: 'modified' };

/** A checkout, opened at its top level. */
export class Repository {
  private readonly queue: OperationQueue;

  private constructor(
    /** Top level of this checkout. */
    readonly root: string,
    /** The git directory shared by every worktree of the repository (keys the queue). */
    readonly commonDir: string,
    /** This checkout's own git directory (its index, HEAD, MERGE_HEAD). */
    readonly gitDir: string,
    private readonly options: GitOptions,
  ) {
    this.queue = queueFor(commonDir);
  }

  /** Opens the checkout containing `cwd`; rejects with `NotARepository` (or `GitNotFound`). */
  static async open(cwd: string, options: GitOptions = {}, signal?: AbortSignal): Promise<Repository> {
    const args = ['rev-parse', '--path-format=absolute', '--show-toplevel', '--git-common-dir', '--absolute-git-dir'];
    const { stdout } = await run(cwd, args, { ...options, readOnly: true, signal });
    const [root, commonDir, gitDir] = stdout.split('\n').map((line) => line.trim());
    if (!root) throw new GitError('NotARepository', `${cwd} is not inside a git working tree`, args);
    return new Repository(root, commonDir, gitDir, options);
  }

  /** Runs git in this checkout, through the queue for writes. */
  git(args: readonly string[], kind: OperationKind, extra: { signal?: AbortSignal; env?: Record<string, string | undefined>; input?: string | Buffer; okExitCodes?: number[]; durable?: boolean } = {}): Promise<RunResult> {
    const env = { ...this.options.env, ...extra.env };
    const execute = () => run(this.root, args, { gitPath: this.options.gitPath, env, readOnly: kind === 'read', signal: extra.signal, input: extra.input, okExitCodes: extra.okExitCodes, durable: extra.durable });
    return this.queue.run(kind, execute);
  }

  /** Runs several git commands as one write: nothing else mutates the repository in between. */
  exclusive<T>(operation: () => Promise<T>): Promise<T> {
    return this.queue.run('write', operation);
  }

  /** The top level of the checkout containing `cwd`. */
  static async topLevel(cwd: string, options: GitOptions = {}): Promise<string> {
    return (await Repository.open(cwd, options)).root;
  }

  /** The commit a revision names, or undefined when it names none (e.g. HEAD before the first commit). */
  async resolveCommit(revision: string, options: OperationOptions = {}): Promise<string | undefined> {
    const { stdout, exitCode } = await this.git(['rev-parse', '--verify', '--quiet', '--end-of-options', `${revision}^{commit}`], 'read', { signal: options.signal, okExitCodes: [1] });
    return exitCode === 0 ? stdout.trim() : undefined;
  }

  /** HEAD's commit, or undefined when the repository has no commits yet. */
  headCommit(options: OperationOptions = {}): Promise<string | undefined> {
    return this.resolveCommit('HEAD', options);
  }

  async hasCommits(options: OperationOptions = {}): Promise<boolean> {
    return (await this.headCommit(options)) !== undefined;
  }

  /** The checked-out branch's short name, or undefined when HEAD is detached. */
  async currentBranch(options: OperationOptions = {}): Promise<string | undefined> {
    const { stdout, exitCode } = await this.git(['symbolic-ref', '--quiet', '--short', 'HEAD'], 'read', { signal: options.signal, okExitCodes: [1] });
    return exitCode === 0 ? stdout.trim() : undefined;
  }

  async branchExists(branch: string, options: OperationOptions = {}): Promise<boolean> {
    const { exitCode } = await this.git(['show-ref', '--verify', '--quiet', `refs/heads/${branch}`], 'read', { signal: options.signal, okExitCodes: [1] });
    return exitCode === 0;
  }

  /** True when `ancestor` is reachable from `descendant` (equal counts). */
  async isAncestor(ancestor: string, descendant: string, options: OperationOptions = {}): Promise<boolean> {
    const { exitCode } = await this.git(['merge-base', '--is-ancestor', ancestor, descendant], 'read', { signal: options.signal, okExitCodes: [1] });
    return exitCode === 0;
  }

  /** Adds a worktree at `folder`: on a new branch from `startPoint`, or (no startPoint) on an existing branch. */
  async worktreeAdd(folder: string, branch: string, startPoint?: string, options: OperationOptions = {}): Promise<void> {
    const args = startPoint === undefined ? ['worktree', 'add', folder, branch] : ['worktree', 'add', '-b', branch, folder, startPoint];
    await this.git(args, 'write', { signal: options.signal });
  }

  /** Removes a worktree; `force` also drops its untracked and modified files (the caller has saved what counts). */
  async worktreeRemove(folder: string, options: OperationOptions & { force?: boolean } = {}): Promise<void> {
    await this.git(['worktree', 'remove', ...(options.force ? ['--force', '--force'] : []), folder], 'write', { signal: options.signal });
  }

  /** Unlocks a worktree (also one a killed `worktree add` left locked as "initializing"), so prune can forget it. */
  async worktreeUnlock(folder: string, options: OperationOptions = {}): Promise<void> {
    await this.git(['worktree', 'unlock', folder], 'write', { signal: options.signal });
  }

  /** Forgets worktrees whose folders are gone. */
  async worktreePrune(options: OperationOptions = {}): Promise<void> {
    await this.git(['worktree', 'prune'], 'write', { signal: options.signal });
  }

  async worktreeList(options: OperationOptions = {}): Promise<WorktreeEntry[]> {
    const { stdout } = await this.git(['worktree', 'list', '--porcelain', '-z'], 'read', { signal: options.signal });
    return parseWorktreeList(stdout);
  }

  /** Deletes a local branch (`force`: even when it is not merged anywhere). */
  async branchDelete(branch: string, options: OperationOptions & { force?: boolean } = {}): Promise<void> {
    await this.git(['branch', options.force ? '-D' : '-d', '--', branch], 'write', { signal: options.signal });
  }

  /** Untracked files that are not ignored, relative to the top level. */
  async untrackedFiles(options: OperationOptions = {}): Promise<string[]> {
    const { stdout } = await this.git(['ls-files', '--others', '--exclude-standard', '--full-name', '-z'], 'read', { signal: options.signal });
    return splitNul(stdout);
  }

  /**
   * Every change of the checkout against `base`: committed, staged, unstaged and untracked, with line counts. The
   * tracked diff and the untracked listing run side by side; untracked files are then diffed through a throw-away
   * index holding them as intent-to-add, so the checkout's own index is never written.
   */
  async changesAgainst(base: string, options: OperationOptions = {}): Promise<ChangedFile[]> {
    const diffArgs = ['diff', '--raw', '--numstat', '-z', '-M', '--no-ext-diff', base];
    const [tracked, untracked] = await Promise.all([this.git(diffArgs, 'read', { signal: options.signal }), this.untrackedFiles(options)]);
    const changes = new Map<string, ChangedFile>();
    for (const change of toChanges(tracked.stdout)) changes.set(change.path, change);
    if (untracked.length > 0) {
      for (const file of untracked) changes.delete(file);
      await this.withIntentToAdd(untracked, options, async (env) => {
        for (let i = 0; i < untracked.length; i += PATHS_PER_COMMAND) {
          const { stdout } = await this.git([...diffArgs, '--', ...untracked.slice(i, i + PATHS_PER_COMMAND)], 'read', { signal: options.signal, env });
          for (const change of toChanges(stdout)) changes.set(change.path, change);
        }
      });
    }
    return [...changes.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Committed changes between two commits (e.g. a base and a branch whose worktree folder is gone). */
  async changesBetween(from: string, to: string, options: OperationOptions = {}): Promise<ChangedFile[]> {
    const { stdout } = await this.git(['diff', '--raw', '--numstat', '-z', '-M', '--no-ext-diff', from, to], 'read', { signal: options.signal });
    return toChanges(stdout);
  }

  /** The unified diff of the checkout against `base` (committed + uncommitted + untracked), optionally for some paths. */
  async diffText(base: string, options: OperationOptions & { paths?: string[] } = {}): Promise<string> {
    const args = ['diff', '--no-ext-diff', '--no-color', '-M', base, '--'];
    const pathspec = (options.paths ?? []).map((file) => `:(top,literal)${file}`);
    const tracked = await this.git([...args, ...pathspec], 'read', { signal: options.signal });
    let untracked = await this.untrackedFiles(options);
    if (options.paths) untracked = untracked.filter((file) => options.paths?.includes(file));
    if (untracked.length === 0) return tracked.stdout;
    let text = tracked.stdout;
    await this.withIntentToAdd(untracked, options, async (env) => {
      for (let i = 0; i < untracked.length; i += PATHS_PER_COMMAND) {
        text += (await this.git([...args, ...untracked.slice(i, i + PATHS_PER_COMMAND)], 'read', { signal: options.signal, env })).stdout;
      }
    });
    return text;
  }

  /** Runs `body` with an environment whose index holds only `files` as intent-to-add entries (a temp file). */
  private async withIntentToAdd(files: string[], options: OperationOptions, body: (env: Record<string, string>) => Promise<void>): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-index-'));
    const env = { GIT_INDEX_FILE: path.join(dir, 'index'), GIT_LITERAL_PATHSPECS: '1' };
    try {
      await this.git(['add', '--intent-to-add', '--pathspec-from-file=-', '--pathspec-file-nul'], 'read', { signal: options.signal, env, input: files.join('\0') });
      await body(env);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Paths that differ between two commits or trees (renames as delete + add, so both sides are listed). */
  async changedPaths(from: string, to: string, options: OperationOptions = {}): Promise<string[]> {
    const { stdout } = await this.git(['diff', '--name-only', '--no-renames', '-z', from, to], 'read', { signal: options.signal });
    return splitNul(stdout);
  }

  /**
   * Paths with uncommitted work in this checkout: staged, unstaged, unmerged and untracked (not ignored). Read with
   * GIT_OPTIONAL_LOCKS=0, so it never writes the index and never stashes.
   */
  async dirtyPaths(options: OperationOptions = {}): Promise<string[]> {
    const { stdout } = await this.git(['status', '--porcelain=v2', '-z', '--untracked-files=all', '--ignore-submodules=none'], 'read', { signal: options.signal });
    const paths = new Set<string>();
    for (const entry of parseStatusV2(stdout)) {
      if (entry.kind === 'ignored') continue;
      paths.add(entry.path);
      if (entry.origPath) paths.add(entry.origPath);
    }
    return [...paths];
  }

  /** True when the index and the working files hold `tree`'s version of every one of `paths` (absent ones absent). */
  async holdsTree(tree: string, paths: readonly string[], options: OperationOptions = {}): Promise<boolean> {
    const [staged, unstaged] = await Promise.all([
      this.git(['diff', '--cached', '--name-only', '--no-renames', '-z', tree], 'read', { signal: options.signal }),
      this.git(['diff', '--name-only', '--no-renames', '-z'], 'read', { signal: options.signal }),
    ]);
    const differing = new Set([...splitNul(staged.stdout), ...splitNul(unstaged.stdout)]);
    return !paths.some((file) => differing.has(file));
  }

  /** A merge, rebase, cherry-pick, revert or bisect left in progress in this checkout, if any. */
  inProgress(): InProgress | undefined {
    for (const [marker, operation] of IN_PROGRESS_MARKERS) if (fs.existsSync(path.join(this.gitDir, marker))) return operation;
    return undefined;
  }

  /** Merges two commits in memory (`git merge-tree --write-tree`, git ≥ 2.38): the result tree and conflicts; no checkout is touched. */
  async mergeTree(ours: string, theirs: string, options: OperationOptions = {}): Promise<MergeTreeResult> {
    const args = ['merge-tree', '--write-tree', '--name-only', '--no-messages', '-z', ours, theirs];
    try {
      const { stdout, exitCode } = await this.git(args, 'read', { signal: options.signal, okExitCodes: [1] });
      return parseMergeTree(stdout, exitCode);
    } catch (error) {
      if (error instanceof GitError && error.code === 'GitTooOld') {
        throw new GitError('GitTooOld', 'Merging a task needs git 2.38 or newer (git merge-tree --write-tree); update git, or apply the changes by hand from the task branch.', args, error.stderr, error.exitCode);
      }
      throw error;
    }
  }

  /** Creates a commit object for `tree` with `parents` (no ref moves). */
  async commitTree(tree: string, parents: string[], message: string, options: OperationOptions = {}): Promise<string> {
    const args = ['commit-tree', tree, ...parents.flatMap((parent) => ['-p', parent]), '-F', '-'];
    return (await this.git(args, 'write', { signal: options.signal, input: message })).stdout.trim();
  }

  /**
   * `git merge` of `revision` into the checked-out branch. `fastForwardOnly` refuses anything but a fast-forward, so
   * when it fails nothing was written. `reflog` names the entry in HEAD's reflog.
   */
  async merge(revision: string, options: OperationOptions & { message?: string; fastForwardOnly?: boolean; reflog?: string } = {}): Promise<void> {
    const args = ['merge', '--no-edit', '--no-verify', options.fastForwardOnly ? '--ff-only' : '--no-ff', ...(options.message ? ['-m', options.message] : []), revision];
    // Durable: a host that dies while git writes the checkout must not take git down between the files and HEAD.
    await this.git(args, 'write', { signal: options.signal, env: options.reflog ? { GIT_REFLOG_ACTION: options.reflog } : undefined, durable: true });
  }

  /** The patch from one commit or tree to another, binary files included (input for `applyPatch`). */
  async patch(from: string, to: string, options: OperationOptions = {}): Promise<string> {
    return (await this.git(['diff', '--binary', '--full-index', '--no-ext-diff', '--no-color', from, to], 'read', { signal: options.signal })).stdout;
  }

  /**
   * `git apply` of a patch to this checkout: `index` also stages it; `threeWay` falls back to a 3-way merge of the
   * blobs when the patch does not apply as is (and then may leave conflict markers — check first with `mergeTree`).
   * Without `threeWay` git applies all hunks or none.
   */
  async applyPatch(patch: string, options: OperationOptions & { index?: boolean; threeWay?: boolean; check?: boolean } = {}): Promise<void> {
    if (patch.trim() === '') return;
    const args = ['apply', '--binary', '--whitespace=nowarn', ...(options.index ? ['--index'] : []), ...(options.threeWay ? ['--3way'] : []), ...(options.check ? ['--check'] : []), '-'];
    await this.git(args, options.check ? 'read' : 'write', { signal: options.signal, input: patch, durable: !options.check });
  }

  /** Stages everything (untracked included) and commits it with `message`; returns the new commit, or undefined when clean. */
  async commitAll(message: string, options: OperationOptions = {}): Promise<string | undefined> {
    return this.exclusive(async () => {
      await this.git(['add', '--all'], 'write', { signal: options.signal });
      const staged = await this.git(['diff', '--cached', '--quiet'], 'write', { signal: options.signal, okExitCodes: [1] });
      if (staged.exitCode === 0) return undefined;
      await this.git(['commit', '--no-verify', '--quiet', '--allow-empty-message', '-F', '-'], 'write', { signal: options.signal, input: message });
      return (await this.git(['rev-parse', 'HEAD'], 'write', { signal: options.signal })).stdout.trim();
    });
  }
}

function toChanges(output: string): ChangedFile[] {
  const { raw, numstat } = parseRawNumstat(output);
  const counts = new Map(numstat.map((entry) => [entry.path, entry]));
  return raw.map((entry) => {
    const numbers = counts.get(entry.path);
    return {
      path: entry.path,
      ...(entry.status === 'R' ? { oldPath: entry.oldPath } : {}),
      status: STATUS_BY_LETTER[entry.status] ?? 'modified',
      insertions: numbers?.insertions ?? 0,
      deletions: numbers?.deletions ?? 0,
      binary: numbers?.binary ?? false,
    };
  });
}
