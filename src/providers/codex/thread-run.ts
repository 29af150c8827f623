import type { Disposable, Logger } from '../../core/events';
import type { Answer } from '../../core/task-state';
import { QuestionWithdrawnError, type AccountLimits, type RunOutcome, type TaskAbortReason, type TaskHandle } from '../../core/ports';
import type { ThreadHost } from './app-server';
import type { RequestReply, ServerLost, ThreadListener } from './thread-router';
import type { ServerNotification } from './protocol/ServerNotification';
import type { ServerRequest } from './protocol/ServerRequest';
import type { Turn } from './protocol/v2/Turn';
import type { TurnError } from './protocol/v2/TurnError';
import { exhaustedResetAt } from './limits';
import { isQuestionRequest, questionFor, refusalFor, responseFor, type QuestionRequest } from './questions';
import { RpcErrorCode } from './rpc';
import { CodexTranscript, type TranscriptSink } from './transcript';

export interface ThreadRunOptions {
  server: ThreadHost;
  threadId: string;
  handle: TaskHandle;
  signal: AbortSignal;
  log: Logger;
  cwd?: string;
  /** How long to wait for `turn/completed` after `turn/interrupt` (default 5 s). */
  interruptTimeoutMs?: number;
  /** Streaming flush interval for the transcript (default 100 ms). */
  flushIntervalMs?: number;
}

interface PendingQuestion {
  request: QuestionRequest;
  reply: RequestReply;
  questionId: string;
  settled: boolean;
  /** Codex resolved the request itself (serverRequest/resolved before we answered). */
  resolvedByServer: boolean;
}

type TurnEnd = { kind: 'turn'; turn: Turn } | { kind: 'lost'; lost: ServerLost } | { kind: 'abort' } | { kind: 'detached' };

/**
 * One task's view of one Codex thread: routes the thread's notifications into the transcript, turns its server
 * requests into questions on the TaskHandle and their answers into replies, and waits for a turn to end.
 */
export class CodexThreadRun implements ThreadListener, Disposable {
  readonly transcript: CodexTranscript;
  private readonly attachment: Disposable;
  private readonly completedTurns = new Map<string, Turn>();
  /**
   * The turn running on behalf of another (its `rootTurnId`), by that turn's id: a review/start turn's reviewer runs
   * in a turn of its own, and Codex interrupts only the turn that is active.
   */
  private readonly workingTurns = new Map<string, string>();
  private readonly pending = new Map<string, PendingQuestion>();
  private turnWaiter: ((end: TurnEnd) => void) | undefined;
  private waitingTurnId: string | undefined;
  private lost: ServerLost | undefined;
  private detached = false;
  private requestGate: Promise<void> | undefined;
  /** Requests Codex resolved while they waited behind the gate. */
  private readonly resolvedEarly = new Set<string>();
  /** Set on abort: 'shutdown' detaches (the turn keeps running for a later reattach), anything else interrupts. */
  private abortReason: TaskAbortReason | undefined;
  private readonly onAbort = () => this.handleAbort();

  constructor(private readonly options: ThreadRunOptions) {
    const sink: TranscriptSink = {
      appendOutput: (entry) => options.handle.appendOutput(entry),
      reportUsage: (usage) => options.handle.reportUsage(usage),
      reportRateLimitInfo: (info) => options.handle.reportRateLimitInfo(info),
      reportLimits: (limits) => options.handle.reportLimits?.(limits),
    };
    this.transcript = new CodexTranscript(sink, { cwd: options.cwd, flushIntervalMs: options.flushIntervalMs });
    this.attachment = options.server.attachThread(options.threadId, this);
    options.signal.addEventListener('abort', this.onAbort, { once: true });
    if (options.signal.aborted) this.handleAbort();
  }

  get threadId(): string {
    return this.options.threadId;
  }

  /** Why the run was aborted, if it was. */
  get aborted(): TaskAbortReason | undefined {
    return this.abortReason;
  }

  onNotification(notification: ServerNotification): void {
    switch (notification.method) {
      case 'turn/completed':
        this.transcript.flush();
        this.completedTurns.set(notification.params.turn.id, notification.params.turn);
        if (this.waitingTurnId === notification.params.turn.id) this.turnWaiter?.({ kind: 'turn', turn: notification.params.turn });
        return;
      case 'turn/started': {
        const { id, rootTurnId } = notification.params.turn;
        if (rootTurnId && rootTurnId !== id) this.workingTurns.set(rootTurnId, id);
        return;
      }
      case 'serverRequest/resolved':
        this.handleResolved(String(notification.params.requestId));
        return;
      case 'thread/name/updated':
        if (notification.params.threadName) this.options.handle.setTitle(notification.params.threadName);
        return;
      default:
        this.transcript.handle(notification);
    }
  }

  /** What Codex reported before this client attached (thread/resume turns): for the transcript, and which turn works for which. */
  rememberTurns(turns: readonly Turn[]): void {
    this.transcript.rememberTurns(turns);
    for (const turn of turns) {
      if (turn.status === 'inProgress' && turn.rootTurnId && turn.rootTurnId !== turn.id) this.workingTurns.set(turn.rootTurnId, turn.id);
    }
  }

  /** Server requests that arrive before `ready` settles wait for it (what a question shows may come with it). */
  holdRequestsUntil(ready: Promise<unknown>): void {
    const gate = ready.then(
      () => undefined,
      () => undefined,
    );
    this.requestGate = gate;
    void gate.then(() => {
      if (this.requestGate === gate) this.requestGate = undefined;
    });
  }

  onRequest(request: ServerRequest, reply: RequestReply): void {
    if (this.requestGate) {
      void this.requestGate.then(() => this.onRequest(request, reply));
      return;
    }
    if (this.detached || this.lost || this.resolvedEarly.delete(String(request.id))) return;
    if (!isQuestionRequest(request)) {
      this.options.log.warn(`[codex] answered the unsupported server request ${request.method} (thread ${this.threadId}) with an error`);
      reply.error(RpcErrorCode.methodNotFound, `${request.method} is not supported by this client`);
      return;
    }
    if (this.abortReason === 'shutdown') return; // Left pending: Codex re-sends it to the next client that resumes.
    if (this.abortReason) {
      reply.result(refusalFor(request, 'cancel'));
      return;
    }
    this.transcript.flush();
    const question = questionFor(request, {
      fileChanges: (itemId) => this.transcript.fileChangesForApproval(itemId),
      connectionSerial: this.options.server.connectionSerial,
    });
    if (question.type === 'file_approval' && question.fileChanges.length === 0) {
      this.options.log.warn(`[codex] ${question.requestId}: Codex reported no changes for this file approval`);
      question.reason = [question.reason, 'Codex did not report the changes of this edit.'].filter(Boolean).join(' ');
    }
    const entry: PendingQuestion = { request, reply, questionId: question.requestId, settled: false, resolvedByServer: false };
    this.pending.set(String(request.id), entry);
    // A handle that throws instead of rejecting still gets the request answered (declined).
    new Promise<Answer>((resolve) => resolve(this.options.handle.ask(question))).then(
      (answer) => {
        if (entry.settled) return;
        entry.settled = true;
        this.pending.delete(String(request.id));
        if (entry.resolvedByServer) return;
        reply.result(responseFor(request, answer));
      },
      (error: unknown) => {
        if (entry.settled) return;
        entry.settled = true;
        this.pending.delete(String(request.id));
        const abort = this.abortReason ?? (this.options.signal.aborted ? abortReasonOf(this.options.signal) : undefined);
        if (entry.resolvedByServer || abort === 'shutdown') return;
        if (!(error instanceof QuestionWithdrawnError) && !abort) {
          this.options.log.debug(`[codex] question ${entry.questionId} ended without an answer: ${(error as Error)?.message}`);
        }
        // A cancelled task cancels; an expired or withdrawn question declines (never approves).
        reply.result(refusalFor(request, abort ? 'cancel' : 'decline'));
      },
    );
  }

  onServerLost(lost: ServerLost): void {
    this.lost = lost;
    for (const entry of this.pending.values()) {
      entry.settled = true;
      this.options.handle.withdrawQuestion(entry.questionId, 'The Codex app-server stopped');
    }
    this.pending.clear();
    this.turnWaiter?.({ kind: 'lost', lost });
  }

  onDetached(): void {
    this.detached = true;
    for (const entry of this.pending.values()) entry.settled = true;
    this.pending.clear();
    this.turnWaiter?.({ kind: 'detached' });
  }

  /** Waits for `turnId` to end and maps how it ended; handles abort (interrupt, or detach on shutdown). */
  async waitForTurn(turnId: string): Promise<RunOutcome> {
    const end = await new Promise<TurnEnd>((resolve) => {
      const done = this.completedTurns.get(turnId);
      if (done) return resolve({ kind: 'turn', turn: done });
      if (this.lost) return resolve({ kind: 'lost', lost: this.lost });
      if (this.abortReason) return resolve({ kind: 'abort' });
      if (this.detached) return resolve({ kind: 'detached' });
      this.waitingTurnId = turnId;
      this.turnWaiter = resolve;
    });
    this.turnWaiter = undefined;
    this.waitingTurnId = undefined;
    this.transcript.flush();
    switch (end.kind) {
      case 'turn':
        return this.outcomeOf(end.turn);
      case 'lost':
        return this.lostOutcome(end.lost);
      case 'abort':
        return this.abortTurn(turnId);
      case 'detached':
        return { status: 'aborted' };
    }
  }

  /** Maps a finished turn to the run's outcome. */
  outcomeOf(turn: Turn): RunOutcome {
    switch (turn.status) {
      case 'completed':
        return { status: 'completed', result: this.transcript.resultFor(turn.id) ?? lastAgentText(turn) };
      case 'interrupted':
        if (this.abortReason) return { status: 'aborted' };
        return { status: 'failed', error: 'The Codex turn was interrupted' };
      case 'failed':
        return failureOutcome(turn.error ?? this.transcript.errorFor(turn.id), this.transcript.limits);
      case 'inProgress':
        return { status: 'failed', error: 'The Codex turn did not finish' };
    }
  }

  lostOutcome(lost: ServerLost): RunOutcome {
    const tail = lost.stderrTail.trim();
    return { status: 'failed', error: tail ? `${lost.message}:\n${lastLines(tail, 20)}` : lost.message };
  }

  dispose(): void {
    this.options.signal.removeEventListener('abort', this.onAbort);
    this.attachment.dispose();
    this.transcript.dispose();
  }

  private handleAbort(): void {
    if (this.abortReason) return;
    this.abortReason = abortReasonOf(this.options.signal);
    if (this.abortReason !== 'shutdown') {
      for (const entry of this.pending.values()) {
        if (entry.settled) continue;
        entry.settled = true;
        entry.reply.result(refusalFor(entry.request, 'cancel'));
      }
      this.pending.clear();
    }
    this.turnWaiter?.({ kind: 'abort' });
  }

  private async abortTurn(turnId: string): Promise<RunOutcome> {
    if (this.abortReason === 'shutdown' || this.detached || this.lost) return { status: 'aborted' };
    const completed = new Promise<TurnEnd>((resolve) => {
      const done = this.completedTurns.get(turnId);
      if (done) return resolve({ kind: 'turn', turn: done });
      if (this.lost) return resolve({ kind: 'lost', lost: this.lost });
      this.waitingTurnId = turnId;
      this.turnWaiter = resolve;
    });
    const interrupt = (id: string) => this.options.server.request('turn/interrupt', { threadId: this.threadId, turnId: id }, { timeoutMs: this.options.interruptTimeoutMs ?? 5000 });
    const sent = this.workingTurns.get(turnId) ?? turnId;
    try {
      await interrupt(sent);
    } catch (error) {
      this.options.log.debug(`[codex] turn/interrupt failed: ${(error as Error).message}`);
      // The reviewer's turn may have started while the interrupt was on its way.
      const working = this.workingTurns.get(turnId);
      if (working && working !== sent) await interrupt(working).catch(() => undefined);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), this.options.interruptTimeoutMs ?? 5000)));
    const end = await Promise.race([completed, timeout]);
    clearTimeout(timer);
    this.turnWaiter = undefined;
    this.waitingTurnId = undefined;
    if (!end) this.options.log.warn(`[codex] turn ${turnId} did not report completion after turn/interrupt`);
    return { status: 'aborted' };
  }

  private handleResolved(requestId: string): void {
    const entry = this.pending.get(requestId);
    if (!entry) {
      if (this.requestGate) this.resolvedEarly.add(requestId);
      return;
    }
    this.pending.delete(requestId);
    if (entry.settled) return;
    entry.resolvedByServer = true;
    this.options.handle.withdrawQuestion(entry.questionId, 'Codex no longer waits for this answer');
  }
}

/**
 * Maps a failed turn's error: 429 / usage limits are rate limits (DESIGN §3a), anything else a failure. The reset
 * time comes from the exhausted window of the last rate-limit snapshot, else from the message ("try again at 9:21 AM",
 * "try again in 20 minutes").
 */
export function failureOutcome(error: TurnError | null | undefined, limits?: AccountLimits, now = Date.now()): RunOutcome {
  const message = error?.message ?? 'The Codex turn failed';
  const rateLimit = rateLimitOf(error, now);
  if (rateLimit) {
    const resetsAt = exhaustedResetAt(limits, now) ?? (rateLimit.retryAfterMs !== undefined ? now + rateLimit.retryAfterMs : undefined);
    if (resetsAt === undefined) return { status: 'rate_limited', error: message };
    return { status: 'rate_limited', error: message, retryAfterMs: Math.max(0, resetsAt - now), resetsAt };
  }
  return { status: 'failed', error: error?.additionalDetails ? `${message}\n${error.additionalDetails}` : message };
}

/** Recognises a rate limit from codexErrorInfo (or, failing that, the message) and any retry delay it names. */
export function rateLimitOf(error: TurnError | null | undefined, now = Date.now()): { retryAfterMs?: number } | undefined {
  if (!error) return undefined;
  const info = error.codexErrorInfo;
  const text = `${error.message} ${error.additionalDetails ?? ''}`;
  const byInfo =
    info === 'usageLimitExceeded' ||
    info === 'rateLimitExceeded' ||
    (typeof info === 'object' && info !== null && Object.values(info).some((value) => (value as { httpStatusCode?: unknown } | null)?.httpStatusCode === 429));
  const byText = /\b429\b|rate.?limit|usage limit|too many requests/i.test(text);
  if (!byInfo && !byText) return undefined;
  return { retryAfterMs: retryAfterFrom(text, now) };
}

function retryAfterFrom(text: string, now: number): number | undefined {
  const relative = /(?:try again|retry)(?: it)? (?:in|after) (\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\b/i.exec(text);
  if (relative) {
    const value = Number(relative[1]);
    const unit = relative[2].toLowerCase();
    const scale = unit.startsWith('ms') || unit.startsWith('milli') ? 1 : unit.startsWith('s') ? 1000 : unit.startsWith('m') ? 60_000 : unit.startsWith('h') ? 3_600_000 : 86_400_000;
    return Math.round(value * scale);
  }
  const clock = /try again at (\d{1,2}):(\d{2})\s*(AM|PM)?/i.exec(text);
  if (clock) {
    let hours = Number(clock[1]) % (clock[3] ? 12 : 24);
    if (clock[3]?.toUpperCase() === 'PM') hours += 12;
    const at = new Date(now);
    at.setHours(hours, Number(clock[2]), 0, 0);
    if (at.getTime() <= now) at.setDate(at.getDate() + 1);
    return at.getTime() - now;
  }
  return undefined;
}

function abortReasonOf(signal: AbortSignal): TaskAbortReason {
  const reason: unknown = signal.reason;
  return reason === 'shutdown' || reason === 'timed_out' ? reason : 'cancelled';
}

function lastAgentText(turn: Turn): string | undefined {
  for (let i = turn.items.length - 1; i >= 0; i--) {
    const item = turn.items[i];
    if ((item.type === 'agentMessage' || item.type === 'plan') && item.text) return item.text;
  }
  return undefined;
}

function lastLines(text: string, count: number): string {
  const lines = text.split('\n');
  return lines.slice(-count).join('\n');
}
