import type { Answer, PendingQuestion } from './task-state';

/** Checks that an answer fits the question it answers; returns the problem or undefined. */
export function answerProblem(question: PendingQuestion, answer: unknown): string | undefined {
  if (typeof answer !== 'object' || answer === null) return 'The answer must be an object';
  const a = answer as Record<string, unknown>;
  switch (question.type) {
    case 'command_approval':
    case 'file_approval':
      if (a.decision !== 'approve' && a.decision !== 'approveForSession' && a.decision !== 'deny') {
        return 'An approval is answered with decision "approve", "approveForSession" or "deny"';
      }
      if (a.decision === 'approveForSession' && question.canApproveForSession === false) {
        return 'This request cannot be approved for the whole session';
      }
      if (a.message !== undefined && typeof a.message !== 'string') return 'message must be a string';
      return undefined;
    case 'user_input': {
      if (typeof a.answers !== 'object' || a.answers === null || Array.isArray(a.answers)) return 'A question is answered with {answers: {questionId: [text]}}';
      const answers = a.answers as Record<string, unknown>;
      for (const [id, value] of Object.entries(answers)) {
        if (!question.questions.some((q) => q.id === id)) return `There is no question "${id}"`;
        if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) return `The answer to "${id}" must be a list of strings`;
      }
      return undefined;
    }
    case 'elicitation':
      if (a.action !== 'accept' && a.action !== 'decline' && a.action !== 'cancel') return 'An elicitation is answered with action "accept", "decline" or "cancel"';
      if (a.content !== undefined && (typeof a.content !== 'object' || a.content === null || Array.isArray(a.content))) return 'content must be an object';
      if (a.action === 'accept') return schemaProblem(question.schema, (a.content ?? {}) as Record<string, unknown>);
      return undefined;
    case 'dynamic_tool':
      if (typeof a.text !== 'string' || typeof a.success !== 'boolean') return 'A tool call is answered with {text, success}';
      return undefined;
    default: {
      const never: never = question;
      return `Unknown question type ${String((never as PendingQuestion).type)}`;
    }
  }
}

/** Checks required fields and primitive types of an elicitation's flat object schema. */
export function schemaProblem(schema: Record<string, unknown> | undefined, content: Record<string, unknown>): string | undefined {
  if (!schema) return undefined;
  const properties = (schema.properties ?? {}) as Record<string, { type?: string; enum?: unknown[] }>;
  for (const name of (schema.required as string[] | undefined) ?? []) {
    if (content[name] === undefined || content[name] === '') return `"${name}" is required`;
  }
  for (const [name, value] of Object.entries(content)) {
    const property = properties[name];
    if (!property) continue;
    if (property.enum && !property.enum.includes(value)) return `"${name}" must be one of ${property.enum.join(', ')}`;
    switch (property.type) {
      case 'string':
        if (typeof value !== 'string') return `"${name}" must be text`;
        break;
      case 'number':
        if (typeof value !== 'number' || !Number.isFinite(value)) return `"${name}" must be a number`;
        break;
      case 'integer':
        if (typeof value !== 'number' || !Number.isInteger(value)) return `"${name}" must be a whole number`;
        break;
      case 'boolean':
        if (typeof value !== 'boolean') return `"${name}" must be true or false`;
        break;
    }
  }
  return undefined;
}

/** The answer sent when nobody answered in time: always a refusal, never an approval (DESIGN §6). */
export function declineAnswer(question: PendingQuestion): Answer {
  switch (question.type) {
    case 'command_approval':
    case 'file_approval':
      return { decision: 'deny', message: 'No answer in time; declined automatically.' };
    case 'user_input':
      return { answers: {} };
    case 'elicitation':
      return { action: 'decline' };
    case 'dynamic_tool':
      return { text: 'The user did not answer in time.', success: false };
    default: {
      const never: never = question;
      throw new Error(`Unknown question ${String(never)}`);
    }
  }
}

/** Where a task's questions name files from: its worktree, else its folder. */
export function questionRoot(task: { cwd: string; worktree?: { path: string } }): string {
  return task.worktree?.path ?? task.cwd;
}

/**
 * `file` relative to `root` when it lies inside it: agents name files by absolute path, and in a one-line surface the
 * worktree's path (`…/repo.worktrees/<task id>/`) left no room for the file's own name.
 */
export function relativeToRoot(file: string, root: string | undefined): string {
  const base = root?.replace(/[\\/]+$/, '');
  if (!base || file.length <= base.length + 1 || !file.startsWith(base)) return file;
  return file[base.length] === '/' || file[base.length] === '\\' ? file.slice(base.length + 1) : file;
}

/**
 * One line describing a question, for notifications, the tree and the transcript; files relative to `root`. Plain text:
 * toasts and tree rows show no markdown, so a command is not wrapped in backticks.
 */
export function summarizeQuestion(question: PendingQuestion, root?: string): string {
  switch (question.type) {
    case 'command_approval':
      return `run ${question.command}`;
    case 'file_approval': {
      const files = question.fileChanges.map((change) => relativeToRoot(change.path, root));
      return files.length === 1 ? `change ${files[0]}` : `change ${files.length} files`;
    }
    case 'user_input':
      return question.questions.map((q) => q.text).join(' / ') || 'a question';
    case 'elicitation':
      return question.message;
    case 'dynamic_tool':
      return `tool ${question.toolName}`;
    default: {
      const never: never = question;
      return String(never);
    }
  }
}

/** How an answer reads in the transcript (files relative to `root`). */
export function describeAnswer(question: PendingQuestion, answer: Answer, root?: string): string {
  if ('decision' in answer) {
    const verb = answer.decision === 'approve' ? 'Approved' : answer.decision === 'approveForSession' ? 'Approved for this session' : 'Denied';
    return `${verb}: ${summarizeQuestion(question, root)}${answer.message ? ` — ${answer.message}` : ''}`;
  }
  if ('answers' in answer) {
    const parts = Object.entries(answer.answers).map(([id, values]) => `${id}: ${values.join(', ')}`);
    return parts.length ? `Answered ${parts.join('; ')}` : 'Answered nothing';
  }
  if ('action' in answer) return `${answer.action === 'accept' ? 'Accepted' : answer.action === 'decline' ? 'Declined' : 'Cancelled'}: ${summarizeQuestion(question)}`;
  return `Tool ${answer.success ? 'result' : 'failure'} sent: ${answer.text.slice(0, 200)}`;
}
