/**
 * The real MCP host server (src/mcp/host-server.ts) over a core Harness's TaskManager, in a private temp dir, and
 * a raw line client of its socket protocol (hello, then requests) for tests that speak to it directly.
 */
import * as net from 'node:net';
import { McpHostServer, type McpHostServerOptions } from '../../src/mcp/host-server';
import { HOST_PROTOCOL_VERSION, type HelloReply, type HostEvent, type HostMethod, type HostMethods } from '../../src/mcp/protocol';
import { encodeJsonLine, LineDecoder } from '../../src/platform/jsonl';
import { makeTempDir, type Harness } from './core-harness';

export interface TestHost {
  server: McpHostServer;
  socketPath: string;
  token: string;
  socketDir: string;
  storageDir: string;
  /** agentTasks.mcp.allowAgentApprovals as the server reads it. */
  allowAgentApprovals: boolean;
  /** agentTasks.mcp.allowAgentMerge as the server reads it. */
  allowAgentMerge: boolean;
  close(): void;
}

export interface TestHostOptions {
  /** Serve in these (a window reloaded on the same workspace); fresh temp dirs by default. */
  socketDir?: string;
  storageDir?: string;
  spawnLimit?: McpHostServerOptions['spawnLimit'];
  now?: () => number;
}

export async function startTestHost(h: Harness, options: TestHostOptions = {}): Promise<TestHost> {
  const state = { allowAgentApprovals: false, allowAgentMerge: false };
  const server = new McpHostServer({
    tasks: h.manager,
    answer: (taskId, requestId, answer) => h.manager.answer(taskId, requestId, answer),
    allowAgentApprovals: () => state.allowAgentApprovals,
    allowAgentMerge: () => state.allowAgentMerge,
    log: h.log,
    spawnLimit: options.spawnLimit,
    now: options.now,
  });
  const socketDir = options.socketDir ?? makeTempDir('atw-mcp-');
  const storageDir = options.storageDir ?? makeTempDir('atw-mcp-storage-');
  await server.serve({ workspace: h.dir, socketDir, storageDir });
  const endpoint = server.endpoint;
  if (!endpoint) throw new Error(`the host server did not start: ${server.unavailableReason}`);
  return {
    server,
    ...endpoint,
    socketDir,
    storageDir,
    get allowAgentApprovals() {
      return state.allowAgentApprovals;
    },
    set allowAgentApprovals(value: boolean) {
      state.allowAgentApprovals = value;
    },
    get allowAgentMerge() {
      return state.allowAgentMerge;
    },
    set allowAgentMerge(value: boolean) {
      state.allowAgentMerge = value;
    },
    close: () => server.dispose(),
  };
}

export interface RawClient {
  hello: HelloReply;
  /** Every event received, in order. */
  events: HostEvent[];
  request<M extends HostMethod>(method: M, params: HostMethods[M]['params']): Promise<HostMethods[M]['result']>;
  /** Sends any line (for malformed requests); resolves with the next response. */
  send(message: unknown): Promise<{ result?: unknown; error?: { message: string } }>;
  closed: Promise<void>;
  close(): void;
}

/** Connects and says hello (with `token`, or whatever `hello` overrides). */
export function connectRaw(socketPath: string, token: string, hello: Record<string, unknown> = {}): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path: socketPath });
    const decoder = new LineDecoder();
    const events: HostEvent[] = [];
    const waiting = new Map<number, (response: { result?: unknown; error?: { message: string } }) => void>();
    let nextId = 1;
    let welcomed = false;
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    const send = (message: Record<string, unknown>): Promise<{ result?: unknown; error?: { message: string } }> => {
      const id = typeof message.id === 'number' ? message.id : nextId++;
      return new Promise((done) => {
        waiting.set(id, done);
        socket.write(encodeJsonLine({ ...message, id }));
      });
    };
    const client = (reply: HelloReply): RawClient => ({
      hello: reply,
      events,
      request: async (method, params) => {
        const response = await send({ type: 'request', method, params });
        if (response.error) throw new Error(response.error.message);
        return response.result as never;
      },
      send: (message) => send(message as Record<string, unknown>),
      closed,
      close: () => socket.destroy(),
    });
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      for (const line of decoder.push(chunk)) {
        const message = JSON.parse(line) as { type: string; id?: number };
        if (!welcomed) {
          welcomed = true;
          resolve(client(message as HelloReply));
        } else if (message.type === 'response' && message.id !== undefined) {
          waiting.get(message.id)?.(message as never);
          waiting.delete(message.id);
        } else if (message.type === 'event') events.push(message as HostEvent);
      }
    });
    socket.write(encodeJsonLine({ type: 'hello', version: HOST_PROTOCOL_VERSION, token, ...hello }));
  });
}
