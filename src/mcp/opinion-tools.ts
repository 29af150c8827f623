// Second opinions for a delegating agent (DESIGN §9): spawn_task's `attempts` (one prompt, several agents, one task
// each) and review_task (another agent reviews a task's change read-only and answers with findings). Keeping one
// attempt is a merge, so it stays the user's (Merge This Attempt), like merge_task_changes.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MAX_ATTEMPTS, type WireAttempts } from './protocol';
import { structuredTask } from './task-store';
import { result } from './tool-result';
import type { ToolDefinition } from './tools';

const providerDescription = 'The agent: "codex", "claude-cli", "copilot" or "acp:<name>".';

/** spawn_task's `attempts` property. */
export const ATTEMPTS_SCHEMA = {
  type: 'array',
  minItems: 1,
  maxItems: MAX_ATTEMPTS,
  items: {
    type: 'object',
    properties: {
      provider: { type: 'string', minLength: 1, description: providerDescription },
      profile: { type: 'string', description: "One of the user's agentTasks.profiles of that provider (an account); default: the provider's own." },
      model: { type: 'string', description: "Model for this agent; default: the spawn's model, else the agent's own default." },
    },
    required: ['provider'],
    additionalProperties: false,
  },
  description:
    'Several agents on the same prompt: one task per entry, each in a git worktree of its own, all in one attempt group. Compare them ' +
    'with get_task (changes, check) and get_task_changes, or ask review_task for a second opinion; the user merges the one to keep. ' +
    `With attempts, leave out provider (and isolation). At most ${MAX_ATTEMPTS}.`,
};

/** What spawn_task answers when it started attempts. */
export function attemptsResult({ attemptGroup, tasks }: WireAttempts): CallToolResult {
  const lines = tasks.map((task) => `- ${task.id} (${task.provider}${task.model ? `, model ${task.model}` : ''}) — ${task.status}`);
  return result(
    `Started ${tasks.length} attempt${tasks.length === 1 ? '' : 's'} on the same prompt (attempt group ${attemptGroup}), each in a git worktree of its own:\n` +
      `${lines.join('\n')}\n\nCall wait_for_task on each. Compare them with get_task (change summary, check) and get_task_changes, or ask ` +
      'review_task for a review. The user keeps one in VS Code (Merge This Attempt), which discards the others.',
    { attemptGroup, taskIds: tasks.map((task) => task.id), tasks: tasks.map(structuredTask) },
    `Started ${tasks.length} attempts (${tasks.map((task) => `${task.id}: ${task.provider}`).join(', ')}) in attempt group ${attemptGroup}; call wait_for_task on each.`,
  );
}

export const REVIEW_TASK_TOOL: ToolDefinition = {
  name: 'review_task',
  title: 'Review task',
  description:
    'Asks another agent for a second opinion on the change a finished task you delegated made in its git worktree. The reviewer runs ' +
    'read-only in that worktree (every file change it tries is declined) and answers with findings (severity, file, line, title, ' +
    "body). By default the reviewer is the first available agent other than the task's own, so another vendor reviews it; or name " +
    'provider (with profile and model). Returns the review task at once: wait_for_task on it, then get_task shows its findings. To ' +
    'have findings addressed, send them to the reviewed task with send_message.',
  inputSchema: {
    type: 'object',
    properties: {
      taskId: { type: 'string', description: 'The task whose change to review (one you delegated, finished, with its worktree not merged yet).' },
      provider: { type: 'string', minLength: 1, description: `${providerDescription} Default: the first available agent other than the task's.` },
      profile: { type: 'string', description: "One of the user's agentTasks.profiles of that provider (needs provider)." },
      model: { type: 'string', description: "Model for the reviewer; default: the agent's own default." },
    },
    required: ['taskId'],
    additionalProperties: false,
  },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  run: async (args, { host, clientName }) => {
    const review = await host.call('review', {
      taskId: String(args.taskId),
      provider: args.provider as string | undefined,
      profile: args.profile as string | undefined,
      model: args.model as string | undefined,
      client: clientName,
    });
    return result(
      `Started review task ${review.id}: ${review.provider} reviews the change of ${review.reviewOf ?? String(args.taskId)}, read-only in its ` +
        `worktree; it is ${review.status}. Call wait_for_task with taskId "${review.id}"; when it completes, get_task shows its findings.`,
      structuredTask(review),
    );
  },
};
