import type { Disposable, Logger } from '../../core/events';
import type { ServerNotification } from './protocol/ServerNotification';
import type { ServerRequest } from './protocol/ServerRequest';
import { DECLINED_REQUEST_REASONS } from './questions';
import { RpcErrorCode } from './rpc';

/** Answers one server request on the connection it arrived on. */
export interface RequestReply {
  result(value: unknown): void;
  error(code: number, message: string): void;
}

/** Why a thread lost its server. */
export interface ServerLost {
  /** True when the app-server process is gone (not just the connection). */
  exited: boolean;
  message: string;
  /** The last lines the server wrote to its log (stderr). */
  stderrTail: string;
}

/** Receives what the server sends about one thread. */
export interface ThreadListener {
  onNotification(notification: ServerNotification): void;
  /** A server→client request for this thread; it must be answered through `reply` (or left for a later client). */
  onRequest(request: ServerRequest, reply: RequestReply): void;
  onServerLost(lost: ServerLost): void;
  /** This client let go of the server (window reload); the thread keeps running there. */
  onDetached(): void;
}

/** How long a request for a thread nobody listens to waits for a listener (a resume attaching) before it is refused. */
const UNROUTED_REQUEST_GRACE_MS = 5000;

/**
 * Routes an app-server connection's traffic by `threadId` to the listener (task run) of that thread. Account-wide
 * notifications go to every listener; a request nobody can answer gets a JSON-RPC error instead of hanging.
 */
export class ThreadRouter implements Disposable {
  private readonly listeners = new Map<string, ThreadListener>();
  private readonly unrouted = new Map<string, { request: ServerRequest; reply: RequestReply; timer: ReturnType<typeof setTimeout> }[]>();

  constructor(
    private readonly log: Logger,
    private readonly graceMs = UNROUTED_REQUEST_GRACE_MS,
  ) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Routes a thread's traffic to `listener`; `onDetach` runs when the returned disposable removes it. */
  attach(threadId: string, listener: ThreadListener, onDetach?: () => void): Disposable {
    this.listeners.set(threadId, listener);
    const queued = this.unrouted.get(threadId) ?? [];
    this.unrouted.delete(threadId);
    for (const pending of queued) {
      clearTimeout(pending.timer);
      listener.onRequest(pending.request, pending.reply);
    }
    return {
      dispose: () => {
        if (this.listeners.get(threadId) !== listener) return;
        this.listeners.delete(threadId);
        onDetach?.();
      },
    };
  }

  routeNotification(notification: ServerNotification): void {
    // Notifications name their thread as `threadId` (only legacy requests use `conversationId`): one property read.
    const threadId = (notification.params as { threadId?: unknown } | undefined)?.threadId;
    if (typeof threadId === 'string') {
      this.listeners.get(threadId)?.onNotification(notification);
      return;
    }
    switch (notification.method) {
      case 'account/rateLimits/updated':
        for (const listener of this.listeners.values()) listener.onNotification(notification);
        return;
      case 'configWarning':
        this.log.warn(`[codex] ${notification.params.summary}${notification.params.details ? ` (${notification.params.details})` : ''}`);
        return;
      case 'deprecationNotice':
        this.log.debug(`[codex] ${notification.params.summary}`);
        return;
      default:
        this.log.trace(`[codex] ${notification.method}`);
    }
  }

  routeRequest(request: ServerRequest, reply: RequestReply): void {
    // Codex before 0.171 asks the client for the time; the method is gone from the current protocol.
    if ((request.method as string) === 'currentTime/read') {
      reply.result({ currentTimeAt: Math.floor(Date.now() / 1000) });
      return;
    }
    const declined = DECLINED_REQUEST_REASONS[request.method];
    if (declined) {
      this.log.info(`[codex] declined the server request ${request.method} (id ${String(request.id)}): ${declined}`);
      reply.error(RpcErrorCode.methodNotFound, `${request.method} is not supported by this client: ${declined}`);
      return;
    }
    const threadId = threadIdOf(request.params);
    if (threadId === undefined) {
      this.log.warn(`[codex] answered the unsupported server request ${request.method} (id ${String(request.id)}) with an error`);
      reply.error(RpcErrorCode.methodNotFound, `${request.method} is not supported by this client`);
      return;
    }
    const listener = this.listeners.get(threadId);
    if (listener) {
      listener.onRequest(request, reply);
      return;
    }
    const timer = setTimeout(() => {
      const queue = this.unrouted.get(threadId);
      const index = queue?.findIndex((entry) => entry.request === request) ?? -1;
      if (!queue || index < 0) return;
      queue.splice(index, 1);
      if (queue.length === 0) this.unrouted.delete(threadId);
      this.log.warn(`[codex] no task is attached to thread ${threadId}; refused ${request.method} (id ${String(request.id)})`);
      reply.error(RpcErrorCode.internalError, 'No task is attached to this thread');
    }, this.graceMs);
    timer.unref?.();
    const queue = this.unrouted.get(threadId) ?? [];
    queue.push({ request, reply, timer });
    this.unrouted.set(threadId, queue);
  }

  /** Tells every listener the server is gone and forgets them. */
  lost(lost: ServerLost): void {
    this.dropUnrouted();
    for (const listener of this.takeListeners()) listener.onServerLost(lost);
  }

  /** Tells every listener this client let go (the server keeps the threads) and forgets them. */
  detachAll(): void {
    this.dropUnrouted();
    for (const listener of this.takeListeners()) listener.onDetached();
  }

  /** Refuses nothing and forgets queued requests: they belong to a connection that is gone. */
  dropUnrouted(): void {
    for (const queue of this.unrouted.values()) for (const entry of queue) clearTimeout(entry.timer);
    this.unrouted.clear();
  }

  dispose(): void {
    this.dropUnrouted();
    this.listeners.clear();
  }

  private takeListeners(): ThreadListener[] {
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    return listeners;
  }
}

/** The thread a message is about: `threadId`, or `conversationId` in the legacy (v1) approval requests. */
function threadIdOf(params: unknown): string | undefined {
  if (!params || typeof params !== 'object') return undefined;
  const { threadId, conversationId } = params as { threadId?: unknown; conversationId?: unknown };
  if (typeof threadId === 'string') return threadId;
  if (typeof conversationId === 'string') return conversationId;
  return undefined;
}
