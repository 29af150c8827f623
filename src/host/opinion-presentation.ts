// DESIGN §9 as text: a check's verdict, a review's findings and the attempts of one prompt, as the tree, the quick
// picks, the panel and the compare view say them.
import type { Finding, TaskCheck, TaskState, TaskStatus } from '../core/task-state';
import { cleanAgentTitle, taskTitle } from '../core/task-title';
import { formatDuration, GROUP_ORDER, STATUS_PRESENTATION, type TaskGroup } from './presentation';

export const SEVERITY_ORDER: readonly Finding['severity'][] = ['high', 'medium', 'low', 'info'];

/** Codicon and theme colour of each severity (the panel and the comments use the same). */
export const SEVERITY_ICON: Readonly<Record<Finding['severity'], { icon: string; color: string }>> = {
  high: { icon: 'error', color: 'problemsErrorIcon.foreground' },
  medium: { icon: 'warning', color: 'problemsWarningIcon.foreground' },
  low: { icon: 'info', color: 'problemsInfoIcon.foreground' },
  info: { icon: 'lightbulb', color: 'descriptionForeground' },
};

/** "✓ check", "✗ check", "check running…", "check cancelled": a check's verdict in a row's description. */
export function checkBadge(check: TaskCheck): string {
  switch (check.state) {
    case 'passed':
      return '✓ check';
    case 'failed':
      return '✗ check';
    case 'running':
      return 'check running…';
    case 'cancelled':
      return 'check cancelled';
    default: {
      const never: never = check.state;
      return String(never);
    }
  }
}

/** "Check: npm test — passed in 3s (exit 0)": one line for tooltips and the compare view. */
export function checkLine(check: TaskCheck): string {
  const verb = { passed: 'passed', failed: 'failed', running: 'running', cancelled: 'cancelled' }[check.state];
  const took = check.durationMs !== undefined && check.state !== 'running' ? ` in ${formatDuration(check.durationMs)}` : '';
  const exit = check.exitCode !== undefined && check.state !== 'running' ? ` (exit ${check.exitCode})` : '';
  return `Check: ${check.command} — ${verb}${took}${exit}`;
}

/** "3 findings (1 high, 2 low)" or "no findings"; undefined while a review has not answered yet. */
export function findingsSummary(findings: readonly Finding[] | undefined): string | undefined {
  if (findings === undefined) return undefined;
  if (findings.length === 0) return 'no findings';
  const counts = SEVERITY_ORDER.map((severity) => [severity, findings.filter((finding) => finding.severity === severity).length] as const)
    .filter(([, count]) => count > 0)
    .map(([severity, count]) => `${count} ${severity}`);
  return `${findings.length} finding${findings.length === 1 ? '' : 's'} (${counts.join(', ')})`;
}

/** "src/a.ts:12" or "src/a.ts" or undefined: where a finding points. */
export function findingPlace(finding: Finding): string | undefined {
  if (!finding.path) return undefined;
  return finding.line !== undefined ? `${finding.path}:${finding.line}` : finding.path;
}

/** "[high] Title — src/a.ts:12": one finding on one line. */
export function findingLine(finding: Finding): string {
  const place = findingPlace(finding);
  return `[${finding.severity}] ${finding.title}${place ? ` — ${place}` : ''}`;
}

/** What a row calls one attempt: its agent (and profile or model, which tell two attempts of one agent apart). */
export function attemptLabel(task: Pick<TaskState, 'provider' | 'profile' | 'model'>, displayName: string): string {
  const extra = [task.profile && `profile ${task.profile}`, task.model].filter(Boolean).join(', ');
  return extra ? `${displayName} (${extra})` : displayName;
}

/** What the attempts of one prompt are called: the first title an agent gave its attempt, else the prompt's first line. */
export function attemptsTitle(tasks: readonly Pick<TaskState, 'title' | 'prompt'>[], max?: number): string {
  const titled = tasks.find((task) => cleanAgentTitle(task.title) !== undefined);
  return taskTitle(titled ?? { prompt: tasks[0]?.prompt ?? '' }, max);
}

/** "3 attempts: <title>": the row grouping the attempts of one prompt. */
export function attemptGroupLabel(tasks: readonly TaskState[]): string {
  return `${tasks.length} attempts: ${attemptsTitle(tasks)}`;
}

/** Text as Markdown that shows it as written: its Markdown characters and icon syntax escaped, its line breaks kept. */
export function asText(text: string): string {
  return text
    .replace(/[\\`*_[\]<>#~|$]/g, '\\$&')
    .replace(/^(\s*)([-+]|\d+\.)/gm, (_match, indent: string, marker: string) => `${indent}${marker.replace(/^([-+])|\.$/, (m) => `\\${m}`)}`)
    .replace(/\r?\n/g, '  \n');
}

/** One row of a status group: a task on its own, or the attempts of one prompt together. */
export type GroupRow = { kind: 'task'; task: TaskState } | { kind: 'attempts'; group: string; tasks: TaskState[] };

/**
 * The tree's rows: the attempts of one prompt (two or more) sit together under the status group of their most urgent
 * member (one that needs you pulls the whole group up); every other task under its own status. Each group's `tasks`
 * lists every task shown in it, attempts included.
 */
export function arrangeRows(groups: readonly TaskGroup[], all: readonly TaskState[]): (TaskGroup & { rows: GroupRow[] })[] {
  const members = new Map<string, TaskState[]>();
  for (const task of all) {
    if (task.attemptGroup === undefined) continue;
    let list = members.get(task.attemptGroup);
    if (!list) members.set(task.attemptGroup, (list = []));
    list.push(task);
  }
  const home = new Map<string, TaskStatus>();
  for (const [group, tasks] of members) {
    if (tasks.length < 2) {
      members.delete(group);
      continue;
    }
    tasks.sort((a, b) => a.timestamps.created - b.timestamps.created);
    home.set(group, GROUP_ORDER[Math.min(...tasks.map((task) => GROUP_ORDER.indexOf(task.status)))]);
  }
  const rowsByStatus = new Map<TaskStatus, GroupRow[]>();
  const placed = new Set<string>();
  // Status groups are in display order and their tasks newest first: a group of attempts sits where its newest
  // member would.
  for (const group of groups) {
    for (const task of group.tasks) {
      const attempts = task.attemptGroup !== undefined ? members.get(task.attemptGroup) : undefined;
      if (!attempts) {
        push(rowsByStatus, group.status, { kind: 'task', task });
        continue;
      }
      const status = home.get(task.attemptGroup!)!;
      if (!placed.has(task.attemptGroup!)) push(rowsByStatus, status, { kind: 'attempts', group: task.attemptGroup!, tasks: attempts });
      placed.add(task.attemptGroup!);
    }
  }
  // A status group can be left with only attempts that moved elsewhere, or gain one: rebuilt from the rows.
  return GROUP_ORDER.filter((status) => rowsByStatus.has(status)).map((status) => {
    const rows = rowsByStatus.get(status)!;
    return { status, label: STATUS_PRESENTATION[status].label, rows, tasks: rows.flatMap((row) => (row.kind === 'task' ? [row.task] : row.tasks)) };
  });
}

function push(map: Map<TaskStatus, GroupRow[]>, status: TaskStatus, row: GroupRow): void {
  let rows = map.get(status);
  if (!rows) map.set(status, (rows = []));
  rows.push(row);
}
