// DESIGN §9 setup, copy and check, through the TaskManager, with real git worktrees and real shell commands.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { processExists } from '../../../src/platform/process';
import { TaskWorktrees } from '../../../src/worktrees/task-worktrees';
import { Harness } from '../../support/core-harness';
import { fingerprint, makeRepo, TEST_GIT_ENV, type TestRepo } from '../../support/git-repo';

let repo: TestRepo;
let h: Harness;

function harness(settings: Partial<Harness['settings']> = {}): Harness {
  h = new Harness({ cwd: repo.root, settings, worktrees: new TaskWorktrees({ env: TEST_GIT_ENV }) });
  return h;
}

/** Runs a task that completes at once and waits until its worktree exists. */
async function completedTask(): Promise<string> {
  const task = await h.create('done: finished');
  await h.waitForStatus(task.id, 'completed', 20_000);
  assert.equal(h.task(task.id).worktree?.state, 'active');
  return task.id;
}

async function checkEnded(id: string): Promise<void> {
  await h.until(() => h.task(id).check !== undefined && h.task(id).check?.state !== 'running', `the check of ${id} to end`, 20_000);
}

beforeEach(() => {
  repo = makeRepo({ 'README.md': '# test\n', '.gitignore': '.env*\nbuild/\n' });
  repo.commit('initial');
});

afterEach(async () => {
  await h?.dispose();
  repo.remove();
});

describe('worktree setup and copy (DESIGN §9)', () => {
  test('copies untracked files matching the globs (ignored ones included) and runs setup in the worktree before the agent', async () => {
    repo.write('.env.local', 'SECRET=local\n');
    repo.write('notes.txt', 'not asked for\n');
    repo.write('build/out/app.js', 'built\n');
    harness({ worktreeCopy: ['.env*', 'build/**'], worktreeSetup: ['echo setting-up; pwd > setup-ran.txt'] });
    const before = fingerprint(repo);
    const id = await completedTask();
    const worktree = h.task(id).worktree!;
    assert.equal(fs.readFileSync(path.join(worktree.path, '.env.local'), 'utf8'), 'SECRET=local\n');
    assert.equal(fs.readFileSync(path.join(worktree.path, 'build/out/app.js'), 'utf8'), 'built\n');
    assert.equal(fs.existsSync(path.join(worktree.path, 'notes.txt')), false, 'only what the globs name is copied');
    assert.equal(fs.readFileSync(path.join(worktree.path, 'setup-ran.txt'), 'utf8').trim(), fs.realpathSync(worktree.cwd), 'setup runs in the worktree');
    assert.deepEqual(fingerprint(repo), before, 'the main checkout is untouched');
    const setup = h.entries(id).find((entry) => entry.kind === 'command' && entry.text.startsWith('Setup:'));
    assert.equal(setup?.exitCode, 0);
    assert.match(setup?.detail ?? '', /setting-up/);
    const texts = h.texts(id);
    assert.ok(texts.some((text) => /Copied 2 untracked files into the worktree: \.env\.local, build\/out\/app\.js/.test(text)), texts.join('\n'));
    assert.ok(texts.indexOf(setup!.text) < texts.indexOf('Completed'), 'setup ran before the agent finished');
  });

  test('copy never overwrites a file already in the worktree', async () => {
    const worktrees = new TaskWorktrees({ env: TEST_GIT_ENV });
    const prepared = await worktrees.prepare({ taskId: 'copy-keep-001', cwd: repo.root });
    repo.write('.env', 'from main\n');
    fs.writeFileSync(path.join(prepared.path, '.env'), 'the worktree own\n');
    repo.write('.env.test', 'copied\n');
    const copied = await worktrees.copyUntracked(prepared, ['.env*']);
    assert.deepEqual(copied, ['.env.test']);
    assert.equal(fs.readFileSync(path.join(prepared.path, '.env'), 'utf8'), 'the worktree own\n');
  });

  test('git matches the globs: ** crosses folders, * does not, a folder name takes all of it', async () => {
    const worktrees = new TaskWorktrees({ env: TEST_GIT_ENV });
    const prepared = await worktrees.prepare({ taskId: 'copy-globs-001', cwd: repo.root });
    for (const file of ['sub/deep/.env.local', 'top.js', 'sub/nested.js', 'vendor/lib/x.js', 'vendor/y.txt', 'notes.txt']) repo.write(file, `${file}\n`);
    const copied = await worktrees.copyUntracked(prepared, ['**/.env.local', '*.js', 'vendor']);
    assert.deepEqual(copied, ['sub/deep/.env.local', 'top.js', 'vendor/lib/x.js', 'vendor/y.txt']);
    assert.equal(fs.readFileSync(path.join(prepared.path, 'sub/deep/.env.local'), 'utf8'), 'sub/deep/.env.local\n');
  });

  test('a failing setup fails the task with the command and its last lines, and leaves the worktree', async () => {
    harness({ worktreeSetup: ['echo first-ok', 'echo broken-step-output; exit 3'] });
    const task = await h.create('done: never reached');
    const failed = await h.waitForStatus(task.id, 'failed', 20_000);
    assert.match(failed.error ?? '', /Setup command `echo broken-step-output; exit 3` exited with 3/);
    assert.match(failed.error ?? '', /broken-step-output/);
    assert.equal(h.scripted?.runsOf(task.id).length, 0, 'the agent never started');
    assert.ok(failed.worktree && fs.existsSync(failed.worktree.path), 'the worktree is left for inspection');
  });
});

describe('checks (DESIGN §9)', () => {
  test('runs when an isolated task completes: passed, in the worktree, status unchanged', async () => {
    harness({ check: 'echo checking-here; test -f README.md' });
    const id = await completedTask();
    await checkEnded(id);
    const check = h.task(id).check!;
    assert.equal(check.state, 'passed');
    assert.equal(check.exitCode, 0);
    assert.equal(check.command, 'echo checking-here; test -f README.md');
    assert.match(check.tail ?? '', /checking-here/);
    assert.equal(typeof check.durationMs, 'number');
    assert.equal(h.status(id), 'completed', 'a check never changes the task status');
  });

  test('a failing check: failed with its exit code and a bounded tail, also for megabytes of output', async () => {
    harness();
    const id = await completedTask();
    h.settings.check = 'yes line-of-output | head -c 3000000; echo the-end; exit 4';
    const snapshot = await h.manager.worktrees.jobs.runCheck(id);
    assert.equal(snapshot.check?.state, 'failed');
    assert.equal(snapshot.check?.exitCode, 4);
    const lines = (snapshot.check?.tail ?? '').split('\n');
    assert.ok(lines.length <= 40, `tail has ${lines.length} lines`);
    assert.equal(lines.at(-1), 'the-end');
    assert.equal(h.status(id), 'completed');
  });

  test('a check command that does not exist fails clearly', async () => {
    harness();
    const id = await completedTask();
    h.settings.check = 'no-such-check-command-xyz --run';
    const snapshot = await h.manager.worktrees.jobs.runCheck(id);
    assert.equal(snapshot.check?.state, 'failed');
    assert.equal(snapshot.check?.exitCode, 127);
    assert.match(snapshot.check?.tail ?? '', /not found/);
  });

  test('Cancel stops a running check and its whole process tree', async () => {
    harness();
    const id = await completedTask();
    const pidFile = path.join(repo.dir, 'grandchild.pid');
    h.settings.check = `sh -c 'sleep 60' & echo $! > ${JSON.stringify(pidFile)}; wait`;
    const running = h.manager.worktrees.jobs.runCheck(id);
    await h.until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '', 'the check to start its child', 10_000);
    const grandchild = Number(fs.readFileSync(pidFile, 'utf8'));
    assert.ok(processExists(grandchild));
    await h.manager.cancelTask(id);
    const snapshot = await running;
    assert.equal(snapshot.check?.state, 'cancelled');
    await h.until(() => !processExists(grandchild), 'the check process tree to be gone', 5_000);
    assert.equal(h.status(id), 'completed');
  });

  test('a hanging check is stopped at the task timeout', async () => {
    harness();
    const id = await completedTask();
    h.settings.defaultTimeoutMinutes = 0.02; // 1.2 s
    h.settings.check = 'echo waiting; sleep 30';
    const snapshot = await h.manager.worktrees.jobs.runCheck(id);
    assert.equal(snapshot.check?.state, 'failed');
    assert.ok(h.texts(id).some((text) => /timed out/.test(text)), h.texts(id).join('\n'));
  });

  test('runCheck rejects for an unknown task and for a task without a worktree; merge waits for no check', async () => {
    harness({ check: 'true' });
    await assert.rejects(h.manager.worktrees.jobs.runCheck('no-such-task'), /Unknown task/);
    const inPlace = await h.create('done: in place', { isolation: 'none' });
    await h.waitForStatus(inPlace.id, 'completed', 20_000);
    await assert.rejects(h.manager.worktrees.jobs.runCheck(inPlace.id), /has no worktree to check/);
  });

  test('a check never runs in the main checkout', async () => {
    const worktrees = new TaskWorktrees({ env: TEST_GIT_ENV });
    const prepared = await worktrees.prepare({ taskId: 'main-guard-001', cwd: repo.root });
    await assert.rejects(worktrees.runCommand(prepared, { command: 'touch should-not-exist', cwd: repo.root }), /not inside the task's worktree/);
    assert.equal(fs.existsSync(path.join(repo.root, 'should-not-exist')), false);
    fs.rmSync(prepared.path, { recursive: true, force: true });
    await assert.rejects(worktrees.runCommand(prepared, { command: 'true', cwd: prepared.cwd }), /is gone \(was the worktree deleted\?\); `true` was not run/);
  });
});
