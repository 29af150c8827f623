// DESIGN §8 in the real extension host: tasks run in git worktrees of a repository made in a temp folder; the tree shows
// their change summary, Review Changes opens VS Code's multi-file diff editor with every file, Merge puts the work in
// the main checkout, a conflict leaves the main checkout byte-identical, Discard removes the worktree and its branch.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TaskSnapshot } from '../../src/core/task-state';
import { fingerprint, makeRepo, type TestRepo } from '../support/git-repo';
import { type AgentTasksApi, StatusRecorder, agentTasks, atLeast, cancelUnfinished, eventually } from './support/agent-tasks';

interface WorktreeHooks {
  treeItem(taskId: string): { label: string; description: string; tooltip: string; ariaLabel: string; contextValue: string } | undefined;
  reviewEntries(taskId: string): { resource: string; original?: string; modified?: string }[];
  watchedWorktrees(): Record<string, string>;
}
type WorktreeApi = AgentTasksApi & {
  mergeChanges(id: string, options: { how: 'merge' | 'apply' }): Promise<TaskSnapshot>;
  discardChanges(id: string): Promise<TaskSnapshot>;
  readonly __test: WorktreeHooks;
};

/** Since when the Git extension's openRepository opens a repository outside the workspace folders (the hosts tested: 1.100 does not, 1.139 does). */
const GIT_API_OPENS_OUTSIDE_SINCE = [1, 139];
const BASE = { 'README.md': '# demo\n', 'src/a.txt': 'one\ntwo\nthree\n', 'old.txt': 'to be deleted\n' };

suite('Worktrees', () => {
  let api: WorktreeApi;
  let recorder: StatusRecorder;
  let repo: TestRepo;

  suiteSetup(async () => {
    api = (await agentTasks()) as WorktreeApi;
    recorder = new StatusRecorder(api);
    repo = makeRepo(BASE, 'atw-int-wt-');
    // The merge commits in the extension host, whose git has no identity of its own here.
    repo.git(['config', 'user.name', 'Integration Test']);
    repo.git(['config', 'user.email', 'integration@example.invalid']);
  });
  suiteTeardown(async () => {
    recorder?.dispose();
    if (api) await cancelUnfinished(api);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    repo?.remove();
  });

  /** A scripted task in the repository's worktree that adds `file` (approved here); resolves once it completed. */
  const taskAdding = async (file: string, content: string): Promise<TaskSnapshot> => {
    const task = await recorder.create({ prompt: `ask-file: ${file}|${content}\ndone: ok`, provider: 'scripted', cwd: repo.root, isolation: 'worktree' });
    const asking = await recorder.waitForStatus(task.id, 'waiting_answer');
    await api.answer(task.id, asking.pendingQuestions[0].requestId, { decision: 'approve' });
    return recorder.waitForStatus(task.id, 'completed');
  };
  /** A task's row, its tooltip as plain text (the Markdown escapes and non-breaking spaces of appendText removed). */
  const row = (id: string) => {
    const item = api.__test.treeItem(id)!;
    return { ...item, tooltip: item.tooltip.replace(/&nbsp;/g, ' ').replace(/\\(.)/g, '$1') };
  };
  const changedFiles = (id: string) => (api.getTask(id)?.worktree?.changes.files ?? []).map((file) => `${file.status} ${file.path}`).sort();

  let first: TaskSnapshot;

  test('a task works in its own worktree; edits there (agent or not) show in the tree as +ins −del · N files', async () => {
    first = await taskAdding('new.txt', 'hello');
    const worktree = first.worktree!;
    assert.equal(worktree.state, 'active');
    assert.equal(worktree.branch, `agent-tasks/${first.id}`);
    assert.equal(worktree.path, path.join(repo.dir, 'repo.worktrees', first.id));
    assert.equal(fs.readFileSync(path.join(worktree.path, 'new.txt'), 'utf8'), 'hello', 'the agent wrote in the worktree');
    assert.ok(!fs.existsSync(path.join(repo.root, 'new.txt')), 'the main checkout is untouched');
    assert.equal(api.__test.watchedWorktrees()[first.id], worktree.path, 'the live worktree is watched');

    // Edits in the worktree after the agent finished: the file watcher recomputes the summary.
    fs.writeFileSync(path.join(worktree.path, 'src/a.txt'), 'one\nTWO\nthree\nfour\n');
    fs.rmSync(path.join(worktree.path, 'old.txt'));
    await eventually(() => changedFiles(first.id), (files) => files.length === 3, 'the summary follows the edits', 15_000);
    assert.deepEqual(changedFiles(first.id), ['added new.txt', 'deleted old.txt', 'modified src/a.txt']);

    const shown = await eventually(() => row(first.id), (r) => /· \+\d+ −\d+ · 3 files ·/.test(r.description), 'the row shows the summary');
    const changes = api.getTask(first.id)!.worktree!.changes;
    assert.match(shown.description, new RegExp(`^done in \\d+s · \\+${changes.insertions} −${changes.deletions} · 3 files · scripted$`));
    for (const token of ['liveWorktree', 'liveChanges', 'mergeable', 'discardable']) assert.match(shown.contextValue, new RegExp(`\\b${token}\\b`));
    assert.doesNotMatch(shown.contextValue, /\bconflict\b/);
    const tooltip = shown.tooltip;
    assert.ok(tooltip.includes(`Worktree: ${worktree.path} (branch agent-tasks/${first.id})`), tooltip);
    for (const line of ['A new.txt +1 −0', 'D old.txt +0 −1', 'M src/a.txt']) assert.ok(tooltip.includes(line), `the tooltip lists ${line}`);
  });

  test('Review Changes opens the multi-file diff editor with every changed file, base ↔ worktree', async () => {
    await vscode.commands.executeCommand('agentTasks.reviewChanges', first.id);
    const tab = await eventually(
      () => vscode.window.tabGroups.all.flatMap((group) => group.tabs).find((t) => t.label.startsWith('Changes of ')),
      (t) => t !== undefined,
      'the multi-file diff editor tab',
    );
    // VS Code 1.139 adds the file count to the title; 1.100 does not.
    assert.ok([`Changes of ${row(first.id).label}`, `Changes of ${row(first.id).label} (3 files)`].includes(tab!.label), tab!.label);
    const worktree = api.getTask(first.id)!.worktree!;
    const entries = api.__test.reviewEntries(first.id);
    const byFile = new Map(entries.map((entry) => [path.relative(worktree.path, vscode.Uri.parse(entry.resource).fsPath), entry]));
    assert.deepEqual([...byFile.keys()].sort(), ['new.txt', 'old.txt', 'src/a.txt'], 'every changed file, added and deleted ones included');
    const text = async (uri: string) => (await vscode.workspace.openTextDocument(vscode.Uri.parse(uri))).getText();
    // Modified: the base commit's file on the left, the worktree's file on the right.
    const modified = byFile.get('src/a.txt')!;
    assert.equal(await text(modified.original!), BASE['src/a.txt']);
    assert.equal(vscode.Uri.parse(modified.modified!).fsPath, path.join(worktree.path, 'src/a.txt'));
    // Added: no left side (VS Code marks it A); deleted: the base's file on the left and no right side (D).
    assert.equal(byFile.get('new.txt')!.original, undefined);
    assert.equal(vscode.Uri.parse(byFile.get('new.txt')!.modified!).fsPath, path.join(worktree.path, 'new.txt'));
    assert.equal(await text(byFile.get('old.txt')!.original!), BASE['old.txt']);
    assert.equal(byFile.get('old.txt')!.modified, undefined);
    // The tab API lists the two-sided rows of a multi-file diff editor (the e2e test sees every row in the UI).
    const diffs = (tab!.input as { textDiffs?: { original?: vscode.Uri; modified?: vscode.Uri }[] }).textDiffs;
    assert.ok(Array.isArray(diffs), `a multi-file diff editor (input ${JSON.stringify(tab!.input)})`);
    assert.deepEqual(diffs.map((diff) => `${diff.original?.toString()} ↔ ${diff.modified?.toString()}`), [`${modified.original} ↔ ${modified.modified}`]);
    // The worktree lies outside the workspace folder: Review opened it in Source Control, so the Git extension has no
    // "repositories in parent folders" to ask about when its files show. The Git API of VS Code 1.100 leaves such a
    // repository to that prompt (its openRepository does not open outside the workspace); 1.139's opens it.
    const opened = (await gitRepositories()).includes(worktree.path);
    if (atLeast(vscode.version, GIT_API_OPENS_OUTSIDE_SINCE)) assert.ok(opened, 'the worktree is a repository in Source Control');
    else assert.equal(opened, false, `VS Code ${vscode.version}: the Git API does not open a repository outside the workspace`);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('Merge Changes puts the work in the main checkout and the task shows merged', async () => {
    const merged = (await vscode.commands.executeCommand('agentTasks.mergeChanges', first.id)) as TaskSnapshot | undefined;
    assert.equal(merged?.worktree?.state, 'merged', 'the command resolves with the merged task');
    assert.equal(repo.read('new.txt'), 'hello');
    assert.equal(repo.read('src/a.txt'), 'one\nTWO\nthree\nfour\n');
    assert.ok(!fs.existsSync(path.join(repo.root, 'old.txt')), 'the deletion was merged');
    assert.equal(repo.git(['status', '--porcelain']).trim(), '', 'merged as a commit, nothing left uncommitted');
    assert.equal(api.getTask(first.id)?.worktree?.state, 'merged');
    const shown = await eventually(() => row(first.id), (r) => !/files ·/.test(r.description), 'the row without a summary');
    assert.match(shown.description, /^done in \d+s · scripted$/);
    assert.doesNotMatch(shown.contextValue, /\b(liveWorktree|liveChanges|mergeable)\b/);
    assert.match(shown.tooltip, /Changes merged into the main checkout/);
    await eventually(() => api.__test.watchedWorktrees()[first.id], (folder) => folder === undefined, 'the watcher is gone');
    const worktree = api.getTask(first.id)!.worktree!.path;
    await eventually(gitRepositories, (roots) => !roots.includes(worktree), 'the merged worktree gone from Source Control');
  });

  test('a conflicting merge changes nothing in the main checkout and sets the conflict state', async () => {
    const [one, two] = [await taskAdding('same.txt', 'from one'), await taskAdding('same.txt', 'from two')];
    await api.mergeChanges(one.id, { how: 'merge' });
    assert.equal(repo.read('same.txt'), 'from one');
    const before = fingerprint(repo);

    const result = await vscode.commands.executeCommand('agentTasks.mergeChanges', two.id);
    assert.equal(result, undefined, 'the command reports the conflict instead of a merged task');
    const conflicted = await eventually(() => api.getTask(two.id)?.worktree, (w) => w?.state === 'conflict', 'state conflict');
    assert.deepEqual(conflicted!.conflicts, ['same.txt']);
    assert.deepEqual(fingerprint(repo), before, 'HEAD, index and every file are byte-identical');
    assert.ok(!repo.read('same.txt').includes('<<<<<<<'), 'no conflict markers');
    await assert.rejects(api.mergeChanges(two.id, { how: 'apply' }), /same\.txt/, 'the API rejects naming the file');
    assert.deepEqual(fingerprint(repo), before, 'apply left it identical too');
    const shown = await eventually(() => row(two.id), (r) => /\bconflict\b/.test(r.contextValue), 'the conflict in the row');
    assert.match(shown.description, /· \+1 −0 · 1 file · conflict · scripted$/);
    assert.match(shown.tooltip, /Conflicts with the main checkout in: same\.txt/);

    const followUp = (await vscode.commands.executeCommand('agentTasks.resolveWithAgent', two.id)) as string | undefined;
    assert.ok(followUp && followUp !== two.id, 'Resolve with Agent starts a follow-up');
    const resolved = await recorder.waitForStatus(followUp, 'completed');
    assert.equal(resolved.worktree?.path, conflicted!.path, 'the follow-up works in the same worktree');
    assert.deepEqual(fingerprint(repo), before, 'resolving happens in the worktree, never in the main checkout');
  });

  test('Discard removes the worktree and its branch', async () => {
    const task = await taskAdding('discard-me.txt', 'bye');
    const worktree = task.worktree!;
    await eventually(() => changedFiles(task.id), (files) => files.length === 1, 'the summary');
    const discarded = await api.discardChanges(task.id);
    assert.equal(discarded.worktree?.state, 'discarded');
    assert.ok(!fs.existsSync(worktree.path), 'the worktree folder is gone');
    assert.equal(repo.git(['branch', '--list', worktree.branch]).trim(), '', 'the branch is gone');
    assert.ok(!fs.existsSync(path.join(repo.root, 'discard-me.txt')));
    assert.match(row(task.id).tooltip, /Changes discarded/);
    assert.doesNotMatch(row(task.id).contextValue, /\bliveWorktree\b/);
  });
});

/** The folders of the repositories the built-in Git extension has open (it runs in the test host). */
async function gitRepositories(): Promise<string[]> {
  const extension = vscode.extensions.getExtension<{ enabled: boolean; getAPI(version: 1): { repositories: { rootUri: vscode.Uri }[] } }>('vscode.git');
  assert.ok(extension, 'the built-in Git extension is in the test host');
  const git = extension.isActive ? extension.exports : await extension.activate();
  assert.ok(git.enabled, 'the Git extension is enabled');
  return git.getAPI(1).repositories.map((repository) => repository.rootUri.fsPath);
}
