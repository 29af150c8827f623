// DESIGN §8 in a task's life: its worktree is made in the prepare phase, its change summary kept current while it
// runs, and its work merged, applied or discarded only when the user (or an allowed agent) says so.
import { ChangeWatcher } from './change-watcher';
import { WorktreeJobs } from './worktree-jobs';
import { messageOf } from './errors';
import type { ManagerParts } from './task-runner';
import { isTerminal, type OutputEntry, type TaskSnapshot, type TaskState, type TaskWorktree, type WorktreeChanges } from './task-state';
import { taskTitle } from './task-title';
import type { DiffPage, DiffRequest, MergeHow, PrepareInput, WorktreePort, WorktreeRef } from './worktree-port';

/** Why a merge or apply did not reach the main checkout; `files` are the paths it names. */
export class WorktreeMergeError extends Error {
  constructor(message: string, readonly reason: 'conflict' | 'dirty' | 'busy', readonly files: readonly string[]) {
    super(message);
    this.name = 'WorktreeMergeError';
  }
}

const NO_CHANGES: WorktreeChanges = { files: [], insertions: 0, deletions: 0 };

/** A worktree that still holds the task's unmerged work (its folder may have been deleted; the branch has it). */
export function isLive(worktree: TaskWorktree | undefined): worktree is TaskWorktree {
  return worktree !== undefined && (worktree.state === 'active' || worktree.state === 'conflict');
}

function refOf(worktree: TaskWorktree): WorktreeRef {
  return { path: worktree.path, branch: worktree.branch, baseCommit: worktree.baseCommit, repository: worktree.repository };
}

function list(files: readonly string[]): string {
  return files.length > 10 ? `${files.slice(0, 10).join(', ')} and ${files.length - 10} more` : files.join(', ');
}

/** Hooks of TaskIsolation into the manager. */
export interface IsolationHooks {
  /** Continues a finished task in the same session (TaskManager.sendFollowUp); undefined when it cannot. */
  followUp(id: string, message: string): Promise<TaskSnapshot> | undefined;
}

export class TaskIsolation {
  /** One summary watcher per task with a live worktree. */
  private readonly watchers = new Map<string, ChangeWatcher<WorktreeChanges>>();
  /** Tasks with a merge, apply, discard or resolve in flight. */
  private readonly busy = new Set<string>();
  /** DESIGN §9: setup of new worktrees and checks of finished tasks. */
  readonly jobs: WorktreeJobs;

  constructor(
    private readonly parts: ManagerParts,
    private readonly port: WorktreePort,
    private readonly hooks: IsolationHooks,
    /** Quiet time before a summary is recomputed. */
    private readonly delayMs = 300,
  ) {
    this.jobs = new WorktreeJobs(parts, port);
  }

  /** The folder the agent runs in: inside its live worktree, else the task's own cwd. */
  static agentCwd(task: TaskState): string {
    return isLive(task.worktree) ? task.worktree.cwd : task.cwd;
  }

  // The prepare phase

  /**
   * Runs in the task's slot before its agent starts (or resumes): makes (or finds again) the task's worktree. A task
   * that asked for isolation in a folder outside git runs in place and says why; a git failure fails the task.
   */
  async prepare(id: string, signal: AbortSignal): Promise<void> {
    const task = this.parts.store.get(id);
    if (!task || task.isolation !== 'worktree') return;
    if (task.worktree) {
      if (!isLive(task.worktree)) return;
      // A resumed, re-queued or rate-limited task: its folder again (re-created from the branch if deleted).
      await this.port.prepare({ taskId: id, cwd: task.cwd, reuse: refOf(task.worktree) }, signal);
      return;
    }
    const check = await this.port.resolve(task.cwd, signal);
    signal.throwIfAborted();
    if (check.kind === 'in-place') {
      this.parts.store.update(id, { isolation: 'none' });
      this.parts.appendOutput(id, { kind: 'status', text: check.reason });
      return;
    }
    const origin = await this.origin(task, signal);
    const prepared = await this.port.prepare({ taskId: id, cwd: task.cwd, ...origin.input, ...(task.recovered ? { adopt: true } : {}) }, signal);
    const after = this.parts.store.get(id);
    if (!after) return;
    const worktree: TaskWorktree = {
      path: prepared.path,
      branch: prepared.branch,
      baseCommit: prepared.baseCommit,
      repository: prepared.repository,
      cwd: prepared.cwd,
      state: 'active',
      changes: origin.changes ?? NO_CHANGES,
    };
    this.parts.store.update(id, { worktree });
    if (origin.from) this.handOver(origin.from, id);
    this.parts.appendOutput(id, { kind: 'status', text: `${origin.text} ${prepared.path} (branch ${prepared.branch}, from ${prepared.baseCommit.slice(0, 7)})` });
    if (!origin.from) await this.jobs.setUp(id, worktree, signal);
    this.refresh(id);
  }

  /** Where a new task's worktree starts: a follow-up's parent worktree, a retry's base, a stacked dependency's branch. */
  private async origin(task: TaskState, signal: AbortSignal): Promise<{ input: Pick<PrepareInput, 'base' | 'reuse'>; text: string; from?: string; changes?: WorktreeChanges }> {
    const store = this.parts.store;
    const parent = task.parentId !== undefined ? store.get(task.parentId) : undefined;
    if (parent && task.continueSession && isLive(parent.worktree)) {
      return { input: { reuse: refOf(parent.worktree) }, text: `Continuing in ${parent.id}'s worktree`, from: parent.id, changes: parent.worktree.changes };
    }
    if (parent && !task.continueSession && parent.worktree) {
      return { input: { base: { commit: parent.worktree.baseCommit } }, text: `Starting over from ${parent.id}'s base in a new worktree` };
    }
    const stacked = task.dependsOn.map((dep) => store.get(dep)).filter((dep): dep is TaskState => dep?.status === 'completed' && isLive(dep.worktree));
    if (stacked.length === 1) {
      const dep = stacked[0];
      const worktree = dep.worktree as TaskWorktree;
      // The dependency's work, uncommitted in its worktree, goes on its branch so this task starts from all of it.
      await this.port.commit(refOf(worktree), commitMessage(dep), signal);
      return { input: { base: { branch: worktree.branch } }, text: `Stacked on ${dep.id}: working in a new worktree` };
    }
    return { input: {}, text: 'Working in its own worktree' };
  }

  /** A follow-up took over its parent's worktree: only the newest task offers Review and Merge for it. */
  private handOver(from: string, to: string): void {
    const parent = this.parts.store.get(from);
    if (!parent?.worktree) return;
    this.forgetWatcher(from);
    this.parts.store.update(from, { worktree: undefined });
    this.parts.appendOutput(from, { kind: 'status', text: `Its worktree continues in the follow-up ${to}` });
  }

  // The change summary

  /** Something may have changed in the task's worktree (a file event, an agent item): recompute soon. */
  refresh(id: string): void {
    const task = this.parts.store.get(id);
    if (!task || !isLive(task.worktree)) return;
    let watcher = this.watchers.get(id);
    if (!watcher) {
      watcher = new ChangeWatcher<WorktreeChanges>(
        (signal) => {
          const current = this.parts.store.get(id)?.worktree;
          return current ? this.port.changes(refOf(current), signal) : Promise.resolve(NO_CHANGES);
        },
        (changes) => this.storeChanges(id, changes),
        { delayMs: this.delayMs, onError: (error) => this.parts.options.log.debug(`Task ${id}: the change summary failed: ${messageOf(error)}`) },
      );
      this.watchers.set(id, watcher);
    }
    watcher.trigger();
  }

  /** Waits for a scheduled or running summary of the task (when it ends, and for tests). */
  async settled(id: string): Promise<void> {
    await this.watchers.get(id)?.flush();
  }

  private storeChanges(id: string, changes: WorktreeChanges): void {
    const worktree = this.parts.store.get(id)?.worktree;
    if (!isLive(worktree) || JSON.stringify(worktree.changes) === JSON.stringify(changes)) return;
    this.parts.store.update(id, { worktree: { ...worktree, changes } });
  }

  /** The agent reported a file change or a finished command: the summary may have moved. */
  onOutput(id: string, entry: Pick<OutputEntry, 'kind' | 'exitCode'>): void {
    if (entry.kind === 'file' || (entry.kind === 'command' && entry.exitCode !== undefined)) this.refresh(id);
  }

  /** A task's status changed: when it ended, its summary is computed once more, right away. */
  onStatus(task: TaskState): void {
    if (isTerminal(task.status) && isLive(task.worktree)) {
      this.refresh(task.id);
      void this.settled(task.id);
      this.jobs.onCompleted(task.id);
    }
  }

  // Review, merge, discard

  /** The unified diff of a task's work against its base, paged by lines. */
  diff(id: string, request?: DiffRequest): Promise<DiffPage> {
    return this.port.diff(refOf(this.worktreeOf(id)), request);
  }

  /** A file of a task's work at its base (`base`) or on its branch (`branch`); undefined where it does not exist. */
  show(id: string, version: 'base' | 'branch', file: string): Promise<string | undefined> {
    return this.port.show(refOf(this.worktreeOf(id)), version, file);
  }

  /**
   * Merges (`merge`) or applies (`apply`) a finished task's work into the main checkout; rejects with a
   * WorktreeMergeError naming the files when it cannot.
   */
  async mergeChanges(id: string, options: { how?: MergeHow } = {}): Promise<TaskSnapshot> {
    const how = options.how ?? 'merge';
    if (how !== 'merge' && how !== 'apply') throw new Error(`Unknown way to merge "${String(how)}"; use merge or apply`);
    await this.merge(id, how);
    return this.snapshotOf(id);
  }

  /** Removes a finished task's worktree and branch, unmerged work included (the caller asked the user first). */
  async discardChanges(id: string): Promise<TaskSnapshot> {
    await this.discard(id);
    return this.snapshotOf(id);
  }

  private snapshotOf(id: string): TaskSnapshot {
    const task = this.parts.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    return this.parts.snapshot(task);
  }

  private async merge(id: string, how: MergeHow): Promise<void> {
    const { task, worktree } = this.finishedWithLiveWorktree(id, how === 'merge' ? 'merge' : 'apply');
    await this.exclusively(id, async () => {
      const result = await this.port.merge(refOf(worktree), how, commitMessage(task));
      const current = this.parts.store.get(id)?.worktree ?? worktree;
      switch (result.state) {
        case 'merged':
        case 'applied': {
          this.forgetWatcher(id);
          this.parts.store.update(id, { worktree: { ...current, state: result.state, conflicts: undefined } });
          const done = result.state === 'merged' ? `Merged into the main checkout (${result.commit.slice(0, 7)})` : `Applied to the main checkout as uncommitted changes (${result.files.length} file${result.files.length === 1 ? '' : 's'})`;
          this.parts.appendOutput(id, { kind: 'status', text: done });
          if (result.warning) this.parts.appendOutput(id, { kind: 'error', text: result.warning });
          return;
        }
        case 'conflict': {
          this.parts.store.update(id, { worktree: { ...current, state: 'conflict', conflicts: result.conflicts } });
          const message = `${how === 'merge' ? 'Merging' : 'Applying'} ${id} conflicts with the main checkout in ${list(result.conflicts)}. Nothing was changed there; use Resolve with Agent, or merge the branch ${worktree.branch} yourself.`;
          this.parts.appendOutput(id, { kind: 'error', text: message });
          throw new WorktreeMergeError(message, 'conflict', result.conflicts);
        }
        case 'refused':
          throw new WorktreeMergeError(result.message, result.reason, result.files);
      }
    });
  }

  private async discard(id: string): Promise<void> {
    const { worktree } = this.finishedWithLiveWorktree(id, 'discard');
    await this.exclusively(id, async () => {
      await this.port.discard(refOf(worktree));
      this.forgetWatcher(id);
      const current = this.parts.store.get(id)?.worktree ?? worktree;
      this.parts.store.update(id, { worktree: { ...current, state: 'discarded', conflicts: undefined } });
      this.parts.appendOutput(id, { kind: 'status', text: `Discarded: the worktree and the branch ${worktree.branch} were removed` });
    });
  }

  /**
   * A conflicted task: merges the main checkout's HEAD into its worktree (never into the main checkout) and asks the
   * agent, in a follow-up (returned), to resolve the conflict markers. A merge that went through needs no agent.
   */
  async resolveWithAgent(id: string): Promise<TaskSnapshot> {
    const { worktree } = this.finishedWithLiveWorktree(id, 'resolve');
    if (worktree.state !== 'conflict') throw new Error(`Task ${id} has no conflict to resolve; merge it`);
    return this.exclusively(id, async () => {
      const { into, commit, conflicts } = await this.port.mergeMainInto(refOf(worktree));
      // The summary now measures against what was merged in, so it shows only this task's work.
      const current = this.parts.store.get(id)?.worktree ?? worktree;
      this.parts.store.update(id, { worktree: { ...current, baseCommit: commit, state: 'active', conflicts: undefined } });
      if (conflicts.length === 0) {
        this.parts.appendOutput(id, { kind: 'status', text: `Merged ${into} into the worktree without conflicts; merge the task again` });
        this.refresh(id);
        return this.snapshotOf(id);
      }
      const message = `I merged ${into} into this worktree's branch and it stopped on conflicts in: ${conflicts.join(', ')}. Resolve every conflict in those files, keeping the intent of both sides, and remove all conflict markers. Do not commit and do not run git merge or git reset; just leave the resolved files saved.`;
      const followUp = this.hooks.followUp(id, message);
      if (!followUp) throw new Error(`The agent of ${id} cannot continue its conversation; resolve the conflicts in ${worktree.path} yourself, then merge`);
      return followUp;
    });
  }

  private finishedWithLiveWorktree(id: string, what: string): { task: TaskState; worktree: TaskWorktree } {
    const task = this.parts.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    const worktree = task.worktree;
    if (!worktree) throw new Error(`Task ${id} did not run in a worktree, so there is nothing to ${what}`);
    if (!isLive(worktree)) throw new Error(`Task ${id}'s changes were already ${(worktree as TaskWorktree).state}`);
    if (!isTerminal(task.status)) throw new Error(`Task ${id} is still ${task.status.replace('_', ' ')}; ${what} its changes once it has finished`);
    return { task, worktree };
  }

  private async exclusively<T>(id: string, operation: () => Promise<T>): Promise<T> {
    if (this.busy.has(id)) throw new WorktreeMergeError(`Task ${id}'s changes are already being merged, applied or discarded`, 'busy', []);
    if (this.jobs.isChecking(id)) throw new WorktreeMergeError(`Task ${id}'s check is still running; wait for it or cancel it first`, 'busy', []);
    this.busy.add(id);
    try {
      return await operation();
    } finally {
      this.busy.delete(id);
    }
  }

  private worktreeOf(id: string): TaskWorktree {
    const worktree = this.parts.store.get(id)?.worktree;
    if (!worktree) throw new Error(`Task ${id} did not run in a worktree`);
    return worktree;
  }

  // Housekeeping

  /**
   * Clear Finished: may this finished task go? Unmerged work keeps it (and its worktree); an empty worktree is
   * removed; a merged task's branch is deleted when the main checkout contains it.
   */
  async release(task: TaskState): Promise<boolean> {
    const worktree = task.worktree;
    if (!worktree || worktree.state === 'applied' || worktree.state === 'discarded') return true;
    try {
      if (worktree.state === 'merged') {
        await this.port.forget(refOf(worktree));
        return true;
      }
      await this.settled(task.id);
      if (this.busy.has(task.id)) return false;
      // Asked of git, not the cached summary: the worktree may have changed since (edited by hand, or before a restart).
      const changes = await this.port.changes(refOf(worktree));
      this.storeChanges(task.id, changes);
      if (changes.files.length > 0 || this.busy.has(task.id)) return false;
      await this.port.discard(refOf(worktree));
      this.forgetWatcher(task.id);
      return true;
    } catch (error) {
      this.parts.options.log.warn(`Task ${task.id}: cleaning up its worktree failed, so it is kept: ${messageOf(error)}`);
      return false;
    }
  }

  /** After a reload: worktrees whose folder was deleted by hand are pruned and say so (their branch keeps committed work). */
  async pruneAtActivation(): Promise<void> {
    const known = this.parts.store.all().filter((task) => isLive(task.worktree));
    if (known.length === 0) return;
    try {
      const report = await this.port.prune(known.map((task) => refOf(task.worktree as TaskWorktree)));
      for (const task of known) {
        const worktree = task.worktree as TaskWorktree;
        if (report.missing.some((ref) => ref.path === worktree.path)) {
          this.parts.appendOutput(task.id, {
            kind: 'status',
            text: `[recovery] Its worktree folder ${worktree.path} was deleted; git's record of it was pruned. The branch ${worktree.branch} keeps what was committed, and Merge or Discard still work.`,
          });
        }
        this.refresh(task.id);
      }
      for (const folder of report.orphaned) this.parts.options.log.info(`[recovery] A task worktree no task knows is left at ${folder}; it was not touched`);
    } catch (error) {
      this.parts.options.log.warn(`[recovery] Checking task worktrees failed: ${messageOf(error)}`);
    }
  }

  /** A task was removed from the list. */
  forgetWatcher(id: string): void {
    this.watchers.get(id)?.dispose();
    this.watchers.delete(id);
  }

  dispose(): void {
    this.jobs.dispose();
    for (const watcher of this.watchers.values()) watcher.dispose();
    this.watchers.clear();
  }
}

/** The commit message for a task's work: its title and prompt. */
export function commitMessage(task: TaskState): string {
  // A commit subject may be longer than a tree row: git's own convention is about 72 characters.
  const title = taskTitle(task, 72);
  return `${title}\n\nAgent task ${task.id} (${task.provider}).\n\n${task.prompt}`;
}
