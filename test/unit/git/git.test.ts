/** The CLI driver: the fixed environment, GitError codes from real git failures, a missing git, and cancellation. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { classifyGitError, gitEnvironment, GitError, run } from '../../../src/git/git';
import { makeRepo, TEST_GIT_ENV } from '../../support/git-repo';

const repo = makeRepo({ 'a.txt': 'a\n' });
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-git-driver-'));
after(() => {
  repo.remove();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const rejectsWith = (promise: Promise<unknown>, code: string) => assert.rejects(promise, (error: GitError) => error instanceof GitError && error.code === code);

test('the environment: C locale, no prompts, no inherited repository pointers; optional locks off for reads', () => {
  const saved = process.env.GIT_DIR;
  process.env.GIT_DIR = '/somewhere/else/.git';
  try {
    const write = gitEnvironment({ EXTRA: '1' });
    assert.equal(write.LC_ALL, 'C');
    assert.equal(write.GIT_TERMINAL_PROMPT, '0');
    assert.equal(write.GIT_DIR, undefined);
    assert.equal(write.GIT_OPTIONAL_LOCKS, undefined);
    assert.equal(write.EXTRA, '1');
    assert.equal(gitEnvironment({}, true).GIT_OPTIONAL_LOCKS, '0');
  } finally {
    if (saved === undefined) delete process.env.GIT_DIR;
    else process.env.GIT_DIR = saved;
  }
});

test('run returns stdout, and allowed exit codes are answers', async () => {
  const { stdout } = await run(repo.root, ['rev-parse', '--show-toplevel'], { env: TEST_GIT_ENV });
  assert.equal(stdout.trim(), repo.root);
  const { exitCode } = await run(repo.root, ['diff', '--quiet'], { env: TEST_GIT_ENV, okExitCodes: [1] });
  assert.equal(exitCode, 0);
  const echoed = await run(repo.root, ['hash-object', '--stdin'], { input: 'hello\n' });
  assert.equal(echoed.stdout.trim(), 'ce013625030ba8dba906f756967f9e9ca394464a');
});

test('real failures map to codes', async () => {
  await rejectsWith(run(scratch, ['status']), 'NotARepository');
  await rejectsWith(run(path.join(scratch, 'missing'), ['status']), 'NotARepository');
  await rejectsWith(run(repo.root, ['branch', 'main']), 'BranchExists');
  await rejectsWith(run(repo.root, ['worktree', 'add', repo.root]), 'WorktreeExists');
  const empty = makeRepo({});
  try {
    await rejectsWith(run(empty.root, ['rev-parse', 'HEAD']), 'NoCommits');
  } finally {
    empty.remove();
  }
  fs.writeFileSync(path.join(repo.root, '.git', 'index.lock'), '');
  try {
    await rejectsWith(run(repo.root, ['add', 'a.txt'], { env: TEST_GIT_ENV }), 'LockHeld');
  } finally {
    fs.rmSync(path.join(repo.root, '.git', 'index.lock'));
  }
  const error = (await run(repo.root, ['branch', 'main']).catch((caught: unknown) => caught)) as GitError;
  assert.deepEqual(error.args, ['branch', 'main']);
  assert.match(error.message, /^git branch failed: fatal: a branch named 'main' already exists$/);
});

test('the stderr table', () => {
  const cases: [string, string][] = [
    ["fatal: not a git repository (or any of the parent directories): .git", 'NotARepository'],
    ["fatal: Unable to create '/r/.git/index.lock': File exists.", 'LockHeld'],
    ['CONFLICT (content): Merge conflict in f', 'Conflict'],
    ['error: Your local changes to the following files would be overwritten by merge:\n\tf\nPlease commit', 'DirtyWorkTree'],
    ['error: The following untracked working tree files would be overwritten by merge:\n\tnew.txt', 'UntrackedOverwritten'],
    ["fatal: a branch named 'agent-tasks/x' already exists", 'BranchExists'],
    ["fatal: '/r.worktrees/x' already exists", 'WorktreeExists'],
    ["fatal: 'agent-tasks/x' is already checked out at '/r.worktrees/x'", 'WorktreeExists'],
    ["fatal: '/r.worktrees/x' contains modified or untracked files, use --force to delete it", 'WorktreeDirty'],
    ['fatal: Not possible to fast-forward, aborting.', 'NotFastForward'],
    ['error: patch failed: a.txt:1\nerror: a.txt: patch does not apply', 'PatchFailed'],
    ['Author identity unknown\n\n*** Please tell me who you are.', 'IdentityUnknown'],
    ["error: unknown option `write-tree'\nusage: git merge-tree [--write-tree] [<options>] <branch1> <branch2>", 'GitTooOld'],
    ['something else entirely', 'Unknown'],
  ];
  for (const [stderr, code] of cases) assert.equal(classifyGitError(stderr), code, stderr);
  assert.deepEqual(new GitError('DirtyWorkTree', 'x', [], '', 1, ['f']).files, ['f']);
});

test('no git on the PATH → GitNotFound with a message saying what to do', async () => {
  const error = await run(repo.root, ['status'], { env: { PATH: scratch } }).catch((caught: unknown) => caught as GitError);
  assert.ok(error instanceof GitError);
  assert.equal(error.code, 'GitNotFound');
  assert.match(error.message, /Git was not found on the PATH.*agentTasks\.isolation/);
  await rejectsWith(run(repo.root, ['status'], { gitPath: path.join(scratch, 'no-such-git') }), 'GitNotFound');
});

test('an abort kills git and its children, and rejects with Aborted', async () => {
  const fakeGit = path.join(scratch, 'slow-git');
  const pidFile = path.join(scratch, 'child.pid');
  fs.writeFileSync(fakeGit, `#!/bin/sh\nsleep 30 &\necho $! > "${pidFile}"\nwait\n`, { mode: 0o755 });
  const controller = new AbortController();
  const pending = run(scratch, ['status'], { gitPath: fakeGit, signal: controller.signal });
  while (!fs.existsSync(pidFile) || fs.readFileSync(pidFile, 'utf8').trim() === '') await new Promise((resolve) => setTimeout(resolve, 10));
  const started = Date.now();
  controller.abort();
  await rejectsWith(pending, 'Aborted');
  assert.ok(Date.now() - started < 5_000);
  const child = Number(fs.readFileSync(pidFile, 'utf8'));
  for (let i = 0; i < 100 && alive(child); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(alive(child), false, 'the grandchild died with the group');
  await rejectsWith(run(scratch, ['status'], { signal: AbortSignal.abort() }), 'Aborted');
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}
