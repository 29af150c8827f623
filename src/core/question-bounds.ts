import type { FileChange, PendingQuestion } from './task-state';

/** The longest patch kept where a question leaves the window's memory (state.json, the MCP wire). */
export const MAX_SHARED_PATCH_CHARS = 64 * 1024;

/**
 * A question as it may be written to state.json or sent to an MCP client: a file approval keeps a bounded patch and
 * never the proposed full content (which may hold a whole file the agent named). Other questions are unchanged.
 */
export function boundedQuestion<Q extends PendingQuestion>(question: Q, maxPatchChars: number = MAX_SHARED_PATCH_CHARS): Q {
  if (question.type !== 'file_approval') return question;
  return { ...question, fileChanges: question.fileChanges.map((change) => boundedChange(change, maxPatchChars)) };
}

function boundedChange(change: FileChange, maxPatchChars: number): FileChange {
  const { newContent: _dropped, ...rest } = change;
  void _dropped;
  if (rest.patch.length <= maxPatchChars) return rest;
  return { ...rest, patch: `${rest.patch.slice(0, maxPatchChars)}\n… (${rest.patch.length - maxPatchChars} more characters of this patch are not shown here)\n` };
}
