import * as acp from '@agentclientprotocol/sdk/unstable';
import type { Disposable, Logger } from '../../core/events';
import { ProcessTransport } from '../transport/process-transport';
import type { MessageTransport, TransportClosed } from '../transport/transport';
import { parseReadSessionNotification } from './session-update';

/** How to start an ACP agent. */
export interface AcpAgentLaunch {
  command: string;
  args: readonly string[];
  env?: Record<string, string | undefined>;
}

/** What one session of the agent reports to its run. */
export interface AcpSessionListener {
  onUpdate(notification: acp.SessionNotification): void;
  onPermission(request: acp.RequestPermissionRequest, signal: AbortSignal): Promise<acp.RequestPermissionResponse>;
}

/** The client capabilities we advertise: no file system or terminal; the agent uses its own tools. */
const CLIENT_CAPABILITIES: acp.ClientCapabilities = { fs: { readTextFile: false, writeTextFile: false }, terminal: false };

/**
 * An ACP agent and the SDK client connection to it. Messages go through a MessageTransport (ProcessTransport for a
 * stdio agent: the agent leads its own process group, so cancel kills its tools too, and a missing executable
 * surfaces as CommandNotFoundError); a line that is not JSON is logged with its raw text and skipped.
 */
export class AcpAgentProcess {
  readonly connection: acp.ClientConnection;
  private readonly listeners = new Map<string, AcpSessionListener>();
  private readonly subscriptions: Disposable[] = [];
  private readonly closedPromise: Promise<TransportClosed>;

  constructor(
    readonly transport: MessageTransport,
    private readonly log: Logger,
    /** Names the agent in log lines. */
    private readonly label: string,
  ) {
    let markClosed!: (closed: TransportClosed) => void;
    this.closedPromise = new Promise((resolve) => (markClosed = resolve));
    this.subscriptions.push(
      transport.onMalformed(({ raw, error }) => log.warn(`${label} wrote a line that is not JSON (${error.message}); skipped: ${raw}`)),
      transport.onClose(markClosed),
    );
    const app = withoutActiveSessionRouter(acp.client({ name: 'agent-task-worker' }))
      .onNotification(
        acp.methods.client.session.update,
        (params) => {
          try {
            return parseReadSessionNotification(params);
          } catch (error) {
            // The SDK drops the notification; say which one and why.
            log.warn(`${label} sent a session/update that does not match the ACP schema (${error instanceof Error ? error.message : String(error)}); skipped: ${JSON.stringify(params)}`);
            throw error;
          }
        },
        ({ params }) => {
          const listener = this.listeners.get(params.sessionId);
          if (listener) listener.onUpdate(params);
          else log.debug(`${label}: update for session ${params.sessionId} with no run attached (${params.update.sessionUpdate})`);
        },
      )
      .onRequest(acp.methods.client.session.requestPermission, ({ params, signal }) => {
        const listener = this.listeners.get(params.sessionId);
        if (!listener) return { outcome: { outcome: 'cancelled' } };
        return listener.onPermission(params, signal);
      });
    this.connection = app.connect(acpStreamOver(this.transport, this.subscriptions));
  }

  get agent(): acp.ClientContext {
    return this.connection.agent;
  }

  /** Routes one session's updates and permission requests to `listener`. */
  attach(sessionId: string, listener: AcpSessionListener): Disposable {
    this.listeners.set(sessionId, listener);
    return { dispose: () => this.listeners.get(sessionId) === listener && this.listeners.delete(sessionId) };
  }

  initialize(clientVersion: string): Promise<acp.InitializeResponse> {
    return this.agent.request(acp.methods.agent.initialize, {
      protocolVersion: acp.PROTOCOL_VERSION,
      clientCapabilities: CLIENT_CAPABILITIES,
      clientInfo: { name: 'agent-task-worker', title: 'Agent Task Worker', version: clientVersion },
    });
  }

  /** Resolves when the agent has gone (process exit, or the connection closed). */
  whenClosed(): Promise<TransportClosed> {
    return this.closedPromise;
  }

  /** Ends the agent: closes stdin (agents exit on EOF), then kills the process group after `graceMs`. */
  async close(graceMs = 1500): Promise<void> {
    try {
      await this.transport.close(graceMs);
    } finally {
      this.connection.close();
      for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
      (this.transport as { dispose?: () => void }).dispose?.();
    }
  }

  kill(): void {
    this.transport.kill();
  }

  /** Lets go of an agent under a keeper (the window is closing): it keeps running; the connection is closed. */
  async detach(): Promise<void> {
    const transport = this.transport as MessageTransport & { detach?: () => Promise<TransportClosed> };
    try {
      if (transport.detach) await transport.detach();
      else await transport.close();
    } finally {
      this.connection.close();
      for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
      (transport as { dispose?: () => void }).dispose?.();
    }
  }
}

/**
 * The SDK's ClientApp validates every session/update once more for its ActiveSession helpers (buildSession,
 * nextUpdate), which we do not use: our own handler validates it with the same schema. Leaves the app as it is if a
 * later SDK no longer has that router.
 */
export function withoutActiveSessionRouter(app: acp.ClientApp): acp.ClientApp {
  const handlers = (app as unknown as { builder?: { handlers?: { describe?: () => string }[] } }).builder?.handlers;
  const index = handlers?.findIndex((handler) => handler.describe?.() === ACTIVE_SESSION_ROUTER) ?? -1;
  if (index >= 0) handlers!.splice(index, 1);
  return app;
}

/** The name the SDK gives the handler that feeds ActiveSession helpers (@agentclientprotocol/sdk dist/v1/acp.js). */
export const ACTIVE_SESSION_ROUTER = 'client-session-update-router';

/** Spawns an ACP agent speaking NDJSON over stdio, in its own process group; stderr goes to the trace log. */
export function spawnAcpAgent(launch: AcpAgentLaunch, cwd: string, log: Logger, label: string): ProcessTransport {
  return new ProcessTransport({
    command: launch.command,
    args: launch.args,
    cwd,
    env: launch.env,
    onStderr: (text) => log.trace(`[${label} stderr] ${text.trimEnd()}`),
  });
}

/**
 * The SDK's message stream over a MessageTransport: the transport does the framing (and would let a keeper or a
 * socket carry ACP later), the SDK does JSON-RPC. The stream is pulled: messages wait in our own queue and are handed
 * over one at a time as the SDK reads, because Node's web-stream queue dequeues in time proportional to its length
 * and a burst from the agent enqueued at once would cost O(n²).
 */
export function acpStreamOver(transport: MessageTransport, subscriptions: Disposable[]): acp.Stream {
  const queue = new MessageQueue<acp.AnyMessage>();
  let ended = transport.closed;
  /** The SDK stopped reading (its connection closed): what arrives later is dropped, not queued. */
  let cancelled = false;
  /** Set while the SDK waits for a message and our queue is empty. */
  let reading: ReadableStreamDefaultController<acp.AnyMessage> | undefined;
  const hand = (controller: ReadableStreamDefaultController<acp.AnyMessage>): void => {
    const message = queue.shift();
    if (message !== undefined) controller.enqueue(message);
    else if (ended) closeQuietly(controller);
    else reading = controller;
  };
  subscriptions.push(
    transport.onMessage((message) => {
      if (cancelled || typeof message !== 'object' || message === null || Array.isArray(message)) return;
      queue.push(message as acp.AnyMessage);
      if (reading) {
        const controller = reading;
        reading = undefined;
        hand(controller);
      }
    }),
    transport.onClose(() => {
      ended = true;
      if (reading) {
        const controller = reading;
        reading = undefined;
        hand(controller);
      }
    }),
  );
  const readable = new ReadableStream<acp.AnyMessage>(
    {
      pull: hand,
      cancel: () => {
        cancelled = true;
        reading = undefined;
        while (queue.shift() !== undefined);
      },
    },
    { highWaterMark: 1 },
  );
  const writable = new WritableStream<acp.AnyMessage>({
    write(message) {
      transport.send(message);
    },
  });
  return { readable, writable };
}

function closeQuietly(controller: ReadableStreamDefaultController<unknown>): void {
  try {
    controller.close();
  } catch {
    // Already closed or cancelled.
  }
}

/** A FIFO with O(1) shift (Array.prototype.shift copies the array once it is large). */
class MessageQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}
