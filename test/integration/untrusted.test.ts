// In an untrusted (restricted mode) workspace tasks cannot be started (DESIGN §6); the extension still loads.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EXTENSION_ID, agentTasks } from './support/agent-tasks';

suite('Untrusted workspace', () => {
  test('the workspace really is untrusted and the extension is active', async () => {
    assert.equal(vscode.workspace.isTrusted, false, 'the host was expected to open the folder in restricted mode');
    const api = await agentTasks();
    assert.ok(vscode.extensions.getExtension(EXTENSION_ID)?.isActive);
    assert.equal(api.version, 1);
  });

  test('createTask rejects with a message about workspace trust', async () => {
    const api = await agentTasks();
    const before = api.listTasks().length;
    await assert.rejects(api.createTask({ prompt: 'say: must not run', provider: 'scripted' }), (error: Error) => {
      assert.match(error.message, /trust/i);
      return true;
    });
    assert.equal(api.listTasks().length, before, 'no task was created');
  });

  test('the newTask command does not create a task', async () => {
    const api = await agentTasks();
    const before = api.listTasks().map((task) => task.id);
    const outcome = await Promise.race([
      vscode.commands.executeCommand<unknown>('agentTasks.newTask', { prompt: 'say: must not run', provider: 'scripted' })
        .then((value) => ({ value }), (error: Error) => ({ error })),
      new Promise<{ pending: true }>((resolve) => setTimeout(() => resolve({ pending: true }), 10_000)),
    ]);
    if ('value' in outcome) assert.ok(typeof outcome.value !== 'string' || !api.getTask(outcome.value), `newTask returned a task id: ${String(outcome.value)}`);
    assert.deepEqual(api.listTasks().map((task) => task.id), before, 'no task was created');
  });
});
