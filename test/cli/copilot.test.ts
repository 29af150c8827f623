/**
 * CopilotProvider against the real GitHub Copilot CLI (`copilot --acp`, the pinned npm package) and the mock Chat
 * Completions server, offline (PROTOCOLS.md §3). Each test gets its own COPILOT_HOME and workspace.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ResolvedProfile } from '../../src/core/ports';
import { CopilotProvider, resolveCopilotExecutable } from '../../src/providers/copilot';
import type { TaskState } from '../../src/core/task-state';
import { startMockChatServer, type MockChatServer } from '../fixtures/mock-chat/server';
import { makeContext, makeTask } from '../support/fake-handle';

const COPILOT = path.resolve(__dirname, '../../node_modules/.bin/copilot');
const TEST_TIMEOUT = 90_000;

describe('CopilotProvider with the real Copilot CLI', { timeout: 10 * 60_000 }, () => {
  let mock: MockChatServer;
  let root: string;

  before(async () => {
    mock = await startMockChatServer();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-copilot-'));
  });
  after(async () => {
    await mock.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    await waitFor(() => childPids().length === 0, 10_000).catch(() => assert.fail(`processes left behind: ${childPids().join(', ')}`));
  });

  let counter = 0;
  function setup(prompt: string, overrides: Partial<TaskState> = {}) {
    const dir = path.join(root, `t${++counter}`);
    const cwd = path.join(dir, 'work');
    const home = path.join(dir, 'copilot-home');
    fs.mkdirSync(cwd, { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(cwd, 'README.md'), '# demo\n\nSome text.\n');
    const profile: ResolvedProfile = {
      id: 'test',
      provider: 'copilot',
      configDir: home,
      env: {
        COPILOT_HOME: home,
        COPILOT_OFFLINE: 'true',
        COPILOT_PROVIDER_BASE_URL: mock.url,
        COPILOT_PROVIDER_TYPE: 'openai',
        COPILOT_PROVIDER_API_KEY: 'x',
        COPILOT_MODEL: 'gpt-4.1',
      },
    };
    const task = makeTask({ prompt, cwd, provider: 'copilot', ...overrides });
    const { context, controller, handle } = makeContext(task, { profile });
    return { cwd, home, task, context, controller, handle, profile };
  }

  const provider = new CopilotProvider({ copilotPath: () => COPILOT, log: silent(), flushIntervalMs: 0 });

  it('spawns the native binary rather than the npm loader', () => {
    const resolved = resolveCopilotExecutable(COPILOT);
    assert.ok(resolved && !resolved.endsWith('.js'), resolved);
    assert.equal(path.basename(path.dirname(resolved)), `copilot-${process.platform}-${process.arch}`);
  });

  it('runs a prompt to a completed result with coalesced text, session id and usage', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Say hello');
    const outcome = await provider.start(context, handle);
    assert.deepEqual(outcome, { status: 'completed', result: 'Hello from the mock model.' });
    assert.deepEqual(
      handle.transcript.filter((entry) => entry.kind === 'agent').map((entry) => entry.text),
      ['Hello from the mock model.'],
    );
    assert.match(handle.sessionId ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(handle.providerState, { sessionId: handle.sessionId });
    assert.deepEqual(handle.usage, { inputTokens: 1800, outputTokens: 22 });
  });

  it('asks a command approval for an execute permission; allowing runs it', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please do the run-approval step');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'command_approval');
    assert.equal(question.type === 'command_approval' && question.command, 'touch approved.txt && echo made');
    assert.equal(question.type === 'command_approval' && question.canApproveForSession, true);
    handle.answer(question.requestId, { decision: 'approve' });
    const outcome = await running;
    assert.equal(outcome.status, 'completed');
    assert.ok(fs.existsSync(path.join(cwd, 'approved.txt')));
    const command = handle.transcript.find((entry) => entry.kind === 'command');
    assert.equal(command?.text, '$ touch approved.txt && echo made');
    assert.equal(command?.exitCode, 0);
    assert.match(command?.detail ?? '', /^made/);
  });

  it('rejecting an execute permission keeps the command from running (Copilot then ends the turn)', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please do the run-approval step again');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    handle.answer(question.requestId, { decision: 'deny' });
    const outcome = await running;
    assert.equal(outcome.status, 'completed');
    assert.equal(fs.existsSync(path.join(cwd, 'approved.txt')), false);
    assert.match(handle.transcript.find((entry) => entry.kind === 'command')?.text ?? '', /\(denied\)$/);
  });

  it('asks a file approval for an edit permission with the diff; allowing writes the file', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please edit-file now');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'file_approval');
    if (question.type !== 'file_approval') return;
    const [change] = question.fileChanges;
    assert.equal(change.path, 'README.md');
    assert.equal(change.kind, 'update');
    assert.match(change.patch, /^-# demo$/m);
    assert.match(change.patch, /^\+# demo \(edited\)$/m);
    assert.equal(change.newContent, '# demo (edited)\n\nSome text.\n');
    handle.answer(question.requestId, { decision: 'approve' });
    assert.equal((await running).status, 'completed');
    assert.equal(fs.readFileSync(path.join(cwd, 'README.md'), 'utf8'), '# demo (edited)\n\nSome text.\n');
    const file = handle.transcript.find((entry) => entry.kind === 'file');
    assert.equal(file?.text, 'Edit README.md');
  });

  it('creates a file after an approved create permission', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please write-file now');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'file_approval');
    if (question.type !== 'file_approval') return;
    assert.equal(question.fileChanges[0].kind, 'add');
    assert.equal(question.fileChanges[0].newContent, 'hello world\n');
    handle.answer(question.requestId, { decision: 'approve' });
    assert.equal((await running).status, 'completed');
    assert.equal(fs.readFileSync(path.join(cwd, 'hello.txt'), 'utf8'), 'hello world\n');
  });

  it('cancels a turn in flight with session/cancel', { timeout: TEST_TIMEOUT }, async () => {
    const { context, controller, handle } = setup('Please hang for a while');
    const running = provider.start(context, handle);
    await handle.waitForEntry((entry) => entry.kind === 'agent');
    const started = Date.now();
    controller.abort('cancelled');
    assert.deepEqual(await running, { status: 'aborted' });
    assert.ok(Date.now() - started < 4000, `cancel took ${Date.now() - started} ms`);
  });

  it('continues the same session for a follow-up (session/load)', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Say hello');
    assert.equal((await provider.start(first.context, first.handle)).status, 'completed');
    const followUp = makeContext(
      makeTask({ prompt: 'And once more', cwd: first.cwd, provider: 'copilot', continueSession: true, sessionId: first.handle.sessionId }),
      { profile: first.profile },
    );
    const before = mock.requests.length;
    const outcome = await provider.start(followUp.context, followUp.handle);
    assert.equal(outcome.status, 'completed');
    assert.equal(followUp.handle.sessionId, first.handle.sessionId);
    const request = mock.requests[before];
    assert.equal(request.userText, 'And once more');
    assert.ok(JSON.stringify(request.body.messages).includes('Say hello'), 'the earlier turn is in the history');
    assert.deepEqual(
      followUp.handle.transcript.map((entry) => entry.kind),
      ['agent'],
      'the replayed history is not copied into the new transcript',
    );
  });

  it('fails with the exit when Copilot dies mid-turn, and resume() loads the session', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle, task } = setup('Please do the run-approval step, then stop');
    const running = provider.start(context, handle);
    await handle.waitForQuestion();
    for (const pid of childPids()) process.kill(Number(pid), 'SIGKILL');
    const outcome = await running;
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.status === 'failed' ? outcome.error : '', /killed by SIGKILL/);

    const second = makeContext({ ...task, sessionId: handle.sessionId, providerState: handle.providerState }, { profile: context.profile });
    const resumed = await provider.resume(second.context, second.handle);
    assert.equal(resumed.status, 'completed', JSON.stringify(resumed));
    assert.equal(second.handle.sessionId, handle.sessionId);
    assert.match(second.handle.transcript[0]?.text ?? '', /^\[recovery\] .*session\/load/);
    assert.match(mock.requests[mock.requests.length - 1].userText, /interrupted/);
  });

  it('reports the 429 Copilot gives up on as rate_limited', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Please rate-limit me');
    const outcome = await provider.start(context, handle);
    assert.equal(outcome.status, 'rate_limited', JSON.stringify(outcome));
    assert.match(outcome.status === 'rate_limited' ? outcome.error : '', /429/);
  });

  it('fails with an Open Settings action when the CLI is missing', async () => {
    const missing = new CopilotProvider({ copilotPath: () => path.join(root, 'no-such-copilot'), log: silent() });
    const { context, handle } = setup('Say hello');
    const outcome = await missing.start(context, handle);
    assert.equal(outcome.status, 'failed');
    assert.deepEqual(outcome.status === 'failed' && outcome.action, { kind: 'openSettings', setting: 'agentTasks.copilot.path', label: 'Open Settings' });
  });
});

/** This test process's children that are agents (tsx's esbuild service is not one of them). */
function childPids(): string[] {
  const lines = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n');
  return lines
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, command]) => pid && command !== 'esbuild' && command !== 'ps')
    .map(([pid]) => pid);
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function silent() {
  const log = (level: string) => (message: unknown) => {
    if (process.env.ATW_TEST_LOG) console.error(`[${level}]`, message);
  };
  return { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
