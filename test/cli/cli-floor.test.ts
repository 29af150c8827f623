/**
 * The compatibility floor (src/providers/cli-versions.ts): a CLI older than the oldest version this extension works
 * with fails the task at once with a message naming the version needed, before it is started. The fakes in
 * test/fixtures/fake-cli answer `--version` like an old CLI and fail if they are started for real.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClaudeProvider } from '../../src/providers/claude';
import { CodexProvider } from '../../src/providers/codex';
import { CopilotProvider } from '../../src/providers/copilot';
import { CLI_VERSION_FLOORS } from '../../src/providers/cli-versions';
import { FAKE_CLI_DIR } from '../support/fake-cli';
import { makeContext, makeTask } from '../support/fake-handle';
import { processesUnder } from '../support/codex-harness';

const fake = (name: string) => path.join(FAKE_CLI_DIR, name);
const log = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('agent CLIs older than the floor get a message naming the version needed', { timeout: 60_000 }, () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-floor-'));
  });
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  function context(provider: string) {
    const cwd = fs.mkdtempSync(path.join(root, 'w'));
    return makeContext(makeTask({ prompt: 'Say hello', cwd, provider }));
  }

  it('Codex 0.150.0 (by --version): refused before the app-server is started', async () => {
    const provider = new CodexProvider({ codexPath: () => fake('old-codex.mjs'), workspacePath: root, socketDir: path.join(root, 'cs'), log, idleShutdownMs: 0 });
    const { context: run, handle } = context('codex');
    const outcome = await provider.start(run, handle);
    await provider.shutdown();
    assert.deepEqual(outcome, {
      status: 'failed',
      error: `Codex ${CLI_VERSION_FLOORS.codex.minimum} or newer is needed (found 0.150.0); update it (npm install -g @openai/codex@latest) or set agentTasks.codex.path to a newer Codex.`,
      action: { kind: 'openSettings', setting: 'agentTasks.codex.path', label: 'Open Settings' },
    });
    assert.ok(!fs.existsSync(path.join(root, 'cs', 'codex-default.json')), 'no server was started');
  });

  it('Codex whose app-server answers "method not found": the message names the method and the version', async () => {
    const socketDir = path.join(root, 'cm');
    const provider = new CodexProvider({ codexPath: () => fake('codex-missing-method.mjs'), workspacePath: root, socketDir, log, idleShutdownMs: 0 });
    const { context: run, handle } = context('codex');
    const outcome = await provider.start(run, handle);
    await provider.shutdown();
    assert.deepEqual(outcome, {
      status: 'failed',
      error: `Codex ${CLI_VERSION_FLOORS.codex.minimum} or newer is needed (found 0.160.0: it does not support thread/start); update it (npm install -g @openai/codex@latest) or set agentTasks.codex.path to a newer Codex.`,
      action: { kind: 'openSettings', setting: 'agentTasks.codex.path', label: 'Open Settings' },
    });
    assert.deepEqual(processesUnder(socketDir), [], 'the fake server was stopped');
  });

  it('Claude Code 2.0.5: refused before it is started', async () => {
    const provider = new ClaudeProvider({ claudePath: () => fake('old-claude.mjs'), log });
    const { context: run, handle } = context('claude-cli');
    const outcome = await provider.start(run, handle);
    assert.deepEqual(outcome, {
      status: 'failed',
      error: `Claude Code ${CLI_VERSION_FLOORS['claude-cli'].minimum} or newer is needed (found 2.0.5); update it (npm install -g @anthropic-ai/claude-code@latest) or set agentTasks.claude.path to a newer Claude Code.`,
      action: { kind: 'openSettings', setting: 'agentTasks.claude.path', label: 'Open Settings' },
    });
    assert.deepEqual(handle.transcript, []);
  });

  it('Copilot CLI 0.0.330: refused before it is started', async () => {
    const provider = new CopilotProvider({ copilotPath: () => fake('old-copilot.mjs'), log });
    const { context: run, handle } = context('copilot');
    const outcome = await provider.start(run, handle);
    assert.deepEqual(outcome, {
      status: 'failed',
      error: `Copilot CLI ${CLI_VERSION_FLOORS.copilot.minimum} or newer is needed (found 0.0.330); update it (npm install -g @github/copilot@latest) or set agentTasks.copilot.path to a newer Copilot CLI.`,
      action: { kind: 'openSettings', setting: 'agentTasks.copilot.path', label: 'Open Settings' },
    });
  });

  it('the pinned CLIs are at or above their floors', async () => {
    const { compareVersions, executableVersion } = await import('../../src/providers/cli-versions');
    const pinned = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8')).devDependencies as Record<string, string>;
    assert.ok(compareVersions(pinned['@openai/codex'], CLI_VERSION_FLOORS.codex.minimum) >= 0);
    assert.ok(compareVersions(pinned['@anthropic-ai/claude-code'], CLI_VERSION_FLOORS['claude-cli'].minimum) >= 0);
    assert.ok(compareVersions(pinned['@github/copilot'], CLI_VERSION_FLOORS.copilot.minimum) >= 0);
    const { pinnedCodexBinary } = await import('../support/codex-harness');
    assert.equal(await executableVersion(pinnedCodexBinary()), pinned['@openai/codex'], 'codex --version names the pinned version');
  });
});
