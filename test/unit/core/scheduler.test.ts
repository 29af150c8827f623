import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { checkDependencies } from '../../../src/core/scheduler';
import { TaskStore } from '../../../src/core/task-store';
import type { TaskState, TaskStatus } from '../../../src/core/task-state';
import { Harness, removeTempDirs } from '../../support/core-harness';

after(removeTempDirs);

async function withHarness(body: (h: Harness) => Promise<void>, options: ConstructorParameters<typeof Harness>[0] = {}): Promise<void> {
  const h = new Harness(options);
  try {
    await body(h);
  } finally {
    await h.dispose();
  }
}

const ACTIVE: TaskStatus[] = ['running', 'waiting_answer'];

async function approve(h: Harness, id: string): Promise<void> {
  await h.waitForStatus(id, 'waiting_answer');
  await h.manager.answer(id, h.question(id).requestId, { decision: 'approve' });
}

describe('maxConcurrentTasks', () => {
  test('with 5 tasks and a limit of 2, never more than 2 run at once, and they start first in, first out', () =>
    withHarness(
      async (h) => {
        let maxActive = 0;
        const started: string[] = [];
        h.store.onDidChange((change) => {
          if (change.kind === 'updated' && change.previousStatus === 'pending' && change.task.status === 'running') started.push(change.task.id);
          maxActive = Math.max(maxActive, h.store.all().filter((task) => ACTIVE.includes(task.status)).length);
        });
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push((await h.create(`ask-command: step ${i}; done: ${i}`)).id);
        assert.deepEqual(ids.map((id) => h.status(id)), ['waiting_answer', 'waiting_answer', 'pending', 'pending', 'pending']);

        await approve(h, ids[1]);
        await h.waitForStatus(ids[1], 'completed');
        await h.waitForStatus(ids[2], 'waiting_answer');
        assert.equal(h.status(ids[3]), 'pending');
        for (const id of [ids[0], ids[2], ids[3], ids[4]]) await approve(h, id);
        for (const id of ids) await h.waitForStatus(id, 'completed');

        assert.equal(maxActive, 2);
        assert.deepEqual(started, ids, 'FIFO: started in creation order');
      },
      { settings: { maxConcurrentTasks: 2 } },
    ));

  test('waiting on an answer holds a slot; a rate-limited task does not', () =>
    withHarness(
      async (h) => {
        const asking = await h.create('ask-command: hold');
        await h.waitForStatus(asking.id, 'waiting_answer');
        const queued = await h.create('done: ok');
        assert.equal(h.status(queued.id), 'pending');
        await approve(h, asking.id);
        await h.waitForStatus(queued.id, 'completed');

        const limited = await h.create('rate-limit: busy');
        await h.waitForStatus(limited.id, 'rate_limited');
        const next = await h.create('done: ok');
        await h.waitForStatus(next.id, 'completed');
        await h.manager.cancelTask(limited.id);
      },
      { settings: { maxConcurrentTasks: 1 } },
    ));

  test('raising the limit lets queued tasks start on the next change', () =>
    withHarness(
      async (h) => {
        const first = await h.create('ask-command: a');
        const second = await h.create('ask-command: b');
        assert.equal(h.status(second.id), 'pending');
        h.settings.maxConcurrentTasks = 2;
        const third = await h.create('ask-command: c');
        await h.waitForStatus(second.id, 'waiting_answer');
        assert.equal(h.status(third.id), 'pending');
        for (const id of [first.id, second.id, third.id]) await approve(h, id);
        await h.waitForStatus(third.id, 'completed');
      },
      { settings: { maxConcurrentTasks: 1 } },
    ));
});

describe('dependsOn', () => {
  test('a dependent waits, then goes pending → running → completed once every dependency completed', () =>
    withHarness(async (h) => {
      const a = await h.create('ask-command: a; done: A');
      const b = await h.create('ask-command: b; done: B');
      const c = await h.create('done: C', { dependsOn: [a.id, b.id] });
      assert.equal(h.status(c.id), 'waiting');
      assert.ok(h.texts(c.id).includes(`Waiting for ${a.id}, ${b.id}`));
      await approve(h, a.id);
      await h.waitForStatus(a.id, 'completed');
      assert.equal(h.status(c.id), 'waiting', 'one dependency is not enough');
      await approve(h, b.id);
      await h.waitForStatus(c.id, 'completed');
      assert.deepEqual(h.statusesOf(c.id), ['waiting', 'pending', 'running', 'completed']);
    }));

  test('a task whose dependencies already completed starts pending', () =>
    withHarness(async (h) => {
      const a = await h.create('done: A');
      await h.waitForStatus(a.id, 'completed');
      const b = await h.create('done: B', { dependsOn: [a.id] });
      await h.waitForStatus(b.id, 'completed');
      assert.deepEqual(h.statusesOf(b.id), ['pending', 'running', 'completed']);
    }));

  test('an unknown dependency is refused at creation', () =>
    withHarness(async (h) => {
      await assert.rejects(h.manager.createTask({ prompt: 'x', dependsOn: ['ghost-gnu-999'] }), /^Error: Unknown dependency "ghost-gnu-999": no task has that id$/);
      assert.equal(h.store.size, 0);
    }));
});

describe('checkDependencies', () => {
  function storeWith(edges: Record<string, string[]>): TaskStore {
    const store = new TaskStore(() => 0);
    for (const [id, dependsOn] of Object.entries(edges)) {
      const task: TaskState = {
        id,
        status: 'waiting',
        provider: 'scripted',
        taskType: 'general',
        prompt: id,
        cwd: '/',
        timestamps: { created: 0, updated: 0 },
        output: [],
        dependsOn,
        labels: [],
        pendingQuestions: [],
      };
      store.add(task);
    }
    return store;
  }

  test('a cycle is refused, with the cycle in the message', () => {
    // c is being (re)wired to depend on b, while b → a → c already: c → b → a → c.
    const store = storeWith({ a: ['c'], b: ['a'], c: [] });
    assert.equal(checkDependencies(store, 'c', ['b']), 'Dependency cycle: c → b → a → c');
  });

  test('a self-reference is refused', () => {
    assert.equal(checkDependencies(storeWith({ a: [] }), 'a', ['a']), 'Task a cannot depend on itself');
  });

  test('a diamond is not a cycle', () => {
    const store = storeWith({ root: [], left: ['root'], right: ['root'] });
    assert.equal(checkDependencies(store, 'tip', ['left', 'right']), undefined);
  });

  test('an unknown id is named', () => {
    assert.equal(checkDependencies(storeWith({ a: [] }), 'new', ['a', 'zz']), 'Unknown dependency "zz": no task has that id');
  });
});

describe('a dependency that does not complete fails its dependents transitively', () => {
  const endings: { how: string; script: string; end: (h: Harness, id: string) => Promise<void>; status: TaskStatus; timeoutMinutes?: number }[] = [
    {
      how: 'fails',
      script: 'ask-command: go; fail: compiler crashed',
      end: (h, id) => approve(h, id),
      status: 'failed',
    },
    { how: 'is cancelled', script: 'sleep: 600000', end: (h, id) => h.manager.cancelTask(id), status: 'cancelled' },
    { how: 'times out', script: 'sleep: 600000', end: (h) => h.clock.advance(60_000), status: 'timed_out', timeoutMinutes: 1 },
  ];
  for (const { how, script, end, status, timeoutMinutes } of endings) {
    test(`when the root ${how}, each dependent fails with a reason naming its dependency`, () =>
      withHarness(async (h) => {
        const root = await h.create(script, { timeoutMinutes });
        await h.until(() => h.status(root.id) === 'running' || h.status(root.id) === 'waiting_answer', 'the root to start');
        const child = await h.create('done: child', { dependsOn: [root.id] });
        const grandchild = await h.create('done: grandchild', { dependsOn: [child.id] });
        const sibling = await h.create('done: sibling');
        await h.waitForStatus(sibling.id, 'completed');
        const cousin = await h.create('done: cousin', { dependsOn: [sibling.id, grandchild.id] });
        await end(h, root.id);
        await h.waitForStatus(root.id, status);
        for (const id of [child.id, grandchild.id, cousin.id]) await h.waitForStatus(id, 'failed');
        assert.match(h.task(child.id).error!, new RegExp(`^Dependency ${root.id} ended ${status.replace('_', ' ')}`));
        assert.match(h.task(grandchild.id).error!, new RegExp(`^Dependency ${child.id} ended failed`));
        assert.match(h.task(cousin.id).error!, new RegExp(`^Dependency ${grandchild.id} ended failed`));
        for (const id of [child.id, grandchild.id, cousin.id]) {
          assert.deepEqual(h.statusesOf(id), ['waiting', 'failed'], 'never ran');
          assert.ok(h.texts(id).some((text) => text.startsWith('[dependency] Dependency')));
          assert.deepEqual(h.scripted!.runsOf(id), []);
        }
        assert.equal(h.status(sibling.id), 'completed');
      }));
  }

  test('the reason carries the dependency\'s own error', () =>
    withHarness(async (h) => {
      const root = await h.create('ask-command: go; fail: disk full');
      const child = await h.create('done: x', { dependsOn: [root.id] });
      await approve(h, root.id);
      await h.waitForStatus(child.id, 'failed');
      assert.equal(h.task(child.id).error, `Dependency ${root.id} ended failed: disk full`);
    }));
});

describe('task timeouts on the fake clock', () => {
  test('the deadline counts from the start, not from creation: time spent pending does not count', () =>
    withHarness(
      async (h) => {
        const blocker = await h.create('ask-command: hold', { timeoutMinutes: 0 });
        const timed = await h.create('sleep: 600000', { timeoutMinutes: 1 });
        assert.equal(h.status(timed.id), 'pending');
        await h.clock.advance(5 * 60_000);
        assert.equal(h.status(timed.id), 'pending');
        await approve(h, blocker.id);
        await h.waitForStatus(timed.id, 'running');
        assert.equal(h.task(timed.id).timeoutAt, h.clock.now() + 60_000);
        await h.clock.advance(59_000);
        assert.equal(h.status(timed.id), 'running');
        await h.clock.advance(1_000);
        await h.waitForStatus(timed.id, 'timed_out');
      },
      { settings: { maxConcurrentTasks: 1 } },
    ));

  test('a task waiting on an answer times out too, and its question is withdrawn', () =>
    withHarness(async (h) => {
      const task = await h.create('ask-command: hold', { timeoutMinutes: 2 });
      await h.waitForStatus(task.id, 'waiting_answer');
      await h.clock.advance(120_000);
      const timedOut = await h.waitForStatus(task.id, 'timed_out');
      assert.equal(timedOut.error, 'Timed out after 2 min');
      assert.deepEqual(timedOut.pendingQuestions, []);
      assert.equal(h.scripted!.asksOf(task.id)[0].state, 'rejected');
      assert.equal(h.scripted!.asksOf(task.id)[0].answer, undefined, 'a timeout never answers');
    }));

  test('a task that finished before its deadline leaves no timer behind', () =>
    withHarness(async (h) => {
      const task = await h.create('done: quick', { timeoutMinutes: 10 });
      await h.waitForStatus(task.id, 'completed');
      await h.clock.advance(60 * 60_000);
      assert.equal(h.status(task.id), 'completed');
      assert.deepEqual(h.statusesOf(task.id), ['pending', 'running', 'completed']);
    }));

  test('sub-minute timeouts are reported in seconds', () =>
    withHarness(async (h) => {
      const task = await h.create('sleep: 600000', { timeoutMinutes: 0.5 });
      await h.waitForStatus(task.id, 'running');
      await h.clock.advance(30_000);
      assert.equal((await h.waitForStatus(task.id, 'timed_out')).error, 'Timed out after 30 s');
    }));
});
