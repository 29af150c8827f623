/**
 * The task panel's changed-files section (DESIGN §8): the worktree's state, its files (status letter, path, +/−; a
 * click opens that file's diff) and the actions its state allows. Paths come from the agent's work: text only.
 */
import type { WorktreeFileChange } from '../src/core/task-state';
import type { WebviewMessage, WorktreeAction, WorktreeView } from '../src/host/webview/protocol';
import { actionButtons, h, icon } from './dom';

const ACTIONS: Record<WorktreeAction, { label: string; icon: string; kind?: 'primary' | 'danger'; title: string }> = {
  review: { label: 'Review', icon: 'diff-multiple', title: 'Review Changes: every changed file in the multi-file diff editor' },
  merge: { label: 'Merge', icon: 'git-merge', kind: 'primary', title: 'Merge Changes: commit the worktree and merge its branch into the main checkout' },
  apply: { label: 'Apply', icon: 'git-pull-request-go-to-changes', title: 'Apply as Uncommitted Changes to the main checkout' },
  resolve: { label: 'Resolve with Agent', icon: 'sparkle', kind: 'primary', title: 'A follow-up in the worktree that merges the main branch in and resolves the conflicts' },
  discard: { label: 'Discard', icon: 'discard', kind: 'danger', title: 'Discard Changes: delete the worktree and its branch (asks first)' },
  openWorktree: { label: 'Open Worktree', icon: 'empty-window', title: 'Open Worktree in New Window' },
};

const STATE_TEXT: Record<WorktreeView['state'], string> = {
  active: 'Changes in its worktree',
  conflict: 'Conflicts with the main checkout',
  merged: 'Merged into the main checkout',
  applied: 'Applied to the main checkout as uncommitted changes',
  discarded: 'Discarded',
};

const LETTERS: Record<WorktreeFileChange['status'], string> = { added: 'A', modified: 'M', deleted: 'D', renamed: 'R' };

/** Draws the section; `post` sends the user's action to the host. */
export function renderChanges(section: HTMLElement, view: WorktreeView | undefined, post: (message: WebviewMessage) => void): void {
  if (!view) {
    section.hidden = true;
    section.replaceChildren();
    return;
  }
  section.hidden = false;
  const live = view.state === 'active' || view.state === 'conflict';
  const summary = `+${view.insertions} −${view.deletions} · ${view.fileCount} file${view.fileCount === 1 ? '' : 's'}`;
  const heading = h('h2', {}, icon(view.state === 'conflict' ? 'warning' : 'git-branch'), h('span', { text: STATE_TEXT[view.state] }));
  // Only a worktree with changed files shows a summary ("No files changed yet" says the rest).
  if (live && view.fileCount > 0) heading.append(h('span', { class: 'change-summary', text: summary }));
  const meta = h('p', { class: 'muted' }, 'Branch ', h('code', { text: view.branch }), ...(live ? [' in ', h('code', { text: view.path })] : []));
  const children: Node[] = [heading, meta];
  if (view.state === 'conflict' && view.conflicts?.length) {
    children.push(h('div', { class: 'error-banner', role: 'alert' }, icon('warning'), h('span', { text: `Conflicting files: ${view.conflicts.join(', ')}` })));
  }
  if (live && view.files.length === 0) children.push(h('p', { class: 'hint', text: 'No files changed yet.' }));
  if (live && view.files.length > 0) {
    const list = h('ul', { class: 'changed-files', 'aria-label': `Changed files: ${summary}` });
    for (const change of view.files) list.append(fileRow(change, post));
    children.push(list);
    if (view.fileCount > view.files.length) children.push(h('p', { class: 'hint', text: `and ${view.fileCount - view.files.length} more (Review shows every file)` }));
  }
  if (view.actions.length) {
    children.push(actionButtons(view.actions, ACTIONS, (action) => post({ type: 'worktree', action })));
  }
  section.replaceChildren(...children);
}

function fileRow(change: WorktreeFileChange, post: (message: WebviewMessage) => void): HTMLElement {
  const name = change.oldPath !== undefined ? `${change.oldPath} → ${change.path}` : change.path;
  const open = h('button', { type: 'button', class: 'file-link', title: `Open the diff of ${change.path}`, 'aria-label': `${change.status} ${name}, ${change.binary ? 'binary' : `${change.insertions} insertions, ${change.deletions} deletions`}: open its diff` });
  open.append(
    h('span', { class: `file-status status-${change.status}`, 'aria-hidden': 'true', text: LETTERS[change.status] }),
    h('code', { class: 'file-path', text: name }),
  );
  if (change.binary) open.append(h('span', { class: 'muted', text: 'binary' }));
  else open.append(h('span', { class: 'added', text: `+${change.insertions}` }), h('span', { class: 'removed', text: `−${change.deletions}` }));
  open.addEventListener('click', () => post({ type: 'openChange', path: change.path }));
  return h('li', { 'data-path': change.path }, open);
}
