/**
 * DESIGN §9 benchmarks, each against a baseline measured in the same run, interleaved in paired rounds so load from
 * elsewhere hits both alike; figures are medians:
 *   attempts fan-out   createAttempts of three Codex attempts until every attempt's first model request reached the
 *                      mock model, vs createTask of one Codex task until its first request (real pinned Codex, its
 *                      app-server warm, each in a new worktree, no setup commands)
 *   attempts floor     the same for Codex alone: a bare JSONL client starts three threads at once on a warm app-server
 *                      vs one, each in a worktree made beforehand — what three Codex threads cost on this machine
 *                      whatever client drives them (the fan-out cannot be below it)
 *   attempts worktrees the worktree part of that alone: three TaskWorktrees.prepare at once vs one
 *   worktree copy      `agentTasks.worktree.copy` (TaskWorktrees.copyUntracked, ignored folder matched by a glob) of
 *                      1,000 files into a task worktree vs a bare `cp -R` of the same folder
 * Run alone: node --import tsx test/bench/second-opinions.ts
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TaskWorktrees } from '../../src/worktrees/task-worktrees';
import { createAgentsBed, type AgentsBed } from '../support/agents-bed';
import { pinnedCodexBinary } from '../support/codex-harness';
import { writeCodexHome } from '../fixtures/mock-responses/codex-home';
import { startMockResponsesServer } from '../fixtures/mock-responses/server';
import { RawStdioClient } from './codex';
import { makeRepo, TEST_GIT_ENV } from '../support/git-repo';
import { median, type Figure } from './stats';

const FANOUT_ROUNDS = 5;
const COPY_ROUNDS = 9;
const COPY_FILES = 1_000;



/**
 * Creates tasks with `create` and resolves with the ms from the call until each of `count` new Codex threads has sent
 * its first model request; then lets them finish and discards their worktrees.
 */
async function untilFirstRequests(bed: AgentsBed, count: number, create: () => Promise<{ id: string }[]>): Promise<number> {
  const seen = bed.responses.requests.length;
  const started = Date.now();
  const tasks = await create();
  const threads = new Map<string, number>();
  await bed.waitFor(
    () => {
      for (const request of bed.responses.requests.slice(seen)) if (request.threadKey && !threads.has(request.threadKey)) threads.set(request.threadKey, request.at);
      return threads.size >= count;
    },
    `${count} first model requests`,
  );
  const elapsed = Math.max(...threads.values()) - started;
  for (const task of tasks) {
    const done = await bed.finished(task.id);
    if (done.status !== 'completed') throw new Error(`bench task ${task.id} ended ${done.status}: ${done.error}`);
    await bed.h.manager.worktrees.discardChanges(task.id);
  }
  return elapsed;
}

async function benchFanOut(): Promise<Figure> {
  const bed = await createAgentsBed();
  try {
    const { manager } = bed.h;
    const one = () => manager.createTask({ prompt: 'Say hello', provider: 'codex' }).then((task) => [task]);
    const three = () => manager.secondOpinions.createAttempts({ prompt: 'Say hello' }, [{ provider: 'codex' }, { provider: 'codex' }, { provider: 'codex' }]);
    // Warm-up (the profile's app-server starts, git's caches fill), not counted.
    await untilFirstRequests(bed, 1, one);
    await untilFirstRequests(bed, 3, three);
    const single: number[] = [];
    const attempts: number[] = [];
    for (let round = 0; round < FANOUT_ROUNDS; round++) {
      single.push(await untilFirstRequests(bed, 1, one));
      attempts.push(await untilFirstRequests(bed, 3, three));
    }
    return { value: median(attempts), baseline: median(single), unit: 'ms', note: `3 Codex attempts vs 1 task, until every first model request; median of ${FANOUT_ROUNDS} paired rounds` };
  } finally {
    await bed.cleanup();
  }
}

/** Codex alone: a bare client starts `count` threads at once on a warm app-server, until every first model request. */
async function benchFanOutFloor(): Promise<Figure> {
  const repo = makeRepo({ 'README.md': '# demo\n\nSome text.\n' });
  const mock = await startMockResponsesServer();
  const client = new RawStdioClient(pinnedCodexBinary(), { CODEX_HOME: await writeCodexHome(path.join(repo.dir, 'codex-home'), { port: mock.port, cwd: [repo.root, `${repo.root}.worktrees`] }), MOCK_API_KEY: 'bench' });
  let next = 0;
  const folders = (count: number) =>
    Array.from({ length: count }, () => {
      const folder = `${repo.root}.worktrees/floor-${next++}`;
      repo.git(['worktree', 'add', '--quiet', '-b', `floor-${next}`, folder]);
      return folder;
    });
  const round = async (count: number): Promise<number> => {
    const cwds = folders(count);
    const seen = mock.requests.length;
    const turnsDone = Array.from({ length: count }, () => client.waitFor('turn/completed'));
    const started = performance.now();
    await Promise.all(
      cwds.map(async (cwd) => {
        const { thread } = (await client.call('thread/start', { cwd })) as { thread: { id: string } };
        await client.call('turn/start', { threadId: thread.id, input: [{ type: 'text', text: 'Say hello', text_elements: [] }] });
      }),
    );
    while (new Set(mock.requests.slice(seen).map((request) => request.threadKey)).size < count) await new Promise((resolve) => setTimeout(resolve, 2));
    const elapsed = performance.now() - started;
    await Promise.race([Promise.all(turnsDone), new Promise((resolve) => setTimeout(resolve, 5000))]);
    return elapsed;
  };
  try {
    await client.call('initialize', { clientInfo: { name: 'bench', title: 'bench', version: '0' }, capabilities: { experimentalApi: true } });
    client.notify('initialized');
    await round(1);
    await round(3);
    const single: number[] = [];
    const three: number[] = [];
    for (let i = 0; i < FANOUT_ROUNDS; i++) {
      single.push(await round(1));
      three.push(await round(3));
    }
    return { value: median(three), baseline: median(single), unit: 'ms', note: `Codex alone (bare client, warm app-server): 3 threads at once vs 1, until every first model request; median of ${FANOUT_ROUNDS} paired rounds` };
  } finally {
    await client.stop();
    await mock.close();
    repo.remove();
  }
}

/** The worktree part of the fan-out alone: three TaskWorktrees.prepare at once vs one (the same small repository). */
async function benchPrepare(): Promise<Figure> {
  const repo = makeRepo({ 'README.md': '# bench\n', 'src/index.ts': 'export {};\n' });
  try {
    const worktrees = new TaskWorktrees({ env: TEST_GIT_ENV });
    let next = 0;
    const round = async (count: number): Promise<number> => {
      const started = performance.now();
      const prepared = await Promise.all(Array.from({ length: count }, () => worktrees.prepare({ taskId: `bench-${next++}`, cwd: repo.root })));
      const elapsed = performance.now() - started;
      for (const worktree of prepared) await worktrees.discard(worktree);
      return elapsed;
    };
    await round(1);
    await round(3);
    const single: number[] = [];
    const three: number[] = [];
    for (let i = 0; i < FANOUT_ROUNDS * 2; i++) {
      single.push(await round(1));
      three.push(await round(3));
    }
    return { value: median(three), baseline: median(single), unit: 'ms', note: `3 TaskWorktrees.prepare at once vs 1 (writes of one repository run one at a time); median of ${FANOUT_ROUNDS * 2} paired rounds` };
  } finally {
    repo.remove();
  }
}

function cp(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => execFile('cp', ['-R', from, to], (error) => (error ? reject(error) : resolve())));
}

async function benchCopy(): Promise<Figure> {
  const repo = makeRepo({ 'README.md': '# bench\n', '.gitignore': 'node_modules/\n' });
  try {
    // 1,000 small files in 50 packages of a gitignored folder: what `["node_modules/**"]` copies into a worktree.
    for (let pkg = 0; pkg < 50; pkg++) {
      for (let file = 0; file < COPY_FILES / 50; file++) repo.write(`node_modules/pkg-${pkg}/lib/file-${file}.js`, `module.exports = ${pkg * 100 + file};\n`);
    }
    const worktrees = new TaskWorktrees({ env: TEST_GIT_ENV });
    const prepared = await worktrees.prepare({ taskId: 'bench-copy', cwd: repo.root });
    const target = path.join(repo.dir, 'bare-copy');
    const ours: number[] = [];
    const bare: number[] = [];
    for (let round = -1; round < COPY_ROUNDS; round++) {
      fs.rmSync(path.join(prepared.path, 'node_modules'), { recursive: true, force: true });
      fs.rmSync(target, { recursive: true, force: true });
      fs.mkdirSync(target);
      let started = performance.now();
      const copied = await worktrees.copyUntracked(prepared, ['node_modules/**']);
      const oursTime = performance.now() - started;
      if (copied.length !== COPY_FILES) throw new Error(`copied ${copied.length} files, expected ${COPY_FILES}`);
      started = performance.now();
      await cp(path.join(repo.root, 'node_modules'), target);
      const bareTime = performance.now() - started;
      if (round >= 0) {
        ours.push(oursTime);
        bare.push(bareTime);
      }
    }
    await worktrees.discard(prepared);
    return { value: median(ours), baseline: median(bare), unit: 'ms', note: `${COPY_FILES.toLocaleString('en')} ignored files in 50 folders vs cp -R; median of ${COPY_ROUNDS} paired rounds` };
  } finally {
    repo.remove();
  }
}

/** The section for `npm run bench`. */
export async function benchSecondOpinions(): Promise<Record<string, Figure>> {
  const copy = await benchCopy();
  const prepare = await benchPrepare();
  const fanOut = await benchFanOut();
  const floor = await benchFanOutFloor();
  const overFloor: Figure = {
    value: fanOut.value / fanOut.baseline,
    baseline: floor.value / floor.baseline,
    unit: '×',
    note: 'the fan-out ratio over Codex’s own: what the extension adds when three Codex attempts start at once',
  };
  return {
    'attempts fan-out (3 vs 1)': fanOut,
    'attempts floor: Codex alone (3 vs 1)': floor,
    'attempts fan-out over the floor': overFloor,
    'attempts worktrees (3 vs 1)': prepare, 'worktree copy 1,000 files': copy };
}

if (require.main === module) {
  void benchSecondOpinions().then((figures) => {
    for (const [name, figure] of Object.entries(figures)) {
      console.log(`${name}: ${figure.value.toFixed(1)} ms vs ${figure.baseline.toFixed(1)} ms = ${(figure.value / figure.baseline).toFixed(2)}× (${figure.note ?? ''})`);
    }
  });
}
