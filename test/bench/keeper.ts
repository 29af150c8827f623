/**
 * Keeper benchmarks, each against a baseline measured in the same run:
 *   throughput  JSON lines/s from a flooding fake agent through the keeper (journal + socket) vs a direct pipe
 *               (ProcessTransport), same host-side parsing; ratio = keeper / direct, median of many short paired
 *               rounds against the same two long-running agents (steady state, as a task's keeper runs; aim ≥ 0.8; on
 *               a machine busy elsewhere the extra process costs more, see ratio.spread)
 *   latency     round trip of one line host → agent → host (echo), median; the added one-way latency per line is
 *               half the difference (a line crosses the keeper once each way)
 *   reattach    attachKeeper(ref, {lastSeq: 0}) on a keeper holding 10,000 journaled lines: until the last is dispatched
 * Run alone: node --import tsx test/bench/keeper.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { attachKeeper, startKeeper, type KeeperTransport } from '../../src/keeper';
import { keeperPaths } from '../../src/keeper/files';
import { ProcessTransport } from '../../src/providers/transport/process-transport';
import type { MessageTransport } from '../../src/providers/transport/transport';
import { buildKeeper, fakeCli, makeRoot } from '../support/fake-cli';
import { median } from './stats';

const LINES = 100_000;
const LINE_BYTES = 200;
const ROUNDS = Number(process.env.ATW_BENCH_KEEPER_ROUNDS ?? 21);
const PINGS = 500;
const REATTACH_LINES = 10_000;

interface Setup {
  root: string;
  dir: string;
  keeperScript: string;
}

export async function benchKeeper(): Promise<Record<string, number | string>> {
  const root = makeRoot('atwb-');
  const setup: Setup = { root, dir: path.join(root, 'sockets'), keeperScript: await buildKeeper(root) };
  try {
    return { ...(await benchThroughput(setup)), ...(await benchLatency(setup)), ...(await benchReattach(setup)) };
  } finally {
    // Keepers remove their own files as they end; give the last one a moment.
    await delayMs(300);
    fs.rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

function startDirect(args: string[], cwd: string): ProcessTransport {
  return new ProcessTransport({ command: process.execPath, args: [fakeCli('flood'), ...args], cwd });
}

function startKept(setup: Setup, args: string[]): Promise<KeeperTransport> {
  return startKeeper({
    command: process.execPath,
    args: [fakeCli('flood'), ...args],
    cwd: setup.root,
    dir: setup.dir,
    taskId: 'bench',
    provider: 'bench',
    keepRunningMs: 60_000,
    keeperScript: setup.keeperScript,
  });
}

/** Resolves when a message of `type` arrives; counts the messages before it. */
function until(transport: MessageTransport, type: string): Promise<number> {
  return new Promise((resolve) => {
    let count = 0;
    const subscription = transport.onMessage((message) => {
      count++;
      if ((message as { type?: string }).type === type) {
        subscription.dispose();
        resolve(count);
      }
    });
  });
}

interface FloodResult {
  linesPerSec: number;
  /** CPU time of every process involved (host, agent and, through a keeper, the keeper), µs per line. */
  cpuMicrosPerLine: number;
  /** The same, per process: this one (the host), then `pids` in order (agent, keeper). */
  hostMicrosPerLine: number;
  processMicrosPerLine: number[];
}

/** One timed flood: from "go" to the `done` line, all lines parsed by the host. */
async function floodOnce(transport: MessageTransport, pids: number[]): Promise<FloodResult> {
  const done = until(transport, 'done');
  const cpuBefore = process.cpuUsage();
  const ticksBefore = pids.map(cpuTicks);
  const started = performance.now();
  transport.send({ go: true });
  const count = await done;
  const seconds = (performance.now() - started) / 1000;
  if (count !== LINES + 1) throw new Error(`expected ${LINES + 1} messages, got ${count}`);
  const host = process.cpuUsage(cpuBefore);
  const processMicros = pids.map((pid, index) => (cpuTicks(pid) - ticksBefore[index]) * (1e6 / CLOCK_TICKS));
  const others = processMicros.reduce((sum, micros) => sum + micros, 0);
  return {
    linesPerSec: LINES / seconds,
    cpuMicrosPerLine: (host.user + host.system + others) / LINES,
    hostMicrosPerLine: (host.user + host.system) / LINES,
    processMicrosPerLine: processMicros.map((micros) => micros / LINES),
  };
}

/** CPU time of a process (user + system) in clock ticks, from /proc. */
function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const CLOCK_TICKS = 100;

async function benchThroughput(setup: Setup): Promise<Record<string, number | string>> {
  const direct: FloodResult[] = [];
  const kept: FloodResult[] = [];
  // Both agents are started once, before the clock, and flood on every "go": many short paired rounds, alternating
  // which goes first and back to back, so that load from elsewhere hits both alike and the median settles. The first
  // pair warms up (JIT, socket and pipe buffers) and is not counted.
  const args = [String(LINES), String(LINE_BYTES), '--on-go'];
  const pipe = startDirect(args, setup.root);
  const keeper = await startKept(setup, args);
  await delayMs(150);
  const runDirect = () => floodOnce(pipe, [pipe.pid as number]);
  const keeperPids = [keeper.pid, keeperPid(setup, keeper)];
  const runKept = () => floodOnce(keeper, keeperPids);
  try {
    for (let round = -1; round < ROUNDS; round++) {
      const [first, second] = round % 2 === 0 ? [runDirect, runKept] : [runKept, runDirect];
      const a = await first();
      const b = await second();
      if (round < 0) continue;
      direct.push(first === runDirect ? a : b);
      kept.push(first === runDirect ? b : a);
    }
  } finally {
    pipe.kill();
    keeper.kill();
    await Promise.all([pipe.whenClosed(), keeper.whenClosed()]);
  }
  const ratios = kept.map((value, index) => value.linesPerSec / direct[index].linesPerSec);
  const cpuRatios = kept.map((value, index) => direct[index].cpuMicrosPerLine / value.cpuMicrosPerLine);
  const cpuDirect = median(direct.map((result) => result.cpuMicrosPerLine));
  const cpuKept = median(kept.map((result) => result.cpuMicrosPerLine));
  const part = (results: FloodResult[], pick: (result: FloodResult) => number) => Number(median(results.map(pick)).toFixed(2));
  return {
    'throughput.direct.linesPerSec': Math.round(median(direct.map((result) => result.linesPerSec))),
    'throughput.keeper.linesPerSec': Math.round(median(kept.map((result) => result.linesPerSec))),
    'throughput.ratio': Number(median(ratios).toFixed(3)),
    'throughput.ratio.spread': `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} over the rounds`,
    'throughput.note': `${LINES.toLocaleString('en')} lines of ${LINE_BYTES} B per flood; median of ${ROUNDS} paired back-to-back rounds; ratio = keeper / direct pipe (higher is better)`,
    'cpu.direct.usPerLine': Number(cpuDirect.toFixed(3)),
    'cpu.keeper.usPerLine': Number(cpuKept.toFixed(3)),
    'cpu.ratio': Number(median(cpuRatios).toFixed(3)),
    'cpu.ratio.spread': `${Math.min(...cpuRatios).toFixed(2)}–${Math.max(...cpuRatios).toFixed(2)} over the rounds`,
    'cpu.note': 'CPU time of host + agent (+ keeper) per line, little affected by other load; ratio = direct / keeper, median of the per-round ratios',
    'cpu.direct.host.usPerLine': part(direct, (result) => result.hostMicrosPerLine),
    'cpu.direct.agent.usPerLine': part(direct, (result) => result.processMicrosPerLine[0]),
    'cpu.keeper.host.usPerLine': part(kept, (result) => result.hostMicrosPerLine),
    'cpu.keeper.agent.usPerLine': part(kept, (result) => result.processMicrosPerLine[0]),
    'cpu.keeper.keeper.usPerLine': part(kept, (result) => result.processMicrosPerLine[1]),
  };
}

function keeperPid(setup: Setup, transport: KeeperTransport): number {
  const metadata = JSON.parse(fs.readFileSync(keeperPaths(setup.dir, transport.keeperId).metadata, 'utf8')) as { pid: number };
  return metadata.pid;
}


/** Median round trip of PINGS sequential echoes, in ms. */
async function pingMedian(transport: MessageTransport): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const echoed = until(transport, `ping${i}`);
    const started = performance.now();
    transport.send({ type: `ping${i}` });
    await echoed;
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function benchLatency(setup: Setup): Promise<Record<string, number>> {
  const pipe = startDirect(['0', '0', '--echo'], setup.root);
  const direct = await pingMedian(pipe);
  pipe.kill();
  await pipe.whenClosed();
  const keeper = await startKept(setup, ['0', '0', '--echo']);
  const kept = await pingMedian(keeper);
  keeper.kill();
  await keeper.whenClosed();
  return {
    'latency.direct.roundTripMs': round3(direct),
    'latency.keeper.roundTripMs': round3(kept),
    'latency.addedPerLineMs': round3(Math.max(0, kept - direct) / 2),
  };
}

async function benchReattach(setup: Setup): Promise<Record<string, number>> {
  const first = await startKept(setup, [String(REATTACH_LINES), String(LINE_BYTES)]);
  await until(first, 'done');
  await first.detach();
  const journalBytes = fs.statSync(keeperPaths(setup.dir, first.keeperId).journal).size;
  const started = performance.now();
  const second = await attachKeeper(first.ref, { lastSeq: 0 });
  const connectedMs = performance.now() - started;
  const count = await until(second, 'done');
  const totalMs = performance.now() - started;
  if (count !== REATTACH_LINES + 1) throw new Error(`replayed ${count} messages, expected ${REATTACH_LINES + 1}`);
  second.kill();
  await second.whenClosed();
  return {
    'reattach.10kLines.connectMs': round3(connectedMs),
    'reattach.10kLines.totalMs': round3(totalMs),
    'reattach.journal.kb': Math.round(journalBytes / 1024),
  };
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;
const delayMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

if (require.main === module) {
  void benchKeeper().then((figures) => console.table(figures));
}
