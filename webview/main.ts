/**
 * The task panel's UI: header, pending questions with their forms, the live transcript and a follow-up box.
 * Agent text is untrusted: it is only ever set through textContent, never as HTML.
 */
import type { OutputEntry, PendingQuestion, UserInputQuestion } from '../src/core/task-state';
import type { HostMessage, QuestionView, TaskView, WebviewMessage } from '../src/host/webview/protocol';
import { renderChanges } from './changes';
import { renderOpinions } from './opinions';
import { button, h, icon, linkButton, showFormError } from './dom';
import { elicitationForm } from './elicitation';
import { Drafts, fillDraft, focusField, readDraft, type StateApi } from './drafts';

interface VsCodeApi extends StateApi {
  postMessage(message: WebviewMessage): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
/** Answers typed but not sent, kept in the webview's state so that they survive its tab being hidden (L2). */
const drafts = new Drafts(vscode);
const header = byId('header');
const questionsEl = byId('questions');
const transcript = byId('transcript');
const footer = byId('footer');
const changesEl = byId('changes');
const opinionsEl = byId('opinions');

let task: TaskView | undefined;
const entryElements = new Map<string, HTMLElement>();
/** Requests whose answer is on its way: their buttons stay disabled, so a double click sends once. */
const sending = new Set<string>();
let renderedQuestionKey = '';
/** The question cards on screen by the hash of what they show: a card stays (with what was typed in it) while its question does. */
let questionCards = new Map<string, HTMLElement>();
/** The field of a restored draft that had the keyboard: it gets it back once the panel has the keyboard. */
let returnTo: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement | undefined;
let elapsedTimer: ReturnType<typeof setInterval> | undefined;

function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
}

window.addEventListener('message', (event: MessageEvent<HostMessage>) => {
  const message = event.data;
  switch (message.type) {
    case 'init': {
      task = message.task;
      // Kept by VS Code with the panel: after a window reload the extension shows this task in it again.
      const state = vscode.getState();
      vscode.setState({ ...(typeof state === 'object' && state !== null ? state : {}), taskId: message.task.id });
      transcript.replaceChildren();
      entryElements.clear();
      if (message.truncated) {
        const more = h('div', { class: 'entry notice' }, 'Earlier entries are in the full log. ');
        more.append(linkButton('Show full log', () => vscode.postMessage({ type: 'showLog' })));
        transcript.append(more);
      }
      appendEntries(message.entries);
      renderTask();
      break;
    }
    case 'task':
      task = message.task;
      renderTask();
      break;
    case 'entries':
      appendEntries(message.entries);
      break;
    case 'answerResult':
      sending.delete(message.requestId);
      if (!message.ok) showQuestionError(message.requestId, message.error ?? 'The answer was not accepted');
      break;
    case 'notice':
      showNotice(message.level, message.text);
      break;
  }
});

// Header and footer

function renderTask(): void {
  if (!task) return;
  const t = task;
  const meta = h('div', { class: 'meta' });
  const parts = [t.providerName, t.profile ? `profile ${t.profile}` : undefined, t.taskType, t.model].filter(Boolean) as string[];
  meta.append(h('span', { class: 'task-id', title: 'Task id', text: t.id }));
  meta.append(h('span', { text: parts.join(' · ') }));
  const elapsed = h('span', { id: 'elapsed', class: 'elapsed' });
  meta.append(elapsed);
  if (t.usage) meta.append(h('span', { class: 'usage', text: t.usage }));
  const actions = h('div', { class: 'actions' });
  if (t.canCancel) actions.append(button('Cancel', { icon: 'debug-stop', kind: 'danger' }, () => vscode.postMessage({ type: 'cancel' })));
  if (t.terminal) actions.append(button('Retry', { icon: 'debug-restart' }, () => vscode.postMessage({ type: 'retry' })));
  actions.append(button('Full log', { icon: 'output' }, () => vscode.postMessage({ type: 'showLog' })));
  const status = h('span', { class: `status status-${t.status}`, id: 'status', role: 'status', text: t.statusLabel });
  const title = h('h1', { text: t.title, title: t.title });
  const prompt = h('p', { class: 'prompt', text: t.prompt });
  const children: Node[] = [h('div', { class: 'title-row' }, status, title, actions), meta, prompt];
  if (t.error) children.push(h('div', { class: 'error-banner', role: 'alert' }, icon('error'), h('span', { text: t.error })));
  if (t.recovered) children.push(h('div', { class: 'info-banner' }, icon('history'), h('span', { text: 'Recovered after a window reload' })));
  header.replaceChildren(...children);
  updateElapsed();
  if (elapsedTimer === undefined && !t.terminal) elapsedTimer = setInterval(updateElapsed, 1000);
  if (t.terminal && elapsedTimer !== undefined) {
    clearInterval(elapsedTimer);
    elapsedTimer = undefined;
  }
  renderQuestions();
  renderChanges(changesEl, t.worktree, (message) => vscode.postMessage(message));
  renderOpinions(opinionsEl, t, (message) => vscode.postMessage(message));
  renderFooter();
}

function updateElapsed(): void {
  const el = document.getElementById('elapsed');
  if (!el || !task?.startedAt) return;
  const end = task.endedAt ?? Date.now();
  el.textContent = formatDuration(end - task.startedAt);
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

function renderFooter(): void {
  if (!task) return;
  if (!task.canFollowUp) {
    footer.replaceChildren(task.terminal ? h('p', { class: 'hint', text: 'This task has finished. Retry runs the same prompt again as a new task.' }) : h('span'));
    return;
  }
  if (document.getElementById('follow-up')) return;
  const input = h('textarea', { id: 'follow-up', rows: '2', placeholder: 'Send a follow-up in the same conversation…', 'aria-label': 'Follow-up message' });
  const send = button('Send', { icon: 'send', kind: 'primary', shortcut: 'Ctrl+Enter' }, () => {
    const text = input.value.trim();
    if (!text) return;
    vscode.postMessage({ type: 'followUp', text });
    input.value = '';
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      send.click();
    }
  });
  footer.replaceChildren(h('div', { class: 'follow-up' }, input, send));
}

// Transcript

const KIND_ICONS: Record<string, string> = {
  agent: 'hubot',
  reasoning: 'lightbulb',
  command: 'terminal',
  file: 'diff',
  tool: 'tools',
  user: 'account',
  status: 'info',
  error: 'error',
};

function appendEntries(entries: OutputEntry[]): void {
  const atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
  const fragment = document.createDocumentFragment();
  for (const entry of entries) {
    const existing = entry.id !== undefined ? entryElements.get(entry.id) : undefined;
    const el = renderEntry(entry);
    if (existing) existing.replaceWith(el);
    else fragment.append(el);
    if (entry.id !== undefined) entryElements.set(entry.id, el);
  }
  transcript.append(fragment);
  if (atBottom) transcript.scrollTop = transcript.scrollHeight;
}

function renderEntry(entry: OutputEntry): HTMLElement {
  const el = h('div', { class: `entry kind-${entry.kind}`, 'data-kind': entry.kind });
  el.append(icon(KIND_ICONS[entry.kind] ?? 'circle'));
  const body = h('div', { class: 'body' });
  if (entry.kind === 'command') {
    body.append(h('code', { class: 'command', text: entry.text }));
    if (entry.exitCode !== undefined) body.append(h('span', { class: `exit ${entry.exitCode === 0 ? 'ok' : 'bad'}`, text: `exit ${entry.exitCode}` }));
  } else {
    body.append(h('div', { class: 'text', text: entry.text }));
  }
  if (entry.detail) {
    const details = h('details');
    details.append(h('summary', { text: 'Details' }), h('pre', { text: entry.detail }));
    body.append(details);
  }
  el.append(body, h('time', { text: new Date(entry.at).toLocaleTimeString(), datetime: new Date(entry.at).toISOString() }));
  return el;
}

// Questions

function renderQuestions(): void {
  const views = task?.questions ?? [];
  drafts.keepOnly(views.map((view) => view.question.requestId));
  const key = views.map((v) => v.payloadHash).join(',');
  if (key === renderedQuestionKey) return;
  renderedQuestionKey = key;
  // L2: cards of questions still pending are kept as they are, so a re-render never wipes a typed answer.
  const next = new Map<string, HTMLElement>();
  const fresh: HTMLElement[] = [];
  for (const view of views) {
    let card = questionCards.get(view.payloadHash);
    if (!card) {
      fresh.push((card = renderQuestion(view)));
      const draft = drafts.get(view.question.requestId, view.payloadHash);
      if (draft) returnTo = fillDraft(card, draft) ?? returnTo;
    }
    next.set(view.payloadHash, card);
  }
  for (const [hash, card] of questionCards) if (!next.has(hash)) card.remove();
  [...next.values()].forEach((card, index) => {
    if (questionsEl.children[index] !== card) questionsEl.insertBefore(card, questionsEl.children[index] ?? null);
  });
  questionCards = next;
  // A new question takes the keyboard only while the panel has it and nothing in it is focused; it focuses the card,
  // never its Approve button (a keystroke meant for something else must not approve) — or the field of a restored
  // draft that the user was typing in.
  if (fresh.length > 0 && document.hasFocus() && nothingFocused()) takeKeyboard(fresh[0]);
}

/** Gives the panel's keyboard to the field of a restored draft that had it (once), else to `card`. */
function takeKeyboard(card: HTMLElement | null): void {
  const field = returnTo;
  returnTo = undefined;
  if (field?.isConnected) focusField(field);
  else card?.focus();
}

/**
 * Keeps what a question's card holds now, and which of its fields has the keyboard, in the webview's state. While
 * nothing has it (the field is losing it, e.g. to another editor: its change event comes with the body focused), the
 * field that had it is kept.
 */
function saveDraft(card: HTMLElement): void {
  const { requestId, payloadHash } = card.dataset;
  if (!requestId || !payloadHash) return;
  const draft = readDraft(card, payloadHash, document.activeElement);
  if (draft.focus === undefined && nothingFocused()) draft.focus = drafts.get(requestId, payloadHash)?.focus;
  drafts.set(requestId, draft);
}

const cardOf = (target: EventTarget | null): HTMLElement | null => (target instanceof Element ? target.closest<HTMLElement>('form.question') : null);
for (const type of ['input', 'change']) {
  questionsEl.addEventListener(type, (event) => {
    const card = cardOf(event.target);
    if (card) saveDraft(card);
  });
}
// The keyboard moved: the card it went to, and a card whose draft says it had the keyboard, are saved again.
document.addEventListener('focusin', (event) => {
  const into = cardOf(event.target);
  for (const card of questionCards.values()) {
    const { requestId = '', payloadHash = '' } = card.dataset;
    if (card === into || drafts.get(requestId, payloadHash)?.focus !== undefined) saveDraft(card);
  }
});

function nothingFocused(): boolean {
  return document.activeElement === null || document.activeElement === document.body;
}

// When the user brings the panel to the keyboard (opens or clicks into it), start on the first question's card.
// Deferred, so a click that focuses a control of its own keeps it.
window.addEventListener('focus', () => {
  setTimeout(() => {
    if (nothingFocused() && document.hasFocus()) takeKeyboard(questionsEl.querySelector<HTMLElement>('.question'));
  }, 0);
});

function renderQuestion(view: QuestionView): HTMLElement {
  const q = view.question;
  const card = h('form', { class: `question q-${q.type}`, 'data-request-id': q.requestId, 'data-payload-hash': view.payloadHash, 'aria-label': questionTitle(q), tabindex: '-1' });
  card.addEventListener('submit', (event) => event.preventDefault());
  card.append(h('h2', {}, icon(questionIcon(q)), h('span', { text: questionTitle(q) })));
  const send = (answer: Parameters<typeof answerMessage>[1]): void => {
    if (sending.has(q.requestId)) return;
    sending.add(q.requestId);
    for (const b of card.querySelectorAll('button')) b.disabled = true;
    card.querySelector('.question-error')?.remove();
    vscode.postMessage(answerMessage(view, answer));
  };
  switch (q.type) {
    case 'command_approval': {
      card.append(h('pre', { class: 'command-text', text: q.command }));
      if (q.cwd) card.append(h('p', { class: 'muted' }, 'in ', h('code', { text: q.cwd })));
      if (q.reason) card.append(h('p', { class: 'reason', text: q.reason }));
      card.append(approvalButtons(q.canApproveForSession !== false, send));
      break;
    }
    case 'file_approval': {
      const list = h('ul', { class: 'files' });
      for (const change of q.fileChanges) {
        const { added, removed } = countLines(change.patch);
        const item = h('li', {}, h('span', { class: `file-kind ${change.kind}`, text: change.kind }), h('code', { text: change.path }), h('span', { class: 'added', text: `+${added}` }), h('span', { class: 'removed', text: `−${removed}` }));
        item.append(button('Open Diff', { icon: 'diff', shortcut: undefined }, () => vscode.postMessage({ type: 'openDiff', requestId: q.requestId, path: change.path })));
        const details = h('details');
        details.append(h('summary', { text: 'Patch' }), h('pre', { class: 'patch', text: change.patch }));
        item.append(details);
        list.append(item);
      }
      card.append(list);
      if (q.reason) card.append(h('p', { class: 'reason', text: q.reason }));
      card.append(approvalButtons(q.canApproveForSession === true, send));
      break;
    }
    case 'user_input':
      card.append(userInputForm(q.questions, send));
      break;
    case 'elicitation':
      card.append(elicitationForm(q, send));
      break;
    case 'dynamic_tool': {
      card.append(h('p', {}, 'Tool ', h('code', { text: q.toolName }), ' was called with:'));
      card.append(h('pre', { class: 'args', text: JSON.stringify(q.arguments, null, 2) }));
      const reply = h('textarea', { rows: '3', 'aria-label': 'Tool result', placeholder: 'Result text for the agent' });
      card.append(reply);
      card.append(h('div', { class: 'buttons' },
        button('Send result', { icon: 'check', kind: 'primary', shortcut: 'Alt+A' }, () => send({ text: reply.value, success: true })),
        button('Mark failed', { icon: 'close', kind: 'danger', shortcut: 'Alt+D' }, () => send({ text: reply.value || 'The user marked the call as failed', success: false })),
      ));
      break;
    }
  }
  return card;
}

function approvalButtons(forSession: boolean, send: (answer: { decision: 'approve' | 'approveForSession' | 'deny' }) => void): HTMLElement {
  const row = h('div', { class: 'buttons' });
  row.append(button('Approve', { icon: 'check', kind: 'primary', shortcut: 'Alt+A' }, () => send({ decision: 'approve' })));
  if (forSession) row.append(button('Approve for session', { icon: 'check-all', shortcut: 'Alt+S' }, () => send({ decision: 'approveForSession' })));
  row.append(button('Deny', { icon: 'close', kind: 'danger', shortcut: 'Alt+D' }, () => send({ decision: 'deny' })));
  return row;
}

function userInputForm(questions: UserInputQuestion[], send: (answer: { answers: Record<string, string[]> }) => void): HTMLElement {
  const wrap = h('div', { class: 'inputs' });
  const readers: (() => [string, string[]])[] = [];
  for (const question of questions) {
    const fieldset = h('fieldset');
    fieldset.append(h('legend', { text: question.header ? `${question.header}: ${question.text}` : question.text }));
    const name = `q-${question.id}`;
    const inputs: HTMLInputElement[] = [];
    (question.options ?? []).forEach((option, index) => {
      const id = `${name}-${index}`;
      const input = h('input', { type: question.multiSelect ? 'checkbox' : 'radio', name, id, value: option.label });
      inputs.push(input);
      const label = h('label', { for: id }, input, h('span', { text: option.label }));
      if (option.description) label.append(h('small', { text: option.description }));
      fieldset.append(label);
    });
    let free: HTMLInputElement | undefined;
    if (question.allowFreeform !== false || !question.options?.length) {
      free = h('input', { type: 'text', class: 'free', 'aria-label': `Your own answer to: ${question.text}`, placeholder: question.options?.length ? 'Or type your own answer' : 'Your answer' });
      fieldset.append(free);
    }
    wrap.append(fieldset);
    readers.push(() => {
      const chosen = inputs.filter((input) => input.checked).map((input) => input.value);
      if (free?.value.trim()) chosen.push(free.value.trim());
      return [question.id, chosen];
    });
  }
  wrap.append(h('div', { class: 'buttons' }, button('Submit', { icon: 'check', kind: 'primary', shortcut: 'Alt+A' }, () => send({ answers: Object.fromEntries(readers.map((read) => read())) }))));
  return wrap;
}

function showQuestionError(requestId: string, text: string): void {
  const card = [...questionsEl.querySelectorAll<HTMLElement>('.question')].find((el) => el.dataset.requestId === requestId);
  if (card) {
    for (const b of card.querySelectorAll('button')) b.disabled = false;
    showFormError(card, text);
  } else showNotice('error', text);
}

function showNotice(level: 'info' | 'error', text: string): void {
  const el = h('div', { class: `notice-toast ${level}`, role: level === 'error' ? 'alert' : 'status', text });
  document.body.append(el);
  setTimeout(() => el.remove(), 6000);
}

function answerMessage(view: QuestionView, answer: WebviewAnswer): WebviewMessage {
  return { type: 'answer', requestId: view.question.requestId, payloadHash: view.payloadHash, answer };
}
type WebviewAnswer = Extract<WebviewMessage, { type: 'answer' }>['answer'];

function questionTitle(q: PendingQuestion): string {
  switch (q.type) {
    case 'command_approval':
      return 'Run this command?';
    case 'file_approval':
      return q.fileChanges.length === 1 ? 'Apply this file change?' : `Apply these ${q.fileChanges.length} file changes?`;
    case 'user_input':
      return q.questions.length === 1 ? 'The agent asks' : `The agent asks ${q.questions.length} questions`;
    case 'elicitation':
      return 'An MCP server needs input';
    case 'dynamic_tool':
      return `Tool call: ${q.toolName}`;
  }
}

function questionIcon(q: PendingQuestion): string {
  return { command_approval: 'terminal', file_approval: 'diff', user_input: 'question', elicitation: 'server', dynamic_tool: 'tools' }[q.type];
}

function countLines(patch: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of patch.split('\n')) {
    if (line.startsWith('+++') || line.startsWith('---')) continue;
    if (line.startsWith('+')) added++;
    else if (line.startsWith('-')) removed++;
  }
  return { added, removed };
}

// Keyboard: Alt+A approve/submit, Alt+S approve for session, Alt+D deny/decline — on the first question.
document.addEventListener('keydown', (event) => {
  if (!event.altKey || event.ctrlKey || event.metaKey) return;
  const card = questionsEl.querySelector<HTMLElement>('.question');
  if (!card) return;
  const key = event.key.toLowerCase();
  const shortcut = key === 'a' ? 'Alt+A' : key === 's' ? 'Alt+S' : key === 'd' ? 'Alt+D' : undefined;
  if (!shortcut) return;
  const target = [...card.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.getAttribute('aria-keyshortcuts') === shortcut);
  if (target && !target.disabled) {
    event.preventDefault();
    target.click();
  }
});

vscode.postMessage({ type: 'ready' });
