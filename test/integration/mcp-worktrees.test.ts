// DESIGN §8 over MCP inside the real extension host: the workspace becomes a git repository, a task delegated over MCP
// runs in its own worktree (the scripted provider writes a file there once the user approves it), and the delegating
// agent reads the change through get_task and get_task_changes — while merge_task_changes refuses, because
// agentTasks.mcp.allowAgentMerge is off. Runs last in the mcp phase: it removes the repository again afterwards.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { McpClientConfig } from '../../src/host/mcp-host';
import { TEST_GIT_ENV } from '../support/git-repo';
import { startClient, type TestClient } from '../support/mcp-client';
import { type AgentTasksApi, agentTasks, cancelUnfinished, eventually, script } from './support/agent-tasks';

suite('MCP and task worktrees', () => {
  let api: AgentTasksApi;
  let mcp: TestClient;
  let workspace: string;

  const git = (...args: string[]): string => execFileSync('git', args, { cwd: workspace, env: { ...process.env, ...TEST_GIT_ENV }, encoding: 'utf8' });

  suiteSetup(async () => {
    api = await agentTasks();
    workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    assert.ok(workspace && !fs.existsSync(path.join(workspace, '.git')), 'the workspace is not a repository yet');
    git('init', '--quiet', '--initial-branch=main');
    git('add', '--all');
    git('commit', '--quiet', '-m', 'the workspace');
    const config = await vscode.commands.executeCommand<McpClientConfig>('agentTasks.copyMcpConfig', { copy: false });
    assert.ok(config, 'the MCP config is available');
    mcp = await startClient(config.serverPath, config.env);
  });
  suiteTeardown(async () => {
    await mcp?.close();
    if (api) await cancelUnfinished(api);
    if (workspace) {
      fs.rmSync(`${workspace}.worktrees`, { recursive: true, force: true });
      fs.rmSync(path.join(workspace, '.git'), { recursive: true, force: true });
    }
  });

  test('get_task shows the worktree and its summary, get_task_changes pages the diff, merge_task_changes refuses', async () => {
    const spawned = await mcp.call('spawn_task', { prompt: script('ask-file: notes.md|first line\\nsecond line\\nthird line', 'done: wrote'), provider: 'scripted', isolation: 'worktree' });
    assert.equal(spawned.isError, false, spawned.text);
    const id = spawned.structured.taskId as string;
    const asking = await eventually(() => api.getTask(id), (task) => (task?.pendingQuestions.length ?? 0) > 0, 'the file approval', 20_000);
    // The user approves the file in VS Code; the agent writes it in its worktree.
    await api.answer(id, asking?.pendingQuestions[0]?.requestId ?? '', { decision: 'approve' });
    const done = await eventually(
      () => api.getTask(id),
      (task) => task?.status === 'completed' && task.worktree?.changes.files.length === 1,
      'the task completed with its change summary',
      20_000,
    );
    const worktree = done?.worktree;
    assert.ok(worktree);
    assert.equal(worktree.branch, `agent-tasks/${id}`);
    assert.ok(fs.existsSync(path.join(worktree.path, 'notes.md')), 'the file is in the worktree');
    assert.ok(!fs.existsSync(path.join(workspace, 'notes.md')), 'and not in the main checkout');

    const got = await mcp.call('get_task', { taskId: id });
    assert.equal(got.isError, false, got.text);
    assert.deepEqual((got.structured.worktree as { changes: unknown }).changes, {
      files: [{ path: 'notes.md', status: 'added', insertions: 3, deletions: 0 }],
      fileCount: 1,
      insertions: 3,
      deletions: 0,
    });
    assert.match(got.text, /\*\*Changes\*\*: \+3 −0 · 1 file/);

    const first = await mcp.call('get_task_changes', { taskId: id, limit: 5 });
    assert.equal(first.isError, false, first.text);
    assert.equal(first.structured.nextOffset, 5);
    assert.match(first.text, /call get_task_changes again with offset 5/);
    const rest = await mcp.call('get_task_changes', { taskId: id, offset: 5 });
    assert.equal(rest.structured.nextOffset, undefined);
    const diff = `${first.structured.diff as string}${rest.structured.diff as string}`;
    assert.match(diff, /^diff --git a\/notes\.md b\/notes\.md$/m);
    assert.match(diff, /^\+first line\n\+second line\n\+third line$/m);

    const refused = await mcp.call('merge_task_changes', { taskId: id });
    assert.equal(refused.isError, true);
    assert.match(refused.text, /agentTasks\.mcp\.allowAgentMerge/);
    assert.equal(api.getTask(id)?.worktree?.state, 'active');
    assert.ok(!fs.existsSync(path.join(workspace, 'notes.md')), 'nothing was merged');
  });
});
