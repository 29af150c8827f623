import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as acp from '@agentclientprotocol/sdk/unstable';
import type { Answer, FileChange, PendingQuestion } from '../../core/task-state';
import type { DistributiveOmit } from '../../core/ports';
import { createUnifiedDiff } from '../stdio/unified-diff';

/** The tool call a permission is about, merged from its `tool_call` / `tool_call_update` notifications. */
export type ToolCallState = acp.ToolCallUpdate;

export interface PermissionContext {
  cwd: string;
  /** Reads a file as UTF-8, or undefined when it does not exist (injectable for replay tests). */
  readFile?: (file: string) => string | undefined;
}

const FILE_KINDS: ReadonlySet<string> = new Set(['edit', 'delete', 'move']);

/**
 * Maps `session/request_permission` to a question: `execute` → command approval, `edit` (and delete/move) → file
 * approval with the diff the agent sent (`rawInput.diff`, or its diff content blocks), anything else → a command
 * approval that shows the tool (PROTOCOLS.md §3).
 */
export function permissionQuestion(
  requestId: string,
  request: acp.RequestPermissionRequest,
  known: ToolCallState | undefined,
  context: PermissionContext,
): DistributiveOmit<PendingQuestion, 'askedAt'> {
  const call = mergeToolCall(known, request.toolCall);
  const canApproveForSession = request.options.some((option) => option.kind === 'allow_always');
  const kind = call.kind ?? 'other';
  const rawInput = asRecord(call.rawInput);
  if (kind === 'execute') {
    return { type: 'command_approval', requestId, command: commandOf(call), cwd: context.cwd, reason: reasonOf(call, commandOf(call)), canApproveForSession };
  }
  if (FILE_KINDS.has(kind)) {
    const fileChanges = fileChangesOf(call, context);
    if (fileChanges.length > 0) return { type: 'file_approval', requestId, fileChanges, reason: call.title ?? undefined, canApproveForSession };
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

/** The file changes of an edit: one per diff content block, or one from rawInput's git-style diff. */
export function fileChangesOf(call: ToolCallState, context: PermissionContext): FileChange[] {
  const readFile = context.readFile ?? readFileIfExists;
  const rawInput = asRecord(call.rawInput);
  const diffs = (call.content ?? []).filter((block): block is acp.Diff & { type: 'diff' } => block.type === 'diff');
  const rawDiff = typeof rawInput?.diff === 'string' ? rawInput.diff : undefined;
  const rawPath = firstString(rawInput?.fileName, rawInput?.path, rawInput?.file_path, call.locations?.[0]?.path);
  if (diffs.length === 0 && rawDiff && rawPath) {
    const creates = /^--- (a\/)?\/?dev\/null$/m.test(rawDiff) || /^new file mode|^create file mode/m.test(rawDiff);
    return [{ path: displayPath(rawPath, context.cwd), kind: call.kind === 'delete' ? 'delete' : creates ? 'add' : 'update', patch: rawDiff.replace(/^\n+/, '') }];
  }
  return diffs.map((diff) => {
    const absolute = path.resolve(context.cwd, diff.path);
    const shown = displayPath(absolute, context.cwd);
    const onDisk = readFile(absolute);
    const oldText = diff.oldText ?? undefined;
    const creates = onDisk === undefined && !oldText;
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

function readFileIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
