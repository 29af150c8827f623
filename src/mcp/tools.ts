// The tools an agent uses to delegate work to Agent Task Worker, as one table: name, description, JSON Schema, run.
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { isTerminal, ISOLATIONS, TASK_STATUSES, TASK_TYPES, type AgentChoice, type Isolation, type TaskStatus, type TaskTypeName } from '../core/task-state';
import { changeLine, diffPageHeadline, diffPageText } from './changes-format';
import { finishedText, statusMessage, taskMarkdown } from './format';
import type { HostConnection } from './host-connection';
import { ATTEMPTS_SCHEMA, attemptsResult, REVIEW_TASK_TOOL } from './opinion-tools';
import { opinionLine } from './opinions-format';
import { DELEGATED_LABEL, DIFF_PAGE_LINES, MAX_DIFF_PAGE_CHARS, MAX_DIFF_PAGE_LINES, type SpawnParams, type WireQuestion, type WireTask } from './protocol';
import { structuredTask } from './task-store';
import { firstLine, result } from './tool-result';

/** Bounds for wait_for_task; MCP clients often stop a tool call after 60 s, so the default stays below. */
export const WAIT_DEFAULT_SECONDS = 45;
export const WAIT_MAX_SECONDS = 600;
const PROGRESS_EVERY_MS = 10_000;

/** What a tool run can use. */
export interface ToolContext {
  host: HostConnection;
  /** The MCP client's name from initialize, recorded on delegated tasks. */
  clientName: string | undefined;
  /** requestIds of questions only the user can answer that wait_for_task has already reported (per session). */
  reportedQuestions: Set<string>;
  extra: RequestHandlerExtra<ServerRequest, ServerNotification>;
}

export interface ToolDefinition {
  name: string;
  title: string;
  description: string;
  inputSchema: { type: 'object'; properties: Record<string, object>; required?: string[]; additionalProperties?: boolean };
  annotations?: ToolAnnotations;
  /** SEP-1686: the tool can run as an MCP task (task-augmented tools/call). */
  taskSupport?: 'optional';
  run(args: Record<string, unknown>, context: ToolContext): Promise<CallToolResult>;
}

const taskIdSchema = { type: 'string', description: 'The task id, e.g. "brave-otter-123" (spawn_task returns it).' };

export const TOOLS: readonly ToolDefinition[] = [
  {
    name: 'spawn_task',
    title: 'Spawn agent task',
    description:
      "Delegates a task to a coding agent (Codex, Claude Code, Copilot CLI or an ACP agent) that runs in the user's VS Code, in the open " +
      'workspace. Returns at once with the task id; then call wait_for_task to get the result. The agent does not see your ' +
      'conversation: put everything it needs in the prompt. The user sees the task in the Agent Tasks sidebar (labelled "delegated") and ' +
      'answers its approvals there. Also runs as an MCP task (task-augmented call) with tasks/get and tasks/result. With attempts, ' +
      'several agents work on the same prompt at once (one task each, in worktrees of their own) so you can compare their work.',
    inputSchema: {
      type: 'object',
      properties: {
        prompt: { type: 'string', minLength: 1, description: 'What the agent should do, complete and self-contained.' },
        provider: {
          type: 'string',
          description: 'The agent: "codex", "claude-cli", "copilot" or "acp:<name>". Default: the user\'s agentTasks.defaultProvider setting.',
        },
        taskType: { type: 'string', enum: [...TASK_TYPES], description: 'coder, planner, tester, researcher or general (default).' },
        model: { type: 'string', description: "Model for the agent; default: the agent's own default." },
        dependsOn: {
          type: 'array',
          items: { type: 'string' },
          description: 'Task ids that must complete first. The task waits for them and fails if one of them does not complete.',
        },
        labels: { type: 'array', items: { type: 'string' }, description: `Extra labels; "${DELEGATED_LABEL}" is always added.` },
        timeoutMinutes: { type: 'number', minimum: 0, description: "Stop the task after this many minutes; 0 = no limit. Default: the user's setting." },
        isolation: {
          type: 'string',
          enum: [...ISOLATIONS],
          description:
            '"worktree": the agent works in a git worktree of its own (branch agent-tasks/<taskId>), and its changes reach the user\'s checkout ' +
            'only when merged; "none": it works in the folder itself. Default: the user\'s agentTasks.isolation setting (worktree).',
        },
        attempts: ATTEMPTS_SCHEMA,
      },
      required: ['prompt'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    taskSupport: 'optional',
    run: async (args, { host, clientName }) => {
      if (args.attempts !== undefined) return attemptsResult(await host.call('attempts', { ...spawnParams(args, clientName), attempts: args.attempts as AgentChoice[] }));
      const task = await spawn(host, args, clientName);
      return result(
        `Started task ${task.id} (${task.provider}, ${task.taskType}); it is ${task.status}. ` +
          `Call wait_for_task with taskId "${task.id}" to wait for its result or its questions.`,
        structuredTask(task),
      );
    },
  },
  {
    name: 'get_task',
    title: 'Get task',
    description:
      'Returns a task: status, pending questions (with their requestIds and how to answer), result or error, recent output, and, for a ' +
      'task in its own git worktree, the worktree (path, branch, base commit, state, conflicts), its change summary (files, +/−) and ' +
      'the result of the project\'s check; its attempt group when it is one of several attempts; for a review task, the task it ' +
      'reviews and its findings.',
    inputSchema: { type: 'object', properties: { taskId: taskIdSchema }, required: ['taskId'], additionalProperties: false },
    annotations: { readOnlyHint: true, openWorldHint: false },
    run: async (args, { host }) => {
      const task = await host.call('get', { taskId: String(args.taskId), outputEntries: 20 });
      return result(taskMarkdown(task, task.output), structuredTask(task), `Task ${task.id} is ${task.status}: ${statusMessage(task)}`);
    },
  },
  {
    name: 'list_tasks',
    title: 'List tasks',
    description: 'Lists the tasks you delegated in this session, newest first (other tasks of the workspace are not shown). Filter by status and/or label.',
    inputSchema: {
      type: 'object',
      properties: {
        status: { type: 'string', enum: [...TASK_STATUSES], description: 'Only tasks in this status.' },
        label: { type: 'string', description: 'Only tasks with this label.' },
      },
      additionalProperties: false,
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
    run: async (args, { host }) => {
      const tasks = (await host.call('list', { status: args.status as TaskStatus | undefined, label: args.label as string | undefined })).sort(
        (a, b) => b.created - a.created,
      );
      const lines = tasks.map((task) => `- ${task.id} · ${task.status} · ${task.provider} · ${firstLine(task.prompt)}${task.pendingQuestions.length ? ' · needs an answer' : ''}${task.worktree ? ` · ${changeLine(task.worktree)} (${task.worktree.state})` : ''}${opinionLine(task)}`);
      return result(lines.length ? `${tasks.length} task(s):\n${lines.join('\n')}` : 'No tasks match.', {
        tasks: tasks.map((task) => ({
          taskId: task.id,
          status: task.status,
          provider: task.provider,
          labels: task.labels,
          prompt: firstLine(task.prompt),
          ...(task.attemptGroup !== undefined ? { attemptGroup: task.attemptGroup } : {}),
          ...(task.reviewOf !== undefined ? { reviewOf: task.reviewOf, findingCount: task.findingCount } : {}),
          ...(task.check !== undefined ? { check: task.check.state } : {}),
        })),
      });
    },
  },
  {
    name: 'wait_for_task',
    title: 'Wait for task',
    description:
      'Waits until the task finishes, a question waits for you, or the timeout passes, and says which (reason: finished | question | ' +
      'timeout). A question only the user can answer (approvals, unless the user allowed agents to answer them) is reported once; ' +
      'calling wait_for_task again keeps waiting while the user decides.',
    inputSchema: {
      type: 'object',
      properties: {
        taskId: taskIdSchema,
        timeoutSeconds: {
          type: 'number',
          minimum: 0,
          maximum: WAIT_MAX_SECONDS,
          description: `How long to wait at most (default ${WAIT_DEFAULT_SECONDS}, max ${WAIT_MAX_SECONDS}). Call again to keep waiting.`,
        },
      },
      required: ['taskId'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
    run: (args, context) => waitForTask(String(args.taskId), typeof args.timeoutSeconds === 'number' ? args.timeoutSeconds : WAIT_DEFAULT_SECONDS, context),
  },
  {
    name: 'answer_question',
    title: 'Answer question',
    description:
      'Answers a question a delegated task is waiting on. answer is text for a single question ("B"), "approve"/"deny" for an approval, ' +
      'or the full object: {"answers": {"<questionId>": ["<text>"]}}, {"decision": "approve"|"approveForSession"|"deny"}, ' +
      '{"action": "accept", "content": {…}}, {"text": "…", "success": true}. Approvals (commands, file changes, tool calls) can only be ' +
      'answered here if the user turned on agentTasks.mcp.allowAgentApprovals; otherwise the user answers them in VS Code.',
    inputSchema: {
      type: 'object',
      properties: {
        taskId: taskIdSchema,
        requestId: { type: 'string', description: 'The requestId of the question (from get_task or wait_for_task).' },
        answer: { type: ['string', 'object'], description: 'The answer (see the tool description for the shapes).' },
      },
      required: ['taskId', 'requestId', 'answer'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    run: async (args, { host }) => {
      const task = await host.call('answer', { taskId: String(args.taskId), requestId: String(args.requestId), answer: args.answer });
      return result(`Answer sent to task ${task.id}; it is now ${task.status}. Call wait_for_task to follow it.`, structuredTask(task));
    },
  },
  {
    name: 'cancel_task',
    title: 'Cancel task',
    description: 'Cancels a task you delegated (stops its agent and everything it started). Finished tasks stay as they are.',
    inputSchema: { type: 'object', properties: { taskId: taskIdSchema }, required: ['taskId'], additionalProperties: false },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    run: async (args, { host }) => {
      const task = await host.call('cancel', { taskId: String(args.taskId) });
      return result(`Task ${task.id} is ${task.status}.`, structuredTask(task));
    },
  },
  {
    name: 'send_message',
    title: 'Send follow-up message',
    description:
      'Sends a follow-up message to a finished task you delegated: a new task continues the same agent conversation (when the agent ' +
      'supports it). Returns the new task id; wait for it with wait_for_task. To answer a question of a running task use answer_question.',
    inputSchema: {
      type: 'object',
      properties: { taskId: taskIdSchema, message: { type: 'string', minLength: 1, description: 'The follow-up instruction.' } },
      required: ['taskId', 'message'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    run: async (args, { host }) => {
      const task = await host.call('followUp', { taskId: String(args.taskId), message: String(args.message) });
      return result(`Started follow-up task ${task.id} (continues ${task.parentId ?? String(args.taskId)}); it is ${task.status}.`, structuredTask(task));
    },
  },
  {
    name: 'get_task_changes',
    title: 'Get task changes',
    description:
      "Returns the unified diff of a task's work in its git worktree against the commit it started from (committed and uncommitted " +
      'changes, new files included), one page at a time: the answer says which lines it holds and the offset of the next page. ' +
      'path limits it to one file (as get_task lists it).',
    inputSchema: {
      type: 'object',
      properties: {
        taskId: taskIdSchema,
        path: { type: 'string', minLength: 1, description: "One changed file, relative to the repository's top level; default every file." },
        offset: { type: 'integer', minimum: 0, description: 'The first line of the page (0-based; the previous answer gives the next one). Default 0.' },
        limit: { type: 'integer', minimum: 1, maximum: MAX_DIFF_PAGE_LINES, description: `Lines per page (default ${DIFF_PAGE_LINES}); a page also stops before ${MAX_DIFF_PAGE_CHARS} characters.` },
      },
      required: ['taskId'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
    run: async (args, { host }) => {
      const page = await host.call('changes', {
        taskId: String(args.taskId),
        path: args.path as string | undefined,
        offset: args.offset as number | undefined,
        limit: args.limit as number | undefined,
      });
      const { text, ...rest } = page;
      return result(diffPageText(page), { ...rest, diff: text }, diffPageHeadline(page));
    },
  },
  {
    name: 'merge_task_changes',
    title: 'Merge task changes',
    description:
      "Merges a finished task's worktree into the user's checkout (how: \"merge\", the default, commits on the current branch; \"apply\" " +
      'leaves the changes uncommitted). Only for tasks you delegated, and only when the user turned on agentTasks.mcp.allowAgentMerge: ' +
      "otherwise it refuses and the user merges in VS Code. It never touches the user's own edits: when files it would write have " +
      'uncommitted changes, or the work conflicts, it changes nothing and names the files.',
    inputSchema: {
      type: 'object',
      properties: {
        taskId: taskIdSchema,
        how: { type: 'string', enum: ['merge', 'apply'], description: '"merge" (default): a merge commit or fast-forward; "apply": uncommitted changes.' },
      },
      required: ['taskId'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    run: async (args, { host }) => {
      const merged = await host.call('merge', { taskId: String(args.taskId), how: args.how as 'merge' | 'apply' | undefined });
      const done = merged.outcome === 'merged' || merged.outcome === 'applied';
      const reply = result(merged.message, { outcome: merged.outcome, files: merged.files, ...structuredTask(merged.task) });
      // Refused (dirty checkout, conflict, busy): nothing changed, and the agent must not read it as done.
      return done ? reply : { ...reply, isError: true };
    },
  },
  REVIEW_TASK_TOOL,
];

/** Starts a delegated task (spawn_task, plain or task-augmented). */
export function spawn(host: HostConnection, args: Record<string, unknown>, clientName: string | undefined): Promise<WireTask> {
  return host.call('spawn', spawnParams(args, clientName));
}

function spawnParams(args: Record<string, unknown>, clientName: string | undefined): SpawnParams {
  return {
    prompt: String(args.prompt),
    provider: args.provider as string | undefined,
    taskType: args.taskType as TaskTypeName | undefined,
    model: args.model as string | undefined,
    dependsOn: args.dependsOn as string[] | undefined,
    labels: args.labels as string[] | undefined,
    timeoutMinutes: args.timeoutMinutes as number | undefined,
    isolation: args.isolation as Isolation | undefined,
    client: clientName,
  };
}

type WaitReason = 'finished' | 'question' | 'timeout';

async function waitForTask(taskId: string, timeoutSeconds: number, context: ToolContext): Promise<CallToolResult> {
  const { host, extra } = context;
  const seconds = Math.min(Math.max(0, timeoutSeconds), WAIT_MAX_SECONDS);
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const progressToken = extra._meta?.progressToken;
  let lastProgress = started;
  for (;;) {
    // Listen before reading, so a change between the read and the wait is not missed.
    const change = nextChange(host, taskId, Math.max(0, Math.min(deadline, lastProgress + PROGRESS_EVERY_MS) - Date.now()), extra.signal);
    let task: WireTask;
    try {
      task = await host.call('get', { taskId, outputEntries: 10 });
    } catch (error) {
      change.cancel();
      throw error;
    }
    const reason = waitOutcome(task, context.reportedQuestions, Date.now() >= deadline);
    if (reason) {
      change.cancel();
      for (const question of task.pendingQuestions) if (!question.agentMayAnswer) context.reportedQuestions.add(questionKey(task.id, question));
      return result(`${waitHeadline(task, reason, seconds)}\n\n${taskMarkdown(task, reason === 'finished' ? undefined : task.output)}`, {
        reason,
        ...structuredTask(task),
      });
    }
    await change.promise;
    if (extra.signal.aborted) throw new Error('wait_for_task was cancelled');
    if (progressToken !== undefined && Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = Date.now();
      await extra
        .sendNotification({
          method: 'notifications/progress',
          params: { progressToken, progress: Math.round((lastProgress - started) / 1000), total: seconds, message: `Task ${taskId} is ${task.status}` },
        })
        .catch(() => undefined);
    }
  }
}

function waitOutcome(task: WireTask, reported: Set<string>, timedOut: boolean): WaitReason | undefined {
  if (isTerminal(task.status)) return 'finished';
  if (task.pendingQuestions.some((q) => q.agentMayAnswer || !reported.has(questionKey(task.id, q)))) return 'question';
  return timedOut ? 'timeout' : undefined;
}

function waitHeadline(task: WireTask, reason: WaitReason, seconds: number): string {
  switch (reason) {
    case 'finished':
      return `reason: finished — ${finishedText(task)}`;
    case 'question': {
      const mine = task.pendingQuestions.filter((q) => q.agentMayAnswer);
      return mine.length
        ? `reason: question — task ${task.id} is waiting for your answer (${mine.map((q) => `requestId "${q.requestId}"`).join(', ')}); use answer_question.`
        : `reason: question — task ${task.id} is waiting for the user to answer in VS Code; call wait_for_task again to keep waiting.`;
    }
    case 'timeout': {
      const user = task.pendingQuestions.length ? ' (waiting for the user in VS Code)' : '';
      return `reason: timeout — task ${task.id} is still ${task.status}${user} after ${seconds} s; call wait_for_task again to keep waiting.`;
    }
    default: {
      const never: never = reason;
      return String(never);
    }
  }
}

const questionKey = (taskId: string, question: WireQuestion): string => `${taskId}\0${question.requestId}`;

/** Resolves on the next event about the task (or when the connection drops), on abort, or after ms. */
function nextChange(host: HostConnection, taskId: string, ms: number, signal: AbortSignal): { promise: Promise<void>; cancel(): void } {
  let finish = (): void => {};
  const promise = new Promise<void>((resolve) => {
    const timer = setTimeout(() => finish(), ms);
    const events = host.onEvent((event) => {
      const id = 'task' in event ? event.task.id : event.taskId;
      if (id === taskId && event.event !== 'taskOutput') finish();
    });
    const connection = host.onDidChangeConnection((up) => {
      if (!up) finish();
    });
    const onAbort = (): void => finish();
    signal.addEventListener('abort', onAbort, { once: true });
    finish = () => {
      clearTimeout(timer);
      events.dispose();
      connection.dispose();
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
  });
  return { promise, cancel: () => finish() };
}
