// Restart, phase 2 of 2: a new extension host on the same user data and workspace lists phase 1's tasks. Last, it
// leaves a running and a queued task for the untrusted phase, which reopens this workspace in restricted mode (M3).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { TaskSnapshot } from '../../src/core/task-state';
import { GROUP_ORDER, StatusRecorder, agentTasks, eventually, expectedGroups, normalizeGroups, script } from './support/agent-tasks';
import { loadRemembered, persistedStateFiles, remember, saveRemembered } from './support/restart-state';

const TERMINAL = ['completed', 'failed', 'timed_out', 'cancelled', 'unknown'];

suite('Restart (phase 2: after)', () => {
  const remembered = loadRemembered();
  const byRole = (role: string) => {
    const found = remembered.find((task) => task.role === role);
    assert.ok(found, `phase 1 left no ${role} task`);
    return found;
  };
  const transcript = (task: TaskSnapshot) => task.output.map((entry) => ({ kind: entry.kind, text: entry.text }));

  test('finished tasks are listed with the same ids, statuses, results and transcripts', async () => {
    const api = await agentTasks();
    const listed = new Map(api.listTasks().map((task) => [task.id, task]));
    for (const role of ['completed', 'failed']) {
      const before = byRole(role);
      const after = listed.get(before.id);
      assert.ok(after, `${role} task ${before.id} is not listed after the restart (listed: ${[...listed.keys()].join(', ')})`);
      assert.equal(after.status, before.status);
      assert.equal(after.provider, before.provider);
      assert.equal(after.prompt, before.prompt);
      assert.equal(after.result, before.result);
      assert.equal(after.error, before.error);
      assert.deepEqual(transcript(after).slice(0, before.transcript.length), before.transcript, `${role} task transcript`);
      assert.deepEqual(api.getTask(before.id)?.id, before.id);
    }
  });

  test('a task that was running when the host stopped is recovered, with a note saying so', async () => {
    const api = await agentTasks();
    const before = byRole('interrupted');
    const recorder = new StatusRecorder(api);
    try {
      assert.ok(api.getTask(before.id), `interrupted task ${before.id} is not listed after the restart`);
      const after = await recorder.waitFor(before.id, (task) => TERMINAL.includes(task.status), 'a terminal status', 20_000);
      const noted = after.recovered === true || after.output.some((entry) => /recover/i.test(entry.text));
      assert.ok(noted, `no recovery note: ${JSON.stringify(transcript(after))}`);
      assert.ok(['completed', 'unknown'].includes(after.status), `recovered to ${after.status}`);
    } finally {
      recorder.dispose();
    }
  });

  test('the tree shows the restored tasks in their groups', async () => {
    const api = await agentTasks();
    assert.ok(api.__test?.treeGroups, 'the extension exports the test hook api.__test.treeGroups()');
    const shown = await eventually(
      async () => normalizeGroups(await api.__test!.treeGroups()),
      (groups) => JSON.stringify(groups) === JSON.stringify(expectedGroups(api.listTasks())),
      'tree groups match the restored store',
    );
    const completedGroup = shown.find((group) => group.status === 'completed');
    assert.ok(completedGroup?.taskIds.includes(byRole('completed').id));
    assert.equal(completedGroup?.label, GROUP_ORDER.find((g) => g.status === 'completed')?.label);
    assert.ok(shown.find((group) => group.status === 'failed')?.taskIds.includes(byRole('failed').id));
  });

  test('M3 (before the untrusted reload): a running and a queued task are persisted while the workspace is trusted', async () => {
    const api = await agentTasks();
    assert.equal(vscode.workspace.isTrusted, true);
    const recorder = new StatusRecorder(api);
    try {
      // One agent at a time, so the second task stays queued (user settings: the untrusted phase keeps this too).
      await vscode.workspace.getConfiguration('agentTasks').update('maxConcurrentTasks', 1, vscode.ConfigurationTarget.Global);
      const running = await recorder.create({ prompt: script('say: running when the window closed', 'sleep: 600000'), provider: 'scripted', labels: ['m3'] });
      await recorder.waitForStatus(running.id, 'running');
      const queued = await recorder.create({ prompt: script('say: the queued task ran', 'done: must wait for trust'), provider: 'scripted', labels: ['m3'] });
      assert.equal(api.getTask(queued.id)?.status, 'pending', 'the second task waits in the queue');
      saveRemembered([...loadRemembered(), remember('trustRunning', api.getTask(running.id)!), remember('trustQueued', api.getTask(queued.id)!)]);
      const persisted = (): Map<string, string> =>
        new Map(persistedStateFiles().flatMap((file) => (JSON.parse(fs.readFileSync(file, 'utf8')) as { tasks: TaskSnapshot[] }).tasks.map((task) => [task.id, task.status] as const)));
      await eventually(
        persisted,
        (statuses) => statuses.get(running.id) === 'running' && statuses.get(queued.id) === 'pending',
        'state.json has the task running and the other one queued',
        10_000,
      );
    } finally {
      recorder.dispose();
    }
  });
});
