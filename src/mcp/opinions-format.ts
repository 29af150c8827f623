// How second opinions read for an agent (DESIGN §9): a task's check, its attempt group, the task a review reviews and
// the review's findings, in get_task, wait_for_task, list_tasks and task://{id}.
import { isTerminal, type Finding, type TaskCheck } from '../core/task-state';
import { fenced } from './changes-format';
import type { WireTask } from './protocol';

const SEVERITIES: readonly Finding['severity'][] = ['high', 'medium', 'low', 'info'];

/** `passed (exit 0) in 1.2 s` */
export function checkVerdict(check: TaskCheck): string {
  const took = check.durationMs !== undefined ? ` in ${(check.durationMs / 1000).toFixed(1)} s` : '';
  switch (check.state) {
    case 'running':
      return 'is running';
    case 'passed':
      return `passed${took}`;
    case 'failed':
      return `failed${check.exitCode !== undefined ? ` (exit ${check.exitCode})` : ''}${took}`;
    case 'cancelled':
      return `was cancelled${took}`;
    default: {
      const never: never = check.state;
      return String(never);
    }
  }
}

/** `3 findings: 1 high, 2 low` */
export function findingCounts(task: WireTask): string {
  const findings = task.findings ?? [];
  const count = task.findingCount ?? findings.length;
  const bySeverity = SEVERITIES.map((severity) => [severity, findings.filter((finding) => finding.severity === severity).length] as const)
    .filter(([, n]) => n > 0)
    .map(([severity, n]) => `${n} ${severity}`);
  const listed = count > findings.length ? ` (of the first ${findings.length})` : '';
  return `${count} finding${count === 1 ? '' : 's'}${bySeverity.length > 0 ? `: ${bySeverity.join(', ')}${listed}` : ''}`;
}

/** The list_tasks suffix: ` · attempt in attempts-1a2b · check passed`, or '' for a task with none of these. */
export function opinionLine(task: WireTask): string {
  const parts: string[] = [];
  if (task.attemptGroup) parts.push(`attempt in ${task.attemptGroup}`);
  if (task.reviewOf) parts.push(`review of ${task.reviewOf}${task.findings ? `, ${findingCounts(task)}` : ''}`);
  if (task.check) parts.push(`check ${task.check.state}`);
  return parts.map((part) => ` · ${part}`).join('');
}

/** The header bullets of a task's Markdown: the attempt group it belongs to and the task it reviews. */
export function opinionFacts(task: WireTask): string[] {
  const lines: string[] = [];
  if (task.attemptGroup) {
    lines.push(`- **Attempt group**: ${task.attemptGroup} — one of several agents on the same prompt (list_tasks shows the others; the user keeps one with Merge This Attempt)`);
  }
  if (task.reviewOf) lines.push(`- **Review of**: ${task.reviewOf} — read-only, in that task's worktree`);
  return lines;
}

/** The Check and Findings sections of a task's Markdown (none when it has neither). */
export function opinionSections(task: WireTask): string[] {
  const lines: string[] = [];
  if (task.check) {
    lines.push('', '## Check', '', `\`${task.check.command}\` ${checkVerdict(task.check)}.`);
    if (task.check.tail && task.check.state !== 'passed' && task.check.state !== 'running') lines.push('', 'Its last lines:', '', fenced(task.check.tail));
  }
  if (task.reviewOf) lines.push('', ...findingsMarkdown(task, task.reviewOf));
  return lines;
}

function findingsMarkdown(task: WireTask, reviewed: string): string[] {
  if (!task.findings) {
    const why = isTerminal(task.status) ? `The review ended ${task.status.replace('_', ' ')}, so it has no findings.` : 'The findings appear here when the review completes.';
    return ['## Findings', '', why];
  }
  if (task.findings.length === 0) return ['## Findings', '', 'The reviewer found nothing to report.'];
  const lines = [`## Findings (${findingCounts(task)})`, ''];
  for (const finding of task.findings) {
    const where = finding.path ? ` — \`${finding.path}${finding.line !== undefined ? `:${finding.line}` : ''}\`` : '';
    lines.push(`- **${finding.id}** [${finding.severity}] ${finding.title}${where}`);
    if (finding.body.trim()) lines.push(`  ${finding.body.trim().split('\n').join('\n  ')}`);
  }
  const count = task.findingCount ?? task.findings.length;
  if (count > task.findings.length) lines.push(`- … and ${count - task.findings.length} more findings (${count} in all)`);
  lines.push('', `To have them addressed, send the ones you agree with to ${reviewed} with send_message (a follow-up in the same worktree).`);
  return lines;
}
