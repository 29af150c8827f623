/**
 * DESIGN §8 through the TaskManager, with real git and an agent that writes files: tasks run in their own
 * worktrees, and merge, apply, discard and Clear Finished never touch the user's own work. Every check of "main
 * untouched" compares HEAD, the index bytes and every file's hash.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorktreeMergeError } from '../../../src/core/task-isolation';
import type { WorktreePort } from '../../../src/core/worktree-port';
import { TaskWorktrees } from '../../../src/worktrees/task-worktrees';
import { removeTempDirs } from '../../support/core-harness';
import { fingerprint, hasConflictMarkers, TEST_GIT_ENV } from '../../support/git-repo';
import { removeBedRepos, worktreeBed, type WorktreeBed } from '../../support/worktree-bed';

after(() => {
  removeBedRepos();
  removeTempDirs();
});

const APP = 'line 1\nline 2\nline 3\n';

function branchExists(bed: WorktreeBed, branch: string): boolean {
  return bed.repo.git(['branch', '--list', branch]).trim() !== '';
}

describe('two tasks writing the same file', () => {
  let bed: WorktreeBed;
  let first: string;
  let second: string;
  let untouched: ReturnType<typeof fingerprint>;

  before(async () => {
    bed = worktreeBed({ files: { 'app.txt': APP, 'other.txt': 'other\n' } });
    untouched = fingerprint(bed.repo);
    first = await bed.create('write: app.txt|line 1\\nfirst task\\nline 3\\n; wait: both');
    second = await bed.create('write: app.txt|line 1\\nsecond task\\nline 3\\n; wait: both');
  });
  after(() => bed.dispose());

  test('both run at once, each in its own worktree, and both complete; the main checkout is untouched', async () => {
    await bed.harness.until(() => bed.agent.runs.length === 2, 'both agents to start');
    assert.equal(bed.harness.status(first), 'running');
    assert.equal(bed.harness.status(second), 'running');
    bed.agent.open('both');
    const [a, b] = [await bed.finished(first), await bed.finished(second)];
    assert.ok(a.worktree && b.worktree);
    assert.notEqual(a.worktree.path, b.worktree.path);
    assert.equal(a.worktree.path, `${bed.repo.root}.worktrees/${first}`);
    assert.equal(a.worktree.branch, `agent-tasks/${first}`);
    assert.equal(a.worktree.baseCommit, bed.repo.git(['rev-parse', 'HEAD']).trim());
    assert.deepEqual(bed.agent.cwdsOf(first), [a.worktree.cwd]);
    assert.deepEqual(bed.agent.cwdsOf(second), [b.worktree.cwd]);
    assert.equal(bed.repo.read('app.txt', a.worktree.path), 'line 1\nfirst task\nline 3\n');
    assert.equal(bed.repo.read('app.txt', b.worktree.path), 'line 1\nsecond task\nline 3\n');
    assert.deepEqual(a.worktree.changes, { files: [{ path: 'app.txt', status: 'modified', insertions: 1, deletions: 1 }], insertions: 1, deletions: 1 });
    assert.deepEqual(fingerprint(bed.repo), untouched);
  });

  test('merging the first puts its change in the main checkout; its worktree goes, its branch stays until Clear Finished', async () => {
    const snapshot = await bed.harness.manager.worktrees.mergeChanges(first);
    assert.equal(snapshot.worktree?.state, 'merged');
    assert.equal(bed.repo.read('app.txt'), 'line 1\nfirst task\nline 3\n');
    assert.equal(bed.repo.git(['status', '--porcelain']), '');
    assert.equal(fs.existsSync(bed.worktreeOf(first).path), false);
    assert.ok(branchExists(bed, `agent-tasks/${first}`));
    assert.ok(bed.harness.texts(first).some((text) => text.startsWith('Merged into the main checkout')));
  });

  test('merging the second reports the conflict and leaves main byte-identical, without markers', async () => {
    const before = fingerprint(bed.repo);
    await assert.rejects(bed.harness.manager.worktrees.mergeChanges(second), (error: unknown) => {
      assert.ok(error instanceof WorktreeMergeError);
      assert.equal(error.reason, 'conflict');
      assert.deepEqual(error.files, ['app.txt']);
      assert.match(error.message, /conflicts with the main checkout in app\.txt/);
      return true;
    });
    assert.deepEqual(fingerprint(bed.repo), before);
    assert.equal(hasConflictMarkers(bed.repo.root), false);
    assert.equal(bed.worktreeOf(second).state, 'conflict');
    assert.deepEqual(bed.worktreeOf(second).conflicts, ['app.txt']);
    assert.ok(fs.existsSync(bed.worktreeOf(second).path), 'the worktree stays for the resolution');
  });

  test('Resolve with Agent: a follow-up in the same worktree fixes the markers, and then the merge succeeds', async () => {
    const worktree = bed.worktreeOf(second);
    const mainBefore = fingerprint(bed.repo);
    const followUp = await bed.harness.manager.worktrees.resolveWithAgent(second);
    assert.equal(followUp.parentId, second);
    const resolved = await bed.finished(followUp.id);
    assert.deepEqual(bed.agent.cwdsOf(followUp.id), [worktree.cwd], 'the agent resolved inside the task worktree');
    assert.equal(resolved.worktree?.path, worktree.path);
    assert.equal(resolved.worktree?.branch, worktree.branch);
    assert.equal(bed.harness.task(second).worktree, undefined, 'only the follow-up offers Merge now');
    assert.deepEqual(fingerprint(bed.repo), mainBefore, 'the resolution happened in the worktree only');
    const merged = await bed.harness.manager.worktrees.mergeChanges(followUp.id);
    assert.equal(merged.worktree?.state, 'merged');
    assert.equal(bed.repo.read('app.txt'), 'line 1\nsecond task\nfirst task\nline 3\n', 'both sides kept, the task’s first');
    assert.equal(hasConflictMarkers(bed.repo.root), false);
    assert.equal(bed.repo.git(['status', '--porcelain']), '');
    assert.equal(bed.repo.read('other.txt'), 'other\n');
  });
});

describe('a dirty main checkout', () => {
  test('a dirty file the merge would write → refused naming it; the user edit, the task and main stay as they were', async () => {
    const bed = worktreeBed({ files: { 'app.txt': APP, 'notes.txt': 'notes\n' } });
    const id = await bed.create('write: app.txt|task version\\n; write: new.txt|new\\n');
    await bed.finished(id);
    bed.repo.write('app.txt', 'my own unsaved work\n');
    const before = fingerprint(bed.repo);
    await assert.rejects(bed.harness.manager.worktrees.mergeChanges(id), (error: unknown) => {
      assert.ok(error instanceof WorktreeMergeError);
      assert.equal(error.reason, 'dirty');
      assert.deepEqual(error.files, ['app.txt']);
      assert.match(error.message, /app\.txt/);
      return true;
    });
    assert.deepEqual(fingerprint(bed.repo), before);
    assert.equal(bed.repo.read('app.txt'), 'my own unsaved work\n');
    assert.equal(fs.existsSync(path.join(bed.repo.root, 'new.txt')), false);
    assert.equal(bed.worktreeOf(id).state, 'active', 'the task can be merged once the user is ready');
    await bed.dispose();
  });

  test('dirty files the merge does not write → the merge succeeds and the user edits (staged and not) stay', async () => {
    const bed = worktreeBed({ files: { 'app.txt': APP, 'notes.txt': 'notes\n', 'staged.txt': 'staged\n' } });
    const id = await bed.create('write: app.txt|task version\\n');
    await bed.finished(id);
    bed.repo.write('notes.txt', 'my notes\n');
    bed.repo.write('staged.txt', 'my staged change\n');
    bed.repo.git(['add', 'staged.txt']);
    bed.repo.write('untracked.txt', 'mine\n');
    const snapshot = await bed.harness.manager.worktrees.mergeChanges(id);
    assert.equal(snapshot.worktree?.state, 'merged');
    assert.equal(bed.repo.read('app.txt'), 'task version\n');
    assert.equal(bed.repo.read('notes.txt'), 'my notes\n');
    assert.equal(bed.repo.read('staged.txt'), 'my staged change\n');
    assert.equal(bed.repo.read('untracked.txt'), 'mine\n');
    assert.equal(bed.repo.git(['status', '--porcelain']), ' M notes.txt\nM  staged.txt\n?? untracked.txt\n');
    await bed.dispose();
  });
});

describe('apply, discard and Clear Finished', () => {
  test('apply puts the work in the main working tree as uncommitted changes; HEAD stays; worktree and branch go', async () => {
    const bed = worktreeBed({ files: { 'app.txt': APP } });
    const id = await bed.create('write: app.txt|applied\\n; write: docs/new.md|# new\\n');
    await bed.finished(id);
    const head = bed.repo.git(['rev-parse', 'HEAD']);
    const snapshot = await bed.harness.manager.worktrees.mergeChanges(id, { how: 'apply' });
    assert.equal(snapshot.worktree?.state, 'applied');
    assert.equal(bed.repo.git(['rev-parse', 'HEAD']), head);
    assert.equal(bed.repo.read('app.txt'), 'applied\n');
    assert.equal(bed.repo.read('docs/new.md'), '# new\n');
    assert.equal(bed.repo.git(['status', '--porcelain']), 'M  app.txt\nA  docs/new.md\n');
    assert.equal(fs.existsSync(snapshot.worktree.path), false);
    assert.equal(branchExists(bed, `agent-tasks/${id}`), false);
    await bed.dispose();
  });

  test('discard removes the worktree and the branch, unmerged work included; main untouched', async () => {
    const bed = worktreeBed();
    const id = await bed.create('write: throwaway.txt|x\\n');
    const worktree = (await bed.finished(id)).worktree;
    assert.ok(worktree);
    const before = fingerprint(bed.repo);
    const snapshot = await bed.harness.manager.worktrees.discardChanges(id);
    assert.equal(snapshot.worktree?.state, 'discarded');
    assert.equal(fs.existsSync(worktree.path), false);
    assert.equal(branchExists(bed, worktree.branch), false);
    assert.deepEqual(fingerprint(bed.repo), before);
    await assert.rejects(bed.harness.manager.worktrees.mergeChanges(id), /already discarded/);
    await bed.dispose();
  });

  test('Clear Finished keeps unmerged work, removes a merged task (deleting its branch) and an empty worktree', async () => {
    const bed = worktreeBed();
    const unmerged = await bed.create('write: keep.txt|keep\\n');
    const merged = await bed.create('write: merged.txt|merged\\n');
    const empty = await bed.create('Nothing to change.');
    for (const id of [unmerged, merged, empty]) await bed.finished(id);
    await bed.harness.manager.worktrees.mergeChanges(merged);
    const [keep, gone] = [bed.worktreeOf(unmerged), bed.worktreeOf(empty)];
    assert.equal(await bed.harness.manager.clearFinished(), 2);
    assert.deepEqual(bed.harness.manager.listTasks().map((task) => task.id), [unmerged]);
    assert.equal(branchExists(bed, `agent-tasks/${merged}`), false, 'main contains it, so the branch went');
    assert.equal(branchExists(bed, gone.branch), false);
    assert.equal(fs.existsSync(gone.path), false);
    assert.equal(bed.repo.read('keep.txt', keep.path), 'keep\n');
    assert.ok(branchExists(bed, keep.branch));
    await bed.dispose();
  });

  test('Clear Finished keeps work added to a finished task’s worktree after its summary was taken', async () => {
    const bed = worktreeBed();
    const id = await bed.create('Nothing to change yet.');
    const worktree = (await bed.finished(id)).worktree;
    assert.ok(worktree);
    assert.deepEqual(worktree.changes.files, []);
    // The user (or a tool) edits the finished task's worktree; nothing tells the manager.
    bed.repo.write('later.txt', 'added by hand\n', worktree.path);
    assert.equal(await bed.harness.manager.clearFinished(), 0);
    assert.equal(bed.repo.read('later.txt', worktree.path), 'added by hand\n');
    assert.ok(branchExists(bed, worktree.branch));
    await bed.dispose();
  });
});

describe('while the task runs', () => {
  /** The worktrees port, counting change summaries. */
  function counting(): { port: WorktreePort; summaries: () => number } {
    const real = new TaskWorktrees({ env: TEST_GIT_ENV });
    let summaries = 0;
    const port = new Proxy(real, {
      get(target, property: keyof WorktreePort) {
        if (property === 'changes') return (...args: Parameters<WorktreePort['changes']>) => (summaries++, target.changes(...args));
        const value = target[property];
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return { port, summaries: () => summaries };
  }

  test('the live summary follows the agent’s file entries, without polling git in between', async () => {
    const { port, summaries } = counting();
    const bed = worktreeBed({ worktrees: port });
    const id = await bed.create('write: one.txt|1\\n; wait: idle; quiet: silent.txt|s\\n; wait: told; write: two.txt|2\\n2\\n; wait: end');
    const files = () => (bed.harness.task(id).worktree?.changes.files ?? []).map((file) => file.path);
    await bed.harness.until(() => files().includes('one.txt'), 'the summary to show one.txt');
    const idle = summaries();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal(summaries(), idle, 'no summary while nothing happens');
    bed.agent.open('idle');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(files(), ['one.txt'], 'an edit the manager was not told about waits for the next event');
    bed.agent.open('told');
    await bed.harness.until(() => files().includes('two.txt'), 'the summary to show two.txt', 3000);
    assert.equal(bed.harness.status(id), 'running');
    assert.deepEqual(files(), ['one.txt', 'silent.txt', 'two.txt']);
    assert.equal(bed.worktreeOf(id).changes.insertions, 4);
    bed.agent.open('end');
    await bed.finished(id);
    await bed.dispose();
  });

  test('a running task is refused merge, apply and discard; main untouched', async () => {
    const bed = worktreeBed();
    const id = await bed.create('write: busy.txt|busy\\n; wait: done');
    await bed.harness.until(() => bed.agent.runs.length === 1, 'the agent to start');
    const before = fingerprint(bed.repo);
    await assert.rejects(bed.harness.manager.worktrees.mergeChanges(id), /still running/);
    await assert.rejects(bed.harness.manager.worktrees.mergeChanges(id, { how: 'apply' }), /still running/);
    await assert.rejects(bed.harness.manager.worktrees.discardChanges(id), /still running/);
    assert.deepEqual(fingerprint(bed.repo), before);
    assert.equal(bed.worktreeOf(id).state, 'active');
    bed.agent.open('done');
    await bed.finished(id);
    assert.equal((await bed.harness.manager.worktrees.mergeChanges(id)).worktree?.state, 'merged');
    assert.equal(bed.repo.read('busy.txt'), 'busy\n');
    await bed.dispose();
  });
});
