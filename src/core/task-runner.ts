// Running a task: a scheduler slot, an optional prepare phase, the adapter's run, and what its outcome means.
import type { Answer, PendingQuestion, TaskSnapshot, TaskState } from './task-state';
import { isTerminal, type OutputEntry } from './task-state';
import type { TimerHandle } from './clock';
import { messageOf } from './errors';
import type { ProviderAdapter, RunContext, RunOutcome, TaskAbortReason, TaskHandle } from './ports';
import type { ProfileConfig } from './profiles';
import type { Scheduler } from './scheduler';
import type { TaskStore } from './task-store';
import type { Transitions } from './transitions';
import type { TaskError, TaskManagerOptions } from './task-manager';
import type { RateLimit } from './failover';
import { TaskIsolation } from './task-isolation';
import { reviewRequest } from './second-opinions';

/** How long cancel waits for an adapter to stop before the task is marked cancelled anyway. */
export const CANCEL_GRACE_MS = 5_000;

export interface PendingAnswer {
  question: PendingQuestion;
  resolve(answer: Answer): void;
  reject(error: Error): void;
  timer?: TimerHandle;
}

/** One run of an adapter for a task: its abort controller and the questions it has open. */
export interface ActiveRun {
  controller: AbortController;
  questions: Map<string, PendingAnswer>;
  done: Promise<void>;
}

/** What the parts of the task manager share; the TaskManager provides it. */
export interface ManagerParts {
  readonly options: TaskManagerOptions;
  readonly store: TaskStore;
  readonly scheduler: Scheduler;
  readonly moves: Transitions;
  readonly runs: Map<string, ActiveRun>;
  readonly disposed: boolean;
  appendOutput(id: string, entry: Omit<OutputEntry, 'at'> & { at?: number }): void;
  snapshot(task: TaskState): TaskSnapshot;
  /** Reports a failure the user should see (a notification with an action). */
  fail(error: TaskError): void;
}

export interface RunnerHooks {
  handleFor(id: string, run: ActiveRun): TaskHandle;
  /** Rejects every open question of a run (see Questions.withdrawAll). */
  withdrawAll(id: string, run: ActiveRun, reason: string, resumeRunning: boolean): void;
  onRateLimited(id: string, limit: RateLimit): void;
  /**
   * The prepare phase: runs inside the task's slot, after it became running and before its adapter starts or
   * resumes; it should stop when `signal` aborts. A rejection fails the task with its message.
   */
  prepare(id: string, mode: 'start' | 'resume', signal: AbortSignal): Promise<void>;
}

export class TaskRunner {
  /** Tasks being cancelled or timed out whose agent has not stopped yet. */
  readonly stopping = new Map<string, 'cancelled' | 'timed_out'>();

  constructor(private readonly parts: ManagerParts, private readonly hooks: RunnerHooks) {}

  /** The scheduler gave a pending task a slot: mark it running and launch its adapter. */
  start(id: string): void {
    const { store, options } = this.parts;
    const task = store.get(id);
    const adapter = task && options.registry.get(task.provider);
    if (!task || !adapter || task.status !== 'pending') return;
    const profile = this.chooseProfile(task);
    const now = options.clock.now();
    const timeoutAt = task.timeoutAt ?? (task.timeoutMs !== undefined ? now + task.timeoutMs : undefined);
    this.parts.moves.start(id, { profile: profile?.id, timeoutAt, timestamps: { started: task.timestamps.started ?? now } });
    this.parts.scheduler.setDeadline(id, timeoutAt);
    this.launch(id, adapter, 'start');
  }

  private chooseProfile(task: TaskState): ProfileConfig | undefined {
    const profiles = this.parts.options.profiles;
    if (task.profile) return profiles.get(task.profile);
    return profiles.pickFor(task.provider);
  }

  /**
   * Runs the adapter (start, or resume after a reload). It first awaits the prepare phase inside its slot, with the
   * run's signal, so a cancel or timeout during it ends the task like one during the run.
   */
  launch(id: string, adapter: ProviderAdapter, mode: 'start' | 'resume'): void {
    const { store, options } = this.parts;
    const task = store.get(id);
    if (!task) return;
    const controller = new AbortController();
    let markDone!: () => void;
    const run: ActiveRun = { controller, questions: new Map(), done: new Promise((resolve) => (markDone = resolve)) };
    this.parts.runs.set(id, run);
    const profileConfig = task.profile ? options.profiles.get(task.profile) : undefined;
    const profile = profileConfig ? options.profiles.resolve(profileConfig) : undefined;
    const call = (): Promise<RunOutcome> => {
      const current = store.get(id) ?? task;
      // The agent works in the task's worktree when it has one (DESIGN §8); the snapshot keeps the main cwd.
      const agentTask = { ...this.parts.snapshot(current), cwd: TaskIsolation.agentCwd(current) };
      const review = current.reviewOf !== undefined ? reviewRequest(current, store.get(current.reviewOf)) : undefined;
      const context: RunContext = { task: agentTask, profile, signal: controller.signal, log: options.log, ...(review ? { review } : {}) };
      const handle = this.hooks.handleFor(id, run);
      return mode === 'resume' && adapter.resume ? adapter.resume(context, handle) : adapter.start(context, handle);
    };
    void (async () => {
      let outcome: RunOutcome;
      try {
        await this.hooks.prepare(id, mode, controller.signal);
        controller.signal.throwIfAborted();
        outcome = await call();
      } catch (error) {
        outcome = controller.signal.aborted ? { status: 'aborted' } : { status: 'failed', error: messageOf(error) };
        if (!controller.signal.aborted) options.log.error(`Task ${id}: ${adapter.id} threw: ${messageOf(error)}`);
      }
      if (this.parts.runs.get(id) === run) this.parts.runs.delete(id);
      this.hooks.withdrawAll(id, run, 'The task stopped', !controller.signal.aborted);
      try {
        this.complete(id, run, outcome);
      } catch (error) {
        options.log.error(`Task ${id}: finishing the run failed: ${messageOf(error)}`);
      } finally {
        markDone();
        this.parts.scheduler.pump();
      }
    })();
  }

  private complete(id: string, run: ActiveRun, outcome: RunOutcome): void {
    const { store, moves, options } = this.parts;
    const task = store.get(id);
    if (!task || isTerminal(task.status)) return;
    const reason = run.controller.signal.aborted ? (run.controller.signal.reason as TaskAbortReason) : undefined;
    if (reason === 'shutdown') return; // The window is going away; recovery picks the task up next time.
    if (reason === 'cancelled') return moves.finish(id, 'cancelled', {}, 'Cancelled');
    if (reason === 'timed_out') return moves.finish(id, 'timed_out', { error: timeoutMessage(task) }, timeoutMessage(task));
    switch (outcome.status) {
      case 'completed':
        if (task.profile) options.profiles.markSucceeded(task.profile);
        // A review's findings from the agent's own review mode (DESIGN §9); other reviews are parsed from the result.
        return moves.finish(id, 'completed', { result: outcome.result, error: undefined, ...(task.reviewOf !== undefined && outcome.findings ? { findings: outcome.findings } : {}) }, 'Completed');
      case 'failed':
        moves.finish(id, 'failed', { error: outcome.error, exitCode: outcome.exitCode }, `Failed: ${outcome.error}`, 'error');
        this.parts.fail({ taskId: id, message: outcome.error, action: outcome.action });
        return;
      case 'rate_limited':
        return this.hooks.onRateLimited(id, { error: outcome.error, retryAfterMs: outcome.retryAfterMs, resetsAt: outcome.resetsAt });
      case 'aborted':
        return moves.finish(id, 'failed', { error: 'The agent stopped without a result' }, 'The agent stopped without a result', 'error');
      default: {
        const never: never = outcome;
        return moves.finish(id, 'failed', { error: `Unexpected outcome ${JSON.stringify(never)}` });
      }
    }
  }

  /** Cancel or time out: abort a running adapter (waiting briefly for it), or end a task that is not running. */
  async stop(id: string, reason: 'cancelled' | 'timed_out'): Promise<void> {
    const { store, moves, options } = this.parts;
    const task = store.get(id);
    if (!task || isTerminal(task.status)) return;
    this.parts.scheduler.forget(id);
    const run = this.parts.runs.get(id);
    const message = reason === 'cancelled' ? 'Cancelled' : timeoutMessage(task);
    if (!run) {
      moves.finish(id, reason, reason === 'timed_out' ? { error: message } : {}, message);
      return;
    }
    this.parts.appendOutput(id, { kind: 'status', text: reason === 'cancelled' ? 'Cancelling…' : `${message}; stopping the agent…` });
    this.stopping.set(id, reason);
    run.controller.abort(reason);
    this.hooks.withdrawAll(id, run, reason === 'cancelled' ? 'The task was cancelled' : 'The task timed out', false);
    let timer: TimerHandle | undefined;
    await Promise.race([run.done, new Promise<void>((resolve) => (timer = options.clock.setTimeout(resolve, CANCEL_GRACE_MS)))]);
    if (timer !== undefined) options.clock.clearTimeout(timer);
    this.stopping.delete(id);
    const after = store.get(id);
    if (after && !isTerminal(after.status)) {
      moves.finish(id, reason, reason === 'timed_out' ? { error: message } : {}, `${message} (the agent did not stop in time)`);
    }
  }

  /**
   * The window is closing: a cancel or timeout the agent has not acknowledged yet is still the user's decision, so
   * it is saved as final (or the next window would resume the task); every other run is aborted as 'shutdown'.
   */
  dispose(): void {
    const { store, moves, options } = this.parts;
    for (const [id, reason] of this.stopping) {
      const task = store.get(id);
      if (task && !isTerminal(task.status)) {
        const message = reason === 'cancelled' ? 'Cancelled' : timeoutMessage(task);
        moves.finish(id, reason, reason === 'timed_out' ? { error: message } : {}, `${message} (the window closed before the agent stopped)`);
      }
    }
    this.stopping.clear();
    for (const run of this.parts.runs.values()) {
      run.controller.abort('shutdown' satisfies TaskAbortReason);
      for (const pending of run.questions.values()) if (pending.timer !== undefined) options.clock.clearTimeout(pending.timer);
    }
  }
}

function timeoutMessage(task: TaskState): string {
  const minutes = (task.timeoutMs ?? 0) / 60_000;
  return `Timed out after ${minutes >= 1 ? `${Math.round(minutes)} min` : `${Math.round(minutes * 60)} s`}`;
}
