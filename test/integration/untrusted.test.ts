// In an untrusted (restricted mode) workspace tasks cannot be started (DESIGN §6); the extension still loads. The
// workspace is the restart phases' one, reopened untrusted: what restart-2 left running or queued waits for trust (M3).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { TaskSnapshot } from '../../src/core/task-state';
import { EXTENSION_ID, agentTasks, eventually } from './support/agent-tasks';
import { loadRemembered } from './support/restart-state';

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

  test('M3 an untrusted reload neither resumes the task that was running nor starts the queued one; both wait for trust', async () => {
    const api = await agentTasks();
    const left = (role: string) => {
      const found = loadRemembered().find((task) => task.role === role);
      assert.ok(found, `restart-2 left no ${role} task: run the phases restart-1,restart-2,untrusted together`);
      return found;
    };
    const running = left('trustRunning');
    const queued = left('trustQueued');
    const texts = (id: string) => api.getTask(id)?.output.map((entry) => entry.text) ?? [];
    // The scripted provider registers a moment after activation; then the restored task asks for trust.
    await eventually(
      () => texts(running.id),
      (lines) => lines.some((line) => line.startsWith('[recovery] Waiting for workspace trust before reconnecting to')),
      `the running task ${running.id} waits for trust`,
      20_000,
    );
    assert.ok(
      texts(queued.id).includes('[recovery] Waiting for workspace trust: agents do not start in an untrusted workspace'),
      `the queued task says it waits for trust: ${JSON.stringify(texts(queued.id))}`,
    );
    // Give a wrongly started agent time to show itself (the scripted provider resumes or runs within milliseconds).
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const after = (id: string): TaskSnapshot => {
      const task = api.getTask(id);
      assert.ok(task, `task ${id} is listed after the untrusted reload`);
      return task;
    };
    assert.equal(after(running.id).status, 'running', 'the running task keeps its status, not resumed to an outcome');
    assert.notEqual(after(running.id).result, 'resumed');
    assert.ok(!texts(running.id).some((line) => /resumed the session|Reconnecting to/.test(line)), JSON.stringify(texts(running.id)));
    assert.equal(after(queued.id).status, 'pending', 'the queued task was not started');
    assert.ok(!texts(queued.id).includes('the queued task ran'), 'its agent never ran');
    assert.equal(after(queued.id).timestamps.started, undefined);
    const waiting = texts(running.id).filter((line) => line.startsWith('[recovery] Waiting for workspace trust'));
    assert.equal(waiting.length, 1, 'one [recovery] entry, not one per check');
  });
});
