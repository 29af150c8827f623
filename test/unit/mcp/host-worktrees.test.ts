// DESIGN §8 over MCP, end to end in plain Node: the SDK's Client runs the real server bundle over stdio, which reaches
// the real host server over its socket, over a TaskManager with real TaskWorktrees on a real git repository in a temp
// dir. A provider writes files in its task's worktree; get_task shows the summary, get_task_changes pages the diff,
// merge_task_changes refuses unless the user allowed it, and then merges or applies, or names the files it cannot.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TaskState } from '../../../src/core/task-state';
import { MAX_DIFF_PAGE_CHARS, MAX_WIRE_FILES, type WireWorktree } from '../../../src/mcp/protocol';
import { ProgrammableProvider, type Harness } from '../../support/core-harness';
import { fingerprint, hasConflictMarkers, type TestRepo } from '../../support/git-repo';
import type { TestClient } from '../../support/mcp-client';
import { startMcpWorktreeBed, type McpWorktreeBed } from '../../support/mcp-worktree-bed';
import { connectRaw, type TestHost } from '../../support/mcp-host';

/** Writes the files its prompt names (JSON: path → content) in the folder it runs in: the task's worktree. */
const writer = new ProgrammableProvider('writer', async (context, handle) => {
  const files = JSON.parse(context.task.prompt) as Record<string, string>;
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(context.task.cwd, file)), { recursive: true });
    fs.writeFileSync(path.join(context.task.cwd, file), content);
    handle.appendOutput({ kind: 'file', text: `Wrote ${file}` });
  }
  return { status: 'completed', result: `wrote ${Object.keys(files).length} file(s)` };
});

const numbered = (count: number, text = 'line'): string => Array.from({ length: count }, (_, i) => `${text} ${i + 1}\n`).join('');

let bed: McpWorktreeBed | undefined;
let repo: TestRepo;
let h: Harness;
let host: TestHost;
let client: TestClient;

before(async () => {
  bed = await startMcpWorktreeBed({ providers: [writer] });
  ({ repo, h, host, client } = bed);
});
after(() => bed?.stop());

/** Delegates a writer task over MCP and waits until it completed and its change summary is current. */
async function delegate(files: Record<string, string>, extra: Record<string, unknown> = {}): Promise<TaskState> {
  const spawned = await client.call('spawn_task', { prompt: JSON.stringify(files), provider: 'writer', ...extra });
  assert.equal(spawned.isError, false, spawned.text);
  const id = spawned.structured.taskId as string;
  await h.waitForStatus(id, 'completed', 15_000);
  if (h.task(id).worktree) {
    await h.manager.worktrees.settled(id);
    await h.until(() => h.task(id).worktree?.changes.files.length === Object.keys(files).length, `the change summary of ${id}`, 5_000);
  }
  return h.task(id);
}

describe('spawn_task isolation', () => {
  test('a task runs in its own worktree by default, in the folder itself with "none"; anything else is refused', async () => {
    const isolated = await delegate({ 'isolated.txt': 'in a worktree\n' });
    assert.equal(isolated.isolation, 'worktree');
    assert.equal(isolated.worktree?.branch, `agent-tasks/${isolated.id}`);
    assert.ok(fs.existsSync(path.join(isolated.worktree.path, 'isolated.txt')));
    assert.ok(!fs.existsSync(path.join(repo.root, 'isolated.txt')), 'the main checkout is untouched');

    const inPlace = await delegate({ 'in-place.txt': 'here\n' }, { isolation: 'none' });
    assert.equal(inPlace.isolation, 'none');
    assert.equal(inPlace.worktree, undefined);
    assert.equal(repo.read('in-place.txt'), 'here\n');
    fs.rmSync(path.join(repo.root, 'in-place.txt'));
    const noDiff = await client.call('get_task_changes', { taskId: inPlace.id });
    assert.equal(noDiff.isError, true);
    assert.match(noDiff.text, /did not run in a worktree of its own/);

    const invalid = await client.call('spawn_task', { prompt: '{}', provider: 'writer', isolation: 'container' });
    assert.equal(invalid.isError, true);
    assert.match(invalid.text, /Invalid arguments for spawn_task/);
    const raw = await connectRaw(host.socketPath, host.token);
    try {
      await assert.rejects(raw.request('spawn', { prompt: '{}', provider: 'writer', isolation: 'container' as never }), /isolation must be one of worktree, none/);
    } finally {
      raw.close();
    }
  });
});

describe('get_task', () => {
  test('returns the worktree and its change summary, as Markdown and as JSON', async () => {
    const task = await delegate({ 'notes.md': numbered(3, 'note'), 'src/app.ts': 'export const answer = 42;\n' });
    const got = await client.call('get_task', { taskId: task.id });
    assert.equal(got.isError, false, got.text);
    const worktree = got.structured.worktree as WireWorktree;
    assert.deepEqual(
      { path: worktree.path, branch: worktree.branch, baseCommit: worktree.baseCommit, state: worktree.state },
      { path: task.worktree?.path, branch: `agent-tasks/${task.id}`, baseCommit: repo.git(['rev-parse', 'HEAD']).trim(), state: 'active' },
    );
    assert.deepEqual(
      worktree.changes.files.map((file) => [file.path, file.status, file.insertions, file.deletions]).sort(),
      [['notes.md', 'added', 3, 0], ['src/app.ts', 'modified', 1, 1]],
    );
    assert.deepEqual([worktree.changes.fileCount, worktree.changes.insertions, worktree.changes.deletions], [2, 4, 1]);
    assert.match(got.text, /## Worktree/);
    assert.match(got.text, /\*\*Changes\*\*: \+4 −1 · 2 files/);
    assert.match(got.text, /- added `notes\.md` \(\+3 −0\)/);
    assert.match(got.text, new RegExp(`get_task_changes with taskId "${task.id}"`));
    const listed = await client.call('list_tasks', {});
    assert.ok(listed.text.includes(`${task.id} · completed · writer`) && listed.text.includes('+4 −1 · 2 files (active)'), listed.text);
  });

  test('with many changed files the summary lists the first ones and says how many there are', async () => {
    const files = Object.fromEntries(Array.from({ length: MAX_WIRE_FILES + 10 }, (_, i) => [`many/file-${String(i).padStart(2, '0')}.txt`, `${i}\n`]));
    const task = await delegate(files);
    const got = await client.call('get_task', { taskId: task.id });
    const worktree = got.structured.worktree as WireWorktree;
    assert.equal(worktree.changes.files.length, MAX_WIRE_FILES);
    assert.equal(worktree.changes.fileCount, MAX_WIRE_FILES + 10);
    assert.match(got.text, new RegExp(`… and 10 more files \\(${MAX_WIRE_FILES + 10} in all\\)`));
    assert.ok(got.text.length < 20_000, `get_task stays small: ${got.text.length} characters`);
  });
});

describe('get_task_changes', () => {
  test('pages the unified diff; each answer says where the next page starts; path limits it to one file', async () => {
    const task = await delegate({ 'long.txt': numbered(30), 'src/app.ts': 'export const answer = 43;\n' });
    const whole = await client.call('get_task_changes', { taskId: task.id });
    assert.equal(whole.isError, false, whole.text);
    const diff = whole.structured.diff as string;
    assert.match(diff, /^diff --git a\/long\.txt b\/long\.txt$/m);
    assert.match(diff, /^\+line 30$/m);
    assert.match(diff, /^-export const answer = 41;$/m);
    assert.equal(whole.structured.nextOffset, undefined);
    assert.match(whole.text, /this is the last page/);
    assert.match(whole.text, /```diff\n/);

    const pages: string[] = [];
    let offset: number | undefined = 0;
    while (offset !== undefined) {
      const page = await client.call('get_task_changes', { taskId: task.id, offset, limit: 10 });
      assert.equal(page.isError, false, page.text);
      assert.equal(page.structured.offset, offset);
      assert.equal(page.structured.totalLines, whole.structured.totalLines);
      const next = page.structured.nextOffset as number | undefined;
      if (next !== undefined) {
        assert.equal(next, offset + 10);
        assert.match(page.text, new RegExp(`Lines ${offset + 1}–${offset + 10} of \\d+; call get_task_changes again with offset ${next}`));
      }
      pages.push(page.structured.diff as string);
      offset = next;
    }
    assert.ok(pages.length >= 4, `${pages.length} pages`);
    assert.equal(pages.join(''), diff, 'the pages put together are the whole diff');

    const one = await client.call('get_task_changes', { taskId: task.id, path: 'src/app.ts' });
    assert.match(one.structured.diff as string, /^\+export const answer = 43;$/m);
    assert.doesNotMatch(one.structured.diff as string, /long\.txt/);
    const past = await client.call('get_task_changes', { taskId: task.id, offset: 10_000 });
    assert.match(past.text, /is past its end/);
    for (const [args, message] of [
      [{ path: '../outside.txt' }, /path must be a file path relative to the repository/],
      [{ path: '/etc/passwd' }, /path must be a file path relative to the repository/],
      [{ limit: 0 }, /Invalid arguments for get_task_changes/],
    ] as const) {
      const refused = await client.call('get_task_changes', { taskId: task.id, ...args });
      assert.equal(refused.isError, true);
      assert.match(refused.text, message);
    }
    const unknown = await client.call('get_task_changes', { taskId: 'no-such-task' });
    assert.match(unknown.text, /Unknown task no-such-task/);
  });

  test('a page is bounded in characters too: very long lines are cut and the page ends early', async () => {
    const task = await delegate({ 'wide.txt': Array.from({ length: 60 }, (_, i) => `${String(i).padStart(4, '0')}${'x'.repeat(5_000)}\n`).join('') });
    const page = await client.call('get_task_changes', { taskId: task.id, limit: 400 });
    const text = page.structured.diff as string;
    assert.ok(text.length <= MAX_DIFF_PAGE_CHARS, `${text.length} characters`);
    assert.match(text, /… \[3005 more characters not shown\]/);
    const next = page.structured.nextOffset as number;
    assert.ok(next > 0 && next < (page.structured.totalLines as number), `the next page starts at ${next}`);
    assert.match(page.text, new RegExp(`call get_task_changes again with offset ${next}`));
  });
});

describe('merge_task_changes', () => {
  test('refuses while agentTasks.mcp.allowAgentMerge is off and leaves everything as it was', async () => {
    const task = await delegate({ 'merged.txt': 'from the agent\n' });
    const before = fingerprint(repo);
    const refused = await client.call('merge_task_changes', { taskId: task.id });
    assert.equal(refused.isError, true);
    assert.match(refused.text, /Refused: .*agentTasks\.mcp\.allowAgentMerge/);
    assert.deepEqual(fingerprint(repo), before);
    assert.equal(h.task(task.id).worktree?.state, 'active');
  });

  test('with it on: merges a task the client delegated into the main checkout; never a task the user or another client started', async () => {
    host.allowAgentMerge = true;
    try {
      const task = await delegate({ 'merged.txt': 'from the agent\n' });
      const merged = await client.call('merge_task_changes', { taskId: task.id });
      assert.equal(merged.isError, false, merged.text);
      assert.equal(merged.structured.outcome, 'merged');
      assert.deepEqual(merged.structured.files, ['merged.txt']);
      assert.match(merged.text, new RegExp(`Merged task ${task.id}'s changes into the user's checkout`));
      assert.equal(repo.read('merged.txt'), 'from the agent\n');
      assert.equal(repo.git(['status', '--porcelain']).trim(), '', 'merged as a commit, nothing left uncommitted');
      assert.equal(h.task(task.id).worktree?.state, 'merged');
      assert.equal((merged.structured.worktree as WireWorktree).state, 'merged');
      assert.ok(h.texts(task.id).includes('[mcp] The delegating agent asked to merge the changes'));
      const again = await client.call('merge_task_changes', { taskId: task.id });
      assert.match(again.text, /were already merged/);

      // A task the user started, or another client's, does not exist for this client: no diff, no merge.
      const mine = await h.manager.createTask({ prompt: JSON.stringify({ 'mine.txt': 'mine\n' }), provider: 'writer' });
      await h.waitForStatus(mine.id, 'completed', 15_000);
      for (const tool of ['merge_task_changes', 'get_task_changes']) {
        const notMine = await client.call(tool, { taskId: mine.id });
        assert.equal(notMine.isError, true);
        assert.match(notMine.text, /Unknown task .*: an MCP client sees only the tasks it delegated/);
      }
      assert.equal(h.task(mine.id).worktree?.state, 'active');
      const theirs = await delegate({ 'theirs.txt': 'theirs\n' });
      const other = await connectRaw(host.socketPath, host.token);
      try {
        await assert.rejects(other.request('merge', { taskId: theirs.id }), /Unknown task .*sees only the tasks it delegated/);
        await assert.rejects(other.request('changes', { taskId: theirs.id }), /Unknown task .*sees only the tasks it delegated/);
      } finally {
        other.close();
      }
      assert.equal(h.task(theirs.id).worktree?.state, 'active');
    } finally {
      host.allowAgentMerge = false;
    }
  });

  test('with it on: applies as uncommitted changes; names the files on a dirty checkout or a conflict, changing nothing', async () => {
    host.allowAgentMerge = true;
    try {
      const applied = await delegate({ 'applied.txt': 'uncommitted\n' });
      const apply = await client.call('merge_task_changes', { taskId: applied.id, how: 'apply' });
      assert.equal(apply.structured.outcome, 'applied', apply.text);
      assert.equal(repo.read('applied.txt'), 'uncommitted\n');
      assert.match(repo.git(['status', '--porcelain']), /applied\.txt/);
      fs.rmSync(path.join(repo.root, 'applied.txt'));
      repo.git(['reset', '--quiet']);

      const edits = await delegate({ 'src/app.ts': 'export const answer = 44;\n' });
      repo.write('src/app.ts', 'export const answer = 0; // the user is editing\n');
      const dirtyBefore = fingerprint(repo);
      const dirty = await client.call('merge_task_changes', { taskId: edits.id });
      assert.equal(dirty.isError, true);
      assert.equal(dirty.structured.outcome, 'dirty');
      assert.deepEqual(dirty.structured.files, ['src/app.ts']);
      assert.match(dirty.text, /src\/app\.ts.*the user's own edits/);
      assert.deepEqual(fingerprint(repo), dirtyBefore, "the user's edit is intact");
      repo.git(['checkout', '--quiet', '--', 'src/app.ts']);

      repo.write('src/app.ts', 'export const answer = 45;\n');
      repo.commit('the user changed the same line');
      const conflictBefore = fingerprint(repo);
      const conflict = await client.call('merge_task_changes', { taskId: edits.id });
      assert.equal(conflict.isError, true);
      assert.equal(conflict.structured.outcome, 'conflict');
      assert.deepEqual(conflict.structured.files, ['src/app.ts']);
      assert.deepEqual(fingerprint(repo), conflictBefore, 'main is byte-identical');
      assert.ok(!hasConflictMarkers(repo.root));
      const got = await client.call('get_task', { taskId: edits.id });
      assert.deepEqual((got.structured.worktree as WireWorktree).conflicts, ['src/app.ts']);
      assert.match(got.text, /\*\*Conflicts\*\*: src\/app\.ts/);
    } finally {
      host.allowAgentMerge = false;
    }
  });
});
