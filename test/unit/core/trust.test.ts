// M3 (issue #17): no agent starts in an untrusted workspace — restored, resumed, queued or dependency-released
// tasks wait with a [recovery] entry and run once trust is granted.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Harness, removeTempDirs, settle } from '../../support/core-harness';

after(removeTempDirs);

const WAITING = '[recovery] Waiting for workspace trust';
const runsOf = (h: Harness): string[] => h.scripted!.runs.map((run) => `${run.mode} ${run.taskId}`);

describe('M3: workspace trust on every start', () => {
  test('M3 an untrusted reload runs nothing (resumed, queued, dependent); granting trust runs them all', async () => {
    const first = new Harness({ settings: { maxConcurrentTasks: 2 } });
    const running = await first.create('say: started; sleep: 600000');
    const asking = await first.create('ask-command: touch x');
    await first.waitForStatus(running.id, 'running');
    await first.waitForStatus(asking.id, 'waiting_answer');
    const queued = await first.create('done: queued ran');
    const dependent = await first.create('done: dependent ran', { dependsOn: [queued.id] });
    assert.equal(first.status(queued.id), 'pending');
    const second = await first.reload({ trusted: false, settings: { maxConcurrentTasks: 2 } });
    try {
      await settle(20);
      assert.deepEqual(runsOf(second), [], 'no agent was started or resumed in the untrusted workspace');
      assert.equal(second.status(queued.id), 'pending');
      assert.equal(second.status(dependent.id), 'waiting');
      for (const id of [running.id, asking.id, queued.id]) {
        assert.ok(second.texts(id).some((text) => text.startsWith(WAITING)), `${id}: ${second.texts(id).join(' | ')}`);
      }
      // Another pump (a provider registering, say) neither starts them nor repeats the entry.
      second.manager.trustGranted(); // still untrusted: a no-op
      await settle(10);
      assert.deepEqual(runsOf(second), []);
      assert.equal(second.texts(queued.id).filter((text) => text.startsWith(WAITING)).length, 1);

      second.trusted = true;
      second.manager.trustGranted();
      await second.waitForStatus(running.id, 'completed');
      await second.waitForStatus(asking.id, 'completed');
      await second.waitForStatus(queued.id, 'completed');
      await second.waitForStatus(dependent.id, 'completed');
      const runs = runsOf(second).sort();
      assert.deepEqual(runs, [`resume ${running.id}`, `resume ${asking.id}`, `start ${queued.id}`, `start ${dependent.id}`].sort());
    } finally {
      await second.dispose();
    }
  });

  test('M3 a task released by its dependency while the workspace is untrusted waits for trust', async () => {
    const h = new Harness();
    try {
      const blocker = await h.create('ask-command: hold');
      await h.waitForStatus(blocker.id, 'waiting_answer');
      const dependent = await h.create('done: dependent ran', { dependsOn: [blocker.id] });
      h.trusted = false;
      await h.manager.answer(blocker.id, h.question(blocker.id).requestId, { decision: 'approve' });
      await h.waitForStatus(blocker.id, 'completed');
      await settle(20);
      assert.equal(h.status(dependent.id), 'pending', 'released, but not started');
      assert.ok(h.texts(dependent.id).some((text) => text.startsWith(WAITING)));
      assert.ok(!h.scripted!.runs.some((run) => run.taskId === dependent.id));
      h.trusted = true;
      h.manager.trustGranted();
      await h.waitForStatus(dependent.id, 'completed');
    } finally {
      await h.dispose();
    }
  });
});
