import type { Disposable, Logger } from '../../core/events';
import type { Usage } from '../../core/task-state';
import { QuestionWithdrawnError, type RunOutcome, type TaskHandle } from '../adapter';
import { StreamingOutput } from '../acp/streaming-output';
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
}

/** How a run ended, with the facts the provider needs to decide what to do next. */
export interface ClaudeRunEnd {
  outcome: RunOutcome;
  /** `--resume` found no saved conversation ("No conversation found with session ID"). */
  sessionLost: boolean;
  /** The executable could not be started (ENOENT). */
  notFound: boolean;
  sessionId?: string;
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
  private end: ClaudeRunEnd | undefined;
  private resolveEnd!: (end: ClaudeRunEnd) => void;
  private readonly ended = new Promise<ClaudeRunEnd>((resolve) => (this.resolveEnd = resolve));

  constructor(private readonly options: ClaudeRunOptions) {
    this.output = new StreamingOutput(options.handle, options.flushIntervalMs ?? 100);
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
    this.subscriptions.push(
      this.transport.onMessage((message) => this.onMessage(message)),
      this.transport.onMalformed(({ raw, error }) => options.log.warn(`Claude Code wrote a line that is not JSON (${error.message}); skipped: ${raw}`)),
      this.transport.onClose((closed) => this.onClosed(closed)),
    );
  }

  /** Sends the prompt and resolves when the run has ended and its process is gone. */
  async execute(): Promise<ClaudeRunEnd> {
    const { signal } = this.options;
    const onAbort = (): void => void this.cancel();
    if (signal.aborted) this.finish({ status: 'aborted' });
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      this.send({ type: 'user', message: { role: 'user', content: this.options.prompt } });
    }
    try {
      return await this.ended;
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.output.dispose();
      // After a cancel the process may be stuck mid-turn: give it less time to leave on its own.
      await this.transport.close(this.cancelling ? 500 : 1500);
      for (const subscription of this.subscriptions) subscription.dispose();
    }
  }

  /** Ends the process at once (the provider is being disposed). */
  kill(): void {
    this.finish({ status: 'aborted' });
    this.transport.kill();
  }

  /** Interrupts the turn, waits briefly for Claude Code to confirm with a result, then ends the run. */
  private async cancel(): Promise<void> {
    if (this.end || this.cancelling) return;
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
      this.options.log.warn(`Claude Code sent a message of unknown type; skipped: ${JSON.stringify(value).slice(0, 2000)}`);
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
    this.options.handle.setProviderState({ sessionId });
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
    const prompt = toolPermissionPrompt(requestId, request, { cwd: this.options.cwd });
    const known = this.transcript.fileChangeFor(request.tool_use_id);
    if (known && prompt.question.type === 'file_approval') prompt.question.fileChanges = [known];
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
    const limit = rateLimitOf(result, this.rateLimitSeen);
    if (limit) {
      this.finish({ status: 'rate_limited', error: limit.error, retryAfterMs: limit.retryAfterMs });
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
    const how = closed.signal ? `was killed by ${closed.signal}` : `exited with code ${closed.code}`;
    const tail = closed.stderrTail.trim().split('\n').slice(-STDERR_LINES_IN_ERRORS).join('\n');
    const error = closed.error ? `Claude Code could not run: ${closed.error.message}` : `Claude Code ${how} before the turn finished`;
    this.finish({ status: 'failed', error: tail ? `${error}:\n${tail}` : error, exitCode: closed.code ?? undefined });
  }

  private finish(outcome: RunOutcome, facts: { sessionLost?: boolean; notFound?: boolean } = {}): void {
    if (this.end) return;
    this.end = { outcome, sessionLost: facts.sessionLost ?? false, notFound: facts.notFound ?? false, sessionId: this.sessionId };
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

/** A 429 or usage-limit result as a rate limit, with the reset time when Claude names one. */
export function rateLimitOf(result: ClaudeResultMessage, retrySeen: string | undefined): { error: string; retryAfterMs?: number } | undefined {
  const text = (result.result ?? '').trim();
  const usageLimit = /usage limit reached|limit reached.*resets/i.test(text);
  if (result.api_error_status !== 429 && !usageLimit && !(retrySeen && result.is_error && /\b429\b/.test(text))) return undefined;
  // "Claude AI usage limit reached|<unix seconds>" carries the reset time.
  const reset = /\|(\d{10})\b/.exec(text);
  const retryAfterMs = reset ? Math.max(0, Number(reset[1]) * 1000 - Date.now()) : undefined;
  return { error: text.replace(/\|\d{10}\b/, '') || retrySeen || 'Claude API rate limit (HTTP 429)', retryAfterMs };
}
