// A real MCP client end to end: the pinned Codex CLI, configured with the config.toml snippet that
// "Agent Tasks: Copy MCP Server Config" produces, delegates a task to this window. Its model is a mock
// (test/fixtures/mcp-client/mock-delegator.ts) that calls spawn_task and wait_for_task; the delegated task runs on
// the scripted provider; Codex ends with the task's result.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { McpClientConfig } from '../../src/host/mcp-host';
import { startMockDelegator, type MockDelegator } from '../fixtures/mcp-client/mock-delegator';
import { MOCK_API_KEY_ENV, writeCodexHome } from '../fixtures/mock-responses/codex-home';
import { EXTENSION_ID, agentTasks, cancelUnfinished, type AgentTasksApi } from './support/agent-tasks';

suite('MCP delegation from Codex', () => {
  let api: AgentTasksApi;
  let mock: MockDelegator;
  let root: string;
  let codex: string;

  suiteSetup(async function () {
    api = await agentTasks();
    const extensionPath = vscode.extensions.getExtension(EXTENSION_ID)?.extensionPath ?? '';
    codex = path.join(extensionPath, 'node_modules', '.bin', 'codex');
    if (!fs.existsSync(codex)) this.skip(); // @openai/codex is a pinned devDependency; absent only in a trimmed install.
    mock = await startMockDelegator({ provider: 'scripted' });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-codex-mcp-'));
  });
  suiteTeardown(async () => {
    await mock?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (api) await cancelUnfinished(api);
  });

  test('codex exec delegates with spawn_task, waits with wait_for_task, and reports the result', async function () {
    this.timeout(120_000);
    const config = await vscode.commands.executeCommand<McpClientConfig>('agentTasks.copyMcpConfig', { copy: false });
    assert.ok(config, 'the MCP config is available');
    const workspace = path.join(root, 'ws');
    const home = path.join(root, 'codex-home');
    fs.mkdirSync(workspace);
    await writeCodexHome(home, { port: mock.port, cwd: workspace });
    // The snippet exactly as the user would paste it.
    fs.appendFileSync(path.join(home, 'config.toml'), `\n${config.snippets.codex}\n`);
    // The snippet lets Codex call only the read-only tools without asking (M1); `codex exec` cannot ask, so this user
    // also allows spawn_task, the way the snippet's comment describes.
    fs.appendFileSync(path.join(home, 'config.toml'), '[mcp_servers.agent-tasks.tools.spawn_task]\napproval_mode = "approve"\n');

    const prompt = 'say: delegated hello; done: forty-two';
    const run = await runCodex(codex, ['exec', '--strict-config', '--skip-git-repo-check', '-C', workspace, `delegate: ${prompt}`], {
      ...process.env,
      CODEX_HOME: home,
      [MOCK_API_KEY_ENV]: 'test-key',
    });
    assert.equal(run.code, 0, `codex exec failed:\n${run.output}`);
    assert.deepEqual(
      mock.steps.map((step) => step.step.replace(/ in .*/, '')),
      ['tool_search', 'spawn_task', 'wait_for_task', 'final'],
      `the model's steps: ${JSON.stringify(mock.steps)}\n${run.output}`,
    );
    assert.match(run.output, /mcp: agent-tasks\/spawn_task \(completed\)/);
    assert.match(run.output, /mcp: agent-tasks\/wait_for_task \(completed\)/);
    assert.match(run.output, /Delegation finished:[\s\S]*"reason":"finished"[\s\S]*"result":"forty-two"/);

    const delegated = api.listTasks().filter((task) => task.prompt === prompt);
    assert.equal(delegated.length, 1, 'one task was delegated');
    const [task] = delegated;
    assert.equal(task.status, 'completed');
    assert.equal(task.result, 'forty-two');
    assert.ok(task.labels.includes('delegated'));
    assert.ok(task.output.some((entry) => /^\[mcp\] Delegated over MCP by \S+/.test(entry.text)), 'the transcript names the client');
  });
});

function runCodex(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
