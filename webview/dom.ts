/** Small DOM helpers of the task panel. Text is only ever set through textContent, never as HTML. */

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<Record<string, string>> = {}, ...children: (Node | string | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined) continue;
    if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value);
  }
  for (const child of children) if (child !== undefined) el.append(child);
  return el;
}

export function icon(name: string): HTMLElement {
  return h('span', { class: `codicon codicon-${name}`, 'aria-hidden': 'true' });
}

export function button(label: string, options: { icon?: string; kind?: 'primary' | 'secondary' | 'danger'; shortcut?: string; title?: string }, onClick: () => void): HTMLButtonElement {
  const el = h('button', {
    class: `btn ${options.kind ?? 'secondary'}`,
    type: 'button',
    title: options.title ?? (options.shortcut ? `${label} (${options.shortcut})` : label),
    'aria-keyshortcuts': options.shortcut,
  });
  if (options.icon) el.append(icon(options.icon));
  el.append(h('span', { text: label }));
  if (options.shortcut) el.append(h('kbd', { text: options.shortcut }));
  el.addEventListener('click', onClick);
  return el;
}

export function linkButton(label: string, onClick: () => void): HTMLButtonElement {
  const el = h('button', { class: 'link', type: 'button', text: label });
  el.addEventListener('click', onClick);
  return el;
}

/** Shows a form's problem under it (one at a time). */
export function showFormError(container: HTMLElement, text: string): void {
  container.querySelector('.question-error')?.remove();
  container.append(h('p', { class: 'question-error', role: 'alert', text }));
}

/** What an action button shows. */
export interface ActionSpec {
  label: string;
  icon?: string;
  kind?: 'primary' | 'secondary' | 'danger';
  title?: string;
}

/** A row of buttons, one per action (its `data-action` names it), each calling `onClick` with its action. */
export function actionButtons<A extends string>(actions: readonly A[], specs: Record<A, ActionSpec>, onClick: (action: A) => void): HTMLDivElement {
  const row = h('div', { class: 'buttons' });
  for (const action of actions) {
    const spec = specs[action];
    const el = button(spec.label, { icon: spec.icon, kind: spec.kind, title: spec.title }, () => onClick(action));
    el.dataset.action = action;
    row.append(el);
  }
  return row;
}
