// The host side of MCP delegation, editor-free: a per-workspace local socket (0600 in a 0700 directory, token
// required) that the MCP server bundle (dist/mcp-server.js) uses to reach the tasks. Auth, dispatch, the wire mapping
// and coalesced task events live here; host/mcp-host.ts adds the VS Code shell (definition provider, copy command).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { messageOf } from '../core/errors';
import { Emitter, type Event, type Logger } from '../core/events';
import type { Answer, CreateTaskInput, OutputEntry, TaskSnapshot, TaskState } from '../core/task-state';
import { encodeJsonLine, LineDecoder } from '../platform/jsonl';
import { ensurePrivateDir } from '../platform/private-dir';
import { DEFAULT_SPAWN_LIMIT, Delegations, isSession, ownerOf, SpawnLimiter, type McpClient, type SpawnLimit } from './delegations';
import { TaskEventFeed } from './host-events';
import { loadOrCreateToken, rotateToken, SOCKET_FILE, tokenMatches } from './endpoint';
import {
  delegatorMayAnswer,
  HOST_PROTOCOL_VERSION,
  MAX_HELLO_BYTES,
  MAX_LINE_BYTES,
  normalizeAnswer,
  type HelloReply,
  type HostMethod,
  type HostMethods,
  type HostResponse,
  type SpawnParams,
  type WireTask,
} from './protocol';
import { OpinionRequests, type OpinionTasks } from './host-opinions';
import { WorktreeRequests, type WorktreeTasks } from './host-worktrees';
import { byClient, spawnInput } from './spawn-input';
import { isDelegated, wireTask } from './wire';

/** What the host server needs of the tasks (TaskManager has it all). */
export interface TaskService {
  allTasks(): readonly TaskState[];
  peek(id: string): TaskState | undefined;
  /** Creates the task before it returns (its created event fires inside), so the event can go to its owner. */
  createTaskSync(input: CreateTaskInput): TaskState;
  appendOutput(id: string, entry: Omit<OutputEntry, 'at'> & { at?: number }): void;
  cancelTask(id: string): Promise<void>;
  sendFollowUp(id: string, message: string): Promise<TaskSnapshot>;
  fullTranscript(id: string): Promise<OutputEntry[]>;
  readonly onDidUpdateTask: Event<TaskState>;
  readonly onDidAppendOutput: Event<{ taskId: string; entry: OutputEntry }>;
  readonly onDidRemoveTask: Event<string>;
  readonly worktrees: WorktreeTasks['worktrees'];
  readonly secondOpinions: OpinionTasks['secondOpinions'];
}

export interface McpHostServerOptions {
  tasks: TaskService;
  /** Sends an answer the way the user's would go (the host's AnswerGate). */
  answer(taskId: string, requestId: string, answer: Answer): Promise<void>;
  /** agentTasks.mcp.allowAgentApprovals */
  allowAgentApprovals(): boolean;
  /** agentTasks.mcp.allowAgentMerge */
  allowAgentMerge(): boolean;
  log: Logger;
  /** How many tasks MCP clients may spawn a minute (DEFAULT_SPAWN_LIMIT). */
  spawnLimit?: SpawnLimit;
  /** The clock of the spawn limit. */
  now?: () => number;
}

/** Where to serve: the workspace (named in the welcome), its private socket dir and its storage (for the token). */
export interface McpServePlace {
  workspace: string;
  socketDir: string;
  storageDir: string;
}

const HELLO_TIMEOUT_MS = 5_000;
/** How often a window checks whether the window serving its workspace's socket has gone. */
const TAKE_OVER_MS = 30_000;

type RequestHandlers = { [M in HostMethod]: (params: HostMethods[M]['params'], client: McpClient) => Promise<HostMethods[M]['result']> };

/** Serves the workspace's tasks to the MCP server bundle. One per window. */
export class McpHostServer {
  private server: net.Server | undefined;
  private socketPath: string | undefined;
  private token: string | undefined;
  /** Why the socket is not served, for the copy command. */
  private unavailable: string | undefined = 'Agent Tasks is still starting the MCP socket';
  /** Welcomed connections and who is on them. */
  private readonly connections = new Map<net.Socket, McpClient>();
  private readonly delegations = new Delegations();
  private readonly spawnLimiter: SpawnLimiter;
  /** The client a task is being created for, while its created event fires. */
  private creatingFor: McpClient | undefined;
  private readonly events: TaskEventFeed;
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
    this.spawnLimiter = new SpawnLimiter(options.spawnLimit ?? DEFAULT_SPAWN_LIMIT, options.now ?? Date.now);
    const manager = this.manager;
    const worktrees = new WorktreeRequests<McpClient>(manager, options, {
      readable: (id, client) => this.task(id, client),
      delegated: (id, client, verb) => this.delegatedTask(id, client, verb),
      wire: (task) => this.wire(task),
    });
    const opinions = new OpinionRequests<McpClient>(manager, {
      readable: (id, client) => this.task(id, client),
      wire: (task) => this.wire(task),
      spawnInput: (params, client) => spawnInput(params, (id) => this.task(id, client)),
      startFor: (client, count, note, start) => this.startFor(client, count, note, start),
    });
    // L3: every handler sees only the tasks this client delegated (this.task); the rest do not exist for it.
    this.handlers = {
      spawn: (params, client) => this.spawn(params, client),
      get: async ({ taskId, outputEntries }, client) => this.wire(this.task(taskId, client), outputEntries),
      list: async ({ status, label }, client) =>
        this.manager
          .allTasks()
          .filter((task) => this.delegations.isOwner(task.id, client.owner) && (!status || task.status === status) && (!label || task.labels.includes(label)))
          .map((task) => this.wire(task)),
      answer: (params, client) => this.answer(params, client),
      cancel: async ({ taskId }, client) => {
        // A review the client asked for is its to stop too (core labels it "review", not delegated).
        if (this.task(taskId, client).reviewOf === undefined) this.delegatedTask(taskId, client, 'cancel');
        await this.manager.cancelTask(taskId);
        return this.wire(this.task(taskId, client));
      },
      followUp: async ({ taskId, message }, client) => {
        const reviewOf = this.task(taskId, client).reviewOf;
        if (reviewOf !== undefined) throw new Error(`Task ${String(taskId)} is a read-only review: to have its findings addressed, send them to ${reviewOf} with send_message`);
        this.delegatedTask(taskId, client, 'send a follow-up to');
        if (typeof message !== 'string') throw new Error('message must be text');
        this.spawnLimiter.check();
        const followUp = await this.createdFor(client, () => this.manager.sendFollowUp(taskId, message));
        this.spawnLimiter.count();
        this.delegate(followUp.id, client);
        return this.wire(this.task(followUp.id, client));
      },
      transcript: async ({ taskId }, client) => {
        this.task(taskId, client);
        return this.manager.fullTranscript(taskId);
      },
      changes: (params, client) => worktrees.changes(params, client),
      merge: (params, client) => worktrees.merge(params, client),
      attempts: (params, client) => opinions.attempts(params, client),
      review: (params, client) => opinions.review(params, client),
    };
    this.events = new TaskEventFeed({
      tasks: manager,
      delegations: this.delegations,
      connections: this.connections,
      wire: (task, allowApprovals) => this.wire(task, 0, allowApprovals),
      allowAgentApprovals: () => this.options.allowAgentApprovals(),
      onCreated: (taskId) => {
        if (this.creatingFor) this.delegations.add(taskId, this.creatingFor.owner);
      },
    });
    this.disposables.push(this.events, this.servingEmitter);
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
      this.delegations.load(place.storageDir);
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
    const decoder = new LineDecoder(MAX_LINE_BYTES);
    let client: McpClient | undefined;
    const helloTimer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(helloTimer);
      this.connections.delete(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      // L3: an unauthenticated peer gets a few KB for its hello, not a 16 MiB buffer.
      if (decoder.bufferedBytes + chunk.length > (client ? MAX_LINE_BYTES : MAX_HELLO_BYTES)) {
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
        if (!client) {
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
          client = { owner: ownerOf(message.session as string | undefined) };
          this.connections.set(socket, client);
          continue;
        }
        void this.handle(socket, client, message);
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
    if (message.session !== undefined && !isSession(message.session)) return { type: 'refused', reason: 'protocol', message: 'the session must be random hex' };
    return { type: 'welcome', version: HOST_PROTOCOL_VERSION, workspace: this.place?.workspace ?? '' };
  }

  private async handle(socket: net.Socket, client: McpClient, message: Record<string, unknown>): Promise<void> {
    const id = typeof message.id === 'number' ? message.id : -1;
    let response: HostResponse;
    try {
      if (message.type !== 'request' || id < 0) throw new Error('Malformed request');
      const method = message.method as HostMethod;
      const handler = Object.prototype.hasOwnProperty.call(this.handlers, method)
        ? (this.handlers[method] as (params: unknown, client: McpClient) => Promise<unknown>)
        : undefined;
      if (!handler) throw new Error(`Unknown method ${String(message.method)}`);
      const params = typeof message.params === 'object' && message.params !== null ? message.params : {};
      response = { type: 'response', id, result: await handler(params, client) };
    } catch (error) {
      response = { type: 'response', id, error: { message: messageOf(error) } };
    }
    if (!socket.destroyed) socket.write(encodeJsonLine(response));
  }

  // Requests

  private async spawn(params: SpawnParams, client: McpClient): Promise<WireTask> {
    // A dependency is read (its outcome decides this task's): only the client's own tasks.
    const input = spawnInput(params, (id) => this.task(id, client));
    const [task] = await this.startFor(client, 1, () => `Delegated over MCP${byClient(params.client)}`, async () => [this.manager.createTaskSync(input)]);
    return this.wire(task);
  }

  /**
   * Runs `start` (at most `count` tasks) within the spawn limit. What it starts at once is the client's from its
   * created event on; the rest becomes the client's when it resolves. Each task gets `[mcp] <note>` in its transcript.
   */
  private async startFor(
    client: McpClient,
    count: number,
    note: (task: TaskState, index: number) => string,
    start: () => Promise<readonly { id: string }[]>,
  ): Promise<TaskState[]> {
    this.spawnLimiter.check(count);
    const started = await this.createdFor(client, start);
    return started.map(({ id }, index) => {
      this.spawnLimiter.count();
      this.delegate(id, client);
      const text = note(this.task(id, client), index);
      this.manager.appendOutput(id, { kind: 'status', text: `[mcp] ${text}` });
      this.log.info(`[mcp] task ${id}: ${text}`);
      return this.task(id, client);
    });
  }

  /** Runs `create`, so that a task it creates at once is the client's from its created event on (see delegate). */
  private createdFor<T>(client: McpClient, create: () => T): T {
    this.creatingFor = client;
    try {
      return create();
    } finally {
      this.creatingFor = undefined;
    }
  }

  /** Makes the client the task's owner, if its creation did not already; then it hears of the task from now on. */
  private delegate(taskId: string, client: McpClient): void {
    if (this.delegations.isOwner(taskId, client.owner)) return;
    this.delegations.add(taskId, client.owner);
    const task = this.manager.peek(taskId);
    if (task) this.events.sendTo(client.owner, [{ type: 'event', event: 'taskCreated', task: this.wire(task) }]);
  }

  /** DESIGN §6: the delegating agent answers questions; approvals only when the user allowed it. Enforced here. */
  private async answer({ taskId, requestId, answer }: HostMethods['answer']['params'], client: McpClient): Promise<WireTask> {
    const task = this.task(taskId, client);
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
    return this.wire(this.task(taskId, client));
  }

  /** The task, if this client delegated it; any other task is unknown to it (L3), whether it exists or not. */
  private task(id: unknown, client: McpClient): TaskState {
    const task = typeof id === 'string' && this.delegations.isOwner(id, client.owner) ? this.manager.peek(id) : undefined;
    if (!task) throw new Error(`Unknown task ${String(id)}: an MCP client sees only the tasks it delegated`);
    return task;
  }

  private delegatedTask(id: unknown, client: McpClient, verb: string): TaskState {
    const task = this.task(id, client);
    if (!isDelegated(task)) throw new Error(`Task ${task.id} was not delegated over MCP: only the user can ${verb} it, in VS Code.`);
    return task;
  }

  private wire(task: TaskState, outputEntries = 0, allowApprovals = this.options.allowAgentApprovals()): WireTask {
    return wireTask(task, outputEntries, allowApprovals);
  }

  /**
   * Replaces the token: connections opened with the old one are closed, configs that embed it stop working, and
   * clients started from the copied configs (which name the token file) get the new one when they reconnect.
   */
  rotateToken(): void {
    const storageDir = this.place?.storageDir;
    if (!this.endpoint || !storageDir) throw new Error(this.unavailable ?? 'This window does not serve the MCP socket, so it cannot rotate its token');
    this.token = rotateToken(storageDir);
    for (const socket of this.connections.keys()) socket.destroy();
    this.connections.clear();
    this.log.info('[mcp] the MCP token was rotated; connections opened with the old token were closed');
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.retryTimer);
    for (const socket of this.connections.keys()) socket.destroy();
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
