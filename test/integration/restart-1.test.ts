// Restart, phase 1 of 2: make tasks that must survive the extension host restarting (DESIGN §5).
import * as fs from 'node:fs';
import { StatusRecorder, agentTasks, eventually, script } from './support/agent-tasks';
import { type RememberedTask, persistedStateFiles, remember, saveRemembered } from './support/restart-state';

suite('Restart (phase 1: before)', () => {
  test('make a completed, a failed and an interrupted task, and see them persisted', async () => {
    const api = await agentTasks();
    const recorder = new StatusRecorder(api);
    try {
      const completed = await recorder.create({ prompt: script('say: I will be remembered', 'run: echo persisted', 'done: kept across restarts'), provider: 'scripted', labels: ['restart'] });
      const failed = await recorder.create({ prompt: script('say: this one breaks', 'fail: broken before the restart'), provider: 'scripted', labels: ['restart'] });
      const interrupted = await recorder.create({ prompt: script('say: still running at restart', 'sleep: 600000'), provider: 'scripted', labels: ['restart'] });
      const remembered: RememberedTask[] = [
        remember('completed', await recorder.waitForStatus(completed.id, 'completed')),
        remember('failed', await recorder.waitForStatus(failed.id, 'failed')),
        remember('interrupted', await recorder.waitForStatus(interrupted.id, 'running')),
      ];
      saveRemembered(remembered);

      // state.json lives in workspace storage on the machine that runs the tasks, and names every task.
      await eventually(
        () => persistedStateFiles().map((file) => fs.readFileSync(file, 'utf8')).join('\n'),
        (text) => remembered.every((task) => text.includes(task.id)),
        'state.json in workspace storage names all three tasks',
        10_000,
      );
    } finally {
      recorder.dispose();
    }
  });
});
