/**
 * Messages between the task panel (extension host) and its webview. Imported by both sides; nothing here may
 * import vscode. Every message from the webview is untrusted and goes through parseWebviewMessage.
 */
import type { Answer, Finding, OutputEntry, PendingQuestion, TaskCheck, TaskStatus, WorktreeFileChange, WorktreeState } from '../../core/task-state';

/** What the webview needs to draw a task. */
export interface TaskView {
  id: string;
  /** What the task is called: the agent's title, else the prompt's first line (plain text). */
  title: string;
  status: TaskStatus;
  statusLabel: string;
  provider: string;
  providerName: string;
  profile?: string;
  taskType: string;
  prompt: string;
  model?: string;
  startedAt?: number;
  /** Set when the task has finished: elapsed time stops here. */
  endedAt?: number;
  usage?: string;
  error?: string;
  result?: string;
  terminal: boolean;
  canFollowUp: boolean;
  canCancel: boolean;
  recovered?: boolean;
  dependsOn: string[];
  questions: QuestionView[];
  /** DESIGN §8: the task's worktree and what it changed, when it runs isolated. */
  worktree?: WorktreeView;
  /** DESIGN §9: the last check in its worktree, with a one-line verdict. */
  check?: TaskCheck & { line: string };
  /** DESIGN §9: on a review task, what it reviews and (once it answered) its findings. */
  review?: { of: string; ofTitle: string; findings?: Finding[]; summary?: string };
  /** DESIGN §9: on an attempt, how many attempts its prompt has. */
  attempts?: number;
  /** The second-opinion actions the task's state allows (each maps to a command of DESIGN §9). */
  opinions: OpinionAction[];
}

/** What the panel may do for a second opinion: Run Check (or cancel it), Review with Another Agent…, Send Findings
 *  to Task, Compare Attempts. */
export const OPINION_ACTIONS = ['runCheck', 'cancelCheck', 'reviewWithAgent', 'sendFindings', 'compareAttempts'] as const;
export type OpinionAction = (typeof OPINION_ACTIONS)[number];

/** What the panel may do with a task's worktree (each maps to a command of DESIGN §8). */
export const WORKTREE_ACTIONS = ['review', 'merge', 'apply', 'discard', 'resolve', 'openWorktree'] as const;
export type WorktreeAction = (typeof WORKTREE_ACTIONS)[number];

/** A task's worktree as the panel shows it: its state, the changed files (at most MAX_PANEL_FILES) and the actions its state allows. */
export interface WorktreeView {
  state: WorktreeState;
  branch: string;
  path: string;
  files: WorktreeFileChange[];
  /** How many files changed in all (the list may be cut). */
  fileCount: number;
  insertions: number;
  deletions: number;
  conflicts?: string[];
  actions: WorktreeAction[];
}

export const MAX_PANEL_FILES = 500;

/** A pending question plus the hash of exactly what the user sees; an answer must carry it back. */
export interface QuestionView {
  question: PendingQuestion;
  payloadHash: string;
}

export type HostMessage =
  | { type: 'init'; task: TaskView; entries: OutputEntry[]; truncated: boolean }
  | { type: 'task'; task: TaskView }
  | { type: 'entries'; entries: OutputEntry[] }
  | { type: 'answerResult'; requestId: string; ok: boolean; error?: string }
  | { type: 'notice'; level: 'info' | 'error'; text: string };

export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'answer'; requestId: string; payloadHash: string; answer: Answer }
  | { type: 'cancel' }
  | { type: 'retry' }
  | { type: 'followUp'; text: string }
  | { type: 'openDiff'; requestId: string; path: string }
  | { type: 'showLog' }
  /** One changed file of the task's worktree in the diff editor (base ↔ the task's version). */
  | { type: 'openChange'; path: string }
  | { type: 'worktree'; action: WorktreeAction }
  | { type: 'opinion'; action: OpinionAction }
  /** A review's finding: open its file at its line. */
  | { type: 'openFinding'; findingId: string };

const MAX_TEXT = 100_000;

/** Validates a message from the webview; returns undefined for anything malformed. */
export function parseWebviewMessage(raw: unknown): WebviewMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case 'ready':
    case 'cancel':
    case 'retry':
    case 'showLog':
      return { type: m.type };
    case 'followUp':
      return isText(m.text) && m.text.trim() ? { type: 'followUp', text: m.text } : undefined;
    case 'openDiff':
      return isId(m.requestId) && isText(m.path) ? { type: 'openDiff', requestId: m.requestId, path: m.path } : undefined;
    case 'openChange':
      return isText(m.path) && m.path.length > 0 ? { type: 'openChange', path: m.path } : undefined;
    case 'worktree':
      return (WORKTREE_ACTIONS as readonly unknown[]).includes(m.action) ? { type: 'worktree', action: m.action as WorktreeAction } : undefined;
    case 'opinion':
      return (OPINION_ACTIONS as readonly unknown[]).includes(m.action) ? { type: 'opinion', action: m.action as OpinionAction } : undefined;
    case 'openFinding':
      return isId(m.findingId) ? { type: 'openFinding', findingId: m.findingId } : undefined;
    case 'answer': {
      if (!isId(m.requestId) || !isId(m.payloadHash)) return undefined;
      const answer = parseAnswer(m.answer);
      return answer ? { type: 'answer', requestId: m.requestId, payloadHash: m.payloadHash, answer } : undefined;
    }
    default:
      return undefined;
  }
}

/** Checks the shape of an Answer (DESIGN §1); which kind fits which question is checked by the manager. */
export function parseAnswer(raw: unknown): Answer | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const a = raw as Record<string, unknown>;
  if ('decision' in a) {
    if (a.decision !== 'approve' && a.decision !== 'approveForSession' && a.decision !== 'deny') return undefined;
    if (a.message !== undefined && !isText(a.message)) return undefined;
    return { decision: a.decision, ...(a.message !== undefined ? { message: a.message as string } : {}) };
  }
  if ('answers' in a) {
    if (typeof a.answers !== 'object' || a.answers === null || Array.isArray(a.answers)) return undefined;
    const answers: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(a.answers as Record<string, unknown>)) {
      if (!Array.isArray(value) || !value.every(isText)) return undefined;
      answers[key] = value as string[];
    }
    return { answers };
  }
  if ('action' in a) {
    if (a.action !== 'accept' && a.action !== 'decline' && a.action !== 'cancel') return undefined;
    if (a.content !== undefined && (typeof a.content !== 'object' || a.content === null || Array.isArray(a.content))) return undefined;
    return { action: a.action, ...(a.content !== undefined ? { content: a.content as Record<string, unknown> } : {}) };
  }
  if ('text' in a && 'success' in a) {
    if (!isText(a.text) || typeof a.success !== 'boolean') return undefined;
    return { text: a.text, success: a.success };
  }
  return undefined;
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_TEXT;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 200;
}
