import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { BASE_COOLDOWN_MS, MAX_COOLDOWN_MS, ProfileManager } from '../../../src/core/profiles';
import { MAX_RATE_LIMITED_ATTEMPTS } from '../../../src/core/task-manager';
import type { RunOutcome } from '../../../src/core/ports';
import { FakeClock, Harness, ProgrammableProvider, readStateJson, removeTempDirs } from '../../support/core-harness';

after(removeTempDirs);

const SECRET = 'sk-live-DO-NOT-PERSIST-4242';
const PROFILES = [
  { id: 'A', provider: 'scripted', configDir: '/home/me/.scripted-a', env: { API_KEY: SECRET } },
  { id: 'B', provider: 'scripted', env: { API_KEY: `${SECRET}-b` } },
  { id: 'elsewhere', provider: 'codex' },
];

async function withHarness(body: (h: Harness) => Promise<void>, options: ConstructorParameters<typeof Harness>[0] = {}): Promise<void> {
  const h = new Harness({ profiles: PROFILES, ...options });
  try {
    await body(h);
  } finally {
    await h.dispose();
  }
}

/** A provider `limits` whose runs answer from a table per profile: a Retry-After in ms, 'no-retry-after', or done. */
function limiter(clock: FakeClock, plan: (profile: string | undefined, attempt: number) => number | 'no-retry-after' | 'done'): ProgrammableProvider {
  return new ProgrammableProvider(
    'limits',
    async (context, _handle, attempt): Promise<RunOutcome> => {
      const verdict = plan(context.profile?.id, attempt);
      if (verdict === 'done') return { status: 'completed', result: `done on ${context.profile?.id}` };
      return { status: 'rate_limited', error: `429 Too Many Requests on ${context.profile?.id}`, retryAfterMs: verdict === 'no-retry-after' ? undefined : verdict };
    },
    clock,
  );
}

const LIMIT_PROFILES = [
  { id: 'A', provider: 'limits', env: { API_KEY: SECRET } },
  { id: 'B', provider: 'limits' },
];

describe('failover (DESIGN §3a)', () => {
  test('429 on profile A → rate_limited → [failover] entry → runs on B → completed', () =>
    withHarness(async (h) => {
      const task = await h.create('rate-limit-once: 429 slow down; done: finished on B');
      const done = await h.waitForStatus(task.id, 'completed');
      assert.equal(done.result, 'finished on B');
      assert.equal(done.profile, 'B');
      assert.deepEqual(done.triedProfiles, ['A']);
      assert.deepEqual(h.statusesOf(task.id), ['pending', 'running', 'rate_limited', 'pending', 'running', 'completed']);
      assert.deepEqual(h.scripted!.runsOf(task.id).map((run) => run.profile), ['A', 'B']);
      const texts = h.texts(task.id);
      assert.ok(texts.includes('[rate limit] 429 slow down (attempt 1 of 3)'), texts.join('\n'));
      assert.ok(texts.includes('[failover] A is rate limited; moving to profile B'), texts.join('\n'));
      assert.ok(h.profiles.isCoolingDown('A'));
      assert.equal(h.profiles.state('A').cooldownUntil, h.clock.now() + 60_000);
      assert.equal(h.profiles.isCoolingDown('B'), false);
    }));

  test('the adapter gets the profile\'s env, with configDir folded in for known providers', () => {
    const profiles = new ProfileManager(() => 0);
    profiles.setConfigs([{ id: 'c', provider: 'codex', configDir: '/x', env: { K: 'v' } }, { id: 'c', provider: 'dup' }]);
    assert.deepEqual(profiles.resolve(profiles.get('c')!), { id: 'c', provider: 'codex', configDir: '/x', env: { K: 'v', CODEX_HOME: '/x' } });
    assert.deepEqual(profiles.configsFor('dup'), [], 'a duplicate id is ignored');
    return withHarness(async (h) => {
      const task = await h.create('done: ok');
      await h.waitForStatus(task.id, 'completed');
      assert.deepEqual(h.scripted!.runsOf(task.id)[0].profileEnv, { API_KEY: SECRET });
    });
  });

  test('a new task starts on the first profile that is not cooling down', () =>
    withHarness(async (h) => {
      h.profiles.markRateLimited('A', 'busy', 60_000);
      const task = await h.create('done: ok');
      await h.waitForStatus(task.id, 'completed');
      assert.equal(h.task(task.id).profile, 'B');
    }));

  test('all profiles cooling down → waits for the earliest cooldown, then retries there', () => {
    const clock = new FakeClock();
    const provider = limiter(clock, (profile, attempt) => (attempt === 1 && profile === 'A' ? 120_000 : attempt === 2 && profile === 'B' ? 30_000 : 'done'));
    return withHarness(
      async (h) => {
        const task = await h.create('work', { provider: 'limits' });
        await h.waitForStatus(task.id, 'rate_limited');
        await h.until(() => provider.runs.length === 2 && h.status(task.id) === 'rate_limited', 'both profiles tried');
        const start = provider.runs[0].at;
        assert.deepEqual(provider.runs.map((run) => run.profile), ['A', 'B']);
        assert.ok(h.texts(task.id).some((text) => text.startsWith('[rate limit] Retrying at') && text.endsWith('on profile B')), h.texts(task.id).join('\n'));
        await clock.advance(29_999);
        assert.equal(h.status(task.id), 'rate_limited');
        assert.equal(provider.runs.length, 2, 'no run before the cooldown ends');
        await clock.advance(1);
        const done = await h.waitForStatus(task.id, 'completed');
        assert.equal(done.result, 'done on B');
        assert.deepEqual(provider.runs.map((run) => [run.profile, run.at - start]), [['A', 0], ['B', 0], ['B', 30_000]]);
        assert.equal(h.texts(task.id).filter((text) => text.startsWith('[failover]')).length, 1, 'each profile at most once');
      },
      { clock, profiles: LIMIT_PROFILES, providers: [provider] },
    );
  });

  test(`at most ${MAX_RATE_LIMITED_ATTEMPTS} rate-limited attempts in all, then failed with the reason`, () => {
    const clock = new FakeClock();
    const provider = limiter(clock, () => 1_000);
    return withHarness(
      async (h) => {
        const task = await h.create('work', { provider: 'limits' });
        await h.until(() => provider.runs.length === 2, 'the failover run');
        await clock.advance(1_000);
        const failed = await h.waitForStatus(task.id, 'failed');
        assert.equal(provider.runs.length, 3);
        assert.equal(failed.rateLimitAttempts, 3);
        assert.match(failed.error!, /^Rate limited 3 times; giving up\. Last error: 429 Too Many Requests on [AB]$/);
        assert.ok(h.texts(task.id).includes('[rate limit] 429 Too Many Requests on A (attempt 1 of 3)'));
        await clock.advance(3_600_000);
        assert.equal(provider.runs.length, 3, 'never a loop');
      },
      { clock, profiles: LIMIT_PROFILES, providers: [provider] },
    );
  });

  test('without any profile, a rate-limited task waits and retries, at most 3 attempts', () => {
    const clock = new FakeClock();
    const provider = limiter(clock, () => 'no-retry-after');
    return withHarness(
      async (h) => {
        const task = await h.create('work', { provider: 'limits' });
        await h.waitForStatus(task.id, 'rate_limited');
        await clock.advance(30_000);
        await h.until(() => provider.runs.length === 2, 'the second attempt after 30 s');
        await clock.advance(59_999);
        assert.equal(provider.runs.length, 2);
        await clock.advance(1);
        await h.waitForStatus(task.id, 'failed');
        const start = provider.runs[0].at;
        assert.deepEqual(provider.runs.map((run) => run.at - start), [0, 30_000, 90_000]);
      },
      { clock, profiles: [], providers: [provider] },
    );
  });
});

describe('a pinned profile', () => {
  test('only waits and retries on itself, never fails over', () => {
    const clock = new FakeClock();
    const provider = limiter(clock, (_profile, attempt) => (attempt === 1 ? 10_000 : 'done'));
    return withHarness(
      async (h) => {
        const task = await h.create('work', { provider: 'limits', profile: 'A' });
        await h.waitForStatus(task.id, 'rate_limited');
        assert.equal(h.task(task.id).profilePinned, true);
        await clock.advance(9_999);
        assert.equal(h.status(task.id), 'rate_limited');
        await clock.advance(1);
        const done = await h.waitForStatus(task.id, 'completed');
        assert.equal(done.result, 'done on A');
        assert.deepEqual(provider.runs.map((run) => run.profile), ['A', 'A']);
        assert.ok(!h.texts(task.id).some((text) => text.startsWith('[failover]')));
        assert.ok(h.texts(task.id).some((text) => text.startsWith('[rate limit] Retrying at') && text.endsWith('on profile A')));
        assert.equal(h.profiles.isCoolingDown('A'), false, 'a success ends the cooldown');
      },
      { clock, profiles: LIMIT_PROFILES, providers: [provider] },
    );
  });

  test('fails after 3 attempts on itself, B untouched', () => {
    const clock = new FakeClock();
    const provider = limiter(clock, () => 5_000);
    return withHarness(
      async (h) => {
        const task = await h.create('work', { provider: 'limits', profile: 'B' });
        await h.waitForStatus(task.id, 'rate_limited');
        await clock.advance(5_000);
        await h.until(() => provider.runs.length === 2 && h.status(task.id) === 'rate_limited', 'the second attempt');
        await clock.advance(5_000);
        await h.waitForStatus(task.id, 'failed');
        assert.deepEqual(provider.runs.map((run) => run.profile), ['B', 'B', 'B']);
        assert.equal(h.profiles.state('A').failureCount, 0);
      },
      { clock, profiles: LIMIT_PROFILES, providers: [provider] },
    );
  });
});

describe('cooldowns', () => {
  test('Retry-After is honoured; otherwise exponential from 30 s, capped', () => {
    let now = 1_000_000;
    const profiles = new ProfileManager(() => now);
    profiles.setConfigs([{ id: 'A', provider: 'codex' }]);
    assert.equal(profiles.markRateLimited('A', 'retry after', 7_000), now + 7_000);
    profiles.markSucceeded('A');
    assert.equal(profiles.isCoolingDown('A'), false);
    const waits = [1, 2, 3, 4, 5, 6, 7, 8].map(() => profiles.markRateLimited('A', 'no header') - now);
    assert.deepEqual(waits, [30_000, 60_000, 120_000, 240_000, 480_000, 960_000, MAX_COOLDOWN_MS, MAX_COOLDOWN_MS]);
    assert.equal(BASE_COOLDOWN_MS, 30_000);
    assert.equal(profiles.state('A').lastFailureReason, 'no header');
    now += MAX_COOLDOWN_MS;
    assert.equal(profiles.isCoolingDown('A'), false, 'a cooldown ends on time');
  });

  test('through the manager: a Retry-After reported by the adapter sets the cooldown; none → 30 s, then 60 s', () => {
    const clock = new FakeClock();
    const provider = limiter(clock, (_profile, attempt) => (attempt === 1 ? 'no-retry-after' : attempt === 2 ? 'no-retry-after' : 'done'));
    return withHarness(
      async (h) => {
        const start = clock.now();
        const task = await h.create('work', { provider: 'limits', profile: 'A' });
        await h.waitForStatus(task.id, 'rate_limited');
        assert.equal(h.profiles.state('A').cooldownUntil, start + 30_000);
        await clock.advance(30_000);
        await h.until(() => provider.runs.length === 2 && h.status(task.id) === 'rate_limited', 'the second attempt');
        assert.equal(h.profiles.state('A').cooldownUntil, start + 30_000 + 60_000);
        await clock.advance(60_000);
        await h.waitForStatus(task.id, 'completed');
      },
      { clock, profiles: LIMIT_PROFILES, providers: [provider] },
    );
  });

  test('cooldowns are persisted in state.json and restored; no profile env ever reaches state.json or transcripts', async () => {
    const clock = new FakeClock();
    const first = new Harness({ clock, profiles: PROFILES });
    const task = await first.create('rate-limit-once: 429; done: ok');
    await first.waitForStatus(task.id, 'completed');
    await first.flush();
    const until = first.profiles.state('A').cooldownUntil!;
    const state = readStateJson(first.dir);
    assert.deepEqual(state.profiles.A, { failureCount: 1, cooldownUntil: until, lastFailureReason: '429' });
    const everything = fs.readFileSync(path.join(first.dir, 'state.json'), 'utf8') + fs.readFileSync(first.manager.transcriptPath(task.id)!, 'utf8');
    assert.ok(!everything.includes(SECRET), 'the API key is not on disk');
    assert.ok(!everything.includes('API_KEY'));
    assert.ok(!everything.includes('"env"'));

    const second = await first.reload({ profiles: PROFILES });
    try {
      assert.equal(second.profiles.state('A').cooldownUntil, until);
      assert.ok(second.profiles.isCoolingDown('A'));
      const next = await second.create('done: ok');
      await second.waitForStatus(next.id, 'completed');
      assert.equal(second.task(next.id).profile, 'B', 'the restored cooldown still steers new tasks');
    } finally {
      await second.dispose();
    }
  });

  test('rate-limit info an adapter reports is kept with the profile (and saved)', () => {
    const clock = new FakeClock();
    const provider = new ProgrammableProvider(
      'limits',
      async (_context, handle) => {
        handle.reportRateLimitInfo({ primary: { usedPercent: 87 } });
        return { status: 'completed' };
      },
      clock,
    );
    return withHarness(
      async (h) => {
        const task = await h.create('x', { provider: 'limits' });
        await h.waitForStatus(task.id, 'completed');
        await h.flush();
        assert.deepEqual(readStateJson(h.dir).profiles.A, { failureCount: 0, rateLimitInfo: { primary: { usedPercent: 87 } } });
      },
      { clock, profiles: LIMIT_PROFILES, providers: [provider] },
    );
  });
});
