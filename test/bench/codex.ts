/**
 * Codex provider benchmarks, each against a baseline measured in the same run:
 *   ingest    parse + dispatch of a recorded notification stream through the provider's pipeline (JSON-RPC connection,
 *             thread router, transcript) vs a bare JSON.parse loop over the same lines
 *   overhead  task start → first model request through CodexProvider (detached server on a socket) vs a minimal raw
 *             JSONL client driving `codex app-server` over stdio; cold (server start included) and warm
 *   memory    RSS of the app-server with 5 concurrent tasks vs 1
 * Run alone: node --import tsx test/bench/codex.ts
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Emitter, silentLogger } from '../../src/core/events';
import type { MessageTransport, TransportClosed } from '../../src/providers/transport/transport';
import { LineDecoder } from '../../src/platform/jsonl';
import { CodexProvider } from '../../src/providers/codex';
import type { ThreadHost } from '../../src/providers/codex/app-server';
import { CodexRpcConnection, type ClientMethod, type ClientResults } from '../../src/providers/codex/rpc';
import { CodexThreadRun } from '../../src/providers/codex/thread-run';
import { ThreadRouter, type ThreadListener } from '../../src/providers/codex/thread-router';
import { writeCodexHome } from '../fixtures/mock-responses/codex-home';
import { startMockResponsesServer, type MockResponsesServer } from '../fixtures/mock-responses/server';
import { FakeHandle, makeContext, makeTask } from '../support/fake-handle';
import { codexTranscriptsDir, pinnedCodexBinary } from '../support/codex-harness';
import { median } from './stats';

const TRANSCRIPTS = codexTranscriptsDir();
const THREAD = 'bench-thread';

export async function benchCodex(): Promise<Record<string, number | string>> {
  const results: Record<string, number | string> = {};
  Object.assign(results, benchIngest());
  const mock = await startMockResponsesServer();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cx-bench-'));
  try {
    Object.assign(results, await benchOverhead(mock, root));
    Object.assign(results, await benchMemory(mock, root));
  } finally {
    await mock.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
  return results;
}

/** The recorded notifications of every Codex transcript, re-addressed to one thread, repeated to `count` lines. */
export function notificationLines(count: number): string[] {
  const recorded: string[] = [];
  for (const name of fs.readdirSync(TRANSCRIPTS).filter((file) => /^codex-.*\.jsonl$/.test(file)).sort()) {
    for (const line of fs.readFileSync(path.join(TRANSCRIPTS, name), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const frame = JSON.parse(line) as { dir: string; msg?: { method?: string; id?: unknown; params?: { threadId?: string } } };
      if (frame.dir !== 'in' || !frame.msg?.method || frame.msg.id !== undefined) continue;
      if (frame.msg.params && typeof frame.msg.params.threadId === 'string') frame.msg.params.threadId = THREAD;
      recorded.push(JSON.stringify(frame.msg));
    }
  }
  const lines: string[] = [];
  while (lines.length < count) lines.push(...recorded);
  return lines.slice(0, count);
}

class BenchTransport implements MessageTransport {
  readonly messages = new Emitter<unknown>();
  readonly onMessage = this.messages.event;
  readonly onMalformed = new Emitter<{ raw: string; error: Error }>().event;
  readonly onClose = new Emitter<TransportClosed>().event;
  readonly closed = false;
  send(): void {}
  async close(): Promise<TransportClosed> {
    return { code: 0, signal: null, stderrTail: '' };
  }
  kill(): void {}
}

/** Rounds of the ingest figure (after two warm-up rounds): each is ~0.1 s, and the median of few swung by ±0.1. */
const INGEST_ROUNDS = 21;

export function benchIngest(): Record<string, number | string> {
  const lines = notificationLines(50_000);
  const bytes = lines.reduce((sum, line) => sum + line.length + 1, 0);

  /** Wall and CPU time (user + system of this process) of `fn`, in ms. */
  const measure = (fn: () => void): { wall: number; cpu: number } => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    fn();
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return { wall, cpu: (used.user + used.system) / 1000 };
  };

  const baseline = () =>
    measure(() => {
      let sink = 0;
      for (const line of lines) sink += (JSON.parse(line) as { method?: string }).method ? 1 : 0;
      if (sink < 0) throw new Error('unreachable');
    });

  const pipeline = () => {
    const transport = new BenchTransport();
    const connection = new CodexRpcConnection(transport, silentLogger);
    const router = new ThreadRouter(silentLogger);
    connection.onNotification((notification) => router.routeNotification(notification));
    const host: ThreadHost = {
      attachThread: (threadId: string, listener: ThreadListener) => router.attach(threadId, listener),
      connectionSerial: 1,
      request: <M extends ClientMethod>() => Promise.resolve({} as ClientResults[M]),
    };
    const controller = new AbortController();
    const handle = new FakeHandle('bench', controller.signal);
    // What the manager does with entries and reports is its cost, not the adapter's (the TaskManager ingest measures it).
    handle.appendOutput = () => undefined;
    handle.reportRateLimitInfo = () => undefined;
    handle.reportLimits = () => undefined;
    const run = new CodexThreadRun({ server: host, threadId: THREAD, handle, signal: controller.signal, log: silentLogger });
    const elapsed = measure(() => {
      // Each WebSocket frame is one line of text: parse it as the transport does, then dispatch.
      for (const line of lines) transport.messages.fire(JSON.parse(line));
      run.transcript.flush();
    });
    run.dispose();
    connection.dispose();
    return elapsed;
  };

  // Interleaved after a warm-up, so JIT and GC state favour neither side.
  const baseTimes: { wall: number; cpu: number }[] = [];
  const pipeTimes: { wall: number; cpu: number }[] = [];
  for (let round = 0; round < INGEST_ROUNDS + 2; round++) {
    const base = round % 2 ? undefined : baseline();
    const pipe = pipeline();
    const base2 = base ?? baseline();
    if (round < 2) continue;
    baseTimes.push(base2);
    pipeTimes.push(pipe);
  }
  const baseMs = median(baseTimes.map((time) => time.wall));
  const pipeMs = median(pipeTimes.map((time) => time.wall));
  return {
    'codex.ingest.lines': lines.length,
    'codex.ingest.MBps': round((bytes / 1e6) / (pipeMs / 1000)),
    'codex.ingest.linesPerSec': Math.round(lines.length / (pipeMs / 1000)),
    'codex.ingest.baselineLinesPerSec': Math.round(lines.length / (baseMs / 1000)),
    /** Pipeline rate / bare JSON.parse rate in CPU time, median of the per-round ratios (1 = as fast as parsing alone). */
    'codex.ingest.ratio': round(median(pipeTimes.map((time, index) => baseTimes[index].cpu / time.cpu))),
    'codex.ingest.note': `ratio = CPU time of a bare JSON.parse loop / the pipeline over the same lines, median of ${INGEST_ROUNDS} rounds alternating which goes first (higher is better)`,
  };
}

const OVERHEAD_ROUNDS = Number(process.env.ATW_BENCH_CODEX_ROUNDS ?? 9);

async function benchOverhead(mock: MockResponsesServer, root: string): Promise<Record<string, number | string>> {
  const cwd = path.join(root, 'ws');
  fs.mkdirSync(cwd, { recursive: true });
  const home = await writeCodexHome(path.join(root, 'home'), { port: mock.port, cwd });
  const binary = pinnedCodexBinary();
  const profile = { id: 'bench', provider: 'codex', configDir: home, env: { MOCK_API_KEY: 'bench' } };

  const providerCold: number[] = [];
  const providerWarm: number[] = [];
  const rawCold: number[] = [];
  const rawWarm: number[] = [];
  const viaProvider = async (round: number) => {
    const provider = new CodexProvider({ codexPath: () => binary, workspacePath: cwd, socketDir: path.join(root, `s${round}`), log: silentLogger, idleShutdownMs: 0 });
    try {
      for (const list of [providerCold, providerWarm]) {
        const { context, handle } = makeContext(makeTask({ prompt: 'Say hello', cwd }), { profile });
        const index = mock.requests.length;
        const started = performance.now();
        const outcome = provider.start(context, handle);
        await mock.waitForRequest(index);
        list.push(performance.now() - started);
        await outcome;
      }
    } finally {
      await provider.shutdown();
    }
  };
  const viaRawClient = async () => {
    const client = new RawStdioClient(binary, { CODEX_HOME: home, MOCK_API_KEY: 'bench' });
    try {
      for (const [list, first] of [
        [rawCold, true],
        [rawWarm, false],
      ] as const) {
        const index = mock.requests.length;
        const started = performance.now();
        if (first) {
          await client.call('initialize', { clientInfo: { name: 'bench', title: 'bench', version: '0' }, capabilities: { experimentalApi: true } });
          client.notify('initialized');
        }
        const thread = (await client.call('thread/start', { cwd })) as { thread: { id: string } };
        const turnDone = client.waitFor('turn/completed');
        await client.call('turn/start', { threadId: thread.thread.id, input: [{ type: 'text', text: 'Say hello', text_elements: [] }] });
        await mock.waitForRequest(index);
        list.push(performance.now() - started);
        await turnDone;
      }
    } finally {
      await client.stop();
    }
  };
  // Paired rounds, alternating which side goes first, so a slow spell of the machine hits both; the first pair warms
  // the binary's pages and the mock server and is not counted.
  for (let round = 0; round <= OVERHEAD_ROUNDS; round++) {
    if (round % 2) {
      await viaRawClient();
      await viaProvider(round);
    } else {
      await viaProvider(round);
      await viaRawClient();
    }
    if (round === 0) for (const list of [providerCold, providerWarm, rawCold, rawWarm]) list.length = 0;
  }
  const pairedRatio = (ours: number[], raw: number[]) => median(ours.map((value, index) => value / raw[index]));
  const cold = median(providerCold);
  const warm = median(providerWarm);
  return {
    'codex.overhead.providerColdMs': Math.round(cold),
    'codex.overhead.rawColdMs': Math.round(median(rawCold)),
    'codex.overhead.coldRatio': round(pairedRatio(providerCold, rawCold)),
    'codex.overhead.coldRatio.fastest': round(Math.min(...providerCold) / Math.min(...rawCold)),
    'codex.overhead.providerWarmMs': round(warm),
    'codex.overhead.rawWarmMs': round(median(rawWarm)),
    'codex.overhead.warmRatio': round(pairedRatio(providerWarm, rawWarm)),
    'codex.overhead.warmRatio.fastest': round(Math.min(...providerWarm) / Math.min(...rawWarm)),
    'codex.overhead.note': `ratio: median of the per-round ratios over ${OVERHEAD_ROUNDS} paired rounds; fastest: fastest run / fastest run, what is left when the machine's other load misses both (lower is better)`,
  };
}

async function benchMemory(mock: MockResponsesServer, root: string): Promise<Record<string, number>> {
  const cwd = path.join(root, 'ws-mem');
  fs.mkdirSync(cwd, { recursive: true });
  const home = await writeCodexHome(path.join(root, 'home-mem'), { port: mock.port, cwd });
  const profile = { id: 'mem', provider: 'codex', configDir: home, env: { MOCK_API_KEY: 'bench' } };
  const provider = new CodexProvider({ codexPath: () => pinnedCodexBinary(), workspacePath: cwd, socketDir: path.join(root, 'smem'), log: silentLogger, idleShutdownMs: 0 });
  const rssWith = async (count: number): Promise<number> => {
    const runs = Array.from({ length: count }, () => makeContext(makeTask({ prompt: 'Please hang', cwd }), { profile }));
    const index = mock.requests.length;
    const outcomes = runs.map(({ context, handle }) => provider.start(context, handle));
    for (let i = 0; i < count; i++) await mock.waitForRequest(index + i);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const rss = rssKb(provider.serverFor(profile).pid);
    for (const { controller } of runs) controller.abort('cancelled');
    await Promise.all(outcomes);
    return rss;
  };
  try {
    await rssWith(1); // warm up: first thread loads the model catalogue, tools, …
    const one = await rssWith(1);
    const five = await rssWith(5);
    return {
      'codex.memory.rss1TaskMB': round(one / 1024),
      'codex.memory.rss5TasksMB': round(five / 1024),
      'codex.memory.ratio5to1': round(five / one),
    };
  } finally {
    await provider.shutdown();
  }
}

/** The smallest useful client: JSONL over the app-server's stdio, as PROTOCOLS.md §1 describes. */
export class RawStdioClient {
  private readonly child;
  private readonly decoder = new LineDecoder();
  private nextId = 1;
  private readonly pending = new Map<number, (result: unknown) => void>();
  /** Per method, who waits for its next notification (each notification settles the oldest waiter). */
  private readonly waiters = new Map<string, (() => void)[]>();

  constructor(binary: string, env: Record<string, string>) {
    const toolsDir = path.join(path.dirname(path.dirname(binary)), 'codex-path');
    this.child = spawn(binary, ['app-server'], {
      env: { ...process.env, ...env, CODEX_MANAGED_BY_NPM: '1', PATH: `${toolsDir}${path.delimiter}${process.env.PATH ?? ''}` },
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true,
    });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      for (const line of this.decoder.push(chunk)) {
        const message = JSON.parse(line) as { id?: number; method?: string; result?: unknown };
        if (message.method === undefined && message.id !== undefined) {
          this.pending.get(message.id)?.(message.result);
          this.pending.delete(message.id);
        } else if (message.method) {
          this.waiters.get(message.method)?.shift()?.();
        }
      }
    });
  }

  call(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.stdin!.write(`${JSON.stringify({ method, id, params })}\n`);
    });
  }

  notify(method: string): void {
    this.child.stdin!.write(`${JSON.stringify({ method })}\n`);
  }

  waitFor(method: string): Promise<void> {
    return new Promise((resolve) => {
      const queue = this.waiters.get(method) ?? [];
      queue.push(resolve);
      this.waiters.set(method, queue);
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end();
    const timer = setTimeout(() => process.kill(-this.child.pid!, 'SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

function rssKb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}


function round(value: number): number {
  return Math.round(value * 100) / 100;
}

if (require.main === module) {
  benchCodex().then(
    (results) => console.log(JSON.stringify(results, null, 2)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
