import { Emitter, type Disposable, type Logger } from '../../core/events';
import type { MessageTransport, TransportClosed } from '../transport/transport';
import type { ClientRequest } from './protocol/ClientRequest';
import type { RequestId } from './protocol/RequestId';
import type { ServerNotification } from './protocol/ServerNotification';
import type { ServerRequest } from './protocol/ServerRequest';
import type { InitializeResponse } from './protocol/InitializeResponse';
import type { ReviewStartResponse } from './protocol/v2/ReviewStartResponse';
import type { ThreadLoadedListResponse } from './protocol/v2/ThreadLoadedListResponse';
import type { ThreadReadResponse } from './protocol/v2/ThreadReadResponse';
import type { ThreadResumeResponse } from './protocol/v2/ThreadResumeResponse';
import type { ThreadStartResponse } from './protocol/v2/ThreadStartResponse';
import type { ThreadUnsubscribeResponse } from './protocol/v2/ThreadUnsubscribeResponse';
import type { TurnInterruptResponse } from './protocol/v2/TurnInterruptResponse';
import type { TurnStartResponse } from './protocol/v2/TurnStartResponse';

/** Result types of the client requests this provider sends (params come from the generated ClientRequest union). */
export interface ClientResults {
  initialize: InitializeResponse;
  'thread/start': ThreadStartResponse;
  'thread/resume': ThreadResumeResponse;
  'thread/read': ThreadReadResponse;
  'thread/unsubscribe': ThreadUnsubscribeResponse;
  'thread/loaded/list': ThreadLoadedListResponse;
  'turn/start': TurnStartResponse;
  'turn/interrupt': TurnInterruptResponse;
  'review/start': ReviewStartResponse;
}
export type ClientMethod = keyof ClientResults;
export type ClientParams<M extends ClientMethod> = Extract<ClientRequest, { method: M }>['params'];

/** A JSON-RPC error answered by the server. */
export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(`${method}: ${message}`);
    this.name = 'RpcError';
  }
}

/** The connection closed while a request was waiting for its answer. */
export class ConnectionClosedError extends Error {
  constructor(readonly method: string, readonly closed?: TransportClosed) {
    super(`${method}: the connection to codex app-server closed`);
    this.name = 'ConnectionClosedError';
  }
}

/** JSON-RPC error codes used in replies to server requests. */
export const RpcErrorCode = { methodNotFound: -32601, internalError: -32603 } as const;

interface PendingCall {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
}

export interface RequestOptions {
  timeoutMs?: number;
}

/**
 * The JSON-RPC client of `codex app-server` over any MessageTransport. Codex omits the "jsonrpc" field and numbers
 * its own requests from 0 per connection, so ids are compared with `!== undefined`, never for truthiness.
 */
export class CodexRpcConnection implements Disposable {
  private readonly notificationEmitter = new Emitter<ServerNotification>();
  private readonly requestEmitter = new Emitter<ServerRequest>();
  private readonly closeEmitter = new Emitter<TransportClosed>();
  /** Every server notification, typed by method. */
  readonly onNotification = this.notificationEmitter.event;
  /** Every server→client request; the listener must answer it with respond() or respondError(). */
  readonly onRequest = this.requestEmitter.event;
  readonly onClose = this.closeEmitter.event;

  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private readonly subscriptions: Disposable[];
  private closedWith: TransportClosed | undefined;

  constructor(
    private readonly transport: MessageTransport,
    private readonly log: Logger,
  ) {
    this.subscriptions = [
      transport.onMessage((message) => this.dispatch(message)),
      transport.onMalformed(({ raw, error }) => this.log.warn(`[codex] skipped a malformed frame (${error.message}): ${raw.slice(0, 2000)}`)),
      transport.onClose((info) => this.handleClose(info)),
    ];
  }

  get closed(): boolean {
    return this.closedWith !== undefined || this.transport.closed;
  }

  request<M extends ClientMethod>(method: M, params: ClientParams<M>, options: RequestOptions = {}): Promise<ClientResults[M]> {
    if (this.closedWith || this.transport.closed) return Promise.reject(new ConnectionClosedError(method, this.closedWith));
    const id = this.nextId++;
    return new Promise<ClientResults[M]>((resolve, reject) => {
      const call: PendingCall = { method, resolve: resolve as (value: unknown) => void, reject };
      if (options.timeoutMs !== undefined) {
        call.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new Error(`${method}: codex app-server did not answer within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      }
      this.pending.set(id, call);
      try {
        this.transport.send({ method, id, params });
      } catch {
        this.pending.delete(id);
        if (call.timer) clearTimeout(call.timer);
        reject(new ConnectionClosedError(method, this.closedWith));
      }
    });
  }

  notify(method: string, params?: unknown): void {
    this.transport.send(params === undefined ? { method } : { method, params });
  }

  respond(id: RequestId, result: unknown): void {
    this.trySend({ id, result });
  }

  respondError(id: RequestId, code: number, message: string): void {
    this.trySend({ id, error: { code, message } });
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.handleClose({ code: null, signal: null, stderrTail: '' });
    this.notificationEmitter.dispose();
    this.requestEmitter.dispose();
    this.closeEmitter.dispose();
  }

  private trySend(message: unknown): void {
    try {
      this.transport.send(message);
    } catch (error) {
      // The server is gone; it forgets its requests with it, so there is no one left to answer.
      this.log.debug(`[codex] could not send a reply: ${(error as Error).message}`);
    }
  }

  private dispatch(message: unknown): void {
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.log.warn(`[codex] skipped a frame that is not a JSON object: ${JSON.stringify(message).slice(0, 2000)}`);
      return;
    }
    const frame = message as { id?: unknown; method?: unknown; result?: unknown; error?: unknown; params?: unknown };
    if (typeof frame.method === 'string') {
      if (frame.id !== undefined && frame.id !== null) this.requestEmitter.fire(frame as ServerRequest);
      else this.notificationEmitter.fire(frame as ServerNotification);
      return;
    }
    if (typeof frame.id === 'number' && ('result' in frame || 'error' in frame)) {
      const call = this.pending.get(frame.id);
      if (!call) {
        this.log.warn(`[codex] a response for an unknown request id ${frame.id}`);
        return;
      }
      this.pending.delete(frame.id);
      if (call.timer) clearTimeout(call.timer);
      if (frame.error !== undefined && frame.error !== null) {
        const error = frame.error as { code?: number; message?: string; data?: unknown };
        call.reject(new RpcError(call.method, error.code ?? RpcErrorCode.internalError, error.message ?? 'request failed', error.data));
      } else {
        call.resolve(frame.result);
      }
      return;
    }
    this.log.warn(`[codex] skipped a frame that is neither a request, a response nor a notification: ${JSON.stringify(message).slice(0, 2000)}`);
  }

  private handleClose(info: TransportClosed): void {
    if (this.closedWith) return;
    this.closedWith = info;
    for (const [id, call] of this.pending) {
      this.pending.delete(id);
      if (call.timer) clearTimeout(call.timer);
      call.reject(new ConnectionClosedError(call.method, info));
    }
    this.closeEmitter.fire(info);
  }
}
