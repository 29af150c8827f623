/**
 * DESIGN §3a with the real Codex CLI: the TaskManager and CodexProvider together, each profile's CODEX_HOME pointing
 * at its own mock Responses server. A 429 on profile A fails over to profile B, which completes; with a single
 * (pinned) profile the task is retried on it and fails after three rate-limited attempts. The manager's cooldown
 * timers run on a fake clock so the test does not wait for real cooldowns; Codex itself runs in real time.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CodexProvider } from '../../src/providers/codex';
import { writeCodexHome } from '../fixtures/mock-responses/codex-home';
import { startMockResponsesServer, type MockResponsesServer } from '../fixtures/mock-responses/server';
import { Harness, removeTempDirs } from '../support/core-harness';
import { pinnedCodexBinary, processesUnder } from '../support/codex-harness';

const TIMEOUT = 120_000;

describe('Codex rate limits through the task manager (real codex)', { timeout: TIMEOUT * 2 }, () => {
  let limited: MockResponsesServer;
  let healthy: MockResponsesServer;
  let root: string;
  let cwd: string;
  const homes: Record<string, string> = {};

  before(async () => {
    limited = await startMockResponsesServer({ chooseScenario: () => 'rate-limit' });
    healthy = await startMockResponsesServer({ plainReply: () => 'Done on the second account.' });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cx-fo-'));
    cwd = path.join(root, 'ws');
    fs.mkdirSync(cwd);
    homes.a = path.join(root, 'home-a');
    homes.b = path.join(root, 'home-b');
    await writeCodexHome(homes.a, { port: limited.port, cwd });
    await writeCodexHome(homes.b, { port: healthy.port, cwd });
  });

  after(async () => {
    await limited?.close();
    await healthy?.close();
    for (const pid of processesUnder(root)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    fs.rmSync(root, { recursive: true, force: true });
    removeTempDirs();
  });

  function harness(profiles: { id: string; home: string }[]): { harness: Harness; provider: CodexProvider } {
    const provider = new CodexProvider({
      codexPath: () => pinnedCodexBinary(),
      workspacePath: cwd,
      socketDir: path.join(root, `s${profiles.length}`),
      log: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
      idleShutdownMs: 0,
      flushIntervalMs: 0,
    });
    const h = new Harness({
      cwd,
      scripted: false,
      providers: [provider],
      settings: { defaultProvider: 'codex' },
      profiles: profiles.map(({ id, home }) => ({ id, provider: 'codex', configDir: home, env: { MOCK_API_KEY: 'test-key' } })),
    });
    return { harness: h, provider };
  }

  it('429 on the first profile → rate_limited → [failover] → completed on the second', { timeout: TIMEOUT }, async () => {
    const { harness: h, provider } = harness([{ id: 'a', home: homes.a }, { id: 'b', home: homes.b }]);
    try {
      const task = await h.create('Say hello');
      const done = await h.waitForStatus(task.id, 'completed', TIMEOUT - 10_000);
      assert.deepEqual(h.statusesOf(task.id), ['pending', 'running', 'rate_limited', 'pending', 'running', 'completed']);
      assert.equal(done.profile, 'b');
      assert.equal(done.result, 'Done on the second account.');
      assert.ok(h.texts(task.id).some((text) => text.startsWith('[failover] a is rate limited; moving to profile b')));
      assert.ok(h.profiles.isCoolingDown('a', h.clock.now()), 'profile a cools down');
      assert.equal(limited.requests.length >= 1, true);
    } finally {
      await h.dispose();
      await provider.shutdown();
    }
  });

  it('a pinned profile that stays rate limited is retried on itself and fails after 3 attempts', { timeout: TIMEOUT }, async () => {
    const { harness: h, provider } = harness([{ id: 'a', home: homes.a }, { id: 'b', home: homes.b }]);
    try {
      const healthyBefore = healthy.requests.length;
      const task = await h.create('Say hello', { profile: 'a' });
      for (let attempt = 1; attempt < 3; attempt++) {
        await h.until(() => h.task(task.id).rateLimitAttempts === attempt && h.status(task.id) === 'rate_limited', `attempt ${attempt}`, TIMEOUT / 4);
        // The cooldown (30 s, then 60 s: no Retry-After from Codex) passes on the manager's clock.
        while (h.status(task.id) === 'rate_limited' && h.clock.nextDue() !== undefined) await h.clock.advance(h.clock.nextDue()! - h.clock.now());
      }
      const failed = await h.waitForStatus(task.id, 'failed', TIMEOUT / 4);
      assert.match(failed.error ?? '', /^Rate limited 3 times; giving up\. Last error: .*429/);
      assert.equal(failed.profile, 'a', 'a pinned task never moves to another profile');
      assert.ok(!h.texts(task.id).some((text) => text.startsWith('[failover]')));
      assert.equal(healthy.requests.length, healthyBefore, 'profile b was never used');
      assert.equal(h.statusesOf(task.id).filter((status) => status === 'rate_limited').length, 3);
    } finally {
      await h.dispose();
      await provider.shutdown();
    }
  });
});
