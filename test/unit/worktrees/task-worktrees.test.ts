/**
 * DESIGN §8 placement and lifecycle with real git: where isolation applies, where worktrees go, chains (stacked,
 * follow-up, retry), change summaries, paged diffs, discard, forget and prune.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { type GitError } from '../../../src/git/git';
import { fallbackFolder } from '../../../src/worktrees/placement';
import { pageLines, TaskWorktrees } from '../../../src/worktrees/task-worktrees';
import { makeRepo, TEST_GIT_ENV, type TestRepo } from '../../support/git-repo';

const worktrees = new TaskWorktrees({ env: TEST_GIT_ENV });
const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((cleanup) => cleanup()));

function repoWith(files?: Record<string, string | Buffer>): TestRepo {
  const repo = makeRepo(files);
  cleanups.push(() => repo.remove());
  return repo;
}

describe('resolve: where isolation applies', () => {
  test('a folder outside any repository runs in place, with the reason', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-plain-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const check = await worktrees.resolve(dir);
    assert.equal(check.kind, 'in-place');
    assert.match(check.kind === 'in-place' ? check.reason : '', /is not in a git repository, so the task runs in place/);
  });

  test('a repository without commits runs in place, with the reason', async () => {
    const repo = repoWith({});
    const check = await worktrees.resolve(repo.root);
    assert.equal(check.kind, 'in-place');
    assert.match(check.kind === 'in-place' ? check.reason : '', /has no commits yet/);
    await assert.rejects(worktrees.prepare({ taskId: 'no-commits-001', cwd: repo.root }), (error: GitError) => error.code === 'NoCommits');
  });

  test('a subfolder of a repository resolves to its top level, HEAD and branch', async () => {
    const repo = repoWith({ 'pkg/a/index.ts': 'export {};\n' });
    const check = await worktrees.resolve(path.join(repo.root, 'pkg', 'a'));
    assert.deepEqual(check, { kind: 'repository', root: repo.root, head: repo.git(['rev-parse', 'HEAD']).trim(), branch: 'main' });
  });
});

describe('prepare', () => {
  test('a new worktree on agent-tasks/<taskId> from HEAD, the agent cwd at the same relative path', async () => {
    const repo = repoWith({ 'pkg/a/index.ts': 'export {};\n' });
    const prepared = await worktrees.prepare({ taskId: 'eager-lynx-101', cwd: path.join(repo.root, 'pkg', 'a') });
    assert.deepEqual(prepared, {
      path: `${repo.root}.worktrees/eager-lynx-101`,
      branch: 'agent-tasks/eager-lynx-101',
      baseCommit: repo.git(['rev-parse', 'HEAD']).trim(),
      repository: repo.root,
      cwd: `${repo.root}.worktrees/eager-lynx-101/pkg/a`,
    });
    assert.equal(repo.read('index.ts', prepared.cwd), 'export {};\n');
    assert.equal(repo.git(['rev-parse', '--abbrev-ref', 'HEAD'], prepared.path).trim(), 'agent-tasks/eager-lynx-101');
    await assert.rejects(worktrees.prepare({ taskId: 'eager-lynx-101', cwd: repo.root }), (error: GitError) => error.code === 'WorktreeExists');
    fs.rmSync(prepared.path, { recursive: true, force: true });
    await assert.rejects(worktrees.prepare({ taskId: 'eager-lynx-101', cwd: repo.root }), (error: GitError) => error.code === 'BranchExists' && /discard the old task/.test(error.message));
    assert.match(repo.git(['branch', '--list', 'agent-tasks/*']), /eager-lynx-101/, 'the existing branch is never deleted by a failed prepare');
  });

  test('eight prepares at once (attempts) each get their own worktree and branch; the repository stays sound (concurrent `worktree add`s race on .git/worktrees, so the queue runs them in turn)', async () => {
    const repo = repoWith({ 'a.txt': 'a\n', 'src/b.ts': 'export const b = 1;\n' });
    const ids = Array.from({ length: 8 }, (_, index) => `attempt-${index}`);
    const prepared = await Promise.all(ids.map((taskId) => worktrees.prepare({ taskId, cwd: repo.root })));
    const listed = repo.git(['worktree', 'list', '--porcelain']);
    for (const [index, worktree] of prepared.entries()) {
      assert.equal(worktree.branch, `agent-tasks/${ids[index]}`);
      assert.equal(repo.git(['rev-parse', '--abbrev-ref', 'HEAD'], worktree.path).trim(), worktree.branch);
      assert.equal(repo.git(['status', '--porcelain'], worktree.path), '', 'a clean checkout');
      assert.match(listed, new RegExp(`branch refs/heads/${worktree.branch}\\n`));
    }
    assert.equal(repo.git(['fsck', '--no-progress']).trim(), '');
    await Promise.all(prepared.map((worktree) => worktrees.discard(worktree)));
    assert.equal(repo.git(['branch', '--list', 'agent-tasks/*']).trim(), '');
  });

  test('a stacked task starts from its dependency’s branch head', async () => {
    const repo = repoWith({ 'a.txt': 'a\n' });
    const dependency = await worktrees.prepare({ taskId: 'dep-001', cwd: repo.root });
    repo.write('a.txt', 'dependency work\n', dependency.path);
    const dependencyTip = repo.commit('dependency done', dependency.path);
    const stacked = await worktrees.prepare({ taskId: 'stacked-002', cwd: repo.root, base: { branch: dependency.branch } });
    assert.equal(stacked.baseCommit, dependencyTip);
    assert.equal(repo.read('a.txt', stacked.path), 'dependency work\n');
    assert.deepEqual((await worktrees.changes(stacked)).files, [], 'the dependency’s work is its base, not its change');
  });

  test('a retry gets a fresh worktree from the same base', async () => {
    const repo = repoWith({ 'a.txt': 'a\n' });
    const failed = await worktrees.prepare({ taskId: 'try-001', cwd: repo.root });
    repo.write('a.txt', 'half-done\n', failed.path);
    repo.write('b.txt', 'main moved\n');
    repo.commit('main moves');
    const retry = await worktrees.prepare({ taskId: 'try-002', cwd: repo.root, base: { commit: failed.baseCommit } });
    assert.equal(retry.baseCommit, failed.baseCommit);
    assert.notEqual(retry.path, failed.path);
    assert.equal(repo.read('a.txt', retry.path), 'a\n');
    assert.equal(fs.existsSync(path.join(retry.path, 'b.txt')), false);
  });

  test('a follow-up reuses the worktree, and re-creates it from its branch when the folder was deleted', async () => {
    const repo = repoWith({ 'a.txt': 'a\n' });
    const original = await worktrees.prepare({ taskId: 'orig-001', cwd: repo.root });
    repo.write('a.txt', 'committed work\n', original.path);
    repo.commit('work', original.path);
    const followUp = await worktrees.prepare({ taskId: 'follow-002', cwd: repo.root, reuse: original });
    assert.deepEqual(followUp, original);
    fs.rmSync(original.path, { recursive: true, force: true });
    const revived = await worktrees.prepare({ taskId: 'follow-003', cwd: repo.root, reuse: original });
    assert.equal(revived.path, original.path);
    assert.equal(repo.read('a.txt', revived.path), 'committed work\n');
  });

  test('when <repo>.worktrees cannot be created, the worktree goes to the fallback folder', async () => {
    const repo = repoWith({ 'a.txt': 'a\n' });
    fs.writeFileSync(`${repo.root}.worktrees`, 'a file in the way');
    const fallbackDir = path.join(repo.dir, 'global-storage', 'worktrees');
    const prepared = await new TaskWorktrees({ env: TEST_GIT_ENV, fallbackDir }).prepare({ taskId: 'fallback-001', cwd: repo.root });
    assert.equal(prepared.path, fallbackFolder(fallbackDir, repo.root, 'fallback-001'));
    assert.ok(prepared.path.startsWith(fallbackDir));
    assert.equal(repo.read('a.txt', prepared.path), 'a\n');
    await assert.rejects(worktrees.prepare({ taskId: 'fallback-002', cwd: repo.root }), /not writable/);
  });

  test('a prepare cancelled by its signal leaves no worktree and no branch behind', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 500; i++) files[`f/${i}.txt`] = `${i}\n`;
    const repo = repoWith(files);
    const controller = new AbortController();
    const pending = worktrees.prepare({ taskId: 'cancelled-001', cwd: repo.root }, controller.signal);
    // Cancel while `git worktree add` is checking files out.
    const poll = setInterval(() => fs.existsSync(`${repo.root}.worktrees/cancelled-001`) && controller.abort(), 1);
    await assert.rejects(pending, (error: GitError) => error.code === 'Aborted');
    clearInterval(poll);
    assert.equal(fs.existsSync(`${repo.root}.worktrees/cancelled-001`), false);
    assert.equal(repo.git(['branch', '--list', 'agent-tasks/*']), '');
    assert.equal(repo.git(['worktree', 'list', '--porcelain']).match(/^worktree /gm)?.length, 1);
  });
});

describe('changes and diff', () => {
  test('the summary counts committed, uncommitted and untracked changes: added, modified, deleted, renamed, binary', async () => {
    const long = Array.from({ length: 20 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const repo = repoWith({ 'modified.txt': 'one\ntwo\n', 'deleted.txt': 'x\ny\nz\n', 'old-name.txt': long, 'image.bin': Buffer.from([0, 1, 2, 3]) });
    const task = await worktrees.prepare({ taskId: 'summary-001', cwd: repo.root });
    repo.write('modified.txt', 'one\n2\nthree\n', task.path);
    repo.commit('committed modification', task.path);
    repo.git(['mv', 'old-name.txt', 'new-name.txt'], task.path);
    fs.rmSync(path.join(task.path, 'deleted.txt'));
    repo.write('image.bin', Buffer.from([0, 9, 9, 9, 9]), task.path);
    repo.write('staged-new.txt', 'staged\n', task.path);
    repo.git(['add', 'staged-new.txt'], task.path);
    repo.write('docs/untracked.md', 'a\nb\nc\n', task.path);
    repo.write('node_modules/ignored.js', 'ignored\n', task.path);
    repo.write('.gitignore', 'node_modules/\n', task.path);
    const changes = await worktrees.changes(task);
    assert.deepEqual(
      changes.files.map((file) => [file.path, file.status, file.insertions, file.deletions, file.oldPath ?? '', file.binary ?? false]),
      [
        ['.gitignore', 'added', 1, 0, '', false],
        ['deleted.txt', 'deleted', 0, 3, '', false],
        ['docs/untracked.md', 'added', 3, 0, '', false],
        ['image.bin', 'modified', 0, 0, '', true],
        ['modified.txt', 'modified', 2, 1, '', false],
        ['new-name.txt', 'renamed', 0, 0, 'old-name.txt', false],
        ['staged-new.txt', 'added', 1, 0, '', false],
      ],
    );
    assert.equal(changes.insertions, 7);
    assert.equal(changes.deletions, 4);
    assert.equal(repo.git(['status', '--porcelain'], task.path).includes('docs/'), true, 'untracked files stay untracked');
  });

  test('the summary survives the folder being gone (the branch’s committed work)', async () => {
    const repo = repoWith({ 'a.txt': 'a\n' });
    const task = await worktrees.prepare({ taskId: 'gone-001', cwd: repo.root });
    repo.write('a.txt', 'a\nb\n', task.path);
    repo.commit('work', task.path);
    fs.rmSync(task.path, { recursive: true, force: true });
    assert.deepEqual((await worktrees.changes(task)).files, [{ path: 'a.txt', status: 'modified', insertions: 1, deletions: 0 }]);
  });

  test('the diff is the unified diff against the base, untracked files included, paged by lines', async () => {
    const repo = repoWith({ 'a.txt': 'a\n' });
    const task = await worktrees.prepare({ taskId: 'diff-001', cwd: repo.root });
    repo.write('a.txt', 'a\nb\n', task.path);
    repo.write('new.txt', Array.from({ length: 30 }, (_, i) => `n${i}`).join('\n') + '\n', task.path);
    const whole = await worktrees.diff(task, { limit: 10_000 });
    assert.match(whole.text, /^diff --git a\/a\.txt b\/a\.txt$/m);
    assert.match(whole.text, /^\+\+\+ b\/new\.txt$/m);
    assert.equal(whole.nextOffset, undefined);
    const pages: string[] = [];
    for (let offset: number | undefined = 0; offset !== undefined; ) {
      const page = await worktrees.diff(task, { offset, limit: 7 });
      assert.equal(page.totalLines, whole.totalLines);
      pages.push(page.text);
      offset = page.nextOffset;
    }
    assert.equal(pages.length, Math.ceil(whole.totalLines / 7));
    assert.equal(pages.join(''), whole.text);
    const one = await worktrees.diff(task, { path: 'a.txt' });
    assert.match(one.text, /^\+b$/m);
    assert.doesNotMatch(one.text, /new\.txt/);
  });

  test('pageLines', () => {
    assert.deepEqual(pageLines('', 0, 5), { text: '', offset: 0, totalLines: 0 });
    assert.deepEqual(pageLines('1\n2\n3\n', 1, 1), { text: '2\n', offset: 1, totalLines: 3, nextOffset: 2 });
    assert.deepEqual(pageLines('1\n2\n3\n', 2, 5), { text: '3\n', offset: 2, totalLines: 3 });
  });
});

describe('discard, forget and prune', () => {
  test('discard removes the worktree and its branch, unmerged work included; main untouched', async () => {
    const repo = repoWith({ 'a.txt': 'a\n' });
    const task = await worktrees.prepare({ taskId: 'discard-001', cwd: repo.root });
    repo.write('a.txt', 'committed\n', task.path);
    repo.commit('work', task.path);
    repo.write('scratch.txt', 'untracked\n', task.path);
    await worktrees.discard(task);
    assert.equal(fs.existsSync(task.path), false);
    assert.equal(repo.git(['branch', '--list', 'agent-tasks/*']), '');
    assert.equal(repo.read('a.txt'), 'a\n');
    await worktrees.discard(task); // again: nothing left to do
  });

  test('forget deletes a merged task’s branch but keeps unmerged work', async () => {
    const repo = repoWith({ 'a.txt': 'a\n' });
    const merged = await worktrees.prepare({ taskId: 'forget-001', cwd: repo.root });
    const unmerged = await worktrees.prepare({ taskId: 'forget-002', cwd: repo.root });
    repo.write('m.txt', 'merged\n', merged.path);
    repo.write('u.txt', 'unmerged\n', unmerged.path);
    assert.equal((await worktrees.merge(merged, 'merge', 'merged task')).state, 'merged');
    repo.commit('unmerged work', unmerged.path);
    assert.equal(await worktrees.forget(merged), true);
    assert.equal(await worktrees.forget(unmerged), false);
    assert.equal(repo.git(['branch', '--list', 'agent-tasks/*']).trim(), '+ agent-tasks/forget-002', 'listed with + as it is checked out in its worktree');
  });

  test('a folder that stopped being a worktree is never mistaken for an enclosing repository', async () => {
    const repo = repoWith({ 'a.txt': 'a\n' });
    const task = await worktrees.prepare({ taskId: 'broken-001', cwd: repo.root });
    repo.git(['init', '--quiet', '--initial-branch=outer'], repo.dir);
    repo.write('outer.txt', 'the folder around it is a repository too\n', repo.dir);
    repo.git(['add', 'outer.txt'], repo.dir);
    repo.git(['commit', '--quiet', '-m', 'outer'], repo.dir);
    fs.rmSync(path.join(task.path, '.git'));
    repo.write('work.txt', 'agent work\n', task.path);
    await assert.rejects(worktrees.merge(task, 'merge', 'must not commit in the outer repository'), (error: GitError) => error.code === 'NotARepository');
    assert.equal(repo.git(['rev-list', '--count', 'HEAD'], repo.dir).trim(), '1');
    await assert.rejects(worktrees.changes(task), (error: GitError) => error.code === 'NotARepository');
  });

  test('prune reports worktrees whose folder was deleted by hand and forgets them in git', async () => {
    const repo = repoWith({ 'a.txt': 'a\n' });
    const kept = await worktrees.prepare({ taskId: 'prune-001', cwd: repo.root });
    const deleted = await worktrees.prepare({ taskId: 'prune-002', cwd: repo.root });
    const orphan = await worktrees.prepare({ taskId: 'prune-003', cwd: repo.root });
    fs.rmSync(deleted.path, { recursive: true, force: true });
    const report = await worktrees.prune([kept, deleted]);
    assert.deepEqual(report, { missing: [deleted], orphaned: [orphan.path] });
    const listed = repo.git(['worktree', 'list', '--porcelain']);
    assert.doesNotMatch(listed, /prune-002/);
    assert.match(listed, /prune-001/);
    assert.match(repo.git(['branch', '--list', 'agent-tasks/prune-002']), /prune-002/, 'its branch (and committed work) is kept');
  });
});
