/**
 * Claude Code and Copilot CLI adapter benchmarks, each against a baseline measured in the same run:
 *   turn     one task run (spawn, prompt, streamed reply, result, exit) through ClaudeProvider / CopilotProvider vs
 *            the same CLI, same arguments and environment, driven by a minimal raw JSONL client; median of
 *            interleaved runs against the mock model servers
 *   ingest   recorded stdout traffic (claude-*.jsonl stream events and messages; copilot-*.jsonl session/update
 *            notifications through the ACP SDK connection) mapped to transcript entries vs a bare JSON.parse loop;
 *            Copilot's lines arrive as from a pipe, 64 KiB per read (the SDK reads them asynchronously)
 * Run alone: node --import tsx test/bench/providers.ts
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Emitter, silentLogger } from '../../src/core/events';
import type { OutputEntry } from '../../src/core/task-state';
import type { TaskHandle } from '../../src/core/ports';
import { AcpAgentProcess } from '../../src/providers/acp/connection';
import { StreamingOutput } from '../../src/providers/stdio/streaming-output';
import { AcpTranscript } from '../../src/providers/acp/transcript';
import { ClaudeProvider, claudeArgs, claudeEnv, resolveClaudeExecutable } from '../../src/providers/claude';
import { ClaudeRun } from '../../src/providers/claude/run';
import { CopilotProvider, resolveCopilotExecutable } from '../../src/providers/copilot';
import { LineDecoder } from '../../src/platform/jsonl';
import type { MessageTransport, TransportClosed } from '../../src/providers/transport/transport';
import { startMockAnthropicServer } from '../fixtures/mock-anthropic/server';
import { startMockChatServer } from '../fixtures/mock-chat/server';
import { makeContext, makeTask } from '../support/fake-handle';
import { median } from './stats';

const ROOT = path.resolve(__dirname, '..', '..');
const TRANSCRIPTS = [path.join(ROOT, 'test/fixtures/transcripts'), path.resolve(ROOT, '../shared/protocols/transcripts')].find((dir) =>
  fs.existsSync(path.join(dir, 'claude-plain.jsonl')),
);
const TURNS = Number(process.env.ATW_BENCH_TURNS ?? 5);
const INGEST_LINES = Number(process.env.ATW_BENCH_INGEST_LINES ?? 50_000);

export async function benchProviders(): Promise<Record<string, number | string>> {
  const results: Record<string, number | string> = {};
  Object.assign(results, await benchClaudeIngest(), await benchCopilotIngest());
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-bench-providers-'));
  try {
    Object.assign(results, await benchClaudeTurn(root));
    Object.assign(results, await benchCopilotTurn(root));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return results;
}

// Per-turn overhead

async function benchClaudeTurn(root: string): Promise<Record<string, number | string>> {
  const command = resolveClaudeExecutable(path.join(ROOT, 'node_modules/.bin/claude'));
  if (!command) return { 'claude.turn': 'Claude Code is not installed (node_modules/.bin/claude)' };
  const mock = await startMockAnthropicServer();
  try {
    const cwd = path.join(root, 'claude-work');
    const home = path.join(root, 'claude-home');
    fs.mkdirSync(cwd, { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    const env = { CLAUDE_CONFIG_DIR: home, ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'bench' };
    const provider = new ClaudeProvider({ claudePath: () => command, log: silentLogger });
    const viaAdapter = async () => {
      const { context, handle } = makeContext(makeTask({ prompt: 'Say hello', cwd, provider: 'claude-cli' }), {
        profile: { id: 'bench', provider: 'claude-cli', env },
      });
      const started = performance.now();
      const outcome = await provider.start(context, handle);
      if (outcome.status !== 'completed') throw new Error(`Claude run ended ${JSON.stringify(outcome)}`);
      return performance.now() - started;
    };
    const raw = async () => {
      const args = claudeArgs({ taskType: 'coder' }, { sessionId: crypto.randomUUID() }, true);
      const started = performance.now();
      await rawJsonlRun(command, args, cwd, { ...process.env, ...claudeEnv(env) }, [{ type: 'user', message: { role: 'user', content: 'Say hello' } }], (message) =>
        message.type === 'result' ? 'done' : undefined,
      );
      return performance.now() - started;
    };
    return turnFigures('claude', await interleave(viaAdapter, raw));
  } finally {
    await mock.close();
  }
}

async function benchCopilotTurn(root: string): Promise<Record<string, number | string>> {
  const command = resolveCopilotExecutable(path.join(ROOT, 'node_modules/.bin/copilot'));
  if (!command) return { 'copilot.turn': 'Copilot CLI is not installed (node_modules/.bin/copilot)' };
  const mock = await startMockChatServer();
  try {
    const cwd = path.join(root, 'copilot-work');
    const home = path.join(root, 'copilot-home');
    fs.mkdirSync(cwd, { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    const env = {
      COPILOT_HOME: home,
      COPILOT_OFFLINE: 'true',
      COPILOT_PROVIDER_BASE_URL: mock.url,
      COPILOT_PROVIDER_TYPE: 'openai',
      COPILOT_PROVIDER_API_KEY: 'bench',
      COPILOT_MODEL: 'gpt-4.1',
    };
    const provider = new CopilotProvider({ copilotPath: () => command, log: silentLogger });
    const viaAdapter = async () => {
      const { context, handle } = makeContext(makeTask({ prompt: 'Say hello', cwd, provider: 'copilot' }), { profile: { id: 'bench', provider: 'copilot', env } });
      const started = performance.now();
      const outcome = await provider.start(context, handle);
      if (outcome.status !== 'completed') throw new Error(`Copilot run ended ${JSON.stringify(outcome)}`);
      return performance.now() - started;
    };
    const raw = async () => {
      const started = performance.now();
      let sessionId = '';
      await rawJsonlRun(
        command,
        ['--acp'],
        cwd,
        { ...process.env, ...env },
        [{ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1, clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false } } }],
        (message) => {
          if (message.id === 1) return { jsonrpc: '2.0', id: 2, method: 'session/new', params: { cwd, mcpServers: [] } };
          if (message.id === 2) {
            sessionId = String((message.result as { sessionId?: string }).sessionId);
            return { jsonrpc: '2.0', id: 3, method: 'session/prompt', params: { sessionId, prompt: [{ type: 'text', text: 'Say hello' }] } };
          }
          return message.id === 3 ? 'done' : undefined;
        },
      );
      return performance.now() - started;
    };
    return turnFigures('copilot', await interleave(viaAdapter, raw));
  } finally {
    await mock.close();
  }
}

type Json = Record<string, unknown>;

/**
 * The minimal raw client: spawn, write the first messages, answer each stdout line with `next` (a message to send,
 * 'done' to close stdin, or nothing), and resolve when the process has exited.
 */
function rawJsonlRun(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, first: Json[], next: (message: Json) => Json | 'done' | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['pipe', 'pipe', 'ignore'] });
    const decoder = new LineDecoder();
    child.on('error', reject);
    child.on('close', () => resolve());
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of decoder.push(chunk)) {
        if (!line.trim()) continue;
        const reply = next(JSON.parse(line) as Json);
        if (reply === 'done') child.stdin.end();
        else if (reply) child.stdin.write(`${JSON.stringify(reply)}\n`);
      }
    });
    for (const message of first) child.stdin.write(`${JSON.stringify(message)}\n`);
  });
}

/** Runs both variants TURNS times in alternating order (after one warm-up each) and returns their medians. */
async function interleave(adapter: () => Promise<number>, raw: () => Promise<number>): Promise<{ adapter: number; raw: number }> {
  await adapter();
  await raw();
  const a: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < TURNS; i++) {
    if (i % 2 === 0) {
      a.push(await adapter());
      r.push(await raw());
    } else {
      r.push(await raw());
      a.push(await adapter());
    }
  }
  return { adapter: median(a), raw: median(r) };
}

function turnFigures(prefix: string, times: { adapter: number; raw: number }): Record<string, number> {
  return {
    [`${prefix}.turnMs`]: round(times.adapter),
    [`${prefix}.rawTurnMs`]: round(times.raw),
    [`${prefix}.turnOverheadMs`]: round(times.adapter - times.raw),
    [`${prefix}.turnRatio`]: Number((times.adapter / times.raw).toFixed(3)),
  };
}

// Ingest of recorded traffic

/** The recorded stdout messages of every transcript of `cli` that `keep` accepts, repeated to `count`. */
function recordedLines(cli: string, keep: (message: Json) => boolean, count: number): string[] {
  if (!TRANSCRIPTS) return [];
  const recorded: string[] = [];
  for (const name of fs.readdirSync(TRANSCRIPTS).filter((file) => file.startsWith(`${cli}-`) && file.endsWith('.jsonl')).sort()) {
    for (const line of fs.readFileSync(path.join(TRANSCRIPTS, name), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const frame = JSON.parse(line) as { dir: string; msg?: Json };
      if (frame.dir === 'in' && frame.msg && keep(frame.msg)) recorded.push(JSON.stringify(frame.msg));
    }
  }
  const lines: string[] = [];
  while (recorded.length > 0 && lines.length < count) lines.push(...recorded);
  return lines.slice(0, count);
}

/** What one read of an agent's stdout pipe returns at most (Node reads 64 KiB, a Linux pipe holds 64 KiB). */
const PIPE_READ_BYTES = 64 * 1024;

class BenchTransport implements MessageTransport {
  private readonly messages = new Emitter<unknown>();
  private readonly closes = new Emitter<TransportClosed>();
  readonly onMessage = this.messages.event;
  readonly onMalformed = new Emitter<{ raw: string; error: Error }>().event;
  readonly onClose = this.closes.event;
  closed = false;
  send(): void {}
  deliver(line: string): void {
    this.messages.fire(JSON.parse(line));
  }
  /**
   * Delivers `lines` as a process transport does: the lines of one pipe read (at most PIPE_READ_BYTES) at once, each
   * read a macrotask of its own. All of a recording in one synchronous burst would hold every parsed message until
   * the asynchronous consumer (the ACP SDK's stream) reads it — garbage-collector work no pipe can cause.
   */
  async deliverAsPipe(lines: readonly string[]): Promise<void> {
    let bytes = 0;
    for (const line of lines) {
      bytes += Buffer.byteLength(line) + 1;
      if (bytes > PIPE_READ_BYTES) {
        bytes = Buffer.byteLength(line) + 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
      this.deliver(line);
    }
  }
  async close(): Promise<TransportClosed> {
    this.closed = true;
    this.closes.fire({ code: 0, signal: null, stderrTail: '' });
    return { code: 0, signal: null, stderrTail: '' };
  }
  kill(): void {
    void this.close();
  }
}

/** A handle that only counts what the adapter writes. */
function countingHandle(): TaskHandle & { entries: number } {
  const handle = {
    taskId: 'bench',
    entries: 0,
    appendOutput: (_entry: Omit<OutputEntry, 'at'>) => void handle.entries++,
    ask: () => new Promise<never>(() => undefined),
    withdrawQuestion: () => undefined,
    reportUsage: () => undefined,
    setSessionId: () => undefined,
    setTitle: () => undefined,
    setProviderState: () => undefined,
    reportRateLimitInfo: () => undefined,
  };
  return handle;
}

export async function benchClaudeIngest(): Promise<Record<string, number | string>> {
  const lines = recordedLines('claude', (message) => ['stream_event', 'assistant', 'user', 'system'].includes(String(message.type)), INGEST_LINES);
  if (lines.length === 0) return { 'claude.ingest': 'recorded transcripts not found' };
  const parseOnly = parseLoop(lines);
  const ingest = async () => {
    const transport = new BenchTransport();
    const controller = new AbortController();
    const run = new ClaudeRun({
      command: 'claude',
      args: [],
      cwd: os.tmpdir(),
      env: {},
      prompt: 'bench',
      handle: countingHandle(),
      signal: controller.signal,
      log: silentLogger,
      runKey: 'bench',
      transport,
    });
    const ended = run.execute();
    for (const line of lines) transport.deliver(line);
    transport.deliver(JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'done' }));
    await ended;
  };
  return ingestFigures('claude', lines, await pairedRounds(parseOnly, ingest));
}

export async function benchCopilotIngest(): Promise<Record<string, number | string>> {
  const sessionId = 'bench-session';
  const lines = recordedLines('copilot', (message) => message.method === 'session/update', INGEST_LINES).map((line) => {
    const message = JSON.parse(line) as { params: { sessionId: string } };
    message.params.sessionId = sessionId;
    return JSON.stringify(message);
  });
  if (lines.length === 0) return { 'copilot.ingest': 'recorded transcripts not found' };
  const parseOnly = parseLoop(lines);
  const ingest = async () => {
    const transport = new BenchTransport();
    const agent = new AcpAgentProcess(transport, silentLogger, 'bench');
    const output = new StreamingOutput(countingHandle(), 100);
    const transcript = new AcpTranscript(output, 'bench', os.tmpdir());
    let seen = 0;
    let markDone!: () => void;
    const done = new Promise<void>((resolve) => (markDone = resolve));
    agent.attach(sessionId, {
      onUpdate: (notification) => {
        transcript.onUpdate(notification.update);
        if (++seen === lines.length) markDone();
      },
      onPermission: async () => ({ outcome: { outcome: 'cancelled' } }),
    });
    await transport.deliverAsPipe(lines);
    await done;
    output.dispose();
    await agent.close();
  };
  return ingestFigures('copilot', lines, await pairedRounds(parseOnly, ingest));
}

/** The baseline of every ingest figure: a bare JSON.parse loop over the same lines. */
function parseLoop(lines: string[]): () => void {
  return () => {
    let sink = 0;
    for (const line of lines) sink += (JSON.parse(line) as object) ? 1 : 0;
    if (sink !== lines.length) throw new Error('unreachable');
  };
}

interface Paired {
  /** Medians over the rounds, ms: wall time and CPU time (user + system) of the process, measured and baseline. */
  wallMs: number;
  baseWallMs: number;
  cpuMs: number;
  baseCpuMs: number;
  /** Median of the per-round CPU-time ratios measured / baseline. */
  ratio: number;
  rounds: number;
}

const INGEST_ROUNDS = Number(process.env.ATW_BENCH_INGEST_ROUNDS ?? 7);

/**
 * Runs baseline and measured in INGEST_ROUNDS paired rounds (after one warm-up each, alternating which goes first) and
 * keeps the median of the per-round ratios of CPU time: both run in this process, so CPU time leaves out most of what
 * other load on the machine does to wall time, and pairing makes a slow spell hit both.
 */
async function pairedRounds(baseline: () => void, measured: () => Promise<void>): Promise<Paired> {
  const sample = async (fn: () => unknown): Promise<{ wall: number; cpu: number }> => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    await fn();
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return { wall, cpu: (used.user + used.system) / 1000 };
  };
  baseline();
  await measured();
  const base: { wall: number; cpu: number }[] = [];
  const ours: { wall: number; cpu: number }[] = [];
  for (let round = 0; round < INGEST_ROUNDS; round++) {
    if (round % 2 === 0) {
      base.push(await sample(baseline));
      ours.push(await sample(measured));
    } else {
      ours.push(await sample(measured));
      base.push(await sample(baseline));
    }
  }
  return {
    wallMs: median(ours.map((entry) => entry.wall)),
    baseWallMs: median(base.map((entry) => entry.wall)),
    cpuMs: median(ours.map((entry) => entry.cpu)),
    baseCpuMs: median(base.map((entry) => entry.cpu)),
    ratio: median(ours.map((entry, index) => entry.cpu / base[index].cpu)),
    rounds: INGEST_ROUNDS,
  };
}

function ingestFigures(prefix: string, lines: string[], paired: Paired): Record<string, number | string> {
  const megabytes = lines.reduce((sum, line) => sum + line.length + 1, 0) / 2 ** 20;
  return {
    [`${prefix}.ingestLines`]: lines.length,
    [`${prefix}.ingestMs`]: round(paired.wallMs),
    [`${prefix}.ingestParseOnlyMs`]: round(paired.baseWallMs),
    [`${prefix}.ingestCpuMs`]: round(paired.cpuMs),
    [`${prefix}.ingestParseOnlyCpuMs`]: round(paired.baseCpuMs),
    [`${prefix}.ingestRatio`]: Number(paired.ratio.toFixed(2)),
    [`${prefix}.ingestMBps`]: Number((megabytes / (paired.wallMs / 1000)).toFixed(1)),
    [`${prefix}.ingestNote`]: `ratio = CPU time / a bare JSON.parse loop over the same lines; median of ${paired.rounds} paired rounds (lower is better)`,
  };
}


function round(value: number): number {
  return Math.round(value * 10) / 10;
}

if (require.main === module) {
  benchProviders().then(
    (results) => {
      for (const [key, value] of Object.entries(results)) console.log(`${key.padEnd(28)} ${value}`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
