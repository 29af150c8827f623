// Phase `agents`: Claude Code, Copilot CLI and a generic ACP agent, each running one task end to end in the real
// extension host — the pinned CLIs against mock model servers this suite starts, configured through the settings.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as vscode from 'vscode';
import { startMockAnthropicServer, type MockAnthropicServer } from '../fixtures/mock-anthropic/server';
import { startMockChatServer, type MockChatServer } from '../fixtures/mock-chat/server';
import { agentTasks, cancelUnfinished, EXTENSION_ID, StatusRecorder, type AgentTasksApi } from './support/agent-tasks';

suite('Agents in the extension host: Claude Code, Copilot CLI, generic ACP', function () {
  this.timeout(120_000);
  let api: AgentTasksApi;
  let recorder: StatusRecorder;
  let anthropic: MockAnthropicServer;
  let chat: MockChatServer;
  let homes: string;
  let workspace: string;

  suiteSetup(async () => {
    api = await agentTasks();
    recorder = new StatusRecorder(api);
    anthropic = await startMockAnthropicServer();
    chat = await startMockChatServer();
    homes = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-agents-'));
    workspace = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const root = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
    const bin = (name: string): string => path.join(root, 'node_modules', '.bin', name);
    const config = vscode.workspace.getConfiguration('agentTasks');
    await config.update('claude.path', bin('claude'), vscode.ConfigurationTarget.Global);
    await config.update('copilot.path', bin('copilot'), vscode.ConfigurationTarget.Global);
    await config.update(
      'profiles',
      [
        {
          id: 'mock-claude',
          provider: 'claude-cli',
          configDir: path.join(homes, 'claude'),
          env: { ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: 'dummy' },
        },
        {
          id: 'mock-copilot',
          provider: 'copilot',
          configDir: path.join(homes, 'copilot'),
          env: { COPILOT_OFFLINE: 'true', COPILOT_PROVIDER_BASE_URL: chat.url, COPILOT_PROVIDER_TYPE: 'openai', COPILOT_PROVIDER_API_KEY: 'x', COPILOT_MODEL: 'gpt-4.1' },
        },
      ],
      vscode.ConfigurationTarget.Global,
    );
    const tsx = pathToFileURL(path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    await config.update(
      'acpAgents',
      [{ name: 'test-agent', command: process.execPath, args: ['--import', tsx, path.join(root, 'test', 'fixtures', 'acp-agent', 'agent.ts')], env: { ACP_AGENT_STATE_DIR: path.join(homes, 'acp') } }],
      vscode.ConfigurationTarget.Global,
    );
    // The ACP provider is registered when the setting changes.
    const deadline = Date.now() + 10_000;
    while (!(await api.createTask({ prompt: 'probe', provider: 'acp:test-agent' }).then((t) => api.cancelTask(t.id)).then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error('provider acp:test-agent was not registered from agentTasks.acpAgents');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  suiteTeardown(async () => {
    await cancelUnfinished(api);
    recorder.dispose();
    await anthropic?.close();
    await chat?.close();
  });

  test('Claude Code: a command approval approved through the API creates the file, and the task completes with cost', async () => {
    const task = await recorder.create({ prompt: 'Please run-approval now', provider: 'claude-cli' });
    const waiting = await recorder.waitForStatus(task.id, 'waiting_answer', 60_000);
    const question = waiting.pendingQuestions[0];
    assert.equal(question.type, 'command_approval');
    await api.answer(task.id, question.requestId, { decision: 'approve' });
    const done = await recorder.waitForStatus(task.id, 'completed', 60_000);
    assert.equal(done.profile, 'mock-claude');
    assert.ok(done.sessionId, 'the Claude session id is the task session id');
    assert.ok(done.usage && done.usage.costUsd !== undefined && done.usage.costUsd > 0, `cost reported: ${JSON.stringify(done.usage)}`);
    assert.ok(fs.existsSync(path.join(workspace, 'approved.txt')), 'the approved command ran in the workspace');
    assert.ok(done.output.some((entry) => entry.kind === 'agent'), 'the agent reply is in the transcript');
  });

  test('Copilot CLI: a denied permission creates nothing and the task still ends', async () => {
    fs.rmSync(path.join(workspace, 'approved.txt'), { force: true });
    const task = await recorder.create({ prompt: 'Please run-approval now', provider: 'copilot' });
    const waiting = await recorder.waitForStatus(task.id, 'waiting_answer', 90_000);
    const question = waiting.pendingQuestions[0];
    assert.equal(question.type, 'command_approval');
    await api.answer(task.id, question.requestId, { decision: 'deny' });
    const done = await recorder.waitFor(task.id, (t) => ['completed', 'failed'].includes(t.status), 'a finished state', 60_000);
    assert.equal(done.status, 'completed', `Copilot ends the turn after a rejection: ${done.error ?? ''}`);
    assert.equal(fs.existsSync(path.join(workspace, 'approved.txt')), false, 'nothing ran');
    assert.equal(done.profile, 'mock-copilot');
  });

  test('a generic ACP agent from agentTasks.acpAgents replies and completes', async () => {
    const task = await recorder.create({ prompt: 'Say hello', provider: 'acp:test-agent' });
    const done = await recorder.waitForStatus(task.id, 'completed', 60_000);
    assert.match(done.result ?? '', /Hello from the test agent/);
    assert.deepEqual(recorder.statusesAfterStart(task.id), ['running', 'completed']);
  });
});
