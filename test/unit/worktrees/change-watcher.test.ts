/** ChangeWatcher: bursts of triggers become one computation, never two at once, one more after a busy run; no polling. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChangeWatcher } from '../../../src/core/change-watcher';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds (a loaded machine may run timers late). */
async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  for (const started = Date.now(); !check(); await tick(5)) if (Date.now() - started > timeoutMs) throw new Error('timed out');
}

test('a burst of triggers computes once, after the quiet time', async () => {
  const results: number[] = [];
  let calls = 0;
  const watcher = new ChangeWatcher(async () => ++calls, (value) => results.push(value), { delayMs: 20 });
  for (let i = 0; i < 50; i++) watcher.trigger();
  assert.equal(calls, 0, 'nothing runs before the quiet time');
  await until(() => results.length > 0);
  assert.deepEqual(results, [1]);
  await tick(60);
  assert.equal(calls, 1, 'no polling: without triggers nothing runs again');
  watcher.dispose();
});

test('triggers during a computation cause exactly one more, and never two at once', async () => {
  let running = 0;
  let maxRunning = 0;
  let release!: () => void;
  const watcher = new ChangeWatcher(
    async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise<void>((resolve) => (release = resolve));
      running--;
      return running;
    },
    () => undefined,
    { delayMs: 1 },
  );
  watcher.trigger();
  await until(() => watcher.runs === 1 && running === 1);
  for (let i = 0; i < 10; i++) watcher.trigger();
  release();
  await until(() => watcher.runs === 2 && running === 1);
  release();
  await watcher.flush();
  assert.equal(watcher.runs, 2);
  assert.equal(maxRunning, 1);
  watcher.dispose();
});

test('flush computes at once; errors are reported and the watcher keeps working; dispose aborts', async () => {
  const errors: unknown[] = [];
  const values: string[] = [];
  let fail = true;
  let seen: AbortSignal | undefined;
  const watcher = new ChangeWatcher(
    async (signal) => {
      seen = signal;
      if (fail) throw new Error('git failed');
      return 'ok';
    },
    (value) => values.push(value),
    { delayMs: 10_000, onError: (error) => errors.push(error) },
  );
  watcher.trigger();
  await watcher.flush();
  assert.equal(errors.length, 1);
  fail = false;
  watcher.trigger();
  await watcher.flush();
  assert.deepEqual(values, ['ok']);
  watcher.dispose();
  assert.equal(seen?.aborted, true);
  watcher.trigger();
  await watcher.flush();
  assert.equal(watcher.runs, 2);
});
