/** Repository: the typed operations against real repositories in temp dirs. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { type GitError } from '../../../src/git/git';
import { Repository } from '../../../src/git/repository';
import { makeRepo, TEST_GIT_ENV, type TestRepo } from '../../support/git-repo';

const repos: TestRepo[] = [];
after(() => repos.forEach((repo) => repo.remove()));

function repoWith(files?: Record<string, string>): TestRepo {
  const repo = makeRepo(files);
  repos.push(repo);
  return repo;
}

const options = { env: TEST_GIT_ENV };

test('open: top level, the common git dir shared by worktrees, HEAD and branch', async () => {
  const repo = repoWith({ 'sub/a.txt': 'a\n' });
  const main = await Repository.open(path.join(repo.root, 'sub'), options);
  assert.equal(main.root, repo.root);
  assert.equal(main.commonDir, path.join(repo.root, '.git'));
  assert.equal(await main.headCommit(), repo.git(['rev-parse', 'HEAD']).trim());
  assert.equal(await main.currentBranch(), 'main');
  assert.equal(await main.hasCommits(), true);
  const folder = `${repo.root}.worktrees/one`;
  await main.worktreeAdd(folder, 'agent-tasks/one', 'HEAD');
  const linked = await Repository.open(folder, options);
  assert.equal(linked.commonDir, main.commonDir);
  assert.notEqual(linked.gitDir, main.gitDir);
  assert.equal(await linked.currentBranch(), 'agent-tasks/one');
  await assert.rejects(main.worktreeAdd(folder, 'agent-tasks/two', 'HEAD'), (error: GitError) => error.code === 'WorktreeExists');
  await assert.rejects(main.worktreeAdd(`${folder}-2`, 'agent-tasks/one', 'HEAD'), (error: GitError) => error.code === 'BranchExists');
  assert.deepEqual((await main.worktreeList()).map((entry) => [entry.path, entry.branch]), [[repo.root, 'refs/heads/main'], [folder, 'refs/heads/agent-tasks/one']]);
  await main.worktreeRemove(folder);
  await main.branchDelete('agent-tasks/one');
  assert.equal(await main.branchExists('agent-tasks/one'), false);
  const empty = repoWith({});
  assert.equal(await (await Repository.open(empty.root, options)).headCommit(), undefined);
});

test('changesAgainst: an untracked file that is also in the base counts as modified, not deleted', async () => {
  const repo = repoWith({ 'a.txt': 'one\ntwo\n' });
  const base = repo.git(['rev-parse', 'HEAD']).trim();
  repo.git(['rm', '--cached', '--quiet', 'a.txt']);
  repo.write('a.txt', 'one\ntwo\nthree\n');
  const checkout = await Repository.open(repo.root, options);
  assert.deepEqual(await checkout.changesAgainst(base), [{ path: 'a.txt', status: 'modified', insertions: 1, deletions: 0, binary: false }]);
  assert.equal(fs.existsSync(path.join(repo.root, '.git', 'index.lock')), false);
});

test('changesAgainst and dirtyPaths never take the index lock (GIT_OPTIONAL_LOCKS=0)', async () => {
  const repo = repoWith({ 'a.txt': 'a\n' });
  repo.write('a.txt', 'changed\n');
  const checkout = await Repository.open(repo.root, options);
  const lock = path.join(repo.root, '.git', 'index.lock');
  fs.writeFileSync(lock, '');
  try {
    assert.deepEqual((await checkout.changesAgainst('HEAD')).map((change) => change.path), ['a.txt']);
    assert.deepEqual(await checkout.dirtyPaths(), ['a.txt']);
  } finally {
    fs.rmSync(lock);
  }
});

test('dirtyPaths: staged, unstaged, both sides of a staged rename and untracked; not ignored files', async () => {
  const repo = repoWith({ 'staged.txt': 's\n', 'unstaged.txt': 'u\n', 'old.txt': 'moving content\n', '.gitignore': '*.log\n' });
  repo.write('staged.txt', 's2\n');
  repo.git(['add', 'staged.txt']);
  repo.write('unstaged.txt', 'u2\n');
  repo.git(['mv', 'old.txt', 'new.txt']);
  repo.write('dir/untracked.txt', 'x\n');
  repo.write('debug.log', 'ignored\n');
  const checkout = await Repository.open(repo.root, options);
  assert.deepEqual((await checkout.dirtyPaths()).sort(), ['dir/untracked.txt', 'new.txt', 'old.txt', 'staged.txt', 'unstaged.txt']);
});

test('mergeTree finds conflicts in memory; changedPaths lists what a merge writes', async () => {
  const repo = repoWith({ 'f.txt': 'base\n', 'g.txt': 'g\n' });
  repo.git(['branch', 'side']);
  repo.write('f.txt', 'main\n');
  const ours = repo.commit('main edit');
  repo.git(['checkout', '--quiet', 'side']);
  repo.write('f.txt', 'side\n');
  repo.write('h.txt', 'h\n');
  const theirs = repo.commit('side edit');
  repo.git(['checkout', '--quiet', 'main']);
  const checkout = await Repository.open(repo.root, options);
  const conflicted = await checkout.mergeTree(ours, theirs);
  assert.equal(conflicted.clean, false);
  assert.deepEqual(conflicted.conflicts, ['f.txt']);
  repo.git(['checkout', '--quiet', 'side']);
  repo.write('f.txt', 'main\n');
  const resolved = repo.commit('side takes main');
  repo.git(['checkout', '--quiet', 'main']);
  const clean = await checkout.mergeTree(ours, resolved);
  assert.equal(clean.clean, true);
  assert.deepEqual(await checkout.changedPaths(ours, clean.tree), ['h.txt']);
  assert.equal(repo.git(['status', '--porcelain']), '');
});

test('commitAll commits everything (untracked included) and returns undefined when there is nothing', async () => {
  const repo = repoWith({ 'a.txt': 'a\n' });
  const checkout = await Repository.open(repo.root, options);
  assert.equal(await checkout.commitAll('nothing'), undefined);
  repo.write('a.txt', 'b\n');
  repo.write('new.txt', 'n\n');
  const commit = await checkout.commitAll('Task: both files\n\nwith a body');
  assert.equal(commit, repo.git(['rev-parse', 'HEAD']).trim());
  assert.equal(repo.git(['log', '-1', '--format=%B']).trim(), 'Task: both files\n\nwith a body');
  assert.equal(repo.git(['status', '--porcelain']), '');
});

test('commits in two worktrees of one repository at once are serialized by its queue, and both land', async () => {
  const repo = repoWith({ 'a.txt': 'a\n' });
  const main = await Repository.open(repo.root, options);
  const folders = [`${repo.root}.worktrees/x`, `${repo.root}.worktrees/y`];
  await Promise.all(folders.map((folder, i) => main.worktreeAdd(folder, `agent-tasks/${i}`, 'HEAD')));
  const checkouts = await Promise.all(folders.map((folder) => Repository.open(folder, options)));
  folders.forEach((folder, i) => repo.write(`file-${i}.txt`, `${i}\n`, folder));
  const commits = await Promise.all(checkouts.map((checkout, i) => checkout.commitAll(`commit ${i}`)));
  assert.equal(new Set(commits).size, 2);
  for (const [i, folder] of folders.entries()) assert.equal(repo.git(['log', '-1', '--format=%s'], folder).trim(), `commit ${i}`);
});

test('merge --ff-only refuses without writing anything when it cannot fast-forward', async () => {
  const repo = repoWith({ 'a.txt': 'a\n' });
  repo.git(['branch', 'side']);
  repo.write('b.txt', 'b\n');
  repo.commit('main moves');
  repo.git(['checkout', '--quiet', 'side']);
  repo.write('c.txt', 'c\n');
  const side = repo.commit('side moves');
  repo.git(['checkout', '--quiet', 'main']);
  const checkout = await Repository.open(repo.root, options);
  const head = await checkout.headCommit();
  await assert.rejects(checkout.merge(side, { fastForwardOnly: true }), (error: GitError) => error.code === 'NotFastForward');
  assert.equal(await checkout.headCommit(), head);
  assert.equal(checkout.inProgress(), undefined);
});

test('applyPatch with --3way merges blobs when the patch does not apply as is; --check writes nothing', async () => {
  const lines = Array.from({ length: 12 }, (_, i) => `line ${i}`);
  const repo = repoWith({ 'f.txt': `${lines.join('\n')}\n` });
  const base = repo.git(['rev-parse', 'HEAD']).trim();
  repo.write('f.txt', `${lines.map((line, i) => (i === 10 ? 'task edit' : line)).join('\n')}\n`);
  const tip = repo.commit('edit near the end');
  repo.git(['reset', '--quiet', '--hard', base]);
  repo.write('f.txt', `${lines.map((line, i) => (i === 1 ? 'main edit' : i === 8 ? 'main edit too' : line)).join('\n')}\n`);
  repo.commit('main edits near the same place');
  const checkout = await Repository.open(repo.root, options);
  const patch = await checkout.patch(base, tip);
  await assert.rejects(checkout.applyPatch(patch, { index: true, check: true }), (error: GitError) => error.code === 'PatchFailed');
  assert.equal(repo.git(['status', '--porcelain']), '');
  await checkout.applyPatch(patch, { threeWay: true });
  assert.match(repo.read('f.txt'), /main edit\n[\s\S]*main edit too\nline 9\ntask edit\n/);
});
