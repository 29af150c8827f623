// The Tasks tree groups tasks by status in a fixed order (test hook api.__test.treeGroups()).
import * as assert from 'node:assert/strict';
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
});
