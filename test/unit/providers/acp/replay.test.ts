/**
 * Replays the recorded Copilot CLI ACP traffic (copilot-*.jsonl from Copilot 1.0.102) through AcpRun and the SDK
 * client connection. The replay answers each request our client sends with the recorded response to the same
 * method (ids rewritten), delivers the recorded notifications and agent requests in order, and checks that our
 * answer to every session/request_permission equals the recorded one. Covers the session updates the adapter maps
 * (agent_message_chunk, tool_call, tool_call_update, user_message_chunk replay on load, the ones it skips),
 * permissions (execute, edit), cancel, usage, the 429-as-text, and the process exit.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { Emitter, silentLogger } from '../../../../src/core/events';
import type { Answer, PendingQuestion } from '../../../../src/core/task-state';
import { AcpRun, type AcpRunEnd, type AcpRunPlan } from '../../../../src/providers/acp/run';
import { classifyCopilotTurn } from '../../../../src/providers/copilot/provider';
import type { MessageTransport, TransportClosed } from '../../../../src/providers/transport/transport';
import { FakeHandle } from '../../../support/fake-handle';

const TRANSCRIPTS = [path.resolve(__dirname, '../../../fixtures/transcripts'), path.resolve(__dirname, '../../../../../shared/protocols/transcripts')].find((dir) =>
  fs.existsSync(path.join(dir, 'copilot-plain.jsonl')),
);
const CWD = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-acp-replay-'));
after(() => fs.rmSync(CWD, { recursive: true, force: true }));

type RpcMessage = { jsonrpc?: string; id?: number | string | null; method?: string; params?: Record<string, unknown>; result?: unknown; error?: unknown };
interface Frame {
  dir: 'in' | 'out' | 'meta';
  msg?: RpcMessage;
  note?: { event?: string; code?: number | null; signal?: NodeJS.Signals | null };
}

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

/**
 * Plays one recorded agent process against our client. It stops at each recorded client message ('out') until our
 * client sends the matching one, then goes on.
 */
class AcpReplayTransport implements MessageTransport {
  private readonly messages = new Emitter<unknown>();
  private readonly malformed = new Emitter<{ raw: string; error: Error }>();
  private readonly closes = new Emitter<TransportClosed>();
  readonly onMessage = this.messages.event;
  readonly onMalformed = this.malformed.event;
  readonly onClose = this.closes.event;
  closed = false;
  /** Our responses to agent requests, with the recorded ones they must equal. */
  readonly answers: { ours: RpcMessage; recorded: RpcMessage }[] = [];
  /** Called when the replay reaches a recorded client message our client has not sent yet. */
  onWaiting: (frame: Frame) => void = () => undefined;
  private position = 0;
  /** Recorded request id → our request id. */
  private readonly ids = new Map<string, number | string | null | undefined>();
  private pumping = false;

  constructor(private readonly frames: Frame[]) {}

  send(message: unknown): void {
    if (this.closed) throw new Error('closed');
    const sent = message as RpcMessage;
    const index = this.frames.findIndex((frame, i) => i >= this.position && frame.dir === 'out' && this.matches(frame.msg!, sent));
    if (index < 0) return; // not in the recording (e.g. a second prompt): ignored
    const recorded = this.frames[index].msg!;
    if (recorded.method && recorded.id !== undefined) this.ids.set(String(recorded.id), sent.id);
    if (!recorded.method) this.answers.push({ ours: sent, recorded });
    this.position = index + 1;
    setImmediate(() => this.pump());
  }

  private matches(recorded: RpcMessage, sent: RpcMessage): boolean {
    if (recorded.method || sent.method) return recorded.method === sent.method;
    return String(recorded.id) === String(sent.id); // a response to an agent request (ids kept as recorded)
  }

  /** Delivers recorded agent messages up to the next recorded client message. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.position < this.frames.length && !this.closed) {
        const frame = this.frames[this.position];
        if (frame.dir === 'out') {
          this.onWaiting(frame);
          return;
        }
        this.position++;
        if (frame.dir === 'meta') {
          // The recorded client closed stdin here; our client does that itself when its run ends.
          if (frame.note?.event === 'closing stdin') return;
          if (frame.note?.event === 'exit') this.exit(frame.note.code ?? null, frame.note.signal ?? null);
          continue;
        }
        const message = { ...frame.msg! };
        if (!message.method && message.id !== undefined && this.ids.has(String(message.id))) message.id = this.ids.get(String(message.id));
        this.messages.fire(message);
      }
    } finally {
      this.pumping = false;
    }
  }

  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (this.closed) return;
    this.closed = true;
    this.closes.fire({ code, signal, stderrTail: '' });
  }

  async close(): Promise<TransportClosed> {
    this.exit(0);
    return { code: 0, signal: null, stderrTail: '' };
  }

  kill(): void {
    this.exit(null, 'SIGKILL');
  }
}

interface Replayed {
  end: AcpRunEnd;
  handle: FakeHandle;
  transport: AcpReplayTransport;
}

/** The Answer the recorded client's permission response stands for. */
function answerFor(question: PendingQuestion, frames: Frame[]): Answer {
  const responses = frames.filter((frame) => frame.dir === 'out' && frame.msg && !frame.msg.method && frame.msg.result);
  const optionId = (responses[0]?.msg?.result as { outcome?: { optionId?: string } }).outcome?.optionId;
  void question;
  return { decision: optionId === 'reject_once' ? 'deny' : optionId === 'allow_always' ? 'approveForSession' : 'approve' };
}

async function replay(frames: Frame[], plan: AcpRunPlan, answer?: (question: PendingQuestion) => Answer | undefined): Promise<Replayed> {
  const transport = new AcpReplayTransport(frames);
  const controller = new AbortController();
  const handle = new FakeHandle('replay-task', controller.signal);
  transport.onWaiting = (frame) => {
    if (frame.msg?.method === 'session/cancel') controller.abort('cancelled');
  };
  const run = new AcpRun({
    launch: { command: 'copilot', args: ['--acp'] },
    agentName: 'GitHub Copilot CLI',
    cwd: CWD,
    handle,
    signal: controller.signal,
    log: silentLogger,
    runKey: 'r',
    clientVersion: '0.0.0',
    flushIntervalMs: 0,
    classifyTurnEnd: classifyCopilotTurn,
    transport,
  });
  const running = run.execute(plan);
  let done = false;
  void running.then(() => (done = true));
  // Answer each question as the recorded client did, until the run ends.
  let answered = 0;
  while (!done) {
    const question = await handle.waitForQuestion((q) => handle.asked.indexOf(q) >= answered, 50).catch(() => undefined);
    if (!question) continue;
    answered = handle.asked.indexOf(question) + 1;
    const given = answer ? answer(question) : answerFor(question, frames);
    if (given) handle.answer(question.requestId, given);
  }
  const end = await running;
  transport.exit(0);
  return { end, handle, transport };
}

/** The session id session/new answered in a recorded process: ids change with every recording. */
function recordedSessionId(frames: Frame[]): string {
  const answer = frames.find((frame) => frame.dir === 'in' && (frame.msg?.result as { sessionId?: string } | undefined)?.sessionId);
  assert.ok(answer, 'the recording has a session/new answer');
  return (answer.msg!.result as { sessionId: string }).sessionId;
}

describe('Copilot ACP replay (recorded session/* traffic)', () => {
  it('plain: chunks coalesce into one message; usage from the prompt result; the session id is kept', async () => {
    const [segment] = segments('copilot-plain');
    const { end, handle } = await replay(segment, { kind: 'new', prompt: 'Say hello' });
    assert.deepEqual(end.outcome, { status: 'completed', result: 'Hello from the mock model.' });
    const sessionId = recordedSessionId(segment);
    assert.match(sessionId, /^[0-9a-f-]{36}$/);
    assert.equal(end.sessionId, sessionId);
    assert.equal(handle.sessionId, sessionId);
    assert.deepEqual(handle.usage, { inputTokens: 1800, outputTokens: 22 });
    assert.deepEqual(handle.transcript.map((entry) => [entry.kind, entry.text]), [['agent', 'Hello from the mock model.']]);
  });

  it('execute permission accepted: command approval, allow_once sent, output and exit code on the entry', async () => {
    const [segment] = segments('copilot-command-approval-accept');
    const { end, handle, transport } = await replay(segment, { kind: 'new', prompt: 'Create a marker file' });
    const [question] = handle.asked;
    assert.equal(question.type, 'command_approval');
    assert.equal(question.type === 'command_approval' && question.command, 'touch created-by-agent.txt && echo made');
    assert.equal(question.type === 'command_approval' && question.canApproveForSession, true);
    assert.equal(transport.answers.length, 1);
    assert.deepEqual(transport.answers[0].ours.result, transport.answers[0].recorded.result);
    const command = handle.transcript.find((entry) => entry.kind === 'command');
    assert.equal(command?.text, '$ touch created-by-agent.txt && echo made');
    assert.equal(command?.exitCode, 0);
    assert.equal(command?.detail, 'made\n<shellId: 0 completed with exit code 0>');
    assert.equal(end.outcome.status, 'completed');
    assert.deepEqual(handle.usage, { inputTokens: 3600, outputTokens: 44 });
  });

  it('execute permission rejected: reject_once sent; the entry says denied; the turn ends', async () => {
    const [segment] = segments('copilot-command-approval-decline');
    const { end, handle, transport } = await replay(segment, { kind: 'new', prompt: 'Touch a file' });
    assert.deepEqual(transport.answers[0].ours.result, { outcome: { outcome: 'selected', optionId: 'reject_once' } });
    assert.deepEqual(transport.answers[0].ours.result, transport.answers[0].recorded.result);
    assert.equal(handle.transcript.find((entry) => entry.kind === 'command')?.text, '$ touch declined.txt (denied)');
    assert.deepEqual(end.outcome, { status: 'completed', result: 'Info: Operation cancelled by user' });
  });

  it('edit permissions: file approvals with the agent diff; create and edit entries carry the diff', async () => {
    fs.writeFileSync(path.join(CWD, 'README.md'), '# demo\n\n');
    const [segment] = segments('copilot-file-approval');
    const { end, handle, transport } = await replay(segment, { kind: 'new', prompt: 'Write hello.txt and edit README' });
    assert.equal(handle.asked.length, 2);
    const [create, edit] = handle.asked;
    assert.equal(create.type, 'file_approval');
    assert.equal(edit.type, 'file_approval');
    if (create.type !== 'file_approval' || edit.type !== 'file_approval') return;
    assert.equal(create.fileChanges[0].path, 'hello.txt');
    assert.equal(create.fileChanges[0].kind, 'add');
    assert.equal(create.fileChanges[0].newContent, 'hello world\n');
    assert.match(create.fileChanges[0].patch, /^\+hello world$/m);
    assert.equal(edit.fileChanges[0].path, 'README.md');
    assert.equal(edit.fileChanges[0].kind, 'update');
    assert.equal(edit.fileChanges[0].newContent, '# demo (edited)\n\n');
    assert.match(edit.fileChanges[0].patch, /^-# demo$/m);
    assert.equal(transport.answers.length, 2);
    for (const { ours, recorded } of transport.answers) assert.deepEqual(ours.result, recorded.result);
    const files = handle.transcript.filter((entry) => entry.kind === 'file');
    assert.deepEqual(files.map((entry) => entry.text), ['Create hello.txt', 'Edit README.md']);
    assert.match(files[1].detail ?? '', /^\+# demo \(edited\)$/m);
    assert.equal(end.outcome.status, 'completed');
    fs.rmSync(path.join(CWD, 'README.md'));
  });

  it('interrupt: abort sends session/cancel; the prompt returns cancelled; the run aborts', async () => {
    const [segment] = segments('copilot-interrupt');
    const { end, handle } = await replay(segment, { kind: 'new', prompt: 'Long task' });
    assert.deepEqual(end.outcome, { status: 'aborted' });
    assert.deepEqual(handle.transcript.map((entry) => entry.text), ['I am going to think about this for a long time']);
  });

  it('429 as text: the error chunk and the missing usage become rate_limited', async () => {
    const [segment] = segments('copilot-rate-limit-429');
    const { end, handle } = await replay(segment, { kind: 'new', prompt: 'hi' });
    const chunk = segment.find((frame) => JSON.stringify(frame.msg ?? {}).includes('Failed to get response'));
    const text = (chunk?.msg?.params as { update: { content: { text: string } } }).update.content.text;
    assert.match(text, /^Error: Failed to get response from the AI model; retried 5 times \(total retry wait time: [\d.]+ seconds\) Last error: 429 Rate limit reached for requests \(mock\)$/);
    assert.deepEqual(end.outcome, { status: 'rate_limited', error: text.replace(/^Error: /, '') });
    assert.equal(handle.usage, undefined);
  });

  it('resume after kill: the first process dies with a permission pending; session/load replay stays out of the transcript', async () => {
    const [first, second] = segments('copilot-resume-after-kill');
    const killed = await replay(first, { kind: 'new', prompt: 'Touch pending.txt' }, () => undefined);
    assert.equal(killed.end.outcome.status, 'failed');
    assert.match(killed.end.outcome.status === 'failed' ? killed.end.outcome.error : '', /killed by SIGKILL/);

    const resumed = await replay(second, { kind: 'recover', sessionId: recordedSessionId(first), prompt: 'please continue' });
    assert.equal(resumed.end.outcome.status, 'completed');
    assert.equal(resumed.end.outcome.status === 'completed' && resumed.end.outcome.result, 'Continuing after resume.');
    const texts = resumed.handle.transcript.map((entry) => [entry.kind, entry.text]);
    assert.deepEqual(texts, [
      ['command', '$ touch pending.txt (failed)'],
      ['agent', 'Warning: 1 tool call(s) had no recorded result at resume. Files or other state may be partially changed. Completed tool results were retained; unresolved operations were not automatically retried. Verify the current state before continuing.'],
      ['agent', 'Continuing after resume.'],
    ]);
  });
});
