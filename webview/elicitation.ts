/** The task panel's form for an MCP elicitation: one field per property of its JSON schema. */
import type { PendingQuestion } from '../src/core/task-state';
import { button, h, showFormError } from './dom';

type JsonSchemaProperty = { type?: string; title?: string; description?: string; enum?: unknown[]; enumNames?: string[] };

export function elicitationForm(q: Extract<PendingQuestion, { type: 'elicitation' }>, send: (answer: { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, unknown> }) => void): HTMLElement {
  const wrap = h('div', { class: 'inputs' });
  if (q.serverName) wrap.append(h('p', { class: 'muted' }, 'From MCP server ', h('code', { text: q.serverName })));
  wrap.append(h('p', { class: 'message', text: q.message }));
  const properties = ((q.schema?.properties ?? {}) as Record<string, JsonSchemaProperty>);
  const required = new Set((q.schema?.required as string[] | undefined) ?? []);
  const readers: (() => [string, unknown] | undefined)[] = [];
  for (const [name, property] of Object.entries(properties)) {
    const id = `f-${name}`;
    const label = h('label', { for: id, class: 'field' }, h('span', { text: `${property.title ?? name}${required.has(name) ? ' *' : ''}` }));
    if (property.description) label.append(h('small', { text: property.description }));
    let read: () => unknown;
    if (property.enum) {
      const select = h('select', { id });
      if (!required.has(name)) select.append(h('option', { value: '', text: '' }));
      property.enum.forEach((value, index) => select.append(h('option', { value: String(index), text: property.enumNames?.[index] ?? String(value) })));
      read = () => (select.value === '' ? undefined : property.enum![Number(select.value)]);
      label.append(select);
    } else if (property.type === 'boolean') {
      const input = h('input', { type: 'checkbox', id });
      read = () => input.checked;
      label.prepend(input);
    } else {
      const numeric = property.type === 'number' || property.type === 'integer';
      const input = h('input', { type: numeric ? 'number' : 'text', id, step: property.type === 'integer' ? '1' : numeric ? 'any' : undefined });
      read = () => {
        if (input.value === '') return undefined;
        return numeric ? Number(input.value) : input.value;
      };
      label.append(input);
    }
    wrap.append(label);
    readers.push(() => {
      const value = read();
      return value === undefined ? undefined : [name, value];
    });
  }
  const accept = (): void => {
    const content = Object.fromEntries(readers.map((read) => read()).filter((pair): pair is [string, unknown] => pair !== undefined));
    const missing = [...required].filter((name) => content[name] === undefined || content[name] === '');
    if (missing.length) {
      showFormError(wrap, `Required: ${missing.join(', ')}`);
      return;
    }
    for (const [name, value] of Object.entries(content)) {
      if (properties[name]?.type === 'integer' && !Number.isInteger(value)) {
        showFormError(wrap, `${name} must be a whole number`);
        return;
      }
    }
    send({ action: 'accept', content });
  };
  wrap.append(h('div', { class: 'buttons' },
    button('Accept', { icon: 'check', kind: 'primary', shortcut: 'Alt+A' }, accept),
    button('Decline', { icon: 'close', kind: 'danger', shortcut: 'Alt+D' }, () => send({ action: 'decline' })),
    button('Cancel', { icon: 'circle-slash' }, () => send({ action: 'cancel' })),
  ));
  return wrap;
}
