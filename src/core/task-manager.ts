import { adjectives, animals, NumberDictionary, uniqueNamesGenerator } from 'unique-names-generator';
import type { ErrorAction, ProviderAdapter, RunContext, RunOutcome, TaskAbortReason, TaskHandle } from './ports';
import { QuestionWithdrawnError } from './ports';
import type { ProviderRegistry } from './provider-registry';
import { answerProblem, declineAnswer, describeAnswer, summarizeQuestion } from './answers';
import type { Clock, TimerHandle } from './clock';
import { messageOf } from './errors';
import { Emitter, type Disposable, type Logger } from './events';
import { canTransition } from './fsm';
import { NewerStateVersionError, type LoadResult, type StateFile } from './persistence';
import type { ProfileConfig, ProfileManager } from './profiles';
import { checkDependencies, Scheduler } from './scheduler';
import { OUTPUT_RING_SIZE, snapshotOf, type TaskPatch, type TaskStore } from './task-store';
import {
  isTerminal,
  TASK_TYPES,
  type Answer,
  type CreateTaskInput,
  type OutputEntry,
  type PendingQuestion,
  type TaskSnapshot,
  type TaskState,
  type TaskStatus,
} from './task-state';
import type { TranscriptStore } from './transcript';

export const MAX_RATE_LIMITED_ATTEMPTS = 3;
export const MAX_FINISHED_TASKS = 500;
/** How long cancel waits for an adapter to stop before the task is marked cancelled anyway. */
export const CANCEL_GRACE_MS = 5_000;
/** How long a restored task waits for its provider to register before it becomes unknown. */
export const PROVIDER_WAIT_MS = 15_000;

export interface ManagerSettings {
  defaultProvider: string;
  maxConcurrentTasks: number;
  defaultTimeoutMinutes: number;
  questionTimeoutMinutes: number;
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
}

/** Extra fields for tasks made by Retry and Follow-up. */
export interface CreateTaskLinks {
  parentId?: string;
  continueSession?: boolean;
  sessionId?: string;
}

export interface TaskError {
  taskId: string;
  message: string;
  action?: ErrorAction;
}

interface PendingAnswer {
  question: PendingQuestion;
  resolve(answer: Answer): void;
  reject(error: Error): void;
  timer?: TimerHandle;
}

interface ActiveRun {
  controller: AbortController;
  questions: Map<string, PendingAnswer>;
  done: Promise<void>;
}

/**
 * Owns the life of every task: creation, running adapters, questions and answers, cancel, timeouts,
 * rate-limit failover and recovery. Every state change goes through the store (and so through the FSM).
 */
export class TaskManager implements Disposable {
  private readonly store: TaskStore;
  private readonly scheduler: Scheduler;
  private readonly runs = new Map<string, ActiveRun>();
  private readonly outputLoaded = new Set<string>();
  private readonly awaitingProvider = new Map<string, 'resume'>();
  /** Tasks being cancelled or timed out whose agent has not stopped yet. */
  private readonly stopping = new Map<string, 'cancelled' | 'timed_out'>();
  private providerWaitTimer: TimerHandle | undefined;
  private disposed = false;

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
    this.scheduler = new Scheduler(
      this.store,
      options.clock,
      {
        startTask: (id) => this.startTask(id),
        failDependent: (id, reason) => this.finish(id, 'failed', { error: reason }, `[dependency] ${reason}`),
        releaseWaiting: (id) => this.setStatus(id, 'pending'),
        timeOut: (id) => void this.stopTask(id, 'timed_out'),
        canStart: (task) => this.options.registry.has(task.provider),
      },
      () => this.options.settings().maxConcurrentTasks,
    );
    this.subscriptions.push(
      this.store.onDidChange((change) => {
        if (change.kind === 'deleted') {
          this.removedEmitter.fire(change.task.id);
          this.options.stateFile?.scheduleSave();
          return;
        }
        const { task } = change;
        this.stateEmitter.fire(task);
        if (this.changeEmitter.hasListeners) this.changeEmitter.fire(this.snapshot(task));
        const urgent = change.kind === 'updated' && change.previousStatus !== task.status && (task.status === 'waiting_answer' || isTerminal(task.status));
        // Mark dirty first: flush() writes only what was marked, and this change may be the only one.
        this.options.stateFile?.scheduleSave();
        if (urgent) void this.options.stateFile?.flush();
      }),
      this.options.registry.onDidChange(() => this.onProvidersChanged()),
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
    if (typeof input !== 'object' || input === null) throw new Error('createTask needs an object with a prompt');
    const prompt = typeof input.prompt === 'string' ? input.prompt.trim() : '';
    if (!prompt) throw new Error('A task needs a prompt');
    const settings = this.options.settings();
    const provider = input.provider ?? settings.defaultProvider;
    if (!this.options.registry.has(provider)) {
      const known = this.options.registry.list().map((adapter) => adapter.id).join(', ') || 'none';
      throw new Error(`Unknown provider "${provider}". Available providers: ${known}`);
    }
    const taskType = input.taskType ?? 'general';
    if (!TASK_TYPES.includes(taskType)) throw new Error(`Unknown task type "${String(taskType)}"; use one of ${TASK_TYPES.join(', ')}`);
    let profile: ProfileConfig | undefined;
    if (input.profile !== undefined) {
      profile = this.options.profiles.get(input.profile);
      if (!profile) throw new Error(`Unknown profile "${input.profile}": add it to the agentTasks.profiles setting`);
      if (profile.provider !== provider) throw new Error(`Profile "${input.profile}" belongs to ${profile.provider}, not ${provider}`);
    }
    const cwd = input.cwd ?? this.options.defaultCwd();
    if (!cwd) throw new Error('No folder is open: open a folder or pass cwd to run a task');
    const dependsOn = [...new Set(input.dependsOn ?? [])];
    if (!Array.isArray(input.dependsOn ?? []) || dependsOn.some((dep) => typeof dep !== 'string')) throw new Error('dependsOn must be a list of task ids');
    const labels = Array.isArray(input.labels) ? input.labels.filter((label): label is string => typeof label === 'string') : [];
    const minutes = input.timeoutMinutes ?? settings.defaultTimeoutMinutes;
    if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes < 0) throw new Error('timeoutMinutes must be a number ≥ 0');

    const id = this.newId();
    const problem = checkDependencies(this.store, id, dependsOn);
    if (problem) throw new Error(problem);
    const now = this.options.clock.now();
    const allDone = dependsOn.every((dep) => this.store.get(dep)?.status === 'completed');
    const task: TaskState = {
      id,
      status: allDone ? 'pending' : 'waiting',
      provider,
      profile: profile?.id,
      profilePinned: profile !== undefined || undefined,
      taskType,
      prompt,
      cwd,
      model: input.model,
      sessionId: links.sessionId,
      timestamps: { created: now, updated: now },
      timeoutMs: minutes > 0 ? Math.round(minutes * 60_000) : undefined,
      output: [],
      outputFilePath: this.options.transcripts?.pathFor(id),
      dependsOn,
      labels,
      pendingQuestions: [],
      parentId: links.parentId,
      continueSession: links.continueSession,
    };
    this.outputLoaded.add(id);
    this.store.add(task);
    this.appendOutput(id, { kind: 'user', text: prompt });
    if (task.status === 'waiting') this.appendOutput(id, { kind: 'status', text: `Waiting for ${dependsOn.join(', ')}` });
    this.scheduler.pump();
    return task;
  }

  async answer(taskId: string, requestId: string, answer: Answer): Promise<void> {
    const task = this.store.get(taskId);
    if (!task) throw new Error(`Unknown task ${taskId}`);
    const pending = this.runs.get(taskId)?.questions.get(requestId);
    if (!pending) {
      throw new Error(`Task ${taskId} is not waiting on request ${requestId}: it was already answered, withdrawn, or the task stopped`);
    }
    const problem = answerProblem(pending.question, answer);
    if (problem) throw new Error(problem);
    this.settleQuestion(taskId, requestId, answer, describeAnswer(pending.question, answer));
  }

  async cancelTask(id: string): Promise<void> {
    const task = this.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    if (isTerminal(task.status)) return;
    await this.stopTask(id, 'cancelled');
  }

  async retryTask(id: string): Promise<TaskSnapshot> {
    const task = this.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    if (!isTerminal(task.status)) throw new Error(`Task ${id} is still ${task.status}; cancel it before retrying`);
    return this.createTask(
      {
        prompt: task.prompt,
        provider: task.provider,
        taskType: task.taskType,
        model: task.model,
        cwd: task.cwd,
        labels: task.labels,
        timeoutMinutes: task.timeoutMs !== undefined ? task.timeoutMs / 60_000 : 0,
        profile: task.profilePinned ? task.profile : undefined,
      },
      { parentId: id },
    );
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
    return this.createTask(
      {
        prompt: message,
        provider: task.provider,
        taskType: task.taskType,
        model: task.model,
        cwd: task.cwd,
        labels: task.labels,
        timeoutMinutes: task.timeoutMs !== undefined ? task.timeoutMs / 60_000 : 0,
        // The session lives in this account's config dir: stay on it.
        profile: task.profile,
      },
      { parentId: id, continueSession: true, sessionId: task.sessionId },
    );
  }

  /** Removes finished tasks (and their transcripts) that no unfinished task depends on. Returns how many. */
  async clearFinished(): Promise<number> {
    const needed = new Set(this.store.all().filter((task) => !isTerminal(task.status)).flatMap((task) => task.dependsOn));
    const removable = this.store.all().filter((task) => isTerminal(task.status) && !needed.has(task.id));
    for (const task of removable) await this.removeTask(task.id);
    return removable.length;
  }

  // Recovery

  /**
   * Loads persisted tasks and recovers the ones that were live (DESIGN §5). Returns the warnings the user must see.
   */
  restore(): string[] {
    const stateFile = this.options.stateFile;
    if (!stateFile) return [];
    let loaded: LoadResult;
    try {
      loaded = stateFile.load();
    } catch (error) {
      if (error instanceof NewerStateVersionError) return [error.message];
      throw error;
    }
    this.options.profiles.load(loaded.state.profiles);
    const live: TaskState[] = [];
    for (const raw of loaded.state.tasks) {
      const task: TaskState = { ...raw, output: [], pendingQuestions: [], dependsOn: raw.dependsOn ?? [], labels: raw.labels ?? [] };
      if (this.store.has(task.id)) continue;
      this.store.add(task);
      if (!isTerminal(task.status)) live.push(task);
    }
    for (const task of live) this.recover(task);
    this.scheduler.pump();
    return loaded.warnings;
  }

  private recover(task: TaskState): void {
    switch (task.status) {
      case 'waiting':
      case 'pending':
        this.appendOutput(task.id, { kind: 'status', text: '[recovery] Re-queued after the window reloaded' });
        break;
      case 'rate_limited':
        this.appendOutput(task.id, { kind: 'status', text: '[recovery] Re-queued after the window reloaded (was rate limited)' });
        this.setStatus(task.id, 'pending');
        break;
      case 'running':
      case 'waiting_answer':
        if (!this.options.registry.has(task.provider)) {
          this.awaitingProvider.set(task.id, 'resume');
          this.armProviderWait();
        } else this.resumeTask(task.id);
        break;
      default:
        break;
    }
  }

  private resumeTask(id: string): void {
    const task = this.store.get(id);
    if (!task || isTerminal(task.status)) return;
    const adapter = this.options.registry.get(task.provider);
    if (!adapter?.resume) {
      const why = adapter
        ? `${adapter.displayName} cannot resume a session after the window reloads`
        : `provider ${task.provider} is not available`;
      this.finish(id, 'unknown', { error: `Lost when the window reloaded: ${why}` }, `[recovery] The agent process was lost and ${why}; the task's outcome is unknown`);
      return;
    }
    if (task.status === 'waiting_answer') this.setStatus(id, 'running');
    this.store.update(id, { recovered: true });
    this.appendOutput(id, { kind: 'status', text: `[recovery] Reconnecting to ${adapter.displayName} after the window reloaded` });
    if (task.timeoutAt !== undefined) this.scheduler.setDeadline(id, task.timeoutAt);
    this.launch(id, adapter, 'resume');
  }

  private onProvidersChanged(): void {
    for (const [id] of [...this.awaitingProvider]) {
      const task = this.store.get(id);
      if (!task || !this.options.registry.has(task.provider)) continue;
      this.awaitingProvider.delete(id);
      this.resumeTask(id);
    }
    this.scheduler.pump();
  }

  private armProviderWait(): void {
    if (this.providerWaitTimer !== undefined) return;
    this.providerWaitTimer = this.options.clock.setTimeout(() => {
      this.providerWaitTimer = undefined;
      for (const [id] of [...this.awaitingProvider]) {
        this.awaitingProvider.delete(id);
        this.resumeTask(id);
      }
    }, PROVIDER_WAIT_MS);
  }

  // Running

  private startTask(id: string): void {
    const task = this.store.get(id);
    const adapter = task && this.options.registry.get(task.provider);
    if (!task || !adapter || task.status !== 'pending') return;
    const profile = this.chooseProfile(task);
    const now = this.options.clock.now();
    const timeoutAt = task.timeoutAt ?? (task.timeoutMs !== undefined ? now + task.timeoutMs : undefined);
    this.store.update(id, { status: 'running', profile: profile?.id, timeoutAt, timestamps: { started: task.timestamps.started ?? now } });
    this.scheduler.setDeadline(id, timeoutAt);
    this.launch(id, adapter, 'start');
  }

  private chooseProfile(task: TaskState): ProfileConfig | undefined {
    if (task.profile) return this.options.profiles.get(task.profile);
    return this.options.profiles.pickFor(task.provider);
  }

  private launch(id: string, adapter: ProviderAdapter, mode: 'start' | 'resume'): void {
    const task = this.store.get(id);
    if (!task) return;
    const controller = new AbortController();
    let markDone!: () => void;
    const run: ActiveRun = { controller, questions: new Map(), done: new Promise((resolve) => (markDone = resolve)) };
    this.runs.set(id, run);
    const profileConfig = task.profile ? this.options.profiles.get(task.profile) : undefined;
    const profile = profileConfig ? this.options.profiles.resolve(profileConfig) : undefined;
    const context: RunContext = { task: this.snapshot(task), profile, signal: controller.signal, log: this.options.log };
    const handle = this.handleFor(id, run);
    const call = (): Promise<RunOutcome> => (mode === 'resume' && adapter.resume ? adapter.resume(context, handle) : adapter.start(context, handle));
    void (async () => {
      let outcome: RunOutcome;
      try {
        outcome = await call();
      } catch (error) {
        outcome = controller.signal.aborted ? { status: 'aborted' } : { status: 'failed', error: messageOf(error) };
        if (!controller.signal.aborted) this.options.log.error(`Task ${id}: ${adapter.id} threw: ${messageOf(error)}`);
      }
      if (this.runs.get(id) === run) this.runs.delete(id);
      this.withdrawAll(id, run, 'The task stopped', !controller.signal.aborted);
      try {
        this.completeRun(id, run, outcome);
      } catch (error) {
        this.options.log.error(`Task ${id}: finishing the run failed: ${messageOf(error)}`);
      } finally {
        markDone();
        this.scheduler.pump();
      }
    })();
  }

  private completeRun(id: string, run: ActiveRun, outcome: RunOutcome): void {
    const task = this.store.get(id);
    if (!task || isTerminal(task.status)) return;
    const reason = run.controller.signal.aborted ? (run.controller.signal.reason as TaskAbortReason) : undefined;
    if (reason === 'shutdown') return; // The window is going away; recovery picks the task up next time.
    if (reason === 'cancelled') return this.finish(id, 'cancelled', {}, 'Cancelled');
    if (reason === 'timed_out') return this.finish(id, 'timed_out', { error: this.timeoutMessage(task) }, this.timeoutMessage(task));
    switch (outcome.status) {
      case 'completed':
        if (task.profile) this.options.profiles.markSucceeded(task.profile);
        return this.finish(id, 'completed', { result: outcome.result, error: undefined }, 'Completed');
      case 'failed':
        this.finish(id, 'failed', { error: outcome.error, exitCode: outcome.exitCode }, `Failed: ${outcome.error}`, 'error');
        this.errorEmitter.fire({ taskId: id, message: outcome.error, action: outcome.action });
        return;
      case 'rate_limited':
        return this.onRateLimited(id, outcome.error, outcome.retryAfterMs);
      case 'aborted':
        return this.finish(id, 'failed', { error: 'The agent stopped without a result' }, 'The agent stopped without a result', 'error');
      default: {
        const never: never = outcome;
        return this.finish(id, 'failed', { error: `Unexpected outcome ${JSON.stringify(never)}` });
      }
    }
  }

  private timeoutMessage(task: TaskState): string {
    const minutes = (task.timeoutMs ?? 0) / 60_000;
    return `Timed out after ${minutes >= 1 ? `${Math.round(minutes)} min` : `${Math.round(minutes * 60)} s`}`;
  }

  /** DESIGN §3a: cooldown, failover to the next profile, or a wait for the earliest cooldown; at most 3 attempts. */
  private onRateLimited(id: string, error: string, retryAfterMs: number | undefined): void {
    const task = this.store.get(id);
    if (!task) return;
    const profiles = this.options.profiles;
    const attempts = (task.rateLimitAttempts ?? 0) + 1;
    const now = this.options.clock.now();
    const current = task.profile ? profiles.get(task.profile) : undefined;
    let until = current
      ? profiles.markRateLimited(current.id, error, retryAfterMs)
      : now + (retryAfterMs ?? Math.min(30_000 * 2 ** (attempts - 1), 30 * 60_000));
    if (task.status === 'waiting_answer') this.store.update(id, { status: 'running' });
    this.store.update(id, { status: 'rate_limited', rateLimitAttempts: attempts, error });
    this.appendOutput(id, { kind: 'status', text: `[rate limit] ${error} (attempt ${attempts} of ${MAX_RATE_LIMITED_ATTEMPTS})` });
    if (attempts >= MAX_RATE_LIMITED_ATTEMPTS) {
      const message = `Rate limited ${attempts} times; giving up. Last error: ${error}`;
      this.finish(id, 'failed', { error: message }, message, 'error');
      this.errorEmitter.fire({ taskId: id, message });
      return;
    }
    let retryProfile = current;
    if (current && !task.profilePinned) {
      const tried = [...new Set([...(task.triedProfiles ?? []), current.id])];
      const next = profiles.nextForFailover(task.provider, tried);
      if (next) {
        this.appendOutput(id, { kind: 'status', text: `[failover] ${current.id} is rate limited; moving to profile ${next.id}` });
        this.store.update(id, { triedProfiles: tried, profile: next.id, status: 'pending' });
        this.scheduler.pump();
        return;
      }
      this.store.update(id, { triedProfiles: tried });
      retryProfile = profiles.soonestFree(profiles.configsFor(task.provider)) ?? current;
      until = profiles.state(retryProfile.id).cooldownUntil ?? now;
    }
    const where = retryProfile ? ` on profile ${retryProfile.id}` : '';
    this.appendOutput(id, { kind: 'status', text: `[rate limit] Retrying at ${new Date(until).toLocaleTimeString()}${where}` });
    this.scheduler.scheduleRetry(id, until, () => {
      if (this.store.get(id)?.status === 'rate_limited') this.store.update(id, { status: 'pending', profile: retryProfile?.id });
    });
  }

  /** Cancel or time out: abort a running adapter (waiting briefly for it), or end a task that is not running. */
  private async stopTask(id: string, reason: 'cancelled' | 'timed_out'): Promise<void> {
    const task = this.store.get(id);
    if (!task || isTerminal(task.status)) return;
    this.scheduler.forget(id);
    this.awaitingProvider.delete(id);
    const run = this.runs.get(id);
    const message = reason === 'cancelled' ? 'Cancelled' : this.timeoutMessage(task);
    if (!run) {
      this.finish(id, reason, reason === 'timed_out' ? { error: message } : {}, message);
      return;
    }
    this.appendOutput(id, { kind: 'status', text: reason === 'cancelled' ? 'Cancelling…' : `${message}; stopping the agent…` });
    this.stopping.set(id, reason);
    run.controller.abort(reason);
    this.withdrawAll(id, run, reason === 'cancelled' ? 'The task was cancelled' : 'The task timed out', false);
    let timer: TimerHandle | undefined;
    await Promise.race([run.done, new Promise<void>((resolve) => (timer = this.options.clock.setTimeout(resolve, CANCEL_GRACE_MS)))]);
    if (timer !== undefined) this.options.clock.clearTimeout(timer);
    this.stopping.delete(id);
    const after = this.store.get(id);
    if (after && !isTerminal(after.status)) {
      this.finish(id, reason, reason === 'timed_out' ? { error: message } : {}, `${message} (the agent did not stop in time)`);
    }
  }

  /** Moves a task to a terminal state with a transcript line, going through `running` when the FSM requires it. */
  private finish(id: string, status: TaskStatus, patch: TaskPatch, line?: string, kind: OutputEntry['kind'] = 'status'): void {
    const task = this.store.get(id);
    if (!task || isTerminal(task.status)) return;
    if (!canTransition(task.status, status) && canTransition(task.status, 'running') && canTransition('running', status)) {
      this.store.update(id, { status: 'running' });
    }
    if (line) this.appendOutput(id, { kind, text: line });
    this.store.update(id, { ...patch, status, pendingQuestions: [] });
    this.scheduler.forget(id);
    if (isTerminal(status)) this.evictOldTasks();
  }

  private setStatus(id: string, status: TaskStatus): void {
    const task = this.store.get(id);
    if (task && task.status !== status) this.store.update(id, { status });
  }

  // Questions

  private handleFor(id: string, run: ActiveRun): TaskHandle {
    const live = (): boolean => this.runs.get(id) === run && !this.disposed;
    return {
      taskId: id,
      appendOutput: (entry) => {
        if (live()) this.appendOutput(id, { ...entry, at: entry.at ?? this.options.clock.now() });
      },
      ask: (question) =>
        new Promise<Answer>((resolve, reject) => {
          if (!live() || run.controller.signal.aborted) {
            reject(new QuestionWithdrawnError(question.requestId, 'The task is no longer running'));
            return;
          }
          const full = { ...question, askedAt: this.options.clock.now() } as PendingQuestion;
          const previous = run.questions.get(full.requestId);
          if (previous) this.settleQuestion(id, full.requestId, undefined, 'Replaced by a newer request');
          const pending: PendingAnswer = { question: full, resolve, reject };
          run.questions.set(full.requestId, pending);
          const task = this.store.get(id);
          if (!task) return;
          this.appendOutput(id, { kind: 'status', text: `Waiting for your answer: ${summarizeQuestion(full)}` });
          this.store.update(id, {
            pendingQuestions: [...task.pendingQuestions.filter((q) => q.requestId !== full.requestId), full],
            status: task.status === 'running' ? 'waiting_answer' : task.status,
          });
          const minutes = this.options.settings().questionTimeoutMinutes;
          if (minutes > 0) {
            pending.timer = this.options.clock.setTimeout(() => this.expireQuestion(id, full.requestId, minutes), minutes * 60_000);
          }
          this.questionEmitter.fire({ taskId: id, question: full });
        }),
      withdrawQuestion: (requestId, reason) => {
        if (live()) this.settleQuestion(id, requestId, undefined, reason);
      },
      reportUsage: (usage) => {
        if (live()) this.store.update(id, { usage: { ...usage } });
      },
      setSessionId: (sessionId) => {
        if (live() && this.store.get(id)?.sessionId !== sessionId) this.store.update(id, { sessionId });
      },
      setProviderState: (state) => {
        if (live()) this.store.update(id, { providerState: { ...state } });
      },
      reportRateLimitInfo: (info) => {
        const profile = this.store.get(id)?.profile;
        if (live() && profile) {
          this.options.profiles.setRateLimitInfo(profile, info);
          this.options.stateFile?.scheduleSave();
        }
      },
    };
  }

  private expireQuestion(id: string, requestId: string, minutes: number): void {
    const pending = this.runs.get(id)?.questions.get(requestId);
    // After dispose the question belongs to the next window (it re-attaches or resumes): never answer it from here.
    if (!pending || this.disposed) return;
    const answer = declineAnswer(pending.question);
    this.settleQuestion(id, requestId, answer, `[timeout] No answer after ${minutes} min: ${summarizeQuestion(pending.question)} was declined`);
  }

  /** Resolves (with an answer) or withdraws (without) one question, and updates the task. */
  private settleQuestion(id: string, requestId: string, answer: Answer | undefined, line: string): void {
    const run = this.runs.get(id);
    const pending = run?.questions.get(requestId);
    if (!run || !pending) return;
    run.questions.delete(requestId);
    if (pending.timer !== undefined) this.options.clock.clearTimeout(pending.timer);
    const task = this.store.get(id);
    if (task) {
      const remaining = task.pendingQuestions.filter((q) => q.requestId !== requestId);
      this.appendOutput(id, { kind: answer ? 'user' : 'status', text: line });
      this.store.update(id, {
        pendingQuestions: remaining,
        status: remaining.length === 0 && task.status === 'waiting_answer' ? 'running' : task.status,
      });
    }
    if (answer) pending.resolve(answer);
    else pending.reject(new QuestionWithdrawnError(requestId, line));
  }

  /**
   * Rejects every open question of a run. When the agent is still going (`resumeRunning`), a task waiting on
   * them is running again; when it is being stopped, the status is left for the terminal state that follows
   * (waiting_answer → cancelled directly, never through a running the user did not see).
   */
  private withdrawAll(id: string, run: ActiveRun, reason: string, resumeRunning: boolean): void {
    for (const [requestId, pending] of [...run.questions]) {
      run.questions.delete(requestId);
      if (pending.timer !== undefined) this.options.clock.clearTimeout(pending.timer);
      pending.reject(new QuestionWithdrawnError(requestId, reason));
    }
    const task = this.store.get(id);
    if (task && task.pendingQuestions.length > 0 && !isTerminal(task.status)) {
      this.store.update(id, { pendingQuestions: [], status: resumeRunning && task.status === 'waiting_answer' ? 'running' : task.status });
    }
  }

  // Output

  appendOutput(id: string, entry: Omit<OutputEntry, 'at'> & { at?: number }): void {
    if (!this.store.has(id)) return;
    this.ensureOutput(id);
    const stored = this.store.appendOutput(id, { ...entry, at: entry.at ?? this.options.clock.now() } as OutputEntry);
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

  private newId(): string {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const id = uniqueNamesGenerator({
        dictionaries: [adjectives, animals, NumberDictionary.generate({ min: 100, max: 999 })],
        separator: '-',
        length: 3,
        style: 'lowerCase',
      }).replace(/[^a-z0-9-]/g, '');
      if (!this.store.has(id)) return id;
    }
    throw new Error('Could not find a free task id');
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
    // A cancel or timeout the agent has not acknowledged yet is still the user's decision: save it as final,
    // or the next window would resume the task.
    for (const [id, reason] of this.stopping) {
      const task = this.store.get(id);
      if (task && !isTerminal(task.status)) {
        const message = reason === 'cancelled' ? 'Cancelled' : this.timeoutMessage(task);
        this.finish(id, reason, reason === 'timed_out' ? { error: message } : {}, `${message} (the window closed before the agent stopped)`);
      }
    }
    this.stopping.clear();
    for (const run of this.runs.values()) {
      run.controller.abort('shutdown' satisfies TaskAbortReason);
      for (const pending of run.questions.values()) if (pending.timer !== undefined) this.options.clock.clearTimeout(pending.timer);
    }
    this.disposed = true;
    this.scheduler.dispose();
    if (this.providerWaitTimer !== undefined) this.options.clock.clearTimeout(this.providerWaitTimer);
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
