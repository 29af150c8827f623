import type { Disposable, Logger } from './events';
import type { ResolvedProfile } from './profiles';
import type {
  Answer,
  Finding,
  OutputEntry,
  PendingQuestion,
  PendingQuestionType,
  ProviderId,
  TaskSnapshot,
  TaskState,
  Usage,
} from './task-state';

/** What a provider can do; data shown in the UI and used by recovery and the scheduler. */
export interface ProviderCapabilities {
  /** Pause kinds the agent can raise. */
  pauseKinds: readonly PendingQuestionType[];
  /** Can continue a task after the agent process died (thread/resume, --resume, session/load). */
  resumeAfterCrash: boolean;
  /** The agent process outlives the window (a detached server or keeper), so reattach keeps pending questions. */
  survivesReload: boolean;
  /** A follow-up can continue the same conversation. */
  followUps: boolean;
  /** One process hosts several sessions at once. */
  sessionsPerProcess: 'one' | 'many';
  /** Reports cost in USD (not just tokens). */
  reportsCost: boolean;
  /** Signals rate limits in a way that triggers cooldown and failover. */
  rateLimitSignals: boolean;
  /**
   * Reviews a change in the agent's own review mode (RunContext.review), so a review task's prompt carries no diff;
   * otherwise the prompt carries it (DESIGN §9).
   */
  nativeReview: boolean;
}

/** What a run of an adapter gets from the manager. */
export interface RunContext {
  /** A snapshot of the task at start; `sessionId` is set for follow-ups and resumes. */
  readonly task: Readonly<TaskState>;
  /** The profile chosen for this attempt, if any. */
  readonly profile?: ResolvedProfile;
  /** Aborted on cancel or timeout; `signal.reason` is a TaskAbortReason. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /**
   * DESIGN §9: set on a review task. An adapter whose agent has a native review mode reviews the change against
   * `baseCommit` with it and may report `findings` in its outcome; every other adapter ignores this and answers the
   * task's prompt, which carries the diff.
   */
  readonly review?: ReviewRequest;
}

/** DESIGN §9: what an agent's own review mode needs to review a task's change (RunContext.review). */
export interface ReviewRequest {
  /** The commit the change is measured against: the reviewed worktree's `baseCommit`. */
  baseCommit: string;
  /** The reviewed worktree's folder; finding paths are relative to it. */
  root: string;
  /** What the change is for (the reviewed task, its prompt, the files it touched), for the reviewer's instructions. */
  about: string;
}

export type TaskAbortReason = 'cancelled' | 'timed_out' | 'shutdown';

/** An action the user can take on an error, e.g. open the setting that names a missing CLI. */
export interface ErrorAction {
  kind: 'openSettings';
  setting: string;
  label?: string;
}

/** How a run ended, as the adapter reports it. Cancel and timeout are decided by the manager from the signal. */
export type RunOutcome =
  /** `findings`: a review's findings as the agent's own review mode reported them (else the core parses `result`). */
  | { status: 'completed'; result?: string; findings?: Finding[] }
  | { status: 'failed'; error: string; exitCode?: number; action?: ErrorAction }
  /**
   * `resetsAt` (epoch ms) is when the agent said its limit resets; adapters that know it also set `retryAfterMs`
   * (the same moment, relative to when the run ended) for managers that only read that.
   */
  | { status: 'rate_limited'; error: string; retryAfterMs?: number; resetsAt?: number }
  /** The run stopped because the signal was aborted. */
  | { status: 'aborted' };

/** The adapter's only way to affect its task. It never touches the store or the UI. */
export interface TaskHandle {
  readonly taskId: string;
  /** Appends a transcript entry; an entry with the `id` of an earlier one replaces it (streaming). */
  appendOutput(entry: Omit<OutputEntry, 'at'> & { at?: number }): void;
  /** Raises a question and resolves with the user's answer. Rejects if the task is aborted or the question withdrawn. */
  ask(question: DistributiveOmit<PendingQuestion, 'askedAt'>): Promise<Answer>;
  /** Removes a question that was answered elsewhere or is no longer valid. */
  withdrawQuestion(requestId: string, reason: string): void;
  reportUsage(usage: Usage): void;
  setSessionId(sessionId: string): void;
  /** The agent's own title for the thread/session (untrusted: the manager keeps it as capped plain text). */
  setTitle(title: string): void;
  /** Data recovery will need (thread id, socket path, …). Never secrets. */
  setProviderState(state: Record<string, unknown>): void;
  /** A snapshot of account rate-limit information for the profile (shown in its tooltip). */
  reportRateLimitInfo(info: Record<string, unknown>): void;
  /**
   * The profile's last known usage and limits in one shape for every provider, reported whenever the agent tells
   * (Codex rate-limit snapshots, Claude Code's rate_limit_event). Optional: a manager that does not implement it
   * still gets the raw snapshot through reportRateLimitInfo.
   */
  reportLimits?(limits: AccountLimits): void;
}

/** One limit window of an account (e.g. Codex's 5-hour and weekly windows, Claude's five_hour / seven_day). */
export interface LimitWindow {
  /** Which window: `primary` / `secondary` (Codex), `five_hour`, `seven_day`, … (Claude). */
  id: string;
  /** Share of the window used, 0–100, when known. */
  usedPercent?: number;
  /** The window's length in minutes, when known. */
  windowMinutes?: number;
  /** When the window resets, epoch ms. */
  resetsAt?: number;
  /** `rejected` = this window is exhausted (the agent is rate-limited until resetsAt). */
  status?: LimitStatus;
}

export type LimitStatus = 'allowed' | 'warning' | 'rejected';

/** What a provider knows about its account's limits at `at`. */
export interface AccountLimits {
  /** When this was reported, epoch ms. */
  at: number;
  /** The provider's own name for the limit (Codex `limitId`, Claude `rateLimitType`), when it gives one. */
  limitId?: string;
  /** Overall: `rejected` while a limit is reached. */
  status?: LimitStatus;
  /** When the limit that matters now resets (the exhausted window's, else the soonest), epoch ms. */
  resetsAt?: number;
  windows: LimitWindow[];
  /** The plan, when the agent names it. */
  plan?: string;
}

export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The contract every agent integration implements. */
export interface ProviderAdapter {
  readonly id: ProviderId;
  readonly displayName: string;
  readonly capabilities: ProviderCapabilities;
  /** Runs a task (a new one, or a follow-up when `task.continueSession` and `task.sessionId` are set). */
  start(context: RunContext, handle: TaskHandle): Promise<RunOutcome>;
  /**
   * Continues a task after the extension host restarted (reattach to a live process, or resume a dead one).
   * Adapters that cannot resume leave it out; the task then becomes `unknown`.
   */
  resume?(context: RunContext, handle: TaskHandle): Promise<RunOutcome>;
  /** Releases processes and sockets the adapter owns across tasks. */
  dispose?(): void | Promise<void>;
}

/**
 * Where a task's files live; implemented outside core (worktrees). Every hook is optional: without one, a task runs
 * in its `cwd` as given.
 */
export interface TaskWorkspaces {
  /**
   * Runs inside the task's scheduler slot, after it became running and before its adapter starts. It should stop
   * when `signal` aborts (cancel, timeout, shutdown); a rejection fails the task with its message.
   */
  prepare?(task: Readonly<TaskSnapshot>, signal: AbortSignal): Promise<void>;
}

/** Thrown by TaskHandle.ask when a question goes away without an answer. */
export class QuestionWithdrawnError extends Error {
  constructor(readonly requestId: string, reason: string) {
    super(reason);
    this.name = 'QuestionWithdrawnError';
  }
}

export type { Disposable, ResolvedProfile };
