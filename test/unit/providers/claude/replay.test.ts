/**
 * Replays the recorded Claude Code stream-json traffic (claude-*.jsonl from Claude Code 2.1.332, recorded by
 * scripts/record-transcripts.ts) through ClaudeRun: the recorded stdout lines go in, and every control_response we send must equal the one recorded for the same
 * request_id. Covers every message kind the adapter maps: system init / api_retry, stream_event deltas, assistant
 * text and tool_use, user tool_result, control_request can_use_tool, control_response, result (success, error,
 * 429, "No conversation found") and the process exit.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { Emitter, silentLogger, type Logger } from '../../../../src/core/events';
import type { Answer, PendingQuestion } from '../../../../src/core/task-state';
import { ClaudeRun, type ClaudeRunEnd } from '../../../../src/providers/claude/run';
import type { MessageTransport, TransportClosed } from '../../../../src/providers/transport/transport';
import { FakeHandle } from '../../../support/fake-handle';

const TRANSCRIPTS = [path.resolve(__dirname, '../../../fixtures/transcripts'), path.resolve(__dirname, '../../../../../shared/protocols/transcripts')].find((dir) =>
  fs.existsSync(path.join(dir, 'claude-plain.jsonl')),
);
const CWD = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-claude-replay-'));
after(() => fs.rmSync(CWD, { recursive: true, force: true }));

type Message = Record<string, unknown> & { type?: string; request_id?: string; request?: { subtype?: string }; response?: { request_id?: string; response?: unknown; subtype?: string } };
interface Frame {
  dir: 'in' | 'out' | 'meta';
  msg?: Message;
  note?: { event?: string; code?: number | null; signal?: NodeJS.Signals | null };
}

/** The frames of each process the transcript recorded (split at the harness's "spawn" notes). */
function segments(name: string): Frame[][] {
  assert.ok(TRANSCRIPTS, 'recorded transcripts not found');
  const frames = fs
    .readFileSync(path.join(TRANSCRIPTS, `${name}.jsonl`), 'utf8')
    .replaceAll('<CWD>', CWD)
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Frame);
  const result: Frame[][] = [];
  for (const frame of frames) {
    if (frame.dir === 'meta' && frame.note?.event === 'spawn') result.push([]);
    else result[result.length - 1]?.push(frame);
  }
  return result;
}

/** The first message the CLI printed in a transcript that matches: ids change with every recording. */
function recorded(name: string, match: (msg: Message) => boolean): Message {
  const frame = segments(name).flat().find((candidate) => candidate.dir === 'in' && candidate.msg && match(candidate.msg));
  assert.ok(frame?.msg, `${name} has no such message`);
  return frame.msg;
}

class ReplayTransport implements MessageTransport {
  private readonly messages = new Emitter<unknown>();
  private readonly malformed = new Emitter<{ raw: string; error: Error }>();
  private readonly closes = new Emitter<TransportClosed>();
  private readonly sentEmitter = new Emitter<Message>();
  readonly onMessage = this.messages.event;
  readonly onMalformed = this.malformed.event;
  readonly onClose = this.closes.event;
  readonly sent: Message[] = [];
  closed = false;

  deliver(message: unknown): void {
    if (!this.closed) this.messages.fire(message);
  }

  deliverRaw(raw: string): void {
    this.malformed.fire({ raw, error: new Error('not JSON') });
  }

  exit(code: number | null, signal: NodeJS.Signals | null = null, stderrTail = ''): void {
    if (this.closed) return;
    this.closed = true;
    this.closes.fire({ code, signal, stderrTail });
  }

  send(message: unknown): void {
    if (this.closed) throw new Error('closed');
    this.sent.push(message as Message);
    this.sentEmitter.fire(message as Message);
  }

  /** Resolves with the first sent message (already sent or coming) that matches. */
  waitForSent(match: (message: Message) => boolean): Promise<Message> {
    const found = this.sent.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const subscription = this.sentEmitter.event((message) => {
        if (!match(message)) return;
        subscription.dispose();
        resolve(message);
      });
    });
  }

  async close(): Promise<TransportClosed> {
    this.exit(0);
    return { code: 0, signal: null, stderrTail: '' };
  }

  kill(): void {
    this.exit(null, 'SIGKILL');
  }
}

/** The answer the recorded client gave, in our Answer shape. */
function answerFromRecording(question: PendingQuestion, recorded: Message): Answer {
  const response = recorded.response?.response as { behavior: string; message?: string; updatedInput?: { answers?: Record<string, string> } };
  if (response.behavior === 'deny') return { decision: 'deny', message: response.message };
  if (question.type === 'user_input') {
    const byText = response.updatedInput?.answers ?? {};
    return { answers: Object.fromEntries(question.questions.map((q) => [q.id, byText[q.text] ? [byText[q.text]] : []])) };
  }
  return { decision: 'approve' };
}

interface Replayed {
  end: ClaudeRunEnd;
  handle: FakeHandle;
  transport: ReplayTransport;
  questions: PendingQuestion[];
}

/** Runs one recorded process through a ClaudeRun, answering as the recorded client did; stops at its first result. */
async function replay(frames: Frame[], options: { stderrTail?: string; log?: Logger } = {}): Promise<Replayed> {
  const transport = new ReplayTransport();
  const controller = new AbortController();
  const handle = new FakeHandle('replay-task', controller.signal);
  const firstPrompt = frames.find((frame) => frame.dir === 'out' && frame.msg?.type === 'user');
  const run = new ClaudeRun({
    command: 'claude',
    args: [],
    cwd: CWD,
    env: {},
    prompt: String((firstPrompt?.msg?.message as { content?: unknown } | undefined)?.content ?? ''),
    handle,
    signal: controller.signal,
    log: options.log ?? silentLogger,
    runKey: 'r',
    flushIntervalMs: 0,
    interruptGraceMs: 5000,
    transport,
  });
  const ended = run.execute();
  let finished = false;
  void ended.then(() => (finished = true));
  for (const frame of frames) {
    if (finished) break;
    if (frame.dir === 'in' && frame.msg) {
      transport.deliver(frame.msg);
      await tick();
      if (frame.msg.type === 'result') break;
    } else if (frame.dir === 'out' && frame.msg?.type === 'control_response') {
      const requestId = frame.msg.response?.request_id;
      const question = await handle.waitForQuestion((q) => q.requestId === requestId, 2000);
      handle.answer(question.requestId, answerFromRecording(question, frame.msg));
      const ours = await transport.waitForSent((message) => message.type === 'control_response' && message.response?.request_id === requestId);
      assert.deepEqual(ours, frame.msg, 'our control_response equals the recorded one');
    } else if (frame.dir === 'out' && frame.msg?.type === 'control_request' && frame.msg.request?.subtype === 'interrupt') {
      controller.abort('cancelled');
      const ours = await transport.waitForSent((message) => message.type === 'control_request');
      assert.equal(ours.request?.subtype, 'interrupt');
    } else if (frame.dir === 'meta' && frame.note?.event === 'exit') {
      transport.exit(frame.note.code ?? null, frame.note.signal ?? null, options.stderrTail ?? '');
    }
  }
  return { end: await ended, handle, transport, questions: handle.asked };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Claude Code replay (recorded stream-json)', () => {
  it('message types this client does not use are logged once per type and do not disturb the run', async () => {
    const frames = segments('claude-plain')[0];
    const resultAt = frames.findIndex((frame) => frame.dir === 'in' && frame.msg?.type === 'result');
    const novel = (n: number): Frame => ({ dir: 'in', msg: { type: 'tool_progress_v9', n, session_id: 'x' } as unknown as Frame['msg'] });
    const withNovel = [...frames.slice(0, resultAt), novel(1), novel(2), ...frames.slice(resultAt)];
    const lines: string[] = [];
    const log = { ...silentLogger, info: (message: string) => lines.push(message), warn: (message: string) => lines.push(message) };
    const { end } = await replay(withNovel, { log });
    assert.equal(end.outcome.status, 'completed');
    assert.equal(lines.filter((line) => line.includes('tool_progress_v9')).length, 1);
  });

  it('plain: streams the reply, reports session, usage and cost, completes with the result text', async () => {
    const { end, handle, transport } = await replay(segments('claude-plain')[0]);
    assert.deepEqual(end.outcome, { status: 'completed', result: 'Hello from the mock model.' });
    assert.deepEqual(transport.sent[0], { type: 'user', message: { role: 'user', content: 'Say hello' } });
    const sessionId = String(recorded('claude-plain', (msg) => msg.type === 'system').session_id);
    assert.match(sessionId, /^[0-9a-f-]{36}$/);
    assert.equal(handle.sessionId, sessionId);
    assert.deepEqual(handle.providerState, { sessionId });
    // The cost is Claude Code's own, from its price table: cumulative for the process.
    assert.deepEqual(handle.usage, { inputTokens: 1500, outputTokens: 25, costUsd: recorded('claude-plain', (msg) => msg.type === 'result').total_cost_usd });
    assert.deepEqual(handle.transcript.map((entry) => [entry.kind, entry.text]), [['agent', 'Hello from the mock model.']]);
  });

  it('command approval accepted: Bash → command_approval, allow echoes the input, the result completes the entry', async () => {
    const { end, handle, questions } = await replay(segments('claude-command-approval-accept')[0]);
    assert.equal(questions.length, 1);
    const [question] = questions;
    assert.equal(question.type, 'command_approval');
    assert.equal(question.type === 'command_approval' && question.command, 'touch created-by-agent.txt && echo made');
    assert.equal(question.type === 'command_approval' && question.reason, 'Create marker file');
    assert.equal(question.requestId, recorded('claude-command-approval-accept', (msg) => msg.type === 'control_request').request_id);
    assert.deepEqual(end.outcome, { status: 'completed', result: 'Tool said: made' });
    const command = handle.transcript.find((entry) => entry.kind === 'command');
    assert.deepEqual(command && [command.text, command.detail, command.exitCode], ['$ touch created-by-agent.txt && echo made', 'made', 0]);
    const cost = recorded('claude-command-approval-accept', (msg) => msg.type === 'result').total_cost_usd;
    assert.ok(typeof cost === 'number' && cost > 0);
    assert.deepEqual(handle.usage, { inputTokens: 3000, outputTokens: 50, costUsd: cost });
  });

  it('command approval declined: deny carries the message; the entry says denied', async () => {
    const { end, handle } = await replay(segments('claude-command-approval-decline')[0]);
    assert.deepEqual(end.outcome, { status: 'completed', result: 'Tool said: User declined this command (is_error)' });
    const command = handle.transcript.find((entry) => entry.kind === 'command');
    assert.equal(command?.text, '$ touch declined.txt (denied)');
    assert.equal(command?.exitCode, undefined);
  });

  it('file approval: Write → file_approval with a diff computed against the disk', async () => {
    const { end, handle, questions } = await replay(segments('claude-file-approval')[0]);
    const [question] = questions;
    assert.equal(question.type, 'file_approval');
    assert.deepEqual(question.type === 'file_approval' && question.fileChanges, [
      { path: 'hello.txt', kind: 'add', patch: '--- /dev/null\n+++ b/hello.txt\n@@ -0,0 +1,1 @@\n+hello world\n', newContent: 'hello world\n' },
    ]);
    assert.equal(end.outcome.status, 'completed');
    const file = handle.transcript.find((entry) => entry.kind === 'file');
    assert.equal(file?.text, 'Write hello.txt');
    assert.match(file?.detail ?? '', /\+hello world/);
  });

  it('ask-user: AskUserQuestion → user_input; answers go back in updatedInput keyed by question text', async () => {
    const { end, handle, questions } = await replay(segments('claude-ask-user')[0]);
    const [question] = questions;
    assert.equal(question.type, 'user_input');
    assert.deepEqual(question.type === 'user_input' && question.questions, [
      {
        id: 'q1',
        text: 'Which database should I use?',
        header: 'Database',
        options: [
          { label: 'SQLite', description: 'Zero setup, file based.' },
          { label: 'Postgres', description: 'Needs a server.' },
        ],
        multiSelect: false,
        allowFreeform: true,
      },
    ]);
    assert.equal(end.outcome.status, 'completed');
    assert.equal(handle.transcript.find((entry) => entry.kind === 'tool')?.text, 'Question: Which database should I use?');
  });

  it('interrupt: cancel sends an interrupt control request; the partial text stays; the run aborts', async () => {
    const { end, handle } = await replay(segments('claude-interrupt')[0]);
    assert.deepEqual(end.outcome, { status: 'aborted' });
    assert.deepEqual(handle.transcript.map((entry) => [entry.kind, entry.text]), [['agent', 'I am going to think about this for a long time']]);
    assert.ok(handle.appended.filter((entry) => entry.kind === 'agent').length >= 2, 'text_delta stream events updated the entry');
  });

  it('429 with one retry: api_retry and the is_error result become rate_limited', async () => {
    const { end, handle } = await replay(segments('claude-rate-limit-429-max-retries-1')[0]);
    assert.deepEqual(end.outcome, {
      status: 'rate_limited',
      error: 'API Error: Request rejected (429) · Number of requests has exceeded your rate limit (mock)',
    });
    assert.equal(handle.rateLimitInfo.length, 1);
    const delay = (Number(recorded('claude-rate-limit-429-max-retries-1', (msg) => msg.subtype === 'api_retry').retry_delay_ms) / 1000).toFixed(1);
    assert.equal(handle.transcript.find((entry) => entry.kind === 'status')?.text, `Claude API returned HTTP 429 (rate_limit); retrying in ${delay} s (attempt 1 of 1)`);
    assert.equal(handle.transcript.find((entry) => entry.kind === 'error')?.text, 'API Error: Request rejected (429) · Number of requests has exceeded your rate limit (mock)');
  });

  it('429 with the default ten retries: one retry status line, updated in place', async () => {
    const { end, handle } = await replay(segments('claude-rate-limit-429')[0]);
    assert.equal(end.outcome.status, 'rate_limited');
    assert.equal(handle.rateLimitInfo.length, 10);
    assert.equal(handle.transcript.filter((entry) => entry.kind === 'status').length, 1);
    assert.match(handle.transcript.find((entry) => entry.kind === 'status')?.text ?? '', /attempt 10 of 10/);
  });

  it('resume after an immediate kill (approval pending): 2.1.3xx has saved the session, so it continues', async () => {
    const [first, second] = segments('claude-resume-after-kill-immediate');
    const killed = await replay(first, { stderrTail: 'boom' });
    assert.equal(killed.end.outcome.status, 'failed');
    assert.match(killed.end.outcome.status === 'failed' ? killed.end.outcome.error : '', /killed by SIGKILL before the turn finished:\nboom/);
    const resumed = await replay(second);
    assert.equal(resumed.end.sessionLost, false);
    assert.deepEqual(resumed.end.outcome, { status: 'completed', result: 'Continuing after resume.' });
  });

  it('resume of a session Claude Code never saved: "No conversation found" marks the session lost', async () => {
    const [only] = segments('claude-resume-unknown-session');
    const resumed = await replay(only);
    assert.equal(resumed.end.sessionLost, true);
    assert.equal(resumed.end.outcome.status, 'failed');
    assert.match(resumed.end.outcome.status === 'failed' ? resumed.end.outcome.error : '', /No conversation found/);
  });

  it('resume after a later kill: the same session continues', async () => {
    const [first, second] = segments('claude-resume-after-kill');
    const killed = await replay(first);
    assert.equal(killed.end.outcome.status, 'failed');
    assert.equal(killed.handle.withdrawn.length, 0);
    const resumed = await replay(second);
    assert.deepEqual(resumed.end.outcome, { status: 'completed', result: 'Continuing after resume.' });
    assert.equal(resumed.end.sessionId, String(recorded('claude-resume-after-kill', (msg) => msg.type === 'system').session_id));
    assert.equal(resumed.end.sessionId, killed.end.sessionId ?? killed.handle.sessionId, 'the same session continues');
  });

  it('a line that is not JSON is logged with its raw text and skipped', async () => {
    const transport = new ReplayTransport();
    const warnings: string[] = [];
    const controller = new AbortController();
    const handle = new FakeHandle('t', controller.signal);
    const run = new ClaudeRun({
      command: 'claude',
      args: [],
      cwd: CWD,
      env: {},
      prompt: 'hi',
      handle,
      signal: controller.signal,
      log: { ...silentLogger, warn: (message: string) => void warnings.push(message) },
      runKey: 'r',
      transport,
    });
    const ended = run.execute();
    transport.deliverRaw('{oops');
    transport.deliver({ type: 'mystery' });
    transport.deliver({ type: 'result', subtype: 'success', is_error: false, result: 'fine' });
    assert.deepEqual((await ended).outcome, { status: 'completed', result: 'fine' });
    assert.ok(warnings.some((warning) => warning.includes('{oops')));
    assert.ok(warnings.some((warning) => warning.includes('mystery')));
  });
});
