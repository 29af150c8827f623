/**
 * Core benchmarks. Each returns figures measured against a baseline in the same run, so the table reads as ratios
 * that hold across machines:
 *   ingest       1,000,000 output entries over 100 tasks through TaskManager.appendOutput (ring + JSONL transcript)
 *                vs a bare writer appending the same entries as JSONL, one file per task, in the same batches;
 *                TaskStore.appendOutput (the ring alone) vs a bare array push
 *   persistence  StateFile save + load of 10,000 tasks vs JSON.stringify + writeFile / readFile + JSON.parse
 *   bundle       sizes of dist/extension.js, dist/webview.js and the .vsix (if one was packaged)
 *   activation   activate() in the real extension host vs an empty extension activated in the same host
 * Run alone: node --import tsx test/bench/core.ts
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { systemClock } from '../../src/core/clock';
import { silentLogger } from '../../src/core/events';
import { emptyState, StateFile, STATE_VERSION, type PersistedState } from '../../src/core/persistence';
import { ProfileManager } from '../../src/core/profiles';
import { TaskManager } from '../../src/core/task-manager';
import { TaskStore } from '../../src/core/task-store';
import { TASK_STATUSES, type OutputEntry, type OutputKind, type TaskState } from '../../src/core/task-state';
import { TranscriptStore } from '../../src/core/transcript';
import type { RunOutcome } from '../../src/core/ports';
import { ProviderRegistry } from '../../src/core/provider-registry';
import { median } from './stats';

const ROOT = path.resolve(__dirname, '..', '..');

/** One line of the results table. `ratio` = value / baseline (lower is better for times and sizes). */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  note?: string;
}

function row(name: string, value: number, unit: string, baseline?: number, note?: string): BenchRow {
  return { name, value, unit, baseline, ratio: baseline ? value / baseline : undefined, note };
}


async function time(fn: () => unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'atw-bench-'));
}

const KINDS: OutputKind[] = ['agent', 'reasoning', 'command', 'tool', 'status'];

/** Entries shaped like real agent output: mostly short lines, every 50th a streaming update of one entry. */
function makeEntries(count: number): (Omit<OutputEntry, 'at'> & { at: number })[] {
  const entries: (Omit<OutputEntry, 'at'> & { at: number })[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const streaming = i % 50 === 0;
    entries[i] = {
      at: 1_700_000_000_000 + i,
      kind: KINDS[i % KINDS.length],
      text: streaming ? `streamed message, ${i} characters so far` : `output line ${i}: compiling src/module-${i % 97}.ts`,
      ...(streaming ? { id: `stream-${i % 1_000}` } : {}),
    };
  }
  return entries;
}

const INGEST_BATCH = 50_000;

/**
 * (a) 1,000,000 entries over 100 tasks. The manager (store, transcript batching, JSONL on disk, flushed after every
 * batch of 50,000 as between bursts of agent output) against a bare writer that appends the same entries as JSONL to
 * one file per task in the same batches (the manager writes fewer lines: a streaming entry updated within a batch is
 * written once); the store alone (ring, no disk) against a bare array push. Paired rounds, alternating which side goes
 * first; the ratio is the median of the per-round ratios.
 */
export async function benchOutputIngest(total = 1_000_000, taskCount = 100, rounds = 3): Promise<BenchRow[]> {
  const entries = makeEntries(total);

  const pushes: number[] = [];
  const stores: number[] = [];
  for (let round = 0; round < rounds + 1; round++) {
    const push = await time(() => {
      const arrays: unknown[][] = Array.from({ length: taskCount }, () => []);
      for (let i = 0; i < total; i++) arrays[i % taskCount].push(entries[i]);
    });
    const store = new TaskStore();
    for (let t = 0; t < taskCount; t++) store.add(benchTask(`store-task-${t}`, 'running'));
    const stored = await time(() => {
      for (let i = 0; i < total; i++) store.appendOutput(`store-task-${i % taskCount}`, { ...entries[i] });
    });
    if (round === 0) continue; // warm-up
    pushes.push(push);
    stores.push(stored);
  }

  const bare: number[] = [];
  const managed: number[] = [];
  let bytesOnDisk = 0;
  let bareBytes = 0;
  // No warm-up round here: disk time dwarfs JIT warm-up, and each round is ~10 s of I/O.
  for (let round = 0; round < rounds; round++) {
    const measureBare = async () => {
      const dir = tempDir();
      try {
        const elapsed = await time(() => bareJsonlWriter(dir, entries, taskCount));
        bareBytes = directoryBytes(dir);
        return elapsed;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    };
    const measureManager = async () => {
      const run = await managerIngest(entries, taskCount);
      bytesOnDisk = run.bytes;
      return run.ms;
    };
    let b: number;
    let m: number;
    if (round % 2) {
      m = await measureManager();
      b = await measureBare();
    } else {
      b = await measureBare();
      m = await measureManager();
    }
    bare.push(b);
    managed.push(m);
  }
  const ratioOf = (values: number[], baselines: number[]) => median(values.map((value, index) => value / baselines[index]));
  const managerMs = median(managed);
  return [
    row(`ingest: bare array push (${total.toLocaleString('en')} entries)`, median(pushes), 'ms'),
    { ...row('ingest: TaskStore.appendOutput (ring, no disk)', median(stores), 'ms', median(pushes)), ratio: ratioOf(stores, pushes) },
    row(`ingest: bare JSONL writer, ${taskCount} files, batches of ${INGEST_BATCH.toLocaleString('en')}`, median(bare), 'ms', undefined, `${(bareBytes / 2 ** 20).toFixed(1)} MB written`),
    {
      ...row(`ingest: TaskManager.appendOutput + JSONL over ${taskCount} tasks`, managerMs, 'ms', median(bare)),
      ratio: ratioOf(managed, bare),
      note: `${Math.round(total / (managerMs / 1000)).toLocaleString('en')} entries/s, ${(bytesOnDisk / 2 ** 20).toFixed(1)} MB written; median of ${rounds} paired rounds (aim ≤ 2×)`,
    },
  ];
}

/** The baseline writer: JSON.stringify each entry into its task's buffer, append every buffer after each batch. */
async function bareJsonlWriter(dir: string, entries: readonly OutputEntry[], taskCount: number): Promise<void> {
  const files = Array.from({ length: taskCount }, (_, t) => path.join(dir, `task-${t}.jsonl`));
  for (let start = 0; start < entries.length; start += INGEST_BATCH) {
    const buffers: string[][] = Array.from({ length: taskCount }, () => []);
    const end = Math.min(entries.length, start + INGEST_BATCH);
    for (let i = start; i < end; i++) buffers[i % taskCount].push(JSON.stringify(entries[i]));
    await Promise.all(buffers.map((lines, t) => (lines.length ? fsp.appendFile(files[t], `${lines.join('\n')}\n`) : undefined)));
  }
}

/** The measured side: a TaskManager with a transcript store, fed in batches, each flushed before the next. */
async function managerIngest(entries: readonly (Omit<OutputEntry, 'at'> & { at: number })[], taskCount: number): Promise<{ ms: number; bytes: number }> {
  const dir = tempDir();
  const transcripts = new TranscriptStore(path.join(dir, 'tasks'), 200, silentLogger);
  const registry = new ProviderRegistry();
  registry.register({
    id: 'bench',
    displayName: 'Bench',
    capabilities: { pauseKinds: [], resumeAfterCrash: false, survivesReload: false, followUps: false, sessionsPerProcess: 'many', reportsCost: false, rateLimitSignals: false, nativeReview: false },
    start: (context) => new Promise<RunOutcome>((resolve) => context.signal.addEventListener('abort', () => resolve({ status: 'aborted' }), { once: true })),
  });
  const manager = new TaskManager({
    store: new TaskStore(),
    registry,
    profiles: new ProfileManager(() => Date.now()),
    clock: systemClock,
    log: silentLogger,
    settings: () => ({ defaultProvider: 'bench', maxConcurrentTasks: taskCount, defaultTimeoutMinutes: 0, questionTimeoutMinutes: 0 }),
    isTrusted: () => true,
    defaultCwd: () => dir,
    transcripts,
  });
  const ids: string[] = [];
  for (let t = 0; t < taskCount; t++) ids.push(manager.createTaskSync({ prompt: `bench task ${t}` }).id);
  await transcripts.flush();
  try {
    const ms = await time(async () => {
      for (let start = 0; start < entries.length; start += INGEST_BATCH) {
        const end = Math.min(entries.length, start + INGEST_BATCH);
        for (let i = start; i < end; i++) manager.appendOutput(ids[i % taskCount], entries[i]);
        // Let the transcript write what it has, as it would between bursts of agent output.
        await transcripts.flush();
      }
    });
    return { ms, bytes: directoryBytes(path.join(dir, 'tasks')) };
  } finally {
    manager.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function directoryBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);
}

function benchTask(id: string, status: TaskState['status'], i = 0): TaskState {
  return {
    id,
    status,
    provider: i % 3 === 0 ? 'codex' : 'claude-cli',
    taskType: 'coder',
    prompt: `Task ${i}: refactor the module and keep the tests green; explain what changed and why.`,
    cwd: '/home/user/project',
    model: 'gpt-5',
    sessionId: `session-${i}`,
    timestamps: { created: 1_700_000_000_000 + i, updated: 1_700_000_000_500 + i, started: 1_700_000_000_100 + i, completed: 1_700_000_001_000 + i },
    timeoutMs: 1_800_000,
    output: [],
    outputFilePath: `/home/user/.storage/tasks/${id}.jsonl`,
    dependsOn: i % 10 === 0 && i > 0 ? [`bench-task-${i - 1}`] : [],
    labels: ['bench'],
    pendingQuestions: [],
    result: 'Done: 3 files changed.',
    usage: { inputTokens: 12_000 + i, outputTokens: 800 + i, costUsd: 0.01 },
    providerState: { threadId: `thread-${i}` },
  };
}

/** (b) StateFile save + load of 10,000 tasks vs JSON.stringify + writeFile / readFile + JSON.parse of the same data. */
export async function benchPersistence(count = 10_000, runs = 9): Promise<BenchRow[]> {
  const tasks = Array.from({ length: count }, (_, i) => benchTask(`bench-task-${i}`, TASK_STATUSES[i % TASK_STATUSES.length], i));
  const state: PersistedState = { version: STATE_VERSION, tasks, profiles: { work: { failureCount: 0 } }, lastSavedAt: 0 };
  const dir = tempDir();
  const file = new StateFile(dir, () => state, systemClock, 500, silentLogger);
  const plainFile = path.join(dir, 'plain.json');

  const save: number[] = [];
  const load: number[] = [];
  const plainSave: number[] = [];
  const plainLoad: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      // Alternate the order so neither side always runs on a warmer cache.
      const ours = async (): Promise<void> => {
        save.push(await time(() => file.flush(true)));
        load.push(await time(() => new StateFile(dir, () => emptyState(), systemClock).load()));
      };
      const plain = async (): Promise<void> => {
        plainSave.push(await time(() => fsp.writeFile(plainFile, JSON.stringify(state))));
        plainLoad.push(await time(async () => JSON.parse(await fsp.readFile(plainFile, 'utf8'))));
      };
      if (run % 2) {
        await ours();
        await plain();
      } else {
        await plain();
        await ours();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const baseline = median(plainSave) + median(plainLoad);
  const ours = median(save) + median(load);
  return [
    row(`persistence: JSON.stringify+writeFile / readFile+JSON.parse (${count.toLocaleString('en')} tasks)`, baseline, 'ms'),
    row('persistence: StateFile save (tmp + fsync + rename + .bak)', median(save), 'ms', median(plainSave)),
    row('persistence: StateFile load (validated)', median(load), 'ms', median(plainLoad)),
    row('persistence: StateFile save + load', ours, 'ms', baseline, ours / baseline <= 1.5 ? 'within the 1.5× aim' : 'ABOVE the 1.5× aim'),
  ];
}

/** (c) Bundle sizes; the ratio is against the smallest build, the webview, for scale. */
export function benchBundleSize(): BenchRow[] {
  const rows: BenchRow[] = [];
  const size = (file: string): number | undefined => {
    try {
      return fs.statSync(path.join(ROOT, file)).size;
    } catch {
      return undefined;
    }
  };
  const extension = size('dist/extension.js');
  const webview = size('dist/webview.js');
  if (extension === undefined || webview === undefined) throw new Error('dist/ is missing: run `node esbuild.mjs` first');
  rows.push(row('bundle: dist/extension.js', extension / 1024, 'KB'));
  rows.push(row('bundle: dist/webview.js', webview / 1024, 'KB'));
  const vsix = fs.readdirSync(ROOT).filter((name) => /^agent-task-worker-.*\.vsix$/.test(name)).sort();
  for (const name of vsix) rows.push(row(`bundle: ${name}`, size(name)! / 1024, 'KB', undefined, 'as last packaged (npm run package)'));
  if (vsix.length === 0) rows.push({ name: 'bundle: .vsix', value: Number.NaN, unit: 'KB', note: 'not packaged (npm run package)' });
  return rows;
}

const ACTIVATION_ROUNDS = Number(process.env.ATW_BENCH_ACTIVATION_ROUNDS ?? 3);

interface ActivationRound {
  activationMs: number;
  emptyActivationMs: number;
  activateBodyMs?: number;
  bundleLoadMs: number;
}

/**
 * (d) Activation in the real extension host (code-server's, through the integration runner's phase bench): the
 * extension and an empty extension, neither activated at startup, activated on demand in the same host and timed by
 * the caller. One host launch per round, alternating which of the two goes first; the ratio is the median of the
 * per-round ratios.
 */
export async function benchActivation(rounds = ACTIVATION_ROUNDS): Promise<BenchRow[]> {
  if (!(rounds > 0)) return [{ name: 'activation', value: Number.NaN, unit: 'ms', note: 'skipped (ATW_BENCH_ACTIVATION_ROUNDS=0)' }];
  const paths = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'paths.mjs')).href)) as { isCodeServerInstalled(): boolean; chromiumPath(): string | undefined };
  if (!paths.isCodeServerInstalled() || !paths.chromiumPath()) {
    return [{ name: 'activation', value: Number.NaN, unit: 'ms', note: 'code-server or Chromium is not installed (npm run setup)' }];
  }
  const dir = tempDir();
  const results: ActivationRound[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const out = path.join(dir, `round-${round}.json`);
      const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'run-integration.mjs'), '--phase', 'bench', '--no-build'], {
        cwd: ROOT,
        env: { ...process.env, ATW_BENCH_ACTIVATION_OUT: out, ATW_BENCH_ACTIVATION_FIRST: round % 2 ? 'ours' : 'empty' },
        encoding: 'utf8',
        timeout: 5 * 60_000,
      });
      if (run.status !== 0 || !fs.existsSync(out)) {
        const tail = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ');
        throw new Error(`the activation phase failed (exit ${run.status ?? run.signal}): ${tail}`);
      }
      results.push(JSON.parse(fs.readFileSync(out, 'utf8')) as ActivationRound);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const ours = median(results.map((result) => result.activationMs));
  const empty = median(results.map((result) => result.emptyActivationMs));
  const body = results.map((result) => result.activateBodyMs).filter((value): value is number => value !== undefined);
  return [
    {
      ...row('activation: extension.activate() from the host vs an empty extension', ours, 'ms', empty),
      ratio: median(results.map((result) => result.activationMs / result.emptyActivationMs)),
      note: `median of ${rounds} host launches, alternating which activates first`,
    },
    row('activation: of which evaluating dist/extension.js', median(results.map((result) => result.bundleLoadMs)), 'ms', ours),
    ...(body.length ? [row('activation: of which activate() itself (Container)', median(body), 'ms', ours)] : []),
  ];
}

/** Turns a figures object from another bench ({name: number | string | {value, baseline?, unit?}} or rows) into rows. */
export function figuresToRows(prefix: string, data: unknown): BenchRow[] {
  if (Array.isArray(data)) {
    return data.map((entry: Partial<BenchRow>) => ({
      name: `${prefix}: ${entry.name ?? '?'}`,
      value: Number(entry.value),
      unit: entry.unit ?? '',
      baseline: entry.baseline,
      ratio: entry.ratio ?? (entry.baseline ? Number(entry.value) / entry.baseline : undefined),
      note: entry.note,
    }));
  }
  if (typeof data !== 'object' || data === null) return [{ name: prefix, value: Number(data), unit: '' }];
  const rows: BenchRow[] = [];
  for (const [rawKey, value] of Object.entries(data as Record<string, unknown>)) {
    const key = rawKey.startsWith(`${prefix}.`) ? rawKey.slice(prefix.length + 1) : rawKey;
    // A ratio another bench computed keeps its own direction, so it stays in the value column.
    if (typeof value === 'number') rows.push({ name: `${prefix}: ${key}`, value, unit: unitOf(key) });
    else if (typeof value === 'string') rows.push({ name: `${prefix}: ${key}`, value: Number.NaN, unit: '', note: value });
    else if (value && typeof value === 'object' && 'value' in value) {
      const figure = value as Partial<BenchRow>;
      rows.push(row(`${prefix}: ${key}`, Number(figure.value), figure.unit ?? unitOf(key), figure.baseline, figure.note));
    } else rows.push({ name: `${prefix}: ${key}`, value: Number.NaN, unit: '', note: JSON.stringify(value) });
  }
  return rows;
}

function unitOf(key: string): string {
  if (/ratio|×|x$/i.test(key)) return '×';
  if (/Ms$|_ms$|\bms\b|Time/i.test(key)) return 'ms';
  if (/bytes$/i.test(key)) return 'B';
  if (/kb$/i.test(key)) return 'KB';
  if (/mb$|rss/i.test(key)) return 'MB';
  return '';
}

if (require.main === module) {
  void (async () => {
    for (const rows of [await benchOutputIngest(), await benchPersistence(), benchBundleSize(), await benchActivation()]) console.table(rows);
  })();
}
