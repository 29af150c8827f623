/**
 * Messages between the Compare Attempts view (DESIGN §9) and its webview. Imported by both sides; nothing here may
 * import vscode. Every message from the webview is untrusted and goes through parseCompareMessage.
 */
import type { Finding, TaskCheck, TaskStatus, WorktreeState } from '../../core/task-state';

/** One attempt as a column of the compare view. */
export interface AttemptView {
  id: string;
  /** The agent (and its profile or model). */
  agent: string;
  status: TaskStatus;
  statusLabel: string;
  /** "3m 12s", while running too. */
  duration?: string;
  /** "12.3k in / 2k out · $0.0123". */
  tokens?: string;
  worktreeState?: WorktreeState;
  files: { path: string; status: string; insertions: number; deletions: number }[];
  fileCount: number;
  insertions: number;
  deletions: number;
  check?: TaskCheck & { line: string };
  /** The newest review of this attempt: its task and findings (undefined while it runs). */
  review?: { id: string; reviewer: string; findings?: Finding[]; summary: string };
  error?: string;
  actions: CompareAction[];
}

export const COMPARE_ACTIONS = ['open', 'reviewChanges', 'review', 'runCheck', 'pick'] as const;
/** open: the task panel · reviewChanges: its diff · review: Review with Another Agent… · runCheck · pick: Merge This Attempt. */
export type CompareAction = (typeof COMPARE_ACTIONS)[number];

export interface AttemptsView {
  group: string;
  title: string;
  prompt: string;
  attempts: AttemptView[];
  /** The attempt merged into the main checkout, once one was picked. */
  picked?: string;
}

export type CompareHostMessage = { type: 'attempts'; view: AttemptsView } | { type: 'notice'; level: 'info' | 'error'; text: string };

export type CompareWebviewMessage = { type: 'ready' } | { type: 'action'; action: CompareAction; taskId: string };

/** Validates a message from the compare webview; undefined for anything malformed. */
export function parseCompareMessage(raw: unknown): CompareWebviewMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  if (m.type === 'ready') return { type: 'ready' };
  if (m.type === 'action' && (COMPARE_ACTIONS as readonly unknown[]).includes(m.action) && typeof m.taskId === 'string' && m.taskId.length > 0 && m.taskId.length <= 200) {
    return { type: 'action', action: m.action as CompareAction, taskId: m.taskId };
  }
  return undefined;
}
