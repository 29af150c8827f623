import { isTerminal, type TaskState, type TaskStatus } from '../core/task-state';

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

export function firstLine(text: string, max = 80): string {
  const line = text.split(/\r?\n/).find((l) => l.trim()) ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
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
