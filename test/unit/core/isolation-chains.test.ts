/**
 * DESIGN §8 across a task's relatives and lifetimes, through the TaskManager with real git: stacked tasks, retries
 * and follow-ups, folders outside git, `isolation: 'none'`, restarts (a deleted worktree folder, a resumed run, a
 * host killed during prepare), a cancel during prepare, and a resolution that left conflict markers.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { WorktreeMergeError } from '../../../src/core/task-isolation';
import { makeTempDir, removeTempDirs } from '../../support/core-harness';
import { fingerprint, hasConflictMarkers } from '../../support/git-repo';
import { gitWrapper } from '../../support/git-wrapper';
import { removeBedRepos, worktreeBed, type WorktreeBed } from '../../support/worktree-bed';

after(() => {
  removeBedRepos();
  removeTempDirs();
});

function head(bed: WorktreeBed): string {
  return bed.repo.git(['rev-parse', 'HEAD']).trim();
}

function taskBranches(bed: WorktreeBed): string[] {
  return bed.repo.git(['branch', '--list', 'agent-tasks/*', '--format=%(refname:short)']).split('\n').filter(Boolean);
}

function registeredWorktrees(bed: WorktreeBed): string[] {
  return bed.repo.git(['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.startsWith('worktree ')).map((line) => line.slice('worktree '.length));
}

describe('stacked tasks, retries and follow-ups', () => {
  test('a task depending on one isolated completed task starts from that task’s branch, with its work', async () => {
    const bed = worktreeBed();
    const base = await bed.create('write: lib.txt|library\\n');
    const stacked = await bed.create('write: use.txt|uses the library\\n', { dependsOn: [base] });
    const dependent = await bed.finished(stacked);
    const dependency = bed.worktreeOf(base);
    const tip = bed.repo.git(['rev-parse', dependency.branch]).trim();
    assert.notEqual(tip, dependency.baseCommit, 'the dependency’s work was committed on its branch');
    assert.equal(dependent.worktree?.baseCommit, tip);
    assert.equal(bed.repo.read('lib.txt', dependent.worktree?.path), 'library\n');
    assert.ok(bed.harness.texts(stacked).some((text) => text.startsWith(`Stacked on ${base}`)));
    assert.deepEqual(dependent.worktree?.changes.files.map((file) => file.path), ['use.txt'], 'its own work only');
    await bed.harness.manager.worktrees.mergeChanges(stacked);
    assert.equal(bed.repo.read('lib.txt'), 'library\n');
    assert.equal(bed.repo.read('use.txt'), 'uses the library\n');
    await bed.dispose();
  });

  test('a retry gets a fresh worktree from the failed task’s base, even after main moved', async () => {
    const bed = worktreeBed();
    const failed = await bed.create('write: half.txt|half done\\n; fail: out of ideas');
    const original = (await bed.finished(failed, 'failed')).worktree;
    assert.ok(original);
    bed.repo.write('moved.txt', 'main moved on\n');
    bed.repo.commit('main moves');
    const retry = (await bed.harness.manager.retryTask(failed)).id;
    const again = (await bed.finished(retry, 'failed')).worktree;
    assert.ok(again);
    assert.notEqual(again.path, original.path);
    assert.equal(again.branch, `agent-tasks/${retry}`);
    assert.equal(again.baseCommit, original.baseCommit);
    assert.notEqual(again.baseCommit, head(bed));
    assert.equal(fs.existsSync(path.join(again.path, 'moved.txt')), false);
    assert.equal(bed.repo.read('half.txt', original.path), 'half done\n', 'the first attempt’s worktree is left alone');
    assert.ok(bed.harness.texts(retry).some((text) => text.startsWith(`Starting over from ${failed}'s base`)));
    await bed.dispose();
  });

  test('a follow-up continues in the same worktree; the parent hands its worktree over', async () => {
    const bed = worktreeBed();
    const parent = await bed.create('write: a.txt|a\\n');
    const worktree = (await bed.finished(parent)).worktree;
    assert.ok(worktree);
    const followUp = (await bed.harness.manager.sendFollowUp(parent, 'write: b.txt|b\\n')).id;
    const continued = await bed.finished(followUp);
    assert.deepEqual(bed.agent.cwdsOf(followUp), [worktree.cwd]);
    assert.equal(continued.worktree?.path, worktree.path);
    assert.equal(continued.worktree?.branch, worktree.branch);
    assert.deepEqual(continued.worktree?.changes.files.map((file) => file.path), ['a.txt', 'b.txt']);
    assert.equal(bed.harness.task(parent).worktree, undefined);
    assert.ok(bed.harness.texts(parent).includes(`Its worktree continues in the follow-up ${followUp}`));
    await bed.dispose();
  });

  test('a follow-up whose parent was merged works in a new worktree from HEAD, never in the main checkout', async () => {
    const bed = worktreeBed();
    const parent = await bed.create('write: a.txt|a\\n');
    await bed.finished(parent);
    await bed.harness.manager.worktrees.mergeChanges(parent);
    const before = fingerprint(bed.repo);
    const followUp = (await bed.harness.manager.sendFollowUp(parent, 'write: a.txt|a, then more\\n')).id;
    const continued = await bed.finished(followUp);
    assert.ok(continued.worktree);
    assert.equal(continued.worktree.baseCommit, head(bed));
    assert.deepEqual(bed.agent.cwdsOf(followUp), [continued.worktree.cwd]);
    assert.notEqual(continued.worktree.cwd, bed.repo.root);
    assert.deepEqual(fingerprint(bed.repo), before);
    assert.equal(bed.repo.read('a.txt', continued.worktree.path), 'a, then more\n');
    await bed.dispose();
  });
});

describe('where isolation does not apply', () => {
  test('a folder outside git runs in place and says so', async () => {
    const bed = worktreeBed();
    const plain = makeTempDir('atw-plain-');
    const id = await bed.create('write: here.txt|in place\\n', { cwd: plain });
    const task = await bed.finished(id);
    assert.deepEqual(bed.agent.cwdsOf(id), [plain]);
    assert.equal(fs.readFileSync(path.join(plain, 'here.txt'), 'utf8'), 'in place\n');
    assert.equal(task.worktree, undefined);
    assert.equal(task.isolation, 'none');
    assert.ok(bed.harness.entries(id).some((entry) => entry.kind === 'status' && /is not in a git repository, so the task runs in place/.test(entry.text)));
    await bed.dispose();
  });

  test('isolation "none" (the task’s input or the setting) runs in the main checkout itself', async () => {
    for (const setting of [undefined, 'none'] as const) {
      const bed = worktreeBed({ harness: { settings: { isolation: setting } } });
      const id = await bed.create('write: direct.txt|direct\\n', setting ? {} : { isolation: 'none' });
      const task = await bed.finished(id);
      assert.deepEqual(bed.agent.cwdsOf(id), [bed.repo.root]);
      assert.equal(bed.repo.read('direct.txt'), 'direct\n');
      assert.equal(task.worktree, undefined);
      assert.deepEqual(taskBranches(bed), []);
      await bed.dispose();
    }
  });
});

describe('restarts', () => {
  test('a worktree folder deleted by hand is pruned at activation with a [recovery] entry and still merges from its branch', async () => {
    let bed = worktreeBed();
    const id = await bed.create('write: feature.txt|feature\\n');
    const worktree = (await bed.finished(id)).worktree;
    assert.ok(worktree);
    bed.repo.commit('the agent committed its work', worktree.path);
    await bed.dispose();
    fs.rmSync(worktree.path, { recursive: true, force: true });
    bed = await bed.reload();
    await bed.harness.until(() => bed.harness.texts(id).some((text) => text.startsWith('[recovery] Its worktree folder')), 'the [recovery] entry');
    await bed.harness.manager.worktrees.settled(id);
    assert.equal(registeredWorktrees(bed).includes(worktree.path), false, 'git forgot it');
    assert.deepEqual(bed.worktreeOf(id).changes.files.map((file) => file.path), ['feature.txt']);
    assert.equal((await bed.harness.manager.worktrees.mergeChanges(id)).worktree?.state, 'merged');
    assert.equal(bed.repo.read('feature.txt'), 'feature\n');
    await bed.dispose();
  });

  test('a task running at a restart resumes in its worktree', async () => {
    let bed = worktreeBed();
    const id = await bed.create('write: before.txt|before\\n; wait: resumed');
    await bed.harness.until(() => bed.agent.runs.length === 1, 'the agent to start');
    const worktree = bed.worktreeOf(id);
    bed = await bed.reload();
    bed.agent.open('resumed');
    await bed.finished(id);
    assert.deepEqual(bed.agent.runs.map((run) => [run.mode, run.cwd]), [['resume', worktree.cwd]]);
    assert.deepEqual(bed.worktreeOf(id).changes.files.map((file) => file.path), ['before.txt']);
    assert.equal(fs.existsSync(path.join(bed.repo.root, 'before.txt')), false);
    await bed.dispose();
  });

  test('a host killed after the worktree was made but before it was saved resumes in that worktree', async () => {
    let bed = worktreeBed();
    const id = await bed.create('write: early.txt|early\\n; wait: resumed');
    await bed.harness.until(() => bed.agent.runs.length === 1, 'the agent to start');
    const worktree = bed.worktreeOf(id);
    // What state.json holds when the host dies inside the save's debounce: a running task without its worktree.
    bed.harness.store.update(id, { worktree: undefined });
    bed = await bed.reload();
    bed.agent.open('resumed');
    const task = await bed.finished(id);
    assert.equal(task.worktree?.path, worktree.path);
    assert.equal(task.worktree?.branch, worktree.branch);
    assert.equal(task.worktree?.baseCommit, worktree.baseCommit);
    assert.deepEqual(bed.agent.runs.map((run) => [run.mode, run.cwd]), [['resume', worktree.cwd]]);
    assert.deepEqual(task.worktree?.changes.files.map((file) => file.path), ['early.txt']);
    await bed.dispose();
  });
});

describe('cancel and conflicts', () => {
  test('a task cancelled while its worktree is being made leaves no worktree, branch or folder, and never starts', async () => {
    const wrapper = gitWrapper(makeTempDir('atw-wrap-'), ['worktree add'], 2);
    const bed = worktreeBed({ git: { gitPath: wrapper.path } });
    const before = fingerprint(bed.repo);
    const id = await bed.create('write: never.txt|never\\n');
    await bed.harness.until(() => wrapper.started().some((line) => line.startsWith('worktree add')), 'git worktree add to start', 10_000);
    await bed.harness.manager.cancelTask(id);
    const task = await bed.finished(id, 'cancelled');
    assert.deepEqual(bed.agent.runs, []);
    assert.equal(task.worktree, undefined);
    assert.deepEqual(taskBranches(bed), []);
    assert.deepEqual(registeredWorktrees(bed), [bed.repo.root]);
    assert.equal(fs.existsSync(`${bed.repo.root}.worktrees/${id}`), false);
    assert.deepEqual(fingerprint(bed.repo), before);
    await bed.dispose();
  });

  test('a resolution that left conflict markers is refused; main stays byte-identical, without markers', async () => {
    const bed = worktreeBed({ files: { 'app.txt': 'one\ntwo\nthree\n' } });
    const first = await bed.create('write: app.txt|one\\nfirst\\nthree\\n');
    const second = await bed.create('write: app.txt|one\\nsecond\\nthree\\n');
    await bed.finished(first);
    await bed.finished(second);
    await bed.harness.manager.worktrees.mergeChanges(first);
    await assert.rejects(bed.harness.manager.worktrees.mergeChanges(second), WorktreeMergeError);
    bed.agent.resolvesConflicts = false;
    const followUp = (await bed.harness.manager.worktrees.resolveWithAgent(second)).id;
    const lazy = await bed.finished(followUp);
    assert.ok(lazy.worktree && hasConflictMarkers(lazy.worktree.path), 'the agent left the markers');
    bed.repo.git(['add', 'app.txt'], lazy.worktree.path); // and even staged them
    const before = fingerprint(bed.repo);
    await assert.rejects(bed.harness.manager.worktrees.mergeChanges(followUp), (error: unknown) => {
      assert.ok(error instanceof WorktreeMergeError);
      assert.equal(error.reason, 'conflict');
      assert.deepEqual(error.files, ['app.txt']);
      return true;
    });
    assert.deepEqual(fingerprint(bed.repo), before);
    assert.equal(hasConflictMarkers(bed.repo.root), false);
    assert.equal(bed.worktreeOf(followUp).state, 'conflict');
    // Asked again, the agent resolves them, and the merge goes through.
    bed.agent.resolvesConflicts = true;
    const again = (await bed.harness.manager.worktrees.resolveWithAgent(followUp)).id;
    await bed.finished(again);
    assert.equal((await bed.harness.manager.worktrees.mergeChanges(again)).worktree?.state, 'merged');
    assert.equal(bed.repo.read('app.txt'), 'one\nsecond\nfirst\nthree\n');
    assert.equal(hasConflictMarkers(bed.repo.root), false);
    await bed.dispose();
  });
});
