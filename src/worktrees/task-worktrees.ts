/**
 * DESIGN §8's rules on top of src/git: a worktree per task on branch `agent-tasks/<taskId>`, change summaries,
 * paged diffs, merge/apply/discard and pruning. Implements core's `WorktreePort`; knows nothing of the editor.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WorktreeChanges } from '../core/task-state';
import { GitError } from '../git/git';
import { Repository, type ChangedFile, type GitOptions } from '../git/repository';
import { runShellCommand } from '../platform/shell-command';
import { copyUntrackedFiles } from './copy';
import { mergeBranchIntoMain } from './merge';
import { placeWorktree, taskBranch } from './placement';
import type { DiffPage, DiffRequest, IsolationCheck, MergeHow, MergeResult, PreparedWorktree, PrepareInput, PruneReport, WorktreePort, WorktreeRef, FileVersion, WorktreeCommand, WorktreeCommandResult } from './port';

/** Options of `TaskWorktrees`. */
export interface TaskWorktreesOptions extends GitOptions {
  /** Where worktrees go when `<repo>.worktrees/` cannot be created (the extension's global storage). */
  fallbackDir?: string;
}

const DEFAULT_DIFF_LINES = 500;

/** Sums a list of changed files into the snapshot's change summary. */
export function summarize(files: readonly ChangedFile[]): WorktreeChanges {
  let insertions = 0;
  let deletions = 0;
  const summary = files.map((file) => {
    insertions += file.insertions;
    deletions += file.deletions;
    return {
      path: file.path,
      status: file.status,
      insertions: file.insertions,
      deletions: file.deletions,
      ...(file.oldPath !== undefined ? { oldPath: file.oldPath } : {}),
      ...(file.binary ? { binary: true } : {}),
    };
  });
  return { files: summary, insertions, deletions };
}

/** Lines `offset … offset+limit` of `text`, and where the next page starts. */
export function pageLines(text: string, offset: number, limit: number): DiffPage {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const start = Math.max(0, Math.min(offset, lines.length));
  const end = Math.min(lines.length, start + Math.max(1, limit));
  const page = lines.slice(start, end);
  return { text: page.length > 0 ? `${page.join('\n')}\n` : '', offset: start, totalLines: lines.length, ...(end < lines.length ? { nextOffset: end } : {}) };
}

/** The task worktrees of every repository the tasks run in. */
export class TaskWorktrees implements WorktreePort {
  /** Opened checkouts by folder, so a summary costs only its own git commands. */
  private readonly checkouts = new Map<string, Promise<Repository>>();

  constructor(private readonly options: TaskWorktreesOptions = {}) {}

  private checkout(folder: string, signal?: AbortSignal): Promise<Repository> {
    let opened = this.checkouts.get(folder);
    if (!opened) {
      opened = Repository.open(folder, this.options, signal);
      this.checkouts.set(folder, opened);
      opened.catch(() => this.checkouts.delete(folder));
    }
    return opened;
  }

  /**
   * The task worktree's own checkout. Verified to be that folder's top level: a folder that stopped being a worktree
   * must never resolve to an enclosing repository (a commit there would land in someone else's work).
   */
  private async worktreeCheckout(worktree: WorktreeRef, signal?: AbortSignal): Promise<Repository> {
    const checkout = await this.checkout(worktree.path, signal);
    if (!samePath(checkout.root, worktree.path)) {
      this.checkouts.delete(worktree.path);
      throw new GitError('NotARepository', `${worktree.path} is no longer a git worktree`);
    }
    return checkout;
  }

  async resolve(cwd: string, signal?: AbortSignal): Promise<IsolationCheck> {
    if (!fs.existsSync(cwd)) return { kind: 'in-place', reason: `${cwd} does not exist, so the task runs in place without a worktree` };
    let repository: Repository;
    try {
      repository = await this.checkout(cwd, signal);
    } catch (error) {
      if (error instanceof GitError && error.code === 'NotARepository') {
        return { kind: 'in-place', reason: `${cwd} is not in a git repository, so the task runs in place without a worktree` };
      }
      throw error;
    }
    const head = await repository.headCommit({ signal });
    if (!head) return { kind: 'in-place', reason: `The git repository at ${repository.root} has no commits yet, so the task runs in place without a worktree` };
    const branch = await repository.currentBranch({ signal });
    return { kind: 'repository', root: repository.root, head, ...(branch ? { branch } : {}) };
  }

  async prepare(input: PrepareInput, signal?: AbortSignal): Promise<PreparedWorktree> {
    if (input.reuse) return this.reuse(await this.checkout(input.reuse.repository, signal), input.reuse, input.cwd, signal);
    const main = await this.checkout(input.cwd, signal);
    const base = input.base === undefined ? 'HEAD' : 'branch' in input.base ? `refs/heads/${input.base.branch}` : input.base.commit;
    const baseCommit = await main.resolveCommit(base, { signal });
    if (!baseCommit) {
      const what = base === 'HEAD' ? `The repository at ${main.root} has no commits` : `The base ${input.base && 'branch' in input.base ? input.base.branch : base} does not exist`;
      throw new GitError(base === 'HEAD' ? 'NoCommits' : 'BranchNotFound', what);
    }
    const branch = taskBranch(input.taskId);
    let folder: string;
    try {
      folder = placeWorktree(main.root, input.taskId, this.options.fallbackDir);
    } catch (error) {
      const adopted = input.adopt && error instanceof GitError && error.code === 'WorktreeExists' ? await this.adopt(main, branch, baseCommit, input.cwd, signal) : undefined;
      if (adopted) return adopted;
      throw error;
    }
    try {
      await main.worktreeAdd(folder, branch, baseCommit, { signal });
      if (signal?.aborted) throw new GitError('Aborted', 'Preparing the worktree was cancelled');
      const ref: WorktreeRef = { path: folder, branch, baseCommit, repository: main.root };
      return { ...ref, cwd: this.agentCwd(main.root, folder, input.cwd) };
    } catch (error) {
      if (error instanceof GitError && error.code === 'BranchExists') {
        throw new GitError('BranchExists', `The branch ${branch} already exists; discard the old task's worktree first`, error.args, error.stderr, error.exitCode);
      }
      if (signal?.aborted || !(error instanceof GitError && error.code === 'WorktreeExists')) await this.removeQuietly(main, folder, branch);
      throw error;
    }
  }

  /**
   * The task's own worktree, made by an earlier prepare whose task was never saved with it (the host died in
   * between): the branch is this task's, so the task takes it back. Its base is where the branch left `base`.
   */
  private async adopt(main: Repository, branch: string, base: string, cwd: string, signal?: AbortSignal): Promise<PreparedWorktree | undefined> {
    const entry = (await main.worktreeList({ signal })).find((candidate) => candidate.branch === `refs/heads/${branch}`);
    if (!entry || !fs.existsSync(entry.path)) return undefined;
    const { stdout } = await main.git(['merge-base', base, `refs/heads/${branch}`], 'read', { signal, okExitCodes: [1] });
    return { path: entry.path, branch, baseCommit: stdout.trim() || base, repository: main.root, cwd: this.agentCwd(main.root, entry.path, cwd) };
  }

  /** A follow-up's worktree: the same folder, re-created from its branch when the folder was deleted. */
  private async reuse(main: Repository, ref: WorktreeRef, cwd: string, signal?: AbortSignal): Promise<PreparedWorktree> {
    const registered = (await main.worktreeList({ signal })).find((entry) => samePath(entry.path, ref.path));
    if (!registered || !fs.existsSync(ref.path)) {
      if (!(await main.branchExists(ref.branch, { signal }))) throw new GitError('BranchNotFound', `The worktree ${ref.path} and its branch ${ref.branch} are gone; the follow-up cannot continue there`);
      if (registered) await main.worktreePrune({ signal });
      await main.worktreeAdd(ref.path, ref.branch, undefined, { signal });
    }
    return { path: ref.path, branch: ref.branch, baseCommit: ref.baseCommit, repository: ref.repository, cwd: this.agentCwd(ref.repository, ref.path, cwd) };
  }

  /** The task's cwd at the same place inside the worktree (created when it is, say, an untracked folder). */
  private agentCwd(root: string, folder: string, cwd: string): string {
    let relative = path.relative(realpath(root), realpath(cwd));
    if (relative.startsWith('..') || path.isAbsolute(relative)) relative = '';
    const inside = path.join(folder, relative);
    fs.mkdirSync(inside, { recursive: true });
    return inside;
  }

  async changes(worktree: WorktreeRef, signal?: AbortSignal): Promise<WorktreeChanges> {
    if (fs.existsSync(worktree.path)) {
      const checkout = await this.worktreeCheckout(worktree, signal);
      return summarize(await checkout.changesAgainst(worktree.baseCommit, { signal }));
    }
    // The folder is gone (merged, or deleted by hand): what the branch holds.
    const main = await this.checkout(worktree.repository, signal);
    return summarize(await main.changesBetween(worktree.baseCommit, `refs/heads/${worktree.branch}`, { signal }));
  }

  async diff(worktree: WorktreeRef, request: DiffRequest = {}, signal?: AbortSignal): Promise<DiffPage> {
    const paths = request.path === undefined ? undefined : [request.path];
    let text: string;
    if (fs.existsSync(worktree.path)) {
      text = await (await this.worktreeCheckout(worktree, signal)).diffText(worktree.baseCommit, { paths, signal });
    } else {
      const main = await this.checkout(worktree.repository, signal);
      text = (await main.git(['diff', '--no-ext-diff', '--no-color', '-M', worktree.baseCommit, `refs/heads/${worktree.branch}`, '--', ...(paths ?? []).map((file) => `:(top,literal)${file}`)], 'read', { signal })).stdout;
    }
    return pageLines(text, request.offset ?? 0, request.limit ?? DEFAULT_DIFF_LINES);
  }

  async merge(worktree: WorktreeRef, how: MergeHow, message: string, signal?: AbortSignal): Promise<MergeResult> {
    const main = await this.checkout(worktree.repository, signal);
    if (fs.existsSync(worktree.path)) {
      const checkout = await this.worktreeCheckout(worktree, signal);
      // A resolution (Resolve with Agent) that left markers must not be committed, let alone merged into main.
      const unresolved = await this.markersLeft(checkout, signal);
      if (unresolved.length > 0) return { state: 'conflict', conflicts: unresolved };
      await checkout.commitAll(message, { signal });
    }
    const result = await mergeBranchIntoMain(main, worktree, how, message, signal);
    if (result.state !== 'merged' && result.state !== 'applied') return result;
    const warning = await this.cleanUp(main, worktree, result.state === 'applied');
    return warning ? { ...result, warning } : result;
  }

  /** After a merge or apply: removes the worktree, and for an apply the branch; returns what failed, if anything. */
  private async cleanUp(main: Repository, worktree: WorktreeRef, deleteBranch: boolean): Promise<string | undefined> {
    try {
      await this.removeWorktree(main, worktree.path);
      if (deleteBranch) await this.deleteBranch(main, worktree.branch);
      return undefined;
    } catch (error) {
      return `The changes are in the main checkout, but cleaning up the worktree failed: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  /** Removes a worktree whatever its state: registered or not, folder present or deleted by hand. */
  private async removeWorktree(main: Repository, folder: string): Promise<void> {
    this.checkouts.delete(folder);
    if (fs.existsSync(folder)) {
      try {
        await main.worktreeRemove(folder, { force: true });
        return;
      } catch (error) {
        if (!(error instanceof GitError) || error.code === 'GitNotFound' || error.code === 'LockHeld') throw error;
        fs.rmSync(folder, { recursive: true, force: true }); // not (or no longer) a worktree git can remove
      }
    }
    await main.worktreePrune();
  }

  /** Deletes a task branch; one already gone is fine. */
  private async deleteBranch(main: Repository, branch: string): Promise<void> {
    await main.branchDelete(branch, { force: true }).catch((error: unknown) => {
      if (!(error instanceof GitError && error.code === 'BranchNotFound')) throw error;
    });
  }

  /** Undoes a prepare that failed half-way, whatever state git was left in. */
  private async removeQuietly(main: Repository, folder: string, branch: string): Promise<void> {
    await this.removeWorktree(main, folder).catch(() => undefined);
    fs.rmSync(folder, { recursive: true, force: true });
    await main.worktreeUnlock(folder).catch(() => undefined);
    removeHalfMadeAdminDir(main.commonDir, folder);
    await main.worktreePrune().catch(() => undefined);
    await this.deleteBranch(main, branch).catch(() => undefined);
  }

  async discard(worktree: WorktreeRef, signal?: AbortSignal): Promise<void> {
    const main = await this.checkout(worktree.repository, signal);
    await main.exclusive(async () => {
      await this.removeWorktree(main, worktree.path);
      await this.deleteBranch(main, worktree.branch);
    });
  }

  async forget(worktree: WorktreeRef, signal?: AbortSignal): Promise<boolean> {
    const main = await this.checkout(worktree.repository, signal);
    return main.exclusive(async () => {
      const tip = await main.resolveCommit(`refs/heads/${worktree.branch}`, { signal });
      if (!tip) return true;
      const head = await main.headCommit({ signal });
      if (!head || !(await main.isAncestor(tip, head, { signal }))) return false;
      if (fs.existsSync(worktree.path)) await this.removeWorktree(main, worktree.path);
      await this.deleteBranch(main, worktree.branch);
      return true;
    });
  }

  async commit(worktree: WorktreeRef, message: string, signal?: AbortSignal): Promise<boolean> {
    if (!fs.existsSync(worktree.path)) return false;
    return (await (await this.worktreeCheckout(worktree, signal)).commitAll(message, { signal })) !== undefined;
  }

  async show(worktree: WorktreeRef, version: FileVersion, file: string, signal?: AbortSignal): Promise<string | undefined> {
    const main = await this.checkout(worktree.repository, signal);
    const revision = version === 'base' ? worktree.baseCommit : `refs/heads/${worktree.branch}`;
    const { stdout, exitCode } = await main.git(['cat-file', '-p', `${revision}:${file}`], 'read', { signal, okExitCodes: [128] });
    return exitCode === 0 ? stdout : undefined;
  }

  async mergeMainInto(worktree: WorktreeRef, signal?: AbortSignal): Promise<{ into: string; commit: string; conflicts: string[] }> {
    const main = await this.checkout(worktree.repository, signal);
    const head = await main.headCommit({ signal });
    if (!head) throw new GitError('NoCommits', `The main checkout ${main.root} has no commits`);
    const into = (await main.currentBranch({ signal })) ?? head.slice(0, 12);
    const checkout = await this.worktreeCheckout(worktree, signal);
    if (checkout.inProgress() === 'merge') {
      // A resolution already under way (a second Resolve with Agent): the files still holding markers.
      return { into, commit: (await checkout.resolveCommit('MERGE_HEAD', { signal })) ?? head, conflicts: await this.markersLeft(checkout, signal) };
    }
    await checkout.commitAll(`Agent task work on ${worktree.branch}`, { signal });
    await checkout.git(['merge', '--no-ff', '--no-commit', '--no-edit', head], 'write', { signal, okExitCodes: [1] });
    return { into, commit: head, conflicts: await this.unmerged(checkout, signal) };
  }

  /**
   * While a merge of main into the worktree is under way: the files it conflicted on that still hold conflict
   * markers. The conflicts are computed again in memory, so a file the agent staged (`git add`) is checked too.
   */
  private async markersLeft(checkout: Repository, signal?: AbortSignal): Promise<string[]> {
    if (checkout.inProgress() !== 'merge') return [];
    const [ours, theirs] = await Promise.all([checkout.headCommit({ signal }), checkout.resolveCommit('MERGE_HEAD', { signal })]);
    if (!ours || !theirs) return this.unmerged(checkout, signal);
    const { conflicts } = await checkout.mergeTree(ours, theirs, { signal });
    return conflicts.filter((file) => hasConflictMarkers(path.join(checkout.root, file)));
  }

  /** Paths with unmerged entries in a checkout's index. */
  private async unmerged(checkout: Repository, signal?: AbortSignal): Promise<string[]> {
    const { stdout } = await checkout.git(['diff', '--name-only', '--diff-filter=U', '-z'], 'read', { signal });
    return stdout.split('\0').filter(Boolean);
  }

  async copyUntracked(worktree: WorktreeRef, globs: readonly string[], signal?: AbortSignal): Promise<string[]> {
    if (globs.length === 0) return [];
    const main = await this.checkout(worktree.repository, signal);
    await this.worktreeCheckout(worktree, signal);
    return copyUntrackedFiles(main, worktree.path, globs, signal);
  }

  async runCommand(worktree: WorktreeRef, command: WorktreeCommand): Promise<WorktreeCommandResult> {
    if (!fs.existsSync(command.cwd)) throw new GitError('NotARepository', `The folder ${command.cwd} is gone (was the worktree deleted?); \`${command.command}\` was not run`);
    const inside = path.relative(realpath(worktree.path), realpath(command.cwd));
    if (inside.startsWith('..') || path.isAbsolute(inside)) {
      throw new GitError('NotARepository', `${command.cwd} is not inside the task's worktree ${worktree.path}; the command was not run`);
    }
    await this.worktreeCheckout(worktree, command.signal);
    return runShellCommand(command);
  }

  async prune(known: readonly WorktreeRef[], signal?: AbortSignal): Promise<PruneReport> {
    const missing = known.filter((ref) => !fs.existsSync(ref.path));
    const orphaned: string[] = [];
    const repositories = [...new Set(known.map((ref) => ref.repository))];
    for (const root of repositories) {
      let main: Repository;
      try {
        main = await this.checkout(root, signal);
      } catch (error) {
        if (error instanceof GitError && error.code === 'NotARepository') continue; // the repository itself is gone
        throw error;
      }
      await main.worktreePrune({ signal });
      for (const entry of await main.worktreeList({ signal })) {
        if (!entry.branch?.startsWith('refs/heads/agent-tasks/')) continue;
        if (!known.some((ref) => samePath(ref.path, entry.path))) orphaned.push(entry.path);
      }
    }
    for (const ref of missing) this.checkouts.delete(ref.path);
    return { missing, orphaned };
  }
}

function realpath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

function samePath(a: string, b: string): boolean {
  return realpath(a) === realpath(b);
}

/**
 * `git worktree add` stopped early (a cancel) can leave its administrative folder (`<common dir>/worktrees/<name>`)
 * with `commondir` or `gitdir` missing or empty, and then every git command in the repository fails ("failed to read …/commondir").
 * Such a folder, named after this task's worktree, is ours and unusable: it is removed.
 */
function removeHalfMadeAdminDir(commonDir: string, folder: string): void {
  const admin = path.join(commonDir, 'worktrees', path.basename(folder));
  if (!fs.existsSync(admin)) return;
  if (['commondir', 'gitdir'].every((name) => fileSize(path.join(admin, name)) > 0)) return;
  fs.rmSync(admin, { recursive: true, force: true });
}

/** True when a file has a line git writes around a conflict (`<<<<<<< `, `=======`, `>>>>>>> `). */
function hasConflictMarkers(file: string): boolean {
  try {
    return /^(<{7} |={7}$|>{7} )/m.test(fs.readFileSync(file, 'utf8'));
  } catch {
    return false; // resolved by deleting it
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
