import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { Emitter } from '../core/events';
import { encodeJsonLine, LineDecoder } from '../platform/jsonl';
import {
  ENV_SOCKET,
  ENV_TOKEN,
  ENV_TOKEN_FILE,
  HOST_PROTOCOL_VERSION,
  MAX_LINE_BYTES,
  type HostEvent,
  type HostMethod,
  type HostMethods,
  type HostToClient,
} from './protocol';

export interface HostConnectionOptions {
  socketPath: string | undefined;
  /** The token, or how to get it at each connection (a token file may be rotated meanwhile). */
  token: string | undefined | (() => string | undefined);
  /** Connecting and the hello exchange together. */
  connectTimeoutMs?: number;
  /** Per request. */
  requestTimeoutMs?: number;
}

/** Why the host could not be reached; the message tells the agent (and the user behind it) what to do. */
export class HostUnavailableError extends Error {
  /** False when trying again cannot help (no config, a refused token) until the user fixes the config. */
  constructor(
    message: string,
    readonly retryable = true,
  ) {
    super(message);
    this.name = 'HostUnavailableError';
  }
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The bundle's side of the host socket: connects on demand (so a host that starts or reloads later is picked up),
 * times out every step, and turns every failure into a HostUnavailableError with a clear message.
 */
export class HostConnection {
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private readonly eventEmitter = new Emitter<HostEvent>();
  private readonly connectedEmitter = new Emitter<boolean>();
  private disposed = false;
  /** Sent in every hello: the tasks this bundle spawns stay its own when it reconnects (protocol.ts HelloMessage). */
  private readonly session = randomBytes(32).toString('hex');
  /** Host events (task created/changed/removed, new output). */
  readonly onEvent = this.eventEmitter.event;
  /** Fires true on every (re)connect, false when the connection drops. */
  readonly onDidChangeConnection = this.connectedEmitter.event;

  constructor(private readonly options: HostConnectionOptions) {}

  get connected(): boolean {
    return this.socket !== undefined;
  }

  async call<M extends HostMethod>(method: M, params: HostMethods[M]['params'], timeoutMs?: number): Promise<HostMethods[M]['result']> {
    const socket = await this.connect();
    const id = this.nextId++;
    const limit = timeoutMs ?? this.options.requestTimeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HostUnavailableError(`Agent Task Worker did not answer "${method}" within ${Math.round(limit / 1000)} s`));
      }, limit);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      socket.write(encodeJsonLine({ type: 'request', id, method, params }));
    });
  }

  /** Connects (or returns the live connection); rejects with a HostUnavailableError. */
  connect(): Promise<net.Socket> {
    if (this.disposed) return Promise.reject(new HostUnavailableError('The MCP server is shutting down'));
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private open(): Promise<net.Socket> {
    const { socketPath } = this.options;
    const token = typeof this.options.token === 'function' ? this.options.token() : this.options.token;
    if (!socketPath) {
      return Promise.reject(
        new HostUnavailableError(`${ENV_SOCKET} is not set. In VS Code run "Agent Tasks: Copy MCP Server Config" and use that config to start this server.`, false),
      );
    }
    if (!token) {
      return Promise.reject(
        new HostUnavailableError(
          `${ENV_TOKEN} is not set and ${ENV_TOKEN_FILE} names no readable token. Copy the config again with "Agent Tasks: Copy MCP Server Config" in VS Code.`,
          false,
        ),
      );
    }
    const limit = this.options.connectTimeoutMs ?? 3_000;
    return new Promise<net.Socket>((resolve, reject) => {
      const socket = net.createConnection({ path: socketPath });
      const decoder = new LineDecoder();
      let welcomed = false;
      const fail = (error: HostUnavailableError): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new HostUnavailableError(`Agent Task Worker did not accept the connection within ${Math.round(limit / 1000)} s (socket ${socketPath})`)),
        limit,
      );
      socket.once('connect', () => socket.write(encodeJsonLine({ type: 'hello', version: HOST_PROTOCOL_VERSION, token, session: this.session })));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (!welcomed) fail(new HostUnavailableError(unreachableMessage(socketPath, error)));
      });
      socket.on('close', () => {
        if (!welcomed) {
          fail(new HostUnavailableError('Agent Task Worker closed the connection before accepting it'));
          return;
        }
        this.dropped(socket);
      });
      socket.on('data', (chunk: Buffer) => {
        if (decoder.bufferedBytes + chunk.length > MAX_LINE_BYTES) {
          socket.destroy(new Error('line too long'));
          return;
        }
        for (const line of decoder.push(chunk)) {
          if (!line.trim()) continue;
          let message: HostToClient;
          try {
            message = JSON.parse(line) as HostToClient;
          } catch {
            continue;
          }
          if (!welcomed) {
            if (message.type === 'welcome') {
              welcomed = true;
              clearTimeout(timer);
              this.socket = socket;
              resolve(socket);
              this.connectedEmitter.fire(true);
            } else if (message.type === 'refused') {
              fail(new HostUnavailableError(`Agent Task Worker refused the connection: ${message.message}`, false));
              return;
            }
            continue;
          }
          this.dispatch(message);
        }
      });
    });
  }

  private dispatch(message: HostToClient): void {
    if (message.type === 'event') {
      this.eventEmitter.fire(message);
      return;
    }
    if (message.type !== 'response') return;
    const call = this.pending.get(message.id);
    if (!call) return;
    this.pending.delete(message.id);
    clearTimeout(call.timer);
    if ('error' in message) call.reject(new Error(message.error.message));
    else call.resolve(message.result);
  }

  private dropped(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    for (const [id, call] of this.pending) {
      clearTimeout(call.timer);
      call.reject(new HostUnavailableError('The connection to Agent Task Worker closed (was the VS Code window closed or reloaded?); try again'));
      this.pending.delete(id);
    }
    this.connectedEmitter.fire(false);
  }

  dispose(): void {
    this.disposed = true;
    this.socket?.destroy();
    this.socket = undefined;
    this.eventEmitter.dispose();
    this.connectedEmitter.dispose();
  }
}

function unreachableMessage(socketPath: string, error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return (
        `Agent Task Worker is not running for this workspace (nothing listens on ${socketPath}). ` +
        'Open the workspace in VS Code with the Agent Task Worker extension enabled, then try again.'
      );
    case 'ECONNRESET':
    case 'EPIPE':
      return `Agent Task Worker closed the connection on ${socketPath} (was its VS Code window closed or reloaded?); try again.`;
    case 'EACCES':
    case 'EPERM':
      return `Not allowed to open ${socketPath}: the socket belongs to another user.`;
    default:
      return `Cannot reach Agent Task Worker at ${socketPath}: ${error.message}`;
  }
}
