// Security review L2 in the real extension host: the tree's inline Approve answers exactly the request its row showed
// (bound by request id and a hash of what was shown), never a request that came after; the row's tooltip shows the
// whole command the row shortens.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { type AgentTasksApi, StatusRecorder, agentTasks, cancelUnfinished, eventually, script } from './support/agent-tasks';

interface RowHooks {
  treeNode(taskId: string): { kind: 'task'; id: string; shown?: { requestId: string; payloadHash: string } } | undefined;
  treeItem(taskId: string): { description: string; tooltip: string } | undefined;
}

suite('Approval surfaces (L2)', () => {
  let api: AgentTasksApi & { readonly __test: RowHooks };
  let recorder: StatusRecorder;

  suiteSetup(async () => {
    api = (await agentTasks()) as typeof api;
    recorder = new StatusRecorder(api);
    // VS Code asks for rows only while the view is shown.
    await vscode.commands.executeCommand('agentTasks.tasks.focus');
  });
  suiteTeardown(async () => {
    recorder?.dispose();
    if (api) await cancelUnfinished(api);
  });

  const answered = (id: string) => (api.getTask(id)?.output ?? []).filter((entry) => entry.kind === 'user' && /^(Approved|Denied)\b/.test(entry.text)).map((entry) => entry.text);

  test('L2 the tree\'s inline Approve answers only the request its row showed, never the one that replaced it', async () => {
    const task = await recorder.create({ prompt: script('ask-command: echo first', 'ask-command: echo second', 'done: ok'), provider: 'scripted' });
    const asking = await recorder.waitForStatus(task.id, 'waiting_answer');
    const firstRequest = asking.pendingQuestions[0].requestId;
    const node = await eventually(() => api.__test.treeNode(task.id), (n) => n?.shown?.requestId === firstRequest, 'the row showing the first request');
    // The element as VS Code held it when the row showed `echo first`.
    const shownThen = { ...node!, shown: { ...node!.shown! } };

    // Another surface answers the first request; the agent asks the second.
    await api.answer(task.id, firstRequest, { decision: 'approve' });
    const second = await recorder.waitFor(task.id, (t) => t.pendingQuestions[0]?.requestId !== undefined && t.pendingQuestions[0].requestId !== firstRequest, 'the second request');
    await vscode.commands.executeCommand('agentTasks.approve', shownThen);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(api.getTask(task.id)?.status, 'waiting_answer', 'the second request is still waiting');
    assert.equal(api.getTask(task.id)?.pendingQuestions[0]?.requestId, second.pendingQuestions[0].requestId);
    assert.deepEqual(answered(task.id), ['Approved: run echo first'], 'Approve from the stale row sent nothing');

    // A stale hash is refused the same way, even for the request id now pending.
    const forged = { ...shownThen, shown: { requestId: second.pendingQuestions[0].requestId, payloadHash: shownThen.shown.payloadHash } };
    await vscode.commands.executeCommand('agentTasks.deny', forged);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(api.getTask(task.id)?.status, 'waiting_answer', 'a hash of another request answers nothing');

    // Once the row shows the second request, its Approve answers that one.
    const redrawn = await eventually(() => api.__test.treeNode(task.id), (n) => n?.shown?.requestId === second.pendingQuestions[0].requestId, 'the row showing the second request');
    await vscode.commands.executeCommand('agentTasks.approve', redrawn);
    await recorder.waitForStatus(task.id, 'completed');
    assert.deepEqual(answered(task.id), ['Approved: run echo first', 'Approved: run echo second']);
  });

  test('L2 a row shortens a long command; its tooltip shows all of it', async () => {
    const long = `node scripts/migrate.js --from 2024-01-01 --to 2026-12-31 --dry-run=false --verbose && rm -rf build/cache/${'x'.repeat(40)}`;
    const task = await recorder.create({ prompt: script(`ask-command: ${long}`, 'done: ok'), provider: 'scripted' });
    await recorder.waitForStatus(task.id, 'waiting_answer');
    const row = await eventually(() => api.__test.treeItem(task.id), (r) => r?.description.startsWith('needs you:') === true, 'the needs-you row');
    assert.ok(!row!.description.includes(long), 'the row cannot show the whole command');
    assert.ok(row!.tooltip.includes(`\`\`\`sh\n${long}\n\`\`\``), 'the tooltip shows the whole command');
    await api.cancelTask(task.id);
  });
});
