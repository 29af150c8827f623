/**
 * Task worktree benchmarks on a generated repository of 10,000 files, each against bare git in the same run,
 * interleaved in paired rounds (ours, bare, ours, …) so load from elsewhere hits both alike; figures are medians:
 *   create + remove   TaskWorktrees.prepare + discard vs `git worktree add -b` + `git worktree remove` + `git branch -D`
 *                     (the same branch bookkeeping, so the ratio is our overhead)
 *   summary refresh   TaskWorktrees.changes (committed + uncommitted + untracked, with statuses) vs `git diff --numstat
 *                     <base>` in the worktree (which sees neither untracked files nor statuses); once with untracked
 *                     files in the worktree and once without
 * Run alone: node --import tsx test/bench/worktrees.ts
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TaskWorktrees } from '../../src/worktrees/task-worktrees';
import { median, type Figure } from './stats';

const FILES = 10_000;
const LIFECYCLE_ROUNDS = 5;
const SUMMARY_ROUNDS = 31;

const ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.invalid',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.invalid',
  GIT_CONFIG_GLOBAL: os.devNull,
  GIT_CONFIG_NOSYSTEM: '1',
  LC_ALL: 'C',
};


function gitSync(cwd: string, args: string[]): string {
  return execFileSync('git', args, { cwd, env: ENV, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
}

function gitAsync(cwd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile('git', args, { cwd, env: ENV, maxBuffer: 64 * 2 ** 20 }, (error) => (error ? reject(error) : resolve())));
}


async function time(operation: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await operation();
  return performance.now() - started;
}

/** 10,000 files of a few lines in 100 folders, committed. */
function generateRepository(dir: string): string {
  const root = path.join(dir, 'repo');
  for (let folder = 0; folder < 100; folder++) {
    fs.mkdirSync(path.join(root, `src/module-${folder}`), { recursive: true });
    for (let file = 0; file < FILES / 100; file++) {
      const lines = Array.from({ length: 8 }, (_, line) => `export const value${line} = ${folder * 1000 + file * 10 + line};`);
      fs.writeFileSync(path.join(root, `src/module-${folder}/file-${file}.ts`), `${lines.join('\n')}\n`);
    }
  }
  gitSync(root, ['init', '--quiet', '--initial-branch=main']);
  gitSync(root, ['add', '--all']);
  gitSync(root, ['commit', '--quiet', '-m', 'generated']);
  return root;
}

/** Paired rounds of our create + remove and the bare git equivalent. */
async function benchLifecycle(root: string, worktrees: TaskWorktrees): Promise<Figure> {
  const ours: number[] = [];
  const bare: number[] = [];
  // One warm-up each (file cache, our checkout cache), not counted.
  for (let round = -1; round < LIFECYCLE_ROUNDS; round++) {
    const oursTime = await time(async () => {
      const prepared = await worktrees.prepare({ taskId: `bench-${round + 1}`, cwd: root });
      await worktrees.discard(prepared);
    });
    const folder = `${root}.worktrees/bare-${round + 1}`;
    const branch = `bare/${round + 1}`;
    const bareTime = await time(async () => {
      await gitAsync(root, ['worktree', 'add', '--quiet', '-b', branch, folder, 'HEAD']);
      await gitAsync(root, ['worktree', 'remove', folder]);
      await gitAsync(root, ['branch', '-D', '--quiet', branch]);
    });
    if (round >= 0) {
      ours.push(oursTime);
      bare.push(bareTime);
    }
  }
  return { value: median(ours), baseline: median(bare), unit: 'ms', note: `median of ${LIFECYCLE_ROUNDS} paired rounds, ${FILES.toLocaleString('en')} files` };
}

/**
 * Paired rounds of our change summary and a bare `git diff --numstat <base>` in the same worktree, and of the bare
 * commands that see as much as the summary does (that diff and `git ls-files --others` side by side).
 */
async function benchSummary(root: string, worktrees: TaskWorktrees, untracked: boolean): Promise<Figure[]> {
  const prepared = await worktrees.prepare({ taskId: untracked ? 'summary-untracked' : 'summary-tracked', cwd: root });
  try {
    // A task's typical state: some committed work, some edits in flight, (a few new files).
    for (let i = 0; i < 20; i++) fs.appendFileSync(path.join(prepared.path, `src/module-${i}/file-0.ts`), 'export const added = true;\n');
    gitSync(prepared.path, ['commit', '--quiet', '-am', 'committed part']);
    for (let i = 20; i < 40; i++) fs.appendFileSync(path.join(prepared.path, `src/module-${i}/file-1.ts`), 'export const edited = true;\n');
    if (untracked) for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(prepared.path, `src/module-${i}/new-${i}.ts`), 'export {};\n');
    const expected = untracked ? 45 : 40;
    const first = await worktrees.changes(prepared);
    if (first.files.length !== expected) throw new Error(`summary saw ${first.files.length} files, expected ${expected}`);
    const ours: number[] = [];
    const bare: number[] = [];
    const bareAll: number[] = [];
    const numstat = () => gitAsync(prepared.path, ['diff', '--numstat', prepared.baseCommit]);
    for (let round = -1; round < SUMMARY_ROUNDS; round++) {
      const oursTime = await time(() => worktrees.changes(prepared));
      const bareTime = await time(numstat);
      const bareAllTime = await time(() => Promise.all([numstat(), gitAsync(prepared.path, ['ls-files', '--others', '--exclude-standard', '-z'])]));
      if (round >= 0) {
        ours.push(oursTime);
        bare.push(bareTime);
        bareAll.push(bareAllTime);
      }
    }
    const what = `median of ${SUMMARY_ROUNDS} paired rounds; ${untracked ? '40 tracked + 5 untracked files changed' : '40 tracked files changed'}`;
    return [
      { value: median(ours), baseline: median(bare), unit: 'ms', note: `vs git diff --numstat; ${what}` },
      { value: median(ours), baseline: median(bareAll), unit: 'ms', note: `vs git diff --numstat + git ls-files --others (what the summary sees); ${what}` },
    ];
  } finally {
    await worktrees.discard(prepared);
  }
}

/** The section for `npm run bench`. */
export async function benchWorktrees(): Promise<Record<string, Figure>> {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'atw-bench-worktrees-')));
  try {
    const root = generateRepository(dir);
    const worktrees = new TaskWorktrees({ env: { GIT_AUTHOR_NAME: ENV.GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL: ENV.GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME: ENV.GIT_COMMITTER_NAME, GIT_COMMITTER_EMAIL: ENV.GIT_COMMITTER_EMAIL, GIT_CONFIG_GLOBAL: os.devNull, GIT_CONFIG_NOSYSTEM: '1' } });
    const lifecycle = await benchLifecycle(root, worktrees);
    const [tracked, trackedAll] = await benchSummary(root, worktrees, false);
    const [untracked, untrackedAll] = await benchSummary(root, worktrees, true);
    return {
      'create + remove worktree': lifecycle,
      'change summary refresh': tracked,
      'change summary refresh (same information)': trackedAll,
      'change summary refresh, untracked files': untracked,
      'change summary refresh, untracked files (same information)': untrackedAll,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  void benchWorktrees().then((figures) => {
    for (const [name, figure] of Object.entries(figures)) {
      console.log(`${name}: ${figure.value.toFixed(1)} ms vs ${figure.baseline.toFixed(1)} ms bare = ${(figure.value / figure.baseline).toFixed(2)}× (${figure.note ?? ''})`);
    }
  });
}
