import type { Disposable, Logger } from '../../core/events';
import type { Usage } from '../../core/task-state';
import { QuestionWithdrawnError, type RunOutcome, type TaskHandle } from '../../core/ports';
import { claudeLimits, rateLimitOf, serverRetryDelay } from './limits';
import { mutableOutput } from '../stdio/keeper-run';
import type { StreamingOutput } from '../stdio/streaming-output';
import { isKeeperError, KeeperTransport } from '../../keeper';
import { CommandNotFoundError, ProcessTransport } from '../transport/process-transport';
import type { MessageTransport, TransportClosed } from '../transport/transport';
import { toolPermissionPrompt } from './permissions';
import {
  isCanUseToolRequest,
  isClaudeOutputMessage,
  type ClaudeCanUseToolRequest,
  type ClaudeControlRequest,
  type ClaudeInputMessage,
  type ClaudeOutputMessage,
  type ClaudePermissionResult,
  type ClaudeRateLimitInfo,
  type ClaudeResultMessage,
} from './protocol';
import { ClaudeTranscript } from './transcript';

export interface ClaudeRunOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** The user message sent once the process is up. */
  prompt: string;
  handle: TaskHandle;
  signal: AbortSignal;
  log: Logger;
  /** Prefix of this run's transcript entry ids. */
  runKey: string;
  /** Usage the task had before this run (a resume or a retry adds to it). */
  usageBefore?: Usage;
  /** How long a cancel waits for Claude Code to confirm the interrupt before the process is ended (default 2 s). */
  interruptGraceMs?: number;
  flushIntervalMs?: number;
  /** The connection to Claude Code; default: spawn `command` (tests replay recorded traffic through their own). */
  transport?: MessageTransport;
  /** Saved with the session id in providerState (the keeper reference, the run key). */
  providerState?: Record<string, unknown>;
  /**
   * Reattaching to a Claude Code process that kept running under its keeper (`transport` is the attached
   * KeeperTransport): the prompt is not sent again; the journal's replay rebuilds the run, questions without an
   * answer are asked again, and entries of lines up to the welcome's ackedSeq (already shown) are not written again.
   */
  reattach?: boolean;
}

/** How a run ended, with the facts the provider needs to decide what to do next. */
export interface ClaudeRunEnd {
  outcome: RunOutcome;
  /** `--resume` found no saved conversation ("No conversation found with session ID"). */
  sessionLost: boolean;
  /** The executable could not be started (ENOENT). */
  notFound: boolean;
  sessionId?: string;
  /** The process ended (or was already gone) without a result: a reattached run can fall back to --resume. */
  exitedEarly?: boolean;
}

const STDERR_LINES_IN_ERRORS = 20;

/**
 * One `claude -p` process running one user message to its result (PROTOCOLS.md §2): it streams the transcript,
 * turns `can_use_tool` control requests into questions, interrupts on cancel, and reports usage and cost.
 */
export class ClaudeRun {
  private readonly transport: MessageTransport;
  private readonly output: StreamingOutput;
  private readonly transcript: ClaudeTranscript;
  private readonly subscriptions: Disposable[] = [];
  /** Control requests Claude Code withdrew; their answers are not sent. */
  private readonly withdrawn = new Set<string>();
  private readonly openQuestions = new Set<string>();
  private sessionId: string | undefined;
  private cancelling = false;
  private interruptCounter = 0;
  private tokens = { input: 0, output: 0 };
  private rateLimitSeen: string | undefined;
  /** When the limit a `rejected` rate_limit_event named resets, epoch ms. */
  private limitResetsAt: number | undefined;
  /** The API's Retry-After as Claude Code honoured it in its last retry, when it was longer than its own back-off. */
  private serverRetryDelayMs: number | undefined;
  private end: ClaudeRunEnd | undefined;
  private resolveEnd!: (end: ClaudeRunEnd) => void;
  private readonly ended = new Promise<ClaudeRunEnd>((resolve) => (this.resolveEnd = resolve));
  /** The window is closing: let go of the keeper (the agent keeps running) instead of ending the process. */
  private detaching = false;
  /** While true, transcript entries are not written (replayed lines the previous window already showed). */
  private muted = false;
  /** Journal replay after a reattach, held until it is complete (answers come after their questions). */
  private replay: { acked: number; head: number; items: ReplayItem[]; timer?: ReturnType<typeof setTimeout> } | undefined;

  constructor(private readonly options: ClaudeRunOptions) {
    const handle = options.handle;
    this.output = mutableOutput(handle, () => this.muted, options.flushIntervalMs);
    this.transcript = new ClaudeTranscript(this.output, options.runKey, { cwd: options.cwd });
    this.transport =
      options.transport ??
      new ProcessTransport({
        command: options.command,
        args: options.args,
        cwd: options.cwd,
        env: options.env,
        onStderr: (text) => options.log.trace(`[claude stderr] ${text.trimEnd()}`),
      });
    const keeper = this.transport instanceof KeeperTransport ? this.transport : undefined;
    if (options.reattach && keeper) {
      const replay: NonNullable<ClaudeRun['replay']> = { acked: keeper.welcome.ackedSeq, head: keeper.welcome.headSeq, items: [] };
      this.replay = replay;
      // A journal that ends in a non-line record (the agent's exit) never reaches head through lines: do not wait forever.
      replay.timer = setTimeout(() => this.flushReplay(), 2000);
      this.subscriptions.push(
        keeper.onInput((input) => {
          if (this.replay !== replay) return;
          replay.items.push({ seq: input.seq, input: input.message });
          if (input.seq >= replay.head) this.flushReplay();
        }),
      );
    }
    this.subscriptions.push(
      this.transport.onMessage((message) => {
        const replay = this.replay;
        const seq = keeper?.lastSeq ?? 0;
        if (replay && seq <= replay.head) {
          replay.items.push({ seq, message });
          if (seq >= replay.head) this.flushReplay();
          return;
        }
        this.onMessage(message);
      }),
      this.transport.onMalformed(({ raw, error }) => options.log.warn(`Claude Code wrote a line that is not JSON (${error.message}); skipped: ${raw}`)),
      this.transport.onClose((closed) => {
        this.flushReplay();
        this.onClosed(closed);
      }),
    );
  }

  /**
   * Processes the replayed journal of a reattach: every message rebuilds the run's state (session, transcript ids,
   * result), entries the previous window already showed stay unwritten, and a permission request with no answer in
   * the journal is asked again.
   */
  private flushReplay(): void {
    const replay = this.replay;
    if (!replay) return;
    this.replay = undefined;
    if (replay.timer) clearTimeout(replay.timer);
    const answered = new Set<string>();
    for (const item of replay.items) {
      const input = item.input as { type?: unknown; response?: { request_id?: unknown } } | undefined;
      if (input?.type === 'control_response' && typeof input.response?.request_id === 'string') answered.add(input.response.request_id);
    }
    for (const item of replay.items) {
      if (item.message === undefined) continue;
      const message = item.message as { type?: unknown; request_id?: unknown };
      if (message.type === 'control_request' && typeof message.request_id === 'string' && answered.has(message.request_id)) continue;
      this.muted = item.seq <= replay.acked && message.type !== 'control_request';
      try {
        this.onMessage(item.message);
      } finally {
        this.muted = false;
      }
    }
    this.options.log.debug(`Claude Code: replayed ${replay.items.length} journal lines after reattach (${replay.acked} already shown)`);
  }

  /** Sends the prompt and resolves when the run has ended and its process is gone. */
  async execute(): Promise<ClaudeRunEnd> {
    const { signal } = this.options;
    const onAbort = (): void => void this.cancel();
    if (signal.aborted) {
      if (signal.reason === 'shutdown' && this.transport instanceof KeeperTransport) this.detaching = true;
      this.finish({ status: 'aborted' });
    } else {
      signal.addEventListener('abort', onAbort, { once: true });
      if (!this.options.reattach) this.send({ type: 'user', message: { role: 'user', content: this.options.prompt } });
    }
    try {
      return await this.ended;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (this.replay?.timer) clearTimeout(this.replay.timer);
      this.output.dispose();
      if (this.detaching && this.transport instanceof KeeperTransport) {
        // The window is closing: Claude Code keeps running under its keeper; the next window reattaches.
        await this.transport.detach();
      } else {
        // After a cancel the process may be stuck mid-turn: give it less time to leave on its own.
        await this.transport.close(this.cancelling ? 500 : 1500);
      }
      for (const subscription of this.subscriptions) subscription.dispose();
    }
  }

  /**
   * Ends the process at once (the provider is being disposed). A run already letting go of its keeper (the window's
   * 'shutdown' abort reached it first) is left alone: its agent keeps running for the next window.
   */
  kill(): void {
    if (this.detaching) return;
    this.finish({ status: 'aborted' });
    this.transport.kill();
  }

  /** The window is closing: stop listening and let the keeper hold the process; its questions stay unanswered. */
  private detach(): void {
    if (this.end) return;
    this.detaching = true;
    this.finish({ status: 'aborted' });
  }

  /** Interrupts the turn, waits briefly for Claude Code to confirm with a result, then ends the run. */
  private async cancel(): Promise<void> {
    if (this.end || this.cancelling) return;
    if (this.options.signal.reason === 'shutdown' && this.transport instanceof KeeperTransport) {
      this.detach();
      return;
    }
    this.cancelling = true;
    for (const requestId of this.openQuestions) this.options.handle.withdrawQuestion(requestId, 'The task is stopping');
    this.send({ type: 'control_request', request_id: `atw_interrupt_${++this.interruptCounter}`, request: { subtype: 'interrupt' } });
    const grace = this.options.interruptGraceMs ?? 2000;
    const timer = setTimeout(() => this.finish({ status: 'aborted' }), grace);
    await this.ended;
    clearTimeout(timer);
  }

  private onMessage(value: unknown): void {
    if (!isClaudeOutputMessage(value)) {
      // A newer Claude Code may add message types: each is logged once per process and otherwise ignored.
      const type = typeof value === 'object' && value !== null ? String((value as { type?: unknown }).type) : typeof value;
      if (!unknownTypesLogged.has(type)) {
        unknownTypesLogged.add(type);
        this.options.log.warn(`Claude Code sent a message of a type this client does not use (${type}); ignored: ${JSON.stringify(value).slice(0, 2000)}`);
      }
      return;
    }
    const message: ClaudeOutputMessage = value;
    if ('session_id' in message && typeof message.session_id === 'string') this.noteSession(message.session_id);
    try {
      switch (message.type) {
        case 'system':
          if (message.subtype === 'api_retry' && message.error_status === 429) {
            this.rateLimitSeen = `Claude API rate limit (HTTP 429${message.error ? `, ${message.error}` : ''})`;
            this.options.handle.reportRateLimitInfo({ httpStatus: 429, attempt: message.attempt, maxRetries: message.max_retries, at: Date.now() });
            this.serverRetryDelayMs = serverRetryDelay(message.attempt, message.retry_delay_ms);
          }
          this.transcript.onSystem(message);
          return;
        case 'stream_event':
          this.transcript.onStreamEvent(message);
          return;
        case 'assistant':
          if (message.error === 'rate_limit') this.rateLimitSeen ??= 'Claude API rate limit';
          this.transcript.onAssistant(message);
          return;
        case 'user':
          this.transcript.onUser(message);
          return;
        case 'result':
          this.onResult(message);
          return;
        case 'rate_limit_event':
          this.onRateLimitEvent(message.rate_limit_info);
          return;
        case 'control_request':
          this.onControlRequest(message);
          return;
        case 'control_cancel_request':
          this.withdrawn.add(message.request_id);
          if (this.openQuestions.delete(message.request_id)) {
            this.options.handle.withdrawQuestion(message.request_id, 'Claude Code withdrew the request');
          }
          return;
        case 'control_response':
          this.options.log.debug(`Claude Code answered control request ${message.response.request_id}: ${message.response.subtype}`);
          return;
        default: {
          const never: never = message;
          this.options.log.warn(`Unhandled Claude Code message ${JSON.stringify(never)}`);
        }
      }
    } catch (error) {
      // A protocol surprise fails nothing: log it with the raw message and go on.
      this.options.log.error(`Could not handle a Claude Code message (${error instanceof Error ? error.message : String(error)}): ${JSON.stringify(message).slice(0, 2000)}`);
    }
  }

  private noteSession(sessionId: string): void {
    if (this.sessionId === sessionId) return;
    this.sessionId = sessionId;
    this.options.handle.setSessionId(sessionId);
    this.options.handle.setProviderState({ ...this.options.providerState, sessionId });
  }

  private onControlRequest(message: ClaudeControlRequest): void {
    const { request_id: requestId, request } = message;
    if (isCanUseToolRequest(request)) {
      void this.askPermission(requestId, request);
      return;
    }
    this.options.log.warn(`Claude Code sent a control request this client does not handle (${request.subtype}); answering with an error`);
    this.send({ type: 'control_response', response: { subtype: 'error', request_id: requestId, error: `Unsupported control request: ${request.subtype}` } });
  }

  private async askPermission(requestId: string, request: ClaudeCanUseToolRequest): Promise<void> {
    const prompt = await toolPermissionPrompt(requestId, request, { cwd: this.options.cwd }, this.transcript.fileChangeFor(request.tool_use_id));
    if (this.cancelling || this.end) return;
    this.openQuestions.add(requestId);
    let answer;
    try {
      answer = await this.options.handle.ask(prompt.question);
    } catch (error) {
      this.openQuestions.delete(requestId);
      if (this.cancelling || this.end || this.withdrawn.has(requestId)) return;
      // Withdrawn without an answer while the run goes on: refuse, so Claude Code does not wait forever.
      const reason = error instanceof QuestionWithdrawnError ? error.message : 'The question was withdrawn';
      this.respond(requestId, { behavior: 'deny', message: reason });
      return;
    }
    this.openQuestions.delete(requestId);
    if (this.cancelling || this.end || this.withdrawn.has(requestId)) return;
    const result = prompt.resultFor(answer);
    if (result.behavior === 'deny') this.transcript.markDenied(request.tool_use_id);
    this.respond(requestId, result);
  }

  private respond(requestId: string, response: ClaudePermissionResult): void {
    this.send({ type: 'control_response', response: { subtype: 'success', request_id: requestId, response } });
  }

  private onRateLimitEvent(info: ClaudeRateLimitInfo): void {
    if (!info || typeof info !== 'object') return;
    this.options.handle.reportRateLimitInfo({ ...info });
    const limits = claudeLimits(info);
    this.options.handle.reportLimits?.(limits);
    if (limits.status === 'rejected') {
      this.limitResetsAt = limits.resetsAt;
      this.rateLimitSeen ??= `Claude usage limit reached${info.rateLimitType ? ` (${info.rateLimitType})` : ''}`;
    }
  }

  private onResult(result: ClaudeResultMessage): void {
    this.reportUsage(result);
    if (this.cancelling) {
      this.finish({ status: 'aborted' });
      return;
    }
    const errors = Array.isArray(result.errors) ? result.errors.filter((e) => typeof e === 'string') : [];
    if (!result.is_error && result.subtype === 'success') {
      this.finish({ status: 'completed', result: result.result ?? this.transcript.lastText });
      return;
    }
    const text = (result.result ?? '').trim() || errors.join('\n') || `Claude Code ended with ${result.subtype}`;
    if (errors.some((error) => /No conversation found/i.test(error))) {
      this.finish({ status: 'failed', error: errors.join('\n') }, { sessionLost: true });
      return;
    }
    const limit = rateLimitOf(result, this.rateLimitSeen, this.limitResetsAt ?? (this.serverRetryDelayMs !== undefined ? Date.now() + this.serverRetryDelayMs : undefined));
    if (limit) {
      this.finish({
        status: 'rate_limited',
        error: limit.error,
        ...(limit.retryAfterMs !== undefined ? { retryAfterMs: limit.retryAfterMs } : {}),
        ...(limit.resetsAt !== undefined ? { resetsAt: limit.resetsAt } : {}),
      });
      return;
    }
    // The manager writes the failure into the transcript; an API error already showed as Claude's own message.
    if (result.subtype === 'error_max_turns') {
      this.finish({ status: 'failed', error: `Claude Code stopped after reaching its maximum number of turns (${result.num_turns ?? '?'})` });
      return;
    }
    this.finish({ status: 'failed', error: text });
  }

  private reportUsage(result: ClaudeResultMessage): void {
    const usage = result.usage ?? {};
    this.tokens.input += (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
    this.tokens.output += usage.output_tokens ?? 0;
    const before = this.options.usageBefore;
    const cost = typeof result.total_cost_usd === 'number' ? result.total_cost_usd : undefined;
    this.options.handle.reportUsage({
      inputTokens: (before?.inputTokens ?? 0) + this.tokens.input,
      outputTokens: (before?.outputTokens ?? 0) + this.tokens.output,
      // total_cost_usd is cumulative for the process, and this run is the whole process.
      costUsd: cost === undefined && before?.costUsd === undefined ? undefined : (before?.costUsd ?? 0) + (cost ?? 0),
    });
  }

  private onClosed(closed: TransportClosed): void {
    if (this.end) return;
    if (closed.error instanceof CommandNotFoundError) {
      this.finish({ status: 'failed', error: closed.error.message }, { notFound: true });
      return;
    }
    if (this.cancelling) {
      this.finish({ status: 'aborted' });
      return;
    }
    if (isKeeperError(closed.error, 'detached')) {
      this.finish({ status: 'aborted' });
      return;
    }
    const how = closed.signal ? `was killed by ${closed.signal}` : `exited with code ${closed.code}`;
    const tail = closed.stderrTail.trim().split('\n').slice(-STDERR_LINES_IN_ERRORS).join('\n');
    const error = closed.error ? `Claude Code could not run: ${closed.error.message}` : `Claude Code ${how} before the turn finished`;
    this.finish({ status: 'failed', error: tail ? `${error}:\n${tail}` : error, exitCode: closed.code ?? undefined }, { exitedEarly: true });
  }

  private finish(outcome: RunOutcome, facts: { sessionLost?: boolean; notFound?: boolean; exitedEarly?: boolean } = {}): void {
    if (this.end) return;
    this.end = { outcome, sessionLost: facts.sessionLost ?? false, notFound: facts.notFound ?? false, sessionId: this.sessionId, exitedEarly: facts.exitedEarly };
    this.resolveEnd(this.end);
  }

  private send(message: ClaudeInputMessage): void {
    if (this.transport.closed) return;
    try {
      this.transport.send(message);
    } catch (error) {
      this.options.log.debug(`Could not write to Claude Code: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

interface ReplayItem {
  seq: number;
  /** A line Claude Code wrote. */
  message?: unknown;
  /** A line an earlier window sent (an answer, an interrupt). */
  input?: unknown;
}

/** Message types a newer Claude Code sent that this client does not use, logged once per extension host. */
const unknownTypesLogged = new Set<string>();
