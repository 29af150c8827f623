// DESIGN §9 in the real extension host, on a git repository in a temp folder with the scripted test agent: the check's
// ✓/✗ in the tree row, attempts grouped under one row and Merge This Attempt discarding the others (and nothing when
// the merge is refused), a review's findings in its snapshot, its row and as comment threads on the reviewed files.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AgentChoice, CreateTaskInput, TaskSnapshot } from '../../src/core/task-state';
import { makeRepo, type TestRepo } from '../support/git-repo';
import { type AgentTasksApi, StatusRecorder, agentTasks, cancelUnfinished, eventually } from './support/agent-tasks';

interface Row {
  label: string;
  description: string;
  tooltip: string;
  contextValue: string;
}
interface OpinionHooks {
  treeItem(taskId: string): Row | undefined;
  reviewEntries(taskId: string): { resource: string; original?: string; modified?: string }[];
  commentThreads(reviewedId: string): { reviewId: string; findingId: string; uri: string; line: number; label: string; comments: { author: string; body: string }[] }[];
  compareView(group: string): { title: string; attempts: { id: string; agent: string; statusLabel: string; fileCount: number; actions: string[] }[] } | undefined;
  attemptRow(group: string): { label: string; description: string; taskIds: string[]; status: string } | undefined;
}
type OpinionApi = AgentTasksApi & {
  runCheck(id: string): Promise<TaskSnapshot>;
  reviewTask(id: string, reviewer?: AgentChoice): Promise<TaskSnapshot>;
  createAttempts(input: CreateTaskInput, agents: AgentChoice[]): Promise<TaskSnapshot[]>;
  pickAttempt(id: string): Promise<TaskSnapshot>;
  readonly __test: OpinionHooks;
};

const FINDINGS = [
  { path: 'greet.txt', line: 1, severity: 'high', title: 'The greeting is lowercase', body: 'Start it with a capital: Hello.' },
  { severity: 'info', title: 'No test covers the greeting', body: 'Add one.' },
];

suite('Second opinions', () => {
  let api: OpinionApi;
  let recorder: StatusRecorder;
  let repo: TestRepo;
  const config = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('agentTasks');

  suiteSetup(async () => {
    api = (await agentTasks()) as OpinionApi;
    recorder = new StatusRecorder(api);
    repo = makeRepo({ 'README.md': '# demo\n' }, 'atw-int-op-');
    repo.git(['config', 'user.name', 'Integration Test']);
    repo.git(['config', 'user.email', 'integration@example.invalid']);
  });
  suiteTeardown(async () => {
    await config().update('check', undefined, vscode.ConfigurationTarget.Global);
    recorder?.dispose();
    if (api) await cancelUnfinished(api);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    repo?.remove();
  });

  /** Approves the one file the scripted task asks to write; resolves once it completed. */
  const approveAndFinish = async (id: string): Promise<TaskSnapshot> => {
    const asking = await recorder.waitForStatus(id, 'waiting_answer');
    await api.answer(id, asking.pendingQuestions[0].requestId, { decision: 'approve' });
    return recorder.waitForStatus(id, 'completed');
  };
  const taskAdding = async (file: string, content: string, more = 'done: ok'): Promise<TaskSnapshot> => {
    const task = await recorder.create({ prompt: `ask-file: ${file}|${content}\n${more}`, provider: 'scripted', cwd: repo.root, isolation: 'worktree' });
    return approveAndFinish(task.id);
  };
  const row = (id: string): Row => {
    const item = api.__test.treeItem(id)!;
    return { ...item, tooltip: item.tooltip.replace(/&nbsp;/g, ' ').replace(/\\(.)/g, '$1') };
  };

  test('Run Check: ✓ in the row when the check passes, ✗ and the tail of its output when it fails', async () => {
    // The check runs when an isolated task completes, and again on Run Check.
    await config().update('check', 'test -f pass.txt || { echo "pass.txt is missing"; exit 3; }', vscode.ConfigurationTarget.Global);
    try {
      await checks();
    } finally {
      await config().update('check', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  const checks = async (): Promise<void> => {
    const passing = await taskAdding('pass.txt', 'yes');
    const failing = await taskAdding('other.txt', 'no');
    await eventually(() => api.getTask(passing.id)?.check?.state, (state) => state === 'passed', 'the check after completion');

    const passed = (await vscode.commands.executeCommand('agentTasks.runCheck', passing.id)) as TaskSnapshot;
    assert.equal(passed.check?.state, 'passed', 'the command resolves when the check has ended');
    assert.equal(passed.check?.exitCode, 0);
    assert.equal(passed.status, 'completed', 'a check never changes the task status');
    const shownPass = await eventually(() => row(passing.id), (r) => /^done in \d+s · \+1 −0 · 1 file · ✓ check · scripted$/.test(r.description), 'the ✓ in the row', 15_000);
    assert.match(shownPass.tooltip, /✓ Check: test -f pass\.txt .* — passed in \d+s \(exit 0\)/);
    assert.match(shownPass.contextValue, /\bcheckable\b/);

    const failed = await api.runCheck(failing.id);
    assert.equal(failed.check?.state, 'failed');
    assert.equal(failed.check?.exitCode, 3);
    assert.match(failed.check?.tail ?? '', /pass\.txt is missing/);
    const shownFail = await eventually(() => row(failing.id), (r) => /^done in \d+s · \+1 −0 · 1 file · ✗ check · scripted$/.test(r.description), 'the ✗ in the row', 15_000);
    assert.match(shownFail.tooltip, /✗ Check: .* — failed in \d+s \(exit 3\)/);
    assert.ok(shownFail.tooltip.includes('pass.txt is missing'), 'the tooltip shows the end of the output');
  };

  test('attempts sit under one row; Merge This Attempt is refused on a dirty main (nothing discarded), then merges one and discards the others', async () => {
    const prompt = 'Write the attempt file\nask-file: attempt.txt|an attempt\ndone: ok';
    const attempts = await api.createAttempts({ prompt, cwd: repo.root }, [{ provider: 'scripted' }, { provider: 'scripted' }, { provider: 'scripted' }]);
    assert.equal(attempts.length, 3);
    const group = attempts[0].attemptGroup!;
    assert.ok(group && attempts.every((task) => task.attemptGroup === group), 'one attempt group');
    await Promise.all(attempts.map((task) => approveAndFinish(task.id)));
    // Each attempt's own work, so the merged one can be told apart.
    for (const task of attempts) fs.writeFileSync(path.join(api.getTask(task.id)!.worktree!.path, 'attempt.txt'), `by ${task.id}\n`);

    const shown = await eventually(() => api.__test.attemptRow(group), (r) => r?.description === '3 completed', 'the group row');
    assert.equal(shown!.label, '3 attempts: Write the attempt file');
    assert.equal(shown!.status, 'completed', 'under the Completed group');
    assert.deepEqual(shown!.taskIds, attempts.map((task) => task.id), 'a child per agent, in launch order');
    for (const task of attempts) {
      const child = await eventually(() => row(task.id), (r) => /\+1 −0 · 1 file$/.test(r.description), 'the child row with its change');
      assert.equal(child.label, 'Scripted (tests)', 'a child is named by its agent');
      assert.match(child.description, /^done in \d+s · \+1 −0 · 1 file$/);
      assert.match(child.contextValue, /\battempt\b/);
      assert.match(child.contextValue, /\bpickable\b/);
      assert.doesNotMatch(child.contextValue, /\bmergeable\b/, 'an attempt merges with Merge This Attempt only');
    }

    await vscode.commands.executeCommand('agentTasks.compareAttempts', group);
    const compared = await eventually(() => api.__test.compareView(group), (view) => view?.attempts.length === 3, 'the compare view');
    assert.equal(compared!.title, 'Write the attempt file');
    for (const attempt of compared!.attempts) {
      assert.equal(attempt.agent, 'Scripted (tests)');
      assert.equal(attempt.statusLabel, 'Completed');
      assert.equal(attempt.fileCount, 1);
      assert.deepEqual(attempt.actions, ['open', 'reviewChanges', 'review', 'runCheck', 'pick']);
    }

    const [, chosen, ...rest] = attempts;
    const others = [attempts[0], ...rest];
    fs.writeFileSync(path.join(repo.root, 'attempt.txt'), 'my own work\n');
    await assert.rejects(api.pickAttempt(chosen.id), /attempt\.txt/, 'refused: the file is dirty in the main checkout');
    for (const task of attempts) assert.equal(api.getTask(task.id)?.worktree?.state, 'active', `${task.id} is intact`);
    assert.equal(repo.read('attempt.txt'), 'my own work\n');
    fs.rmSync(path.join(repo.root, 'attempt.txt'));

    const picked = await api.pickAttempt(chosen.id);
    assert.equal(picked.worktree?.state, 'merged');
    assert.equal(repo.read('attempt.txt'), `by ${chosen.id}\n`, 'the main checkout has that attempt’s file');
    for (const task of others) {
      const discarded = api.getTask(task.id)!.worktree!;
      assert.equal(discarded.state, 'discarded', `${task.id} was discarded`);
      assert.ok(!fs.existsSync(discarded.path), 'its worktree folder is gone');
      assert.equal(repo.git(['branch', '--list', discarded.branch]).trim(), '', 'its branch is gone');
    }
    const after = await eventually(() => api.__test.attemptRow(group), (r) => r?.description.startsWith('merged') ?? false, 'the group row says which was merged');
    assert.equal(after!.description, 'merged Scripted (tests)');
  });

  test('a review by another agent: its findings in the snapshot and its row, as comment threads on the reviewed file, and Send Findings continues the task', async () => {
    const task = await taskAdding('greet.txt', 'hello', `done: ${JSON.stringify({ findings: FINDINGS })}`);
    const worktree = task.worktree!;
    const review = await api.reviewTask(task.id, { provider: 'scripted' });
    assert.equal(review.reviewOf, task.id);
    assert.equal(review.cwd, worktree.path, 'the reviewer works in the reviewed worktree');
    const done = await recorder.waitFor(review.id, (t) => t.findings !== undefined, 'findings');
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.findings, FINDINGS.map((finding, index) => ({ id: `f${index + 1}`, ...finding })));
    assert.equal(fs.readFileSync(path.join(worktree.path, 'greet.txt'), 'utf8'), 'hello', 'the read-only reviewer changed nothing');

    const reviewRow = await eventually(() => row(review.id), (r) => /findings/.test(r.description), 'the findings count in the row');
    assert.match(reviewRow.description, /· 2 findings \(1 high, 1 info\) · scripted/);
    assert.match(reviewRow.contextValue, /\bhasFindings\b/);
    assert.ok(reviewRow.tooltip.includes('[high] The greeting is lowercase — greet.txt:1'), reviewRow.tooltip);

    // The thread sits on the right side of the reviewed task's review diff, at the finding's line.
    const threads = await eventually(() => api.__test.commentThreads(task.id), (list) => list.length === 1, 'one thread (the other finding names no file)');
    const [thread] = threads;
    const modified = api.__test.reviewEntries(task.id).find((entry) => entry.resource.endsWith('/greet.txt'))?.modified;
    assert.equal(thread.uri, modified, 'on the document the review diff shows on the right');
    assert.equal(thread.uri, vscode.Uri.file(path.join(worktree.path, 'greet.txt')).toString());
    assert.equal(thread.line, 1);
    assert.equal(thread.label, `Review by Scripted (tests) (${review.id})`);
    assert.equal(thread.comments[0].author, 'Scripted (tests) · high');
    // The body is the finding as text (Markdown escapes it: spaces come as &nbsp;).
    const body = thread.comments[0].body.replace(/&nbsp;/g, ' ');
    assert.match(body, /\*\*high: The greeting is lowercase\*\*/);
    assert.match(body, /Start it with a capital: Hello\./);

    const followUpId = (await vscode.commands.executeCommand('agentTasks.sendFindings', review.id, ['f1'])) as string;
    const followUp = api.getTask(followUpId)!;
    assert.equal(followUp.worktree?.path, worktree.path, 'a follow-up in the same worktree');
    assert.match(followUp.prompt, /The greeting is lowercase \(greet\.txt:1\)/);
    assert.doesNotMatch(followUp.prompt, /No test covers/, 'only the chosen findings');
    await recorder.waitForStatus(followUpId, 'completed');
    // The worktree moved on to the follow-up: the findings were about the change before it, so their threads go.
    await eventually(() => api.__test.commentThreads(task.id), (list) => list.length === 0, 'no threads once the change moved on');
  });
});
