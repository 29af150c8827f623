/**
 * DESIGN §8 merge safety with real git: two tasks on the same file, a conflict that leaves main byte-identical, the
 * agent resolving it, dirty main checkouts, apply as uncommitted, and a merge interrupted at every moment.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TaskWorktrees } from '../../../src/worktrees/task-worktrees';
import type { PreparedWorktree } from '../../../src/worktrees/port';
import { GitError } from '../../../src/git/git';
import { fingerprint, hasConflictMarkers, makeRepo, TEST_GIT_ENV, type TestRepo } from '../../support/git-repo';

const worktrees = new TaskWorktrees({ env: TEST_GIT_ENV });
const repos: TestRepo[] = [];

function repoWith(files: Record<string, string>): TestRepo {
  const repo = makeRepo(files);
  repos.push(repo);
  return repo;
}

after(() => repos.forEach((repo) => repo.remove()));

describe('two tasks writing the same file', () => {
  let repo: TestRepo;
  let first: PreparedWorktree;
  let second: PreparedWorktree;

  before(async () => {
    repo = repoWith({ 'app.txt': 'line 1\nline 2\nline 3\n', 'other.txt': 'other\n' });
    [first, second] = await Promise.all([worktrees.prepare({ taskId: 'brave-otter-001', cwd: repo.root }), worktrees.prepare({ taskId: 'calm-heron-002', cwd: repo.root })]);
  });

  test('each writes in its own worktree and the main checkout stays untouched', async () => {
    const before = fingerprint(repo);
    repo.write('app.txt', 'line 1\nfirst task\nline 3\n', first.path);
    repo.write('app.txt', 'line 1\nsecond task\nline 3\n', second.path);
    assert.equal(first.path, `${repo.root}.worktrees/brave-otter-001`);
    assert.equal(first.branch, 'agent-tasks/brave-otter-001');
    assert.deepEqual(fingerprint(repo), before);
    const changes = await worktrees.changes(first);
    assert.deepEqual(changes.files.map((file) => [file.path, file.status, file.insertions, file.deletions]), [['app.txt', 'modified', 1, 1]]);
  });

  test('merging the first puts its change in the main checkout and removes its worktree, keeping the branch', async () => {
    const result = await worktrees.merge(first, 'merge', 'First task: edit app.txt');
    assert.equal(result.state, 'merged');
    assert.equal(repo.read('app.txt'), 'line 1\nfirst task\nline 3\n');
    assert.equal(repo.git(['status', '--porcelain']), '');
    assert.equal(fs.existsSync(first.path), false);
    assert.match(repo.git(['branch', '--list', 'agent-tasks/*']), /agent-tasks\/brave-otter-001/);
    assert.match(repo.git(['log', '-1', '--format=%s', 'agent-tasks/brave-otter-001']), /First task: edit app.txt/);
  });

  test('merging the second reports the conflict and leaves main byte-identical, without markers', async () => {
    const before = fingerprint(repo);
    const result = await worktrees.merge(second, 'merge', 'Second task: edit app.txt');
    assert.deepEqual(result, { state: 'conflict', conflicts: ['app.txt'] });
    assert.deepEqual(fingerprint(repo), before);
    assert.equal(hasConflictMarkers(repo.root), false);
    assert.equal(fs.existsSync(path.join(repo.root, '.git', 'MERGE_HEAD')), false);
    assert.equal(fs.existsSync(second.path), true, 'the worktree stays for Resolve with Agent');
    assert.equal(repo.git(['status', '--porcelain'], second.path), '', 'its uncommitted change was committed on the branch');
  });

  test('a follow-up resolving it in the worktree (merge main in, fix, commit) makes the merge succeed', async () => {
    const followUp = await worktrees.prepare({ taskId: 'calm-heron-003', cwd: repo.root, reuse: second });
    assert.equal(followUp.path, second.path);
    assert.throws(() => repo.git(['merge', '--quiet', 'main'], followUp.path));
    repo.write('app.txt', 'line 1\nfirst task\nsecond task\nline 3\n', followUp.path);
    repo.commit('Resolve the conflict with main', followUp.path);
    const result = await worktrees.merge(second, 'merge', 'Second task: edit app.txt');
    assert.equal(result.state, 'merged');
    assert.equal(repo.read('app.txt'), 'line 1\nfirst task\nsecond task\nline 3\n');
    assert.equal(repo.git(['status', '--porcelain']), '');
  });
});

describe('a dirty main checkout', () => {
  test('a file the merge writes is dirty → refused, listing it, the user edit intact', async () => {
    const repo = repoWith({ 'shared.txt': 'base\n', 'mine.txt': 'mine\n' });
    const task = await worktrees.prepare({ taskId: 'dirty-a-001', cwd: repo.root });
    repo.write('shared.txt', 'from the task\n', task.path);
    repo.write('new.txt', 'created by the task\n', task.path);
    repo.write('shared.txt', 'the user is editing this\n');
    repo.write('new.txt', 'the user made this too\n');
    const before = fingerprint(repo);
    for (const how of ['merge', 'apply'] as const) {
      const result = await worktrees.merge(task, how, 'Task');
      assert.equal(result.state, 'refused');
      assert.ok(result.state === 'refused' && result.reason === 'dirty');
      assert.deepEqual(result.files, ['new.txt', 'shared.txt']);
      assert.match(result.message, /new\.txt, shared\.txt/);
      assert.deepEqual(fingerprint(repo), before);
    }
    assert.equal(repo.read('shared.txt'), 'the user is editing this\n');
  });

  test('only other files are dirty (staged and unstaged) → the merge succeeds and the user edits stay', async () => {
    const repo = repoWith({ 'task.txt': 'base\n', 'staged.txt': 'staged base\n', 'edited.txt': 'edited base\n' });
    const task = await worktrees.prepare({ taskId: 'dirty-b-001', cwd: repo.root });
    repo.write('task.txt', 'from the task\n', task.path);
    repo.write('edited.txt', 'user edit, unstaged\n');
    repo.write('staged.txt', 'user edit, staged\n');
    repo.git(['add', 'staged.txt']);
    repo.write('scratch.txt', 'an untracked user file\n');
    repo.write('main-moves.txt', 'main moved on\n');
    repo.git(['add', 'main-moves.txt']);
    repo.git(['commit', '--quiet', '-m', 'main moves on', '--', 'main-moves.txt']);
    const result = await worktrees.merge(task, 'merge', 'Task edits task.txt');
    assert.equal(result.state, 'merged');
    assert.equal(repo.read('task.txt'), 'from the task\n');
    assert.equal(repo.read('edited.txt'), 'user edit, unstaged\n');
    assert.equal(repo.read('staged.txt'), 'user edit, staged\n');
    assert.equal(repo.read('scratch.txt'), 'an untracked user file\n');
    assert.equal(repo.git(['diff', '--cached', '--name-only']), 'staged.txt\n', 'the user’s staged change is still staged');
    assert.equal(repo.git(['log', '-1', '--format=%P']).trim().split(' ').length, 2, 'a merge commit, since main moved');
    assert.equal(repo.git(['log', '-1', '--format=%B']).trim(), "Merge branch 'agent-tasks/dirty-b-001'\n\nTask edits task.txt");
  });
});

test('apply puts the changes into the main working tree as uncommitted (staged) changes and deletes the branch', async () => {
  const repo = repoWith({ 'a.txt': 'a\n', 'gone.txt': 'bye\n' });
  const head = repo.git(['rev-parse', 'HEAD']);
  const task = await worktrees.prepare({ taskId: 'apply-001', cwd: repo.root });
  repo.write('a.txt', 'a changed\n', task.path);
  repo.write('dir/new.txt', 'new\n', task.path);
  fs.rmSync(path.join(task.path, 'gone.txt'));
  const result = await worktrees.merge(task, 'apply', 'Apply me');
  assert.deepEqual(result, { state: 'applied', files: ['a.txt', 'dir/new.txt', 'gone.txt'] });
  assert.equal(repo.git(['rev-parse', 'HEAD']), head, 'no commit in main');
  assert.equal(repo.read('a.txt'), 'a changed\n');
  assert.equal(repo.read('dir/new.txt'), 'new\n');
  assert.equal(fs.existsSync(path.join(repo.root, 'gone.txt')), false);
  assert.equal(repo.git(['status', '--porcelain']), 'M  a.txt\nA  dir/new.txt\nD  gone.txt\n');
  assert.equal(repo.git(['branch', '--list', 'agent-tasks/*']), '');
  assert.equal(fs.existsSync(task.path), false);
});

test('a conflicting apply is reported and leaves main byte-identical', async () => {
  const repo = repoWith({ 'a.txt': 'a\n' });
  const task = await worktrees.prepare({ taskId: 'apply-002', cwd: repo.root });
  repo.write('a.txt', 'task\n', task.path);
  repo.write('a.txt', 'main\n');
  repo.commit('main edits a.txt');
  const before = fingerprint(repo);
  assert.deepEqual(await worktrees.merge(task, 'apply', 'Apply me'), { state: 'conflict', conflicts: ['a.txt'] });
  assert.deepEqual(fingerprint(repo), before);
});

test('a merge into a checkout in the middle of another merge is refused', async () => {
  const repo = repoWith({ 'a.txt': 'a\n' });
  const task = await worktrees.prepare({ taskId: 'busy-001', cwd: repo.root });
  repo.write('b.txt', 'b\n', task.path);
  fs.writeFileSync(path.join(repo.root, '.git', 'MERGE_HEAD'), `${repo.git(['rev-parse', 'HEAD'])}`);
  const result = await worktrees.merge(task, 'merge', 'Task');
  assert.equal(result.state, 'refused');
  assert.ok(result.state === 'refused' && result.reason === 'busy' && /middle of a merge/.test(result.message));
});

test('a merge interrupted at any moment leaves main exactly as before or fully merged, never half', async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 200; i++) files[`src/file-${i}.txt`] = `file ${i}\n`;
  const outcomes = new Set<string>();
  for (const delayMs of [0, 5, 15, 30, 60, 120, 250]) {
    const repo = repoWith(files);
    const task = await worktrees.prepare({ taskId: `interrupt-${delayMs}`, cwd: repo.root });
    for (let i = 0; i < 200; i += 2) repo.write(`src/file-${i}.txt`, `file ${i} changed by the task\n`, task.path);
    repo.write('main.txt', 'main moved\n');
    repo.commit('main moves, so the merge makes a merge commit');
    const before = fingerprint(repo);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), delayMs);
    const outcome = await worktrees.merge(task, 'merge', 'Interrupted?', controller.signal).then(
      (result) => result.state,
      (error: unknown) => (error instanceof GitError ? error.code : String(error)),
    );
    clearTimeout(timer);
    const afterwards = fingerprint(repo);
    const changedFiles = Object.keys(afterwards.files).filter((file) => afterwards.files[file] !== before.files[file]);
    if (outcome === 'merged') {
      assert.equal(changedFiles.length, 100, 'fully merged');
      assert.equal(repo.git(['status', '--porcelain']), '');
    } else {
      assert.equal(outcome, 'Aborted');
      assert.deepEqual(afterwards, before, `aborted after ${delayMs} ms: main untouched`);
    }
    assert.equal(fs.existsSync(path.join(repo.root, '.git', 'index.lock')), false);
    outcomes.add(outcome);
  }
  assert.ok(outcomes.has('Aborted'), 'some interruptions landed before main was written');
});
