/**
 * The generic AcpProvider driving the SDK-based test agent (test/fixtures/acp-agent/agent.ts) over stdio.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { AcpProvider } from '../../src/providers/acp';
import type { Logger } from '../../src/core/events';
import type { TaskState } from '../../src/core/task-state';
import { makeContext, makeTask } from '../support/fake-handle';

const AGENT = path.resolve(__dirname, '../fixtures/acp-agent/agent.ts');
/** The agent runs from the task's cwd, so tsx is named by its full URL. */
const TSX = pathToFileURL(require.resolve('tsx')).href;
const TEST_TIMEOUT = 30_000;

describe('AcpProvider with an SDK-based test agent', { timeout: 5 * 60_000 }, () => {
  let root: string;
  const warnings: string[] = [];
  const log: Logger = { ...silent(), warn: (message: string) => void warnings.push(message) };
  let provider: AcpProvider;

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-acp-'));
    provider = AcpProvider.fromConfig(
      { name: 'test-agent', command: process.execPath, args: ['--import', TSX, AGENT], env: { ACP_AGENT_STATE_DIR: path.join(root, 'state') } },
      log,
    );
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  afterEach(async () => {
    await waitFor(() => childPids().length === 0, 10_000).catch(() => assert.fail(`processes left behind: ${childPids().join(', ')}`));
  });

  let counter = 0;
  function setup(prompt: string, overrides: Partial<TaskState> = {}) {
    const cwd = path.join(root, `t${++counter}`);
    fs.mkdirSync(cwd, { recursive: true });
    fs.writeFileSync(path.join(cwd, 'README.md'), '# demo\n\nSome text.\n');
    const task = makeTask({ prompt, cwd, provider: 'acp:test-agent', ...overrides });
    return { cwd, task, ...makeContext(task, { log }) };
  }

  it('has the acp:<name> id and the generic ACP capabilities', () => {
    assert.equal(provider.id, 'acp:test-agent');
    assert.equal(provider.displayName, 'test-agent');
    assert.deepEqual(provider.capabilities.pauseKinds, ['command_approval', 'file_approval']);
  });

  it('runs a prompt: thought and message chunks coalesced, result, session id and usage', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Say hello');
    const outcome = await provider.start(context, handle);
    assert.deepEqual(outcome, { status: 'completed', result: 'Hello from the test agent.' });
    assert.deepEqual(
      handle.transcript.map((entry) => [entry.kind, entry.text]),
      [
        ['reasoning', 'The user wants a greeting.'],
        ['agent', 'Hello from the test agent.'],
      ],
    );
    assert.ok(handle.sessionId);
    assert.deepEqual(handle.providerState, { sessionId: handle.sessionId });
    assert.deepEqual(handle.usage, { inputTokens: 100, outputTokens: 10 });
  });

  it('maps an execute permission to a command approval; allow_once runs it', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please do the run-approval step');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'command_approval');
    if (question.type !== 'command_approval') return;
    assert.equal(question.command, 'touch approved.txt');
    assert.equal(question.reason, 'Create approved.txt');
    assert.equal(question.canApproveForSession, true);
    handle.answer(question.requestId, { decision: 'approve' });
    assert.deepEqual(await running, { status: 'completed', result: 'Ran it (yes).' });
    assert.ok(fs.existsSync(path.join(cwd, 'approved.txt')));
    const command = handle.transcript.find((entry) => entry.kind === 'command');
    assert.deepEqual(command && { text: command.text, detail: command.detail, exitCode: command.exitCode }, { text: '$ touch approved.txt', detail: 'done', exitCode: 0 });
  });

  it('approve for the session selects the allow_always option', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Please do the run-approval step');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    handle.answer(question.requestId, { decision: 'approveForSession' });
    assert.deepEqual(await running, { status: 'completed', result: 'Ran it (always).' });
  });

  it('deny selects reject_once: nothing runs and the entry says denied', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please do the run-approval step');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    handle.answer(question.requestId, { decision: 'deny', message: 'no thanks' });
    assert.deepEqual(await running, { status: 'completed', result: 'The user said no (no).' });
    assert.equal(fs.existsSync(path.join(cwd, 'approved.txt')), false);
    assert.equal(handle.transcript.find((entry) => entry.kind === 'command')?.text, '$ touch approved.txt (denied)');
  });

  it('maps an edit permission to a file approval with a diff computed from the diff block and the file on disk', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please edit-file');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'file_approval');
    if (question.type !== 'file_approval') return;
    assert.deepEqual(question.fileChanges, [
      {
        path: 'README.md',
        kind: 'update',
        patch: '--- a/README.md\n+++ b/README.md\n@@ -1,3 +1,3 @@\n-# demo\n+# demo (edited)\n \n Some text.\n',
        newContent: '# demo (edited)\n\nSome text.\n',
      },
    ]);
    handle.answer(question.requestId, { decision: 'approve' });
    assert.deepEqual(await running, { status: 'completed', result: 'Edited it.' });
    assert.equal(fs.readFileSync(path.join(cwd, 'README.md'), 'utf8'), '# demo (edited)\n\nSome text.\n');
    assert.equal(handle.transcript.find((entry) => entry.kind === 'file')?.text, 'Edit README.md');
  });

  it('shows any other tool kind as a command approval naming the tool', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Please use the fetch-tool');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'command_approval');
    assert.equal(question.type === 'command_approval' && question.command, 'Fetch the docs {"url":"https://example.invalid/docs"}');
    handle.answer(question.requestId, { decision: 'deny' });
    assert.deepEqual(await running, { status: 'completed', result: 'Fetch answered no.' });
  });

  it('cancel sends session/cancel; a pending permission is answered cancelled and the run aborts', { timeout: TEST_TIMEOUT }, async () => {
    const { context, controller, handle } = setup('Please do the run-approval step');
    const running = provider.start(context, handle);
    await handle.waitForQuestion();
    controller.abort('cancelled');
    assert.deepEqual(await running, { status: 'aborted' });
  });

  it('cancel during a streaming turn aborts promptly', { timeout: TEST_TIMEOUT }, async () => {
    const { context, controller, handle } = setup('Please hang');
    const running = provider.start(context, handle);
    await handle.waitForEntry((entry) => entry.kind === 'agent');
    const started = Date.now();
    controller.abort('cancelled');
    assert.deepEqual(await running, { status: 'aborted' });
    assert.ok(Date.now() - started < 2500, `took ${Date.now() - started} ms`);
  });

  it('a follow-up loads the session (history replay stays out of the transcript)', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Say hello');
    await provider.start(first.context, first.handle);
    const followUp = makeContext(makeTask({ prompt: 'Once more', cwd: first.cwd, provider: 'acp:test-agent', continueSession: true, sessionId: first.handle.sessionId }), { log });
    const outcome = await provider.start(followUp.context, followUp.handle);
    assert.deepEqual(outcome, { status: 'completed', result: 'Hello again (turn 2).' });
    assert.equal(followUp.handle.sessionId, first.handle.sessionId);
    assert.deepEqual(followUp.handle.transcript.map((entry) => entry.kind), ['reasoning', 'agent']);
  });

  it('a follow-up of an unknown session starts a new one and says so', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Say hello', { continueSession: true, sessionId: 'no-such-session' });
    const outcome = await provider.start(context, handle);
    assert.deepEqual(outcome, { status: 'completed', result: 'Hello from the test agent.' });
    assert.notEqual(handle.sessionId, 'no-such-session');
    assert.match(handle.transcript[0].text, /Could not continue .*no-such-session.*starting a new conversation/);
  });

  it('resume() loads the saved session with a [recovery] entry; an unknown session fails', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Say hello');
    await provider.start(first.context, first.handle);
    const resumed = makeContext({ ...first.task, sessionId: first.handle.sessionId, providerState: first.handle.providerState }, { log });
    const outcome = await provider.resume(resumed.context, resumed.handle);
    assert.equal(outcome.status, 'completed');
    assert.match(resumed.handle.transcript[0].text, /^\[recovery\] .*session\/load/);

    const lost = makeContext({ ...first.task, sessionId: 'gone', providerState: { sessionId: 'gone' } }, { log });
    const failed = await provider.resume(lost.context, lost.handle);
    assert.equal(failed.status, 'failed');
    assert.match(failed.status === 'failed' ? failed.error : '', /could not load session gone/);
  });

  it('logs a line that is not JSON with its raw text and goes on', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Make some noise');
    const outcome = await provider.start(context, handle);
    assert.equal(outcome.status, 'completed');
    assert.ok(warnings.some((warning) => warning.includes('this line is not json')), warnings.join('\n'));
  });

  it('a missing command fails with an Open Settings action for agentTasks.acpAgents', async () => {
    const missing = AcpProvider.fromConfig({ name: 'ghost', command: path.join(root, 'no-such-agent') }, log);
    const { context, handle } = setup('Say hello');
    const outcome = await missing.start(context, handle);
    assert.equal(outcome.status, 'failed');
    assert.deepEqual(outcome.status === 'failed' && outcome.action, { kind: 'openSettings', setting: 'agentTasks.acpAgents', label: 'Open Settings' });
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

function silent(): Logger {
  const log = (level: string) => (message: unknown) => {
    if (process.env.ATW_TEST_LOG) console.error(`[${level}]`, message);
  };
  return { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
