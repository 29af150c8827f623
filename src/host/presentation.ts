import { questionRoot, summarizeQuestion } from '../core/answers';
import type { AccountLimits, LimitWindow } from '../core/ports';
import { defaultAccountKey, type ProfileManager } from '../core/profiles';
import { isLive } from '../core/task-isolation';
import { isTerminal, type PendingQuestion, type TaskState, type TaskStatus, type TaskWorktree, type WorktreeFileChange } from '../core/task-state';
import { shorten } from '../core/task-title';

/** How much of a pending request a tree row's description shows (L2: Approve from the row shows the rest first). */
export const ROW_SUMMARY_LENGTH = 60;

/** How each status is shown: group label (tree order below), codicon and theme colour. */
export const STATUS_PRESENTATION: Readonly<Record<TaskStatus, { label: string; icon: string; color?: string }>> = {
  waiting_answer: { label: 'Needs you', icon: 'bell-dot', color: 'notificationsWarningIcon.foreground' },
  running: { label: 'Running', icon: 'loading~spin', color: 'progressBar.background' },
  rate_limited: { label: 'Rate limited', icon: 'watch', color: 'editorWarning.foreground' },
  pending: { label: 'Pending', icon: 'clock' },
  waiting: { label: 'Waiting', icon: 'debug-pause' },
  completed: { label: 'Completed', icon: 'pass', color: 'testing.iconPassed' },
  failed: { label: 'Failed', icon: 'error', color: 'testing.iconFailed' },
  timed_out: { label: 'Timed out', icon: 'history', color: 'editorWarning.foreground' },
  cancelled: { label: 'Cancelled', icon: 'circle-slash', color: 'disabledForeground' },
  unknown: { label: 'Unknown', icon: 'question', color: 'disabledForeground' },
};

/** The tree's group order (issue: Needs you, Running, Rate limited, Pending, Waiting, then the finished ones). */
export const GROUP_ORDER: readonly TaskStatus[] = [
  'waiting_answer',
  'running',
  'rate_limited',
  'pending',
  'waiting',
  'completed',
  'failed',
  'timed_out',
  'cancelled',
  'unknown',
];

export interface TaskGroup {
  status: TaskStatus;
  label: string;
  tasks: TaskState[];
}

/** Non-empty groups in display order; tasks newest first. */
export function groupTasks(tasks: readonly TaskState[]): TaskGroup[] {
  const byStatus = new Map<TaskStatus, TaskState[]>();
  for (const task of tasks) {
    let list = byStatus.get(task.status);
    if (!list) byStatus.set(task.status, (list = []));
    list.push(task);
  }
  return GROUP_ORDER.filter((status) => byStatus.has(status)).map((status) => ({
    status,
    label: STATUS_PRESENTATION[status].label,
    tasks: byStatus.get(status)!.sort((a, b) => b.timestamps.created - a.timestamps.created),
  }));
}

/** Whether a one-line surface that shows `maxLength` characters of a request's summary showed all of it (L2). */
export function shownWhole(question: PendingQuestion, maxLength = ROW_SUMMARY_LENGTH): boolean {
  const summary = summarizeQuestion(question);
  return firstLine(summary, maxLength) === summary.trim();
}

export function firstLine(text: string, max = 80): string {
  const line = text.split(/\r?\n/).find((l) => l.trim()) ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * What a task's row says about its state (its description, before the provider): what it waits on, how long it has run, when a
 * rate-limited task retries, how it ended. `titleOf` names a dependency by its title.
 */
export function stateDetail(task: TaskState, now: number, titleOf: (id: string) => string | undefined = () => undefined): string {
  const question = task.pendingQuestions[0];
  if (question) {
    const more = task.pendingQuestions.length > 1 ? ` (+${task.pendingQuestions.length - 1} more)` : '';
    return `needs you: ${firstLine(summarizeQuestion(question, questionRoot(task)), ROW_SUMMARY_LENGTH)}${more}`;
  }
  const elapsed = elapsedOf(task, now);
  switch (task.status) {
    case 'waiting_answer':
      return 'needs you';
    case 'running':
      return elapsed === undefined ? 'starting' : `running ${formatMinutes(elapsed)}`;
    case 'rate_limited':
      return task.retryAt !== undefined && task.retryAt > now ? `rate limited · ${resumesAt(task.retryAt, now)}` : 'rate limited, retrying';
    case 'pending':
      return task.rateLimitAttempts ? 'queued to retry' : 'queued';
    case 'waiting': {
      const names = task.dependsOn.map((id) => {
        const title = titleOf(id);
        return title ? `“${shorten(title, 24)}”` : id;
      });
      return names.length ? `waits for ${names.join(', ')}` : 'waiting';
    }
    case 'completed':
      return elapsed === undefined ? 'done' : `done in ${formatDuration(elapsed)}`;
    case 'failed':
      return `failed${task.error ? `: ${firstLine(task.error, 60)}` : ''}`;
    case 'timed_out':
      return elapsed === undefined ? 'timed out' : `timed out after ${formatMinutes(elapsed)}`;
    case 'cancelled':
      return 'cancelled';
    case 'unknown':
      return task.error ? `unknown: ${firstLine(task.error, 60)}` : 'state unknown';
    default: {
      const never: never = task.status;
      return String(never);
    }
  }
}

/** The panel's status for a task: "Rate limited · resumes 14:05" while a rate-limited task waits, else the state's label. */
export function statusLabel(task: TaskState, now: number): string {
  const label = STATUS_PRESENTATION[task.status].label;
  return task.status === 'rate_limited' && task.retryAt !== undefined && task.retryAt > now ? `${label} · ${resumesAt(task.retryAt, now)}` : label;
}

/** "resumes 14:05" (local time; with the weekday when it is not within the next 24 hours): absolute, so it never goes stale. */
export function resumesAt(at: number, now: number): string {
  const date = new Date(at);
  const clock = `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
  if (at - now < 24 * 3_600_000) return `resumes ${clock}`;
  return `resumes ${date.toLocaleDateString('en-US', { weekday: 'short' })} ${clock}`;
}

/** Whole minutes ("<1m", "4m", "1h 5m"): for text that is refreshed now and then, not every second. */
export function formatMinutes(ms: number, roundUp = false): string {
  const minutes = roundUp ? Math.ceil(ms / 60_000) : Math.floor(ms / 60_000);
  if (minutes < 1) return '<1m';
  return minutes < 60 ? `${minutes}m` : `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

export function elapsedOf(task: TaskState, now: number): number | undefined {
  const start = task.timestamps.started;
  if (start === undefined) return undefined;
  const end = isTerminal(task.status) ? (task.timestamps.completed ?? task.timestamps.updated) : now;
  return end - start;
}

export function formatUsage(task: TaskState): string | undefined {
  const usage = task.usage;
  if (!usage) return undefined;
  const tokens = `${formatCount(usage.inputTokens)} in / ${formatCount(usage.outputTokens)} out`;
  return usage.costUsd !== undefined ? `${tokens} · $${usage.costUsd.toFixed(4)}` : tokens;
}

function formatCount(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

/** A window's name as people say it: Codex's primary/secondary are its 5-hour and weekly windows. */
function windowName(window: LimitWindow): string {
  if (window.windowMinutes === 300) return '5h';
  if (window.windowMinutes === 10_080) return 'weekly';
  if (window.windowMinutes !== undefined) return window.windowMinutes < 120 ? `${window.windowMinutes}m` : `${Math.round(window.windowMinutes / 60)}h`;
  return window.id.replace(/_/g, ' ');
}

/** "5h 42% used (resets 16:05) · weekly 7% used": an account's last known usage, or undefined when none is known. */
export function limitsText(limits: AccountLimits | undefined, now: number): string | undefined {
  if (!limits || limits.windows.length === 0) return limits?.status === 'rejected' && limits.resetsAt ? `limit reached, ${resumesAt(limits.resetsAt, now)}` : undefined;
  return limits.windows
    .map((window) => {
      const used = window.usedPercent !== undefined ? ` ${Math.round(window.usedPercent)}% used` : '';
      const reached = window.status === 'rejected' ? ' — limit reached' : '';
      const reset = window.resetsAt !== undefined && window.resetsAt > now ? ` (${resumesAt(window.resetsAt, now).replace('resumes', 'resets')})` : '';
      return `${windowName(window)}${used}${reached}${reset}`;
    })
    .join(' · ');
}

/** The tooltip line about the account a task runs on, when its usage is known. */
export function accountLine(task: TaskState, profiles: ProfileManager, now: number): string | undefined {
  const key = task.profile ?? defaultAccountKey(task.provider);
  const text = limitsText(profiles.limitsOf(key), now);
  return text ? `Account ${task.profile ?? `${task.provider} (default)`}: ${text}` : undefined;
}

/**
 * "+12 −3 · 4 files": a worktree's change summary as the tree and the quick picks show it; "no changes" while no file
 * differs (never "+0 −0 · 0 files"). The tree's rows leave it out then (worktreeDetail).
 */
export function changeSummary(worktree: Pick<TaskWorktree, 'changes'>): string {
  const { files, insertions, deletions } = worktree.changes;
  if (files.length === 0) return 'no changes';
  return `+${insertions} −${deletions} · ${files.length} file${files.length === 1 ? '' : 's'}`;
}

/** A changed file's status as one letter, like Source Control: A added, M modified, D deleted, R renamed. */
export function statusLetter(status: WorktreeFileChange['status']): string {
  return { added: 'A', modified: 'M', deleted: 'D', renamed: 'R' }[status];
}

/** One changed file as a line of text: "M src/a.ts +3 −1" (a rename names both paths; a binary file says so). */
export function changeLine(change: WorktreeFileChange): string {
  const name = change.oldPath !== undefined ? `${change.oldPath} → ${change.path}` : change.path;
  return `${statusLetter(change.status)} ${name} ${change.binary ? '(binary)' : `+${change.insertions} −${change.deletions}`}`;
}

/** What the tree row's description says about a task's worktree: its summary while it holds unmerged changes. */
export function worktreeDetail(task: TaskState): string | undefined {
  const worktree = task.worktree;
  if (!isLive(worktree) || worktree.changes.files.length === 0) return worktree?.state === 'conflict' ? 'conflict' : undefined;
  return worktree.state === 'conflict' ? `${changeSummary(worktree)} · conflict` : changeSummary(worktree);
}

/** Tooltip lines about a task's worktree: where it is, its state, and (while live) the files it changed. */
export function worktreeLines(worktree: TaskWorktree, maxFiles = 20): string[] {
  switch (worktree.state) {
    case 'merged':
      return [`Changes merged into the main checkout (branch ${worktree.branch})`];
    case 'applied':
      return ['Changes applied to the main checkout as uncommitted changes'];
    case 'discarded':
      return [`Changes discarded (the worktree and the branch ${worktree.branch} were removed)`];
    case 'active':
    case 'conflict': {
      const lines = [`Worktree: ${worktree.path} (branch ${worktree.branch})`];
      if (worktree.state === 'conflict') lines.push(`Conflicts with the main checkout in: ${(worktree.conflicts ?? []).join(', ')}`);
      const files = worktree.changes.files;
      if (files.length === 0) return [...lines, 'No changes yet'];
      lines.push(`Changes: ${changeSummary(worktree)}`);
      for (const change of files.slice(0, maxFiles)) lines.push(`  ${changeLine(change)}`);
      if (files.length > maxFiles) lines.push(`  and ${files.length - maxFiles} more`);
      return lines;
    }
    default: {
      const never: never = worktree.state;
      return [String(never)];
    }
  }
}
