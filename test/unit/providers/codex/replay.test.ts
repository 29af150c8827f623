/**
 * Replays the recorded Codex app-server traffic (codex-*.jsonl from Codex 0.171.0, recorded by
 * scripts/record-transcripts.ts) through the provider's own pipeline: JSON-RPC dispatch → thread routing → transcript and questions → replies. Every reply
 * we send to a server request must equal the reply recorded in the transcript.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Emitter } from '../../../../src/core/events';
import type { Answer, OutputEntry } from '../../../../src/core/task-state';
import type { MessageTransport, TransportClosed } from '../../../../src/providers/transport/transport';
import type { ThreadHost } from '../../../../src/providers/codex/app-server';
import { CodexRpcConnection, type ClientMethod, type ClientParams, type ClientResults } from '../../../../src/providers/codex/rpc';
import { parseCodexReview } from '../../../../src/providers/codex/review';
import { CodexThreadRun } from '../../../../src/providers/codex/thread-run';
import { ThreadRouter, type ThreadListener } from '../../../../src/providers/codex/thread-router';
import { FakeHandle } from '../../../support/fake-handle';
import { codexTranscriptsDir } from '../../../support/codex-harness';

const TRANSCRIPTS = codexTranscriptsDir();
/** The transcripts' `<CWD>` placeholder stands for this workspace. */
const CWD = '/ws/project';

interface Frame {
  dir: 'in' | 'out' | 'meta';
  msg?: Record<string, unknown> & { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown };
  /** A `meta` frame's note (spawn, exit, checks). */
  note?: Record<string, unknown>;
}

function load(name: string): Frame[] {
  const file = path.join(TRANSCRIPTS, `${name}.jsonl`);
  assert.ok(fs.existsSync(file), `recorded transcript missing: ${file}`);
  return fs
    .readFileSync(file, 'utf8')
    .replaceAll('<CWD>', CWD)
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Frame);
}

/** A transport the test feeds with recorded frames; what the client sends is kept in `sent`. */
class ReplayTransport implements MessageTransport {
  private readonly messages = new Emitter<unknown>();
  private readonly malformed = new Emitter<{ raw: string; error: Error }>();
  private readonly closes = new Emitter<TransportClosed>();
  readonly onMessage = this.messages.event;
  readonly onMalformed = this.malformed.event;
  readonly onClose = this.closes.event;
  readonly sent: Record<string, unknown>[] = [];
  closed = false;

  deliver(message: unknown): void {
    this.messages.fire(message);
  }

  deliverRaw(raw: string): void {
    try {
      this.messages.fire(JSON.parse(raw));
    } catch (error) {
      this.malformed.fire({ raw, error: error as Error });
    }
  }

  send(message: unknown): void {
    this.sent.push(message as Record<string, unknown>);
  }

  async close(): Promise<TransportClosed> {
    return this.kill();
  }

  kill(): TransportClosed {
    const info = { code: null, signal: 'SIGKILL' as const, stderrTail: '' };
    this.closed = true;
    this.closes.fire(info);
    return info;
  }
}

/** The provider's pipeline minus the process: a real CodexRpcConnection and ThreadRouter over a ReplayTransport. */
class ReplayHost implements ThreadHost {
  readonly transport = new ReplayTransport();
  readonly logLines: string[] = [];
  readonly log = {
    trace: () => undefined,
    debug: (message: string) => this.logLines.push(`debug ${message}`),
    info: (message: string) => this.logLines.push(`info ${message}`),
    warn: (message: string) => this.logLines.push(`warn ${message}`),
    error: (message: string | Error) => this.logLines.push(`error ${String(message)}`),
  };
  readonly router = new ThreadRouter(this.log, 50);
  readonly connection = new CodexRpcConnection(this.transport, this.log);
  readonly clientRequests: { method: string; params: unknown }[] = [];
  readonly connectionSerial = 1;

  constructor() {
    this.connection.onNotification((notification) => this.router.routeNotification(notification));
    this.connection.onRequest((request) =>
      this.router.routeRequest(request, {
        result: (value) => this.connection.respond(request.id, value),
        error: (code, message) => this.connection.respondError(request.id, code, message),
      }),
    );
  }

  attachThread(threadId: string, listener: ThreadListener) {
    return this.router.attach(threadId, listener);
  }

  request<M extends ClientMethod>(method: M, params: ClientParams<M>): Promise<ClientResults[M]> {
    this.clientRequests.push({ method, params });
    return Promise.resolve({} as ClientResults[M]);
  }

  /** Replies we sent to server requests (frames with id and result or error, no method). */
  get replies(): Record<string, unknown>[] {
    return this.transport.sent.filter((message) => !('method' in message));
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** The user's answer that produces a recorded reply. */
function answerFromRecordedReply(result: Record<string, unknown>): Answer {
  if ('decision' in result) {
    const decisions: Record<string, 'approve' | 'approveForSession' | 'deny'> = { accept: 'approve', acceptForSession: 'approveForSession', decline: 'deny' };
    return { decision: decisions[String(result.decision)] };
  }
  if ('answers' in result) {
    const answers = result.answers as Record<string, { answers: string[] }>;
    return { answers: Object.fromEntries(Object.entries(answers).map(([id, value]) => [id, value.answers])) };
  }
  if ('action' in result) return { action: result.action as 'accept', content: (result.content ?? undefined) as Record<string, unknown> | undefined };
  const items = result.contentItems as { text: string }[];
  return { text: items.map((item) => item.text).join('\n'), success: result.success as boolean };
}

interface Replayed {
  host: ReplayHost;
  runs: Map<string, { run: CodexThreadRun; handle: FakeHandle; controller: AbortController }>;
  /** Pairs of (what we replied, what the recorded client replied) for every server request. */
  replyPairs: { ours: unknown; recorded: unknown }[];
  turnIds: string[];
}

/**
 * Feeds the `in` frames of a transcript. Runs attach to each thread as soon as its id is known; each server request
 * is answered the way the recorded client answered it. `beforeFrame` may act (abort, kill) before a frame.
 */
async function replay(name: string, options: { beforeFrame?: (frame: Frame, state: Replayed) => Promise<boolean | void> | boolean | void } = {}): Promise<Replayed> {
  const frames = load(name);
  const host = new ReplayHost();
  const state: Replayed = { host, runs: new Map(), replyPairs: [], turnIds: [] };
  const recordedReplies = new Map<number, unknown>();
  for (const frame of frames) {
    if (frame.dir === 'out' && frame.msg && frame.msg.method === undefined && frame.msg.id !== undefined) recordedReplies.set(frame.msg.id, frame.msg.result);
  }
  const attach = (threadId: string) => {
    if (state.runs.has(threadId)) return;
    const controller = new AbortController();
    const handle = new FakeHandle(`task-${state.runs.size + 1}`, controller.signal);
    const run = new CodexThreadRun({ server: host, threadId, handle, signal: controller.signal, log: host.log, cwd: CWD, flushIntervalMs: 0, interruptTimeoutMs: 200 });
    state.runs.set(threadId, { run, handle, controller });
  };
  for (const frame of frames) {
    if (frame.dir !== 'in' || !frame.msg) continue;
    const message = frame.msg;
    if (options.beforeFrame && (await options.beforeFrame(frame, state)) === false) continue;
    // Responses to the recording client's own requests: take the thread ids from them, skip the rest.
    if (message.method === undefined) {
      const result = message.result as { thread?: { id: string }; turn?: { id: string } } | undefined;
      if (result?.thread?.id) attach(result.thread.id);
      if (result?.turn?.id) state.turnIds.push(result.turn.id);
      continue;
    }
    const threadId = (message.params as { threadId?: string } | undefined)?.threadId;
    if (threadId) attach(threadId);
    const before = host.replies.length;
    host.transport.deliver(message);
    await tick();
    if (message.id !== undefined && recordedReplies.has(message.id)) {
      const entry = state.runs.get(threadId ?? '');
      const question = entry?.handle.pendingQuestions.at(-1);
      if (question && entry) {
        entry.handle.answer(question.requestId, answerFromRecordedReply(recordedReplies.get(message.id) as Record<string, unknown>));
        await tick();
      }
      state.replyPairs.push({ ours: host.replies.slice(before).map((reply) => reply.result)[0], recorded: recordedReplies.get(message.id) });
    }
  }
  for (const { run } of state.runs.values()) run.transcript.flush();
  return state;
}

/** The params of the first server request (or notification) with this method in a transcript: ids change with every recording. */
function recordedParams(name: string, method: string): Record<string, string> {
  const frame = load(name).find((candidate) => candidate.dir === 'in' && candidate.msg?.method === method);
  assert.ok(frame?.msg?.params, `${name} has no ${method}`);
  return frame.msg.params as Record<string, string>;
}

function only<T>(values: Iterable<T>): T {
  const list = [...values];
  assert.equal(list.length, 1);
  return list[0];
}

const kinds = (entries: OutputEntry[]) => entries.map((entry) => entry.kind);

describe('Codex replay of recorded app-server traffic', () => {
  test('plain: one agent entry per message, usage of the thread, completed with the final message', async () => {
    const { runs, turnIds } = await replay('codex-plain');
    const { run, handle } = only(runs.values());
    assert.deepEqual(
      handle.transcript.map((entry) => [entry.kind, entry.text]),
      [
        ['agent', 'Hello from the mock model.'],
        ['agent', 'Hello from the mock model.'],
      ],
    );
    assert.equal(new Set(handle.transcript.map((entry) => entry.id)).size, 2);
    assert.deepEqual(handle.usage, { inputTokens: 2400, outputTokens: 60 });
    assert.deepEqual(handle.rateLimitInfo.at(-1), { limitId: 'codex' });
    for (const turnId of turnIds) {
      assert.deepEqual(await run.waitForTurn(turnId), { status: 'completed', result: 'Hello from the mock model.' });
    }
  });

  test('command approval accepted: the question, the recorded reply, then the command with output and exit code', async () => {
    const { runs, replyPairs, turnIds } = await replay('codex-command-approval-accept');
    const { run, handle } = only(runs.values());
    assert.deepEqual(
      handle.asked.map(({ askedAt: _askedAt, ...question }) => question),
      [
        {
          type: 'command_approval',
          requestId: `command:${recordedParams('codex-command-approval-accept', 'item/commandExecution/requestApproval').itemId}`,
          command: 'touch created-by-agent.txt && echo made',
          cwd: CWD,
          reason: 'Create a marker file outside the sandbox?',
          sandboxPolicy: undefined,
          canApproveForSession: true,
        },
      ],
    );
    assert.deepEqual(replyPairs, [{ ours: { decision: 'accept' }, recorded: { decision: 'accept' } }]);
    assert.deepEqual(handle.withdrawn, [], 'serverRequest/resolved after our answer withdraws nothing');
    const command = handle.transcript.find((entry) => entry.kind === 'command');
    const itemId = recordedParams('codex-command-approval-accept', 'item/commandExecution/requestApproval').itemId;
    assert.deepEqual(command, { ...command, text: 'touch created-by-agent.txt && echo made', detail: 'made\n', exitCode: 0, id: itemId });
    assert.deepEqual(kinds(handle.transcript), ['command', 'agent']);
    const outcome = await run.waitForTurn(turnIds[0]);
    assert.equal(outcome.status, 'completed');
  });

  test('command approval declined: decline is sent and the command shows as declined', async () => {
    const { runs, replyPairs } = await replay('codex-command-approval-decline');
    const { handle } = only(runs.values());
    assert.deepEqual(replyPairs, [{ ours: { decision: 'decline' }, recorded: { decision: 'decline' } }]);
    const command = handle.transcript.find((entry) => entry.kind === 'command');
    assert.match(command?.detail ?? '', /Declined/);
    assert.equal(command?.exitCode, undefined);
  });

  test('file approval: the question carries the diff of its item (update hunk, and the new file as an add)', async () => {
    const { runs, replyPairs } = await replay('codex-file-approval');
    const { handle } = only(runs.values());
    const question = only(handle.asked);
    assert.ok(question.type === 'file_approval');
    assert.equal(question.requestId, `file:${recordedParams('codex-file-approval', 'item/fileChange/requestApproval').itemId}`);
    assert.deepEqual(question.fileChanges, [
      {
        path: `${CWD}/README.md`,
        kind: 'update',
        patch: '--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-# demo\n+# demo (edited)\n',
      },
      {
        path: `${CWD}/hello.txt`,
        kind: 'add',
        patch: '--- /dev/null\n+++ b/hello.txt\n@@ -0,0 +1,1 @@\n+hello world\n',
        newContent: 'hello world\n',
      },
    ]);
    assert.deepEqual(replyPairs, [{ ours: { decision: 'accept' }, recorded: { decision: 'accept' } }]);
    const file = handle.transcript.find((entry) => entry.kind === 'file');
    assert.equal(file?.text, 'Edit README.md, Add hello.txt');
    assert.equal(file?.detail, question.fileChanges.map((change) => change.patch).join(''));
  });

  test('user input: questions with options and free text; answers go back per question id', async () => {
    const { runs, replyPairs, turnIds } = await replay('codex-ask-user');
    const { run, handle } = only(runs.values());
    const question = only(handle.asked);
    assert.ok(question.type === 'user_input');
    assert.equal(question.requestId, `input:${recordedParams('codex-ask-user', 'item/tool/requestUserInput').itemId}`);
    assert.deepEqual(question.questions[0], {
      id: 'db_choice',
      text: 'Which database should I use?',
      header: 'Database',
      options: [
        { label: 'SQLite (Recommended)', description: 'Zero setup, file based.' },
        { label: 'Postgres', description: 'Needs a server.' },
      ],
      allowFreeform: true,
    });
    assert.deepEqual(replyPairs, [{ ours: { answers: { db_choice: { answers: ['Postgres'] } } }, recorded: { answers: { db_choice: { answers: ['Postgres'] } } } }]);
    assert.deepEqual(await run.waitForTurn(turnIds[0]), { status: 'completed', result: 'Tool said: {"answers":{"db_choice":{"answers":["Postgres"]}}}' });
  });

  test('MCP elicitation: message and schema; accept with content', async () => {
    const { runs, replyPairs } = await replay('codex-elicitation');
    const { handle } = only(runs.values());
    const question = only(handle.asked);
    assert.ok(question.type === 'elicitation');
    assert.equal(question.requestId, 'elicitation:1-0');
    assert.equal(question.serverName, 'elic');
    assert.equal(question.message, 'Which color should I use?');
    assert.deepEqual(question.schema, { type: 'object', properties: { color: { type: 'string', enum: ['red', 'green'] } }, required: ['color'] });
    assert.deepEqual(replyPairs, [{ ours: { action: 'accept', content: { color: 'green' }, _meta: null }, recorded: { action: 'accept', content: { color: 'green' }, _meta: null } }]);
    const tool = handle.transcript.find((entry) => entry.kind === 'tool');
    assert.equal(tool?.text, 'elic.pick_color()');
    assert.equal(tool?.detail, 'elicitation result: {"action":"accept","content":{"color":"green"}}');
  });

  test('dynamic tool: the call is a question; the text and success go back as contentItems', async () => {
    const { runs, replyPairs } = await replay('codex-dynamic-tool');
    const { handle } = only(runs.values());
    const question = only(handle.asked);
    assert.deepEqual({ ...question, askedAt: 0 }, { type: 'dynamic_tool', requestId: `tool:${recordedParams('codex-dynamic-tool', 'item/tool/call').callId}`, toolName: 'lookup_ticket', arguments: { ticket: 'ATW-42' }, askedAt: 0 });
    assert.deepEqual(replyPairs, [
      {
        ours: { contentItems: [{ type: 'inputText', text: 'ATW-42: Fix the flux capacitor (open)' }], success: true },
        recorded: { contentItems: [{ type: 'inputText', text: 'ATW-42: Fix the flux capacitor (open)' }], success: true },
      },
    ]);
    const tool = handle.transcript.find((entry) => entry.kind === 'tool');
    assert.deepEqual([tool?.text, tool?.detail], ['lookup_ticket({"ticket":"ATW-42"})', 'ATW-42: Fix the flux capacitor (open)']);
  });

  test('429: an error entry and a rate_limited outcome', async () => {
    const { runs, turnIds } = await replay('codex-rate-limit-429');
    const { run, handle } = only(runs.values());
    assert.deepEqual(
      handle.transcript.map((entry) => [entry.kind, entry.text]),
      [['error', 'exceeded retry limit, last status: 429 Too Many Requests']],
    );
    assert.deepEqual(await run.waitForTurn(turnIds[0]), { status: 'rate_limited', error: 'exceeded retry limit, last status: 429 Too Many Requests' });
  });

  test('interrupt: an abort sends turn/interrupt and the interrupted turn ends as aborted', async () => {
    let pendingOutcome: Promise<unknown> | undefined;
    const { runs, host } = await replay('codex-interrupt', {
      beforeFrame: async (frame, state) => {
        // Abort where the recording client sent turn/interrupt: right before the rate-limit snapshot arrived.
        if (frame.msg?.method === 'account/rateLimits/updated' && !pendingOutcome) {
          const { run, controller } = only(state.runs.values());
          controller.abort('cancelled');
          pendingOutcome = run.waitForTurn(state.turnIds[0]);
          await tick();
        }
      },
    });
    assert.deepEqual(await pendingOutcome, { status: 'aborted' });
    const interrupt = host.clientRequests.find((request) => request.method === 'turn/interrupt');
    const { run } = only(runs.values());
    const started = recordedParams('codex-interrupt', 'turn/started') as unknown as { turn: { id: string } };
    assert.deepEqual(interrupt?.params, { threadId: run.threadId, turnId: started.turn.id });
  });

  test('resume after kill: the connection drops with an approval pending; the question is withdrawn and the run fails', async () => {
    let failed: Promise<unknown> | undefined;
    const { runs } = await replay('codex-resume-after-kill', {
      beforeFrame: async (frame, state) => {
        // The recording's second process starts with a new initialize response: the first one was killed there.
        const result = frame.msg?.result as { userAgent?: string } | undefined;
        if (result?.userAgent && state.runs.size > 0 && !failed) {
          const { run } = only(state.runs.values());
          failed = run.waitForTurn(state.turnIds[0]);
          state.host.router.lost({ exited: true, message: 'codex app-server exited (signal SIGKILL)', stderrTail: 'panic: boom' });
          await tick();
          return false;
        }
      },
    });
    assert.deepEqual(await failed, { status: 'failed', error: 'codex app-server exited (signal SIGKILL):\npanic: boom' });
    const { handle } = only(runs.values());
    const itemId = recordedParams('codex-resume-after-kill', 'item/commandExecution/requestApproval').itemId;
    assert.deepEqual(handle.withdrawn, [{ requestId: `command:${itemId}`, reason: 'The Codex app-server stopped' }]);
  });

  test('review: review/start on a read-only thread; entering and leaving review mode read as status lines, and the rendered review parses into findings', async () => {
    const { runs, turnIds } = await replay('codex-review');
    const { run, handle } = only(runs.values());
    const base = String(load('codex-review').find((frame) => frame.note?.event === 'check')?.note?.base);
    const review = only(turnIds);
    assert.deepEqual(
      handle.transcript.map((entry) => [entry.kind, entry.text.split('\n')[0]]),
      [
        ['status', `Codex entered review mode: changes against '${base.slice(0, 7)}'`],
        ['status', 'Codex left review mode: 2 findings — The greeting file works, but it reads unfinished.'],
        ['agent', 'The greeting file works, but it reads unfinished.'],
      ],
    );
    const text = run.transcript.reviewFor(review);
    assert.match(text ?? '', /^Full review comments:$/m, 'Codex renders the review it parsed');
    assert.deepEqual((await run.waitForTurn(review)).status, 'completed');
    assert.deepEqual(parseCodexReview(text ?? '', { cwd: CWD, root: CWD }), {
      explanation: 'The greeting file works, but it reads unfinished.',
      findings: [
        { id: 'f1', path: 'README.md', line: 1, severity: 'high', title: 'The greeting has no trailing punctuation', body: 'End the greeting with an exclamation mark so it reads as one.' },
        { id: 'f2', path: 'README.md', line: 1, severity: 'low', title: 'No test covers the new file', body: 'Add a test that reads the file and checks its first line.' },
      ],
    });
  });

  test('two threads in one connection: each run sees only its own thread', async () => {
    const { runs } = await replay('codex-two-threads');
    assert.equal(runs.size, 2);
    const texts = [...runs.values()].map(({ handle }) => handle.transcript.filter((entry) => entry.kind === 'agent').map((entry) => entry.text));
    assert.deepEqual(texts.flat().sort(), [
      'Reply for thread-A streamed slowly over several chunks.',
      'Reply for thread-B streamed slowly over several chunks.',
    ]);
  });
});

describe('Codex thread names', () => {
  test('thread/name/updated names the task of that thread only; an empty name is ignored', async () => {
    const host = new ReplayHost();
    const runs = ['thread-A', 'thread-B'].map((threadId, index) => {
      const controller = new AbortController();
      const handle = new FakeHandle(`task-${index + 1}`, controller.signal);
      const run = new CodexThreadRun({ server: host, threadId, handle, signal: controller.signal, log: host.log, cwd: CWD, flushIntervalMs: 0 });
      return { run, handle, controller };
    });
    host.transport.deliver({ jsonrpc: '2.0', method: 'thread/name/updated', params: { threadId: 'thread-A', threadName: 'Add a --verbose flag' } });
    host.transport.deliver({ jsonrpc: '2.0', method: 'thread/name/updated', params: { threadId: 'thread-B' } });
    host.transport.deliver({ jsonrpc: '2.0', method: 'thread/name/updated', params: { threadId: 'thread-B', threadName: '' } });
    await tick();
    assert.deepEqual(runs[0].handle.titles, ['Add a --verbose flag']);
    assert.deepEqual(runs[1].handle.titles, []);
    assert.deepEqual(runs[0].handle.transcript, [], 'a name is not a transcript entry');
    for (const { run, controller } of runs) {
      controller.abort('shutdown');
      run.dispose();
    }
  });
});
