/**
 * Test harness for the core: a fake clock with a timer queue the test advances, temp dirs, and a TaskManager
 * wired like the container does (store, registry, profiles, StateFile, TranscriptStore) with the ScriptedProvider.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Clock, TimerHandle } from '../../src/core/clock';
import type { Logger } from '../../src/core/events';
import { StateFile, STATE_VERSION } from '../../src/core/persistence';
import { ProfileManager, type ProfileConfig } from '../../src/core/profiles';
import { TaskManager, type ManagerSettings } from '../../src/core/task-manager';
import { TaskStore } from '../../src/core/task-store';
import type { Answer, CreateTaskInput, OutputEntry, PendingQuestion, TaskSnapshot, TaskState, TaskStatus } from '../../src/core/task-state';
import { TranscriptStore } from '../../src/core/transcript';
import type { ProviderAdapter, RunContext, RunOutcome, TaskHandle, TaskWorkspaces } from '../../src/core/ports';
import type { WorktreePort } from '../../src/core/worktree-port';
import { ProviderRegistry } from '../../src/core/provider-registry';
import { ScriptedProvider } from '../fixtures/scripted-provider';

/** Lets pending promise callbacks and I/O callbacks run (a few turns of the event loop). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface FakeTimer {
  id: number;
  at: number;
  callback: () => void;
}

/** A Clock whose time only moves when the test advances it; timers fire in due order, ties in creation order. */
export class FakeClock implements Clock {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  constructor(start = Date.UTC(2025, 0, 15, 9, 0, 0)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.time + Math.max(0, Number.isFinite(ms) ? ms : 0), callback });
    return id as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as unknown as number);
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** When the next timer is due, or undefined. */
  nextDue(): number | undefined {
    return this.earliest()?.at;
  }

  /** Moves time forward by `ms`, firing every timer due on the way (each followed by a settle). */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (let timer = this.earliest(); timer && timer.at <= target; timer = this.earliest()) {
      this.timers.delete(timer.id);
      this.time = Math.max(this.time, timer.at);
      timer.callback();
      await settle();
    }
    this.time = target;
    await settle();
  }

  private earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.timers.values()) if (!best || timer.at < best.at || (timer.at === best.at && timer.id < best.id)) best = timer;
    return best;
  }
}

const tempDirs = new Set<string>();

/** A fresh private temp dir; removed by removeTempDirs(). */
export function makeTempDir(prefix = 'atw-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  tempDirs.clear();
}

/** A logger that remembers what was logged (tests assert on errors and warnings). */
export class RecordingLogger implements Logger {
  readonly lines: { level: string; message: string }[] = [];
  trace(message: string): void {
    this.lines.push({ level: 'trace', message });
  }
  debug(message: string): void {
    this.lines.push({ level: 'debug', message });
  }
  info(message: string): void {
    this.lines.push({ level: 'info', message });
  }
  warn(message: string): void {
    this.lines.push({ level: 'warn', message });
  }
  error(message: string | Error): void {
    this.lines.push({ level: 'error', message: String(message) });
  }
}

/** What happened to one question an adapter asked. */
export interface AskRecord {
  taskId: string;
  question: PendingQuestion | Omit<PendingQuestion, 'askedAt'>;
  state: 'pending' | 'answered' | 'rejected';
  answer?: Answer;
  error?: Error;
}

/** One run of an adapter (start or resume) as the adapter saw it. */
export interface RunRecord {
  mode: 'start' | 'resume';
  taskId: string;
  profile?: string;
  profileEnv?: Record<string, string>;
  sessionId?: string;
  continueSession?: boolean;
}

/**
 * Wraps an adapter and records every run and every question (with how its promise settled), so tests can check
 * what the adapter was told — e.g. that a timed-out approval was answered `deny`.
 */
export class ObservedProvider implements ProviderAdapter {
  readonly asks: AskRecord[] = [];
  readonly runs: RunRecord[] = [];
  readonly resume?: (context: RunContext, handle: TaskHandle) => Promise<RunOutcome>;

  constructor(
    private readonly inner: ProviderAdapter,
    readonly id: string = inner.id,
    options: { withResume?: boolean } = {},
  ) {
    if (inner.resume && options.withResume !== false) {
      const innerResume = inner.resume.bind(inner);
      this.resume = (context, handle) => {
        this.record('resume', context);
        return innerResume(context, this.spy(handle));
      };
    }
  }

  get displayName(): string {
    return this.inner.displayName;
  }

  get capabilities(): ProviderAdapter['capabilities'] {
    return this.inner.capabilities;
  }

  start(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    this.record('start', context);
    return this.inner.start(context, this.spy(handle));
  }

  asksOf(taskId: string): AskRecord[] {
    return this.asks.filter((ask) => ask.taskId === taskId);
  }

  runsOf(taskId: string): RunRecord[] {
    return this.runs.filter((run) => run.taskId === taskId);
  }

  private record(mode: 'start' | 'resume', context: RunContext): void {
    this.runs.push({
      mode,
      taskId: context.task.id,
      profile: context.profile?.id,
      profileEnv: context.profile?.env,
      sessionId: context.task.sessionId,
      continueSession: context.task.continueSession,
    });
  }

  private spy(handle: TaskHandle): TaskHandle {
    return {
      ...handle,
      taskId: handle.taskId,
      appendOutput: (entry) => handle.appendOutput(entry),
      withdrawQuestion: (requestId, reason) => handle.withdrawQuestion(requestId, reason),
      reportUsage: (usage) => handle.reportUsage(usage),
      setSessionId: (sessionId) => handle.setSessionId(sessionId),
      setTitle: (title) => handle.setTitle(title),
      setProviderState: (state) => handle.setProviderState(state),
      reportRateLimitInfo: (info) => handle.reportRateLimitInfo(info),
      ask: (question) => {
        const record: AskRecord = { taskId: handle.taskId, question, state: 'pending' };
        this.asks.push(record);
        return handle.ask(question).then(
          (answer) => {
            record.state = 'answered';
            record.answer = answer;
            return answer;
          },
          (error: Error) => {
            record.state = 'rejected';
            record.error = error;
            throw error;
          },
        );
      },
    };
  }
}

/** An adapter whose every run is decided by a function the test supplies (rate limits, throws, hangs). */
export class ProgrammableProvider implements ProviderAdapter {
  readonly displayName: string;
  readonly capabilities = {
    pauseKinds: ['command_approval'] as const,
    resumeAfterCrash: false,
    survivesReload: false,
    followUps: false,
    sessionsPerProcess: 'many' as const,
    reportsCost: false,
    rateLimitSignals: true,
    nativeReview: false,
  };
  readonly runs: { taskId: string; profile?: string; at: number }[] = [];

  constructor(
    readonly id: string,
    private readonly behaviour: (context: RunContext, handle: TaskHandle, attempt: number) => Promise<RunOutcome>,
    private readonly clock?: Clock,
  ) {
    this.displayName = `Programmable (${id})`;
  }

  start(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    const attempt = this.runs.filter((run) => run.taskId === context.task.id).length + 1;
    this.runs.push({ taskId: context.task.id, profile: context.profile?.id, at: this.clock?.now() ?? Date.now() });
    return this.behaviour(context, handle, attempt);
  }
}

/** Resolves when the signal aborts (an adapter that runs until stopped). */
export function untilAborted(signal: AbortSignal): Promise<RunOutcome> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve({ status: 'aborted' });
    signal.addEventListener('abort', () => resolve({ status: 'aborted' }), { once: true });
  });
}

export const DEFAULT_SETTINGS: ManagerSettings = {
  defaultProvider: 'scripted',
  maxConcurrentTasks: 3,
  defaultTimeoutMinutes: 0,
  questionTimeoutMinutes: 0,
};

export interface HarnessOptions {
  /** State directory; a fresh temp dir when absent. Pass the previous harness's dir to simulate a reload. */
  dir?: string;
  clock?: FakeClock;
  settings?: Partial<ManagerSettings>;
  trusted?: boolean;
  profiles?: ProfileConfig[];
  /** Extra adapters, registered after the observed ScriptedProvider (unless `scripted` is false). */
  providers?: ProviderAdapter[];
  scripted?: boolean;
  /** Without persistence the manager keeps tasks in memory only. */
  persist?: boolean;
  /** Call restore() right away (after the providers are registered). */
  restore?: boolean;
  cwd?: string;
  /** The workspaces port (a prepare phase before each start). */
  workspaces?: TaskWorkspaces;
  /** DESIGN §8: task worktrees (e.g. a real `TaskWorktrees`). */
  worktrees?: WorktreePort;
}

export interface StatusChange {
  id: string;
  from: TaskStatus | undefined;
  to: TaskStatus;
}

export class Harness {
  readonly dir: string;
  readonly clock: FakeClock;
  readonly settings: ManagerSettings;
  readonly store: TaskStore;
  readonly registry = new ProviderRegistry();
  readonly profiles: ProfileManager;
  readonly stateFile?: StateFile;
  readonly transcripts?: TranscriptStore;
  readonly manager: TaskManager;
  readonly log = new RecordingLogger();
  readonly scripted?: ObservedProvider;
  /** Every status a task entered, in order (creation included, with from = undefined). */
  readonly changes: StatusChange[] = [];
  restoreWarnings: string[] = [];
  trusted: boolean;
  private disposed = false;

  constructor(options: HarnessOptions = {}) {
    this.dir = options.dir ?? makeTempDir();
    this.clock = options.clock ?? new FakeClock();
    this.settings = { ...DEFAULT_SETTINGS, ...options.settings };
    this.trusted = options.trusted ?? true;
    const clock = this.clock;
    this.store = new TaskStore(() => clock.now());
    this.profiles = new ProfileManager(() => clock.now());
    this.profiles.setConfigs(options.profiles ?? []);
    if (options.persist !== false) {
      this.stateFile = new StateFile(
        this.dir,
        () => ({ version: STATE_VERSION, tasks: this.store.all(), profiles: this.profiles.toJSON(), lastSavedAt: clock.now() }),
        clock,
        500,
        this.log,
      );
      this.transcripts = new TranscriptStore(path.join(this.dir, 'tasks'), 200, this.log);
    }
    this.store.onDidChange((change) => {
      if (change.kind === 'created') this.changes.push({ id: change.task.id, from: undefined, to: change.task.status });
      else if (change.kind === 'updated' && change.previousStatus !== change.task.status) {
        this.changes.push({ id: change.task.id, from: change.previousStatus, to: change.task.status });
      }
    });
    const cwd = options.cwd ?? this.dir;
    this.manager = new TaskManager({
      store: this.store,
      registry: this.registry,
      profiles: this.profiles,
      clock,
      log: this.log,
      settings: () => this.settings,
      isTrusted: () => this.trusted,
      defaultCwd: () => cwd,
      stateFile: this.stateFile,
      transcripts: this.transcripts,
      workspaces: options.workspaces,
      worktrees: options.worktrees,
    });
    if (options.scripted !== false) {
      this.scripted = new ObservedProvider(new ScriptedProvider());
      this.registry.register(this.scripted);
    }
    for (const provider of options.providers ?? []) this.registry.register(provider);
    if (options.restore) this.restoreWarnings = this.manager.restore();
  }

  /** Creates a task (scripted provider by default) and lets it start. */
  async create(prompt: string, extra: Partial<CreateTaskInput> = {}): Promise<TaskSnapshot> {
    const task = await this.manager.createTask({ prompt, ...extra });
    await settle();
    return task;
  }

  task(id: string): TaskState {
    const task = this.store.get(id);
    if (!task) throw new Error(`no task ${id}`);
    return task;
  }

  status(id: string): TaskStatus | undefined {
    return this.store.get(id)?.status;
  }

  /** The statuses a task went through, in order. */
  statusesOf(id: string): TaskStatus[] {
    return this.changes.filter((change) => change.id === id).map((change) => change.to);
  }

  entries(id: string): OutputEntry[] {
    return this.manager.getTask(id)?.output ?? [];
  }

  texts(id: string): string[] {
    return this.entries(id).map((entry) => entry.text);
  }

  /** Polls (real time, event-loop turns) until `predicate` holds. */
  async until(predicate: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
  }

  async waitForStatus(id: string, status: TaskStatus, timeoutMs = 3000): Promise<TaskState> {
    await this.until(() => this.status(id) === status, `task ${id} to be ${status} (is ${this.status(id)}; went ${this.statusesOf(id).join(' → ')})`, timeoutMs);
    return this.task(id);
  }

  /** The one pending question of a task. */
  question(id: string): PendingQuestion {
    const questions = this.task(id).pendingQuestions;
    if (questions.length !== 1) throw new Error(`task ${id} has ${questions.length} pending questions`);
    return questions[0];
  }

  /** Writes everything to disk (state and transcripts). */
  async flush(): Promise<void> {
    await this.manager.flush();
  }

  /** Disposes the manager the way the window closing does (sync save), then waits for writes in flight. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.manager.dispose();
    this.registry.dispose();
    await this.stateFile?.flush();
    await this.transcripts?.flush();
    await settle();
  }

  /** A second manager over the same directory, as after a window reload. Disposes this one first. */
  async reload(options: Omit<HarnessOptions, 'dir' | 'clock'> = {}): Promise<Harness> {
    await this.dispose();
    return new Harness({ restore: true, ...options, dir: this.dir, clock: this.clock });
  }
}

/** Reads state.json of a directory as JSON. */
export function readStateJson(dir: string): { version: number; tasks: TaskState[]; profiles: Record<string, unknown>; lastSavedAt: number } {
  return JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'));
}
