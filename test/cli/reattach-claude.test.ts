/**
 * Claude Code under the keeper (DESIGN §5): the real pinned CLI and the mock Anthropic server, a freshly built
 * keeper bundle. The window closing (abort with 'shutdown') lets go of the agent; a new ClaudeProvider reattaches
 * with the persisted providerState and asks a pending approval again. Every test checks that no keeper or Claude
 * Code process it started is left behind.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ResolvedProfile } from '../../src/core/ports';
import { ClaudeProvider } from '../../src/providers/claude';
import type { TaskState } from '../../src/core/task-state';
import { KeeperLauncher, keeperRefFrom } from '../../src/keeper';
import { keeperPaths, readKeeperMetadata } from '../../src/keeper/files';
import { startMockAnthropicServer, type MockAnthropicServer } from '../fixtures/mock-anthropic/server';
import { buildKeeper, isRunning, makeRoot, pidsMatching, waitFor } from '../support/fake-cli';
import { makeContext, makeTask } from '../support/fake-handle';

const CLAUDE = path.resolve(__dirname, '../../node_modules/.bin/claude');
const TEST_TIMEOUT = 90_000;

describe('ClaudeProvider under the keeper: tasks survive a window reload', { timeout: 5 * 60_000 }, () => {
  let mock: MockAnthropicServer;
  let root: string;
  let keeperScript: string;
  let launcher: KeeperLauncher;
  /** Text that names this test's processes on their command lines (keeper script, session ids). */
  let marks: string[] = [];
  let pids: number[] = [];

  before(async () => {
    mock = await startMockAnthropicServer();
    root = makeRoot('atwrc-');
    keeperScript = await buildKeeper(root);
    launcher = new KeeperLauncher({ dir: path.join(root, 'k'), keeperScript, log: silent() });
  });
  after(async () => {
    await mock.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    const left = (): number[] => [...new Set([...pids.filter((pid) => isRunning(pid)), ...marks.flatMap((mark) => pidsMatching(mark)), ...pidsWithEnv(root)])];
    try {
      await waitFor(() => left().length === 0, 10_000, 'processes to end');
    } catch {
      const stray = left();
      for (const pid of stray) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
      assert.fail(`processes left behind: ${stray.join(', ')}`);
    } finally {
      marks = [keeperScript];
      pids = [];
    }
  });

  let counter = 0;
  function setup(prompt: string, overrides: Partial<TaskState> = {}) {
    const dir = path.join(root, `t${++counter}`);
    const cwd = path.join(dir, 'work');
    const home = path.join(dir, 'claude-home');
    fs.mkdirSync(cwd, { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    const profile: ResolvedProfile = {
      id: 'test',
      provider: 'claude-cli',
      configDir: home,
      env: { CLAUDE_CONFIG_DIR: home, ANTHROPIC_BASE_URL: mock.url, ANTHROPIC_API_KEY: 'dummy' },
    };
    const task = makeTask({ prompt, cwd, provider: 'claude-cli', ...overrides });
    const { context, controller, handle } = makeContext(task, { profile });
    return { cwd, home, task, profile, context, controller, handle };
  }

  /** A provider as a window builds it: a new instance per window, sharing only the socket directory. */
  const window = () => new ClaudeProvider({ claudePath: () => CLAUDE, log: silent(), flushIntervalMs: 0, keeper: { launcher, keepRunningMs: () => 60_000 } });

  /** Remembers the processes of the keeper in `state` so afterEach can check they are gone. */
  function track(state: Record<string, unknown> | undefined): { pid: number; cliPid: number } {
    const ref = keeperRefFrom(state);
    assert.ok(ref, `providerState names the keeper: ${JSON.stringify(state)}`);
    const metadata = readKeeperMetadata(keeperPaths(ref.dir, ref.keeperId).metadata);
    assert.ok(metadata, 'the keeper wrote its metadata');
    pids.push(metadata.pid, metadata.cliPid);
    if (metadata.watchdogPid) pids.push(metadata.watchdogPid);
    if (typeof state?.sessionId === 'string') marks.push(state.sessionId);
    return { pid: metadata.pid, cliPid: metadata.cliPid };
  }

  before(() => {
    marks = [keeperScript];
  });

  it('a pending Bash approval survives the window: a new provider asks it again; approving completes the task', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Please do the run-approval step');
    const firstWindow = window();
    const running = firstWindow.start(first.context, first.handle);
    const question = await first.handle.waitForQuestion();
    assert.equal(question.type, 'command_approval');
    const ids = track(first.handle.providerState);
    assert.equal(typeof first.handle.providerState?.sessionId, 'string');
    const shownBefore = first.handle.transcript.length;

    // The window closes: the run ends as aborted, the agent keeps running under its keeper.
    first.controller.abort('shutdown');
    assert.deepEqual(await running, { status: 'aborted' });
    await firstWindow.dispose();
    assert.ok(isRunning(ids.cliPid), 'Claude Code still runs');
    assert.ok(isRunning(ids.pid), 'its keeper still runs');
    assert.equal(fs.existsSync(path.join(first.cwd, 'approved.txt')), false, 'nothing was approved on the way out');

    // The next window: a new provider resumes the task from its persisted state.
    const persisted = { ...first.task, sessionId: first.handle.sessionId, providerState: first.handle.providerState };
    const second = makeContext(persisted, { profile: first.profile });
    const resumed = window().resume(second.context, second.handle);
    const again = await second.handle.waitForQuestion();
    assert.equal(again.type, 'command_approval');
    assert.equal(again.requestId, question.requestId, 'the same approval');
    assert.equal(again.type === 'command_approval' && again.command, 'touch approved.txt && echo made');
    assert.match(second.handle.transcript[0]?.text ?? '', /^\[recovery\] Reattached/);
    assert.deepEqual(second.handle.appended.map((entry) => entry.kind), ['status'], 'what the first window showed is not written again');
    second.handle.answer(again.requestId, { decision: 'approve' });
    const outcome = await resumed;
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    assert.equal(outcome.status === 'completed' && outcome.result, 'Tool said: made');
    assert.ok(fs.existsSync(path.join(first.cwd, 'approved.txt')), 'the command ran');
    assert.ok(second.handle.usage && (second.handle.usage.costUsd ?? 0) > 0, 'usage and cost are reported after reattach');
    // Entries the first window showed are not written again; the command entry appears once, with its result.
    const commands = second.handle.transcript.filter((entry) => entry.kind === 'command');
    assert.equal(commands.length, 1);
    assert.equal(commands[0].exitCode, 0);
    assert.ok(shownBefore > 0);
    assert.deepEqual(keeperRefFrom(second.handle.providerState), keeperRefFrom(first.handle.providerState), 'the keeper reference is kept');
    assert.ok(!mock.requests.some((request) => /interrupted/.test(request.userText)), 'no --resume fallback was needed');
  });

  it('output produced while no window was attached is in the transcript after reattach', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Please do the run-approval step now');
    const firstWindow = window();
    const before = mock.requests.length;
    const running = firstWindow.start(first.context, first.handle);
    // Let go as soon as the agent runs under its keeper, before the model has answered.
    await waitFor(() => keeperRefFrom(first.handle.providerState) !== undefined, 20_000, 'the keeper');
    track(first.handle.providerState);
    first.controller.abort('shutdown');
    assert.deepEqual(await running, { status: 'aborted' });
    assert.equal(first.handle.asked.length, 0);
    // While detached, Claude Code asks the model and reaches the approval.
    await waitFor(() => mock.requests.length > before, 30_000, 'the model request');
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const persisted = { ...first.task, sessionId: first.handle.sessionId, providerState: first.handle.providerState };
    const second = makeContext(persisted, { profile: first.profile });
    const resumed = window().resume(second.context, second.handle);
    const question = await second.handle.waitForQuestion();
    assert.equal(question.type, 'command_approval');
    const command = second.handle.transcript.find((entry) => entry.kind === 'command');
    assert.equal(command?.text, '$ touch approved.txt && echo made', 'the tool call made while detached is shown');
    second.handle.answer(question.requestId, { decision: 'approve' });
    const outcome = await resumed;
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    assert.ok(fs.existsSync(path.join(first.cwd, 'approved.txt')));
  });

  it('a task that finished while detached completes on reattach from the journal', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Say hello');
    const firstWindow = window();
    const running = firstWindow.start(first.context, first.handle);
    await waitFor(() => keeperRefFrom(first.handle.providerState) !== undefined, 20_000, 'the keeper');
    const ids = track(first.handle.providerState);
    first.controller.abort('shutdown');
    assert.deepEqual(await running, { status: 'aborted' });
    // Claude Code answers and waits on stdin for more; the turn's result is in the journal.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const persisted = { ...first.task, sessionId: first.handle.sessionId, providerState: first.handle.providerState };
    const second = makeContext(persisted, { profile: first.profile });
    const outcome = await window().resume(second.context, second.handle);
    assert.deepEqual(outcome, { status: 'completed', result: 'Hello from the mock model.' });
    assert.ok(second.handle.transcript.some((entry) => entry.kind === 'agent' && entry.text === 'Hello from the mock model.'));
    await waitFor(() => !isRunning(ids.cliPid), 10_000, 'Claude Code to end');
  });

  it('keeper killed: resume falls back to claude --resume with a [recovery] entry', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Please do the run-approval step, then stop');
    const firstWindow = window();
    const running = firstWindow.start(first.context, first.handle);
    await first.handle.waitForQuestion();
    const ids = track(first.handle.providerState);
    // Claude Code saves its session lazily (PROTOCOLS.md §2): wait for the file before the crash.
    await waitFor(() => findSessionFile(first.home, first.handle.sessionId ?? '') !== undefined, 15_000, 'the session file');
    first.controller.abort('shutdown');
    assert.deepEqual(await running, { status: 'aborted' });
    process.kill(ids.pid, 'SIGKILL');
    await waitFor(() => !isRunning(ids.pid), 5000, 'the keeper to die');

    const persisted = { ...first.task, sessionId: first.handle.sessionId, providerState: first.handle.providerState };
    const second = makeContext(persisted, { profile: first.profile });
    const outcome = await window().resume(second.context, second.handle);
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    const recovery = second.handle.transcript.filter((entry) => /^\[recovery\]/.test(entry.text)).map((entry) => entry.text);
    assert.match(recovery[0] ?? '', /no longer running under its keeper/);
    assert.ok(recovery.some((text) => /--resume/.test(text)), recovery.join('\n'));
    assert.ok(!isRunning(ids.cliPid), 'the orphaned Claude Code was stopped');
    const last = mock.requests[mock.requests.length - 1];
    assert.equal(last.sessionId, first.handle.sessionId);
    assert.match(last.userText, /interrupted/);
    // The --resume / session/load run also ran under a (new) keeper, which ended with it.
    assert.notEqual(keeperRefFrom(second.handle.providerState)?.keeperId, keeperRefFrom(first.handle.providerState)?.keeperId);
  });

  it('cancel of a task under the keeper ends the agent and its keeper', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Please do the run-approval step');
    const running = window().start(first.context, first.handle);
    await first.handle.waitForQuestion();
    const ids = track(first.handle.providerState);
    first.controller.abort('cancelled');
    assert.deepEqual(await running, { status: 'aborted' });
    await waitFor(() => !isRunning(ids.cliPid) && !isRunning(ids.pid), 10_000, 'the agent and keeper to end');
    assert.equal(fs.existsSync(path.join(first.cwd, 'approved.txt')), false);
  });
});

/** Processes whose environment names `text` (the agents get this test's CLAUDE_CONFIG_DIR / COPILOT_HOME). */
function pidsWithEnv(text: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/environ`, 'utf8').includes(text) && isRunning(Number(name))) found.push(Number(name));
    } catch {
      // Gone, or not ours.
    }
  }
  return found;
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

function silent() {
  const log = (level: string) => (message: unknown) => {
    if (process.env.ATW_TEST_LOG) console.error(`[${level}]`, message);
  };
  return { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
