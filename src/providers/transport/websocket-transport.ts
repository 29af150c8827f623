import WebSocket from 'ws';
import { BaseTransport, type TransportClosed } from './transport';

export interface UnixWebSocketOptions {
  /** Gives up connecting after this long (default 5 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * JSON messages as WebSocket text frames over a Unix socket (`ws+unix://<path>:/`), as `codex app-server
 * --listen unix://…` speaks them. The transport owns only the connection: close() and kill() disconnect and leave
 * the server running, because a server that outlives the window is the point of listening on a socket.
 */
export class UnixWebSocketTransport extends BaseTransport {

  private closeInfo: TransportClosed | undefined;
  private readonly closedPromise: Promise<TransportClosed>;
  private resolveClosed!: (info: TransportClosed) => void;

  private constructor(private readonly socket: WebSocket) {
    super();
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.on('message', (data, isBinary) => this.handleFrame(data, isBinary));
    socket.on('close', (code, reason) => {
      this.finish({ code, signal: null, stderrTail: '', error: code === 1000 || code === 1005 ? undefined : new Error(`socket closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`) });
    });
    socket.on('error', (error) => this.finish({ code: null, signal: null, stderrTail: '', error }));
  }

  /** Connects to a WebSocket server listening on the Unix socket `socketPath`. */
  static connect(socketPath: string, options: UnixWebSocketOptions = {}): Promise<UnixWebSocketTransport> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws+unix://${socketPath}:/`, { handshakeTimeout: options.timeoutMs ?? 5000, perMessageDeflate: false });
      const onAbort = () => {
        socket.terminate();
        reject(options.signal?.reason instanceof Error ? options.signal.reason : new Error('connect aborted'));
      };
      const cleanup = () => {
        socket.off('open', onOpen);
        socket.off('error', onError);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const onOpen = () => {
        cleanup();
        resolve(new UnixWebSocketTransport(socket));
      };
      const onError = (error: Error) => {
        cleanup();
        socket.terminate();
        reject(error);
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('open', onOpen);
      socket.once('error', onError);
    });
  }

  get closed(): boolean {
    return this.closeInfo !== undefined;
  }

  send(message: unknown): void {
    if (this.closed || this.socket.readyState !== WebSocket.OPEN) throw new Error('The connection to the agent is closed');
    this.socket.send(JSON.stringify(message));
  }

  /** Closes the connection politely; after `graceMs` it is cut. The server keeps running. */
  async close(graceMs = 1000): Promise<TransportClosed> {
    if (this.closeInfo) return this.closeInfo;
    this.socket.close(1000);
    const timer = setTimeout(() => this.socket.terminate(), graceMs);
    try {
      return await this.closedPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cuts the connection at once. The server keeps running. */
  kill(): void {
    this.socket.terminate();
  }

  whenClosed(): Promise<TransportClosed> {
    return this.closedPromise;
  }

  private handleFrame(data: WebSocket.RawData, isBinary: boolean): void {
    const raw = Buffer.isBuffer(data)
      ? data.toString('utf8')
      : Array.isArray(data)
        ? Buffer.concat(data).toString('utf8')
        : Buffer.from(data).toString('utf8');
    if (isBinary) {
      this.malformedEmitter.fire({ raw, error: new Error('unexpected binary frame') });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      this.malformedEmitter.fire({ raw, error: error instanceof Error ? error : new Error(String(error)) });
      return;
    }
    this.messageEmitter.fire(value);
  }

  private finish(info: TransportClosed): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    this.resolveClosed(info);
    this.closeEmitter.fire(info);
  }
}
