// How a task's worktree reads for an agent (DESIGN §8): its change summary in get_task and task://{id}, and a page
// of its diff (get_task_changes).
import type { WorktreeState } from '../core/task-state';
import type { WireDiffPage, WireWorktree } from './protocol';

const STATE_TEXT: Record<WorktreeState, string> = {
  active: "not merged yet: the user merges it in VS Code (or you, with merge_task_changes, if the user allowed it)",
  conflict: "it conflicts with the user's checkout; nothing was changed there",
  merged: "merged into the user's checkout",
  applied: "applied to the user's checkout as uncommitted changes",
  discarded: 'discarded',
};

/** `+12 −3 · 4 files` */
export function changeLine(worktree: WireWorktree): string {
  const { insertions, deletions, fileCount } = worktree.changes;
  return `+${insertions} −${deletions} · ${fileCount} file${fileCount === 1 ? '' : 's'}`;
}

/** The worktree section of a task's Markdown: where it is, its state and its changed files (as many as the wire lists). */
export function worktreeMarkdown(taskId: string, worktree: WireWorktree): string[] {
  const lines = [
    '## Worktree',
    '',
    `- **State**: ${worktree.state} — ${STATE_TEXT[worktree.state]}`,
    `- **Branch**: \`${worktree.branch}\` from \`${worktree.baseCommit.slice(0, 12)}\`, in \`${worktree.path}\``,
    `- **Changes**: ${changeLine(worktree)}`,
  ];
  if (worktree.conflicts?.length) lines.push(`- **Conflicts**: ${worktree.conflicts.join(', ')}`);
  const { files, fileCount } = worktree.changes;
  if (files.length > 0) lines.push('');
  for (const file of files) {
    const name = file.oldPath !== undefined ? `${file.oldPath} → ${file.path}` : file.path;
    lines.push(`- ${file.status} \`${name}\` ${file.binary ? '(binary)' : `(+${file.insertions} −${file.deletions})`}`);
  }
  if (fileCount > files.length) lines.push(`- … and ${fileCount - files.length} more files (${fileCount} in all)`);
  if (fileCount > 0 && worktree.state !== 'applied' && worktree.state !== 'discarded') {
    lines.push('', `The diff: get_task_changes with taskId "${taskId}" (paged; add "path" for one file).`);
  }
  return lines;
}

/** What a page of the diff holds and where the next page starts (two lines). */
export function diffPageHeadline(page: WireDiffPage): string {
  const what = page.path !== undefined ? `\`${page.path}\` in task ${page.taskId}` : `task ${page.taskId}`;
  const header = `Changes of ${what} against its base ${page.worktree.baseCommit.slice(0, 12)} (branch ${page.worktree.branch}; the task: ${changeLine(page.worktree)}).`;
  if (page.totalLines === 0) return `${header}\nNo changes${page.path !== undefined ? ' to this file' : ''}.`;
  if (page.lines === 0) return `${header}\nThe diff has ${page.totalLines} lines; offset ${page.offset} is past its end.`;
  const next = page.nextOffset !== undefined ? `call get_task_changes again with offset ${page.nextOffset} for the next page.` : 'this is the last page.';
  return `${header}\nLines ${page.offset + 1}–${page.offset + page.lines} of ${page.totalLines}; ${next}`;
}

/** A page of the diff under its headline, fenced so no line of it can close the fence. */
export function diffPageText(page: WireDiffPage): string {
  const headline = diffPageHeadline(page);
  if (page.lines === 0) return headline;
  return `${headline}\n\n${fenced(page.text, 'diff')}`;
}

/** `text` in a code fence no line of it can close (text ends with a newline, or gets one). */
export function fenced(text: string, language = ''): string {
  const fence = '`'.repeat(Math.max(3, longestRun(text, '`') + 1));
  return `${fence}${language}\n${text}${text.endsWith('\n') ? '' : '\n'}${fence}`;
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}
