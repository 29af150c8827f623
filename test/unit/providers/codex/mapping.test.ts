/**
 * The Codex mapping for what the recorded transcripts do not show: notifications of other item kinds (typed against
 * the generated protocol, so a protocol change breaks the build), protocol edge cases (unknown or unroutable server
 * requests, malformed frames, requests resolved by the server) and the small helpers.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WebSocketServer } from 'ws';
import { Emitter } from '../../../../src/core/events';
import type { OutputEntry, Usage } from '../../../../src/core/task-state';
import { QuestionWithdrawnError } from '../../../../src/core/ports';
import type { MessageTransport, TransportClosed } from '../../../../src/providers/transport/transport';
import { UnixWebSocketTransport } from '../../../../src/providers/transport/websocket-transport';
import type { ThreadHost } from '../../../../src/providers/codex/app-server';
import { safeFileKey } from '../../../../src/providers/codex/server-files';
import { privateDirFor } from '../../../../src/platform/private-dir';
import { resolveCodexExecutable } from '../../../../src/providers/codex/executable';
import type { ServerNotification } from '../../../../src/providers/codex/protocol/ServerNotification';
import type { ServerRequest } from '../../../../src/providers/codex/protocol/ServerRequest';
import { DECLINED_REQUEST_REASONS, SERVER_REQUESTS, questionFor, refusalFor, responseFor, type QuestionRequest } from '../../../../src/providers/codex/questions';
import { delegatorMayAnswer } from '../../../../src/mcp/protocol';
import { CodexRpcConnection, ConnectionClosedError, RpcError, type ClientMethod, type ClientParams, type ClientResults } from '../../../../src/providers/codex/rpc';
import { codexLimits, mergeSnapshot } from '../../../../src/providers/codex/limits';
import { CodexThreadRun, failureOutcome, rateLimitOf } from '../../../../src/providers/codex/thread-run';
import { ThreadRouter, type ThreadListener } from '../../../../src/providers/codex/thread-router';
import { CodexTranscript, displayCommand } from '../../../../src/providers/codex/transcript';
import { toFileChange } from '../../../../src/providers/codex/file-changes';
import { FakeHandle } from '../../../support/fake-handle';
import { pinnedCodexBinary } from '../../../support/codex-harness';

const THREAD = 'thread-1';
const TURN = 'turn-1';
const tick = () => new Promise((resolve) => setImmediate(resolve));

function recorder() {
  const entries: Omit<OutputEntry, 'at'>[] = [];
  const usage: Usage[] = [];
  const rateLimits: Record<string, unknown>[] = [];
  return {
    entries,
    usage,
    rateLimits,
    sink: { appendOutput: (entry: Omit<OutputEntry, 'at'>) => entries.push(entry), reportUsage: (value: Usage) => usage.push(value), reportRateLimitInfo: (info: Record<string, unknown>) => rateLimits.push(info) },
    /** The latest version of each entry, like the UI shows it. */
    get latest() {
      const byId = new Map<string, Omit<OutputEntry, 'at'>>();
      const list: Omit<OutputEntry, 'at'>[] = [];
      for (const entry of entries) {
        if (entry.id && byId.has(entry.id)) list[list.indexOf(byId.get(entry.id)!)] = entry;
        else list.push(entry);
        if (entry.id) byId.set(entry.id, entry);
      }
      return list;
    },
  };
}

const base = { threadId: THREAD, turnId: TURN };

describe('Codex transcript: notifications beyond the recordings', () => {
  test('reasoning summaries stream into one reasoning entry', () => {
    const out = recorder();
    const transcript = new CodexTranscript(out.sink, { flushIntervalMs: 0 });
    const notifications: ServerNotification[] = [
      { method: 'item/started', params: { ...base, startedAtMs: 0, item: { type: 'reasoning', id: 'r1', summary: [], content: [] } } },
      { method: 'item/reasoning/summaryTextDelta', params: { ...base, itemId: 'r1', delta: 'Looking at ', summaryIndex: 0 } },
      { method: 'item/reasoning/summaryTextDelta', params: { ...base, itemId: 'r1', delta: 'the tests', summaryIndex: 0 } },
      { method: 'item/reasoning/summaryPartAdded', params: { ...base, itemId: 'r1', summaryIndex: 1 } },
      { method: 'item/reasoning/summaryTextDelta', params: { ...base, itemId: 'r1', delta: 'Then the code', summaryIndex: 1 } },
      { method: 'item/completed', params: { ...base, completedAtMs: 0, item: { type: 'reasoning', id: 'r1', summary: ['Looking at the tests', 'Then the code'], content: [] } } },
    ];
    notifications.forEach((notification) => transcript.handle(notification));
    assert.deepEqual(out.latest, [{ kind: 'reasoning', id: 'r1', text: 'Looking at the tests\n\nThen the code' }]);
  });

  test('a plan item is an agent entry and the turn result', () => {
    const out = recorder();
    const transcript = new CodexTranscript(out.sink, { flushIntervalMs: 0 });
    transcript.handle({ method: 'item/started', params: { ...base, startedAtMs: 0, item: { type: 'plan', id: 'p1', text: '' } } });
    transcript.handle({ method: 'item/plan/delta', params: { ...base, itemId: 'p1', delta: '1. Do it' } });
    transcript.handle({ method: 'item/completed', params: { ...base, completedAtMs: 0, item: { type: 'plan', id: 'p1', text: '1. Do it\n2. Test it' } } });
    assert.deepEqual(out.latest, [{ kind: 'agent', id: 'p1', text: '1. Do it\n2. Test it' }]);
    assert.equal(transcript.resultFor(TURN), '1. Do it\n2. Test it');
  });

  test('status-like notifications: plan steps, retries, warnings, reroutes, MCP start failures, compaction, web search', () => {
    const out = recorder();
    const transcript = new CodexTranscript(out.sink, { flushIntervalMs: 0 });
    const notifications: ServerNotification[] = [
      {
        method: 'turn/plan/updated',
        params: { ...base, explanation: null, plan: [{ step: 'Read', status: 'completed' }, { step: 'Write', status: 'inProgress' }, { step: 'Test', status: 'pending' }] },
      },
      { method: 'error', params: { ...base, willRetry: true, error: { message: 'stream disconnected', codexErrorInfo: null, additionalDetails: null, misalignment: null } } },
      { method: 'warning', params: { threadId: THREAD, message: 'Low disk space' } },
      { method: 'model/rerouted', params: { ...base, fromModel: 'a', toModel: 'b', reason: 'highRiskCyberActivity' } },
      { method: 'mcpServer/startupStatus/updated', params: { threadId: THREAD, environmentId: null, name: 'docs', status: 'failed', error: 'spawn ENOENT', failureReason: null } },
      { method: 'mcpServer/startupStatus/updated', params: { threadId: THREAD, environmentId: null, name: 'docs', status: 'ready', error: null, failureReason: null } },
      { method: 'item/completed', params: { ...base, completedAtMs: 0, item: { type: 'contextCompaction', id: 'c1' } } },
      { method: 'item/started', params: { ...base, startedAtMs: 0, item: { type: 'webSearch', id: 'w1', query: 'codex app-server', action: null, results: null } } },
    ];
    notifications.forEach((notification) => transcript.handle(notification));
    assert.deepEqual(
      out.latest.map((entry) => [entry.kind, entry.text]),
      [
        ['status', 'Plan:\n✓ Read\n→ Write\n• Test'],
        ['status', 'Retrying: stream disconnected'],
        ['status', 'Warning: Low disk space'],
        ['status', 'Codex switched the model from a to b'],
        ['error', 'MCP server "docs" failed to start: spawn ENOENT'],
        ['status', 'Codex compacted the conversation context'],
        ['tool', 'Web search: codex app-server'],
      ],
    );
  });

  test('command output streams into the command entry, throttled, and the completion wins', async () => {
    const out = recorder();
    const transcript = new CodexTranscript(out.sink, { flushIntervalMs: 30 });
    transcript.handle({
      method: 'item/started',
      params: {
        ...base,
        startedAtMs: 0,
        item: { type: 'commandExecution', id: 'c1', pluginId: null, scriptPath: null, command: "/bin/bash -lc 'npm test'", cwd: '/ws', processId: null, source: 'agent', status: 'inProgress', commandActions: [], aggregatedOutput: null, exitCode: null, durationMs: null },
      },
    });
    for (const delta of ['a\n', 'b\n', 'c\n']) transcript.handle({ method: 'item/commandExecution/outputDelta', params: { ...base, itemId: 'c1', delta } });
    assert.equal(out.entries.length, 1, 'deltas wait for the flush interval');
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(out.entries.at(-1), { kind: 'command', id: 'c1', text: 'npm test', detail: 'a\nb\nc\n' });
    transcript.handle({
      method: 'item/completed',
      params: {
        ...base,
        completedAtMs: 0,
        item: { type: 'commandExecution', id: 'c1', pluginId: null, scriptPath: null, command: "/bin/bash -lc 'npm test'", cwd: '/ws', processId: null, source: 'agent', status: 'failed', commandActions: [], aggregatedOutput: 'a\nb\nc\n1 failing\n', exitCode: 1, durationMs: 5 },
      },
    });
    assert.deepEqual(out.latest, [{ kind: 'command', id: 'c1', text: 'npm test', detail: 'a\nb\nc\n1 failing\n', exitCode: 1 }]);
  });

  test('a patch update replaces the changes a later file approval shows', () => {
    const out = recorder();
    const transcript = new CodexTranscript(out.sink, { cwd: '/ws', flushIntervalMs: 0 });
    transcript.handle({
      method: 'item/started',
      params: { ...base, startedAtMs: 0, item: { type: 'fileChange', id: 'f1', status: 'inProgress', changes: [{ path: '/ws/a.txt', kind: { type: 'add' }, diff: 'one\n' }] } },
    });
    transcript.handle({ method: 'item/fileChange/patchUpdated', params: { ...base, itemId: 'f1', changes: [{ path: '/ws/a.txt', kind: { type: 'add' }, diff: 'two\n' }] } });
    assert.deepEqual(transcript.fileChangesForApproval('f1')?.map((change) => change.newContent), ['two\n']);
    assert.equal(transcript.fileChangesForApproval('other'), undefined);
    assert.equal(out.latest[0].text, 'Add a.txt');
  });

  test('MCP tool progress and errors land in the tool entry', () => {
    const out = recorder();
    const transcript = new CodexTranscript(out.sink, { flushIntervalMs: 0 });
    const item = { type: 'mcpToolCall' as const, id: 'm1', server: 'docs', environmentId: null, tool: 'search', arguments: { q: 'x' }, appContext: null, mcpAppUi: null, pluginId: null, readOnlyHint: true, durationMs: null };
    transcript.handle({ method: 'item/started', params: { ...base, startedAtMs: 0, item: { ...item, status: 'inProgress', result: null, error: null } } });
    transcript.handle({ method: 'item/mcpToolCall/progress', params: { ...base, itemId: 'm1', message: 'searching' } });
    assert.equal(out.latest[0].detail, 'searching\n');
    transcript.handle({ method: 'item/completed', params: { ...base, completedAtMs: 0, item: { ...item, status: 'failed', result: null, error: { message: 'timeout' } } } });
    assert.deepEqual(out.latest, [{ kind: 'tool', id: 'm1', text: 'docs.search({"q":"x"})', detail: 'Error: timeout' }]);
  });

  test('token usage of a resumed thread counts from this run on', () => {
    const out = recorder();
    const transcript = new CodexTranscript(out.sink, { flushIntervalMs: 0 });
    const breakdown = (input: number, output: number) => ({ totalTokens: input + output, inputTokens: input, cachedInputTokens: 0, cacheWriteInputTokens: 0, outputTokens: output, reasoningOutputTokens: 0 });
    transcript.handle({ method: 'thread/tokenUsage/updated', params: { ...base, tokenUsage: { total: breakdown(5000, 300), last: breakdown(1000, 30), modelContextWindow: null } } });
    transcript.handle({ method: 'thread/tokenUsage/updated', params: { ...base, tokenUsage: { total: breakdown(6200, 360), last: breakdown(1200, 60), modelContextWindow: null } } });
    assert.deepEqual(out.usage, [
      { inputTokens: 1000, outputTokens: 30 },
      { inputTokens: 2200, outputTokens: 90 },
    ]);
  });
});

/** A ThreadHost whose connection the test drives directly. */
class TestHost implements ThreadHost {
  readonly sent: Record<string, unknown>[] = [];
  readonly logLines: string[] = [];
  readonly log = {
    trace: () => undefined,
    debug: (message: string) => this.logLines.push(message),
    info: (message: string) => this.logLines.push(message),
    warn: (message: string) => this.logLines.push(message),
    error: (message: string | Error) => this.logLines.push(String(message)),
  };
  readonly router = new ThreadRouter(this.log, 40);
  readonly connectionSerial = 7;
  readonly clientRequests: string[] = [];
  /** The turn ids of the turn/interrupt requests sent. */
  readonly interrupted: string[] = [];
  /** Answers a request with an error instead (a refused interrupt, say); may act before it answers. */
  refuse: ((method: string, params: unknown) => string | undefined) | undefined;

  attachThread(threadId: string, listener: ThreadListener) {
    return this.router.attach(threadId, listener);
  }

  request<M extends ClientMethod>(method: M, params: ClientParams<M>): Promise<ClientResults[M]> {
    this.clientRequests.push(method);
    if (method === 'turn/interrupt') this.interrupted.push((params as { turnId: string }).turnId);
    const refusal = this.refuse?.(method, params);
    if (refusal) return Promise.reject(new RpcError(method, -32600, refusal));
    return Promise.resolve({} as ClientResults[M]);
  }

  deliver(request: ServerRequest): void {
    this.router.routeRequest(request, {
      result: (result) => this.sent.push({ id: request.id, result }),
      error: (code, message) => this.sent.push({ id: request.id, error: { code, message } }),
    });
  }
}

const approvalRequest = (id: number, itemId = 'call-1'): ServerRequest => ({
  method: 'item/commandExecution/requestApproval',
  id,
  params: { kind: 'command', ...base, itemId, startedAtMs: 0, environmentId: 'local', command: "/bin/bash -lc 'rm -rf build'", cwd: '/ws' },
});

function newRun(host: TestHost) {
  const controller = new AbortController();
  const handle = new FakeHandle('task', controller.signal);
  const run = new CodexThreadRun({ server: host, threadId: THREAD, handle, signal: controller.signal, log: host.log, flushIntervalMs: 0, interruptTimeoutMs: 50 });
  return { run, handle, controller };
}

describe('Codex server requests: the edges', () => {
  test('an unknown server request for a thread gets a JSON-RPC error and a log line', async () => {
    const host = new TestHost();
    newRun(host);
    host.deliver({ method: 'item/teleport/requestApproval', id: 0, params: { ...base, itemId: 'x' } } as unknown as ServerRequest);
    assert.deepEqual(host.sent, [{ id: 0, error: { code: -32601, message: 'item/teleport/requestApproval is not supported by this client' } }]);
    assert.ok(host.logLines.some((line) => line.includes('item/teleport/requestApproval')));
  });

  test('every server request of the generated protocol has a deliberate decision; none is approved without the user', () => {
    assert.deepEqual(Object.keys(SERVER_REQUESTS).sort(), [
      'account/chatgptAuthTokens/refresh',
      'applyPatchApproval',
      'attestation/generate',
      'execCommandApproval',
      'item/commandExecution/requestApproval',
      'item/fileChange/requestApproval',
      'item/permissions/requestApproval',
      'item/tool/call',
      'item/tool/requestUserInput',
      'mcpServer/elicitation/request',
    ]);
    for (const [method, handling] of Object.entries(SERVER_REQUESTS)) {
      if (handling === 'declined') assert.ok(DECLINED_REQUEST_REASONS[method], `${method} has a reason`);
    }
  });

  test('permissions request: a command approval naming what is asked; approve grants exactly that, deny grants nothing', async () => {
    const host = new TestHost();
    const { handle } = newRun(host);
    const permissions = { network: { enabled: true }, fileSystem: { read: null, write: ['/ws/out'], entries: [{ path: { type: 'path' as const, path: '/etc/hosts' }, access: 'read' as const }] } };
    const request = (id: number, itemId: string): ServerRequest => ({
      method: 'item/permissions/requestApproval',
      id,
      params: { ...base, itemId, environmentId: null, startedAtMs: 0, cwd: '/ws', reason: 'Needs to download the fixtures', permissions },
    });
    host.deliver(request(0, 'p1'));
    host.deliver(request(1, 'p2'));
    host.deliver(request(2, 'p3'));
    await tick();
    assert.deepEqual(
      handle.asked.map(({ askedAt: _askedAt, ...question }) => question),
      ['p1', 'p2', 'p3'].map((itemId) => ({
        type: 'command_approval',
        requestId: `permissions:${itemId}`,
        command: 'Grant Codex network access; write access to /ws/out; read access to /etc/hosts',
        cwd: '/ws',
        reason: 'Needs to download the fixtures',
        sandboxPolicy: 'additional sandbox permissions',
        canApproveForSession: true,
      })),
    );
    handle.answer('permissions:p1', { decision: 'approve' });
    handle.answer('permissions:p2', { decision: 'approveForSession' });
    handle.answer('permissions:p3', { decision: 'deny' });
    await tick();
    assert.deepEqual(host.sent, [
      { id: 0, result: { permissions: { network: { enabled: true }, fileSystem: permissions.fileSystem }, scope: 'turn' } },
      { id: 1, result: { permissions: { network: { enabled: true }, fileSystem: permissions.fileSystem }, scope: 'session' } },
      { id: 2, result: { permissions: {}, scope: 'turn' } },
    ]);
    const asPermissions = request(3, 'p4') as QuestionRequest;
    assert.deepEqual(refusalFor(asPermissions, 'cancel'), { permissions: {}, scope: 'turn' });
    assert.deepEqual(responseFor(asPermissions, { text: 'yes', success: true }), { permissions: {}, scope: 'turn' });
  });

  test('legacy v1 approvals (execCommandApproval, applyPatchApproval) route by conversationId and answer with ReviewDecision', async () => {
    const host = new TestHost();
    const { handle } = newRun(host);
    host.deliver({
      method: 'execCommandApproval',
      id: 0,
      params: { conversationId: THREAD, callId: 'c1', approvalId: null, command: ['bash', '-lc', 'rm -rf build'], cwd: '/ws', reason: 'clean up', parsedCmd: [] },
    });
    host.deliver({
      method: 'applyPatchApproval',
      id: 1,
      params: { conversationId: THREAD, callId: 'c2', fileChanges: { '/ws/new.txt': { type: 'add', content: 'hi\n' } }, reason: null, grantRoot: null },
    });
    await tick();
    const [command, file] = handle.asked;
    assert.equal(command.type, 'command_approval');
    assert.equal(command.requestId, 'command:c1');
    assert.ok(command.type === 'command_approval' && command.command.includes('rm -rf build'));
    assert.deepEqual(file.type === 'file_approval' && file.fileChanges, [
      { path: '/ws/new.txt', kind: 'add', patch: '--- /dev/null\n+++ b/ws/new.txt\n@@ -0,0 +1,1 @@\n+hi\n', newContent: 'hi\n' },
    ]);
    handle.answer('command:c1', { decision: 'deny', message: 'not now' });
    handle.answer('file:c2', { decision: 'approveForSession' });
    await tick();
    assert.deepEqual(host.sent, [
      { id: 0, result: { decision: { denied: { rejection: 'not now' } } } },
      { id: 1, result: { decision: 'approved_for_session' } },
    ]);
    assert.deepEqual(refusalFor({ method: 'execCommandApproval', id: 2, params: {} } as unknown as QuestionRequest, 'cancel'), { decision: 'abort' });
  });

  test('requests without a thread: currentTime/read (Codex before 0.171) is answered, account token refresh is refused', () => {
    const host = new TestHost();
    host.deliver({ method: 'currentTime/read', id: 0, params: { threadId: THREAD } } as unknown as ServerRequest);
    host.deliver({ method: 'account/chatgptAuthTokens/refresh', id: 1, params: { reason: 'unauthorized', previousAccountId: null } as never });
    assert.equal(host.sent[0].id, 0);
    assert.ok(typeof (host.sent[0].result as { currentTimeAt: number }).currentTimeAt === 'number');
    host.deliver({ method: 'attestation/generate', id: 2, params: {} });
    assert.deepEqual(host.sent[1], {
      id: 1,
      error: { code: -32601, message: 'account/chatgptAuthTokens/refresh is not supported by this client: this client does not manage ChatGPT tokens; Codex keeps its own login' },
    });
    assert.deepEqual(host.sent[2], { id: 2, error: { code: -32601, message: 'attestation/generate is not supported by this client: this client does not provide attestations' } });
    assert.ok(host.logLines.some((line) => line.includes('declined the server request attestation/generate')));
  });

  test('a request for a thread nobody attached waits briefly for a resume, then is refused', async () => {
    const host = new TestHost();
    host.deliver(approvalRequest(0));
    host.deliver(approvalRequest(1, 'call-2'));
    const { handle } = newRun(host); // a resume attaching in time gets the first two
    await tick();
    assert.equal(handle.asked.length, 2);
    host.deliver({ ...approvalRequest(2), params: { ...approvalRequest(2).params, threadId: 'other-thread' } } as ServerRequest);
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.deepEqual(host.sent, [{ id: 2, error: { code: -32603, message: 'No task is attached to this thread' } }]);
  });

  test('serverRequest/resolved before an answer withdraws the question and sends nothing', async () => {
    const host = new TestHost();
    const { run, handle } = newRun(host);
    host.deliver(approvalRequest(0));
    await tick();
    run.onNotification({ method: 'serverRequest/resolved', params: { threadId: THREAD, requestId: 0 } });
    await tick();
    assert.deepEqual(handle.withdrawn, [{ requestId: 'command:call-1', reason: 'Codex no longer waits for this answer' }]);
    assert.deepEqual(host.sent, []);
  });

  test('a question that expires (rejected by the manager) is declined, never approved', async () => {
    const host = new TestHost();
    const { handle } = newRun(host);
    host.deliver(approvalRequest(0));
    await tick();
    handle.withdrawQuestion('command:call-1', 'question timed out');
    await tick();
    assert.deepEqual(host.sent, [{ id: 0, result: { decision: 'decline' } }]);
  });

  test('cancel answers a pending approval with cancel and interrupts the turn', async () => {
    const host = new TestHost();
    const { run, controller } = newRun(host);
    host.deliver(approvalRequest(0));
    await tick();
    const outcome = run.waitForTurn(TURN);
    controller.abort('cancelled');
    assert.deepEqual(await outcome, { status: 'aborted' });
    assert.deepEqual(host.sent, [{ id: 0, result: { decision: 'cancel' } }]);
    assert.deepEqual(host.clientRequests, ['turn/interrupt']);
  });

  test("cancel of a review interrupts the reviewer's turn (the one running on behalf of the review/start turn)", async () => {
    const host = new TestHost();
    const { run, controller } = newRun(host);
    const turn = (id: string, rootTurnId: string | null) => ({ id, rootTurnId, items: [], itemsView: 'notLoaded' as const, status: 'inProgress' as const, error: null, startedAt: null, completedAt: null, durationMs: null });
    host.router.routeNotification({ method: 'turn/started', params: { threadId: THREAD, turn: turn('reviewer-turn', TURN) } });
    const outcome = run.waitForTurn(TURN);
    controller.abort('cancelled');
    assert.deepEqual(await outcome, { status: 'aborted' });
    assert.deepEqual(host.interrupted, ['reviewer-turn']);

    // The reviewer's turn starts while the interrupt of the review turn is on its way: Codex refuses it, the run retries.
    const racing = new TestHost();
    const second = newRun(racing);
    racing.refuse = (method, params) => {
      if (method !== 'turn/interrupt' || (params as { turnId: string }).turnId !== TURN) return undefined;
      racing.router.routeNotification({ method: 'turn/started', params: { threadId: THREAD, turn: turn('late-reviewer-turn', TURN) } });
      return 'expected active turn id turn-1 but found late-reviewer-turn';
    };
    const ended = second.run.waitForTurn(TURN);
    second.controller.abort('cancelled');
    assert.deepEqual(await ended, { status: 'aborted' });
    assert.deepEqual(racing.interrupted, [TURN, 'late-reviewer-turn']);
  });

  test('shutdown (window closing) leaves the approval pending in Codex and does not interrupt', async () => {
    const host = new TestHost();
    const { run, controller } = newRun(host);
    host.deliver(approvalRequest(0));
    await tick();
    const outcome = run.waitForTurn(TURN);
    controller.abort('shutdown');
    assert.deepEqual(await outcome, { status: 'aborted' });
    await tick();
    assert.deepEqual(host.sent, []);
    assert.deepEqual(host.clientRequests, []);
  });

  test('an answer of the wrong shape declines; refusals per kind', () => {
    const approval = approvalRequest(0) as QuestionRequest;
    assert.deepEqual(responseFor(approval, { text: 'yes', success: true }), { decision: 'decline' });
    const input: QuestionRequest = { method: 'item/tool/requestUserInput', id: 1, params: { ...base, itemId: 'i', questions: [], isBlocking: true, autoResolutionMs: null } };
    assert.deepEqual(responseFor(input, { decision: 'approve' }), { answers: {} });
    assert.deepEqual(refusalFor(input, 'cancel'), { answers: {} });
    const elicitation: QuestionRequest = {
      method: 'mcpServer/elicitation/request',
      id: 2,
      params: { threadId: THREAD, turnId: TURN, serverName: 's', environmentId: null, mode: 'url', _meta: null, message: 'Sign in', url: 'https://example.test', elicitationId: 'e' },
    };
    assert.deepEqual(responseFor(elicitation, { decision: 'approve' }), { action: 'decline', content: null, _meta: null });
    assert.deepEqual(responseFor(elicitation, { action: 'decline', content: { a: 1 } }), { action: 'decline', content: null, _meta: null });
    const tool: QuestionRequest = { method: 'item/tool/call', id: 3, params: { ...base, callId: 'c', namespace: 'ns', tool: 't', arguments: {} } };
    assert.deepEqual(refusalFor(tool, 'decline'), { contentItems: [{ type: 'inputText', text: 'The user declined this tool call.' }], success: false });
    assert.ok(new QuestionWithdrawnError('x', 'y') instanceof Error);
  });
});

describe('M1 Codex approval elicitations are approvals', () => {
  const context = { fileChanges: () => undefined, connectionSerial: 1 };
  const elicitation = (meta: unknown, id = 7): QuestionRequest => ({
    method: 'mcpServer/elicitation/request',
    id,
    params: { threadId: THREAD, turnId: TURN, serverName: 'srv', environmentId: null, mode: 'form', _meta: meta as never, message: 'Allow this?', requestedSchema: { type: 'object', properties: {} } },
  });

  for (const kind of ['mcp_tool_call', 'tool_suggestion', 'some_future_kind', 42]) {
    test(`M1 _meta.codex_approval_kind ${JSON.stringify(kind)} is an approval only the user answers unless allowAgentApprovals`, () => {
      const question = questionFor(elicitation({ codex_approval_kind: kind, tool_name: 'wipe', tool_params: { all: true } }), context);
      assert.notEqual(question.type, 'elicitation');
      assert.equal(question.type, 'command_approval');
      assert.equal(delegatorMayAnswer(question.type, false), false);
      assert.equal(delegatorMayAnswer(question.type, true), true);
      assert.ok(question.type === 'command_approval');
      assert.match(question.command, kind === 'mcp_tool_call' ? /^MCP tool srv\.wipe\(\{"all":true\}\)$/ : /Allow this\?/);
      assert.equal(question.canApproveForSession, false, 'no persist offered: no approve-for-session');
    });
  }

  test('M1 an approval elicitation is answered with a decision; anything else declines', () => {
    const request = elicitation({ codex_approval_kind: 'mcp_tool_call', persist: ['session', 'always'] });
    assert.equal((questionFor(request, context) as { canApproveForSession?: boolean }).canApproveForSession, true);
    assert.deepEqual(responseFor(request, { decision: 'approve' }), { action: 'accept', content: {}, _meta: null });
    assert.deepEqual(responseFor(request, { decision: 'approveForSession' }), { action: 'accept', content: {}, _meta: { persist: 'session' } });
    assert.deepEqual(responseFor(request, { decision: 'deny' }), { action: 'decline', content: null, _meta: null });
    // The shape of a plain elicitation's answer (what a delegating agent may always send) never accepts an approval.
    assert.deepEqual(responseFor(request, { action: 'accept', content: {} }), { action: 'decline', content: null, _meta: null });
    assert.deepEqual(refusalFor(request, 'decline'), { action: 'decline', content: null, _meta: null });
  });

  test('M1 a plain elicitation (no codex_approval_kind) stays an elicitation', () => {
    for (const meta of [null, {}, { other: 1 }]) assert.equal(questionFor(elicitation(meta), context).type, 'elicitation');
  });
});

/** A transport fed by the test. */
class ScriptedTransport implements MessageTransport {
  readonly messages = new Emitter<unknown>();
  readonly malformed = new Emitter<{ raw: string; error: Error }>();
  readonly closes = new Emitter<TransportClosed>();
  readonly onMessage = this.messages.event;
  readonly onMalformed = this.malformed.event;
  readonly onClose = this.closes.event;
  readonly sent: unknown[] = [];
  closed = false;
  send(message: unknown) {
    this.sent.push(message);
  }
  async close() {
    return this.kill();
  }
  kill() {
    const info = { code: null, signal: null, stderrTail: 'bye' };
    this.closed = true;
    this.closes.fire(info);
    return info;
  }
}

describe('Codex JSON-RPC connection', () => {
  test('request ids, error responses, id-0 server requests, malformed frames and close', async () => {
    const transport = new ScriptedTransport();
    const lines: string[] = [];
    const log = { trace() {}, debug() {}, info() {}, warn: (message: string) => lines.push(message), error() {} };
    const connection = new CodexRpcConnection(transport, log);
    const requests: ServerRequest[] = [];
    connection.onRequest((request) => requests.push(request));

    const ok = connection.request('thread/read', { threadId: 't' });
    const bad = connection.request('turn/start', { threadId: 't', input: [] });
    assert.deepEqual(transport.sent, [
      { method: 'thread/read', id: 1, params: { threadId: 't' } },
      { method: 'turn/start', id: 2, params: { threadId: 't', input: [] } },
    ]);
    transport.malformed.fire({ raw: '{not json', error: new Error('Unexpected token') });
    transport.messages.fire({ method: 'item/tool/call', id: 0, params: { threadId: 't' } });
    transport.messages.fire({ id: 2, error: { code: -32600, message: 'turn already running' } });
    transport.messages.fire({ id: 1, result: { thread: { id: 't' } } });
    assert.deepEqual(await ok, { thread: { id: 't' } });
    await assert.rejects(bad, (error: unknown) => error instanceof RpcError && error.code === -32600 && /turn already running/.test(error.message));
    assert.equal(requests.length, 1, 'a request with id 0 is a request, not a notification');
    assert.ok(lines.some((line) => line.includes('{not json')), 'the raw malformed frame is logged');

    const pending = connection.request('thread/read', { threadId: 't' });
    transport.kill();
    await assert.rejects(pending, ConnectionClosedError);
    await assert.rejects(connection.request('thread/read', { threadId: 't' }), ConnectionClosedError);
  });

  test('the Unix-socket WebSocket transport: text frames both ways, malformed frames reported, close seen', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cx-ws-'));
    const socketPath = path.join(dir, 'test.sock');
    const server = new WebSocketServer({ noServer: true });
    const http = await import('node:http');
    const httpServer = http.createServer();
    httpServer.on('upgrade', (request, socket, head) => server.handleUpgrade(request, socket, head, (ws) => server.emit('connection', ws)));
    const received: string[] = [];
    server.on('connection', (ws) => {
      ws.on('message', (data) => {
        received.push(String(data));
        ws.send('{oops');
        ws.send(Buffer.from([1, 2, 3]), { binary: true });
        ws.send(JSON.stringify({ id: 1, result: { ok: true } }));
        ws.close(1000);
      });
    });
    await new Promise<void>((resolve) => httpServer.listen(socketPath, resolve));
    try {
      const transport = await UnixWebSocketTransport.connect(socketPath);
      const messages: unknown[] = [];
      const malformed: string[] = [];
      transport.onMessage((message) => messages.push(message));
      transport.onMalformed(({ raw }) => malformed.push(raw));
      const closed = new Promise<TransportClosed>((resolve) => transport.onClose(resolve));
      transport.send({ method: 'initialize', id: 1 });
      const info = await closed;
      assert.deepEqual(received, ['{"method":"initialize","id":1}']);
      assert.deepEqual(messages, [{ id: 1, result: { ok: true } }]);
      assert.equal(malformed.length, 2);
      assert.equal(malformed[0], '{oops');
      assert.equal(info.error, undefined);
      assert.throws(() => transport.send({}));
      await assert.rejects(UnixWebSocketTransport.connect(path.join(dir, 'missing.sock'), { timeoutMs: 500 }));
    } finally {
      server.close();
      httpServer.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Codex helpers', () => {
  test('rate limits from codexErrorInfo or the message, with any retry delay', () => {
    const error = (message: string, codexErrorInfo: unknown = null) => ({ message, codexErrorInfo: codexErrorInfo as never, additionalDetails: null, misalignment: null });
    assert.deepEqual(rateLimitOf(error('x', 'usageLimitExceeded')), { retryAfterMs: undefined });
    assert.deepEqual(rateLimitOf(error('x', { responseTooManyFailedAttempts: { httpStatusCode: 429 } })), { retryAfterMs: undefined });
    assert.deepEqual(rateLimitOf(error('Rate limit reached. Please try again in 20s.')), { retryAfterMs: 20_000 });
    assert.deepEqual(rateLimitOf(error("You've hit your usage limit. Try again in 5 minutes.")), { retryAfterMs: 300_000 });
    const now = new Date(2030, 0, 1, 15, 0, 0).getTime();
    assert.deepEqual(rateLimitOf(error("You've hit your usage limit. Try again at 3:15 PM."), now), { retryAfterMs: 15 * 60_000 });
    assert.equal(rateLimitOf(error('x', { httpConnectionFailed: { httpStatusCode: 500 } })), undefined);
    assert.equal(rateLimitOf(error('context window exceeded', 'contextWindowExceeded')), undefined);
    assert.deepEqual(failureOutcome(error('quota', 'rateLimitExceeded')), { status: 'rate_limited', error: 'quota' });
    assert.deepEqual(failureOutcome({ ...error('bad request', 'badRequest'), additionalDetails: 'field x' }), { status: 'failed', error: 'bad request\nfield x' });
  });

  test('rate-limit snapshots: windows with absolute reset times; a rate-limited turn waits for the exhausted window', () => {
    const now = Date.UTC(2030, 0, 1, 12, 0, 0);
    const snapshot = {
      limitId: 'codex',
      limitName: null,
      normalModelSlug: null,
      primary: { usedPercent: 100, windowDurationMins: 300, resetsAt: now / 1000 + 1800 },
      secondary: { usedPercent: 35, windowDurationMins: 10080, resetsAt: now / 1000 + 86400 },
      credits: null,
      individualLimit: null,
      spendControlReached: null,
      planType: 'plus' as const,
      rateLimitReachedType: null,
    };
    const limits = codexLimits(snapshot, now);
    assert.deepEqual(limits, {
      at: now,
      limitId: 'codex',
      status: 'rejected',
      resetsAt: now + 1_800_000,
      windows: [
        { id: 'primary', usedPercent: 100, windowMinutes: 300, resetsAt: now + 1_800_000, status: 'rejected' },
        { id: 'secondary', usedPercent: 35, windowMinutes: 10080, resetsAt: now + 86_400_000, status: 'allowed' },
      ],
      plan: 'plus',
    });
    const error = { message: "You've hit your usage limit. Try again at 12:31 PM.", codexErrorInfo: 'usageLimitExceeded' as const, additionalDetails: null, misalignment: null };
    assert.deepEqual(failureOutcome(error, limits, now), { status: 'rate_limited', error: error.message, retryAfterMs: 1_800_000, resetsAt: now + 1_800_000 });
    // No exhausted window known: the time in the message.
    assert.deepEqual(failureOutcome({ ...error, message: 'Rate limit reached. Try again in 20s.' }, codexLimits({ ...snapshot, primary: null, secondary: null }, now), now), {
      status: 'rate_limited',
      error: 'Rate limit reached. Try again in 20s.',
      retryAfterMs: 20_000,
      resetsAt: now + 20_000,
    });
    // A sparse update keeps what it does not mention.
    const merged = mergeSnapshot(snapshot, { ...snapshot, primary: { usedPercent: 12, windowDurationMins: 300, resetsAt: now / 1000 + 60 }, secondary: null, planType: null });
    assert.deepEqual([merged.primary?.usedPercent, merged.secondary?.usedPercent, merged.planType], [12, 35, 'plus']);
    assert.deepEqual(mergeSnapshot(merged, { ...merged, primary: null, planType: null }), merged, 'an update that changes nothing keeps everything');
    assert.equal(snapshot.primary.usedPercent, 100, 'the earlier snapshot is never changed');
    assert.deepEqual(codexLimits({ ...snapshot, primary: null, secondary: null, planType: null }, now), { at: now, limitId: 'codex', windows: [] }, 'an API-key account has no windows');
  });

  test('shell commands are shown without the login-shell wrapper', () => {
    assert.equal(displayCommand("/bin/bash -lc 'npm test'"), 'npm test');
    assert.equal(displayCommand("bash -lc 'echo '\\''hi'\\'''"), "echo 'hi'");
    assert.equal(displayCommand('/usr/bin/zsh -lc ls'), '/usr/bin/zsh -lc ls');
    assert.equal(displayCommand('git status'), 'git status');
  });

  test('file changes become unified patches, git-style inside the workspace', () => {
    assert.deepEqual(toFileChange({ path: '/ws/old.txt', kind: { type: 'delete' }, diff: 'a\nb' }, '/ws'), {
      path: '/ws/old.txt',
      kind: 'delete',
      patch: '--- a/old.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n\\ No newline at end of file\n',
    });
    assert.deepEqual(toFileChange({ path: '/ws/src/a.ts', kind: { type: 'update', move_path: '/ws/src/b.ts' }, diff: '@@ -1 +1 @@\n-x\n+y' }, '/ws'), {
      path: '/ws/src/a.ts',
      kind: 'update',
      patch: '--- a/src/a.ts\n+++ b/src/b.ts\n@@ -1 +1 @@\n-x\n+y\n',
    });
    assert.equal(toFileChange({ path: '/elsewhere/n.txt', kind: { type: 'add' }, diff: '' }, '/ws').patch, '--- /dev/null\n+++ /elsewhere/n.txt\n@@ -0,0 +1,0 @@\n');
  });

  test('the codex executable: the npm wrapper resolves to the native binary with its PATH; a missing path is undefined', () => {
    const native = pinnedCodexBinary();
    const wrapper = path.resolve(__dirname, '../../../../node_modules/@openai/codex/bin/codex.js');
    const fromWrapper = resolveCodexExecutable(wrapper, { PATH: '/usr/bin' });
    assert.equal(fromWrapper?.command, fs.realpathSync(native));
    assert.equal(fromWrapper?.env.CODEX_MANAGED_BY_NPM, '1');
    assert.equal(fromWrapper?.env.PATH, `${path.join(path.dirname(path.dirname(fs.realpathSync(native))), 'codex-path')}${path.delimiter}/usr/bin`);
    assert.equal(resolveCodexExecutable(path.join(os.tmpdir(), 'no-such-codex'), { PATH: '' }), undefined);
    assert.equal(resolveCodexExecutable('', { PATH: path.join(os.tmpdir(), 'no-such-dir') }), undefined);
    const onPath = resolveCodexExecutable(undefined, { PATH: path.resolve(__dirname, '../../../../node_modules/.bin') });
    assert.equal(onPath?.command, fs.realpathSync(native), 'codex on PATH (the npm bin link) is resolved too');
  });

  test('socket paths stay short and profile keys become safe file names', () => {
    const dir = privateDirFor('/a/very/long/workspace/path/'.repeat(10), 1000);
    assert.match(path.basename(dir), /^atw-[0-9a-f]{8}$/);
    assert.equal(privateDirFor('/ws', 1000), privateDirFor('/ws', 1000));
    assert.notEqual(privateDirFor('/ws', 1000), privateDirFor('/ws', 1001));
    assert.ok(Buffer.byteLength(path.join(dir, `codex-${safeFileKey('x'.repeat(200))}.sock`)) < 100);
    assert.equal(safeFileKey('work'), 'work');
    assert.match(safeFileKey('my profile/1'), /^my_profile_1-[0-9a-f]{6}$/);
  });
});
