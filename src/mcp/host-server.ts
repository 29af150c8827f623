// The host side of MCP delegation, editor-free: a per-workspace local socket (0600 in a 0700 directory, token
// required) that the MCP server bundle (dist/mcp-server.js) uses to reach the tasks. Auth, dispatch, the wire mapping
// and coalesced task events live here; host/mcp-host.ts adds the VS Code shell (definition provider, copy command).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { messageOf } from '../core/errors';
import { Emitter, type Event, type Logger } from '../core/events';
import { TASK_TYPES, type Answer, type CreateTaskInput, type OutputEntry, type TaskSnapshot, type TaskState, type TaskStatus } from '../core/task-state';
import { encodeJsonLine, LineDecoder } from '../platform/jsonl';
import { ensurePrivateDir } from '../platform/private-dir';
import { loadOrCreateToken, rotateToken, SOCKET_FILE, tokenMatches } from './endpoint';
import {
  DELEGATED_LABEL,
  delegatorMayAnswer,
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
} from './protocol';
import { isDelegated, wireTask } from './wire';

/** What the host server needs of the tasks (TaskManager has it all). */
export interface TaskService {
  allTasks(): readonly TaskState[];
  peek(id: string): TaskState | undefined;
  createTask(input: CreateTaskInput): Promise<TaskSnapshot>;
  appendOutput(id: string, entry: Omit<OutputEntry, 'at'> & { at?: number }): void;
  cancelTask(id: string): Promise<void>;
  sendFollowUp(id: string, message: string): Promise<TaskSnapshot>;
  fullTranscript(id: string): Promise<OutputEntry[]>;
  readonly onDidUpdateTask: Event<TaskState>;
  readonly onDidAppendOutput: Event<{ taskId: string; entry: OutputEntry }>;
  readonly onDidRemoveTask: Event<string>;
}

export interface McpHostServerOptions {
  tasks: TaskService;
  /** Sends an answer the way the user's would go (the host's AnswerGate). */
  answer(taskId: string, requestId: string, answer: Answer): Promise<void>;
  /** agentTasks.mcp.allowAgentApprovals */
  allowAgentApprovals(): boolean;
  log: Logger;
}

/** Where to serve: the workspace (named in the welcome), its private socket dir and its storage (for the token). */
export interface McpServePlace {
  workspace: string;
  socketDir: string;
  storageDir: string;
}

const HELLO_TIMEOUT_MS = 5_000;
/** Task events are coalesced for this long, so a streaming agent does not flood the socket. */
const EVENT_DELAY_MS = 50;
/** How often a window checks whether the window serving its workspace's socket has gone. */
const TAKE_OVER_MS = 30_000;

type RequestHandlers = { [M in HostMethod]: (params: HostMethods[M]['params']) => Promise<HostMethods[M]['result']> };

/** Serves the workspace's tasks to the MCP server bundle. One per window. */
export class McpHostServer {
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
  private readonly servingEmitter = new Emitter<void>();
  /** Fires when the socket starts being served (after a take-over too). */
  readonly onDidStartServing = this.servingEmitter.event;
  private readonly manager: TaskService;
  private readonly log: Logger;
  private place: McpServePlace | undefined;

  constructor(private readonly options: McpHostServerOptions) {
    this.manager = options.tasks;
    this.log = options.log;
    const manager = this.manager;
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
      this.servingEmitter,
    );
  }

  /** Why the socket is not served (undefined while it is). */
  get unavailableReason(): string | undefined {
    return this.unavailable;
  }

  /** Serves `place`, or (when another window serves it) retries until that window is gone. */
  serve(place: McpServePlace | string): Promise<void> {
    if (typeof place === 'string') {
      this.unavailable = place;
      return Promise.resolve();
    }
    this.place = place;
    return this.start();
  }

  /** The socket and token, once served. */
  get endpoint(): { socketPath: string; token: string } | undefined {
    return this.server && this.socketPath && this.token ? { socketPath: this.socketPath, token: this.token } : undefined;
  }

  private async start(): Promise<void> {
    this.retryTimer = undefined;
    const place = this.place;
    if (this.disposed || !place) return;
    try {
      ensurePrivateDir(place.socketDir, 'the MCP socket');
      this.token = loadOrCreateToken(place.storageDir);
      this.socketPath = path.join(place.socketDir, SOCKET_FILE);
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
      this.servingEmitter.fire();
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
    return { type: 'welcome', version: HOST_PROTOCOL_VERSION, workspace: this.place?.workspace ?? '' };
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
    if (!delegatorMayAnswer(question.type, this.options.allowAgentApprovals())) {
      throw new Error(
        `Refused: task ${taskId} is waiting for the user to approve this in VS Code. An agent may answer approvals of delegated tasks ` +
          'only when the user turns on the setting agentTasks.mcp.allowAgentApprovals. Call wait_for_task to wait for the user.',
      );
    }
    const normalized = normalizeAnswer(question, answer);
    this.manager.appendOutput(taskId, { kind: 'status', text: '[mcp] Answered by the delegating agent' });
    await this.options.answer(taskId, question.requestId, normalized);
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

  private wire(task: TaskState, outputEntries = 0, allowApprovals = this.options.allowAgentApprovals()): WireTask {
    return wireTask(task, outputEntries, allowApprovals);
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
    const allowApprovals = this.options.allowAgentApprovals();
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

  /**
   * Replaces the token: connections opened with the old one are closed, configs that embed it stop working, and
   * clients started from the copied configs (which name the token file) get the new one when they reconnect.
   */
  rotateToken(): void {
    const storageDir = this.place?.storageDir;
    if (!this.endpoint || !storageDir) throw new Error(this.unavailable ?? 'This window does not serve the MCP socket, so it cannot rotate its token');
    this.token = rotateToken(storageDir);
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    this.log.info('[mcp] the MCP token was rotated; connections opened with the old token were closed');
  }

  private broadcast(events: HostEvent[]): void {
    if (events.length === 0) return;
    const payload = events.map(encodeJsonLine).join('');
    for (const socket of this.connections) if (!socket.destroyed) socket.write(payload);
  }

  dispose(): void {
    this.disposed = true;
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
