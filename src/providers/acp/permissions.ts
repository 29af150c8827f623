import * as path from 'node:path';
import type * as acp from '@agentclientprotocol/sdk/unstable';
import type { Answer, FileChange, PendingQuestion } from '../../core/task-state';
import type { DistributiveOmit } from '../../core/ports';
import { readForDiff, unreadNote } from '../agent-files';
import { createUnifiedDiff } from '../stdio/unified-diff';

/** The tool call a permission is about, merged from its `tool_call` / `tool_call_update` notifications. */
export type ToolCallState = acp.ToolCallUpdate;

export type { PermissionContext } from '../agent-files';
import type { PermissionContext } from '../agent-files';

const FILE_KINDS: ReadonlySet<string> = new Set(['edit', 'delete', 'move']);

/**
 * Maps `session/request_permission` to a question: `execute` → command approval, `edit` (and delete/move) → file
 * approval with the diff the agent sent (`rawInput.diff`, or its diff content blocks), anything else → a command
 * approval that shows the tool (PROTOCOLS.md §3).
 */
export async function permissionQuestion(
  requestId: string,
  request: acp.RequestPermissionRequest,
  known: ToolCallState | undefined,
  context: PermissionContext,
): Promise<DistributiveOmit<PendingQuestion, 'askedAt'>> {
  const call = mergeToolCall(known, request.toolCall);
  const canApproveForSession = request.options.some((option) => option.kind === 'allow_always');
  const kind = call.kind ?? 'other';
  const rawInput = asRecord(call.rawInput);
  if (kind === 'execute') {
    return { type: 'command_approval', requestId, command: commandOf(call), cwd: context.cwd, reason: reasonOf(call, commandOf(call)), canApproveForSession };
  }
  if (FILE_KINDS.has(kind)) {
    const notes: string[] = [];
    const fileChanges = await fileChangesOf(call, context, notes);
    const reason = [call.title, ...notes].filter(Boolean).join('\n') || undefined;
    if (fileChanges.length > 0) return { type: 'file_approval', requestId, fileChanges, reason, canApproveForSession };
  }
  const shown = rawInput ? `${call.title ?? 'Tool call'} ${JSON.stringify(rawInput)}` : (call.title ?? 'Tool call');
  return { type: 'command_approval', requestId, command: shown, cwd: context.cwd, reason: kind !== 'other' ? `Tool kind: ${kind}` : undefined, canApproveForSession };
}

/**
 * The option the user's answer selects, among those the agent offered: approve → allow_once, approve for the
 * session → allow_always, deny → reject_once (each falling back to its sibling). No answer, an answer of another
 * shape, or no fitting option → `cancelled`, which never allows anything.
 */
export function permissionOutcome(answer: Answer | undefined, options: readonly acp.PermissionOption[]): acp.RequestPermissionOutcome {
  const pick = (...kinds: acp.PermissionOptionKind[]): acp.RequestPermissionOutcome => {
    for (const kind of kinds) {
      const option = options.find((candidate) => candidate.kind === kind);
      if (option) return { outcome: 'selected', optionId: option.optionId };
    }
    return { outcome: 'cancelled' };
  };
  if (!answer || !('decision' in answer)) return { outcome: 'cancelled' };
  switch (answer.decision) {
    case 'approve':
      return pick('allow_once', 'allow_always');
    case 'approveForSession':
      return pick('allow_always', 'allow_once');
    case 'deny':
      return pick('reject_once', 'reject_always');
    default: {
      const never: never = answer.decision;
      return never;
    }
  }
}

/** Later fields win; absent and null fields keep what was known. */
export function mergeToolCall(known: ToolCallState | undefined, update: ToolCallState): ToolCallState {
  const merged: ToolCallState = { ...(known ?? { toolCallId: update.toolCallId }) };
  for (const [key, value] of Object.entries(update) as [keyof ToolCallState, unknown][]) {
    if (value !== undefined && value !== null) (merged as Record<string, unknown>)[key] = value;
  }
  return merged;
}

/** The shell command of an `execute` tool call: rawInput.command (or commands), else its title. */
export function commandOf(call: ToolCallState): string {
  const rawInput = asRecord(call.rawInput);
  if (typeof rawInput?.command === 'string') return rawInput.command;
  if (Array.isArray(rawInput?.commands)) return rawInput.commands.filter((c): c is string => typeof c === 'string').join('\n');
  return call.title ?? 'command';
}

function reasonOf(call: ToolCallState, command: string): string | undefined {
  const rawInput = asRecord(call.rawInput);
  const description = typeof rawInput?.description === 'string' ? rawInput.description : call.title;
  return description && description !== command ? description : undefined;
}

/**
 * The file changes of an edit: one per diff content block, or one from rawInput's git-style diff. A file that is not
 * read (outside, not a regular file, too large) adds a sentence to `notes`, and its change shows what the agent sent.
 */
export async function fileChangesOf(call: ToolCallState, context: PermissionContext, notes: string[] = []): Promise<FileChange[]> {
  const rawInput = asRecord(call.rawInput);
  const diffs = (call.content ?? []).filter((block): block is acp.Diff & { type: 'diff' } => block.type === 'diff');
  const rawDiff = typeof rawInput?.diff === 'string' ? rawInput.diff : undefined;
  const rawPath = firstString(rawInput?.fileName, rawInput?.path, rawInput?.file_path, call.locations?.[0]?.path);
  if (diffs.length === 0 && rawDiff && rawPath) {
    const creates = /^--- (a\/)?\/?dev\/null$/m.test(rawDiff) || /^new file mode|^create file mode/m.test(rawDiff);
    return [{ path: displayPath(rawPath, context.cwd), kind: call.kind === 'delete' ? 'delete' : creates ? 'add' : 'update', patch: rawDiff.replace(/^\n+/, '') }];
  }
  const reads = await Promise.all(diffs.map((diff) => readForDiff(path.resolve(context.cwd, diff.path), context)));
  return diffs.map((diff, index) => {
    const absolute = path.resolve(context.cwd, diff.path);
    const shown = displayPath(absolute, context.cwd);
    const read = reads[index];
    const note = unreadNote(shown, read);
    if (note) notes.push(note);
    const onDisk = read.status === 'text' ? read.text : undefined;
    const oldText = diff.oldText ?? undefined;
    const creates = read.status === 'missing' && !oldText;
    const newContent = call.kind === 'delete' ? undefined : fullNewContent(onDisk, oldText, diff.newText);
    // A single edit as the agent sent it (Copilot sends the replaced fragment, not the whole file).
    const patch =
      rawDiff && diffs.length === 1
        ? rawDiff.replace(/^\n+/, '')
        : newContent !== undefined && onDisk !== undefined
          ? createUnifiedDiff(shown, onDisk, newContent)
          : createUnifiedDiff(shown, creates ? undefined : (oldText ?? ''), call.kind === 'delete' ? undefined : diff.newText);
    return { path: shown, kind: call.kind === 'delete' ? 'delete' : creates ? 'add' : 'update', patch, ...(newContent !== undefined ? { newContent } : {}) };
  });
}

/** The whole file after the change, when it can be known: the file on disk with the fragment replaced once. */
function fullNewContent(onDisk: string | undefined, oldText: string | undefined, newText: string): string | undefined {
  if (!oldText) return onDisk === undefined || onDisk === '' ? newText : undefined;
  if (onDisk === undefined) return undefined;
  if (onDisk === oldText) return newText;
  const at = onDisk.indexOf(oldText);
  if (at < 0 || onDisk.indexOf(oldText, at + 1) >= 0) return undefined;
  return onDisk.slice(0, at) + newText + onDisk.slice(at + oldText.length);
}

export function displayPath(file: string, cwd: string): string {
  const absolute = path.resolve(cwd, file);
  const relative = path.relative(cwd, absolute);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : absolute;
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === 'string' && value.length > 0);
}
