/**
 * Security review L2: what the user typed or chose in a question's form and has not sent yet. The panel's webview is
 * not kept while its tab is hidden (retainContextWhenHidden is off), so its cards are built anew when the tab shows
 * again; the drafts live in the webview's state (acquireVsCodeApi().setState/getState), which VS Code keeps for it,
 * and go back into the card of the same question (same request id and payload hash), with the keyboard in the field
 * it was in. Drafts of questions no longer pending (answered, withdrawn) are dropped.
 */

/** The fields of one question's card, in document order: a text field's value, a checkbox's or radio's state. */
export interface Draft {
  payloadHash: string;
  values: (string | boolean)[];
  /** The field that had the keyboard (its index in `values`). */
  focus?: number;
}

/** The part of the webview API the drafts use. */
export interface StateApi {
  getState(): unknown;
  setState(state: unknown): void;
}

type Field = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

export class Drafts {
  private readonly drafts: Map<string, Draft>;

  constructor(private readonly api: StateApi) {
    this.drafts = new Map(Object.entries(draftsIn(api.getState())));
  }

  /** The draft of a question, only if it was made for exactly what the question shows now. */
  get(requestId: string, payloadHash: string): Draft | undefined {
    const draft = this.drafts.get(requestId);
    return draft?.payloadHash === payloadHash ? draft : undefined;
  }

  set(requestId: string, draft: Draft): void {
    this.drafts.set(requestId, draft);
    this.save();
  }

  /** Drops the drafts of every question not in `pending`. */
  keepOnly(pending: readonly string[]): void {
    const keep = new Set(pending);
    let dropped = false;
    for (const requestId of [...this.drafts.keys()]) {
      if (keep.has(requestId)) continue;
      this.drafts.delete(requestId);
      dropped = true;
    }
    if (dropped) this.save();
  }

  /** The request ids with a draft (for tests). */
  requestIds(): string[] {
    return [...this.drafts.keys()];
  }

  private save(): void {
    const state = this.api.getState();
    const base = isRecord(state) ? state : {};
    this.api.setState({ ...base, drafts: Object.fromEntries(this.drafts) });
  }
}

/** The drafts of a saved state; anything malformed is left out. */
export function draftsIn(state: unknown): Record<string, Draft> {
  const saved = isRecord(state) && isRecord(state.drafts) ? state.drafts : {};
  const drafts: Record<string, Draft> = {};
  for (const [requestId, value] of Object.entries(saved)) {
    if (!isRecord(value) || typeof value.payloadHash !== 'string' || !Array.isArray(value.values)) continue;
    if (!value.values.every((v) => typeof v === 'string' || typeof v === 'boolean')) continue;
    const focus = typeof value.focus === 'number' && Number.isInteger(value.focus) ? value.focus : undefined;
    drafts[requestId] = { payloadHash: value.payloadHash, values: value.values as (string | boolean)[], focus };
  }
  return drafts;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The DOM side

export function fieldsOf(card: HTMLElement): Field[] {
  return [...card.querySelectorAll<Field>('input, textarea, select')];
}

const isToggle = (field: Field): field is HTMLInputElement => field instanceof HTMLInputElement && (field.type === 'checkbox' || field.type === 'radio');

/** What the card's fields hold now; `focused` is the element that has the keyboard. */
export function readDraft(card: HTMLElement, payloadHash: string, focused: Element | null): Draft {
  const fields = fieldsOf(card);
  const focus = fields.findIndex((field) => field === focused);
  return { payloadHash, values: fields.map((field) => (isToggle(field) ? field.checked : field.value)), focus: focus >= 0 ? focus : undefined };
}

/** Puts a draft back into a freshly built card of the same question. Returns the field that had the keyboard. */
export function fillDraft(card: HTMLElement, draft: Draft): Field | undefined {
  const fields = fieldsOf(card);
  if (fields.length !== draft.values.length) return undefined;
  fields.forEach((field, index) => {
    const value = draft.values[index];
    if (isToggle(field)) field.checked = value === true;
    else if (typeof value === 'string') field.value = value;
  });
  return draft.focus === undefined ? undefined : fields[draft.focus];
}

/** Gives a field the keyboard with the caret at the end of its text. */
export function focusField(field: Field): void {
  field.focus();
  if (field instanceof HTMLTextAreaElement || (field instanceof HTMLInputElement && field.type === 'text')) {
    field.setSelectionRange(field.value.length, field.value.length);
  }
}
