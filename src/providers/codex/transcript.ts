import type { FileChange, OutputEntry, Usage } from '../../core/task-state';
import type { AccountLimits } from '../../core/ports';
import { relativeInside, toFileChange } from './file-changes';
import { codexLimits, mergeSnapshot } from './limits';
import { enteredReviewText, exitedReviewText } from './review';
import type { RateLimitSnapshot } from './protocol/v2/RateLimitSnapshot';
import type { ServerNotification } from './protocol/ServerNotification';
import type { FileUpdateChange } from './protocol/v2/FileUpdateChange';
import type { ThreadItem } from './protocol/v2/ThreadItem';
import type { ThreadTokenUsage } from './protocol/v2/ThreadTokenUsage';
import type { Turn } from './protocol/v2/Turn';
import type { TurnError } from './protocol/v2/TurnError';

/** Where the transcript goes: the part of TaskHandle it needs. */
export interface TranscriptSink {
  appendOutput(entry: Omit<OutputEntry, 'at'> & { at?: number }): void;
  reportUsage(usage: Usage): void;
  reportRateLimitInfo(info: Record<string, unknown>): void;
  reportLimits?(limits: AccountLimits): void;
}

export interface TranscriptOptions {
  /** Workspace folder, to show paths relative to it. */
  cwd?: string;
  /** Streaming entries (message deltas, command output) are re-emitted at most this often; 0 = on every delta. */
  flushIntervalMs?: number;
}

type Entry = Omit<OutputEntry, 'at'>;

/** A streaming entry that grows with deltas until its item completes; `entry` is private and copied on emit. */
interface Stream {
  entry: Entry;
  dirty: boolean;
}

const MAX_DETAIL_CHARS = 64 * 1024;

/**
 * Turns Codex notifications into the task's structured transcript (one entry per item, updated in place by its
 * id), token usage and rate-limit reports. It also remembers each fileChange item's changes so a file approval can
 * show the diff of exactly the item it is about.
 */
export class CodexTranscript {
  private readonly streams = new Map<string, Stream>();
  private rateLimits: RateLimitSnapshot | undefined;
  /** The account's limits as of the last rate-limit snapshot of this run. */
  limits: AccountLimits | undefined;
  private readonly changesByItem = new Map<string, FileUpdateChange[]>();
  /** The last agent message (or plan) of each turn: the turn's result. */
  private readonly resultByTurn = new Map<string, string>();
  /** What the `exitedReviewMode` item of each review turn said: the review's result (DESIGN §9). */
  private readonly reviewByTurn = new Map<string, string>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private usageBaseline: { input: number; output: number } | undefined;
  private readonly lastErrorByTurn = new Map<string, TurnError>();

  constructor(
    private readonly sink: TranscriptSink,
    private readonly options: TranscriptOptions = {},
  ) {}

  /** Maps one notification; unknown or irrelevant methods are ignored. */
  handle(notification: ServerNotification): void {
    switch (notification.method) {
      case 'item/started':
        this.itemStarted(notification.params.item);
        return;
      case 'item/completed':
        this.itemCompleted(notification.params.item, notification.params.turnId);
        return;
      case 'item/agentMessage/delta':
        this.appendDelta(notification.params.itemId, 'agent', notification.params.delta);
        return;
      case 'item/plan/delta':
        this.appendDelta(notification.params.itemId, 'agent', notification.params.delta);
        return;
      case 'item/reasoning/summaryTextDelta':
        this.appendDelta(notification.params.itemId, 'reasoning', notification.params.delta);
        return;
      case 'item/reasoning/summaryPartAdded': {
        const stream = this.streams.get(notification.params.itemId);
        if (stream && stream.entry.text) this.appendDelta(notification.params.itemId, 'reasoning', '\n\n');
        return;
      }
      case 'item/commandExecution/outputDelta':
        this.appendDetail(notification.params.itemId, notification.params.delta);
        return;
      case 'item/fileChange/patchUpdated':
        this.changesByItem.set(notification.params.itemId, notification.params.changes);
        this.emit(this.fileEntry(notification.params.itemId, notification.params.changes, 'inProgress'));
        return;
      case 'item/mcpToolCall/progress':
        this.appendDetail(notification.params.itemId, `${notification.params.message}\n`);
        return;
      case 'turn/plan/updated': {
        const { plan, explanation, turnId } = notification.params;
        if (plan.length === 0) return;
        const marks = { completed: '✓', inProgress: '→', pending: '•' } as const;
        const lines = plan.map((step) => `${marks[step.status]} ${step.step}`);
        this.emit({ kind: 'status', id: `plan-${turnId}`, text: `Plan:\n${lines.join('\n')}`, detail: explanation ?? undefined });
        return;
      }
      case 'error': {
        const { error, willRetry, turnId } = notification.params;
        if (willRetry) {
          this.emit({ kind: 'status', id: `retry-${turnId}`, text: `Retrying: ${error.message}` });
        } else {
          this.lastErrorByTurn.set(turnId, error);
          this.emit({ kind: 'error', text: error.message, detail: error.additionalDetails ?? undefined });
        }
        return;
      }
      case 'warning':
        if (notification.params.threadId) this.emit({ kind: 'status', text: `Warning: ${notification.params.message}` });
        return;
      case 'model/rerouted':
        this.emit({
          kind: 'status',
          text: `Codex switched the model from ${notification.params.fromModel} to ${notification.params.toModel}`,
        });
        return;
      case 'mcpServer/startupStatus/updated': {
        const { status, name, error } = notification.params;
        if (status === 'failed') this.emit({ kind: 'error', text: `MCP server "${name}" failed to start${error ? `: ${error}` : ''}` });
        return;
      }
      case 'thread/compacted':
        this.emit({ kind: 'status', text: 'Codex compacted the conversation context' });
        return;
      case 'thread/tokenUsage/updated':
        this.reportUsage(notification.params.tokenUsage);
        return;
      case 'account/rateLimits/updated': {
        this.sink.reportRateLimitInfo(withoutNulls(notification.params.rateLimits));
        this.rateLimits = mergeSnapshot(this.rateLimits, notification.params.rateLimits);
        const limits = codexLimits(this.rateLimits);
        this.limits = limits;
        if (limits.windows.length || limits.status) this.sink.reportLimits?.(limits);
        return;
      }
      default:
        return;
    }
  }

  /**
   * The changes of a fileChange item (from its item/started or a later patch update) in the contract's shape: path,
   * kind, unified patch, and new content for adds.
   */
  fileChangesForApproval(itemId: string): FileChange[] | undefined {
    return this.changesByItem.get(itemId)?.map((change) => toFileChange(change, this.options.cwd));
  }

  /** Remembers what Codex reported before this client attached (thread/resume turns), without emitting it. */
  rememberTurns(turns: readonly Turn[]): void {
    for (const turn of turns) {
      for (const item of turn.items) {
        if (item.type === 'fileChange') this.changesByItem.set(item.id, item.changes);
        if ((item.type === 'agentMessage' || item.type === 'plan') && item.text) this.resultByTurn.set(turn.id, item.text);
        if (item.type === 'exitedReviewMode') this.reviewByTurn.set(turn.id, item.review);
      }
    }
  }

  /** The last agent message (or plan) of a turn: its result. */
  resultFor(turnId: string): string | undefined {
    return this.resultByTurn.get(turnId);
  }

  /** The result of a review turn (review/start) as Codex's `exitedReviewMode` item gave it. */
  reviewFor(turnId: string): string | undefined {
    return this.reviewByTurn.get(turnId);
  }

  /** The last non-retried error Codex reported for a turn. */
  errorFor(turnId: string): TurnError | undefined {
    return this.lastErrorByTurn.get(turnId);
  }

  /** Emits everything still buffered. An armed timer stays: re-arming it after every turn's flush costs more. */
  flush(): void {
    for (const stream of this.streams.values()) {
      if (!stream.dirty) continue;
      stream.dirty = false;
      this.emit({ ...stream.entry });
    }
  }

  dispose(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.flush();
    this.streams.clear();
  }

  private itemStarted(item: ThreadItem): void {
    switch (item.type) {
      case 'agentMessage':
        this.startStream(item.id, { kind: 'agent', id: item.id, text: item.text });
        return;
      case 'plan':
        this.startStream(item.id, { kind: 'agent', id: item.id, text: item.text });
        return;
      case 'reasoning':
        this.startStream(item.id, { kind: 'reasoning', id: item.id, text: item.summary.join('\n\n') });
        return;
      case 'commandExecution':
        this.startStream(item.id, { kind: 'command', id: item.id, text: displayCommand(item.command), detail: item.aggregatedOutput ?? '' });
        this.emit({ ...this.streams.get(item.id)!.entry });
        return;
      case 'fileChange':
        this.changesByItem.set(item.id, item.changes);
        this.emit(this.fileEntry(item.id, item.changes, item.status));
        return;
      case 'mcpToolCall':
        this.startStream(item.id, { kind: 'tool', id: item.id, text: `${item.server}.${item.tool}(${compactJson(item.arguments)})`, detail: '' });
        this.emit({ ...this.streams.get(item.id)!.entry });
        return;
      case 'dynamicToolCall':
        this.emit({ kind: 'tool', id: item.id, text: `${qualified(item.namespace, item.tool)}(${compactJson(item.arguments)})` });
        return;
      case 'webSearch':
        this.emit({ kind: 'tool', id: item.id, text: `Web search: ${item.query}` });
        return;
      default:
        return;
    }
  }

  private itemCompleted(item: ThreadItem, turnId: string): void {
    switch (item.type) {
      case 'agentMessage':
        if (item.text) this.resultByTurn.set(turnId, item.text);
        this.finishStream(item.id, { kind: 'agent', id: item.id, text: item.text });
        return;
      case 'plan':
        if (item.text) this.resultByTurn.set(turnId, item.text);
        this.finishStream(item.id, { kind: 'agent', id: item.id, text: item.text });
        return;
      case 'reasoning': {
        const text = item.summary.join('\n\n');
        const streamed = this.streams.get(item.id)?.entry.text ?? '';
        this.streams.delete(item.id);
        if (text || streamed) this.emit({ kind: 'reasoning', id: item.id, text: text || streamed });
        return;
      }
      case 'commandExecution': {
        const streamed = this.streams.get(item.id)?.entry.detail ?? '';
        const output = item.aggregatedOutput ?? streamed;
        const note = item.status === 'declined' ? 'Declined' : item.status === 'failed' && !output ? 'Failed' : '';
        this.finishStream(item.id, {
          kind: 'command',
          id: item.id,
          text: displayCommand(item.command),
          detail: tail(note ? (output ? `${output}\n${note}` : note) : output),
          exitCode: item.exitCode ?? undefined,
        });
        return;
      }
      case 'fileChange':
        this.changesByItem.set(item.id, item.changes);
        this.emit(this.fileEntry(item.id, item.changes, item.status));
        return;
      case 'mcpToolCall': {
        const result = item.error
          ? `Error: ${item.error.message}`
          : item.result
            ? item.result.content.map(contentText).filter(Boolean).join('\n')
            : '';
        this.finishStream(item.id, {
          kind: 'tool',
          id: item.id,
          text: `${item.server}.${item.tool}(${compactJson(item.arguments)})`,
          detail: tail(result) || undefined,
        });
        return;
      }
      case 'dynamicToolCall': {
        const output = (item.contentItems ?? []).map((part) => (part.type === 'inputText' ? part.text : `[${part.type}]`)).join('\n');
        this.emit({
          kind: 'tool',
          id: item.id,
          text: `${qualified(item.namespace, item.tool)}(${compactJson(item.arguments)})`,
          detail: tail(item.success === false ? `Failed${output ? `: ${output}` : ''}` : output) || undefined,
        });
        return;
      }
      case 'webSearch':
        this.emit({ kind: 'tool', id: item.id, text: `Web search: ${item.query}` });
        return;
      case 'contextCompaction':
        this.emit({ kind: 'status', id: item.id, text: 'Codex compacted the conversation context' });
        return;
      case 'enteredReviewMode':
        this.emit({ kind: 'status', id: item.id, text: enteredReviewText(item.review) });
        return;
      case 'exitedReviewMode':
        this.reviewByTurn.set(turnId, item.review);
        this.emit({ kind: 'status', id: item.id, text: exitedReviewText(item.review) });
        return;
      default:
        return;
    }
  }

  private fileEntry(itemId: string, changes: readonly FileUpdateChange[], status: string): Entry {
    const verbs = { add: 'Add', delete: 'Delete', update: 'Edit' } as const;
    const summary = changes.map((change) => `${verbs[change.kind.type]} ${this.displayPath(change.path)}`).join(', ');
    const suffix = status === 'declined' ? ' (declined)' : status === 'failed' ? ' (failed)' : '';
    return {
      kind: 'file',
      id: itemId,
      text: `${summary || 'File change'}${suffix}`,
      detail: changes.map((change) => toFileChange(change, this.options.cwd).patch).join(''),
    };
  }

  private displayPath(file: string): string {
    return relativeInside(this.options.cwd, file) ?? file;
  }

  private startStream(itemId: string, entry: Entry): void {
    this.streams.set(itemId, { entry, dirty: false });
  }

  private finishStream(itemId: string, entry: Entry): void {
    this.streams.delete(itemId);
    this.emit(entry);
  }

  private appendDelta(itemId: string, kind: OutputEntry['kind'], delta: string): void {
    let stream = this.streams.get(itemId);
    if (!stream) {
      stream = { entry: { kind, id: itemId, text: '' }, dirty: false };
      this.streams.set(itemId, stream);
    }
    stream.entry.text += delta;
    this.markDirty(stream);
  }

  private appendDetail(itemId: string, delta: string): void {
    const stream = this.streams.get(itemId);
    if (!stream) return;
    stream.entry.detail = tail((stream.entry.detail ?? '') + delta);
    this.markDirty(stream);
  }

  private markDirty(stream: Stream): void {
    stream.dirty = true;
    const interval = this.options.flushIntervalMs ?? 100;
    if (interval <= 0) {
      this.flush();
      return;
    }
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, interval);
  }

  private reportUsage(usage: ThreadTokenUsage): void {
    // `total` counts the whole thread; a follow-up or resumed run reports only what it added.
    if (!this.usageBaseline) {
      this.usageBaseline = {
        input: usage.total.inputTokens - usage.last.inputTokens,
        output: usage.total.outputTokens - usage.last.outputTokens,
      };
    }
    this.sink.reportUsage({
      inputTokens: Math.max(0, usage.total.inputTokens - this.usageBaseline.input),
      outputTokens: Math.max(0, usage.total.outputTokens - this.usageBaseline.output),
    });
  }

  private emit(entry: Entry): void {
    this.sink.appendOutput(entry);
  }
}

/** `/bin/bash -lc 'cmd'` → `cmd` (Codex wraps every shell command this way); anything else unchanged. */
export function displayCommand(command: string): string {
  const match = /^(?:\/\S*\/)?(?:ba|z)?sh -lc (.+)$/s.exec(command);
  if (!match) return command;
  const quoted = match[1];
  if (/^'[^']*'$/.test(quoted)) return quoted.slice(1, -1);
  // POSIX single quoting: 'a'\''b' → a'b
  if (/^'(?:[^']|'\\'')*'$/.test(quoted)) return quoted.slice(1, -1).replace(/'\\''/g, "'");
  return command;
}

function qualified(namespace: string | null, tool: string): string {
  return namespace ? `${namespace}.${tool}` : tool;
}

function compactJson(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object' && Object.keys(value as object).length === 0) return '';
  const text = JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function contentText(part: unknown): string {
  if (part && typeof part === 'object' && 'text' in part && typeof (part as { text: unknown }).text === 'string') {
    return (part as { text: string }).text;
  }
  return part === null || part === undefined ? '' : JSON.stringify(part);
}

function tail(text: string): string {
  return text.length > MAX_DETAIL_CHARS ? `…${text.slice(-MAX_DETAIL_CHARS)}` : text;
}

function withoutNulls(value: object): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key in value) {
    const field = (value as Record<string, unknown>)[key];
    if (field !== null && field !== undefined) fields[key] = field;
  }
  return fields;
}
