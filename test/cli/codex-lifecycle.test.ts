/**
 * The Codex app-server's life around tasks: cancel, concurrency in one server, a crash with an approval pending,
 * reattaching after a window reload, idle shutdown, a stale socket, a missing executable, and a socket directory that is not ours (L7).
 */
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startMockResponsesServer, type MockResponsesServer } from '../fixtures/mock-responses/server';
import { makeContext, makeTask } from '../support/fake-handle';
import type { TaskState } from '../../src/core/task-state';
import { appServersUnder, createTestBed, type CodexTestBed } from '../support/codex-harness';

let mock: MockResponsesServer;
before(async () => {
  mock = await startMockResponsesServer();
});
after(async () => {
  await mock.close();
});

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('Codex provider: app-server lifecycle', () => {
  let bed: CodexTestBed;
  beforeEach(async () => {
    bed = await createTestBed(mock, { name: 'life' });
  });
  afterEach(async () => {
    await bed.cleanup();
  });

  function run(prompt: string, overrides: Partial<TaskState> = {}) {
    return makeContext(makeTask({ prompt, cwd: bed.cwd, ...overrides }), { profile: bed.profile, log: bed.log });
  }

  test('cancel mid-turn interrupts the turn; the app-server stays up for the next task', async () => {
    const provider = bed.createProvider();
    const first = run('Please hang');
    const outcome = provider.start(first.context, first.handle);
    await first.handle.waitForEntry((entry) => entry.kind === 'agent' && entry.text.includes('Working on it'));
    const pid = provider.serverFor(bed.profile).pid;
    const cancelledAt = Date.now();
    first.controller.abort('cancelled');
    assert.deepEqual(await outcome, { status: 'aborted' });
    assert.ok(Date.now() - cancelledAt < 2000, 'Codex confirms the interrupt promptly');
    assert.ok(alive(pid));

    const second = run('Say hello');
    assert.equal((await provider.start(second.context, second.handle)).status, 'completed');
    assert.equal(provider.serverFor(bed.profile).pid, pid, 'the same app-server ran the next task');
  });

  test('cancel (or timeout) while an approval is pending runs nothing', async () => {
    const provider = bed.createProvider();
    const { context, handle, controller } = run('Please run-approval');
    const outcome = provider.start(context, handle);
    await handle.waitForQuestion();
    controller.abort('timed_out');
    assert.deepEqual(await outcome, { status: 'aborted' });
    assert.equal(handle.pendingQuestions.length, 0);
    assert.ok(!fs.existsSync(path.join(bed.cwd, 'approved.txt')));
  });

  test('two tasks run concurrently in one app-server', async () => {
    const provider = bed.createProvider();
    const a = run('Please slow A');
    const b = run('Please slow B');
    const [first, second] = await Promise.all([provider.start(a.context, a.handle), provider.start(b.context, b.handle)]);
    assert.equal(first.status, 'completed');
    assert.equal(second.status, 'completed');
    assert.notEqual(a.handle.sessionId, b.handle.sessionId);
    assert.equal(appServersUnder(bed.root).length, 1, 'one app-server process hosts both threads');
    const [requestA, requestB] = [a, b].map(({ handle }) => mock.requests.find((request) => request.threadKey === handle.sessionId)!);
    assert.ok(requestA.at < requestB.endedAt! && requestB.at < requestA.endedAt!, 'the two model requests streamed at the same time');
    assert.equal(a.handle.transcript.filter((entry) => entry.kind === 'agent').length, 1);
    assert.equal(b.handle.transcript.filter((entry) => entry.kind === 'agent').length, 1);
  });

  test('two windows on one workspace starting at once share one app-server', async () => {
    const windowA = bed.createProvider();
    const windowB = bed.createProvider();
    const a = run('Say hello');
    const b = run('Say hello');
    const outcomes = await Promise.all([windowA.start(a.context, a.handle), windowB.start(b.context, b.handle)]);
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['completed', 'completed']);
    assert.equal(appServersUnder(bed.root).length, 1);
    assert.deepEqual([windowA, windowB].map((provider) => provider.serverFor(bed.profile).reused).sort(), [false, true]);
  });

  test('the app-server killed while an approval is pending: the run fails with its log, resume() continues in a new server', async () => {
    const provider = bed.createProvider();
    const { context, handle } = run('Please run-approval');
    const outcome = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    const pid = provider.serverFor(bed.profile).pid!;
    process.kill(pid, 'SIGKILL');
    const failed = await outcome;
    assert.equal(failed.status, 'failed');
    assert.ok(failed.status === 'failed');
    assert.match(failed.error, /codex app-server exited \(signal SIGKILL\):\n\S/, 'the error carries the tail of its log');
    assert.deepEqual(handle.withdrawn.map((entry) => entry.requestId), [question.requestId]);

    // The host restarts: the manager resumes the task from its persisted provider state.
    const restored = run('Please run-approval', { sessionId: handle.sessionId, providerState: handle.providerState });
    const resumed = await bed.createProvider().resume(restored.context, restored.handle);
    assert.equal(resumed.status, 'completed');
    const recovery = restored.handle.transcript.find((entry) => entry.text.startsWith('[recovery]'));
    assert.match(recovery?.text ?? '', /app-server had stopped.*Resumed thread/);
    assert.equal(restored.handle.sessionId, handle.sessionId);
    assert.notEqual(restored.handle.providerState?.turnId, handle.providerState?.turnId, 'a new turn continued the thread');
    assert.notEqual(bed.createProvider().serverFor(bed.profile).pid, pid);
    const [newPid] = appServersUnder(bed.root);
    assert.ok(newPid !== undefined && newPid !== pid, 'a new app-server runs the thread');
  });

  test('reattach after a window reload: the pending approval is asked again and completes the turn', async () => {
    const first = bed.createProvider();
    const before = run('Please run-approval');
    const outcome = first.start(before.context, before.handle);
    const question = await before.handle.waitForQuestion();
    const pid = first.serverFor(bed.profile).pid;
    // Deactivate: the manager aborts runs with 'shutdown' and disposes the provider; the server keeps running.
    before.controller.abort('shutdown');
    await first.dispose();
    assert.deepEqual(await outcome, { status: 'aborted' });
    assert.ok(alive(pid), 'the detached app-server survived the reload');

    const second = bed.createProvider();
    const after = run('Please run-approval', { sessionId: before.handle.sessionId, providerState: before.handle.providerState });
    const resumed = second.resume(after.context, after.handle);
    const again = await after.handle.waitForQuestion();
    assert.equal(again.requestId, question.requestId, 'the same approval, under the same id');
    assert.ok(again.type === 'command_approval');
    assert.equal(again.command, 'touch approved.txt && echo made');
    after.handle.answer(again.requestId, { decision: 'approve' });
    const result = await resumed;
    assert.equal(result.status, 'completed');
    assert.ok(fs.existsSync(path.join(bed.cwd, 'approved.txt')));
    assert.equal(second.serverFor(bed.profile).pid, pid, 'no new server was started');
    assert.match(after.handle.transcript.find((entry) => entry.text.startsWith('[recovery]'))?.text ?? '', /Reattached to the running Codex app-server/);
  });

  test('reattach with a file approval pending: the re-asked question still carries the exact diff', async () => {
    const policy = { threadPolicy: () => ({ approvalPolicy: 'untrusted' as const }) };
    const first = bed.createProvider(policy);
    const before = run('Please file-approval');
    const outcome = first.start(before.context, before.handle);
    const question = await before.handle.waitForQuestion();
    before.controller.abort('shutdown');
    await first.dispose();
    await outcome;

    const after = run('Please file-approval', { sessionId: before.handle.sessionId, providerState: before.handle.providerState });
    const resumed = bed.createProvider(policy).resume(after.context, after.handle);
    const again = await after.handle.waitForQuestion();
    assert.deepEqual({ ...again, askedAt: 0 }, { ...question, askedAt: 0 });
    assert.ok(again.type === 'file_approval' && again.fileChanges.length === 1);
    after.handle.answer(again.requestId, { decision: 'approve' });
    assert.equal((await resumed).status, 'completed');
    assert.equal(fs.readFileSync(path.join(bed.cwd, 'hello.txt'), 'utf8'), 'hello world\n');
  });

  test('resume() of a turn that finished while the window was away reports its result', async () => {
    const first = bed.createProvider();
    const before = run('Please slow');
    const outcome = first.start(before.context, before.handle);
    await before.handle.waitForEntry((entry) => entry.kind === 'agent');
    before.controller.abort('shutdown');
    await first.dispose();
    await outcome;
    const request = mock.requests.find((candidate) => candidate.threadKey === before.handle.sessionId)!;
    await until(() => request.endedAt !== undefined);
    await new Promise((resolve) => setTimeout(resolve, 300)); // Codex records the completed turn

    const after = run('Please slow', { sessionId: before.handle.sessionId, providerState: before.handle.providerState });
    const result = await bed.createProvider().resume(after.context, after.handle);
    assert.deepEqual(result, { status: 'completed', result: 'This reply takes a while to arrive, one piece after another.' });
    assert.match(after.handle.transcript[0]?.text ?? '', /^\[recovery\] Resumed thread .* the turn had already ended \(completed\)/);
  });

  test('an idle app-server stops by itself', async () => {
    const provider = bed.createProvider({ idleShutdownMs: 300 });
    const { context, handle } = run('Say hello');
    assert.equal((await provider.start(context, handle)).status, 'completed');
    const server = provider.serverFor(bed.profile);
    const pid = server.pid;
    await until(() => !alive(pid));
    assert.ok(!fs.existsSync(server.socketPath));
  });

  test('with no window attached for keepRunningMinutes, the watchdog stops the app-server and itself', async () => {
    const provider = bed.createProvider({ keepRunningMinutes: () => 0.03 });
    const { context, handle } = run('Say hello');
    assert.equal((await provider.start(context, handle)).status, 'completed');
    const server = provider.serverFor(bed.profile);
    const pid = server.pid;
    const metadata = JSON.parse(fs.readFileSync(server.metadataPath, 'utf8')) as { watchdogPid: number };
    assert.ok(alive(metadata.watchdogPid));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.ok(alive(pid), 'a connected window keeps it running');
    await provider.dispose(); // the window closes
    await until(() => !alive(pid), 10_000);
    await until(() => !alive(metadata.watchdogPid), 5000);
  });

  test('a stale socket file is replaced by a new server', async () => {
    const provider = bed.createProvider();
    const server = provider.serverFor(bed.profile);
    fs.mkdirSync(bed.socketDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(server.socketPath, 'not a socket');
    const { context, handle } = run('Say hello');
    assert.equal((await provider.start(context, handle)).status, 'completed');
    assert.equal(server.reused, false);
    assert.equal(fs.statSync(server.socketPath).isSocket(), true);
    assert.equal(fs.statSync(bed.socketDir).mode & 0o777, 0o700);
    const metadata = JSON.parse(fs.readFileSync(server.metadataPath, 'utf8')) as { pid: number };
    assert.equal(metadata.pid, server.pid);
  });

  test('a server that dies at startup fails the task with its stderr; repeated crashes back off', async () => {
    const script = path.join(bed.root, 'broken-codex');
    fs.writeFileSync(script, '#!/bin/sh\necho "error: bad config.toml at line 3" >&2\nexit 3\n', { mode: 0o755 });
    const provider = bed.createProvider({ codexPath: () => script });
    const attempt = async () => {
      const { context, handle } = run('Say hello');
      const startedAt = Date.now();
      const outcome = await provider.start(context, handle);
      return { outcome, ms: Date.now() - startedAt };
    };
    const first = await attempt();
    assert.equal(first.outcome.status, 'failed');
    assert.ok(first.outcome.status === 'failed');
    assert.match(first.outcome.error, /exited during startup \(code 3\)/);
    assert.match(first.outcome.error, /bad config\.toml at line 3/);
    await attempt();
    const third = await attempt();
    assert.equal(third.outcome.status, 'failed');
    assert.ok(third.ms >= 900, `the third start waited for the backoff (${third.ms} ms)`);
  });

  test('a missing codex executable fails with the setting to fix', async () => {
    const provider = bed.createProvider({ codexPath: () => path.join(bed.root, 'no-such-codex') });
    const { context, handle } = run('Say hello');
    const outcome = await provider.start(context, handle);
    assert.equal(outcome.status, 'failed');
    assert.ok(outcome.status === 'failed');
    assert.match(outcome.error, /agentTasks\.codex\.path/);
    assert.deepEqual(outcome.action, { kind: 'openSettings', setting: 'agentTasks.codex.path', label: 'Open Settings' });
  });
});

describe('L7: the Codex socket has no token, so its private directory is its only guard', () => {
  const OTHER_UID = 4242;
  const isRoot = process.getuid?.() === 0;
  let bed: CodexTestBed;
  let requestsBefore = 0;
  beforeEach(async () => {
    bed = await createTestBed(mock, { name: 'l7' });
    requestsBefore = mock.requests.length;
  });
  afterEach(async () => {
    await bed.cleanup();
  });

  /** Starts a task on a fresh provider; the outcome and what the socket directory holds after it. */
  async function startIn(): Promise<{ error: string; entries: string[] }> {
    const provider = bed.createProvider();
    const { context, handle } = makeContext(makeTask({ prompt: 'Say hello', cwd: bed.cwd }), { profile: bed.profile, log: bed.log });
    const outcome = await provider.start(context, handle);
    assert.equal(outcome.status, 'failed');
    assert.ok(outcome.status === 'failed');
    assert.deepEqual(appServersUnder(bed.root), [], 'no app-server was started');
    assert.equal(mock.requests.length, requestsBefore, 'nothing reached the model');
    return { error: outcome.error, entries: fs.readdirSync(bed.socketDir) };
  }

  test('L7 Codex refuses a socket directory another user owns (squatted), and puts nothing in it', { skip: !isRoot && 'needs root to chown' }, async () => {
    fs.mkdirSync(bed.socketDir, { mode: 0o777 });
    fs.chmodSync(bed.socketDir, 0o777);
    fs.chownSync(bed.socketDir, OTHER_UID, OTHER_UID);
    const { error, entries } = await startIn();
    assert.match(error, /belongs to another user; refusing to put the Codex socket there/);
    assert.deepEqual(entries, [], 'no socket, lock, log or metadata in their directory');
    assert.equal(fs.lstatSync(bed.socketDir).uid, OTHER_UID, 'their directory was left as it was');
  });

  test('L7 Codex refuses a socket directory that is a symlink (to a directory of ours), and puts nothing behind it', async () => {
    const target = path.join(bed.root, 'elsewhere');
    fs.mkdirSync(target, { mode: 0o700 });
    fs.symlinkSync(target, bed.socketDir);
    const { error, entries } = await startIn();
    assert.match(error, /is not a directory/);
    assert.deepEqual(entries, []);
    assert.deepEqual(fs.readdirSync(target), [], 'nothing was written through the link');
  });
});
