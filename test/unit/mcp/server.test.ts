// The MCP server bundle in plain Node, started by the SDK's Client over stdio exactly as an MCP client starts it:
// without a host it fails fast and clearly; against the real host server (src/mcp/host-server.ts over a TaskManager)
// it refuses a bad token, gives up on a silent host, and reports task changes. In VS Code: test/integration/mcp.test.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { buildServerBundle, startClient, type TestClient, type ToolOutcome } from '../../support/mcp-client';
import { DELEGATED_LABEL } from '../../../src/mcp/protocol';
import { Harness, removeTempDirs } from '../../support/core-harness';
import { startTestHost, type TestHost } from '../../support/mcp-host';
import { rotateToken } from '../../../src/mcp/endpoint';

const TOOLS = ['spawn_task', 'get_task', 'list_tasks', 'wait_for_task', 'answer_question', 'cancel_task', 'send_message', 'get_task_changes', 'merge_task_changes', 'review_task'];
const SAMPLE_ARGS: Record<string, Record<string, unknown>> = {
  spawn_task: { prompt: 'say: hi' },
  get_task: { taskId: 'some-task-123' },
  list_tasks: {},
  wait_for_task: { taskId: 'some-task-123', timeoutSeconds: 30 },
  answer_question: { taskId: 'some-task-123', requestId: 'r1', answer: 'approve' },
  cancel_task: { taskId: 'some-task-123' },
  send_message: { taskId: 'some-task-123', message: 'more' },
  get_task_changes: { taskId: 'some-task-123', offset: 0 },
  merge_task_changes: { taskId: 'some-task-123', how: 'apply' },
  review_task: { taskId: 'some-task-123', provider: 'codex' },
};

let bundle: Awaited<ReturnType<typeof buildServerBundle>> | undefined;
let serverPath: string;

before(async () => {
  bundle = await buildServerBundle();
  serverPath = bundle.serverPath;
});
after(() => bundle?.remove());

test('the bundle carries no Ajv: tool arguments are checked with @cfworker/json-schema', () => {
  const text = fs.readFileSync(serverPath, 'utf8');
  assert.doesNotMatch(text, /node_modules\/(ajv|ajv-formats|fast-uri)\//);
  assert.match(text, /node_modules\/@cfworker\/json-schema\//);
});

describe('MCP server without a host', () => {
  let client: TestClient;
  const missing = path.join(os.tmpdir(), `atw-no-such-dir-${process.pid}`, 'mcp.sock');
  before(async () => {
    client = await startClient(serverPath, { AGENT_TASKS_SOCKET: missing, AGENT_TASKS_TOKEN: 'f'.repeat(64) });
  });
  after(() => client.close());

  test('it still initializes and lists its tools, resources templates and task support', async () => {
    const capabilities = client.client.getServerCapabilities();
    assert.ok(capabilities?.tools && capabilities.resources?.subscribe && capabilities.tasks?.requests?.tools?.call);
    assert.deepEqual((await client.client.listTools()).tools.map((tool) => tool.name), TOOLS);
    assert.equal((await client.client.listResourceTemplates()).resourceTemplates.length, 2);
  });

  test('every tool answers at once with an error that says the host is not running', async () => {
    for (const name of TOOLS) {
      const started = Date.now();
      const result = await client.call(name, SAMPLE_ARGS[name]);
      assert.equal(result.isError, true, `${name} is an error`);
      assert.match(result.text, /Agent Task Worker is not running for this workspace/, name);
      assert.ok(result.text.includes(missing), `${name} names the socket`);
      assert.ok(Date.now() - started < 1_000, `${name} failed fast`);
    }
  });

  test('resources and tasks/list fail with the same message', async () => {
    await assert.rejects(client.client.listResources(), /not running/);
    await assert.rejects(client.client.readResource({ uri: 'task://some-task-123' }), /not running/);
    await assert.rejects(client.client.experimental.tasks.listTasks(), /not running/);
    await assert.rejects(client.client.experimental.tasks.getTask('some-task-123'), /not running/);
  });

  test('arguments that do not fit the tool are refused before the host is asked, saying what is wrong', async () => {
    const plain = await client.call('spawn_task', { prompt: '', attempts: [{ model: 'm' }] });
    assert.equal(plain.isError, true);
    assert.equal(plain.text, 'Invalid arguments for spawn_task: prompt must not be empty; attempts[0] must have the property "provider"');
    const changes = await client.call('get_task_changes', { taskId: 'some-task-123', limit: 0, cwd: '/' });
    assert.equal(changes.isError, true);
    assert.match(changes.text, /^Invalid arguments for get_task_changes: limit must be at least 1; the arguments must not have additional properties: "cwd"/);
    await assert.rejects(
      client.client.request({ method: 'tools/call', params: { name: 'spawn_task', arguments: { prompt: 'x', isolation: 'container' }, task: {} } }, CreateTaskResultSchema),
      /Invalid arguments for spawn_task: isolation must be one of "worktree", "none"/,
    );
  });

  test('a task-augmented spawn_task fails with that message too', async () => {
    await assert.rejects(
      client.client.request({ method: 'tools/call', params: { name: 'spawn_task', arguments: { prompt: 'x' }, task: {} } }, CreateTaskResultSchema),
      /not running/,
    );
  });
});

describe('MCP server configuration errors', () => {
  test('without AGENT_TASKS_SOCKET it says how to get a config', async () => {
    const client = await startClient(serverPath, {});
    try {
      const result = await client.call('list_tasks', {});
      assert.equal(result.isError, true);
      assert.match(result.text, /AGENT_TASKS_SOCKET is not set.*Copy MCP Server Config/);
    } finally {
      await client.close();
    }
  });

  test('a host that accepts but never answers is given up on within seconds', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-silent-'));
    const socketPath = path.join(dir, 'mcp.sock');
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(socketPath, resolve));
    const client = await startClient(serverPath, { AGENT_TASKS_SOCKET: socketPath, AGENT_TASKS_TOKEN: 'f'.repeat(64) });
    try {
      const started = Date.now();
      const result = await client.call('get_task', { taskId: 'x' });
      assert.equal(result.isError, true);
      assert.match(result.text, /did not accept the connection within 3 s/);
      assert.ok(Date.now() - started < 6_000);
    } finally {
      await client.close();
      silent.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MCP server against the real host', () => {
  let h: Harness;
  let host: TestHost;
  let client: TestClient;
  before(async () => {
    h = new Harness();
    host = await startTestHost(h);
    client = await startClient(serverPath, { AGENT_TASKS_SOCKET: host.socketPath, AGENT_TASKS_TOKEN: host.token }, { name: 'unit-client' });
  });
  after(async () => {
    await client.close();
    host.close();
    await h.dispose();
    removeTempDirs();
  });

  /** A task this client delegates (L3: the only tasks it sees). */
  const delegated = async (prompt: string): Promise<string> => {
    const spawned = await client.call('spawn_task', { prompt });
    assert.equal(spawned.isError, false, spawned.text);
    return spawned.structured.taskId as string;
  };

  test('a wrong token is refused with a message that says what to do', async () => {
    const intruder = await startClient(serverPath, { AGENT_TASKS_SOCKET: host.socketPath, AGENT_TASKS_TOKEN: 'b'.repeat(64) });
    try {
      const result = await intruder.call('list_tasks', {});
      assert.equal(result.isError, true);
      assert.match(result.text, /refused the connection: wrong or missing token/);
    } finally {
      await intruder.close();
    }
  });

  test('L6 a client started with AGENT_TASKS_TOKEN_FILE (no token in its environment or argv) reads the token at each connection', async () => {
    const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-l6-'));
    const tokenFile = path.join(storage, 'mcp-token');
    fs.writeFileSync(tokenFile, `${host.token}\n`, { mode: 0o600 });
    const env = { AGENT_TASKS_SOCKET: host.socketPath, AGENT_TASKS_TOKEN_FILE: tokenFile };
    const viaFile = await startClient(serverPath, env);
    try {
      const result = await viaFile.call('list_tasks', {});
      assert.equal(result.isError, false, result.text);
      // Rotated: a client that connects now presents the new token (which this host does not know) and is refused.
      const rotated = rotateToken(storage);
      assert.notEqual(rotated, host.token);
      const late = await startClient(serverPath, env);
      try {
        const refused = await late.call('list_tasks', {});
        assert.equal(refused.isError, true);
        assert.match(refused.text, /wrong or missing token/);
      } finally {
        await late.close();
      }
      // No token at all: the message names both ways to give one.
      const none = await startClient(serverPath, { AGENT_TASKS_SOCKET: host.socketPath, AGENT_TASKS_TOKEN_FILE: path.join(storage, 'missing') });
      try {
        const result = await none.call('list_tasks', {});
        assert.match(result.text, /AGENT_TASKS_TOKEN is not set and AGENT_TASKS_TOKEN_FILE names no readable token/);
      } finally {
        await none.close();
      }
    } finally {
      await viaFile.close();
      fs.rmSync(storage, { recursive: true, force: true });
    }
  });

  test('spawn_task passes the client name and its arguments to the host', async () => {
    const result = await client.call('spawn_task', { prompt: 'done: spawned', labels: ['x'], timeoutMinutes: 5 });
    assert.equal(result.isError, false, result.text);
    const task = h.manager.allTasks().find((t) => t.prompt === 'done: spawned');
    assert.ok(task, 'the host made the task');
    assert.deepEqual(task.labels, ['x', DELEGATED_LABEL]);
    assert.equal(task.timeoutMs, 300_000);
    assert.ok(h.texts(task.id).includes('[mcp] Delegated over MCP by unit-client'));
  });

  test('wait_for_task returns when a question needs the agent, and when the task ends', async () => {
    const id = await delegated('sleep: 200; ask-input: Which?|A|B; sleep: 200; done: all done');
    const asked = await client.call('wait_for_task', { taskId: id, timeoutSeconds: 20 });
    assert.equal(asked.structured.reason, 'question');
    const requestId = h.question(id).requestId;
    assert.match(asked.text, new RegExp(`requestId "${requestId}"`));
    await h.manager.answer(id, requestId, { answers: { q1: ['A'] } });
    const ended = await client.call('wait_for_task', { taskId: id, timeoutSeconds: 20 });
    assert.equal(ended.structured.reason, 'finished');
    assert.match(ended.text, /all done/);
  });

  test('MCP task status changes become notifications/tasks/status', async () => {
    const created = await client.client.request(
      { method: 'tools/call', params: { name: 'spawn_task', arguments: { prompt: 'sleep: 200; done: fine' }, task: {} } },
      CreateTaskResultSchema,
    );
    const id = created.task.taskId;
    assert.equal(created.task.status, 'working');
    const deadline = Date.now() + 5_000;
    while (!client.statusNotifications.some((n) => n.taskId === id && n.status === 'completed') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seen = client.statusNotifications.filter((n) => n.taskId === id).map((n) => `${n.status}: ${n.statusMessage}`);
    assert.equal(seen.at(-1), 'completed: Completed', seen.join(', '));
    assert.ok(seen.slice(0, -1).every((line) => line.startsWith('working: ')), seen.join(', '));
    const result = await client.client.experimental.tasks.getTaskResult(id, CallToolResultSchema);
    assert.match(JSON.stringify(result), /fine/);
  });

  test('a wait is ended with a clear error when the host goes away, not left hanging', async () => {
    const id = await delegated('sleep: 60000');
    const waiting = client.call('wait_for_task', { taskId: id, timeoutSeconds: 60 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    host.close();
    const result = await waiting;
    assert.equal(result.isError, true, result.text);
    assert.match(result.text, /not running|closed/);
    assert.ok(Date.now() - started < 5_000);
  });
});

describe('L3: each MCP client session reaches only its own tasks', () => {
  test('L3 two MCP clients see only the tasks each delegated; a client keeps its own after the window reloads', async () => {
    const h = new Harness();
    let host = await startTestHost(h);
    const env = (): Record<string, string> => ({ AGENT_TASKS_SOCKET: host.socketPath, AGENT_TASKS_TOKEN: host.token });
    const first = await startClient(serverPath, env(), { name: 'first' });
    const second = await startClient(serverPath, env(), { name: 'second' });
    try {
      const mine = await h.create('done: the user\'s own');
      const spawned = await first.call('spawn_task', { prompt: 'done: first' });
      const id = spawned.structured.taskId as string;
      await h.waitForStatus(id, 'completed');
      await h.waitForStatus(mine.id, 'completed');
      const listed = async (client: TestClient) => ((await client.call('list_tasks', {})).structured.tasks as { taskId: string }[]).map((t) => t.taskId);
      assert.deepEqual(await listed(first), [id]);
      assert.deepEqual(await listed(second), []);
      for (const taskId of [id, mine.id]) {
        const read = await second.call('get_task', { taskId });
        assert.equal(read.isError, true);
        assert.match(read.text, /Unknown task .*: an MCP client sees only the tasks it delegated/);
        await assert.rejects(second.client.readResource({ uri: `task://${taskId}/output` }), /Unknown task/);
      }
      assert.deepEqual((await second.client.listResources()).resources, []);
      // The window reloads: a new host on the same storage; the first client reconnects with its session.
      host.close();
      host = await startTestHost(h, { socketDir: host.socketDir, storageDir: host.storageDir });
      const again = await eventuallyOk(() => first.call('get_task', { taskId: id }));
      assert.equal(again.structured.status, 'completed');
      assert.equal((await second.call('get_task', { taskId: id })).isError, true);
    } finally {
      await first.close();
      await second.close();
      host.close();
      await h.dispose();
    }
  });
});

/** Retries a tool call (the bundle reconnects on its own) until it is not an error, for up to 10 s. */
async function eventuallyOk(call: () => Promise<ToolOutcome>): Promise<ToolOutcome> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await call();
    if (!result.isError || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
