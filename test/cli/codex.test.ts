/**
 * CodexProvider against the real pinned Codex binary and the mock Responses server: one turn per pause kind, each
 * answered both ways where the protocol has two ways.
 */
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startMockResponsesServer, type MockResponsesServer } from '../fixtures/mock-responses/server';
import { makeContext, makeTask } from '../support/fake-handle';
import type { TaskState } from '../../src/core/task-state';
import { delegatorMayAnswer } from '../../src/mcp/protocol';
import { createTestBed, mcpFixtureProcesses, type CodexTestBed } from '../support/codex-harness';

let mock: MockResponsesServer;
before(async () => {
  mock = await startMockResponsesServer();
});
after(async () => {
  await mock.close();
});

describe('Codex provider: turns and questions', () => {
  let bed: CodexTestBed;
  beforeEach(async () => {
    bed = await createTestBed(mock);
  });
  afterEach(async () => {
    await bed.cleanup();
  });

  function run(prompt: string, overrides: Partial<TaskState> = {}) {
    return makeContext(makeTask({ prompt, cwd: bed.cwd, ...overrides }), { profile: bed.profile, log: bed.log });
  }

  test('a plain reply completes with the final agent message as one streamed entry', async () => {
    const provider = bed.createProvider({ flushIntervalMs: 100 });
    const { context, handle } = run('Say hello');
    const outcome = await provider.start(context, handle);

    assert.deepEqual(outcome, { status: 'completed', result: 'Hello from the mock model.' });
    const agent = handle.transcript.filter((entry) => entry.kind === 'agent');
    assert.equal(agent.length, 1, 'deltas are coalesced into one entry');
    assert.equal(agent[0].text, 'Hello from the mock model.');
    assert.ok(agent[0].id, 'the entry carries the item id');
    assert.deepEqual(handle.usage, { inputTokens: 1200, outputTokens: 30 });
    assert.ok(handle.sessionId);
    assert.deepEqual(Object.keys(handle.providerState ?? {}).sort(), ['profileKey', 'socketPath', 'threadId', 'turnId']);
    assert.equal(handle.providerState?.threadId, handle.sessionId);
    assert.equal(handle.providerState?.profileKey, 'test');
    assert.ok(handle.rateLimitInfo.length > 0, 'account/rateLimits/updated is reported');
    const request = mock.requests.find((candidate) => candidate.threadKey === handle.sessionId);
    assert.equal(request?.userText, 'Say hello');
  });

  test('a follow-up continues the same thread', async () => {
    const provider = bed.createProvider();
    const first = run('Say hello');
    assert.equal((await provider.start(first.context, first.handle)).status, 'completed');
    const threadId = first.handle.sessionId;
    const followUp = run('Say hello again', { continueSession: true, sessionId: threadId });
    const outcome = await provider.start(followUp.context, followUp.handle);
    assert.equal(outcome.status, 'completed');
    assert.equal(followUp.handle.sessionId, threadId);
    const requests = mock.requests.filter((request) => request.threadKey === threadId);
    assert.equal(requests.length, 2);
    assert.deepEqual(followUp.handle.usage, { inputTokens: 1200, outputTokens: 30 }, 'usage counts only the follow-up');
  });

  test('command approval, approved: the command runs and its output and exit code are in the transcript', async () => {
    const provider = bed.createProvider();
    const { context, handle } = run('Please run-approval');
    const outcome = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.equal(question.type, 'command_approval');
    assert.ok(question.type === 'command_approval');
    assert.equal(question.command, 'touch approved.txt && echo made');
    assert.equal(question.cwd, bed.cwd);
    assert.equal(question.reason, 'Create approved.txt outside the sandbox?');
    assert.ok(!fs.existsSync(path.join(bed.cwd, 'approved.txt')), 'nothing runs before the answer');
    handle.answer(question.requestId, { decision: 'approve' });

    const result = await outcome;
    assert.equal(result.status, 'completed');
    assert.ok(fs.existsSync(path.join(bed.cwd, 'approved.txt')));
    const command = handle.transcript.find((entry) => entry.kind === 'command');
    assert.equal(command?.text, 'touch approved.txt && echo made');
    assert.equal(command?.exitCode, 0);
    assert.match(command?.detail ?? '', /made/);
    assert.ok(result.status === 'completed' && /exited with code 0/.test(result.result ?? ''));
  });

  test('command approval, denied: the command does not run and the turn goes on', async () => {
    const provider = bed.createProvider();
    const { context, handle } = run('Please run-approval');
    const outcome = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    handle.answer(question.requestId, { decision: 'deny' });

    const result = await outcome;
    assert.equal(result.status, 'completed');
    assert.ok(!fs.existsSync(path.join(bed.cwd, 'approved.txt')));
    const command = handle.transcript.find((entry) => entry.kind === 'command');
    assert.match(command?.detail ?? '', /Declined/);
    assert.ok(result.status === 'completed' && /rejected/i.test(result.result ?? ''));
  });

  test('command approval for the session is sent as acceptForSession', async () => {
    const provider = bed.createProvider();
    const { context, handle } = run('Please run-approval');
    const outcome = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.ok(question.type === 'command_approval' && question.canApproveForSession);
    handle.answer(question.requestId, { decision: 'approveForSession' });
    assert.equal((await outcome).status, 'completed');
    assert.ok(fs.existsSync(path.join(bed.cwd, 'approved.txt')));
  });

  test('file approval shows the exact diff of the item, then the file is written', async () => {
    const provider = bed.createProvider({ threadPolicy: () => ({ approvalPolicy: 'untrusted' }) });
    const { context, handle } = run('Please file-approval');
    const outcome = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.ok(question.type === 'file_approval');
    const file = path.join(bed.cwd, 'hello.txt');
    assert.deepEqual(question.fileChanges, [
      { path: file, kind: 'add', patch: '--- /dev/null\n+++ b/hello.txt\n@@ -0,0 +1,1 @@\n+hello world\n', newContent: 'hello world\n' },
    ]);
    assert.ok(!fs.existsSync(file));
    handle.answer(question.requestId, { decision: 'approve' });

    assert.equal((await outcome).status, 'completed');
    assert.equal(fs.readFileSync(file, 'utf8'), 'hello world\n');
    const entry = handle.transcript.find((candidate) => candidate.kind === 'file');
    assert.equal(entry?.text, 'Add hello.txt');
    assert.match(entry?.detail ?? '', /\+hello world/);
  });

  test('two file approvals in one turn each carry their own diff', async () => {
    const provider = bed.createProvider({ threadPolicy: () => ({ approvalPolicy: 'untrusted' }) });
    const { context, handle } = run('Please two-files');
    const outcome = provider.start(context, handle);
    const first = await handle.waitForQuestion((question) => question.type === 'file_approval');
    assert.ok(first.type === 'file_approval');
    assert.deepEqual(first.fileChanges.map((change) => [path.basename(change.path), change.newContent]), [['first.txt', 'first file\n']]);
    handle.answer(first.requestId, { decision: 'approve' });
    const second = await handle.waitForQuestion((question) => question.type === 'file_approval' && question.requestId !== first.requestId);
    assert.ok(second.type === 'file_approval');
    assert.deepEqual(second.fileChanges.map((change) => [path.basename(change.path), change.newContent]), [['second.txt', 'second file\n']]);
    handle.answer(second.requestId, { decision: 'deny' });

    assert.equal((await outcome).status, 'completed');
    assert.ok(fs.existsSync(path.join(bed.cwd, 'first.txt')));
    assert.ok(!fs.existsSync(path.join(bed.cwd, 'second.txt')));
    assert.match(handle.transcript.find((entry) => entry.text.startsWith('Add second.txt'))?.text ?? '', /declined/);
  });

  test('user input (planner task, plan mode): the answers reach the model', async () => {
    const provider = bed.createProvider();
    const { context, handle } = run('Please ask-user', { taskType: 'planner' });
    const outcome = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.ok(question.type === 'user_input');
    assert.deepEqual(question.questions, [
      {
        id: 'db_choice',
        text: 'Which database should I use?',
        header: 'Database',
        options: [
          { label: 'SQLite (Recommended)', description: 'Zero setup, file based.' },
          { label: 'Postgres', description: 'Needs a server.' },
        ],
        allowFreeform: true,
      },
    ]);
    handle.answer(question.requestId, { answers: { db_choice: ['Postgres'] } });

    const result = await outcome;
    assert.equal(result.status, 'completed');
    assert.ok(result.status === 'completed');
    assert.equal(result.result, 'Tool said: {"answers":{"db_choice":{"answers":["Postgres"]}}}');
    const request = mock.requests.find((candidate) => candidate.threadKey === handle.sessionId);
    assert.equal(request?.planMode, true);
  });

  test('dynamic tool: the call is a question and the answer text goes back to the model', async () => {
    const provider = bed.createProvider({
      dynamicTools: [
        {
          type: 'function',
          name: 'lookup_ticket',
          description: 'Look up a ticket in the tracker',
          inputSchema: { type: 'object', properties: { ticket: { type: 'string' } }, required: ['ticket'] },
        },
      ],
    });
    const { context, handle } = run('Please dynamic-tool');
    const outcome = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.ok(question.type === 'dynamic_tool');
    assert.equal(question.toolName, 'lookup_ticket');
    assert.deepEqual(question.arguments, { ticket: 'ATW-42' });
    handle.answer(question.requestId, { text: 'ATW-42: Fix the flux capacitor (open)', success: true });

    const result = await outcome;
    assert.ok(result.status === 'completed');
    assert.equal(result.result, 'Tool said: ATW-42: Fix the flux capacitor (open)');
    const tool = handle.transcript.find((entry) => entry.kind === 'tool');
    assert.equal(tool?.text, 'lookup_ticket({"ticket":"ATW-42"})');
    assert.equal(tool?.detail, 'ATW-42: Fix the flux capacitor (open)');
  });

  test('a 429 from the model ends the run as rate_limited', async () => {
    const provider = bed.createProvider();
    const { context, handle } = run('Please rate-limit');
    const outcome = await provider.start(context, handle);
    assert.equal(outcome.status, 'rate_limited');
    assert.ok(outcome.status === 'rate_limited');
    assert.match(outcome.error, /429/);
    assert.ok(handle.transcript.some((entry) => entry.kind === 'error' && /429/.test(entry.text)));
  });
});

describe('Codex provider: MCP elicitation', () => {
  let bed: CodexTestBed;
  beforeEach(async () => {
    bed = await createTestBed(mock, { mcp: true, name: 'mcp' });
  });
  afterEach(async () => {
    await bed.cleanup();
    assert.deepEqual(mcpFixtureProcesses(), [], 'the MCP server stops with its app-server');
  });

  for (const [action, expected] of [
    ['accept', 'elicitation result: {"action":"accept","content":{"color":"green"}}'],
    ['decline', 'elicitation result: {"action":"decline"}'],
  ] as const) {
    test(`an MCP server's elicitation is a question (${action})`, async () => {
      const provider = bed.createProvider();
      const { context, handle } = makeContext(makeTask({ prompt: 'Please elicit', cwd: bed.cwd }), { profile: bed.profile, log: bed.log });
      const outcome = provider.start(context, handle);
      const question = await handle.waitForQuestion();
      assert.ok(question.type === 'elicitation');
      assert.equal(question.serverName, 'elic');
      assert.equal(question.message, 'Which color should I use?');
      assert.deepEqual(question.schema, {
        type: 'object',
        properties: { color: { type: 'string', enum: ['red', 'green'] } },
        required: ['color'],
      });
      handle.answer(question.requestId, action === 'accept' ? { action, content: { color: 'green' } } : { action });

      const result = await outcome;
      assert.ok(result.status === 'completed');
      assert.ok(result.result?.includes(expected), result.result);
      const tool = handle.transcript.find((entry) => entry.kind === 'tool');
      assert.equal(tool?.text, 'elic.pick_color()');
    });
  }
});

describe('Codex provider: MCP tool-call approvals (M1)', () => {
  let bed: CodexTestBed;
  beforeEach(async () => {
    // `elic` configured the way the Copy MCP Server Config snippet configures agent-tasks: its read-only tool approved.
    bed = await createTestBed(mock, { mcp: true, mcpApprovedTools: ['pick_color'], name: 'mcpa' });
  });
  afterEach(async () => {
    await bed.cleanup();
    assert.deepEqual(mcpFixtureProcesses(), [], 'the MCP server stops with its app-server');
  });

  for (const [decision, expected] of [
    ['deny', 'user rejected MCP tool call'],
    ['approve', 'deleted note n1'],
    ['approveForSession', 'deleted note n1'],
  ] as const) {
    test(`M1 a destructive MCP tool call is an approval the delegating agent may not answer (${decision})`, async () => {
      const provider = bed.createProvider();
      const { context, handle } = makeContext(makeTask({ prompt: 'Please mcp-approval', cwd: bed.cwd }), { profile: bed.profile, log: bed.log });
      const outcome = provider.start(context, handle);
      const question = await handle.waitForQuestion();
      assert.equal(question.type, 'command_approval', 'not a plain elicitation');
      assert.ok(question.type === 'command_approval');
      assert.equal(question.command, 'MCP tool elic.delete_note({"id":"n1"})');
      assert.match(question.reason ?? '', /Allow the elic MCP server to run tool "delete_note"\?/);
      assert.equal(question.canApproveForSession, true);
      assert.equal(delegatorMayAnswer(question.type, false), false, 'with allowAgentApprovals off only the user answers it');
      assert.equal(delegatorMayAnswer(question.type, true), true);
      handle.answer(question.requestId, { decision });

      const result = await outcome;
      assert.ok(result.status === 'completed');
      assert.ok(result.result?.includes(expected), result.result);
    });
  }
});

describe('Codex provider: quota reset times from the real CLI', () => {
  let limitedMock: MockResponsesServer;
  let bed: CodexTestBed;
  const primaryResetAt = Math.floor(Date.now() / 1000) + 2 * 3600;
  const secondaryResetAt = Math.floor(Date.now() / 1000) + 5 * 24 * 3600;
  const usageResetAt = Math.floor(Date.now() / 1000) + 3600;
  before(async () => {
    limitedMock = await startMockResponsesServer({
      rateLimits: {
        primary: { usedPercent: 42, windowMinutes: 300, resetAt: primaryResetAt },
        secondary: { usedPercent: 7, windowMinutes: 10080, resetAt: secondaryResetAt },
      },
      usageLimitResetAt: usageResetAt,
    });
    bed = await createTestBed(limitedMock, { name: 'quota' });
  });
  after(async () => {
    await bed.cleanup();
    await limitedMock.close();
  });

  test('rate-limit headers become usage snapshots with absolute reset times', async () => {
    const provider = bed.createProvider();
    const { context, handle } = makeContext(makeTask({ prompt: 'Say hello', cwd: bed.cwd }), { profile: bed.profile, log: bed.log });
    assert.equal((await provider.start(context, handle)).status, 'completed');
    const limits = handle.limits.at(-1);
    assert.ok(limits, 'reportLimits is called');
    assert.deepEqual({ ...limits, at: 0 }, {
      at: 0,
      limitId: 'codex',
      status: 'allowed',
      resetsAt: primaryResetAt * 1000,
      windows: [
        { id: 'primary', usedPercent: 42, windowMinutes: 300, resetsAt: primaryResetAt * 1000, status: 'allowed' },
        { id: 'secondary', usedPercent: 7, windowMinutes: 10080, resetsAt: secondaryResetAt * 1000, status: 'allowed' },
      ],
    });
    assert.deepEqual(handle.rateLimitInfo.at(-1)?.primary, { usedPercent: 42, windowDurationMins: 300, resetsAt: primaryResetAt });
  });

  test('a usage limit ends the run as rate_limited with the reset time', async () => {
    const provider = bed.createProvider();
    const { context, handle } = makeContext(makeTask({ prompt: 'Hit the usage-limit please', cwd: bed.cwd }), { profile: bed.profile, log: bed.log });
    const before = Date.now();
    const outcome = await provider.start(context, handle);
    assert.equal(outcome.status, 'rate_limited', JSON.stringify(outcome));
    assert.ok(outcome.status === 'rate_limited');
    assert.match(outcome.error, /usage limit/);
    assert.equal(outcome.resetsAt, usageResetAt * 1000, 'the exact reset time of the exhausted window');
    assert.ok(outcome.retryAfterMs !== undefined && Math.abs(before + outcome.retryAfterMs - usageResetAt * 1000) < 5000, 'retryAfterMs names the same moment');
    const limits = handle.limits.at(-1);
    assert.equal(limits?.status, 'rejected');
    assert.equal(limits?.resetsAt, usageResetAt * 1000);
    assert.deepEqual(limits?.windows.find((window) => window.id === 'primary'), { id: 'primary', usedPercent: 100, windowMinutes: 300, resetsAt: usageResetAt * 1000, status: 'rejected' });
  });
});
