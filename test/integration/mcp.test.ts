// MCP delegation end to end inside the real extension host: the SDK's Client runs the real dist/mcp-server.js over
// stdio (as Claude Code or Codex would), which reaches this window's McpHost over the workspace socket, while the
// scripted provider runs the delegated tasks.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CallToolResultSchema, CreateTaskResultSchema, type Task } from '@modelcontextprotocol/sdk/types.js';
import type { McpClientConfig } from '../../src/host/mcp-host';
import { startClient, type TestClient } from '../support/mcp-client';
import { type AgentTasksApi, agentTasks, cancelUnfinished, eventually, script } from './support/agent-tasks';

const COPY_COMMAND = 'agentTasks.copyMcpConfig';

suite('MCP delegation', () => {
  let api: AgentTasksApi;
  let config: McpClientConfig;
  let mcp: TestClient;

  suiteSetup(async () => {
    api = await agentTasks();
    config = await eventually(
      async () => (await vscode.commands.executeCommand<McpClientConfig | undefined>(COPY_COMMAND, { copy: false })) ?? undefined,
      (value) => value !== undefined,
      'the MCP host serves its socket',
      10_000,
    ) as McpClientConfig;
    mcp = await startClient(config.serverPath, config.env);
  });
  suiteTeardown(async () => {
    await mcp?.close();
    await setAllowApprovals(undefined);
  });
  teardown(async () => {
    await cancelUnfinished(api);
  });

  const spawn = async (prompt: string, extra: Record<string, unknown> = {}): Promise<string> => {
    const spawned = await mcp.call('spawn_task', { prompt, provider: 'scripted', ...extra });
    assert.equal(spawned.isError, false, spawned.text);
    const id = spawned.structured.taskId;
    assert.equal(typeof id, 'string', `spawn_task returns the task id: ${spawned.text}`);
    return id as string;
  };

  const waitFor = (taskId: string, timeoutSeconds = 20) => mcp.call('wait_for_task', { taskId, timeoutSeconds }, 60_000);

  test('the socket is private and the config snippets start the bundle with socket and token file (L6: never the token)', () => {
    assert.ok(fs.existsSync(config.serverPath), 'dist/mcp-server.js exists');
    assert.ok(Buffer.byteLength(config.socketPath) <= 100, `socket path is short: ${config.socketPath}`);
    assert.equal(fs.statSync(config.socketPath).mode & 0o777, 0o600, 'socket is 0600');
    assert.equal(fs.statSync(path.dirname(config.socketPath)).mode & 0o777, 0o700, 'socket dir is 0700');
    assert.match(config.token, /^[0-9a-f]{64}$/);
    const claude = JSON.parse(config.snippets.claude) as { mcpServers: Record<string, { command: string; args: string[]; env: Record<string, string> }> };
    const server = Object.values(claude.mcpServers)[0];
    assert.equal(server.command, 'node');
    assert.deepEqual(server.args, [config.serverPath]);
    assert.deepEqual(server.env, { AGENT_TASKS_SOCKET: config.socketPath, AGENT_TASKS_TOKEN_FILE: config.tokenFile });
    assert.equal(fs.readFileSync(config.tokenFile, 'utf8').trim(), config.token);
    assert.equal(fs.statSync(config.tokenFile).mode & 0o777, 0o600, 'token file is 0600');
    assert.ok(!config.tokenFile.startsWith(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '\0'), 'the token file is not in the project');
    assert.match(config.snippets.codex, /^\[mcp_servers\.agent-tasks\]$/m);
    assert.ok(config.snippets.codex.includes(`args = [${JSON.stringify(config.serverPath)}]`), config.snippets.codex);
    assert.ok(config.snippets.codex.includes(`AGENT_TASKS_TOKEN_FILE = ${JSON.stringify(config.tokenFile)}`), config.snippets.codex);
    assert.match(config.snippets.claudeCli, /^claude mcp add agent-tasks -e AGENT_TASKS_SOCKET=.* -- node /);
    for (const [kind, snippet] of Object.entries(config.snippets)) assert.ok(!snippet.includes(config.token), `the ${kind} snippet carries no token`);
  });

  test('tools are listed with input schemas; spawn_task can run as an MCP task', async () => {
    const { tools } = await mcp.client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const name of ['spawn_task', 'get_task', 'list_tasks', 'wait_for_task', 'answer_question', 'cancel_task', 'send_message']) {
      const tool = byName.get(name);
      assert.ok(tool, `${name} is listed`);
      assert.ok((tool.description ?? '').length > 40, `${name} has a description an agent can follow`);
      assert.equal(tool.inputSchema.type, 'object');
    }
    assert.deepEqual(byName.get('spawn_task')?.inputSchema.required, ['prompt']);
    assert.equal(byName.get('spawn_task')?.execution?.taskSupport, 'optional');
    assert.equal(byName.get('get_task')?.execution?.taskSupport, 'forbidden');
    const invalid = await mcp.call('spawn_task', { provider: 'scripted' });
    assert.equal(invalid.isError, true);
    assert.match(invalid.text, /prompt/);
  });

  test('spawn_task → wait_for_task: the delegated task runs, is labelled, and its result comes back', async () => {
    const id = await spawn(script('say: hi', 'done: ok'), { labels: ['from-test'], taskType: 'coder' });
    const task = api.getTask(id);
    assert.ok(task, 'the task exists in the extension');
    assert.deepEqual([...task.labels].sort(), ['delegated', 'from-test']);
    assert.equal(task.taskType, 'coder');
    const waited = await waitFor(id);
    assert.equal(waited.isError, false, waited.text);
    assert.equal(waited.structured.reason, 'finished');
    assert.equal(waited.structured.status, 'completed');
    assert.equal(waited.structured.result, 'ok');
    assert.match(waited.text, /^reason: finished/);
    assert.ok(api.getTask(id)?.output.some((entry) => entry.text.startsWith('[mcp] Delegated over MCP by agent-tasks-tests')), 'the transcript says who delegated');
  });

  test('get_task and list_tasks', async () => {
    const id = await spawn(script('say: listed', 'done: listed ok'), { labels: ['list-me'] });
    await waitFor(id);
    const got = await mcp.call('get_task', { taskId: id });
    assert.equal(got.isError, false, got.text);
    assert.equal(got.structured.status, 'completed');
    assert.match(got.text, /# Task /);
    assert.match(got.text, /listed ok/);
    const listed = await mcp.call('list_tasks', { label: 'list-me' });
    assert.deepEqual((listed.structured.tasks as { taskId: string }[]).map((t) => t.taskId), [id]);
    const completed = await mcp.call('list_tasks', { status: 'completed' });
    assert.ok((completed.structured.tasks as { taskId: string; status: string }[]).every((t) => t.status === 'completed'));
    assert.ok((completed.structured.tasks as { taskId: string }[]).some((t) => t.taskId === id));
    const missing = await mcp.call('get_task', { taskId: 'no-such-task-000' });
    assert.equal(missing.isError, true);
    assert.match(missing.text, /Unknown task no-such-task-000/);
  });

  test('a question: wait_for_task says so, answer_question answers it, the task completes', async () => {
    const id = await spawn(script('ask-input: Which?|A|B'));
    const waited = await waitFor(id);
    assert.equal(waited.structured.reason, 'question', waited.text);
    const [question] = waited.structured.pendingQuestions as { requestId: string; type: string; agentMayAnswer: boolean }[];
    assert.equal(question.type, 'user_input');
    assert.equal(question.agentMayAnswer, true);
    assert.match(waited.text, /answer_question/);
    const wrong = await mcp.call('answer_question', { taskId: id, requestId: 'no-such-request', answer: 'B' });
    assert.equal(wrong.isError, true);
    const answered = await mcp.call('answer_question', { taskId: id, requestId: question.requestId, answer: 'B' });
    assert.equal(answered.isError, false, answered.text);
    const done = await waitFor(id);
    assert.equal(done.structured.status, 'completed');
    assert.equal(done.structured.result, 'You chose: B');
  });

  test('wait_for_task times out and says so', async () => {
    const id = await spawn(script('sleep: 30000', 'done: late'));
    const started = Date.now();
    const waited = await waitFor(id, 1);
    assert.equal(waited.structured.reason, 'timeout', waited.text);
    assert.ok(Date.now() - started < 5_000, 'the timeout is honoured');
    assert.match(waited.text, /still (running|pending)/);
  });

  test('cancel_task cancels a delegated task; tasks the user started are off limits', async () => {
    const id = await spawn(script('sleep: 60000', 'done: never'));
    await eventually(() => api.getTask(id)?.status, (status) => status === 'running', 'the task runs');
    const cancelled = await mcp.call('cancel_task', { taskId: id });
    assert.equal(cancelled.isError, false, cancelled.text);
    assert.equal(api.getTask(id)?.status, 'cancelled');
    const mine = await api.createTask({ prompt: script('sleep: 60000'), provider: 'scripted' });
    const refused = await mcp.call('cancel_task', { taskId: mine.id });
    assert.equal(refused.isError, true);
    assert.match(refused.text, /Unknown task .*: an MCP client sees only the tasks it delegated/);
    assert.notEqual(api.getTask(mine.id)?.status, 'cancelled');
  });

  test('send_message continues a finished delegated task as a follow-up', async () => {
    const id = await spawn(script('say: first', 'done: first done'));
    await waitFor(id);
    const sent = await mcp.call('send_message', { taskId: id, message: 'say: second; done: second done' });
    assert.equal(sent.isError, false, sent.text);
    const followUp = sent.structured.taskId as string;
    assert.notEqual(followUp, id);
    assert.equal(api.getTask(followUp)?.parentId, id);
    assert.ok(api.getTask(followUp)?.labels.includes('delegated'));
    const done = await waitFor(followUp);
    assert.equal(done.structured.result, 'second done');
  });

  test('an approval is refused over MCP unless agentTasks.mcp.allowAgentApprovals is on; the user still answers it', async () => {
    await setAllowApprovals(false);
    const id = await spawn(script('ask-command: touch x', 'done: after approval'));
    const first = await waitFor(id);
    assert.equal(first.structured.reason, 'question', first.text);
    const [question] = first.structured.pendingQuestions as { requestId: string; type: string; agentMayAnswer: boolean }[];
    assert.equal(question.type, 'command_approval');
    assert.equal(question.agentMayAnswer, false);
    assert.match(first.text, /waiting for the user/);
    const refused = await mcp.call('answer_question', { taskId: id, requestId: question.requestId, answer: 'approve' });
    assert.equal(refused.isError, true);
    assert.match(refused.text, /agentTasks\.mcp\.allowAgentApprovals/);
    assert.equal(api.getTask(id)?.status, 'waiting_answer', 'the refused answer changed nothing');
    // The same question is not reported twice: the next wait keeps waiting for the user.
    const second = await waitFor(id, 1);
    assert.equal(second.structured.reason, 'timeout', second.text);
    await api.answer(id, question.requestId, { decision: 'deny' });
    const done = await waitFor(id);
    assert.equal(done.structured.status, 'completed');
    assert.ok(api.getTask(id)?.output.some((e) => e.kind === 'command' && e.detail === 'declined'), "the user's answer reached the agent");
  });

  test('with agentTasks.mcp.allowAgentApprovals on, the delegating agent may approve', async () => {
    await setAllowApprovals(true);
    try {
      const id = await spawn(script('ask-command: touch y', 'done: approved'));
      const waited = await waitFor(id);
      const [question] = waited.structured.pendingQuestions as { requestId: string; agentMayAnswer: boolean }[];
      assert.equal(question.agentMayAnswer, true, waited.text);
      const answered = await mcp.call('answer_question', { taskId: id, requestId: question.requestId, answer: { decision: 'approve' } });
      assert.equal(answered.isError, false, answered.text);
      const done = await waitFor(id);
      assert.equal(done.structured.result, 'approved');
      const output = api.getTask(id)?.output ?? [];
      assert.ok(output.some((e) => e.kind === 'command' && e.detail === 'approved'), 'the approval reached the agent');
      assert.ok(output.some((e) => e.text === '[mcp] Answered by the delegating agent'), 'the transcript says who answered');
    } finally {
      await setAllowApprovals(false);
    }
  });

  test("questions of a task the user started are never answered over MCP, even with approvals allowed", async () => {
    await setAllowApprovals(true);
    try {
      const mine = await api.createTask({ prompt: script('ask-input: Mine?|yes|no'), provider: 'scripted' });
      await eventually(() => api.getTask(mine.id)?.status, (status) => status === 'waiting_answer', 'the task asks');
      const requestId = api.getTask(mine.id)?.pendingQuestions[0]?.requestId ?? '';
      const refused = await mcp.call('answer_question', { taskId: mine.id, requestId, answer: 'yes' });
      assert.equal(refused.isError, true);
      assert.match(refused.text, /Unknown task .*: an MCP client sees only the tasks it delegated/);
      assert.equal(api.getTask(mine.id)?.status, 'waiting_answer');
    } finally {
      await setAllowApprovals(false);
    }
  });

  test('SEP-1686: task-augmented spawn_task goes working → input_required → completed, with status notifications and the result', async () => {
    const created = await mcp.client.request(
      { method: 'tools/call', params: { name: 'spawn_task', arguments: { prompt: script('say: as a task', 'ask-input: Pick?|X|Y'), provider: 'scripted' }, task: { ttl: 60_000 } } },
      CreateTaskResultSchema,
    );
    const taskId = created.task.taskId;
    assert.ok(['working', 'input_required'].includes(created.task.status), `a new MCP task is working (or already asking), not ${created.task.status}`);
    assert.ok(api.getTask(taskId)?.labels.includes('delegated'), 'the MCP task is the agent task');
    const waiting = await pollTask(taskId, (task) => task.status === 'input_required');
    assert.match(waiting.statusMessage ?? '', /answer_question \(requestId "[^"]+"\)/);
    const requestId = /requestId "([^"]+)"/.exec(waiting.statusMessage ?? '')?.[1] ?? '';
    const listed = await mcp.client.experimental.tasks.listTasks();
    assert.ok(listed.tasks.some((task) => task.taskId === taskId && task.status === 'input_required'), 'tasks/list has it');
    const answered = await mcp.call('answer_question', { taskId, requestId, answer: { answers: { q1: ['Y'] } } });
    assert.equal(answered.isError, false, answered.text);
    await pollTask(taskId, (task) => task.status === 'completed');
    const result = await mcp.client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    assert.match(JSON.stringify(result.content), /You chose: Y/);
    assert.equal((result.structuredContent as { result?: string }).result, 'You chose: Y');
    // What the client was told: the created task's status, then every change by notifications/tasks/status.
    await eventually(
      () => [created.task.status, ...mcp.statusNotifications.filter((n) => n.taskId === taskId).map((n) => n.status)],
      (statuses) => statuses.includes('input_required') && statuses[statuses.length - 1] === 'completed',
      'notifications/tasks/status reported the changes up to completed',
    );
  });

  test("SEP-1686 with the SDK's callToolStream: tasks/result waits through the question and delivers the result", async () => {
    const messages: string[] = [];
    await mcp.client.listTools(); // The SDK client task-augments only tools it knows to support tasks.
    for await (const message of mcp.client.experimental.tasks.callToolStream(
      { name: 'spawn_task', arguments: { prompt: script('ask-input: Stream?|1|2'), provider: 'scripted' } },
      CallToolResultSchema,
      { timeout: 60_000 },
    )) {
      messages.push(message.type === 'taskStatus' ? `status:${message.task.status}` : message.type);
      if (message.type === 'taskCreated') {
        // Answer from the side, as an agent would while its stream waits in tasks/result.
        const taskId = message.task.taskId;
        void (async () => {
          await eventually(() => api.getTask(taskId)?.pendingQuestions.length ?? 0, (n) => n > 0, 'the question is pending', 20_000);
          const requestId = api.getTask(taskId)?.pendingQuestions[0].requestId ?? '';
          await mcp.call('answer_question', { taskId, requestId, answer: '2' });
        })();
      }
      if (message.type === 'result') assert.match(JSON.stringify(message.result), /You chose: 2/);
      if (message.type === 'error') assert.fail(message.error.message);
    }
    assert.equal(messages[0], 'taskCreated');
    assert.equal(messages[messages.length - 1], 'result');
  });

  test('tasks/cancel cancels the agent task', async () => {
    const created = await mcp.client.request(
      { method: 'tools/call', params: { name: 'spawn_task', arguments: { prompt: script('sleep: 60000'), provider: 'scripted' }, task: {} } },
      CreateTaskResultSchema,
    );
    await eventually(() => api.getTask(created.task.taskId)?.status, (status) => status === 'running', 'the task runs');
    const cancelled = await mcp.client.experimental.tasks.cancelTask(created.task.taskId);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(api.getTask(created.task.taskId)?.status, 'cancelled');
  });

  test('a task-augmented call of a tool that does not run as a task is refused', async () => {
    await assert.rejects(
      mcp.client.request({ method: 'tools/call', params: { name: 'list_tasks', arguments: {}, task: {} } }, CreateTaskResultSchema),
      /does not run as a task/,
    );
  });

  test('resources: task://{id} and task://{id}/output are listed, read, and updated', async () => {
    const listChangedBefore = mcp.listChangedCount();
    const id = await spawn(script('say: resource line', 'sleep: 800', 'say: later line', 'done: resourced'));
    await eventually(() => mcp.listChangedCount(), (count) => count > listChangedBefore, 'resources/list_changed after a spawn');
    await mcp.client.subscribeResource({ uri: `task://${id}` });
    await mcp.client.subscribeResource({ uri: `task://${id}/output` });
    const { resources } = await mcp.client.listResources();
    assert.ok(resources.some((r) => r.uri === `task://${id}` && r.mimeType === 'text/markdown'));
    assert.ok(resources.some((r) => r.uri === `task://${id}/output`));
    const templates = await mcp.client.listResourceTemplates();
    assert.deepEqual(templates.resourceTemplates.map((t) => t.uriTemplate).sort(), ['task://{id}', 'task://{id}/output']);
    await waitFor(id);
    const summary = await mcp.client.readResource({ uri: `task://${id}` });
    assert.match((summary.contents[0] as { text: string }).text, /# Task [\s\S]*completed[\s\S]*resourced/);
    const output = await mcp.client.readResource({ uri: `task://${id}/output` });
    const transcript = (output.contents[0] as { text: string }).text;
    assert.match(transcript, /agent: resource line/);
    assert.match(transcript, /agent: later line/);
    await eventually(() => mcp.updatedUris, (uris) => uris.includes(`task://${id}`) && uris.includes(`task://${id}/output`), 'resources/updated for both');
    await assert.rejects(mcp.client.readResource({ uri: 'task://no-such-task-000' }), /Unknown task/);
  });

  test('a wrong or missing token is refused, quickly and clearly', async () => {
    for (const token of ['0'.repeat(64), '']) {
      const intruder = await startClient(config.serverPath, { AGENT_TASKS_SOCKET: config.socketPath, AGENT_TASKS_TOKEN: token });
      try {
        const started = Date.now();
        const result = await intruder.call('list_tasks', {});
        assert.equal(result.isError, true);
        assert.match(result.text, token ? /refused.*token/i : /AGENT_TASKS_TOKEN is not set/);
        assert.ok(Date.now() - started < 5_000, 'refused within seconds');
      } finally {
        await intruder.close();
      }
    }
  });

  test('the socket itself refuses a bad hello and never answers requests before it', async () => {
    const reply = await rawExchange(config.socketPath, [{ type: 'request', id: 1, method: 'list', params: {} }]);
    assert.match(reply, /"refused"/);
    assert.doesNotMatch(reply, /"response"/);
    const wrong = await rawExchange(config.socketPath, [{ type: 'hello', version: 1, token: 'f'.repeat(64) }, { type: 'request', id: 1, method: 'list', params: {} }]);
    assert.match(wrong, /"reason":"token"/);
    assert.doesNotMatch(wrong, /"response"/);
  });

  test('L6 Rotate MCP Token: old-token connections are closed, the copied config keeps working, the old token is refused', async () => {
    const before = await vscode.commands.executeCommand<McpClientConfig>(COPY_COMMAND, { copy: false });
    assert.ok(before);
    assert.equal(await vscode.commands.executeCommand('agentTasks.rotateMcpToken', { confirm: false }), true);
    const after = await vscode.commands.executeCommand<McpClientConfig>(COPY_COMMAND, { copy: false });
    assert.ok(after);
    assert.notEqual(after.token, before.token);
    assert.equal(fs.readFileSync(after.tokenFile, 'utf8').trim(), after.token);
    assert.deepEqual(after.env, before.env, 'the configs name the same token file');
    // The client started from the copied config reconnects with the new token from the file.
    const listed = await eventually(() => mcp.call('list_tasks', {}), (result) => result.isError !== true, 'list_tasks after the rotation', 10_000);
    assert.equal(listed.isError, false);
    const stale = await startClient(config.serverPath, { AGENT_TASKS_SOCKET: config.socketPath, AGENT_TASKS_TOKEN: before.token });
    try {
      const result = await stale.call('list_tasks', {});
      assert.equal(result.isError, true);
      assert.match(result.text, /refused.*token/i);
    } finally {
      await stale.close();
    }
  });

  const pollTask = async (taskId: string, accept: (task: Task) => boolean): Promise<Task> =>
    eventually(() => mcp.client.experimental.tasks.getTask(taskId), accept, `MCP task ${taskId}`, 20_000);
});

async function setAllowApprovals(value: boolean | undefined): Promise<void> {
  await vscode.workspace.getConfiguration('agentTasks').update('mcp.allowAgentApprovals', value, vscode.ConfigurationTarget.Global);
}

/** Writes raw lines to the socket and returns everything it sent back until it closed (or 3 s passed). */
function rawExchange(socketPath: string, messages: unknown[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = net.createConnection({ path: socketPath });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, 3_000);
    socket.on('connect', () => socket.write(messages.map((m) => `${JSON.stringify(m)}\n`).join('')));
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('error', reject);
  });
}
