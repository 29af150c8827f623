/**
 * The task panel's second-opinion section (DESIGN §9): the check's verdict with the tail of its output, a review's
 * findings (severity, title, body, path:line — a click opens the file at the line) and Send Findings to Task, Run
 * Check, Review with Another Agent…, Compare Attempts. Findings are the reviewer's text: only ever textContent.
 */
import type { Finding } from '../src/core/task-state';
import type { OpinionAction, TaskView, WebviewMessage } from '../src/host/webview/protocol';
import { actionButtons, h, icon } from './dom';

const ACTIONS: Record<OpinionAction, { label: string; icon: string; kind?: 'primary' | 'danger'; title: string }> = {
  runCheck: { label: 'Run Check', icon: 'beaker', title: 'Run the agentTasks.check command in this task’s worktree' },
  cancelCheck: { label: 'Cancel Check', icon: 'debug-stop', kind: 'danger', title: 'Stop the check and its processes' },
  reviewWithAgent: { label: 'Review with Another Agent…', icon: 'eye', title: 'A read-only review of this change by another agent, answered with findings' },
  sendFindings: { label: 'Send Findings to Task', icon: 'send', kind: 'primary', title: 'Continue the reviewed task in its worktree with the findings you choose' },
  compareAttempts: { label: 'Compare Attempts', icon: 'versions', title: 'The attempts on this prompt side by side' },
};

const CHECK_TEXT: Record<string, { icon: string; text: string }> = {
  passed: { icon: 'pass', text: 'Check passed' },
  failed: { icon: 'error', text: 'Check failed' },
  running: { icon: 'loading codicon-modifier-spin', text: 'Check running' },
  cancelled: { icon: 'circle-slash', text: 'Check cancelled' },
};

const SEVERITY_ICONS: Record<Finding['severity'], string> = { high: 'error', medium: 'warning', low: 'info', info: 'lightbulb' };

export function renderOpinions(section: HTMLElement, task: TaskView, post: (message: WebviewMessage) => void): void {
  const children: Node[] = [];
  if (task.check) {
    const shown = CHECK_TEXT[task.check.state];
    children.push(h('h2', { class: `check check-${task.check.state}` }, icon(shown.icon), h('span', { text: shown.text }), h('span', { class: 'muted', text: task.check.line.replace(/^Check: /, '') })));
    if (task.check.tail?.trim()) children.push(h('pre', { class: 'check-tail', tabindex: '0', 'aria-label': 'The end of the check’s output', text: task.check.tail }));
  }
  if (task.review) {
    children.push(h('h2', {}, icon('eye'), h('span', { text: `Review of “${task.review.ofTitle}”` }), h('span', { class: 'muted', text: `${task.review.of} · ${task.review.summary ?? 'not answered yet'}` })));
    const findings = task.review.findings ?? [];
    if (findings.length > 0) {
      const list = h('ul', { class: 'findings', 'aria-label': `Findings: ${task.review.summary ?? ''}` });
      for (const finding of findings) list.append(findingItem(finding, post));
      children.push(list);
    }
  }
  if (task.opinions.length > 0) {
    children.push(actionButtons(task.opinions, ACTIONS, (action) => post({ type: 'opinion', action })));
  }
  section.hidden = children.length === 0;
  section.replaceChildren(...children);
}

function findingItem(finding: Finding, post: (message: WebviewMessage) => void): HTMLElement {
  const place = finding.path ? `${finding.path}${finding.line !== undefined ? `:${finding.line}` : ''}` : undefined;
  const item = h('li', { class: `finding severity-${finding.severity}`, 'data-finding-id': finding.id });
  item.append(h('div', { class: 'finding-title' }, icon(SEVERITY_ICONS[finding.severity]), h('span', { class: 'severity', text: finding.severity }), h('strong', { text: finding.title })));
  if (place) {
    const open = h('button', { type: 'button', class: 'link finding-place', title: `Open ${place}`, 'aria-label': `Open ${place}`, text: place });
    open.addEventListener('click', () => post({ type: 'openFinding', findingId: finding.id }));
    item.append(open);
  }
  if (finding.body.trim()) item.append(h('p', { class: 'finding-body', text: finding.body }));
  return item;
}
