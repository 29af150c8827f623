// The host side of MCP delegation (src/mcp/host-server.ts), served for real over a TaskManager with the scripted
// provider: the hello and its refusals, every request handler, DESIGN §6's rules on who may answer, and events.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DELEGATED_LABEL, HOST_PROTOCOL_VERSION, type WireTask } from '../../../src/mcp/protocol';
import { Harness, removeTempDirs } from '../../support/core-harness';
import { connectRaw, startTestHost, type RawClient, type TestHost } from '../../support/mcp-host';

after(removeTempDirs);

/** A harness, a served host and a welcomed client; all closed after the body. */
async function withHost(body: (h: Harness, host: TestHost, client: RawClient) => Promise<void>): Promise<void> {
  const h = new Harness();
  const host = await startTestHost(h);
  const client = await connectRaw(host.socketPath, host.token);
  try {
    assert.equal(client.hello.type, 'welcome');
    await body(h, host, client);
  } finally {
    client.close();
    host.close();
    await h.dispose();
  }
}

describe('hello', () => {
  test('a welcome names the workspace; a wrong token, version or first message is refused', () =>
    withHost(async (h, host, client) => {
      assert.deepEqual(client.hello, { type: 'welcome', version: HOST_PROTOCOL_VERSION, workspace: h.dir });
      const wrongToken = await connectRaw(host.socketPath, 'b'.repeat(64));
      assert.equal(wrongToken.hello.type === 'refused' && wrongToken.hello.reason, 'token');
      await wrongToken.closed;
      const wrongVersion = await connectRaw(host.socketPath, host.token, { version: 99 });
      assert.equal(wrongVersion.hello.type === 'refused' && wrongVersion.hello.reason, 'version');
      const notHello = await connectRaw(host.socketPath, host.token, { type: 'request' });
      assert.equal(notHello.hello.type === 'refused' && notHello.hello.reason, 'protocol');
      for (const refused of [wrongVersion, notHello]) refused.close();
    }));

  test('unknown methods and malformed requests get an error response, and the connection stays usable', () =>
    withHost(async (_h, _host, client) => {
      assert.match((await client.send({ type: 'request', method: 'nope', params: {} })).error?.message ?? '', /Unknown method nope/);
      assert.match((await client.send({ type: 'other' })).error?.message ?? '', /Malformed request/);
      assert.deepEqual(await client.request('list', {}), []);
    }));
});

describe('requests', () => {
  test('spawn makes a delegated task with the given settings and says so in its transcript', () =>
    withHost(async (h, _host, client) => {
      const task = await client.request('spawn', { prompt: 'done: ok', labels: ['x'], timeoutMinutes: 5, client: 'unit-client' });
      assert.equal(task.delegated, true);
      assert.deepEqual(task.labels, ['x', DELEGATED_LABEL]);
      assert.equal(h.task(task.id).timeoutMs, 300_000);
      assert.ok(h.texts(task.id).includes('[mcp] Delegated over MCP by unit-client'));
      await assert.rejects(client.request('spawn', { prompt: '  ' }), /spawn_task needs a prompt/);
      await assert.rejects(client.request('spawn', { prompt: 'x', taskType: 'nope' as never }), /taskType must be one of/);
    }));

  test('get and list map tasks to the wire; list filters by status, label and delegation', () =>
    withHost(async (h, _host, client) => {
      const mine = await h.create('done: by the user');
      const delegated = await client.request('spawn', { prompt: 'done: delegated', labels: ['x'] });
      await h.waitForStatus(mine.id, 'completed');
      await h.waitForStatus(delegated.id, 'completed');
      const got = await client.request('get', { taskId: delegated.id, outputEntries: 2 });
      assert.equal(got.status, 'completed');
      assert.equal(got.result, 'delegated');
      assert.equal(got.output?.length, 2);
      const ids = (tasks: WireTask[]) => tasks.map((task) => task.id).sort();
      assert.deepEqual(ids(await client.request('list', {})), [mine.id, delegated.id].sort());
      assert.deepEqual(ids(await client.request('list', { delegatedOnly: true })), [delegated.id]);
      assert.deepEqual(ids(await client.request('list', { label: 'x' })), [delegated.id]);
      assert.deepEqual(ids(await client.request('list', { status: 'running' })), []);
      await assert.rejects(client.request('get', { taskId: 'no-such-task' }), /Unknown task no-such-task/);
    }));

  test('answer: the delegating agent answers a question of its task; approvals only when the user allowed it', () =>
    withHost(async (h, host, client) => {
      const asking = await client.request('spawn', { prompt: 'ask-input: Which?|A|B; done: picked' });
      await h.waitForStatus(asking.id, 'waiting_answer');
      const answered = await client.request('answer', { taskId: asking.id, requestId: h.question(asking.id).requestId, answer: { answers: { q1: 'A' } } });
      assert.equal(answered.id, asking.id);
      assert.equal((await h.waitForStatus(asking.id, 'completed')).result, 'picked');
      assert.ok(h.texts(asking.id).includes('[mcp] Answered by the delegating agent'));

      const approval = await client.request('spawn', { prompt: 'ask-command: make; done: made' });
      await h.waitForStatus(approval.id, 'waiting_answer');
      const requestId = h.question(approval.id).requestId;
      const wire = await client.request('get', { taskId: approval.id });
      assert.equal(wire.pendingQuestions[0].agentMayAnswer, false);
      await assert.rejects(client.request('answer', { taskId: approval.id, requestId, answer: 'approve' }), /agentTasks\.mcp\.allowAgentApprovals/);
      host.allowAgentApprovals = true;
      await client.request('answer', { taskId: approval.id, requestId, answer: 'approve' });
      await h.waitForStatus(approval.id, 'completed');
      await assert.rejects(client.request('answer', { taskId: approval.id, requestId, answer: 'approve' }), /is not waiting on request/);
    }));

  test("the user's own tasks are the user's: no answer, cancel or follow-up over MCP", () =>
    withHost(async (h, _host, client) => {
      const mine = await h.create('ask-input: Which?|A|B');
      await h.waitForStatus(mine.id, 'waiting_answer');
      const requestId = h.question(mine.id).requestId;
      await assert.rejects(client.request('answer', { taskId: mine.id, requestId, answer: 'A' }), /was not delegated over MCP: the user answers/);
      await assert.rejects(client.request('cancel', { taskId: mine.id }), /only the user can cancel it/);
      await assert.rejects(client.request('followUp', { taskId: mine.id, message: 'more' }), /only the user can send a follow-up to it/);
      assert.equal(h.status(mine.id), 'waiting_answer');
    }));

  test('cancel, follow-up and transcript of a delegated task', () =>
    withHost(async (h, _host, client) => {
      const slow = await client.request('spawn', { prompt: 'sleep: 60000' });
      await h.waitForStatus(slow.id, 'running');
      assert.equal((await client.request('cancel', { taskId: slow.id })).status, 'cancelled');

      const first = await client.request('spawn', { prompt: 'done: first' });
      await h.waitForStatus(first.id, 'completed');
      const followUp = await client.request('followUp', { taskId: first.id, message: 'done: second' });
      assert.equal(followUp.parentId, first.id);
      assert.equal((await h.waitForStatus(followUp.id, 'completed')).result, 'second');
      const transcript = await client.request('transcript', { taskId: first.id });
      assert.deepEqual(transcript.map((entry) => entry.text).slice(-1), ['Completed']);
    }));
});

describe('events', () => {
  test('connected clients hear of new tasks and every status at once, and of output and removals coalesced', () =>
    withHost(async (h, _host, client) => {
      const task = await h.create('say: hello; done: ok');
      await h.waitForStatus(task.id, 'completed');
      await h.until(() => client.events.some((event) => event.event === 'taskOutput'), 'an output event');
      const statuses = client.events.flatMap((event) => (event.event === 'taskCreated' || event.event === 'taskChanged') && event.task.id === task.id ? [`${event.event}:${event.task.status}`] : []);
      assert.equal(statuses[0], 'taskCreated:pending');
      assert.ok(statuses.includes('taskChanged:running') && statuses.at(-1) === 'taskChanged:completed', statuses.join(', '));
      await h.manager.clearFinished();
      await h.until(() => client.events.some((event) => event.event === 'taskRemoved' && event.taskId === task.id), 'a removal event');
    }));
});
