import * as path from 'node:path';
import type {
  AskUserQuestionInput,
  BashInput,
  ExitPlanModeInput,
  FileEditInput,
  FileWriteInput,
  NotebookEditInput,
} from '@anthropic-ai/claude-code/sdk-tools';
import type { Answer, FileChange, PendingQuestion, UserInputQuestion } from '../../core/task-state';
import type { DistributiveOmit } from '../../core/ports';
import { createUnifiedDiff } from '../stdio/unified-diff';
import { readForDiff, unreadNote } from '../agent-files';
import type { ClaudeCanUseToolRequest, ClaudePermissionResult, ClaudePermissionUpdate } from './protocol';

/** Tools whose approval is a file change (PROTOCOLS.md: "Pause kinds mapped to internal kinds"). */
export const FILE_TOOLS: ReadonlySet<string> = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit']);

const DEFAULT_DENY_MESSAGE = 'The user denied this tool call.';

/** A `can_use_tool` request turned into a question, and the way back from the user's answer. */
export interface ToolPermissionPrompt {
  question: DistributiveOmit<PendingQuestion, 'askedAt'>;
  /** Claude Code's permission result for the user's answer. Answers of the wrong shape deny (never approve). */
  resultFor(answer: Answer): ClaudePermissionResult;
}

export type { PermissionContext } from '../agent-files';
import type { PermissionContext } from '../agent-files';

/** A proposed file change and, when the file on disk was not read, the sentence that says why. */
export interface ProposedChange {
  change: FileChange;
  note?: string;
}

/** Maps a `can_use_tool` request to a PendingQuestion (Bash → command, file tools → file, AskUserQuestion → input). */
export async function toolPermissionPrompt(
  requestId: string,
  request: ClaudeCanUseToolRequest,
  context: PermissionContext,
  /** The change computed when the tool call arrived (the transcript's), read before the tool ran. */
  known?: Promise<ProposedChange>,
): Promise<ToolPermissionPrompt> {
  const input = request.input ?? {};
  const suggestions = request.permission_suggestions ?? [];
  if (request.tool_name === 'AskUserQuestion') return askUserPrompt(requestId, input as unknown as AskUserQuestionInput);
  if (FILE_TOOLS.has(request.tool_name)) {
    const { change, note } = await (known ?? proposedFileChange(request.tool_name, input, context));
    const description = request.description && request.description !== basenameOf(input) ? request.description : undefined;
    return {
      question: {
        type: 'file_approval',
        requestId,
        fileChanges: [change],
        reason: [description, note].filter(Boolean).join('\n') || undefined,
        canApproveForSession: true,
      },
      resultFor: (answer) => approvalResult(answer, input, sessionRules(request, suggestions)),
    };
  }
  return {
    question: {
      type: 'command_approval',
      requestId,
      command: commandText(request.tool_name, input),
      cwd: context.cwd,
      reason: reasonText(request, input),
      canApproveForSession: sessionRules(request, suggestions).length > 0,
    },
    resultFor: (answer) => approvalResult(answer, input, sessionRules(request, suggestions)),
  };
}

/** What a command approval shows: the shell command for Bash, the plan for ExitPlanMode, else the tool and its input. */
export function commandText(toolName: string, input: Record<string, unknown>): string {
  const bash = input as Partial<BashInput>;
  if (toolName === 'Bash' && typeof bash.command === 'string') return bash.command;
  if (toolName === 'ExitPlanMode') {
    const plan = (input as ExitPlanModeInput).plan;
    if (typeof plan === 'string') return `Leave plan mode and carry out this plan:\n${plan}`;
  }
  return `${toolName} ${JSON.stringify(input)}`;
}

function reasonText(request: ClaudeCanUseToolRequest, input: Record<string, unknown>): string | undefined {
  const description = typeof input.description === 'string' ? input.description : request.description;
  if (!description || description === commandText(request.tool_name, input)) return undefined;
  return description;
}

/** The permission rules an "approve for this session" adds: Claude's own suggestions, kept to this session. */
function sessionRules(request: ClaudeCanUseToolRequest, suggestions: ClaudePermissionUpdate[]): ClaudePermissionUpdate[] {
  const rules = suggestions
    .filter((suggestion) => suggestion.type === 'addRules' || (suggestion.type === 'setMode' && FILE_TOOLS.has(request.tool_name)))
    .map((suggestion) => ({ ...suggestion, destination: 'session' }));
  return rules;
}

function approvalResult(answer: Answer, input: Record<string, unknown>, rules: ClaudePermissionUpdate[]): ClaudePermissionResult {
  if (!('decision' in answer) || answer.decision === 'deny') {
    const message = 'decision' in answer ? answer.message?.trim() : undefined;
    return { behavior: 'deny', message: message || DEFAULT_DENY_MESSAGE };
  }
  if (answer.decision === 'approveForSession' && rules.length > 0) return { behavior: 'allow', updatedInput: input, updatedPermissions: rules };
  return { behavior: 'allow', updatedInput: input };
}

function askUserPrompt(requestId: string, input: AskUserQuestionInput): ToolPermissionPrompt {
  const asked = Array.isArray(input.questions) ? input.questions : [];
  const questions: UserInputQuestion[] = asked.map((q, index) => ({
    id: `q${index + 1}`,
    text: q.question,
    header: q.header,
    options: Array.isArray(q.options) ? q.options.map((option) => ({ label: option.label, description: option.description })) : undefined,
    multiSelect: q.multiSelect === true,
    // Claude Code offers "Other" itself, so free text is always allowed.
    allowFreeform: true,
  }));
  return {
    question: { type: 'user_input', requestId, questions },
    resultFor: (answer) => {
      const given = 'answers' in answer ? answer.answers : {};
      const answers: Record<string, string> = {};
      for (const question of questions) {
        const values = (given[question.id] ?? []).map((value) => value.trim()).filter(Boolean);
        if (values.length > 0) answers[question.text] = values.join(', ');
      }
      if (Object.keys(answers).length === 0) {
        const message = 'decision' in answer ? answer.message?.trim() : undefined;
        return { behavior: 'deny', message: message || 'The user did not answer the question.' };
      }
      // Claude Code reads the answers from the tool input, keyed by question text (PROTOCOLS.md §2).
      return { behavior: 'allow', updatedInput: { ...input, answers } };
    },
  };
}

/** The file a file tool names, as shown (relative inside cwd) and absolute. */
export function fileToolTarget(input: Record<string, unknown>, cwd: string): { absolute: string; shown: string } {
  const target = typeof input.file_path === 'string' ? input.file_path : typeof input.notebook_path === 'string' ? input.notebook_path : '';
  const absolute = path.resolve(cwd, target);
  return { absolute, shown: displayPath(absolute, cwd) };
}

/**
 * The change a file tool proposes, with a unified diff against the file on disk. The file is read only when it is a
 * regular file of at most MAX_AGENT_FILE_BYTES inside the task's folder; otherwise the note says why, and the diff shows
 * what the agent sent.
 */
export async function proposedFileChange(toolName: string, input: Record<string, unknown>, context: PermissionContext): Promise<ProposedChange> {
  const { absolute, shown } = fileToolTarget(input, context.cwd);
  const read = await readForDiff(absolute, context);
  const note = unreadNote(shown, read);
  if (read.status === 'refused') return { change: unreadFileChange(toolName, input, shown), note };
  const before = read.status === 'text' ? read.text : undefined;
  return { change: fileChangeAgainst(toolName, input, shown, before) };
}

/** The change of a file whose content is unknown: only what the agent sent, and no full new content. */
function unreadFileChange(toolName: string, input: Record<string, unknown>, shown: string): FileChange {
  switch (toolName) {
    case 'Write': {
      const { content } = input as unknown as FileWriteInput;
      return { path: shown, kind: 'update', patch: createUnifiedDiff(shown, '', typeof content === 'string' ? content : '') };
    }
    case 'Edit':
    case 'MultiEdit': {
      const edits: FileEditInput[] = toolName === 'Edit' ? [input as unknown as FileEditInput] : multiEdits(input);
      return { path: shown, kind: 'update', patch: edits.map((edit) => createUnifiedDiff(shown, String(edit?.old_string ?? ''), String(edit?.new_string ?? ''))).join('') };
    }
    case 'NotebookEdit':
      return { ...notebookChange(shown, undefined, input as unknown as NotebookEditInput), kind: 'update' };
    default:
      return { path: shown, kind: 'update', patch: '' };
  }
}

function fileChangeAgainst(toolName: string, input: Record<string, unknown>, shown: string, before: string | undefined): FileChange {
  switch (toolName) {
    case 'Write': {
      const { content } = input as unknown as FileWriteInput;
      const after = typeof content === 'string' ? content : '';
      return { path: shown, kind: before === undefined ? 'add' : 'update', patch: createUnifiedDiff(shown, before, after), newContent: after };
    }
    case 'Edit':
    case 'MultiEdit': {
      const edits: FileEditInput[] = toolName === 'Edit' ? [input as unknown as FileEditInput] : multiEdits(input);
      const after = applyEdits(before ?? '', edits);
      if (after === undefined) {
        // The text to replace is not in the file on disk (Claude will fail the edit too): show what it wants to change.
        const fragment = edits.map((edit) => createUnifiedDiff(shown, edit.old_string, edit.new_string)).join('');
        return { path: shown, kind: 'update', patch: fragment };
      }
      return { path: shown, kind: before === undefined ? 'add' : 'update', patch: createUnifiedDiff(shown, before, after), newContent: after };
    }
    case 'NotebookEdit':
      return notebookChange(shown, before, input as unknown as NotebookEditInput);
    default:
      return { path: shown, kind: 'update', patch: '' };
  }
}

function multiEdits(input: Record<string, unknown>): FileEditInput[] {
  const edits = (input as { edits?: unknown }).edits;
  return Array.isArray(edits) ? (edits as FileEditInput[]) : [];
}

/** Applies Edit semantics (first occurrence, or all with replace_all); undefined when an old_string is missing. */
export function applyEdits(text: string, edits: readonly FileEditInput[]): string | undefined {
  let result = text;
  for (const edit of edits) {
    if (typeof edit?.old_string !== 'string' || typeof edit.new_string !== 'string') return undefined;
    if (edit.old_string === '') {
      if (result !== '') return undefined;
      result = edit.new_string;
      continue;
    }
    const at = result.indexOf(edit.old_string);
    if (at < 0) return undefined;
    result = edit.replace_all
      ? result.split(edit.old_string).join(edit.new_string)
      : result.slice(0, at) + edit.new_string + result.slice(at + edit.old_string.length);
  }
  return result;
}

/** A notebook edit shown as a diff of the one cell's source (the .ipynb JSON itself is not readable as a diff). */
function notebookChange(shown: string, notebook: string | undefined, input: NotebookEditInput): FileChange {
  const cellLabel = `${shown}${input.cell_id ? `#${input.cell_id}` : ''}`;
  let oldSource: string | undefined;
  if (notebook !== undefined && input.cell_id && input.edit_mode !== 'insert') {
    try {
      const parsed = JSON.parse(notebook) as { cells?: { id?: string; source?: string | string[] }[] };
      const cell = parsed.cells?.find((candidate) => candidate.id === input.cell_id);
      if (cell) oldSource = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
    } catch {
      // Not JSON: show the new source only.
    }
  }
  const newSource = input.edit_mode === 'delete' ? undefined : ensureNewline(input.new_source ?? '');
  return {
    path: shown,
    kind: notebook === undefined ? 'add' : 'update',
    patch: createUnifiedDiff(cellLabel, oldSource === undefined ? (input.edit_mode === 'delete' ? '' : undefined) : ensureNewline(oldSource), newSource),
  };
}

function ensureNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

function displayPath(absolute: string, cwd: string): string {
  const relative = path.relative(cwd, absolute);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : absolute;
}

function basenameOf(input: Record<string, unknown>): string | undefined {
  const file = typeof input.file_path === 'string' ? input.file_path : undefined;
  return file ? path.basename(file) : undefined;
}
