// The host side of MCP delegation: a per-workspace local socket (0600 in a 0700 directory, token required) that the
// MCP server bundle (dist/mcp-server.js) uses to reach the TaskManager; VS Code's own MCP server list (when the API
// exists); and the ready-to-paste configs for other agents (Agent Tasks: Copy MCP Server Config).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Logger } from '../core/events';
import { messageOf, type TaskManager } from '../core/task-manager';
import { TASK_TYPES, type CreateTaskInput, type TaskState, type TaskStatus } from '../core/task-state';
import { boundedQuestion } from '../core/question-bounds';
import { clientSnippets, type McpClientKind } from '../mcp/client-config';
import { ensurePrivateDir, loadOrCreateToken, rotateToken, SOCKET_FILE, tokenFilePath, tokenMatches, workspaceSocketDir } from '../mcp/endpoint';
import {
  DELEGATED_LABEL,
  delegatorMayAnswer,
  ENV_SOCKET,
  ENV_TOKEN_FILE,
  HOST_PROTOCOL_VERSION,
  MAX_LINE_BYTES,
  normalizeAnswer,
  type HelloReply,
  type HostEvent,
  type HostMethod,
  type HostMethods,
  type HostResponse,
  type SpawnParams,
  type WireTask,
} from '../mcp/protocol';
import { encodeJsonLine, LineDecoder } from '../providers/transport/jsonl';
import type { AnswerGate } from './answering';
import type { Settings } from './settings';

/** The id under contributes.mcpServerDefinitionProviders (VS Code ≥ 1.101). */
export const MCP_PROVIDER_ID = 'agentTasks.mcpServer';
const HELLO_TIMEOUT_MS = 5_000;
/** Task events are coalesced for this long, so a streaming agent does not flood the socket. */
const EVENT_DELAY_MS = 50;
const MAX_OUTPUT_ENTRIES = 200;
/** How often a window checks whether the window serving its workspace's socket has gone. */
const TAKE_OVER_MS = 30_000;

/** What an MCP client needs to start the server bundle; also what the copy command returns to programmatic callers. */
export interface McpClientConfig {
  serverPath: string;
  socketPath: string;
  token: string;
  /** The 0600 file that holds the token; the configs name this file, never the token. */
  tokenFile: string;
  env: Record<string, string>;
  snippets: Record<McpClientKind, string>;
}

const CLIENT_LABELS: Record<McpClientKind, { label: string; detail: string }> = {
  claude: { label: 'Claude Code — .mcp.json', detail: 'Project config; merge into .mcp.json at the workspace root (it names the token file, not the token)' },
  claudeCli: { label: 'Claude Code — claude mcp add', detail: 'A command that adds the server to your local Claude Code config' },
  codex: { label: 'Codex — config.toml', detail: 'Append to ~/.codex/config.toml (or $CODEX_HOME/config.toml)' },
};

type RequestHandlers = { [M in HostMethod]: (params: HostMethods[M]['params']) => Promise<HostMethods[M]['result']> };

/** The live host of this window (one per container); a set so that a disposed host never lingers. */
const liveHosts = new Set<McpHost>();

/** Serves the workspace's tasks to the MCP server bundle. One per window. */
export class McpHost implements vscode.Disposable {
  private server: net.Server | undefined;
  private socketPath: string | undefined;
  private token: string | undefined;
  /** Why the socket is not served, for the copy command. */
  private unavailable: string | undefined = 'Agent Tasks is still starting the MCP socket';
  private readonly connections = new Set<net.Socket>();
  private readonly known = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly lastStatus = new Map<string, TaskStatus>();
  private readonly outputDirty = new Set<string>();
  private readonly removed = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private readonly disposables: { dispose(): void }[] = [];
  private readonly handlers: RequestHandlers;
  private readonly definitionsChanged = new vscode.EventEmitter<void>();

  constructor(
    private readonly manager: TaskManager,
    private readonly answers: AnswerGate,
    private readonly settings: Settings,
    private readonly log: Logger,
    private readonly context: vscode.ExtensionContext,
  ) {
    this.handlers = {
      spawn: (params) => this.spawn(params),
      get: async ({ taskId, outputEntries }) => this.wire(this.task(taskId), outputEntries),
      list: async ({ status, label, delegatedOnly }) =>
        this.manager
          .allTasks()
          .filter((task) => (!status || task.status === status) && (!label || task.labels.includes(label)) && (!delegatedOnly || isDelegated(task)))
          .map((task) => this.wire(task)),
      answer: (params) => this.answer(params),
      cancel: async ({ taskId }) => {
        this.delegatedTask(taskId, 'cancel');
        await this.manager.cancelTask(taskId);
        return this.wire(this.task(taskId));
      },
      followUp: async ({ taskId, message }) => {
        this.delegatedTask(taskId, 'send a follow-up to');
        if (typeof message !== 'string') throw new Error('message must be text');
        const followUp = await this.manager.sendFollowUp(taskId, message);
        return this.wire(this.task(followUp.id));
      },
      transcript: async ({ taskId }) => {
        this.task(taskId);
        return this.manager.fullTranscript(taskId);
      },
    };
    for (const task of manager.allTasks()) {
      this.known.add(task.id);
      this.lastStatus.set(task.id, task.status);
    }
    this.disposables.push(
      manager.onDidUpdateTask((task) => this.onTaskUpdated(task)),
      manager.onDidAppendOutput(({ taskId }) => this.markOutput(taskId)),
      manager.onDidRemoveTask((id) => this.markRemoved(id)),
      this.definitionsChanged,
    );
    liveHosts.add(this);
    this.registerDefinitionProvider();
    void this.start();
  }

  /** The socket and token, once served. */
  get endpoint(): { socketPath: string; token: string } | undefined {
    return this.server && this.socketPath && this.token ? { socketPath: this.socketPath, token: this.token } : undefined;
  }

  private async start(): Promise<void> {
    this.retryTimer = undefined;
    if (this.disposed) return;
    const workspacePath = workspaceKey();
    const storage = this.context.storageUri?.fsPath;
    if (!workspacePath || !storage) {
      this.unavailable = 'Delegating over MCP needs an open folder: the socket and its token belong to a workspace.';
      return;
    }
    try {
      const dir = workspaceSocketDir(workspacePath);
      ensurePrivateDir(dir);
      this.token = loadOrCreateToken(storage);
      this.socketPath = path.join(dir, SOCKET_FILE);
      if (await isListening(this.socketPath)) {
        this.unavailable = 'Another VS Code window on this workspace serves its MCP socket; use the config from that window.';
        this.log.info(`[mcp] ${this.socketPath} is served by another window; taking over when it closes`);
        this.retryTimer = setTimeout(() => void this.start(), TAKE_OVER_MS);
        return;
      }
      if (this.disposed) return;
      fs.rmSync(this.socketPath, { force: true });
      const server = net.createServer((socket) => this.accept(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      if (this.disposed) {
        server.close();
        fs.rmSync(this.socketPath, { force: true });
        return;
      }
      fs.chmodSync(this.socketPath, 0o600);
      server.on('error', (error) => this.log.error(`[mcp] socket error: ${messageOf(error)}`));
      this.server = server;
      this.unavailable = undefined;
      this.definitionsChanged.fire();
      this.log.info(`[mcp] serving tasks to MCP clients on ${this.socketPath}`);
    } catch (error) {
      this.unavailable = `The MCP socket could not be opened: ${messageOf(error)}`;
      this.log.error(`[mcp] ${this.unavailable}`);
    }
  }

  // Connections

  private accept(socket: net.Socket): void {
    const decoder = new LineDecoder();
    let authenticated = false;
    const helloTimer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(helloTimer);
      this.connections.delete(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      if (decoder.bufferedBytes + chunk.length > MAX_LINE_BYTES) {
        socket.destroy();
        return;
      }
      for (const line of decoder.push(chunk)) {
        if (!line.trim()) continue;
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(line) as Record<string, unknown>;
        } catch {
          socket.destroy();
          return;
        }
        if (!authenticated) {
          clearTimeout(helloTimer);
          const reply = this.hello(message);
          socket.write(encodeJsonLine(reply));
          if (reply.type !== 'welcome') {
            this.log.warn(`[mcp] refused a connection: ${reply.message}`);
            // One hello per connection: nothing more is read from a refused peer.
            socket.removeAllListeners('data');
            socket.end();
            return;
          }
          authenticated = true;
          this.connections.add(socket);
          continue;
        }
        void this.handle(socket, message);
      }
    });
  }

  private hello(message: Record<string, unknown>): HelloReply {
    if (message.type !== 'hello') return { type: 'refused', reason: 'protocol', message: 'the first message must be hello' };
    if (!this.token || !tokenMatches(message.token, this.token)) {
      return {
        type: 'refused',
        reason: 'token',
        message: 'wrong or missing token. Copy the config again with "Agent Tasks: Copy MCP Server Config" in VS Code.',
      };
    }
    if (message.version !== HOST_PROTOCOL_VERSION) {
      return { type: 'refused', reason: 'version', message: `protocol version ${String(message.version)} is not ${HOST_PROTOCOL_VERSION}; update the MCP config to this extension's dist/mcp-server.js` };
    }
    return { type: 'welcome', version: HOST_PROTOCOL_VERSION, workspace: workspaceKey() ?? '' };
  }

  private async handle(socket: net.Socket, message: Record<string, unknown>): Promise<void> {
    const id = typeof message.id === 'number' ? message.id : -1;
    let response: HostResponse;
    try {
      if (message.type !== 'request' || id < 0) throw new Error('Malformed request');
      const method = message.method as HostMethod;
      const handler = Object.prototype.hasOwnProperty.call(this.handlers, method) ? (this.handlers[method] as (params: unknown) => Promise<unknown>) : undefined;
      if (!handler) throw new Error(`Unknown method ${String(message.method)}`);
      const params = typeof message.params === 'object' && message.params !== null ? message.params : {};
      response = { type: 'response', id, result: await handler(params) };
    } catch (error) {
      response = { type: 'response', id, error: { message: messageOf(error) } };
    }
    if (!socket.destroyed) socket.write(encodeJsonLine(response));
  }

  // Requests

  private async spawn(params: SpawnParams): Promise<WireTask> {
    if (typeof params.prompt !== 'string' || !params.prompt.trim()) throw new Error('spawn_task needs a prompt');
    if (params.taskType !== undefined && !TASK_TYPES.includes(params.taskType)) throw new Error(`taskType must be one of ${TASK_TYPES.join(', ')}`);
    const labels = Array.isArray(params.labels) ? params.labels.filter((label): label is string => typeof label === 'string') : [];
    const input: CreateTaskInput = {
      prompt: params.prompt,
      provider: params.provider,
      taskType: params.taskType,
      model: params.model,
      dependsOn: params.dependsOn,
      labels: [...new Set([...labels, DELEGATED_LABEL])],
      timeoutMinutes: params.timeoutMinutes,
    };
    const task = await this.manager.createTask(input);
    const client = typeof params.client === 'string' && params.client ? ` by ${params.client.slice(0, 80)}` : '';
    this.manager.appendOutput(task.id, { kind: 'status', text: `[mcp] Delegated over MCP${client}` });
    this.log.info(`[mcp] task ${task.id} delegated${client}`);
    return this.wire(this.task(task.id));
  }

  /** DESIGN §6: the delegating agent answers questions; approvals only when the user allowed it. Enforced here. */
  private async answer({ taskId, requestId, answer }: HostMethods['answer']['params']): Promise<WireTask> {
    const task = this.task(taskId);
    const question = task.pendingQuestions.find((q) => q.requestId === requestId);
    if (!isDelegated(task)) {
      throw new Error(`Task ${taskId} was not delegated over MCP: the user answers its questions in VS Code.`);
    }
    if (!question) {
      throw new Error(`Task ${taskId} is not waiting on request ${String(requestId)}: it was answered, withdrawn, or the task stopped (it is ${task.status}).`);
    }
    if (!delegatorMayAnswer(question.type, this.settings.allowAgentApprovals())) {
      throw new Error(
        `Refused: task ${taskId} is waiting for the user to approve this in VS Code. An agent may answer approvals of delegated tasks ` +
          'only when the user turns on the setting agentTasks.mcp.allowAgentApprovals. Call wait_for_task to wait for the user.',
      );
    }
    const normalized = normalizeAnswer(question, answer);
    this.manager.appendOutput(taskId, { kind: 'status', text: '[mcp] Answered by the delegating agent' });
    await this.answers.answer(taskId, question.requestId, normalized);
    this.log.info(`[mcp] the delegating agent answered ${question.type} ${question.requestId} of task ${taskId}`);
    return this.wire(this.task(taskId));
  }

  private task(id: unknown): TaskState {
    const task = typeof id === 'string' ? this.manager.peek(id) : undefined;
    if (!task) throw new Error(`Unknown task ${String(id)}`);
    return task;
  }

  private delegatedTask(id: unknown, verb: string): TaskState {
    const task = this.task(id);
    if (!isDelegated(task)) throw new Error(`Task ${task.id} was not delegated over MCP: only the user can ${verb} it, in VS Code.`);
    return task;
  }

  private wire(task: TaskState, outputEntries = 0, allowApprovals = this.settings.allowAgentApprovals()): WireTask {
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
    };
  }

  // Events

  /** Status changes go out at once (a client must see every status); other changes are coalesced. */
  private onTaskUpdated(task: TaskState): void {
    const created = !this.known.has(task.id);
    const statusChanged = this.lastStatus.get(task.id) !== task.status;
    this.known.add(task.id);
    this.lastStatus.set(task.id, task.status);
    if (this.connections.size === 0) return;
    if (created || statusChanged) {
      this.dirty.delete(task.id);
      this.broadcast([{ type: 'event', event: created ? 'taskCreated' : 'taskChanged', task: this.wire(task) }]);
      return;
    }
    this.dirty.add(task.id);
    this.scheduleFlush();
  }

  private markOutput(id: string): void {
    if (this.connections.size === 0) return;
    this.outputDirty.add(id);
    this.scheduleFlush();
  }

  private markRemoved(id: string): void {
    this.known.delete(id);
    this.lastStatus.delete(id);
    if (this.connections.size === 0) return;
    this.dirty.delete(id);
    this.outputDirty.delete(id);
    this.removed.add(id);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    this.flushTimer ??= setTimeout(() => this.flush(), EVENT_DELAY_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const events: HostEvent[] = [];
    const allowApprovals = this.settings.allowAgentApprovals();
    const tasks = new Map(this.manager.allTasks().map((task) => [task.id, task]));
    for (const id of this.dirty) {
      const task = tasks.get(id);
      if (task) events.push({ type: 'event', event: 'taskChanged', task: this.wire(task, 0, allowApprovals) });
    }
    for (const id of this.outputDirty) events.push({ type: 'event', event: 'taskOutput', taskId: id });
    for (const id of this.removed) events.push({ type: 'event', event: 'taskRemoved', taskId: id });
    this.dirty.clear();
    this.outputDirty.clear();
    this.removed.clear();
    this.broadcast(events);
  }

  private broadcast(events: HostEvent[]): void {
    if (events.length === 0) return;
    const payload = events.map(encodeJsonLine).join('');
    for (const socket of this.connections) if (!socket.destroyed) socket.write(payload);
  }

  // Configs

  /** The server bundle's command line and the snippets for each client; throws when the socket is not served. */
  clientConfig(): McpClientConfig {
    const endpoint = this.endpoint;
    if (!endpoint) throw new Error(this.unavailable ?? 'The MCP socket is not available');
    const serverPath = this.context.asAbsolutePath(path.join('dist', 'mcp-server.js'));
    if (!fs.existsSync(serverPath)) throw new Error(`${serverPath} is missing: this build of Agent Task Worker has no MCP server`);
    const storage = this.context.storageUri?.fsPath;
    if (!storage) throw new Error('Delegating over MCP needs an open folder');
    const tokenFile = tokenFilePath(storage);
    // The configs name the token file: the token stays out of argv, shell history and project files (L6).
    const env = { [ENV_SOCKET]: endpoint.socketPath, [ENV_TOKEN_FILE]: tokenFile };
    return { serverPath, ...endpoint, tokenFile, env, snippets: clientSnippets(serverPath, env) };
  }

  /**
   * Replaces the token: connections opened with the old one are closed, configs that embed it stop working, and
   * clients started from the copied configs (which name the token file) get the new one when they reconnect.
   */
  rotateToken(): void {
    const storage = this.context.storageUri?.fsPath;
    if (!this.endpoint || !storage) throw new Error(this.unavailable ?? 'This window does not serve the MCP socket, so it cannot rotate its token');
    this.token = rotateToken(storage);
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    this.definitionsChanged.fire();
    this.log.info('[mcp] the MCP token was rotated; connections opened with the old token were closed');
  }

  /** VS Code ≥ 1.101 lists MCP servers from extensions; 1.100 (our floor) lacks the API, so it is looked up defensively. */
  private registerDefinitionProvider(): void {
    const api = vscode as unknown as {
      lm?: { registerMcpServerDefinitionProvider?: (id: string, provider: unknown) => vscode.Disposable };
      McpStdioServerDefinition?: new (label: string, command: string, args?: string[], env?: Record<string, string>, version?: string) => unknown;
    };
    const register = api.lm?.registerMcpServerDefinitionProvider;
    const Definition = api.McpStdioServerDefinition;
    if (typeof register !== 'function' || typeof Definition !== 'function') return;
    try {
      const version = (this.context.extension.packageJSON as { version?: string }).version;
      this.disposables.push(
        register.call(api.lm, MCP_PROVIDER_ID, {
          onDidChangeMcpServerDefinitions: this.definitionsChanged.event,
          provideMcpServerDefinitions: () => {
            try {
              const config = this.clientConfig();
              // The extension host's runtime runs the bundle (Electron's binary acts as Node with this variable).
              return [new Definition('Agent Tasks', process.execPath, [config.serverPath], { ...config.env, ELECTRON_RUN_AS_NODE: '1' }, version)];
            } catch {
              return [];
            }
          },
        }),
      );
    } catch (error) {
      // 1.100 has the function behind an API proposal: it throws, and the configs from the copy command still work.
      this.log.debug(`[mcp] VS Code's MCP server list is not available here: ${messageOf(error)}`);
    }
  }

  dispose(): void {
    this.disposed = true;
    liveHosts.delete(this);
    clearTimeout(this.flushTimer);
    clearTimeout(this.retryTimer);
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    if (this.server) {
      this.server.close();
      this.server = undefined;
      if (this.socketPath) fs.rmSync(this.socketPath, { force: true });
    }
    for (const disposable of this.disposables) disposable.dispose();
  }
}

/** `Agent Tasks: Copy MCP Server Config`. Arg: a client kind, or {client?, copy?}; returns the config (for scripts and tests). */
export async function copyMcpConfig(arg?: unknown): Promise<McpClientConfig | undefined> {
  const host = [...liveHosts].pop();
  if (!host) throw new Error('Agent Tasks is not running its MCP host');
  const config = host.clientConfig();
  const options = typeof arg === 'string' ? { client: arg } : typeof arg === 'object' && arg !== null ? (arg as { client?: unknown; copy?: unknown }) : {};
  if (options.copy === false) return config;
  let kind = typeof options.client === 'string' && options.client in CLIENT_LABELS ? (options.client as McpClientKind) : undefined;
  if (!kind) {
    const picked = await vscode.window.showQuickPick(
      (Object.keys(CLIENT_LABELS) as McpClientKind[]).map((id) => ({ ...CLIENT_LABELS[id], id })),
      { title: 'Copy MCP Server Config', placeHolder: 'For which agent?' },
    );
    if (!picked) return undefined;
    kind = picked.id;
  }
  await vscode.env.clipboard.writeText(config.snippets[kind]);
  void vscode.window.showInformationMessage(
    `Copied the ${CLIENT_LABELS[kind].label} config. It names this workspace's token file (readable only by you), not the token itself.`,
  );
  return config;
}

/** `Agent Tasks: Rotate MCP Token`. Arg {confirm: false} skips the question (scripts and tests). */
export async function rotateMcpToken(arg?: unknown): Promise<boolean> {
  const host = [...liveHosts].pop();
  if (!host) throw new Error('Agent Tasks is not running its MCP host');
  const confirmed =
    typeof arg === 'object' && arg !== null && (arg as { confirm?: unknown }).confirm === false
      ? true
      : (await vscode.window.showWarningMessage(
          'Rotate the MCP token? Connected agents are disconnected; configs copied before that embed the old token stop working. Configs that name the token file keep working.',
          { modal: true },
          'Rotate',
        )) === 'Rotate';
  if (!confirmed) return false;
  host.rotateToken();
  void vscode.window.showInformationMessage('The MCP token was rotated.');
  return true;
}

function isDelegated(task: TaskState): boolean {
  return task.labels.includes(DELEGATED_LABEL);
}

/** The workspace the socket belongs to: the workspace file of a saved multi-root workspace, else the first folder. */
function workspaceKey(): string | undefined {
  const file = vscode.workspace.workspaceFile;
  if (file?.scheme === 'file') return file.fsPath;
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

function isListening(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection({ path: socketPath });
    const done = (value: boolean): void => {
      probe.destroy();
      resolve(value);
    };
    probe.setTimeout(1_000, () => done(false));
    probe.once('connect', () => done(true));
    probe.once('error', () => done(false));
  });
}
