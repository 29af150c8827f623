/**
 * ClaudeProvider against the real Claude Code CLI (the pinned npm package) and the mock Anthropic server.
 * Each test gets its own CLAUDE_CONFIG_DIR and workspace, and leaves no process behind.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ResolvedProfile } from '../../src/core/ports';
import { ClaudeProvider } from '../../src/providers/claude';
import type { TaskState } from '../../src/core/task-state';
import { startMockAnthropicServer, type MockAnthropicServer } from '../fixtures/mock-anthropic/server';
import { makeContext, makeTask } from '../support/fake-handle';

const CLAUDE = path.resolve(__dirname, '../../node_modules/.bin/claude');
const TEST_TIMEOUT = 60_000;

describe('ClaudeProvider with the real Claude Code CLI', { timeout: 5 * 60_000 }, () => {
  let mock: MockAnthropicServer;
  let root: string;

  before(async () => {
    mock = await startMockAnthropicServer();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-claude-'));
  });
  after(async () => {
    await mock.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    await waitFor(() => childPids().length === 0, 10_000).catch(() => assert.fail(`processes left behind: ${childPids().join(', ')}`));
  });

  let counter = 0;
  function setup(prompt: string, overrides: Partial<TaskState> = {}, env: Record<string, string> = {}) {
    const dir = path.join(root, `t${++counter}`);
    const cwd = path.join(dir, 'work');
    const home = path.join(dir, 'claude-home');
    fs.mkdirSync(cwd, { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(cwd, 'README.md'), '# demo\n\nSome text.\n');
    const profile: ResolvedProfile = {
      id: 'test',
      provider: 'claude-cli',
      configDir: home,
      env: { CLAUDE_CONFIG_DIR: home, ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'dummy', ...env },
    };
    const task = makeTask({ prompt, cwd, provider: 'claude-cli', ...overrides });
    const { context, controller, handle } = makeContext(task, { profile });
    return { cwd, home, task, context, controller, handle };
  }

  const provider = new ClaudeProvider({ claudePath: () => CLAUDE, log: silent(), flushIntervalMs: 0 });

  it('runs a prompt to a completed result with streamed text, session id, usage and cost', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Say hello');
    const outcome = await provider.start(context, handle);
    assert.deepEqual(outcome, { status: 'completed', result: 'Hello from the mock model.' });
    const agent = handle.transcript.filter((entry) => entry.kind === 'agent');
    assert.deepEqual(agent.map((entry) => entry.text), ['Hello from the mock model.']);
    assert.ok(handle.appended.filter((entry) => entry.kind === 'agent').length > 1, 'the text streamed in pieces under one id');
    assert.match(handle.sessionId ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(handle.providerState, { sessionId: handle.sessionId });
    assert.equal(handle.usage?.inputTokens, 1500);
    assert.equal(handle.usage?.outputTokens, 25);
    assert.ok((handle.usage?.costUsd ?? 0) > 0, 'Claude Code reports a cost');
  });

  it('asks a command approval for Bash; approving runs the command', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please do the run-approval step');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'command_approval');
    assert.equal(question.type === 'command_approval' && question.command, 'touch approved.txt && echo made');
    assert.equal(question.type === 'command_approval' && question.canApproveForSession, true);
    handle.answer(question.requestId, { decision: 'approve' });
    const outcome = await running;
    assert.equal(outcome.status, 'completed');
    assert.ok(fs.existsSync(path.join(cwd, 'approved.txt')), 'the command ran');
    const command = handle.transcript.find((entry) => entry.kind === 'command');
    assert.equal(command?.text, '$ touch approved.txt && echo made');
    assert.equal(command?.exitCode, 0);
    assert.equal(command?.detail, 'made');
    assert.equal(outcome.status === 'completed' && outcome.result, 'Tool said: made');
  });

  it('denying a command approval keeps the command from running and tells the model why', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please do the run-approval step again');
    const before = mock.requests.length;
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    handle.answer(question.requestId, { decision: 'deny', message: 'Not in this repository, please.' });
    const outcome = await running;
    assert.equal(outcome.status, 'completed');
    assert.equal(fs.existsSync(path.join(cwd, 'approved.txt')), false, 'the command did not run');
    const toolResult = mock.requests.slice(before).find((request) => request.toolResult)?.toolResult;
    assert.deepEqual(toolResult && { text: toolResult.text, isError: toolResult.isError }, { text: 'Not in this repository, please.', isError: true });
    assert.match(handle.transcript.find((entry) => entry.kind === 'command')?.text ?? '', /\(denied\)$/);
  });

  it('asks a file approval for Write with a unified diff and the new content; approving writes the file', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please write-file now');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'file_approval');
    if (question.type !== 'file_approval') return;
    assert.deepEqual(question.fileChanges, [
      { path: 'hello.txt', kind: 'add', patch: '--- /dev/null\n+++ b/hello.txt\n@@ -0,0 +1,1 @@\n+hello world\n', newContent: 'hello world\n' },
    ]);
    handle.answer(question.requestId, { decision: 'approve' });
    assert.equal((await running).status, 'completed');
    assert.equal(fs.readFileSync(path.join(cwd, 'hello.txt'), 'utf8'), 'hello world\n');
    const file = handle.transcript.find((entry) => entry.kind === 'file');
    assert.equal(file?.text, 'Write hello.txt');
    assert.match(file?.detail ?? '', /\+hello world/);
  });

  it('asks a file approval for Edit with the diff against the file on disk', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, handle } = setup('Please edit-file now');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'file_approval');
    if (question.type !== 'file_approval') return;
    const [change] = question.fileChanges;
    assert.equal(change.path, 'README.md');
    assert.equal(change.kind, 'update');
    assert.equal(change.patch, '--- a/README.md\n+++ b/README.md\n@@ -1,3 +1,3 @@\n-# demo\n+# demo (edited)\n \n Some text.\n');
    assert.equal(change.newContent, '# demo (edited)\n\nSome text.\n');
    handle.answer(question.requestId, { decision: 'approve' });
    assert.equal((await running).status, 'completed');
    assert.equal(fs.readFileSync(path.join(cwd, 'README.md'), 'utf8'), '# demo (edited)\n\nSome text.\n');
  });

  it('turns AskUserQuestion into a user_input question and returns the answer keyed by question text', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Please ask-user about the database');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'user_input');
    if (question.type !== 'user_input') return;
    assert.equal(question.questions.length, 1);
    assert.equal(question.questions[0].text, 'Which database should I use?');
    assert.deepEqual(question.questions[0].options?.map((option) => option.label), ['SQLite', 'Postgres']);
    handle.answer(question.requestId, { answers: { [question.questions[0].id]: ['Postgres'] } });
    const outcome = await running;
    assert.equal(outcome.status, 'completed');
    assert.match(outcome.status === 'completed' ? outcome.result ?? '' : '', /"Which database should I use\?"="Postgres"/);
  });

  it('cancels a turn in flight: interrupt, then the process ends', { timeout: TEST_TIMEOUT }, async () => {
    const { context, controller, handle } = setup('Please hang for a while');
    const running = provider.start(context, handle);
    await handle.waitForEntry((entry) => entry.kind === 'agent');
    const started = Date.now();
    controller.abort('cancelled');
    const outcome = await running;
    assert.deepEqual(outcome, { status: 'aborted' });
    assert.ok(Date.now() - started < 5000, `cancel took ${Date.now() - started} ms`);
  });

  it('cancels while an approval is pending: the question is withdrawn, nothing runs, the run aborts', { timeout: TEST_TIMEOUT }, async () => {
    const { cwd, context, controller, handle } = setup('Please do the run-approval step');
    const running = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    const started = Date.now();
    controller.abort('cancelled');
    assert.deepEqual(await running, { status: 'aborted' });
    assert.ok(Date.now() - started < 5000, `cancel took ${Date.now() - started} ms`);
    assert.ok(handle.withdrawn.some((entry) => entry.requestId === question.requestId));
    assert.equal(fs.existsSync(path.join(cwd, 'approved.txt')), false);
  });

  it('fails with the exit when the CLI dies mid-turn, and resume() continues the saved session', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle, task, home } = setup('Please do the run-approval step, then stop');
    const running = provider.start(context, handle);
    await handle.waitForQuestion();
    // Claude Code writes its session file lazily (PROTOCOLS.md §2): wait until it exists before killing.
    await waitFor(() => findSessionFile(home, handle.sessionId ?? '') !== undefined, 10_000);
    killChildren('SIGKILL');
    const outcome = await running;
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.status === 'failed' ? outcome.error : '', /killed by SIGKILL/);

    const resumedTask = { ...task, sessionId: handle.sessionId, providerState: handle.providerState };
    const second = makeContext(resumedTask, { profile: context.profile });
    const resumed = await provider.resume(second.context, second.handle);
    assert.equal(resumed.status, 'completed', JSON.stringify(resumed));
    assert.equal(second.handle.sessionId, handle.sessionId, 'the same session continues');
    assert.match(second.handle.transcript[0]?.text ?? '', /^\[recovery\] .*--resume/);
    const last = mock.requests[mock.requests.length - 1];
    assert.equal(last.sessionId, handle.sessionId);
    assert.match(last.userText, /interrupted/);
  });

  it('fails honestly when the session to resume was never saved', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle, task } = setup('Say hello');
    const lost = makeContext({ ...task, sessionId: '00000000-0000-4000-8000-000000000000' }, { profile: context.profile });
    const outcome = await provider.resume(lost.context, lost.handle);
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.status === 'failed' ? outcome.error : '', /was lost/);
    assert.ok(handle.appended.length === 0);
  });

  it('continues the same conversation for a follow-up (--resume)', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Say hello');
    assert.equal((await provider.start(first.context, first.handle)).status, 'completed');
    await waitFor(() => findSessionFile(first.home, first.handle.sessionId ?? '') !== undefined, 10_000);
    const followUp = makeContext(
      makeTask({ prompt: 'And once more', cwd: first.cwd, provider: 'claude-cli', continueSession: true, sessionId: first.handle.sessionId }),
      { profile: first.context.profile },
    );
    const outcome = await provider.start(followUp.context, followUp.handle);
    assert.equal(outcome.status, 'completed');
    assert.equal(followUp.handle.sessionId, first.handle.sessionId);
    const last = mock.requests[mock.requests.length - 1];
    assert.equal(last.sessionId, first.handle.sessionId);
    assert.ok(JSON.stringify(last.body.messages).includes('Say hello'), 'the earlier turn is in the history');
  });

  it('reports HTTP 429 as rate_limited within seconds', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Please rate-limit me');
    const started = Date.now();
    const outcome = await provider.start(context, handle);
    assert.equal(outcome.status, 'rate_limited', JSON.stringify(outcome));
    assert.match(outcome.status === 'rate_limited' ? outcome.error : '', /429|rate limit/i);
    assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
    assert.ok(handle.rateLimitInfo.length > 0);
  });

  it('fails with an Open Settings action when the CLI is missing', async () => {
    const missing = new ClaudeProvider({ claudePath: () => path.join(root, 'no-such-claude'), log: silent() });
    const { context, handle } = setup('Say hello');
    const outcome = await missing.start(context, handle);
    assert.equal(outcome.status, 'failed');
    assert.deepEqual(outcome.status === 'failed' && outcome.action, { kind: 'openSettings', setting: 'agentTasks.claude.path', label: 'Open Settings' });
  });
});

/** Kills this test's agent children (the CLI under test), as a crash would. */
describe('ClaudeProvider: quota reset times from the real Claude Code CLI', { timeout: 3 * 60_000 }, () => {
  // Claude Code reports unified rate limits (rate_limit_event) only for subscription logins: the tests log in with an
  // OAuth token (any value; the mock accepts it) instead of an API key.
  const resetAt = Math.floor(Date.now() / 1000) + 2 * 3600;
  const warnResetAt = Math.floor(Date.now() / 1000) + 4 * 3600;
  let rejecting: MockAnthropicServer;
  let warning: MockAnthropicServer;
  let root: string;
  before(async () => {
    rejecting = await startMockAnthropicServer({ unifiedResetAt: resetAt });
    warning = await startMockAnthropicServer({
      extraHeaders: {
        'anthropic-ratelimit-unified-status': 'allowed_warning',
        'anthropic-ratelimit-unified-reset': String(warnResetAt),
        'anthropic-ratelimit-unified-representative-claim': 'five_hour',
        'anthropic-ratelimit-unified-5h-status': 'allowed_warning',
        'anthropic-ratelimit-unified-5h-utilization': '0.91',
        'anthropic-ratelimit-unified-5h-reset': String(warnResetAt),
        'anthropic-ratelimit-unified-5h-surpassed-threshold': '0.9',
      },
    });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-claude-quota-'));
  });
  after(async () => {
    await rejecting.close();
    await warning.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    await waitFor(() => childPids().length === 0, 10_000).catch(() => assert.fail(`processes left behind: ${childPids().join(', ')}`));
  });

  const provider = new ClaudeProvider({ claudePath: () => CLAUDE, log: silent(), flushIntervalMs: 0 });
  function setup(prompt: string, mock: MockAnthropicServer) {
    const dir = fs.mkdtempSync(path.join(root, 't'));
    const cwd = path.join(dir, 'work');
    const home = path.join(dir, 'claude-home');
    fs.mkdirSync(cwd, { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    const profile: ResolvedProfile = {
      id: 'sub',
      provider: 'claude-cli',
      configDir: home,
      env: { CLAUDE_CONFIG_DIR: home, ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: '', CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-mock' },
    };
    return makeContext(makeTask({ prompt, cwd, provider: 'claude-cli' }), { profile });
  }

  it('a rejected usage limit ends the run as rate_limited with the reset time of rate_limit_event', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Please rate-limit me', rejecting);
    const before = Date.now();
    const outcome = await provider.start(context, handle);
    assert.equal(outcome.status, 'rate_limited', JSON.stringify(outcome));
    assert.ok(outcome.status === 'rate_limited');
    assert.match(outcome.error, /limit/i);
    assert.equal(outcome.resetsAt, resetAt * 1000);
    assert.ok(outcome.retryAfterMs !== undefined && Math.abs(before + outcome.retryAfterMs - resetAt * 1000) < 15_000);
    const limits = handle.limits.at(-1);
    assert.deepEqual({ ...limits, at: 0 }, {
      at: 0,
      limitId: 'five_hour',
      status: 'rejected',
      resetsAt: resetAt * 1000,
      windows: [{ id: 'five_hour', usedPercent: 100, resetsAt: resetAt * 1000, status: 'rejected' }],
    });
    assert.equal(handle.rateLimitInfo.at(-1)?.status, 'rejected');
  });

  it('an HTTP Retry-After that Claude Code honoured becomes the reset time of the rate limit', { timeout: TEST_TIMEOUT }, async () => {
    const slow = await startMockAnthropicServer({ retryAfterSeconds: 6 });
    try {
      const { context, handle } = setup('Please rate-limit me', slow);
      context.profile!.env!.ANTHROPIC_API_KEY = 'dummy';
      delete context.profile!.env!.CLAUDE_CODE_OAUTH_TOKEN;
      context.profile!.env!.CLAUDE_CODE_MAX_RETRIES = '1';
      const outcome = await provider.start(context, handle);
      const ended = Date.now();
      assert.equal(outcome.status, 'rate_limited', JSON.stringify(outcome));
      assert.ok(outcome.status === 'rate_limited' && outcome.retryAfterMs !== undefined && outcome.resetsAt !== undefined, JSON.stringify(outcome));
      assert.ok(outcome.retryAfterMs >= 5_500 && outcome.retryAfterMs <= 9_000, `retryAfterMs ${outcome.retryAfterMs}`);
      assert.ok(Math.abs(outcome.resetsAt - (ended + outcome.retryAfterMs)) < 1000);
    } finally {
      await slow.close();
    }
  });

  it('a warning threshold on a normal turn reports the usage and the reset time', { timeout: TEST_TIMEOUT }, async () => {
    const { context, handle } = setup('Say hello', warning);
    const outcome = await provider.start(context, handle);
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    const limits = handle.limits.at(-1);
    assert.deepEqual({ ...limits, at: 0 }, {
      at: 0,
      limitId: 'five_hour',
      status: 'warning',
      resetsAt: warnResetAt * 1000,
      windows: [{ id: 'five_hour', usedPercent: 91, resetsAt: warnResetAt * 1000, status: 'warning' }],
    });
  });
});

function killChildren(signal: NodeJS.Signals): void {
  for (const pid of childPids()) {
    try {
      process.kill(Number(pid), signal);
    } catch {
      // Already gone.
    }
  }
}

/** This test process's children that are agents (tsx's esbuild service is not one of them). */
function childPids(): string[] {
  const lines = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n');
  return lines
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, command]) => pid && command !== 'esbuild' && command !== 'ps')
    .map(([pid]) => pid);
}

function findSessionFile(home: string, sessionId: string): string | undefined {
  const projects = path.join(home, 'projects');
  if (!sessionId || !fs.existsSync(projects)) return undefined;
  for (const dir of fs.readdirSync(projects)) {
    const file = path.join(projects, dir, `${sessionId}.jsonl`);
    if (fs.existsSync(file)) return file;
  }
  return undefined;
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
