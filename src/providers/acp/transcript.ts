import type * as acp from '@agentclientprotocol/sdk/unstable';
import type { Logger } from '../../core/events';
import type { OutputEntry } from '../../core/task-state';
import { asRecord, commandOf, displayPath, mergeToolCall, type ToolCallState } from './permissions';
import type { StreamingOutput } from '../stdio/streaming-output';
import { createUnifiedDiff } from '../stdio/unified-diff';

const MAX_DETAIL_CHARS = 8000;

/** Session update kinds an agent sent that this client does not know, logged once per extension host. */
const unknownKindsLogged = new Set<string>();

/**
 * Turns `session/update` notifications into transcript entries: message and thought chunks coalesced into one
 * entry per message, tool calls as command / file / tool entries that their updates complete, plans and notices
 * as status lines. The session's title goes to `onTitle`; other updates that only describe the session (commands,
 * modes, config, context usage) are skipped. It keeps no process state, so recorded transcripts replay through it.
 */
export class AcpTranscript {
  private readonly tools = new Map<string, ToolCallState>();
  private message: { kind: 'agent' | 'reasoning'; id: string; text: string; messageId?: string | null } | undefined;
  private messageCounter = 0;
  private lastAgentMessage = '';

  constructor(
    private readonly output: StreamingOutput,
    /** Prefixes entry ids so that ids stay unique when a task runs more than once (retry, resume). */
    private readonly runKey: string,
    private readonly cwd: string,
    /** The agent named (or renamed) the session. */
    private readonly onTitle: (title: string) => void = () => undefined,
    /** Where a session update kind this client does not know is logged (once per kind). */
    private readonly log?: Pick<Logger, 'info'>,
  ) {}

  /** The text of the newest agent message: the turn's answer. */
  get lastText(): string {
    return this.lastAgentMessage;
  }

  /** What is known about a tool call (for the permission request that names it). */
  toolCall(toolCallId: string): ToolCallState | undefined {
    return this.tools.get(toolCallId);
  }

  onUpdate(update: acp.SessionUpdate): void {
    // Without message ids, any other update ends the message being streamed (Copilot sends usage_update before
    // each model request, so two replies in one turn stay two entries).
    if (update.sessionUpdate !== 'agent_message_chunk' && update.sessionUpdate !== 'agent_thought_chunk') this.endMessage();
    switch (update.sessionUpdate) {
      case 'agent_message_chunk':
      case 'agent_thought_chunk':
        this.onChunk(update.sessionUpdate === 'agent_message_chunk' ? 'agent' : 'reasoning', update.content, update.messageId);
        return;
      case 'tool_call':
      case 'tool_call_update':
        this.onToolCall(update);
        return;
      case 'plan':
        this.output.append({
          id: `${this.runKey}:plan`,
          kind: 'status',
          text: `Plan:\n${update.entries.map((entry) => `${entry.status === 'completed' ? '[x]' : entry.status === 'in_progress' ? '[~]' : '[ ]'} ${entry.content}`).join('\n')}`,
        });
        return;
      case 'notice':
        this.output.append({ kind: update.severity === 'error' ? 'error' : 'status', text: update.description ? `${update.title}: ${update.description}` : update.title });
        return;
      case 'compaction_update':
        if (update.status === 'completed' || update.error) {
          this.output.append({ kind: update.error ? 'error' : 'status', text: update.error ? `Compaction failed: ${update.error}` : 'The agent compacted the conversation' });
        }
        return;
      case 'session_info_update':
        if (typeof update.title === 'string' && update.title.trim()) this.onTitle(update.title);
        return;
      case 'user_message_chunk':
      case 'available_commands_update':
      case 'current_mode_update':
      case 'config_option_update':
      case 'usage_update':
      case 'plan_update':
      case 'plan_removed':
      case 'compaction_summary_chunk':
      case 'subagent_update':
      case 'session_message':
      case 'session_message_chunk':
        return;
      default: {
        // A kind a newer agent sends (not in the pinned SDK): logged once per kind, otherwise ignored.
        const kind = String((update as { sessionUpdate?: unknown }).sessionUpdate);
        if (!unknownKindsLogged.has(kind)) {
          unknownKindsLogged.add(kind);
          this.log?.info(`[acp] ignored session updates of kind "${kind}" (not used by this client): ${JSON.stringify(update).slice(0, 1000)}`);
        }
      }
    }
  }

  /**
   * An update replayed by session/load: history, not this run, so nothing is written; tool calls are remembered so
   * that a later update of one (e.g. "interrupted") still shows what the call was, and the session's title is taken.
   */
  onReplayedUpdate(update: acp.SessionUpdate): void {
    if (update.sessionUpdate === 'session_info_update') this.onUpdate(update);
    else if (update.sessionUpdate === 'tool_call' || update.sessionUpdate === 'tool_call_update') {
      this.tools.set(update.toolCallId, mergeToolCall(this.tools.get(update.toolCallId), update));
    }
  }

  /** Closes the message being streamed (the next chunk starts a new entry). */
  endMessage(): void {
    this.message = undefined;
  }

  private onChunk(kind: 'agent' | 'reasoning', content: acp.ContentBlock, messageId: string | null | undefined): void {
    const piece = contentText(content);
    const current = this.message;
    if (!current || current.kind !== kind || (messageId && current.messageId && messageId !== current.messageId)) {
      this.message = { kind, id: `${this.runKey}:msg:${++this.messageCounter}`, text: piece, messageId };
    } else {
      current.text += piece;
    }
    const message = this.message!;
    if (kind === 'agent') this.lastAgentMessage = message.text;
    this.output.stream({ id: message.id, kind, text: message.text });
  }

  private onToolCall(update: ToolCallState): void {
    const call = mergeToolCall(this.tools.get(update.toolCallId), update);
    this.tools.set(call.toolCallId, call);
    this.output.append(this.toolEntry(call));
  }

  private toolEntry(call: ToolCallState): Omit<OutputEntry, 'at'> {
    const id = `${this.runKey}:tool:${call.toolCallId}`;
    const rawOutput = asRecord(call.rawOutput);
    const rejected = rawOutput?.code === 'rejected';
    const suffix = call.status === 'failed' ? (rejected ? ' (denied)' : ' (failed)') : '';
    const failure = call.status === 'failed' && typeof rawOutput?.message === 'string' ? rawOutput.message : undefined;
    const output = outputText(call);
    if (call.kind === 'execute') {
      const exitCode = call.status === 'completed' ? exitCodeOf(call, output) : call.status === 'failed' && !rejected ? exitCodeOf(call, output) : undefined;
      return { id, kind: 'command', text: `$ ${commandOf(call)}${suffix}`, detail: truncate(failure ?? output) || undefined, exitCode };
    }
    if (call.kind === 'edit' || call.kind === 'delete' || call.kind === 'move') {
      const files = (call.locations ?? []).map((location) => displayPath(location.path, this.cwd));
      const diffs = (call.content ?? []).filter((block): block is acp.Diff & { type: 'diff' } => block.type === 'diff');
      const patch = diffs.map((diff) => createUnifiedDiff(displayPath(diff.path, this.cwd), diff.oldText ? diff.oldText : undefined, diff.newText)).join('');
      const verb = call.kind === 'delete' ? 'Delete' : call.kind === 'move' ? 'Move' : diffs.length > 0 && diffs.every((diff) => !diff.oldText) ? 'Create' : 'Edit';
      const target = files[0] ?? (diffs[0] ? displayPath(diffs[0].path, this.cwd) : call.title ?? '');
      return { id, kind: 'file', text: `${verb} ${target}${suffix}`, detail: truncate(failure ?? patch) || undefined };
    }
    const input = call.rawInput === undefined ? '' : JSON.stringify(call.rawInput, null, 2);
    return { id, kind: 'tool', text: `${call.title ?? call.kind ?? 'Tool'}${suffix}`, detail: truncate(failure ?? (output || input)) || undefined };
  }
}

/** Text of a content block (non-text blocks as a short placeholder). */
export function contentText(content: acp.ContentBlock): string {
  switch (content.type) {
    case 'text':
      return content.text;
    case 'image':
      return '[image]';
    case 'audio':
      return '[audio]';
    case 'resource_link':
      return `[${content.name}](${content.uri})`;
    case 'resource':
      return 'text' in content.resource ? content.resource.text : `[resource ${content.resource.uri}]`;
    default:
      return '';
  }
}

/** A tool call's output: its content blocks' text, else rawOutput.content. */
function outputText(call: ToolCallState): string {
  const texts = (call.content ?? [])
    .map((block) => (block.type === 'content' ? contentText(block.content) : block.type === 'terminal' ? `[terminal ${block.terminalId}]` : ''))
    .filter(Boolean);
  if (texts.length > 0) return texts.join('\n');
  const rawOutput = asRecord(call.rawOutput);
  return typeof rawOutput?.content === 'string' ? rawOutput.content : '';
}

/** The exit code: a `shell_exit` in rawOutput (Copilot), or the "completed with exit code N" note in the output. */
function exitCodeOf(call: ToolCallState, output: string): number | undefined {
  const contents = asRecord(call.rawOutput)?.contents;
  if (Array.isArray(contents)) {
    const exit = contents.map(asRecord).find((item) => item?.type === 'shell_exit' && typeof item.exitCode === 'number');
    if (exit) return exit.exitCode as number;
  }
  const match = /exit code (-?\d+)/i.exec(output);
  return match ? Number(match[1]) : call.status === 'completed' ? 0 : undefined;
}

function truncate(text: string): string {
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}\n…[${text.length - MAX_DETAIL_CHARS} more characters]` : text;
}
