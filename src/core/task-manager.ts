import type { ErrorAction, TaskWorkspaces } from './ports';
import type { ProviderRegistry } from './provider-registry';
import type { Clock } from './clock';
import { messageOf } from './errors';
import { Emitter, type Disposable, type Logger } from './events';
import { onRateLimited } from './failover';
import type { StateFile } from './persistence';
import type { ProfileManager } from './profiles';
import { Questions } from './questions';
import { Recovery } from './recovery';
import { checkDependencies, Scheduler } from './scheduler';
import { TaskRunner, type ActiveRun, type ManagerParts } from './task-runner';
import { OUTPUT_RING_SIZE, snapshotOf, type TaskStore } from './task-store';
import {
  isTerminal,
  type Answer,
  type CreateTaskInput,
  type OutputEntry,
  type PendingQuestion,
  type TaskSnapshot,
  type TaskState,
  type Isolation,
} from './task-state';
import type { WorktreePort } from './worktree-port';
import { checkedInput, inputFrom, newTaskId, type CreateTaskLinks } from './task-input';
import { SecondOpinions } from './second-opinions';
import { TaskIsolation } from './task-isolation';
import { TaskRecorder } from './task-records';
import type { TranscriptStore } from './transcript';
import { Transitions } from './transitions';

export { CANCEL_GRACE_MS } from './task-runner';
export { MAX_RATE_LIMITED_ATTEMPTS } from './failover';
export { PROVIDER_WAIT_MS } from './recovery';
export const MAX_FINISHED_TASKS = 500;

export interface ManagerSettings {
  defaultProvider: string;
  maxConcurrentTasks: number;
  defaultTimeoutMinutes: number;
  questionTimeoutMinutes: number;
  /** DESIGN §8 `agentTasks.isolation` (default `worktree`). */
  isolation?: Isolation;
  /** DESIGN §9 `agentTasks.worktree.setup`: shell commands run in each new worktree before its agent starts. */
  worktreeSetup?: readonly string[];
  /** DESIGN §9 `agentTasks.worktree.copy`: globs of untracked files copied into each new worktree. */
  worktreeCopy?: readonly string[];
  /** DESIGN §9 `agentTasks.check`: run in the worktree when an isolated task completes, and on demand. */
  check?: string;
}

export interface TaskManagerOptions {
  store: TaskStore;
  registry: ProviderRegistry;
  profiles: ProfileManager;
  clock: Clock;
  log: Logger;
  settings: () => ManagerSettings;
  isTrusted: () => boolean;
  /** The folder tasks run in when the input names none. */
  defaultCwd: () => string | undefined;
  /** Persistence; absent when there is no workspace storage (tasks then live in memory only). */
  stateFile?: StateFile;
  transcripts?: TranscriptStore;
  /** Prepares a task's workspace before its agent starts (absent: nothing to prepare). */
  workspaces?: TaskWorkspaces;
  /** DESIGN §8: git worktrees for isolated tasks (absent: every task runs in its cwd). */
  worktrees?: WorktreePort;
}

export interface TaskError {
  taskId: string;
  message: string;
  action?: ErrorAction;
}

/**
 * Owns the life of every task, as a facade over its parts: the runner (task-runner.ts), questions, recovery and
 * failover. Every status change is a named move in transitions.ts, and goes through the store (and so the FSM).
 */
export class TaskManager implements Disposable {
  private readonly store: TaskStore;
  private readonly scheduler: Scheduler;
  private readonly moves: Transitions;
  private readonly runs = new Map<string, ActiveRun>();
  private readonly runner: TaskRunner;
  private readonly questions: Questions;
  private readonly recovery: Recovery;
  private readonly isolation: TaskIsolation | undefined;
  private readonly opinions: SecondOpinions | undefined;
  private readonly outputLoaded = new Set<string>();
  /** Queued tasks already told they wait for workspace trust (one entry each). */
  private readonly trustNoticed = new Set<string>();
  private disposed = false;
  private readonly recorder: TaskRecorder | undefined;

  private readonly changeEmitter = new Emitter<TaskSnapshot>();
  private readonly outputEmitter = new Emitter<{ taskId: string; entry: OutputEntry }>();
  private readonly questionEmitter = new Emitter<{ taskId: string; question: PendingQuestion }>();
  private readonly removedEmitter = new Emitter<string>();
  private readonly errorEmitter = new Emitter<TaskError>();
  private readonly stateEmitter = new Emitter<TaskState>();
  /** Plain snapshots (for the API). */
  readonly onDidChangeTask = this.changeEmitter.event;
  /** The live task object after any change (for the host's views; do not mutate). */
  readonly onDidUpdateTask = this.stateEmitter.event;
  readonly onDidAppendOutput = this.outputEmitter.event;
  readonly onDidAskQuestion = this.questionEmitter.event;
  readonly onDidRemoveTask = this.removedEmitter.event;
  readonly onDidFail = this.errorEmitter.event;

  private readonly subscriptions: Disposable[] = [];

  constructor(private readonly options: TaskManagerOptions) {
    this.store = options.store;
    this.recorder = options.transcripts && new TaskRecorder(this.store, options.transcripts, () => options.clock.now());
    if (this.recorder) this.subscriptions.push(this.recorder);
    this.moves = new Transitions(this.store, (id, entry) => this.appendOutput(id, entry), (id, status) => {
      this.scheduler.forget(id);
      if (isTerminal(status)) this.evictOldTasks();
    });
    this.scheduler = new Scheduler(
      this.store,
      options.clock,
      {
        startTask: (id) => this.runner.start(id),
        failDependent: (id, reason) => this.moves.finish(id, 'failed', { error: reason }, `[dependency] ${reason}`),
        releaseWaiting: (id) => this.moves.release(id),
        timeOut: (id) => void this.stopTask(id, 'timed_out'),
        canStart: (task) => this.options.registry.has(task.provider) && this.trustAllows(task.id),
      },
      () => this.options.settings().maxConcurrentTasks,
    );
    // What the parts share: the manager's state, and its few services.
    const isDisposed = () => this.disposed;
    const parts: ManagerParts = {
      options,
      store: this.store,
      scheduler: this.scheduler,
      moves: this.moves,
      runs: this.runs,
      get disposed() {
        return isDisposed();
      },
      appendOutput: (id, entry) => this.appendOutput(id, entry),
      snapshot: (task) => this.snapshot(task),
      fail: (error) => this.errorEmitter.fire(error),
    };
    this.questions = new Questions(parts, (taskId, question) => this.questionEmitter.fire({ taskId, question }));
    this.runner = new TaskRunner(parts, {
      handleFor: (id, run) => this.questions.handleFor(id, run),
      withdrawAll: (id, run, reason, resumeRunning) => this.questions.withdrawAll(id, run, reason, resumeRunning),
      onRateLimited: (id, limit) => onRateLimited(parts, id, limit),
      prepare: async (id, mode, signal) => {
        const task = this.store.get(id);
        if (task && mode === 'start') await options.workspaces?.prepare?.(this.snapshot(task), signal);
        await this.isolation?.prepare(id, signal);
      },
    });
    this.isolation = options.worktrees && new TaskIsolation(parts, options.worktrees, { followUp: (id, message) => this.sendFollowUp(id, message) });
    this.opinions = this.isolation && new SecondOpinions(parts, this.isolation, {
      create: (input, links) => this.createTask(input, links),
      followUp: (id, message) => this.sendFollowUp(id, message),
      cancel: (id) => this.cancelTask(id),
    });
    this.recovery = new Recovery(parts, (id, adapter) => this.runner.launch(id, adapter, 'resume'), (task) => this.recorder?.restored(task));
    this.subscriptions.push(
      this.store.onDidChange((change) => {
        if (change.kind === 'deleted') {
          this.removedEmitter.fire(change.task.id);
          this.options.stateFile?.scheduleSave();
          return;
        }
        const { task } = change;
        if (change.kind === 'updated' && change.previousStatus !== task.status) for (const part of [this.isolation, this.opinions]) part?.onStatus(task);
        this.stateEmitter.fire(task);
        if (this.changeEmitter.hasListeners) this.changeEmitter.fire(this.snapshot(task));
        const urgent = change.kind === 'updated' && change.previousStatus !== task.status && (task.status === 'waiting_answer' || isTerminal(task.status));
        // Mark dirty first: flush() writes only what was marked, and this change may be the only one.
        this.options.stateFile?.scheduleSave();
        if (urgent) void this.options.stateFile?.flush();
      }),
      this.options.registry.onDidChange(() => this.recovery.onProvidersChanged()),
    );
  }

  // Queries

  getTask(id: string): TaskSnapshot | undefined {
    const task = this.store.get(id);
    return task ? this.snapshot(task) : undefined;
  }

  listTasks(): TaskSnapshot[] {
    return this.store.all().map((task) => this.snapshot(task));
  }

  /** The live task (read-only use): cheaper than a snapshot for views. Its output ring may not be loaded yet. */
  peek(id: string): TaskState | undefined {
    return this.store.get(id);
  }

  /** The live task with its output ring loaded from the transcript (for the task panel). */
  peekWithOutput(id: string): TaskState | undefined {
    const task = this.store.get(id);
    if (task) this.ensureOutput(id);
    return task;
  }

  allTasks(): readonly TaskState[] {
    return this.store.all();
  }

  /** The whole transcript from disk (the ring holds only the last entries). */
  async fullTranscript(id: string): Promise<OutputEntry[]> {
    const transcripts = this.options.transcripts;
    if (!transcripts) return this.store.get(id)?.output.slice() ?? [];
    return transcripts.readAll(id);
  }

  transcriptPath(id: string): string | undefined {
    return this.options.transcripts?.pathFor(id);
  }

  // Commands

  async createTask(input: CreateTaskInput, links: CreateTaskLinks = {}): Promise<TaskSnapshot> {
    return this.snapshot(this.createTaskSync(input, links));
  }

  createTaskSync(input: CreateTaskInput, links: CreateTaskLinks = {}): TaskState {
    if (this.disposed) throw new Error('Agent Tasks is shutting down');
    if (!this.options.isTrusted()) {
      throw new Error('This workspace is not trusted, so Agent Tasks cannot start agents in it. Trust the workspace (Manage Workspace Trust) to run tasks.');
    }
    const checked = checkedInput(input, this.options);
    const { prompt, provider, profile, dependsOn } = checked;
    const id = newTaskId((candidate) => this.store.has(candidate));
    const problem = checkDependencies(this.store, id, dependsOn);
    if (problem) throw new Error(problem);
    const now = this.options.clock.now();
    const allDone = dependsOn.every((dep) => this.store.get(dep)?.status === 'completed');
    const task: TaskState = {
      id,
      status: this.moves.initial(allDone),
      provider,
      profile: profile?.id,
      profilePinned: profile !== undefined || undefined,
      taskType: checked.taskType,
      prompt,
      cwd: checked.cwd,
      model: checked.model,
      sessionId: links.sessionId,
      timestamps: { created: now, updated: now },
      timeoutMs: checked.timeoutMs,
      output: [],
      outputFilePath: this.options.transcripts?.pathFor(id),
      dependsOn,
      labels: checked.labels,
      pendingQuestions: [],
      parentId: links.parentId,
      continueSession: links.continueSession,
      isolation: checked.isolation,
      attemptGroup: links.attemptGroup,
      reviewOf: links.reviewOf,
    };
    this.outputLoaded.add(id);
    this.store.add(task);
    this.appendOutput(id, { kind: 'user', text: prompt });
    if (task.status === 'waiting') this.appendOutput(id, { kind: 'status', text: `Waiting for ${dependsOn.join(', ')}` });
    this.scheduler.pump();
    return task;
  }

  async answer(taskId: string, requestId: string, answer: Answer): Promise<void> {
    this.questions.answer(taskId, requestId, answer);
  }

  async cancelTask(id: string): Promise<void> {
    const task = this.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    // A finished task's running check (DESIGN §9) is what Cancel stops.
    if (isTerminal(task.status)) return void this.isolation?.jobs.cancelCheck(id);
    await this.stopTask(id, 'cancelled');
  }

  async retryTask(id: string): Promise<TaskSnapshot> {
    const task = this.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    if (!isTerminal(task.status)) throw new Error(`Task ${id} is still ${task.status}; cancel it before retrying`);
    const { input, links } = inputFrom(task, { kind: 'retry' });
    return this.createTask(input, links);
  }

  /** A follow-up is a new task that continues the same agent session. */
  async sendFollowUp(id: string, message: string): Promise<TaskSnapshot> {
    const task = this.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    if (!message.trim()) throw new Error('A follow-up needs a message');
    if (!isTerminal(task.status)) throw new Error(`Task ${id} is still ${task.status.replace('_', ' ')}; send a follow-up once it has finished`);
    const adapter = this.options.registry.get(task.provider);
    if (!adapter) throw new Error(`Provider ${task.provider} is not available`);
    if (!adapter.capabilities.followUps || !task.sessionId) {
      throw new Error(`${adapter.displayName} cannot continue this conversation; use Retry to start a new task`);
    }
    const { input, links } = inputFrom(task, { kind: 'followUp', message });
    return this.createTask(input, links);
  }

  /**
   * Removes finished tasks (and their transcripts) that no unfinished task depends on, except those whose worktree
   * holds unmerged work (DESIGN §8). Returns how many.
   */
  async clearFinished(): Promise<number> {
    const needed = new Set(this.store.all().filter((task) => !isTerminal(task.status)).flatMap((task) => task.dependsOn));
    let removed = 0;
    for (const task of this.store.all().filter((each) => isTerminal(each.status) && !needed.has(each.id))) {
      if (this.isolation && !(await this.isolation.release(task))) continue;
      await this.removeTask(task.id);
      removed++;
    }
    return removed;
  }

  /** DESIGN §8: review, merge, apply and discard of task worktrees (throws where worktrees are not available). */
  get worktrees(): TaskIsolation {
    if (!this.isolation) throw new Error('Task worktrees are not available here');
    return this.isolation;
  }

  /** DESIGN §9: attempts and reviews by another agent (throws where worktrees are not available). */
  get secondOpinions(): SecondOpinions {
    if (!this.opinions) throw new Error('Second opinions need task worktrees, which are not available here');
    return this.opinions;
  }

  // Recovery

  /** Loads persisted tasks and recovers the ones that were live (DESIGN §5). Returns the warnings the user must see. */
  restore(): string[] {
    const warnings = this.recovery.restore();
    void this.isolation?.pruneAtActivation();
    // Queued tasks behind a full queue are not asked canStart yet: say now that they wait for trust too.
    if (!this.options.isTrusted()) for (const task of this.store.all()) if (task.status === 'pending') this.trustAllows(task.id);
    return warnings;
  }

  /**
   * The workspace became trusted (the host calls this on onDidGrantWorkspaceTrust): restored tasks reconnect and
   * queued ones start, as they would have at activation in a trusted workspace.
   */
  trustGranted(): void {
    if (this.disposed || !this.options.isTrusted()) return;
    this.trustNoticed.clear();
    this.recovery.trustGranted();
    this.scheduler.pump();
  }

  // Running

  /**
   * M3: no task starts in an untrusted workspace — restored, re-queued, retried after a rate limit or released by
   * its dependencies. It waits, with one [recovery] entry, until trustGranted().
   */
  private trustAllows(id: string): boolean {
    if (this.options.isTrusted()) return true;
    if (!this.trustNoticed.has(id)) {
      this.trustNoticed.add(id);
      this.appendOutput(id, { kind: 'status', text: '[recovery] Waiting for workspace trust: agents do not start in an untrusted workspace' });
    }
    return false;
  }

  /** Cancel or time out (see TaskRunner.stop); a task waiting for its provider stops waiting. */
  private stopTask(id: string, reason: 'cancelled' | 'timed_out'): Promise<void> {
    this.recovery.forget(id);
    return this.runner.stop(id, reason);
  }

  // Output

  appendOutput(id: string, entry: Omit<OutputEntry, 'at'> & { at?: number }): void {
    if (!this.store.has(id)) return;
    this.ensureOutput(id);
    const stored = this.store.appendOutput(id, { ...entry, at: entry.at ?? this.options.clock.now() } as OutputEntry);
    this.isolation?.onOutput(id, stored);
    this.options.transcripts?.append(id, stored);
    if (this.outputEmitter.hasListeners) this.outputEmitter.fire({ taskId: id, entry: stored });
  }

  private ensureOutput(id: string): void {
    if (this.outputLoaded.has(id)) return;
    this.outputLoaded.add(id);
    const transcripts = this.options.transcripts;
    if (transcripts) this.store.setOutput(id, transcripts.readTail(id, OUTPUT_RING_SIZE));
  }

  // Housekeeping

  private async removeTask(id: string): Promise<void> {
    this.scheduler.forget(id);
    this.isolation?.forgetWatcher(id);
    this.outputLoaded.delete(id);
    this.store.delete(id);
    await this.options.transcripts?.remove(id);
  }

  private evictOldTasks(): void {
    for (const task of this.store.evictFinished(MAX_FINISHED_TASKS)) {
      this.outputLoaded.delete(task.id);
      void this.options.transcripts?.remove(task.id);
    }
  }

  private snapshot(task: TaskState): TaskSnapshot {
    this.ensureOutput(task.id);
    return snapshotOf(task);
  }

  /** Flushes state and transcripts to disk now. */
  async flush(): Promise<void> {
    await this.options.transcripts?.flush();
    await this.options.stateFile?.flush(true);
  }

  /**
   * The window is closing: stop listening to adapters without ending the tasks (they are recovered next time),
   * and write everything synchronously.
   */
  dispose(): void {
    if (this.disposed) return;
    this.runner.dispose();
    this.disposed = true;
    this.scheduler.dispose();
    this.recovery.dispose();
    this.isolation?.dispose();
    try {
      this.options.transcripts?.flushSync();
      this.options.stateFile?.flushSync();
    } catch (error) {
      this.options.log.error(`Saving on shutdown failed: ${messageOf(error)}`);
    }
    this.options.stateFile?.dispose();
    for (const subscription of this.subscriptions) subscription.dispose();
    for (const emitter of [this.changeEmitter, this.outputEmitter, this.questionEmitter, this.removedEmitter, this.errorEmitter, this.stateEmitter]) emitter.dispose();
  }
}
