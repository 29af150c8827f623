// A task as the MCP server bundle sees it (HostEvent/WireTask in protocol.ts): only what a delegating agent may see,
// with file contents bounded and, per question, whether the delegating agent may answer it.
import { boundedQuestion } from '../core/question-bounds';
import type { Finding, TaskCheck, TaskState, TaskWorktree } from '../core/task-state';
import {
  DELEGATED_LABEL,
  delegatorMayAnswer,
  MAX_CHECK_TAIL_CHARS,
  MAX_FINDING_TEXT_CHARS,
  MAX_WIRE_FILES,
  MAX_WIRE_FINDINGS,
  type WireTask,
  type WireWorktree,
} from './protocol';

/** How many transcript entries one request may ask for. */
export const MAX_OUTPUT_ENTRIES = 200;

export function isDelegated(task: TaskState): boolean {
  return task.labels.includes(DELEGATED_LABEL);
}

/** The wire form of a task, with its last `outputEntries` transcript entries (at most MAX_OUTPUT_ENTRIES). */
export function wireTask(task: TaskState, outputEntries: number, allowApprovals: boolean): WireTask {
  const delegated = isDelegated(task);
  const count = Math.min(Math.max(0, Math.floor(Number(outputEntries) || 0)), MAX_OUTPUT_ENTRIES);
  return {
    id: task.id,
    status: task.status,
    provider: task.provider,
    taskType: task.taskType,
    model: task.model,
    prompt: task.prompt,
    labels: [...task.labels],
    dependsOn: [...task.dependsOn],
    parentId: task.parentId,
    delegated,
    created: task.timestamps.created,
    updated: task.timestamps.updated,
    started: task.timestamps.started,
    completed: task.timestamps.completed,
    result: task.result,
    error: task.error,
    usage: task.usage,
    pendingQuestions: task.pendingQuestions.map((q) => ({ ...boundedQuestion(q), agentMayAnswer: delegated && delegatorMayAnswer(q.type, allowApprovals) })),
    output: count > 0 ? task.output.slice(-count) : undefined,
    worktree: task.worktree && wireWorktree(task.worktree),
    check: task.check && wireCheck(task.check),
    attemptGroup: task.attemptGroup,
    reviewOf: task.reviewOf,
    ...(task.findings ? { findings: task.findings.slice(0, MAX_WIRE_FINDINGS).map(wireFinding), findingCount: task.findings.length } : {}),
  };
}

/** A check with its tail's last MAX_CHECK_TAIL_CHARS characters. */
export function wireCheck(check: TaskCheck): TaskCheck {
  const { tail } = check;
  if (tail === undefined || tail.length <= MAX_CHECK_TAIL_CHARS) return { ...check };
  return { ...check, tail: `[… ${tail.length - MAX_CHECK_TAIL_CHARS} earlier characters not shown]\n${tail.slice(-MAX_CHECK_TAIL_CHARS)}` };
}

/** A finding with its texts cut to MAX_FINDING_TEXT_CHARS (a reviewer's unparsed answer can be long). */
function wireFinding(finding: Finding): Finding {
  return {
    ...finding,
    ...(finding.path !== undefined ? { path: cut(finding.path) } : {}),
    title: cut(finding.title),
    body: cut(finding.body),
  };
}

function cut(text: string): string {
  return text.length > MAX_FINDING_TEXT_CHARS ? `${text.slice(0, MAX_FINDING_TEXT_CHARS)} … [${text.length - MAX_FINDING_TEXT_CHARS} more characters not shown]` : text;
}

/** A worktree as the delegating agent sees it: where it is, what it started from, its state and (at most MAX_WIRE_FILES) changed files. */
export function wireWorktree(worktree: TaskWorktree): WireWorktree {
  const { files, insertions, deletions } = worktree.changes;
  return {
    path: worktree.path,
    branch: worktree.branch,
    baseCommit: worktree.baseCommit,
    state: worktree.state,
    ...(worktree.conflicts ? { conflicts: [...worktree.conflicts] } : {}),
    changes: { files: files.slice(0, MAX_WIRE_FILES).map((file) => ({ ...file })), fileCount: files.length, insertions, deletions },
  };
}
