/**
 * DESIGN §8, "a merge interrupted by killing the host mid-way leaves main consistent": the merge runs in a child
 * host process (test/fixtures/merge-host.ts) that is SIGKILLed as each git command it runs starts, and inside the
 * main checkout's ref update (a reference-transaction hook that sleeps). Main must then be exactly as before or
 * fully merged — HEAD, index and files — never half; and after a restart the task merges to the same result.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { makeTempDir, removeTempDirs } from '../../support/core-harness';
import { fingerprint, hasConflictMarkers, type Fingerprint } from '../../support/git-repo';
import { gitWrapper } from '../../support/git-wrapper';
import { removeBedRepos, worktreeBed, type WorktreeBed } from '../../support/worktree-bed';
import type { MergeHostArgs } from '../../fixtures/merge-host';

after(() => {
  removeBedRepos();
  removeTempDirs();
});

const HOST = path.resolve(__dirname, '../../fixtures/merge-host.ts');
const FILES = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`src/file-${i}.txt`, `file ${i}\n`]));
const WORK = [...Array.from({ length: 30 }, (_, i) => `write: src/file-${2 * i}.txt|file ${2 * i} changed by the task\\n`), 'write: added/new.txt|new\\n'].join('; ');

/** The git commands at whose start the host is killed. */
const KILL_POINTS = ['add --all', 'commit ', 'merge-tree', 'status', 'commit-tree', 'merge --no-edit', 'diff --binary', 'apply', 'worktree remove', 'branch -D'];

interface Prepared {
  bed: WorktreeBed;
  id: string;
  before: Fingerprint;
  headBefore: string;
}

/** A finished task with 31 changed files, main moved on (so a merge makes a merge commit), and the host gone. */
async function preparedTask(): Promise<Prepared> {
  const bed = worktreeBed({ files: { ...FILES, 'main.txt': 'main\n' } });
  const id = await bed.create(WORK);
  await bed.finished(id);
  bed.repo.write('main.txt', 'main moved on\n');
  bed.repo.commit('main moves');
  // Every ref update (the main branch moving included) pauses inside git, between writing the files and the ref.
  const hook = path.join(bed.repo.root, '.git', 'hooks', 'reference-transaction');
  fs.writeFileSync(hook, '#!/bin/sh\ncat >/dev/null\n[ "$1" = prepared ] && sleep 0.3\nexit 0\n', { mode: 0o755 });
  await bed.dispose();
  return { bed, id, before: fingerprint(bed.repo), headBefore: bed.repo.git(['rev-parse', 'HEAD']).trim() };
}

/** Runs the merge in a child host; kills it once `killAt` git commands have started (plus `delayMs`). */
async function mergeInChild(prepared: Prepared, how: 'merge' | 'apply', killAt?: number, delayMs = 0): Promise<{ killed: boolean; commands: string[]; stdout: string }> {
  const wrapper = gitWrapper(makeTempDir('atw-kill-'), ['merge --no-edit', 'apply', 'commit-tree', 'worktree remove'], 0.2);
  const args: MergeHostArgs = { stateDir: prepared.bed.harness.dir, repository: prepared.bed.repo.root, gitPath: wrapper.path, taskId: prepared.id, how };
  const child = spawn(process.execPath, ['--import', 'tsx', HOST, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let killed = false;
  if (killAt !== undefined) {
    void (async () => {
      while (child.exitCode === null && wrapper.started().length < killAt) await new Promise((resolve) => setTimeout(resolve, 2));
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      killed = child.kill('SIGKILL');
    })();
  }
  await exited;
  // The host is gone; git commands it started run on in their own process group. Let them end.
  const deadline = Date.now() + 20_000;
  while (wrapper.running() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(wrapper.running(), 0, 'every git command the host started has ended');
  if (!killed) assert.match(stdout, /^done (merged|applied)$/m, stderr);
  return { killed, commands: wrapper.started(), stdout };
}

/** Main's state once the work is in: a digest that does not depend on commit times. */
function outcome(prepared: Prepared, how: 'merge' | 'apply'): string {
  const git = (args: string[]) => prepared.bed.repo.git(args).trim();
  const status = git(['status', '--porcelain', '--untracked-files=all']);
  if (how === 'merge') return JSON.stringify({ tree: git(['rev-parse', 'HEAD^{tree}']), onTopOfBefore: git(['rev-parse', 'HEAD^1']) === prepared.headBefore, status });
  return JSON.stringify({ headAsBefore: git(['rev-parse', 'HEAD']) === prepared.headBefore, index: git(['write-tree']), unstaged: git(['diff', '--name-only']), status });
}

function checkoutIsClean(prepared: Prepared): void {
  const gitDir = path.join(prepared.bed.repo.root, '.git');
  for (const leftover of ['index.lock', 'MERGE_HEAD', 'HEAD.lock']) assert.equal(fs.existsSync(path.join(gitDir, leftover)), false, leftover);
  assert.equal(hasConflictMarkers(prepared.bed.repo.root), false);
}

for (const how of ['merge', 'apply'] as const) {
  describe(`${how} killed mid-way`, { timeout: 10 * 60_000 }, () => {
    let complete: string;
    let commands: string[];

    test(`uninterrupted, the child host ${how}s the task (the reference)`, async () => {
      const prepared = await preparedTask();
      ({ commands } = await mergeInChild(prepared, how));
      assert.ok(commands.some((line) => line.startsWith(how === 'merge' ? 'merge --no-edit --no-verify --ff-only' : 'apply')), commands.join('\n'));
      complete = outcome(prepared, how);
      assert.notDeepEqual(fingerprint(prepared.bed.repo), prepared.before);
      assert.equal(JSON.parse(complete)[how === 'merge' ? 'onTopOfBefore' : 'headAsBefore'], true);
      assert.equal(prepared.bed.repo.read('added/new.txt'), 'new\n');
      checkoutIsClean(prepared);
    });

    test('killed as each git command starts, or inside the main checkout’s update: as before or complete; a restart finishes it', async () => {
      const writer = commands.findIndex((line) => line.startsWith(how === 'merge' ? 'merge --no-edit' : 'apply')) + 1;
      // Every command that writes (in the worktree or main), the last reads before main is written, and the read after.
      const points: [number, number][] = [];
      commands.forEach((line, i) => {
        if (KILL_POINTS.some((prefix) => line.startsWith(prefix)) || commands[i - 1]?.startsWith(how === 'merge' ? 'merge --no-edit' : 'apply')) points.push([i + 1, 0]);
      });
      assert.ok(points.length >= 6, commands.join('\n'));
      for (const delayMs of [150, 350, 500]) points.push([writer, delayMs]);
      const seen = new Set<string>();
      for (const [killAt, delayMs] of points) {
        const prepared = await preparedTask();
        const run = await mergeInChild(prepared, how, killAt, delayMs);
        const where = `killed at command ${killAt} (+${delayMs} ms): ${run.commands[killAt - 1] ?? '(after the end)'}`;
        checkoutIsClean(prepared);
        const untouched = JSON.stringify(fingerprint(prepared.bed.repo)) === JSON.stringify(prepared.before);
        assert.ok(untouched || outcome(prepared, how) === complete, `${where}: main is half ${how}d`);
        seen.add(untouched ? 'untouched' : 'complete');

        const bed = await prepared.bed.reload();
        const state = bed.worktreeOf(prepared.id).state;
        const branch = bed.worktreeOf(prepared.id).branch;
        if (state === 'active' && bed.repo.git(['branch', '--list', branch]).trim() === '') {
          // Killed during an apply's last clean-up step (the branch deletion): main holds the work, and with the branch
          // gone the task cannot tell it from lost work — it says so, and Discard tidies it up.
          // A kill after a delay lands in whatever command runs by then (on a loaded machine, later than `killAt`): the
          // last command the host started is the one it died in.
          assert.ok(run.commands.at(-1)?.startsWith('branch -D') && !untouched, `${where}, last started ${run.commands.at(-1)}: the branch went before main was complete`);
          await assert.rejects(bed.harness.manager.worktrees.mergeChanges(prepared.id, { how }), /no longer exists/);
          assert.equal((await bed.harness.manager.worktrees.discardChanges(prepared.id)).worktree?.state, 'discarded');
        } else if (state === 'active') {
          const snapshot = await bed.harness.manager.worktrees.mergeChanges(prepared.id, { how });
          assert.equal(snapshot.worktree?.state, how === 'merge' ? 'merged' : 'applied', where);
        } else assert.equal(state, how === 'merge' ? 'merged' : 'applied', where);
        assert.equal(outcome(prepared, how), complete, `${where}: after the restart`);
        assert.deepEqual(bed.repo.git(['worktree', 'list', '--porcelain']).match(/^worktree /gm)?.length, 1, `${where}: the task worktree is gone`);
        checkoutIsClean(prepared);
        await bed.dispose();
      }
      assert.deepEqual([...seen].sort(), ['complete', 'untouched'], 'kills landed both before and after main was written');
    });
  });
}
