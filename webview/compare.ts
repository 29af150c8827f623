/**
 * The Compare Attempts view (DESIGN §9): one column per attempt — agent, status, duration, tokens, ±, files, check and
 * findings — with Review and Merge This Attempt. Everything shown comes from agents' work: text only, never HTML.
 */
import type { AttemptView, AttemptsView, CompareAction, CompareHostMessage, CompareWebviewMessage } from '../src/host/webview/compare-protocol';
import { button, h, icon } from './dom';

interface VsCodeApi {
  postMessage(message: CompareWebviewMessage): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const header = document.getElementById('header')!;
const board = document.getElementById('attempts')!;

const ACTIONS: Record<CompareAction, { label: string; icon: string; kind?: 'primary'; title: string }> = {
  open: { label: 'Open', icon: 'go-to-file', title: 'Open the task: its transcript and changed files' },
  reviewChanges: { label: 'Changes', icon: 'diff-multiple', title: 'Review Changes: every changed file in the multi-file diff editor' },
  review: { label: 'Review', icon: 'eye', title: 'Review with Another Agent…: a read-only review that answers with findings' },
  runCheck: { label: 'Run Check', icon: 'beaker', title: 'Run the agentTasks.check command in this attempt’s worktree' },
  pick: { label: 'Merge This Attempt', icon: 'git-merge', kind: 'primary', title: 'Merge this attempt into the main checkout, then discard the others (asks first)' },
};

const SEVERITY_ICONS: Record<string, string> = { high: 'error', medium: 'warning', low: 'info', info: 'lightbulb' };
const CHECK_ICONS: Record<string, string> = { passed: 'pass', failed: 'error', running: 'loading codicon-modifier-spin', cancelled: 'circle-slash' };
const LETTERS: Record<string, string> = { added: 'A', modified: 'M', deleted: 'D', renamed: 'R' };

window.addEventListener('message', (event: MessageEvent<CompareHostMessage>) => {
  const message = event.data;
  if (message.type === 'attempts') render(message.view);
  else showNotice(message.level, message.text);
});

function render(view: AttemptsView): void {
  const picked = view.attempts.find((attempt) => attempt.id === view.picked);
  header.replaceChildren(
    h('div', { class: 'title-row' }, icon('versions'), h('h1', { text: `${view.attempts.length} attempts: ${view.title}`, title: view.prompt })),
    h('p', { class: 'prompt', text: view.prompt }),
    ...(picked ? [h('div', { class: 'info-banner', role: 'status' }, icon('git-merge'), h('span', { text: `${picked.agent}'s attempt was merged into the main checkout.` }))] : []),
  );
  // Focus survives a redraw: the same button of the same column gets it back.
  const focused = document.activeElement instanceof HTMLElement ? [document.activeElement.closest<HTMLElement>('.attempt')?.dataset.taskId, document.activeElement.dataset.action] : [];
  board.replaceChildren(...view.attempts.map((attempt) => column(attempt, attempt.id === view.picked)));
  if (focused[0] && focused[1]) board.querySelector<HTMLElement>(`.attempt[data-task-id="${CSS.escape(focused[0])}"] [data-action="${CSS.escape(focused[1])}"]`)?.focus();
}

function column(attempt: AttemptView, picked: boolean): HTMLElement {
  const el = h('section', { class: `attempt${picked ? ' picked' : ''}`, 'data-task-id': attempt.id, 'aria-label': `${attempt.agent}: ${attempt.statusLabel}` });
  el.append(
    h('h2', {}, h('span', { class: 'agent', text: attempt.agent }), h('span', { class: `status status-${attempt.status}`, text: attempt.statusLabel })),
    h('p', { class: 'muted task-id', text: attempt.id }),
  );
  const facts = h('dl', { class: 'facts' });
  const fact = (name: string, value: Node | string): void => {
    facts.append(h('dt', { text: name }), h('dd', {}, value));
  };
  fact('Duration', attempt.duration ?? '—');
  fact('Tokens', attempt.tokens ?? '—');
  const changes = attempt.fileCount === 0
    ? h('span', { text: 'no changes' })
    : h('span', {}, h('span', { class: 'added', text: `+${attempt.insertions}` }), ' ', h('span', { class: 'removed', text: `−${attempt.deletions}` }), ` · ${attempt.fileCount} file${attempt.fileCount === 1 ? '' : 's'}`);
  if (attempt.worktreeState && attempt.worktreeState !== 'active') changes.append(h('span', { class: 'muted', text: ` · ${attempt.worktreeState}` }));
  fact('Changes', changes);
  fact('Check', attempt.check ? h('span', { class: `check check-${attempt.check.state}`, title: attempt.check.line }, icon(CHECK_ICONS[attempt.check.state]), h('span', { text: attempt.check.state })) : 'not run');
  fact('Findings', attempt.review ? h('span', { text: `${attempt.review.summary} (${attempt.review.reviewer})` }) : 'not reviewed');
  el.append(facts);
  if (attempt.error) el.append(h('div', { class: 'error-banner', role: 'alert' }, icon('error'), h('span', { text: attempt.error })));
  if (attempt.files.length > 0) {
    const list = h('ul', { class: 'attempt-files', 'aria-label': `Files ${attempt.agent} changed` });
    for (const file of attempt.files) {
      list.append(h('li', {}, h('span', { class: `file-status status-${file.status}`, 'aria-hidden': 'true', text: LETTERS[file.status] ?? '?' }), h('code', { class: 'file-path', text: file.path, title: file.path }), h('span', { class: 'added', text: `+${file.insertions}` }), h('span', { class: 'removed', text: `−${file.deletions}` })));
    }
    if (attempt.fileCount > attempt.files.length) list.append(h('li', { class: 'muted', text: `and ${attempt.fileCount - attempt.files.length} more` }));
    el.append(list);
  }
  if (attempt.check?.tail && attempt.check.state === 'failed') el.append(h('pre', { class: 'check-tail', 'aria-label': 'The end of the check’s output', text: attempt.check.tail.split('\n').slice(-8).join('\n') }));
  const findings = attempt.review?.findings ?? [];
  if (findings.length > 0) {
    const list = h('ul', { class: 'findings compact', 'aria-label': `Findings of the review of ${attempt.agent}'s attempt` });
    for (const finding of findings.slice(0, 8)) {
      const place = finding.path ? ` — ${finding.path}${finding.line !== undefined ? `:${finding.line}` : ''}` : '';
      list.append(h('li', { class: `severity-${finding.severity}`, title: finding.body }, icon(SEVERITY_ICONS[finding.severity] ?? 'info'), h('span', { text: `${finding.title}${place}` })));
    }
    if (findings.length > 8) list.append(h('li', { class: 'muted', text: `and ${findings.length - 8} more` }));
    el.append(list);
  }
  const row = h('div', { class: 'buttons' });
  for (const action of attempt.actions) {
    const spec = ACTIONS[action];
    const b = button(spec.label, { icon: spec.icon, kind: spec.kind, title: spec.title }, () => vscode.postMessage({ type: 'action', action, taskId: attempt.id }));
    b.dataset.action = action;
    row.append(b);
  }
  el.append(row);
  return el;
}

function showNotice(level: 'info' | 'error', text: string): void {
  const el = h('div', { class: `notice-toast ${level}`, role: level === 'error' ? 'alert' : 'status', text });
  document.body.append(el);
  setTimeout(() => el.remove(), 6000);
}

vscode.postMessage({ type: 'ready' });
