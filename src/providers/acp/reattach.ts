import type * as acp from '@agentclientprotocol/sdk/unstable';
import { Emitter, type Disposable, type Logger } from '../../core/events';
import type { KeeperTransport } from '../../keeper';
import type { MessageTransport, TransportClosed } from '../transport/transport';

/** What the journal of an ACP agent that kept running under its keeper says about its turn. */
export interface AcpReplayHandlers {
  /** A session/update notification from the journal; `shown` when the previous window already wrote its entry. */
  onReplayedUpdate(notification: acp.SessionNotification, shown: boolean): void;
  /** The response to the session/prompt the previous window sent (replayed or live). */
  onPromptResponse(response: { result?: acp.PromptResponse; error?: { code?: number; message?: string } }): void;
  /** The replay has been processed: whether a session/prompt of an earlier window is still waiting for its response. */
  onReplayDone(summary: { promptPending: boolean; promptAnswered: boolean }): void;
}

type JsonRpc = { jsonrpc?: string; id?: string | number | null; method?: string; params?: unknown; result?: unknown; error?: unknown };

/**
 * Between a reattached KeeperTransport and the ACP SDK: the SDK of this window did not send the earlier window's
 * requests, so the journal is interpreted here. Replayed updates go to the run directly (with whether they were
 * already shown), a permission request with no answer in the journal is handed to the SDK as if it had just arrived
 * (so it is asked again and answered under its original id), and the response to the earlier session/prompt is
 * intercepted (replayed or live) instead of reaching an SDK that never sent it.
 */
export class AcpReattachTransport implements MessageTransport {
  private readonly messageEmitter = new Emitter<unknown>();
  private readonly closeEmitter = new Emitter<TransportClosed>();
  readonly onMessage = this.messageEmitter.event;
  readonly onMalformed: MessageTransport['onMalformed'];
  readonly onClose = this.closeEmitter.event;
  private readonly subscriptions: Disposable[] = [];
  private replay: { acked: number; head: number; items: { seq: number; message?: JsonRpc; input?: JsonRpc }[] } | undefined;
  private readonly timer: ReturnType<typeof setTimeout>;
  /** Ids of requests earlier windows sent and that have no response yet. */
  private readonly oldRequests = new Map<string, string>();
  private handlers: AcpReplayHandlers | undefined;

  constructor(
    readonly keeper: KeeperTransport,
    private readonly log: Logger,
  ) {
    this.onMalformed = keeper.onMalformed;
    const replay = { acked: keeper.welcome.ackedSeq, head: keeper.welcome.headSeq, items: [] as { seq: number; message?: JsonRpc; input?: JsonRpc }[] };
    this.replay = replay;
    // A journal that ends in the agent's exit record never reaches head through lines.
    this.timer = setTimeout(() => this.flush(), 2000);
    this.subscriptions.push(
      keeper.onInput((input) => {
        if (this.replay !== replay) return;
        replay.items.push({ seq: input.seq, input: asJsonRpc(input.message) });
        if (input.seq >= replay.head) this.flush();
      }),
      keeper.onMessage((message) => {
        const seq = keeper.lastSeq;
        if (this.replay && seq <= this.replay.head) {
          this.replay.items.push({ seq, message: asJsonRpc(message) });
          if (seq >= this.replay.head) this.flush();
          return;
        }
        this.live(message);
      }),
      keeper.onClose((closed) => {
        this.flush();
        clearTimeout(this.timer);
        this.closeEmitter.fire(closed);
      }),
    );
  }

  /** Starts processing (the run subscribes first); replay already complete is processed now. */
  start(handlers: AcpReplayHandlers): void {
    this.handlers = handlers;
    if (this.pendingFlush) this.flush();
  }

  private pendingFlush = false;

  get closed(): boolean {
    return this.keeper.closed;
  }

  send(message: unknown): void {
    this.keeper.send(message);
  }

  close(graceMs?: number): Promise<TransportClosed> {
    return this.keeper.close(graceMs);
  }

  kill(): void {
    this.keeper.kill();
  }

  detach(): Promise<TransportClosed> {
    return this.keeper.detach();
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
  }

  private live(message: unknown): void {
    const rpc = asJsonRpc(message);
    if (rpc && rpc.method === undefined && rpc.id !== undefined && rpc.id !== null && this.oldRequests.has(String(rpc.id))) {
      const method = this.oldRequests.get(String(rpc.id));
      this.oldRequests.delete(String(rpc.id));
      if (method === 'session/prompt') this.handlers?.onPromptResponse(rpc as { result?: acp.PromptResponse; error?: { message?: string } });
      else this.log.debug(`ACP: response to an earlier window's ${method} (${String(rpc.id)}) ignored`);
      return;
    }
    this.messageEmitter.fire(message);
  }

  private flush(): void {
    const replay = this.replay;
    if (!replay) return;
    if (!this.handlers) {
      this.pendingFlush = true;
      return;
    }
    this.replay = undefined;
    this.pendingFlush = false;
    clearTimeout(this.timer);
    const hostRequests = new Map<string, string>();
    const hostResponses = new Set<string>();
    const agentResponses = new Map<string, JsonRpc>();
    for (const { input, message } of replay.items) {
      if (input && input.id !== undefined && input.id !== null) {
        if (input.method) hostRequests.set(String(input.id), input.method);
        else hostResponses.add(String(input.id));
      }
      if (message && message.method === undefined && message.id !== undefined && message.id !== null) agentResponses.set(String(message.id), message);
    }
    let promptPending = false;
    let promptAnswered = false;
    let promptResponse: JsonRpc | undefined;
    for (const [id, method] of hostRequests) {
      const response = agentResponses.get(id);
      if (method === 'session/prompt') {
        if (response) {
          promptAnswered = true;
          promptResponse = response;
        } else promptPending = true;
      }
      if (!response) this.oldRequests.set(id, method);
    }
    const handlers = this.handlers;
    for (const { seq, message } of replay.items) {
      if (!message || message.method === undefined) continue;
      if (message.id === undefined || message.id === null) {
        if (message.method === 'session/update') handlers.onReplayedUpdate(message.params as acp.SessionNotification, seq <= replay.acked);
        continue;
      }
      // A request from the agent: asked again unless an earlier window answered it.
      if (!hostResponses.has(String(message.id))) this.messageEmitter.fire(message);
    }
    this.log.debug(`ACP: replayed ${replay.items.length} journal lines after reattach (${replay.acked} already shown; prompt ${promptPending ? 'pending' : promptAnswered ? 'answered' : 'not found'})`);
    handlers.onReplayDone({ promptPending, promptAnswered });
    if (promptResponse) handlers.onPromptResponse(promptResponse as { result?: acp.PromptResponse; error?: { message?: string } });
  }
}

function asJsonRpc(value: unknown): JsonRpc | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonRpc) : undefined;
}
