/** The per-repository queue: writes one at a time in order, reads never wait, nested writes run inside their write. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OperationQueue, queueFor } from '../../../src/git/queue';

const tick = (ms = 5) => new Promise((resolve) => setTimeout(resolve, ms));

test('writes run one at a time, in order, even when one fails', async () => {
  const queue = new OperationQueue();
  const events: string[] = [];
  const write = (name: string, fail = false) =>
    queue.run('write', async () => {
      events.push(`${name} start`);
      await tick();
      events.push(`${name} end`);
      if (fail) throw new Error(name);
      return name;
    });
  const results = await Promise.allSettled([write('a'), write('b', true), write('c')]);
  assert.deepEqual(events, ['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  assert.deepEqual(results.map((result) => result.status), ['fulfilled', 'rejected', 'fulfilled']);
});

test('reads run at once, during a write', async () => {
  const queue = new OperationQueue();
  let release!: () => void;
  const writing = queue.run('write', () => new Promise<void>((resolve) => (release = resolve)));
  await tick();
  assert.equal(await queue.run('read', () => Promise.resolve('summary')), 'summary');
  assert.deepEqual(queue.pending, { writes: 1, reads: 0 });
  release();
  await writing;
  assert.deepEqual(queue.pending, { writes: 0, reads: 0 });
});

test('a write started inside a write runs inside it instead of waiting for itself', async () => {
  const queue = new OperationQueue();
  const order: string[] = [];
  const outer = queue.run('write', async () => {
    order.push('outer');
    await queue.run('write', async () => order.push('inner'));
    return 'done';
  });
  const next = queue.run('write', async () => order.push('next'));
  assert.equal(await outer, 'done');
  await next;
  assert.deepEqual(order, ['outer', 'inner', 'next']);
});

test('one queue per common git directory', () => {
  assert.equal(queueFor('/r/.git'), queueFor('/r/.git'));
  assert.notEqual(queueFor('/r/.git'), queueFor('/s/.git'));
});
