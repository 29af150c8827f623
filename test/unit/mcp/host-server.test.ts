// The host side of MCP delegation (src/mcp/host-server.ts), served for real over a TaskManager with the scripted
// provider: the hello and its refusals, every request handler, DESIGN §6's rules on who may answer, and events.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
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

  test('get and list map tasks to the wire; list filters by status and label', () =>
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
      assert.deepEqual(ids(await client.request('list', {})), [delegated.id], "the user's own task is not the client's to see (L3)");
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
      const unknown = new RegExp(`Unknown task ${mine.id}: an MCP client sees only the tasks it delegated`);
      await assert.rejects(client.request('answer', { taskId: mine.id, requestId, answer: 'A' }), unknown);
      await assert.rejects(client.request('cancel', { taskId: mine.id }), unknown);
      await assert.rejects(client.request('followUp', { taskId: mine.id, message: 'more' }), unknown);
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
      const task = await client.request('spawn', { prompt: 'say: hello; done: ok' });
      await h.waitForStatus(task.id, 'completed');
      await h.until(() => client.events.some((event) => event.event === 'taskOutput'), 'an output event');
      const statuses = client.events.flatMap((event) => (event.event === 'taskCreated' || event.event === 'taskChanged') && event.task.id === task.id ? [`${event.event}:${event.task.status}`] : []);
      assert.equal(statuses[0], 'taskCreated:pending');
      assert.ok(statuses.includes('taskChanged:running') && statuses.at(-1) === 'taskChanged:completed', statuses.join(', '));
      await h.manager.clearFinished();
      await h.until(() => client.events.some((event) => event.event === 'taskRemoved' && event.taskId === task.id), 'a removal event');
    }));
});

describe('L3: a token holder reaches only the tasks it delegated', () => {
  const session = (fill: string) => fill.repeat(64);
  const notYours = (id: string) => new RegExp(`Unknown task ${id}: an MCP client sees only the tasks it delegated`);

  test('L3 a client sees and acts on only the tasks it spawned: not the user\'s, not another client\'s', () =>
    withHost(async (h, host, a) => {
      const b = await connectRaw(host.socketPath, host.token, { session: session('b') });
      try {
        const mine = await h.create('ask-input: Which?|A|B');
        const ofA = await a.request('spawn', { prompt: 'say: a; done: a' });
        const ofB = await b.request('spawn', { prompt: 'ask-input: Which?|A|B; done: b' });
        await h.waitForStatus(mine.id, 'waiting_answer');
        await h.waitForStatus(ofA.id, 'completed');
        await h.waitForStatus(ofB.id, 'waiting_answer');
        assert.deepEqual((await a.request('list', {})).map((task) => task.id), [ofA.id]);
        assert.deepEqual((await b.request('list', {})).map((task) => task.id), [ofB.id]);
        for (const other of [mine.id, ofB.id]) {
          await assert.rejects(a.request('get', { taskId: other }), notYours(other));
          await assert.rejects(a.request('transcript', { taskId: other }), notYours(other));
          await assert.rejects(a.request('answer', { taskId: other, requestId: h.question(other).requestId, answer: 'A' }), notYours(other));
          await assert.rejects(a.request('cancel', { taskId: other }), notYours(other));
          await assert.rejects(a.request('spawn', { prompt: 'done: later', dependsOn: [other] }), notYours(other));
        }
        await assert.rejects(a.request('followUp', { taskId: ofB.id, message: 'more' }), notYours(ofB.id));
        assert.equal(h.status(ofB.id), 'waiting_answer', "B's task was not touched");
        assert.equal(h.status(mine.id), 'waiting_answer', "the user's task was not touched");
        // B acts on its own task; A hears nothing of it, nor of the user's task.
        await b.request('answer', { taskId: ofB.id, requestId: h.question(ofB.id).requestId, answer: 'A' });
        await h.waitForStatus(ofB.id, 'completed');
        await h.until(() => b.events.some((event) => event.event === 'taskChanged' && event.task.id === ofB.id && event.task.status === 'completed'), "B hears of its task's end");
        await h.until(() => a.events.some((event) => event.event === 'taskChanged' && event.task.id === ofA.id && event.task.status === 'completed'), "A hears of its task's end");
        const heardOf = (client: RawClient) => new Set(client.events.map((event) => ('task' in event ? event.task.id : event.taskId)));
        assert.deepEqual([...heardOf(a)], [ofA.id]);
        assert.deepEqual([...heardOf(b)], [ofB.id]);
      } finally {
        b.close();
      }
    }));

  test('L3 a session keeps its tasks across reconnects and a reloaded window; a connection without one owns only its own spawns', async () => {
    const h = new Harness();
    let host = await startTestHost(h);
    const clients: RawClient[] = [];
    const connect = async (hello: Record<string, unknown> = {}) => {
      const client = await connectRaw(host.socketPath, host.token, hello);
      clients.push(client);
      assert.equal(client.hello.type, 'welcome');
      return client;
    };
    try {
      const first = await connect({ session: session('5') });
      const task = await first.request('spawn', { prompt: 'done: kept' });
      first.close();
      assert.equal((await (await connect({ session: session('5') })).request('get', { taskId: task.id })).id, task.id, 'the same session after a reconnect');
      await assert.rejects((await connect({ session: session('6') })).request('get', { taskId: task.id }), notYours(task.id));
      await assert.rejects((await connect()).request('get', { taskId: task.id }), notYours(task.id));
      // A connection with no session owns what it spawns, on that connection only.
      const anonymous = await connect();
      const own = await anonymous.request('spawn', { prompt: 'done: mine' });
      assert.equal((await anonymous.request('get', { taskId: own.id })).id, own.id);
      await assert.rejects((await connect()).request('get', { taskId: own.id }), notYours(own.id));
      const malformed = await connectRaw(host.socketPath, host.token, { session: 'not hex' });
      assert.equal(malformed.hello.type === 'refused' && malformed.hello.reason, 'protocol');
      malformed.close();

      // The window reloads: a new host server on the same storage still knows whose task it is.
      host.close();
      host = await startTestHost(h, { socketDir: host.socketDir, storageDir: host.storageDir });
      assert.equal(fs.statSync(path.join(host.storageDir, 'mcp-delegations.json')).mode & 0o777, 0o600);
      assert.deepEqual((await (await connect({ session: session('5') })).request('list', {})).map((t) => t.id), [task.id]);
      await assert.rejects((await connect({ session: session('6') })).request('get', { taskId: task.id }), notYours(task.id));
    } finally {
      for (const client of clients) client.close();
      host.close();
      await h.dispose();
    }
  });

  test('L3 spawning is rate limited for all token holders together, with a clear error, and allowed again later', async () => {
    const h = new Harness();
    let now = 1_000_000;
    const host = await startTestHost(h, { now: () => now });
    const a = await connectRaw(host.socketPath, host.token, { session: session('a') });
    const b = await connectRaw(host.socketPath, host.token, { session: session('b') });
    try {
      for (let i = 0; i < 20; i++) await (i % 2 ? a : b).request('spawn', { prompt: `done: ${i}` });
      const before = h.manager.allTasks().length;
      const limited = /Refused: MCP clients started 20 tasks in the last 60 s, the most Agent Tasks accepts; try again in 60 s/;
      await assert.rejects(a.request('spawn', { prompt: 'done: one too many' }), limited);
      await assert.rejects(b.request('spawn', { prompt: 'done: from another session' }), limited);
      const finished = (await a.request('list', {}))[0];
      await h.waitForStatus(finished.id, 'completed');
      await assert.rejects(a.request('followUp', { taskId: finished.id, message: 'done: a follow-up counts too' }), limited);
      assert.equal(h.manager.allTasks().length, before, 'no task was created over the limit');
      now += 60_000;
      assert.equal((await a.request('spawn', { prompt: 'done: a minute later' })).delegated, true);
    } finally {
      a.close();
      b.close();
      host.close();
      await h.dispose();
    }
  });

  test('L3 spawn checks the type of model (and provider, timeoutMinutes, dependsOn)', () =>
    withHost(async (h, _host, client) => {
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ model: 42 }, /model must be a string/],
        [{ model: { name: 'x' } }, /model must be a string/],
        [{ provider: ['codex'] }, /provider must be a string/],
        [{ timeoutMinutes: '5' }, /timeoutMinutes must be a number/],
        [{ dependsOn: 'some-task-123' }, /dependsOn must be a list of task ids/],
      ];
      for (const [params, message] of bad) await assert.rejects(client.request('spawn', { prompt: 'done: x', ...params } as never), message);
      assert.equal(h.manager.allTasks().length, 0, 'nothing was created');
      const task = await client.request('spawn', { prompt: 'done: x', model: 'some-model' });
      assert.equal(task.model, 'some-model');
    }));

  test('L3 before the token is verified a large frame is not read; after it, a large request is', () =>
    withHost(async (_h, host, client) => {
      // A hello carrying 64 KB gets no answer at all (not even a refusal): the connection is closed on the spot.
      const bigHello = await rawBytes(host.socketPath, `${JSON.stringify({ type: 'hello', version: HOST_PROTOCOL_VERSION, token: 'a'.repeat(64 * 1024) })}\n`);
      assert.deepEqual(bigHello, { received: '', closedWithinMs: true });
      // So is 64 KB without a newline: it does not sit in a buffer until the hello deadline.
      assert.deepEqual(await rawBytes(host.socketPath, 'x'.repeat(64 * 1024)), { received: '', closedWithinMs: true });
      // A welcomed client may send a 1 MiB request (the 16 MiB cap applies).
      const longId = 'x'.repeat(1024 * 1024);
      await assert.rejects(client.request('get', { taskId: longId }), /^Error: Unknown task x+: an MCP client sees only/);
    }));
});

/** Writes `data` to a fresh connection; what came back and whether the host closed it within a second. */
function rawBytes(socketPath: string, data: string): Promise<{ received: string; closedWithinMs: boolean }> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = net.createConnection({ path: socketPath });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received, closedWithinMs: false });
    }, 1_000);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received, closedWithinMs: true });
    });
  });
}
