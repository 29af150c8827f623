/**
 * GitHub Copilot CLI (`copilot --acp`) under the keeper (DESIGN §5): the real pinned CLI and the mock Chat server, a
 * freshly built keeper bundle. The window closing (abort with 'shutdown') lets go of the agent; a new CopilotProvider
 * reattaches with the persisted providerState and asks a pending ACP permission request again. Every test checks that
 * no keeper or Copilot process it started is left behind.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { ResolvedProfile } from '../../src/core/ports';
import { CopilotProvider } from '../../src/providers/copilot';
import type { TaskState } from '../../src/core/task-state';
import { KeeperLauncher, keeperRefFrom } from '../../src/keeper';
import { keeperPaths, readKeeperMetadata } from '../../src/keeper/files';
import { startMockChatServer, type MockChatServer } from '../fixtures/mock-chat/server';
import { buildKeeper, isRunning, makeRoot, pidsMatching, waitFor } from '../support/fake-cli';
import { makeContext, makeTask } from '../support/fake-handle';

const COPILOT = path.resolve(__dirname, '../../node_modules/.bin/copilot');
const TEST_TIMEOUT = 120_000;

describe('CopilotProvider under the keeper: tasks survive a window reload', { timeout: 10 * 60_000 }, () => {
  let mock: MockChatServer;
  let root: string;
  let keeperScript: string;
  let launcher: KeeperLauncher;
  let pids: number[] = [];

  before(async () => {
    mock = await startMockChatServer();
    root = makeRoot('atwrp-');
    keeperScript = await buildKeeper(root);
    launcher = new KeeperLauncher({ dir: path.join(root, 'k'), keeperScript, log: silent() });
  });
  after(async () => {
    await mock.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    const left = (): number[] => [...new Set([...pids.filter((pid) => isRunning(pid)), ...pidsMatching(keeperScript), ...pidsWithEnv(root)])];
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
      pids = [];
    }
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
    return { cwd, home, task, profile, context, controller, handle };
  }

  /** A provider as a window builds it: a new instance per window, sharing only the socket directory. */
  const window = () => new CopilotProvider({ copilotPath: () => COPILOT, log: silent(), flushIntervalMs: 0, keeper: { launcher, keepRunningMs: () => 60_000 } });

  function track(state: Record<string, unknown> | undefined): { pid: number; cliPid: number } {
    const ref = keeperRefFrom(state);
    assert.ok(ref, `providerState names the keeper: ${JSON.stringify(state)}`);
    const metadata = readKeeperMetadata(keeperPaths(ref.dir, ref.keeperId).metadata);
    assert.ok(metadata, 'the keeper wrote its metadata');
    pids.push(metadata.pid, metadata.cliPid);
    if (metadata.watchdogPid) pids.push(metadata.watchdogPid);
    return { pid: metadata.pid, cliPid: metadata.cliPid };
  }

  it('a pending permission request survives the window: a new provider asks it again; allowing completes the task', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Please do the run-approval step');
    const firstWindow = window();
    const running = firstWindow.start(first.context, first.handle);
    const question = await first.handle.waitForQuestion();
    assert.equal(question.type, 'command_approval');
    const ids = track(first.handle.providerState);
    assert.equal(first.handle.providerState?.sessionId, first.handle.sessionId);

    first.controller.abort('shutdown');
    assert.deepEqual(await running, { status: 'aborted' });
    await firstWindow.dispose();
    assert.ok(isRunning(ids.cliPid), 'Copilot still runs');
    assert.ok(isRunning(ids.pid), 'its keeper still runs');
    assert.equal(fs.existsSync(path.join(first.cwd, 'approved.txt')), false, 'nothing was approved on the way out');

    const persisted = { ...first.task, sessionId: first.handle.sessionId, providerState: first.handle.providerState };
    const second = makeContext(persisted, { profile: first.profile });
    const resumed = window().resume(second.context, second.handle);
    const again = await second.handle.waitForQuestion();
    assert.equal(again.type, 'command_approval');
    assert.equal(again.requestId, question.requestId, 'the same permission request');
    assert.equal(again.type === 'command_approval' && again.command, 'touch approved.txt && echo made');
    assert.match(second.handle.transcript[0]?.text ?? '', /^\[recovery\] Reattached/);
    assert.deepEqual(second.handle.appended.map((entry) => entry.kind), ['status'], 'what the first window showed is not written again');
    second.handle.answer(again.requestId, { decision: 'approve' });
    const outcome = await resumed;
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    assert.ok(fs.existsSync(path.join(first.cwd, 'approved.txt')), 'the command ran');
    const command = second.handle.transcript.find((entry) => entry.kind === 'command');
    assert.equal(command?.exitCode, 0);
    assert.ok(second.handle.usage, 'usage is reported after reattach');
  });

  it('output produced while no window was attached is in the transcript after reattach', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Please do the run-approval step now');
    const firstWindow = window();
    const before = mock.requests.length;
    const running = firstWindow.start(first.context, first.handle);
    await waitFor(() => first.handle.sessionId !== undefined, 60_000, 'the session');
    track(first.handle.providerState);
    first.controller.abort('shutdown');
    assert.deepEqual(await running, { status: 'aborted' });
    assert.equal(first.handle.asked.length, 0);
    await waitFor(() => mock.requests.length > before, 60_000, 'the model request');
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const persisted = { ...first.task, sessionId: first.handle.sessionId, providerState: first.handle.providerState };
    const second = makeContext(persisted, { profile: first.profile });
    const resumed = window().resume(second.context, second.handle);
    const question = await second.handle.waitForQuestion();
    assert.equal(question.type, 'command_approval');
    assert.ok(second.handle.transcript.some((entry) => entry.kind === 'command' && /touch approved\.txt/.test(entry.text)), 'the tool call made while detached is shown');
    second.handle.answer(question.requestId, { decision: 'approve' });
    const outcome = await resumed;
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    assert.ok(fs.existsSync(path.join(first.cwd, 'approved.txt')));
  });

  it('keeper killed: resume falls back to session/load with a [recovery] entry', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Please do the run-approval step, then stop');
    const running = window().start(first.context, first.handle);
    await first.handle.waitForQuestion();
    const ids = track(first.handle.providerState);
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
    assert.ok(recovery.some((text) => /session\/load/.test(text)), recovery.join('\n'));
    assert.ok(!isRunning(ids.cliPid), 'the orphaned Copilot was stopped');
    assert.equal(second.handle.sessionId, first.handle.sessionId);
    // The --resume / session/load run also ran under a (new) keeper, which ended with it.
    assert.notEqual(keeperRefFrom(second.handle.providerState)?.keeperId, keeperRefFrom(first.handle.providerState)?.keeperId);
  });
});

/** Processes whose environment names `text` (the agents get this test's COPILOT_HOME). */
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

function silent() {
  const log = (level: string) => (message: unknown) => {
    if (process.env.ATW_TEST_LOG) console.error(`[${level}]`, message);
  };
  return { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
