import type { TaskState } from './task-state';

/** The longest agent-given title kept (it is untrusted text from the agent). */
export const MAX_AGENT_TITLE = 120;
/**
 * How long a title is where it shares a line with other text: tree rows (the state detail follows it, and a side
 * bar of the default width shows about 40 characters), quick picks, notifications.
 */
export const ROW_TITLE_LENGTH = 40;
/** How long a title is on the task panel's tab. */
export const TAB_TITLE_LENGTH = 32;

// C0/C1 controls, zero-width and bidirectional formatting characters: they would hide or reorder what the user reads.
const INVISIBLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/g;

/**
 * An agent-given title as plain text: one line, whitespace collapsed, invisible and bidi-control characters removed,
 * at most MAX_AGENT_TITLE characters. Undefined when nothing readable is left (or it is not a string).
 */
export function cleanAgentTitle(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const text = collapse(raw.slice(0, MAX_AGENT_TITLE * 4).replace(INVISIBLE, ''));
  return text ? shorten(text, MAX_AGENT_TITLE) : undefined;
}

/**
 * What a task is called everywhere it is listed: the agent's own thread/session title when it gave one, else the
 * first non-empty line of the prompt; shortened to `max` characters with an ellipsis. Never empty.
 */
export function taskTitle(task: Pick<TaskState, 'title' | 'prompt'>, max = ROW_TITLE_LENGTH): string {
  const own = cleanAgentTitle(task.title);
  if (own) return shorten(own, max);
  const prompt = typeof task.prompt === 'string' ? task.prompt.replace(INVISIBLE, '') : '';
  const line = prompt.split(/\r\n|\r|\n/).map(collapse).find((l) => l.length > 0);
  return line ? shorten(line, max) : '(empty prompt)';
}

/** `text` cut to at most `max` characters, at a word boundary when one is near, ending with "…". */
export function shorten(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  const room = Math.max(1, max - 1);
  let cut = chars.slice(0, room).join('');
  // Unless the cut already ends a word, go back to the last space when it is near.
  const space = cut.lastIndexOf(' ');
  if (chars[room] !== ' ' && space >= room * 0.6) cut = cut.slice(0, space);
  return `${cut.replace(/[\s,.;:·–—-]+$/u, '')}…`;
}

function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
