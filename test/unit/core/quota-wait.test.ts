// #13 part 3: a rate-limited task whose agent said when its limit resets waits exactly until then (persisted, so a
// reload keeps the wait) and resumes its session, without using up one of its three attempts — and never loops.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { MAX_RESET_WAITS } from '../../../src/core/failover';
import type { AccountLimits, RunOutcome } from '../../../src/core/ports';
import { defaultAccountKey } from '../../../src/core/profiles';
import { FakeClock, Harness, ProgrammableProvider, readStateJson, removeTempDirs, settle } from '../../support/core-harness';

after(removeTempDirs);

const HOUR = 3_600_000;

/** A provider that, on each run, starts a session, reports limits and then answers `verdict(attempt)`. */
function quotaProvider(clock: FakeClock, verdict: (attempt: number, continued: boolean) => RunOutcome): ProgrammableProvider & { continued: boolean[] } {
  const continued: boolean[] = [];
  const provider = new ProgrammableProvider(
    'quota',
    async (context, handle, attempt): Promise<RunOutcome> => {
      continued.push(Boolean(context.task.continueSession && context.task.sessionId === 'session-1'));
      handle.setSessionId('session-1');
      const limits: AccountLimits = { at: clock.now(), limitId: 'quota', status: 'allowed', windows: [{ id: 'primary', usedPercent: 42, windowMinutes: 300, resetsAt: clock.now() + 2 * HOUR }] };
      handle.reportLimits?.(limits);
      return verdict(attempt, continued.at(-1)!);
    },
    clock,
  );
  return Object.assign(provider, { continued });
}

describe('quota-aware waiting', () => {
  test('a reported reset time: the task waits until then, keeps its attempts and resumes its session', async () => {
    const clock = new FakeClock();
    const resetsAt = clock.now() + 2 * HOUR;
    const provider = quotaProvider(clock, (attempt) => (attempt === 1 ? { status: 'rate_limited', error: 'usage limit reached', resetsAt, retryAfterMs: 2 * HOUR } : { status: 'completed', result: 'resumed after the reset' }));
    const h = new Harness({ clock, providers: [provider], settings: { defaultProvider: 'quota' } });
    try {
      const task = await h.create('work');
      const waiting = await h.waitForStatus(task.id, 'rate_limited');
      assert.equal(waiting.retryAt, resetsAt);
      assert.equal(waiting.rateLimitAttempts ?? 0, 0, 'a known reset is not a guess: no attempt used');
      assert.ok(h.texts(task.id).some((text) => text.startsWith('[rate limit] The limit resets at')), h.texts(task.id).join('\n'));
      await clock.advance(2 * HOUR - 1000);
      assert.equal(h.status(task.id), 'rate_limited', 'not a second early');
      await clock.advance(1000);
      const done = await h.waitForStatus(task.id, 'completed');
      assert.equal(done.result, 'resumed after the reset');
      assert.deepEqual(provider.continued, [false, true], 'the second run continues session-1');
    } finally {
      await h.dispose();
    }
  });

  test('a reload during the wait keeps it: still rate limited until the reset, then resumed', async () => {
    const clock = new FakeClock();
    const resetsAt = clock.now() + HOUR;
    const outcome = (attempt: number): RunOutcome => (attempt === 1 ? { status: 'rate_limited', error: 'usage limit reached', resetsAt } : { status: 'completed', result: 'ok' });
    const first = new Harness({ clock, providers: [quotaProvider(clock, outcome)], settings: { defaultProvider: 'quota' } });
    const task = await first.create('work');
    await first.waitForStatus(task.id, 'rate_limited');
    await first.flush();
    assert.equal(readStateJson(first.dir).tasks[0].retryAt, resetsAt, 'the wait is persisted');
    await clock.advance(10 * 60_000);
    await first.dispose();
    // The new window's provider has run nothing yet: its attempt 1 is the resumed run.
    const provider = quotaProvider(clock, () => ({ status: 'completed', result: 'resumed after reload' }));
    const second = new Harness({ dir: first.dir, clock, restore: true, providers: [provider], settings: { defaultProvider: 'quota' } });
    try {
      await settle();
      assert.equal(second.status(task.id), 'rate_limited');
      assert.equal(second.task(task.id).retryAt, resetsAt);
      assert.ok(second.texts(task.id).some((text) => text.startsWith('[recovery] Still rate limited after the window reloaded; resumes at')));
      assert.equal(provider.runs.length, 0);
      await clock.advance(resetsAt - clock.now());
      const done = await second.waitForStatus(task.id, 'completed');
      assert.equal(done.result, 'resumed after reload');
      assert.deepEqual(provider.continued, [true]);
    } finally {
      await second.dispose();
    }
  });

  test(`reset times that keep coming are waited for at most ${MAX_RESET_WAITS} times, then they count as attempts: never a loop`, async () => {
    const clock = new FakeClock();
    const provider = quotaProvider(clock, () => ({ status: 'rate_limited', error: 'still limited', resetsAt: clock.now() + 60_000 }));
    const h = new Harness({ clock, providers: [provider], settings: { defaultProvider: 'quota' } });
    try {
      const task = await h.create('work');
      for (let i = 0; i < 20 && h.status(task.id) !== 'failed'; i++) {
        await h.waitForStatus(task.id, 'rate_limited').catch(() => undefined);
        await clock.advance(60_000);
        await settle();
      }
      const failed = await h.waitForStatus(task.id, 'failed');
      assert.match(failed.error ?? '', /Rate limited 3 times; giving up/);
      assert.equal(provider.runs.length, MAX_RESET_WAITS + 3);
    } finally {
      await h.dispose();
    }
  });

  test('a reset time already past is a guess like any other: it uses an attempt', async () => {
    const clock = new FakeClock();
    const provider = quotaProvider(clock, (attempt) => (attempt === 1 ? { status: 'rate_limited', error: 'slow down', resetsAt: clock.now() - 1 } : { status: 'completed' }));
    const h = new Harness({ clock, providers: [provider], settings: { defaultProvider: 'quota' } });
    try {
      const task = await h.create('work');
      const waiting = await h.waitForStatus(task.id, 'rate_limited');
      assert.equal(waiting.rateLimitAttempts, 1);
      assert.ok(h.texts(task.id).includes('[rate limit] slow down (attempt 1 of 3)'));
    } finally {
      await h.dispose();
    }
  });

  test('each account keeps its last reported usage and limits, persisted across a reload', async () => {
    const clock = new FakeClock();
    const profiles = [{ id: 'work', provider: 'quota' }];
    const first = new Harness({ clock, profiles, providers: [quotaProvider(clock, () => ({ status: 'completed' }))], settings: { defaultProvider: 'quota' } });
    const task = await first.create('work');
    await first.waitForStatus(task.id, 'completed');
    assert.equal(first.profiles.limitsOf('work')?.windows[0].usedPercent, 42);
    assert.equal(first.profiles.limitsOf(defaultAccountKey('quota')), undefined, 'the task ran on the profile, not the default account');
    await first.dispose();
    const second = new Harness({ dir: first.dir, clock, restore: true, profiles, providers: [quotaProvider(clock, () => ({ status: 'completed' }))] });
    try {
      assert.deepEqual(second.profiles.limitsOf('work')?.windows[0], { id: 'primary', usedPercent: 42, windowMinutes: 300, resetsAt: clock.now() + 2 * HOUR });
      assert.deepEqual(second.profiles.accounts().map((account) => account.key), ['work']);
    } finally {
      await second.dispose();
    }
  });
});
