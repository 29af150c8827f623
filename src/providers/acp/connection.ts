import * as acp from '@agentclientprotocol/sdk/unstable';
import type { Disposable, Logger } from '../../core/events';
import { ProcessTransport } from '../transport/process-transport';
import type { MessageTransport, TransportClosed } from '../transport/transport';

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
    const app = acp
      .client({ name: 'agent-task-worker' })
      .onNotification(acp.methods.client.session.update, ({ params }) => {
        const listener = this.listeners.get(params.sessionId);
        if (listener) listener.onUpdate(params);
        else log.debug(`${label}: update for session ${params.sessionId} with no run attached (${params.update.sessionUpdate})`);
      })
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
 * socket carry ACP later), the SDK does JSON-RPC.
 */
export function acpStreamOver(transport: MessageTransport, subscriptions: Disposable[]): acp.Stream {
  const readable = new ReadableStream<acp.AnyMessage>({
    start(controller) {
      subscriptions.push(
        transport.onMessage((message) => {
          if (typeof message === 'object' && message !== null && !Array.isArray(message)) controller.enqueue(message as acp.AnyMessage);
        }),
        transport.onClose(() => {
          try {
            controller.close();
          } catch {
            // Already closed or cancelled.
          }
        }),
      );
      if (transport.closed) controller.close();
    },
  });
  const writable = new WritableStream<acp.AnyMessage>({
    write(message) {
      transport.send(message);
    },
  });
  return { readable, writable };
}
