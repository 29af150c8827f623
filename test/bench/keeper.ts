/**
 * Keeper benchmarks, each against a baseline measured in the same run:
 *   throughput  JSON lines/s from a flooding fake agent through the keeper (journal + socket) vs a direct pipe
 *               (ProcessTransport), same host-side parsing; ratio = keeper / direct (aim ≥ 0.8)
 *   latency     round trip of one line host → agent → host (echo), median; the added one-way latency per line is
 *               half the difference (a line crosses the keeper once each way)
 *   reattach    attachKeeper(ref, {lastSeq: 0}) on a keeper holding 10,000 journaled lines: until the last is dispatched
 * Run alone: node --import tsx test/bench/keeper.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { attachKeeper, startKeeper, type KeeperTransport } from '../../src/providers/transport/keeper-transport';
import { keeperPaths } from '../../src/providers/transport/keeper-protocol';
import { ProcessTransport } from '../../src/providers/transport/process-transport';
import type { MessageTransport } from '../../src/providers/transport/transport';
import { buildKeeper, fakeCli, makeRoot } from '../fixtures/fake-cli/harness';

const LINES = 100_000;
const LINE_BYTES = 200;
const ROUNDS = 3;
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

function startDirect(args: string[], cwd: string): MessageTransport & { whenClosed(): Promise<unknown> } {
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

/** One timed flood: from "go" to the `done` line, all lines parsed by the host. Lines per second. */
async function floodOnce(transport: MessageTransport): Promise<number> {
  const done = until(transport, 'done');
  const started = performance.now();
  transport.send({ go: true });
  const count = await done;
  if (count !== LINES + 1) throw new Error(`expected ${LINES + 1} messages, got ${count}`);
  return LINES / ((performance.now() - started) / 1000);
}

async function benchThroughput(setup: Setup): Promise<Record<string, number | string>> {
  const direct: number[] = [];
  const kept: number[] = [];
  // Alternate so that machine noise hits both alike; the agent is started before the clock, so only lines count.
  for (let round = 0; round < ROUNDS; round++) {
    const pipe = startDirect([String(LINES), String(LINE_BYTES), '--on-go'], setup.root);
    await delayMs(150);
    direct.push(await floodOnce(pipe));
    pipe.kill();
    await pipe.whenClosed();

    const keeper = await startKept(setup, [String(LINES), String(LINE_BYTES), '--on-go']);
    await delayMs(150);
    kept.push(await floodOnce(keeper));
    keeper.kill();
    await keeper.whenClosed();
  }
  const best = (values: number[]) => Math.max(...values);
  return {
    'throughput.direct.linesPerSec': Math.round(best(direct)),
    'throughput.keeper.linesPerSec': Math.round(best(kept)),
    'throughput.ratio': Number((best(kept) / best(direct)).toFixed(3)),
    'throughput.note': `${LINES.toLocaleString('en')} lines of ${LINE_BYTES} B, best of ${ROUNDS}; ratio = keeper / direct pipe (higher is better)`,
  };
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
