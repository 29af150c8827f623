// dist/mcp-server.js: the stdio MCP server other agents (Claude Code, Codex, …) start to delegate tasks to Agent Task
// Worker. It holds no task state: every call goes to the extension host over the workspace's socket (protocol.ts).
//   AGENT_TASKS_SOCKET=<socket> AGENT_TASKS_TOKEN=<token> node dist/mcp-server.js
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JsonSchemaType, JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type CallToolResult,
  type Resource,
  type Task as McpTask,
} from '@modelcontextprotocol/sdk/types.js';
import { version } from '../../package.json';
import { messageOf } from '../core/errors';
import { outputUri, parseTaskUri, POLL_INTERVAL_MS, statusMessage, taskMarkdown, taskUri, toMcpTask, transcriptText } from './format';
import { HostConnection, HostUnavailableError } from './host-connection';
import { opinionLine } from './opinions-format';
import { ENV_SOCKET, ENV_TOKEN, ENV_TOKEN_FILE, type HostEvent, type WireTask } from './protocol';
import { readTokenFile } from './endpoint';
import { HostTaskStore, type SpawnedTaskContext } from './task-store';
import { ToolInputValidator } from './tool-input';
import { spawn, TOOLS, type ToolContext, type ToolDefinition } from './tools';

const INSTRUCTIONS =
  "Agent Task Worker runs coding agents as tasks in the user's VS Code workspace. Delegate work with spawn_task (self-contained " +
  'prompt), then wait_for_task until it finishes or asks a question; answer questions with answer_question. Approvals of commands ' +
  'and file changes are normally answered by the user in VS Code. A task works in a git worktree of its own by default: get_task ' +
  "shows its change summary and get_task_changes its diff; the user merges it into their checkout. For a second opinion, " +
  "review_task has another agent review a finished task's change (read-only) and answer with findings, and spawn_task with " +
  'attempts lets several agents work on the same prompt. Each task is also a resource: task://{id} (summary) and ' +
  'task://{id}/output (transcript).';

/** How often to retry the host connection in the background, so notifications resume after a window reload. */
const RECONNECT_MS = 5_000;

export function createServer(host: HostConnection): { server: Server; dispose(): void } {
  const validator = new ToolInputValidator();
  const server = new Server(
    { name: 'agent-task-worker', title: 'Agent Task Worker', version },
    {
      capabilities: {
        tools: { listChanged: false },
        resources: { subscribe: true, listChanged: true },
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
      },
      instructions: INSTRUCTIONS,
      taskStore: new HostTaskStore(host),
      defaultTaskPollInterval: POLL_INTERVAL_MS,
      jsonSchemaValidator: validator,
    },
  );
  const tools = new Map<string, { definition: ToolDefinition; validate: JsonSchemaValidator<Record<string, unknown>> }>(
    TOOLS.map((definition) => [definition.name, { definition, validate: validator.getValidator(definition.inputSchema as JsonSchemaType) }]),
  );
  const subscriptions = new Set<string>();
  /** MCP tasks this session created, with the last status it was told (for notifications/tasks/status). */
  const mcpTasks = new Map<string, string>();
  const reportedQuestions = new Set<string>();
  const clientName = (): string | undefined => server.getClientVersion()?.name;

  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: TOOLS.map((tool) => ({
      name: tool.name,
      title: tool.title,
      description: tool.description,
      inputSchema: tool.inputSchema,
      annotations: tool.annotations,
      execution: { taskSupport: tool.taskSupport ?? 'forbidden' },
    })),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const tool = tools.get(request.params.name);
    if (!tool) throw protocolError(ErrorCode.InvalidParams, `Unknown tool ${request.params.name}; the tools are ${TOOLS.map((t) => t.name).join(', ')}`);
    const isTaskRequest = request.params.task !== undefined;
    if (isTaskRequest && !tool.definition.taskSupport) {
      throw protocolError(ErrorCode.MethodNotFound, `${tool.definition.name} does not run as a task; call it without task augmentation`);
    }
    const args = request.params.arguments ?? {};
    const checked = tool.validate(args);
    if (!checked.valid) {
      const problem = `Invalid arguments for ${tool.definition.name}: ${checked.errorMessage}`;
      // A task-augmented call expects a CreateTaskResult: the problem goes back as a protocol error instead.
      if (isTaskRequest) throw protocolError(ErrorCode.InvalidParams, problem);
      return errorResult(problem);
    }
    if (isTaskRequest) {
      // SEP-1686: start the agent task, then register it with the SDK's task machinery under the same id.
      if (!extra.taskStore) throw protocolError(ErrorCode.InternalError, 'No task store');
      if (checked.data.attempts !== undefined) {
        throw protocolError(ErrorCode.InvalidParams, 'spawn_task with attempts starts several tasks, and one MCP task stands for one: call it without task augmentation');
      }
      try {
        const task = await spawn(host, checked.data, clientName());
        mcpTasks.set(task.id, statusKey(toMcpTask(task)));
        const context: SpawnedTaskContext = { agentTaskId: task.id };
        const created = await extra.taskStore.createTask({ ttl: null, pollInterval: POLL_INTERVAL_MS, context });
        // From here on the client knows this status; notifications report what changes after it.
        mcpTasks.set(task.id, statusKey(created));
        return { task: created };
      } catch (error) {
        throw protocolError(ErrorCode.InternalError, messageOf(error));
      }
    }
    const context: ToolContext = { host, clientName: clientName(), reportedQuestions, extra };
    try {
      return await tool.definition.run(checked.data, context);
    } catch (error) {
      return errorResult(messageOf(error));
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => {
    const tasks = (await hostCall(() => host.call('list', {}))).sort((a, b) => b.created - a.created);
    return { resources: tasks.flatMap(resourcesOf) };
  });

  server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
    resourceTemplates: [
      { uriTemplate: 'task://{id}', name: 'task', title: 'Agent task', description: 'A task: status, questions, result (Markdown).', mimeType: 'text/markdown' },
      { uriTemplate: 'task://{id}/output', name: 'task-output', title: 'Agent task transcript', description: "The task's full transcript.", mimeType: 'text/plain' },
    ],
  }));

  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    const { uri } = request.params;
    const parsed = parseTaskUri(uri);
    if (!parsed) throw protocolError(ErrorCode.InvalidParams, `Not a task resource: ${uri} (use task://{id} or task://{id}/output)`);
    if (parsed.part === 'summary') {
      const task = await hostCall(() => host.call('get', { taskId: parsed.taskId, outputEntries: 20 }));
      return { contents: [{ uri, mimeType: 'text/markdown', text: taskMarkdown(task, task.output) }] };
    }
    const entries = await hostCall(() => host.call('transcript', { taskId: parsed.taskId }));
    return { contents: [{ uri, mimeType: 'text/plain', text: transcriptText(entries) }] };
  });

  server.setRequestHandler(SubscribeRequestSchema, (request) => {
    if (!parseTaskUri(request.params.uri)) throw protocolError(ErrorCode.InvalidParams, `Not a task resource: ${request.params.uri}`);
    subscriptions.add(request.params.uri);
    // Subscribing is also a reason to hold a connection: updates come as host events.
    void host.connect().catch(() => undefined);
    return {};
  });

  server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    subscriptions.delete(request.params.uri);
    return {};
  });

  const notify = (send: () => Promise<void>): void => {
    if (!server.getClientCapabilities()) return; // Not initialized yet.
    send().catch(() => undefined);
  };

  const onHostEvent = (event: HostEvent): void => {
    switch (event.event) {
      case 'taskRemoved':
        notify(() => server.sendResourceListChanged());
        break;
      case 'taskCreated':
      case 'taskChanged': {
        const { task } = event;
        if (event.event === 'taskCreated') notify(() => server.sendResourceListChanged());
        if (subscriptions.has(taskUri(task.id))) notify(() => server.sendResourceUpdated({ uri: taskUri(task.id) }));
        const told = mcpTasks.get(task.id);
        const mcpTask = toMcpTask(task);
        if (told !== undefined && told !== statusKey(mcpTask)) {
          mcpTasks.set(task.id, statusKey(mcpTask));
          notify(() => server.notification({ method: 'notifications/tasks/status', params: mcpTask }));
        }
        break;
      }
      case 'taskOutput':
        if (subscriptions.has(outputUri(event.taskId))) notify(() => server.sendResourceUpdated({ uri: outputUri(event.taskId) }));
        break;
      default: {
        const never: never = event;
        void never;
      }
    }
  };
  const eventSubscription = host.onEvent(onHostEvent);

  // Keep a connection while the client is attached, so events (and so notifications) flow; retry quietly.
  let reconnectTimer: NodeJS.Timeout | undefined;
  const keepConnected = (error?: unknown): void => {
    // A refused token or a missing config stays wrong until the user fixes it: tool calls report it, no retry loop.
    if (reconnectTimer || (error instanceof HostUnavailableError && !error.retryable)) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      host.connect().catch(keepConnected);
    }, RECONNECT_MS);
    reconnectTimer.unref();
  };
  const connectionSubscription = host.onDidChangeConnection((up) => {
    if (!up) keepConnected();
  });
  server.oninitialized = () => {
    host.connect().catch(keepConnected);
  };

  return {
    server,
    dispose: () => {
      clearTimeout(reconnectTimer);
      eventSubscription.dispose();
      connectionSubscription.dispose();
    },
  };
}

function resourcesOf(task: WireTask): Resource[] {
  const title = task.prompt.split('\n', 1)[0].slice(0, 80);
  return [
    { uri: taskUri(task.id), name: task.id, title: `${task.id}: ${title}`, description: `${task.status} — ${statusMessage(task)}${opinionLine(task)}`, mimeType: 'text/markdown' },
    { uri: outputUri(task.id), name: `${task.id}-output`, title: `${task.id} transcript`, mimeType: 'text/plain' },
  ];
}

const statusKey = (task: McpTask): string => `${task.status}\0${task.statusMessage ?? ''}`;

async function hostCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw protocolError(ErrorCode.InternalError, messageOf(error));
  }
}

/** A JSON-RPC error with this code and exactly this message (McpError would put its code into the message, twice). */
function protocolError(code: ErrorCode, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function errorResult(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

async function main(): Promise<void> {
  // The token file is read at each connection: a token rotated in VS Code is picked up without restarting.
  const host = new HostConnection({ socketPath: process.env[ENV_SOCKET], token: () => process.env[ENV_TOKEN] || readTokenFile(process.env[ENV_TOKEN_FILE]) });
  const { server, dispose } = createServer(host);
  const transport = new StdioServerTransport();
  let closing = false;
  const shutdown = (): void => {
    if (closing) return;
    closing = true;
    dispose();
    host.dispose();
    void server.close().finally(() => process.exit(0));
  };
  server.onclose = shutdown;
  process.stdin.once('end', shutdown);
  process.once('SIGTERM', shutdown);
  await server.connect(transport);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`agent-task-worker MCP server: ${messageOf(error)}\n`);
    process.exit(1);
  });
}
