import * as path from 'node:path';
import type { OutputEntry } from '../../core/task-state';
import type { StreamingOutput } from '../stdio/streaming-output';
import { commandText, FILE_TOOLS, fileToolTarget, proposedFileChange, type PermissionContext, type ProposedChange } from './permissions';
import type {
  ClaudeAssistantMessage,
  ClaudeContentBlock,
  ClaudeStreamEventMessage,
  ClaudeSystemMessage,
  ClaudeUserMessage,
} from './protocol';

const MAX_DETAIL_CHARS = 8000;

interface ToolEntry {
  entryId: string;
  name: string;
  kind: OutputEntry['kind'];
  text: string;
  detail?: string;
  /** A file tool's change, read (asynchronously) when the call arrived. */
  fileChange?: Promise<ProposedChange>;
  /** The entry's text and detail once the tool result arrived (a file entry may get its diff after that). */
  finished?: { text: string; detail?: string };
}

/**
 * Turns Claude Code's stream-json messages into transcript entries: assistant text (streamed deltas coalesced into
 * one entry per text block), thinking, tool calls as command / file / tool entries that their results complete,
 * and API retries as status lines. It keeps no process state, so recorded transcripts replay through it.
 */
export class ClaudeTranscript {
  private readonly tools = new Map<string, ToolEntry>();
  private readonly denied = new Set<string>();
  /** Per message id: how many text / thinking blocks were seen, in stream events and in assistant messages. */
  private readonly streamOrdinals = new Map<string, Map<number, { kind: 'agent' | 'reasoning'; ordinal: number }>>();
  private readonly streamCounts = new Map<string, { agent: number; reasoning: number }>();
  private readonly messageCounts = new Map<string, { agent: number; reasoning: number }>();
  private readonly streamedText = new Map<string, string>();
  private currentStreamMessage: string | undefined;
  private lastAgentText = '';

  constructor(
    private readonly output: StreamingOutput,
    /** Prefixes entry ids so that ids stay unique when a task runs more than once (retry, resume). */
    private readonly runKey: string,
    private readonly files: PermissionContext,
  ) {}

  /** The text of the newest assistant text block (the turn's answer when the result carries none). */
  get lastText(): string {
    return this.lastAgentText;
  }

  /** The file change computed when the tool call arrived (before it ran), for the approval of that call. */
  fileChangeFor(toolUseId: string | undefined): Promise<ProposedChange> | undefined {
    return toolUseId ? this.tools.get(toolUseId)?.fileChange : undefined;
  }

  /** Marks a tool call the user denied, so its entry says so. */
  markDenied(toolUseId: string | undefined): void {
    if (toolUseId) this.denied.add(toolUseId);
  }

  onStreamEvent(message: ClaudeStreamEventMessage): void {
    const event = message.event;
    if (event.type === 'message_start') {
      this.currentStreamMessage = event.message?.id;
      return;
    }
    const messageId = this.currentStreamMessage;
    if (!messageId || event.index === undefined) return;
    const kindForSubagent = message.parent_tool_use_id ? 'reasoning' : undefined;
    if (event.type === 'content_block_start') {
      const blockType = event.content_block?.type;
      if (blockType !== 'text' && blockType !== 'thinking') return;
      const kind = blockType === 'text' ? 'agent' : 'reasoning';
      const counts = counter(this.streamCounts, messageId);
      const ordinals = this.streamOrdinals.get(messageId) ?? new Map();
      this.streamOrdinals.set(messageId, ordinals);
      ordinals.set(event.index, { kind, ordinal: counts[kind]++ });
      return;
    }
    if (event.type !== 'content_block_delta') return;
    const block = this.streamOrdinals.get(messageId)?.get(event.index);
    const piece = event.delta?.type === 'text_delta' ? event.delta.text : event.delta?.type === 'thinking_delta' ? event.delta.thinking : undefined;
    if (!block || typeof piece !== 'string') return;
    const id = this.blockId(messageId, block.kind, block.ordinal);
    const text = (this.streamedText.get(id) ?? '') + piece;
    this.streamedText.set(id, text);
    this.output.stream({ id, kind: kindForSubagent ?? block.kind, text });
  }

  onAssistant(message: ClaudeAssistantMessage): void {
    const messageId = message.message?.id ?? `anon-${this.tools.size}`;
    const subagent = Boolean(message.parent_tool_use_id);
    for (const block of message.message?.content ?? []) {
      if (isBlock(block, 'text') || isBlock(block, 'thinking')) {
        const kind = block.type === 'text' ? 'agent' : 'reasoning';
        const text = block.type === 'text' ? block.text : block.thinking;
        if (typeof text !== 'string') continue;
        const id = this.blockId(messageId, kind, counter(this.messageCounts, messageId)[kind]++);
        this.streamedText.delete(id);
        if (!text.trim()) continue;
        if (message.error) {
          // Synthetic messages carry API errors ("API Error: Request rejected (429) …").
          this.output.append({ id, kind: 'error', text });
          continue;
        }
        this.output.append({ id, kind: subagent ? 'reasoning' : kind, text });
        if (kind === 'agent' && !subagent) this.lastAgentText = text;
      } else if (isBlock(block, 'tool_use')) {
        this.onToolUse(block.id, block.name, block.input ?? {});
      }
    }
  }

  onUser(message: ClaudeUserMessage): void {
    const content = message.message?.content;
    if (!Array.isArray(content)) return;
    for (const block of content) {
      if (isBlock(block, 'tool_result')) this.onToolResult(block.tool_use_id, resultText(block.content), block.is_error === true);
    }
  }

  onSystem(message: ClaudeSystemMessage): void {
    if (message.subtype === 'api_retry') {
      const status = message.error_status ? `HTTP ${message.error_status}${message.error ? ` (${message.error})` : ''}` : message.error ?? 'an error';
      const wait = typeof message.retry_delay_ms === 'number' ? ` in ${(message.retry_delay_ms / 1000).toFixed(1)} s` : '';
      const attempt = message.attempt && message.max_retries ? ` (attempt ${message.attempt} of ${message.max_retries})` : '';
      this.output.append({ id: `${this.runKey}:api-retry`, kind: 'status', text: `Claude API returned ${status}; retrying${wait}${attempt}` });
    } else if (message.subtype === 'compact_boundary') {
      this.output.append({ kind: 'status', text: 'Claude Code compacted the conversation' });
    }
  }

  private onToolUse(toolUseId: string, name: string, input: Record<string, unknown>): void {
    const entryId = `${this.runKey}:tool:${toolUseId}`;
    let tool: ToolEntry;
    if (name === 'Bash') {
      tool = { entryId, name, kind: 'command', text: `$ ${commandText(name, input)}` };
    } else if (FILE_TOOLS.has(name)) {
      const { shown: shownPath } = fileToolTarget(input, this.files.cwd);
      const file: ToolEntry = { entryId, name, kind: 'file', text: `${name} ${shownPath}` };
      // The file is read asynchronously: the entry gets its diff when the read is done.
      const proposal = proposedFileChange(name, input, this.files).catch(
        (error: unknown): ProposedChange => ({ change: { path: shownPath, kind: 'update', patch: '' }, note: `${shownPath}: the change could not be shown (${String(error)})` }),
      );
      file.fileChange = proposal.then((proposed) => {
        file.detail = proposed.change.patch || undefined;
        const shown = file.finished ?? { text: file.text, detail: file.detail };
        this.output.append({ id: entryId, kind: 'file', text: shown.text, detail: shown.detail ?? file.detail });
        return proposed;
      });
      tool = file;
    } else if (name === 'AskUserQuestion') {
      const questions = Array.isArray(input.questions) ? (input.questions as { question?: unknown }[]) : [];
      tool = { entryId, name, kind: 'tool', text: `Question: ${questions.map((q) => String(q.question ?? '')).join(' / ')}` };
    } else {
      tool = { entryId, name, kind: 'tool', text: toolSummary(name, input, this.files.cwd), detail: truncate(JSON.stringify(input, null, 2)) };
    }
    this.tools.set(toolUseId, tool);
    this.output.append({ id: entryId, kind: tool.kind, text: tool.text, detail: tool.detail });
  }

  private onToolResult(toolUseId: string, text: string, isError: boolean): void {
    const tool = this.tools.get(toolUseId);
    if (!tool) return;
    const denied = this.denied.has(toolUseId);
    const label = denied ? `${tool.text} (denied)` : isError ? `${tool.text} (failed)` : tool.text;
    if (tool.kind === 'command') {
      const exitCode = denied ? undefined : isError ? (Number(/^Exit code (\d+)/.exec(text)?.[1]) || 1) : 0;
      this.output.append({ id: tool.entryId, kind: 'command', text: label, detail: truncate(text) || undefined, exitCode });
    } else if (tool.kind === 'file') {
      tool.finished = { text: label, detail: isError ? truncate(text) : undefined };
      this.output.append({ id: tool.entryId, kind: 'file', text: label, detail: tool.finished.detail ?? tool.detail });
    } else {
      this.output.append({ id: tool.entryId, kind: tool.kind, text: label, detail: truncate(text) || tool.detail });
    }
  }

  private blockId(messageId: string, kind: 'agent' | 'reasoning', ordinal: number): string {
    return `${this.runKey}:${kind === 'agent' ? 'text' : 'thinking'}:${messageId}:${ordinal}`;
  }
}

function counter(map: Map<string, { agent: number; reasoning: number }>, key: string): { agent: number; reasoning: number } {
  let value = map.get(key);
  if (!value) map.set(key, (value = { agent: 0, reasoning: 0 }));
  return value;
}

function isBlock<T extends string>(block: ClaudeContentBlock, type: T): block is Extract<ClaudeContentBlock, { type: T }> {
  return typeof block === 'object' && block !== null && block.type === type;
}

/** Text of a tool_result's content (a string or text blocks). */
export function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: { type?: unknown; text?: unknown }) => (typeof part?.text === 'string' ? part.text : part?.type === 'image' ? '[image]' : ''))
      .filter(Boolean)
      .join('\n');
  }
  return '';
}

/** One line naming a tool call: the tool and its most telling argument. */
function toolSummary(name: string, input: Record<string, unknown>, cwd: string): string {
  const pick = (key: string): string | undefined => (typeof input[key] === 'string' ? (input[key] as string) : undefined);
  const file = pick('file_path') ?? pick('notebook_path') ?? pick('path');
  const argument = file
    ? path.isAbsolute(file) && !path.relative(cwd, file).startsWith('..')
      ? path.relative(cwd, file) || file
      : file
    : pick('pattern') ?? pick('url') ?? pick('query') ?? pick('description') ?? pick('prompt');
  if (argument !== undefined) return `${name} ${oneLine(argument)}`;
  const json = JSON.stringify(input);
  return json === '{}' ? name : `${name} ${oneLine(json)}`;
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}

function truncate(text: string): string {
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}\n…[${text.length - MAX_DETAIL_CHARS} more characters]` : text;
}
