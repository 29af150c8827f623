/**
 * DESIGN §8 with every real agent CLI against its mock model server: a task in a git repository runs in its own
 * worktree, so its file edit lands there and never in the main checkout (byte-identical, every file hashed), and its
 * change summary shows the edit. Each agent edits README.md by the path it was given: its cwd.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { ProviderAdapter } from '../../src/core/ports';
import type { ProfileConfig } from '../../src/core/profiles';
import { AcpProvider } from '../../src/providers/acp';
import { ClaudeProvider } from '../../src/providers/claude';
import { CodexProvider } from '../../src/providers/codex';
import { CopilotProvider } from '../../src/providers/copilot';
import { TaskWorktrees } from '../../src/worktrees/task-worktrees';
import { startMockAnthropicServer, type MockAnthropicServer } from '../fixtures/mock-anthropic/server';
import { startMockChatServer, type MockChatServer } from '../fixtures/mock-chat/server';
import { writeCodexHome } from '../fixtures/mock-responses/codex-home';
import { startMockResponsesServer, type MockResponsesServer } from '../fixtures/mock-responses/server';
import { pinnedCodexBinary, processesUnder } from '../support/codex-harness';
import { Harness, makeTempDir, RecordingLogger, removeTempDirs } from '../support/core-harness';
import { fingerprint, makeRepo, TEST_GIT_ENV, type TestRepo } from '../support/git-repo';

const README = '# demo\n\nSome text.\n';
const EDITED = '# demo (edited)\n\nSome text.\n';
const TEST_TIMEOUT = 120_000;
const CLAUDE = path.resolve(__dirname, '../../node_modules/.bin/claude');
const COPILOT = path.resolve(__dirname, '../../node_modules/.bin/copilot');
const ACP_AGENT = path.resolve(__dirname, '../fixtures/acp-agent/agent.ts');
const TSX = pathToFileURL(require.resolve('tsx')).href;
const EDIT_README = '*** Begin Patch\n*** Update File: README.md\n@@\n-# demo\n+# demo (edited)\n*** End Patch\n';

/** One agent as the test drives it: its adapter, its account, and the prompt that makes its model edit README.md. */
interface Agent {
  adapter: ProviderAdapter;
  profile?: ProfileConfig;
  prompt: string;
  stop(): Promise<void>;
}

describe('each agent CLI edits inside its task worktree, never the main checkout', { timeout: 10 * 60_000 }, () => {
  let responses: MockResponsesServer;
  let anthropic: MockAnthropicServer;
  let chat: MockChatServer;
  const repos: TestRepo[] = [];

  before(async () => {
    [responses, anthropic, chat] = await Promise.all([startMockResponsesServer({ patch: EDIT_README }), startMockAnthropicServer(), startMockChatServer()]);
  });
  after(async () => {
    await Promise.all([responses.close(), anthropic.close(), chat.close()]);
    for (const repo of repos) repo.remove();
    removeTempDirs();
  });

  /** Runs `agent` on a task in a fresh repository, approving every question, and checks where the edit landed. */
  async function editsInItsWorktree(agent: Agent): Promise<void> {
    const repo = makeRepo({ 'README.md': README, 'src/keep.txt': 'untouched\n' });
    repos.push(repo);
    const untouched = fingerprint(repo);
    const harness = new Harness({
      cwd: repo.root,
      scripted: false,
      providers: [agent.adapter],
      profiles: agent.profile ? [agent.profile] : [],
      settings: { defaultProvider: agent.adapter.id },
      worktrees: new TaskWorktrees({ env: TEST_GIT_ENV }),
    });
    harness.manager.onDidAskQuestion(({ taskId, question }) => void harness.manager.answer(taskId, question.requestId, { decision: 'approve' }));
    try {
      const { id } = await harness.manager.createTask({ prompt: agent.prompt, profile: agent.profile?.id });
      await harness.until(() => ['completed', 'failed'].includes(harness.status(id) ?? ''), `task ${id} to finish`, TEST_TIMEOUT - 10_000);
      assert.equal(harness.status(id), 'completed', harness.texts(id).join('\n'));
      await harness.manager.worktrees.settled(id);
      const worktree = harness.task(id).worktree;
      assert.ok(worktree, 'the task ran in a worktree');
      assert.equal(worktree.path, `${repo.root}.worktrees/${id}`);
      assert.equal(fs.readFileSync(path.join(worktree.path, 'README.md'), 'utf8'), EDITED, 'the edit is in the worktree');
      assert.deepEqual(fingerprint(repo), untouched, 'the main checkout is byte-identical');
      assert.deepEqual(worktree.changes, { files: [{ path: 'README.md', status: 'modified', insertions: 1, deletions: 1 }], insertions: 1, deletions: 1 });
      assert.ok(harness.entries(id).some((entry) => entry.kind === 'file' && /README\.md/.test(entry.text)), 'the agent reported the edit');
    } finally {
      await harness.dispose();
      await agent.stop();
    }
  }

  it('Codex (app-server, apply_patch)', { timeout: TEST_TIMEOUT }, async () => {
    const root = makeTempDir('atw-cx-wt-');
    const home = path.join(root, 'home');
    await writeCodexHome(home, { port: responses.port, cwd: root });
    const adapter = new CodexProvider({ codexPath: () => pinnedCodexBinary(), workspacePath: root, socketDir: path.join(root, 's'), log: new RecordingLogger(), idleShutdownMs: 0, flushIntervalMs: 0 });
    await editsInItsWorktree({
      adapter,
      profile: { id: 'codex-test', provider: 'codex', configDir: home, env: { MOCK_API_KEY: 'test-key' } },
      prompt: 'Please file-approval',
      stop: async () => {
        await adapter.shutdown();
        assert.deepEqual(processesUnder(root), [], 'no app-server outlives the test');
      },
    });
  });

  it('Claude Code (stream-json, Read then Edit)', { timeout: TEST_TIMEOUT }, async () => {
    const home = makeTempDir('atw-claude-wt-');
    await editsInItsWorktree({
      adapter: new ClaudeProvider({ claudePath: () => CLAUDE, log: new RecordingLogger(), flushIntervalMs: 0 }),
      profile: { id: 'claude-test', provider: 'claude-cli', configDir: home, env: { ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: 'dummy' } },
      prompt: 'Please edit-file now',
      stop: async () => undefined,
    });
  });

  it('Copilot CLI (ACP, edit permission)', { timeout: TEST_TIMEOUT }, async () => {
    const home = makeTempDir('atw-copilot-wt-');
    const env = { COPILOT_OFFLINE: 'true', COPILOT_PROVIDER_BASE_URL: chat.url, COPILOT_PROVIDER_TYPE: 'openai', COPILOT_PROVIDER_API_KEY: 'x', COPILOT_MODEL: 'gpt-4.1' };
    const adapter = new CopilotProvider({ copilotPath: () => COPILOT, log: new RecordingLogger(), flushIntervalMs: 0 });
    await editsInItsWorktree({
      adapter,
      profile: { id: 'copilot-test', provider: 'copilot', configDir: home, env },
      prompt: 'Please edit-file now',
      stop: async () => adapter.dispose?.(),
    });
  });

  it('any ACP agent (the SDK-based fixture agent)', { timeout: TEST_TIMEOUT }, async () => {
    const state = makeTempDir('atw-acp-wt-');
    const adapter = AcpProvider.fromConfig({ name: 'test-agent', command: process.execPath, args: ['--import', TSX, ACP_AGENT], env: { ACP_AGENT_STATE_DIR: state } }, new RecordingLogger());
    await editsInItsWorktree({ adapter, prompt: 'Please edit-file', stop: async () => adapter.dispose?.() });
  });
});
