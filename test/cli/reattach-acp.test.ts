/**
 * A generic ACP agent (the SDK-based test agent) under the keeper (DESIGN §5): the window closing (abort with
 * 'shutdown') lets go of it; a new AcpProvider reattaches with the persisted providerState and asks the pending
 * session/request_permission again; with its keeper killed, resume falls back to session/load.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { AcpProvider } from '../../src/providers/acp';
import { KeeperLauncher, keeperRefFrom } from '../../src/keeper';
import { keeperPaths, readKeeperMetadata } from '../../src/keeper/files';
import { buildKeeper, isRunning, makeRoot, pidsMatching, waitFor } from '../support/fake-cli';
import { makeContext, makeTask } from '../support/fake-handle';

const AGENT = path.resolve(__dirname, '../fixtures/acp-agent/agent.ts');
const TSX = pathToFileURL(require.resolve('tsx')).href;
const TEST_TIMEOUT = 60_000;

describe('AcpProvider under the keeper: tasks survive a window reload', { timeout: 5 * 60_000 }, () => {
  let root: string;
  let keeperScript: string;
  let launcher: KeeperLauncher;
  let pids: number[] = [];

  before(async () => {
    root = makeRoot('atwra-');
    keeperScript = await buildKeeper(root);
    launcher = new KeeperLauncher({ dir: path.join(root, 'k'), keeperScript, log: silent() });
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  afterEach(async () => {
    const left = (): number[] => [...new Set([...pids.filter((pid) => isRunning(pid)), ...pidsMatching(keeperScript), ...pidsMatching(AGENT)])];
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

  const window = () =>
    AcpProvider.fromConfig(
      { name: 'test-agent', command: process.execPath, args: ['--import', TSX, AGENT], env: { ACP_AGENT_STATE_DIR: path.join(root, 'state') } },
      silent(),
      undefined,
      { launcher, keepRunningMs: () => 60_000 },
    );

  let counter = 0;
  function setup(prompt: string) {
    const cwd = path.join(root, `t${++counter}`);
    fs.mkdirSync(cwd, { recursive: true });
    fs.writeFileSync(path.join(cwd, 'README.md'), '# demo\n\nSome text.\n');
    const task = makeTask({ prompt, cwd, provider: 'acp:test-agent' });
    return { cwd, task, ...makeContext(task) };
  }

  function track(state: Record<string, unknown> | undefined): { pid: number; cliPid: number } {
    const ref = keeperRefFrom(state);
    assert.ok(ref, `providerState names the keeper: ${JSON.stringify(state)}`);
    const metadata = readKeeperMetadata(keeperPaths(ref.dir, ref.keeperId).metadata);
    assert.ok(metadata, 'the keeper wrote its metadata');
    pids.push(metadata.pid, metadata.cliPid);
    if (metadata.watchdogPid) pids.push(metadata.watchdogPid);
    return { pid: metadata.pid, cliPid: metadata.cliPid };
  }

  it('a pending permission request is asked again by the next window; allowing completes the task', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Please do the run-approval step');
    const running = window().start(first.context, first.handle);
    const question = await first.handle.waitForQuestion();
    const ids = track(first.handle.providerState);
    first.controller.abort('shutdown');
    assert.deepEqual(await running, { status: 'aborted' });
    assert.ok(isRunning(ids.cliPid), 'the agent still runs');

    const second = makeContext({ ...first.task, sessionId: first.handle.sessionId, providerState: first.handle.providerState });
    const resumed = window().resume(second.context, second.handle);
    const again = await second.handle.waitForQuestion();
    assert.equal(again.requestId, question.requestId);
    assert.equal(again.type, question.type);
    assert.match(second.handle.transcript[0]?.text ?? '', /^\[recovery\] Reattached/);
    second.handle.answer(again.requestId, { decision: 'approve' });
    const outcome = await resumed;
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    assert.ok(fs.existsSync(path.join(first.cwd, 'approved.txt')));
  });

  it('keeper killed: resume falls back to session/load with a [recovery] entry', { timeout: TEST_TIMEOUT }, async () => {
    const first = setup('Please do the run-approval step');
    const running = window().start(first.context, first.handle);
    await first.handle.waitForQuestion();
    const ids = track(first.handle.providerState);
    first.controller.abort('shutdown');
    assert.deepEqual(await running, { status: 'aborted' });
    process.kill(ids.pid, 'SIGKILL');
    await waitFor(() => !isRunning(ids.pid), 5000, 'the keeper to die');

    const second = makeContext({ ...first.task, sessionId: first.handle.sessionId, providerState: first.handle.providerState });
    const outcome = await window().resume(second.context, second.handle);
    const recovery = second.handle.transcript.filter((entry) => /^\[recovery\]/.test(entry.text)).map((entry) => entry.text);
    assert.match(recovery[0] ?? '', /no longer running under its keeper/);
    assert.ok(recovery.some((text) => /session\/load/.test(text)), recovery.join('\n'));
    assert.ok(!isRunning(ids.cliPid), 'the orphaned agent was stopped');
    assert.equal(outcome.status, 'completed', JSON.stringify(outcome));
    assert.equal(second.handle.sessionId, first.handle.sessionId);
  });
});

function silent() {
  const log = (level: string) => (message: unknown) => {
    if (process.env.ATW_TEST_LOG) console.error(`[${level}]`, message);
  };
  return { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
