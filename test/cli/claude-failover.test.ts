/**
 * DESIGN §3a with the real Claude Code CLI through the task manager: each profile's env points the CLI at its own
 * mock Anthropic server. A 429 on profile A (after the CLI's one retry) fails over to profile B, which completes; a
 * pinned profile is retried on itself and fails after three rate-limited attempts. Cooldowns run on a fake clock.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClaudeProvider } from '../../src/providers/claude';
import { startMockAnthropicServer, type MockAnthropicServer } from '../fixtures/mock-anthropic/server';
import { Harness, removeTempDirs } from '../support/core-harness';

const CLAUDE = path.resolve(__dirname, '../../node_modules/.bin/claude');
const TIMEOUT = 120_000;

describe('Claude Code rate limits through the task manager (real claude)', { timeout: TIMEOUT * 2 }, () => {
  let limited: MockAnthropicServer;
  let healthy: MockAnthropicServer;
  let root: string;
  let cwd: string;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cl-fo-'));
    cwd = path.join(root, 'ws');
    fs.mkdirSync(cwd);
    limited = await startMockAnthropicServer({ cwd, chooseScenario: () => 'rate-limit' });
    healthy = await startMockAnthropicServer({ cwd, plainReply: () => 'Done on the second account.' });
  });

  after(async () => {
    await limited?.close();
    await healthy?.close();
    fs.rmSync(root, { recursive: true, force: true });
    removeTempDirs();
  });

  function harness(): Harness {
    const provider = new ClaudeProvider({ claudePath: () => CLAUDE, log: { trace() {}, debug() {}, info() {}, warn() {}, error() {} }, flushIntervalMs: 0 });
    const profile = (id: string, server: MockAnthropicServer) => ({
      id,
      provider: 'claude-cli',
      configDir: path.join(root, `home-${id}`),
      env: { ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'dummy' },
    });
    return new Harness({
      cwd,
      scripted: false,
      providers: [provider],
      settings: { defaultProvider: 'claude-cli' },
      profiles: [profile('a', limited), profile('b', healthy)],
    });
  }

  it('429 on the first profile → rate_limited → [failover] → completed on the second', { timeout: TIMEOUT }, async () => {
    const h = harness();
    try {
      const task = await h.create('Say hello');
      const done = await h.waitForStatus(task.id, 'completed', TIMEOUT - 10_000);
      assert.deepEqual(h.statusesOf(task.id), ['pending', 'running', 'rate_limited', 'pending', 'running', 'completed']);
      assert.equal(done.profile, 'b');
      assert.match(done.result ?? '', /Done on the second account\./);
      assert.ok(h.texts(task.id).some((text) => text.startsWith('[failover] a is rate limited; moving to profile b')));
      assert.ok(h.profiles.isCoolingDown('a', h.clock.now()), 'profile a cools down');
    } finally {
      await h.dispose();
    }
  });

  it('a pinned profile that stays rate limited is retried on itself and fails after 3 attempts', { timeout: TIMEOUT }, async () => {
    const h = harness();
    try {
      const healthyBefore = healthy.requests.length;
      const task = await h.create('Say hello', { profile: 'a' });
      for (let attempt = 1; attempt < 3; attempt++) {
        await h.until(() => h.task(task.id).rateLimitAttempts === attempt && h.status(task.id) === 'rate_limited', `attempt ${attempt}`, TIMEOUT / 4);
        while (h.status(task.id) === 'rate_limited' && h.clock.nextDue() !== undefined) await h.clock.advance(h.clock.nextDue()! - h.clock.now());
      }
      const failed = await h.waitForStatus(task.id, 'failed', TIMEOUT / 4);
      assert.match(failed.error ?? '', /^Rate limited 3 times; giving up\./);
      assert.equal(failed.profile, 'a');
      assert.equal(healthy.requests.length, healthyBefore, 'profile b was never used');
    } finally {
      await h.dispose();
    }
  });
});
