// How tasks read for an agent: the Markdown behind task://{id}, the transcript behind task://{id}/output, and the
// MCP task (SEP-1686) a task maps to.
import type { Task as McpTask } from '@modelcontextprotocol/sdk/types.js';
import { summarizeQuestion } from '../core/answers';
import { isTerminal, type OutputEntry } from '../core/task-state';
import { toMcpTaskStatus } from '../core/wire-state';
import type { WireQuestion, WireTask } from './protocol';
import { boundedQuestion } from '../core/question-bounds';
import { worktreeMarkdown } from './changes-format';
import { opinionFacts, opinionSections } from './opinions-format';

/** Suggested wait between tasks/get polls. */
export const POLL_INTERVAL_MS = 1_000;

export const taskUri = (id: string): string => `task://${id}`;
export const outputUri = (id: string): string => `task://${id}/output`;

/** Parses task://{id} and task://{id}/output. */
export function parseTaskUri(uri: string): { taskId: string; part: 'summary' | 'output' } | undefined {
  const match = /^task:\/\/([A-Za-z0-9_-]+)(\/output)?\/?$/.exec(uri);
  if (!match) return undefined;
  return { taskId: match[1], part: match[2] ? 'output' : 'summary' };
}

/** The MCP task for a task (DESIGN §3 wire mapping). Tasks are kept until the user clears them: ttl null. */
export function toMcpTask(task: WireTask): McpTask {
  return {
    taskId: task.id,
    status: toMcpTaskStatus(task.status),
    statusMessage: statusMessage(task),
    createdAt: new Date(task.created).toISOString(),
    lastUpdatedAt: new Date(task.updated).toISOString(),
    ttl: null,
    pollInterval: POLL_INTERVAL_MS,
  };
}

/** One line on where the task stands and what the delegating agent can do about it. */
export function statusMessage(task: WireTask): string {
  switch (task.status) {
    case 'waiting':
      return `Waiting for ${task.dependsOn.join(', ')} to complete`;
    case 'pending':
      return 'Queued: starts when a slot is free';
    case 'running':
      return 'Running';
    case 'rate_limited':
      return `Rate limited; it retries by itself${task.error ? ` (${task.error})` : ''}`;
    case 'waiting_answer':
      return task.pendingQuestions.map(questionLine).join(' | ') || 'Waiting for an answer';
    case 'completed':
      return 'Completed';
    case 'failed':
      return `Failed: ${task.error ?? 'no reason given'}`;
    case 'timed_out':
      return task.error ?? 'Timed out';
    case 'cancelled':
      return 'Cancelled';
    case 'unknown':
      return `Its state is unknown (lost when VS Code reloaded)${task.error ? `: ${task.error}` : ''}`;
    default: {
      const never: never = task.status;
      return String(never);
    }
  }
}

function questionLine(question: WireQuestion): string {
  const who = question.agentMayAnswer
    ? `answer it with answer_question (requestId "${question.requestId}")`
    : 'the user answers it in VS Code';
  return `${questionKind(question)}: ${summarizeQuestion(question)} — ${who}`;
}

function questionKind(question: WireQuestion): string {
  switch (question.type) {
    case 'user_input':
      return 'Question';
    case 'command_approval':
      return 'Command approval';
    case 'file_approval':
      return 'File change approval';
    case 'elicitation':
      return 'Form';
    case 'dynamic_tool':
      return 'Tool call';
    default: {
      const never: never = question;
      return String(never);
    }
  }
}

/** How to answer one question, with its exact shape. */
function answerHelp(question: WireQuestion): string {
  if (!question.agentMayAnswer) {
    return 'Only the user can answer this, in VS Code (the setting agentTasks.mcp.allowAgentApprovals is off). Wait for it with wait_for_task.';
  }
  switch (question.type) {
    case 'user_input': {
      const example = Object.fromEntries(question.questions.map((q) => [q.id, [q.options?.[0]?.label ?? '…']]));
      return `Answer with answer_question, answer = ${JSON.stringify({ answers: example })}${question.questions.length === 1 ? ' or just the text' : ''}.`;
    }
    case 'command_approval':
    case 'file_approval':
      return `Answer with answer_question, answer = "approve"${question.canApproveForSession ? ', "approveForSession"' : ''} or "deny".`;
    case 'elicitation':
      return 'Answer with answer_question, answer = {"action": "accept", "content": {…}} matching the schema, or "decline".';
    case 'dynamic_tool':
      return 'Answer with answer_question, answer = {"text": "<tool output>", "success": true}.';
    default: {
      const never: never = question;
      return String(never);
    }
  }
}

/** A question in full, as Markdown. */
export function questionMarkdown(question: WireQuestion): string {
  const lines = [`### ${questionKind(question)} — requestId \`${question.requestId}\``];
  switch (question.type) {
    case 'user_input':
      for (const q of question.questions) {
        lines.push(`- **${q.id}**: ${q.text}`);
        if (q.options?.length) lines.push(`  options: ${q.options.map((o) => `"${o.label}"`).join(', ')}${q.allowFreeform === false ? '' : ' (or free text)'}`);
      }
      break;
    case 'command_approval':
      lines.push('```sh', question.command, '```');
      if (question.cwd) lines.push(`in \`${question.cwd}\``);
      if (question.reason) lines.push(`Reason: ${question.reason}`);
      break;
    case 'file_approval':
      for (const change of boundedQuestion(question).fileChanges) lines.push(`- ${change.kind} \`${change.path}\``, '```diff', change.patch, '```');
      if (question.reason) lines.push(`Reason: ${question.reason}`);
      break;
    case 'elicitation':
      lines.push(question.message);
      if (question.schema) lines.push('Schema:', '```json', JSON.stringify(question.schema, null, 2), '```');
      break;
    case 'dynamic_tool':
      lines.push(`Tool \`${question.toolName}\` with arguments:`, '```json', JSON.stringify(question.arguments, null, 2), '```');
      break;
    default: {
      const never: never = question;
      lines.push(String(never));
    }
  }
  lines.push(answerHelp(question));
  return lines.join('\n');
}

/** The task as Markdown (task://{id}, get_task, wait_for_task). */
export function taskMarkdown(task: WireTask, recentOutput?: OutputEntry[]): string {
  const lines = [
    `# Task ${task.id}`,
    '',
    `- **Status**: ${task.status} (MCP: ${toMcpTaskStatus(task.status)}) — ${statusMessage(task)}`,
    `- **Provider**: ${task.provider}${task.model ? ` (model ${task.model})` : ''} · **Type**: ${task.taskType}`,
    `- **Created**: ${new Date(task.created).toISOString()}${task.completed ? ` · **Finished**: ${new Date(task.completed).toISOString()}` : ''}`,
  ];
  if (task.labels.length) lines.push(`- **Labels**: ${task.labels.join(', ')}`);
  if (task.dependsOn.length) lines.push(`- **Depends on**: ${task.dependsOn.join(', ')}`);
  if (task.parentId) lines.push(`- **Follows**: ${task.parentId}`);
  lines.push(...opinionFacts(task));
  if (task.usage) {
    lines.push(`- **Usage**: ${task.usage.inputTokens} input / ${task.usage.outputTokens} output tokens${task.usage.costUsd !== undefined ? `, $${task.usage.costUsd.toFixed(4)}` : ''}`);
  }
  lines.push('', '## Prompt', '', task.prompt);
  if (task.pendingQuestions.length) {
    lines.push('', '## Waiting for an answer', '');
    for (const question of task.pendingQuestions) lines.push(questionMarkdown(question), '');
  }
  if (task.result !== undefined && task.status === 'completed') lines.push('', '## Result', '', task.result);
  if (task.error && isTerminal(task.status)) lines.push('', '## Error', '', task.error);
  if (task.worktree) lines.push('', ...worktreeMarkdown(task.id, task.worktree));
  lines.push(...opinionSections(task));
  if (recentOutput?.length) {
    lines.push('', `## Recent output (full transcript: ${outputUri(task.id)})`, '', transcriptText(recentOutput));
  }
  return lines.join('\n');
}

/** A transcript as plain text, one entry per line (multi-line text indented). */
export function transcriptText(entries: OutputEntry[]): string {
  return entries
    .map((entry) => {
      const time = new Date(entry.at).toISOString().slice(11, 19);
      const exit = entry.exitCode !== undefined ? ` (exit ${entry.exitCode})` : '';
      const detail = entry.detail && entry.kind !== 'command' ? `\n    ${entry.detail.split('\n').join('\n    ')}` : entry.detail ? ` [${entry.detail}]` : '';
      return `[${time}] ${entry.kind}: ${entry.text.split('\n').join('\n    ')}${exit}${detail}`;
    })
    .join('\n');
}

/** The one-line verdict wait_for_task and tasks/result give for a finished task. */
export function finishedText(task: WireTask): string {
  switch (task.status) {
    case 'completed':
      return `Task ${task.id} completed.${task.result !== undefined ? `\n\nResult:\n${task.result}` : ''}`;
    case 'cancelled':
      return `Task ${task.id} was cancelled.`;
    default:
      return `Task ${task.id} ended ${task.status.replace('_', ' ')}: ${task.error ?? 'no reason given'}`;
  }
}
