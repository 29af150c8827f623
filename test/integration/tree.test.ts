// The Tasks tree groups tasks by status in a fixed order (test hook api.__test.treeGroups()), and names each task by
// its title in every state (api.__test.treeItem()); the task panel's tab carries the title too.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import {
  type AgentTasksApi, GROUP_ORDER, StatusRecorder, agentTasks, cancelUnfinished, eventually, expectedGroups, normalizeGroups,
  script,
} from './support/agent-tasks';

suite('Tasks tree', () => {
  let api: AgentTasksApi;
  let recorder: StatusRecorder;

  suiteSetup(async () => {
    api = await agentTasks();
    assert.ok(api.__test?.treeGroups, 'the extension exports the test hook api.__test.treeGroups()');
    recorder = new StatusRecorder(api);
  });
  suiteTeardown(async () => {
    recorder?.dispose();
    if (api) await cancelUnfinished(api);
  });

  const groups = async () => normalizeGroups(await api.__test!.treeGroups());
  const matchesStore = async (what: string) => {
    const shown = await eventually(groups, (g) => JSON.stringify(g) === JSON.stringify(expectedGroups(api.listTasks())), what)
      .catch((error: Error) => { throw new Error(`${error.message}\nexpected ${JSON.stringify(expectedGroups(api.listTasks()))}`); });
    return shown;
  };

  test('groups follow the tasks\' statuses, in display order, only non-empty ones', async () => {
    const asking = await recorder.create({ prompt: script('ask-command: npm test', 'done: ok'), provider: 'scripted' });
    const sleeping = await recorder.create({ prompt: script('sleep: 60000'), provider: 'scripted' });
    const blocked = await recorder.create({ prompt: 'say: later', provider: 'scripted', dependsOn: [sleeping.id] });
    const finished = await recorder.create({ prompt: script('say: quick', 'done: ok'), provider: 'scripted' });
    const broken = await recorder.create({ prompt: 'fail: broken on purpose', provider: 'scripted' });
    await recorder.waitForStatus(asking.id, 'waiting_answer');
    await recorder.waitForStatus(sleeping.id, 'running');
    await recorder.waitForStatus(finished.id, 'completed');
    await recorder.waitForStatus(broken.id, 'failed');
    assert.equal(api.getTask(blocked.id)?.status, 'waiting');

    const shown = await matchesStore('tree groups match the store');
    const statuses = shown.map((g) => g.status);
    for (const status of ['waiting_answer', 'running', 'waiting', 'completed', 'failed']) assert.ok(statuses.includes(status), `no ${status} group`);
    assert.equal(shown[0].label, 'Needs you', 'a task that needs you is at the top');
    const order = GROUP_ORDER.map((g) => g.status as string);
    assert.deepEqual(statuses, [...statuses].sort((a, b) => order.indexOf(a) - order.indexOf(b)), 'groups are in display order');
    assert.ok(shown.every((g) => g.count > 0 && g.count === g.taskIds.length), 'empty groups are hidden and counts match');
    const needsYou = shown.find((g) => g.status === 'waiting_answer')!;
    assert.ok(needsYou.taskIds.includes(asking.id));
    assert.ok(shown.find((g) => g.status === 'waiting')!.taskIds.includes(blocked.id));
  });

  test('the tree follows status changes', async () => {
    const asking = api.listTasks().find((t) => t.status === 'waiting_answer');
    assert.ok(asking, 'the previous test left a task that needs you');
    await api.answer(asking.id, asking.pendingQuestions[0].requestId, { decision: 'approve' });
    await recorder.waitForStatus(asking.id, 'completed');
    await cancelUnfinished(api);
    await eventually(() => api.listTasks().filter((t) => ['running', 'waiting', 'pending', 'waiting_answer'].includes(t.status)).length, (n) => n === 0, 'all tasks finished');
    const shown = await matchesStore('tree groups match the store after cancelling');
    assert.ok(!shown.some((g) => ['waiting_answer', 'running', 'waiting'].includes(g.status)), 'no live groups left');
    assert.ok(shown.some((g) => g.status === 'cancelled'), 'a Cancelled group');
    assert.equal(shown.find((g) => g.status === 'waiting_answer'), undefined);
  });

  const row = (id: string) => api.__test!.treeItem(id);

  test('a row is labelled with the prompt\'s first line in every state; the state detail is in the description', async () => {
    const task = await recorder.create({ prompt: 'Add a --verbose flag\nask-command: npm test\ndone: ok', provider: 'scripted' });
    await recorder.waitForStatus(task.id, 'waiting_answer');
    const asking = await eventually(() => row(task.id), (r) => r?.description.includes('needs you') === true, 'the needs-you row');
    assert.equal(asking!.label, 'Add a --verbose flag', 'the prompt stays visible while the task needs you');
    assert.equal(asking!.description, 'needs you: run npm test · scripted');
    assert.match(asking!.tooltip, new RegExp(`Task \`${task.id}\``), 'the id is in the tooltip');
    assert.ok(asking!.ariaLabel.startsWith('Add a --verbose flag, Needs you, scripted: needs you: run npm test'), asking!.ariaLabel);
    assert.ok(asking!.ariaLabel.endsWith(`task ${task.id}`), 'the id is in the aria label');

    await api.answer(task.id, api.getTask(task.id)!.pendingQuestions[0].requestId, { decision: 'approve' });
    await recorder.waitForStatus(task.id, 'completed');
    const done = row(task.id)!;
    assert.equal(done.label, 'Add a --verbose flag');
    assert.match(done.description, /^done in \d+s · scripted$/);
    assert.ok(done.ariaLabel.endsWith(`task ${task.id}`));
  });

  test('the agent\'s own title wins over the prompt, in the row, the snapshot and the panel tab', async () => {
    const task = await recorder.create({ prompt: 'please do the usual\nsleep: 3000\ntitle: Fix the flaky login test\nsleep: 60000', provider: 'scripted' });
    await recorder.waitForStatus(task.id, 'running');
    await vscode.commands.executeCommand('agentTasks.openTask', task.id);
    const tabLabel = () => vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) => tab.input instanceof vscode.TabInputWebview).map((tab) => tab.label);
    await eventually(tabLabel, (labels) => labels.includes('please do the usual'), 'the panel tab named by the prompt');
    await eventually(() => api.getTask(task.id)?.title, (title) => title === 'Fix the flaky login test', 'the title in the snapshot');
    const named = await eventually(() => row(task.id), (r) => r?.label === 'Fix the flaky login test', 'the row named by the agent');
    assert.match(named!.description, /^running (<1m|\d+m) · scripted$/);
    assert.ok(named!.ariaLabel.endsWith(`task ${task.id}`));
    await eventually(tabLabel, (labels) => labels.includes('Fix the flaky login test'), 'the panel tab follows the agent\'s title');
    await api.cancelTask(task.id);
    await recorder.waitForStatus(task.id, 'cancelled');
    assert.equal(row(task.id)!.label, 'Fix the flaky login test');
    assert.equal(row(task.id)!.description, 'cancelled · scripted');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('three tasks waiting at once read apart; a long first line is shortened; equal titles show their ids', async () => {
    const long = 'Refactor the configuration loader so that it reads every profile lazily and caches the result';
    // Three at once: maxConcurrentTasks is 3.
    const tasks = [
      await recorder.create({ prompt: `Update the changelog\nask-command: touch approved.txt`, provider: 'scripted' }),
      await recorder.create({ prompt: `${long}\nask-command: touch approved.txt`, provider: 'scripted' }),
      await recorder.create({ prompt: `Update the changelog\nask-command: git add CHANGELOG.md`, provider: 'scripted' }),
    ];
    for (const task of tasks) await recorder.waitForStatus(task.id, 'waiting_answer');
    const rows = tasks.map((task) => row(task.id)!);
    assert.deepEqual(rows.map((r) => r.label), ['Update the changelog', 'Refactor the configuration loader so…', 'Update the changelog']);
    assert.equal(rows[1].description, 'needs you: run touch approved.txt · scripted', 'a unique title: no id in the description');
    assert.equal(rows[0].description, `needs you: run touch approved.txt · scripted · ${tasks[0].id}`);
    assert.equal(rows[2].description, `needs you: run git add CHANGELOG.md · scripted · ${tasks[2].id}`);
    assert.equal(new Set(rows.map((r) => `${r.label} ${r.description}`)).size, rows.length, 'every row reads differently');
    assert.ok(rows[1].tooltip.includes(long), 'the whole prompt is in the tooltip');
    assert.ok(rows[1].ariaLabel.startsWith(long), 'the aria label has the title at full length');
    for (const task of tasks) await api.cancelTask(task.id);
  });
});
