/**
 * The keeper with real processes: a freshly built dist/keeper.js holding fake stdio agents (test/fixtures/fake-cli).
 * Each test checks that every process it started (keeper, agent, watchdog, grandchildren) is gone afterwards.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  attachKeeper,
  isKeeperError,
  KeeperLauncher,
  keeperRefFrom,
  killKeeper,
  listKeepers,
  startKeeper,
  type KeeperStartOptions,
  type KeeperTransport,
} from '../../src/keeper';
import { decodeLineRecord, encodeFrame, encodeJsonFrame, FrameDecoder } from '../../src/keeper/framing';
import { FrameType, type KeeperMetadata } from '../../src/keeper/protocol';
import { keeperPaths, readKeeperMetadata } from '../../src/keeper/files';
import { CommandNotFoundError, ProcessTransport } from '../../src/providers/transport/process-transport';
import type { MessageTransport, TransportClosed } from '../../src/providers/transport/transport';
import { buildKeeper, delay, fakeCli, isRunning, makeRoot, waitFor } from '../support/fake-cli';

type Message = { type: string; [key: string]: unknown };

/** Everything a transport reported, in order. */
class Recorder {
  readonly messages: Message[] = [];
  readonly seqs: number[] = [];
  readonly malformed: string[] = [];
  closed: TransportClosed | undefined;

  constructor(readonly transport: MessageTransport) {
    transport.onMessage((message) => {
      this.messages.push(message as Message);
      const seq = (transport as Partial<KeeperTransport>).lastSeq;
      if (seq !== undefined) this.seqs.push(seq);
    });
    transport.onMalformed(({ raw }) => this.malformed.push(raw));
    transport.onClose((info) => (this.closed = info));
  }

  ofType(type: string): Message[] {
    return this.messages.filter((message) => message.type === type);
  }

  async waitFor(predicate: (messages: Message[]) => boolean, what: string, timeoutMs = 5000): Promise<void> {
    await waitFor(() => predicate(this.messages), timeoutMs, what);
  }
}

describe('keeper', { timeout: 120_000 }, () => {
  let root: string;
  let keeperScript: string;
  let dir: string;
  /** Processes this test started, checked in afterEach. */
  let tracked: number[] = [];

  before(async () => {
    root = makeRoot();
    keeperScript = await buildKeeper(root);
    dir = path.join(root, 'sockets');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  afterEach(async () => {
    const left = () => tracked.filter((pid) => isRunning(pid));
    await waitFor(() => left().length === 0, 8000, 'every process to end').catch(() => {
      const pids = left();
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      assert.fail(`processes left behind: ${pids.join(', ')}`);
    });
    tracked = [];
  });

  function metadataOf(transport: KeeperTransport): KeeperMetadata {
    const metadata = readKeeperMetadata(keeperPaths(transport.ref.dir, transport.keeperId).metadata);
    assert.ok(metadata, 'metadata exists');
    return metadata;
  }

  async function start(args: string[], options: Partial<KeeperStartOptions> = {}, script: 'agent' | 'approval' | 'flood' = 'agent'): Promise<KeeperTransport> {
    const transport = await startKeeper({
      command: process.execPath,
      args: [fakeCli(script), ...args],
      cwd: root,
      dir,
      taskId: 'brave-otter-001',
      provider: 'fake',
      keepRunningMs: 60_000,
      keeperScript,
      watchdogPollMs: 200,
      stopGraceMs: 300,
      ...options,
    });
    const metadata = metadataOf(transport);
    tracked.push(metadata.pid, metadata.cliPid, ...(metadata.watchdogPid ? [metadata.watchdogPid] : []));
    return transport;
  }

  const keeperFiles = (transport: KeeperTransport) => fs.readdirSync(dir).filter((name) => name.startsWith(`k-${transport.keeperId}`));

  test('messages go both ways in order; each record has the next sequence number; the end removes every file', async () => {
    const transport = await start(['--greet']);
    const recorder = new Recorder(transport);
    await recorder.waitFor((m) => m.some((x) => x.type === 'ready'), 'ready');
    for (let i = 0; i < 50; i++) transport.send({ cmd: 'echo', i, text: `héllo ✓ ${i}` });
    await recorder.waitFor((m) => m.filter((x) => x.type === 'echo').length === 50, '50 echoes');
    assert.deepEqual(recorder.ofType('echo').map((m) => m.i), [...Array(50).keys()]);
    assert.equal(recorder.ofType('echo')[7].text, 'héllo ✓ 7');
    // Sequence numbers interleave the host's 50 inputs with the agent's lines, strictly increasing.
    assert.ok(recorder.seqs.every((seq, index) => index === 0 || seq > recorder.seqs[index - 1]));
    assert.equal(transport.pid, metadataOf(transport).cliPid);
    transport.send({ cmd: 'exit', code: 5 });
    const closed = await transport.whenClosed();
    assert.equal(closed.code, 5);
    assert.equal(closed.error, undefined);
    await waitFor(() => keeperFiles(transport).length === 0, 3000, 'the keeper to remove its files');
  });

  test('to a provider it behaves like ProcessTransport: messages, malformed raw lines, invalid UTF-8, CRLF, a last line without newline, stderr tail, exit code', async () => {
    const script = [
      { cmd: 'echo', a: 1 },
      { cmd: 'raw', base64: Buffer.from('not json at all\n').toString('base64') },
      { cmd: 'raw', base64: Buffer.concat([Buffer.from('{"bad":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}\n')]).toString('base64') },
      { cmd: 'raw', base64: Buffer.from('\n   \n{"crlf":true}\r\n').toString('base64') },
      { cmd: 'stderr', text: 'warning: something on stderr\n' },
      { cmd: 'raw', base64: Buffer.from('{"last":"no newline"}').toString('base64') },
      { cmd: 'exit', code: 3 },
    ];
    const run = async (transport: MessageTransport & { whenClosed(): Promise<TransportClosed> }) => {
      const recorder = new Recorder(transport);
      for (const command of script) {
        transport.send(command);
        await delay(30);
      }
      const closed = await transport.whenClosed();
      return { messages: recorder.messages, malformed: recorder.malformed, code: closed.code, signal: closed.signal, stderrTail: closed.stderrTail };
    };
    const direct = await run(new ProcessTransport({ command: process.execPath, args: [fakeCli('agent')], cwd: root }));
    const kept = await run(await start([]));
    assert.deepEqual(kept, direct);
    assert.deepEqual(kept.malformed[0], 'not json at all');
    assert.deepEqual(kept.messages[1], { bad: '\ufffd\ufffd\ufffd' }, 'invalid UTF-8 decoded with replacement characters');
    assert.deepEqual(kept.messages.at(-1), { last: 'no newline' });
    assert.match(kept.stderrTail, /something on stderr/);
  });

  test('close(graceMs) ends the agent gracefully: stdin closes and it exits by itself', async () => {
    const transport = await start([]);
    const closed = await transport.close(2000);
    assert.equal(closed.code, 0);
    assert.equal(closed.signal, null);
    await waitFor(() => keeperFiles(transport).length === 0, 3000, 'files removed');
  });

  test('close(graceMs) escalates to SIGTERM for an agent that ignores stdin EOF', async () => {
    const transport = await start(['--ignore-eof']);
    const started = Date.now();
    const closed = await transport.close(300);
    assert.equal(closed.signal, 'SIGTERM');
    assert.ok(Date.now() - started >= 280, 'waited the grace period first');
  });

  test('kill() ends the whole process group (grandchildren too) and the keeper at once', async () => {
    const transport = await start(['--ignore-eof', '--ignore-signals']);
    const recorder = new Recorder(transport);
    transport.send({ cmd: 'spawn' });
    await recorder.waitFor((m) => m.some((x) => x.type === 'spawned'), 'a grandchild');
    const grandchild = recorder.ofType('spawned')[0].pid as number;
    tracked.push(grandchild);
    assert.ok(isRunning(grandchild));
    const started = Date.now();
    transport.kill();
    const closed = await transport.whenClosed();
    assert.equal(closed.signal, 'SIGKILL');
    await waitFor(() => !isRunning(grandchild) && !isRunning(transport.pid), 1000, 'the group to die');
    assert.ok(Date.now() - started < 1500);
    await waitFor(() => keeperFiles(transport).length === 0, 3000, 'files removed');
  });

  test('reattach: lines written while no window was attached are replayed exactly once, in order, then live streaming goes on', async () => {
    const first = await start(['--greet']);
    const before = new Recorder(first);
    await before.waitFor((m) => m.some((x) => x.type === 'ready'), 'ready');
    // 300 lines, 2 ms apart, starting after the window is gone and still running while the next one attaches.
    first.send({ cmd: 'print', count: 300, delayMs: 50, intervalMs: 2 });
    await delay(20);
    const lastSeq = first.lastSeq;
    const detached = await first.detach();
    assert.ok(isKeeperError(detached.error, 'detached'));
    assert.equal(before.ofType('line').length, 0);
    await delay(250);

    const second = await attachKeeper(first.ref, { lastSeq });
    const after = new Recorder(second);
    assert.equal(second.welcome.status, 'running');
    assert.ok(second.welcome.headSeq > lastSeq, 'lines were journaled while detached');
    await after.waitFor((m) => m.filter((x) => x.type === 'line').length === 300, '300 lines', 10_000);
    assert.deepEqual(after.ofType('line').map((m) => m.n), [...Array(300).keys()], 'each line once, in order');
    assert.ok(after.seqs.every((seq, index) => seq === (index === 0 ? after.seqs[0] : after.seqs[index - 1] + 1)), 'contiguous sequence numbers');
    assert.equal(after.ofType('ready').length, 0, 'nothing at or before lastSeq is replayed');
    second.send({ cmd: 'echo', live: true });
    await after.waitFor((m) => m.some((x) => x.type === 'echo'), 'a live echo');
    second.send({ cmd: 'exit' });
    assert.equal((await second.whenClosed()).code, 0);
  });

  test('reattach from a sequence number in the middle of a batch of lines replays from exactly the next line', async () => {
    const first = await start([]);
    const before = new Recorder(first);
    first.send({ cmd: 'print', count: 500 }); // written at once: the keeper journals it as a few large records
    await before.waitFor((m) => m.filter((x) => x.type === 'line').length === 500, '500 lines');
    const lineSeqs = before.messages.map((message, index) => ({ message, seq: before.seqs[index] })).filter(({ message }) => message.type === 'line');
    await first.detach();
    for (const cut of [0, 1, 137, 498, 499]) {
      const again = await attachKeeper(first.ref, { lastSeq: lineSeqs[cut].seq, autoAck: false });
      const recorder = new Recorder(again);
      const expected = 499 - cut;
      if (expected > 0) await recorder.waitFor((m) => m.filter((x) => x.type === 'line').length === expected, `${expected} lines after line ${cut}`);
      else await delay(100);
      assert.deepEqual(recorder.ofType('line').map((m) => m.n), [...Array(expected).keys()].map((i) => cut + 1 + i));
      assert.deepEqual(recorder.seqs, lineSeqs.slice(cut + 1).map(({ seq }) => seq));
      await again.detach();
    }
    assert.ok(await killKeeper(first.ref));
  });

  test('an approval survives the window: the new window sees the question again from the journal, answers, and the agent finishes', async () => {
    const first = await start([], {}, 'approval');
    const before = new Recorder(first);
    await before.waitFor((m) => m.some((x) => x.type === 'question'), 'the question');
    first.acknowledge();
    await first.detach();
    assert.ok(isRunning(first.pid), 'the agent keeps waiting for its answer');

    // The next window replays the whole journal to rebuild the protocol state.
    const second = await attachKeeper(first.ref, { lastSeq: 0 });
    const after = new Recorder(second);
    const inputs: unknown[] = [];
    second.onInput(({ message }) => inputs.push(message));
    await after.waitFor((m) => m.some((x) => x.type === 'question'), 'the question, replayed');
    const question = after.ofType('question')[0];
    assert.equal(question.id, 'q1');
    assert.ok(second.welcome.ackedSeq >= 2, 'the welcome says the first window had processed it');
    assert.deepEqual(inputs, [], 'no answer was sent yet');
    second.send({ type: 'answer', id: 'q1', decision: 'approve' });
    await after.waitFor((m) => m.some((x) => x.type === 'result'), 'the result');
    assert.equal(after.ofType('result')[0].decision, 'approve');
    assert.equal((await second.whenClosed()).code, 0);
    await waitFor(() => keeperFiles(second).length === 0, 3000, 'files removed');
  });

  test('an answer the previous window already sent is replayed as input, so the next window does not ask again', async () => {
    const first = await start(['--greet']);
    const before = new Recorder(first);
    await before.waitFor((m) => m.some((x) => x.type === 'ready'), 'ready');
    first.send({ cmd: 'ask', id: 'q7', text: 'Allow?' });
    await before.waitFor((m) => m.some((x) => x.type === 'question'), 'the question');
    first.send({ cmd: 'answer', id: 'q7', decision: 'deny' });
    await delay(50);
    await first.detach();

    const second = await attachKeeper(first.ref);
    const order: string[] = [];
    second.onMessage((message) => order.push(`out:${(message as Message).type}`));
    second.onInput(({ message }) => order.push(`in:${(message as { cmd: string }).cmd}`));
    await waitFor(() => order.includes('out:answered'), 3000, 'the replay');
    assert.deepEqual(order, ['out:ready', 'in:ask', 'out:question', 'in:answer', 'out:answered']);
    second.kill();
    await second.whenClosed();
  });

  test('a second window attaching takes over; the first is told it was detached', async () => {
    const first = await start(['--greet']);
    const firstClosed = first.whenClosed();
    const second = await attachKeeper(first.ref);
    const closed = await firstClosed;
    assert.ok(isKeeperError(closed.error, 'detached'));
    assert.match(closed.error.message, /Another window/);
    const recorder = new Recorder(second);
    second.send({ cmd: 'echo', from: 'second' });
    await recorder.waitFor((m) => m.some((x) => x.type === 'echo'), 'echo');
    second.kill();
    await second.whenClosed();
  });

  test('keeper killed with SIGKILL (no window attached): an agent that honours EOF exits at once, and attach fails with a clear error', async () => {
    const transport = await start(['--greet']);
    const { pid: keeperPid, cliPid } = metadataOf(transport);
    await transport.detach();
    process.kill(keeperPid, 'SIGKILL');
    const took = await waitFor(() => !isRunning(cliPid), 3000, 'the agent to exit');
    assert.ok(took < 1500, `the agent exited on stdin EOF (${took} ms)`);
    await assert.rejects(attachKeeper(transport.ref), (error: Error) => {
      assert.ok(isKeeperError(error, 'gone'));
      assert.match(error.message, /keeper \(pid \d+\) is no longer running; the agent was stopped/);
      return true;
    });
    assert.deepEqual(keeperFiles(transport), [], 'attach cleaned up after the dead keeper');
  });

  test('keeper killed with SIGKILL: an agent that ignores EOF and SIGTERM, and its grandchild, are gone within poll + 2 s', async () => {
    const transport = await start(['--greet', '--ignore-eof', '--ignore-signals'], { watchdogPollMs: 200 });
    const recorder = new Recorder(transport);
    transport.send({ cmd: 'spawn' });
    await recorder.waitFor((m) => m.some((x) => x.type === 'spawned'), 'a grandchild');
    const grandchild = recorder.ofType('spawned')[0].pid as number;
    tracked.push(grandchild);
    const { pid: keeperPid, cliPid } = metadataOf(transport);
    await transport.detach();
    process.kill(keeperPid, 'SIGKILL');
    await delay(100);
    assert.ok(isRunning(cliPid), 'stdin EOF alone does not stop this one');
    const took = await waitFor(() => !isRunning(cliPid) && !isRunning(grandchild), 6000, 'the watchdog to end the group');
    assert.ok(took <= 200 + 2000 + 1000, `bound: poll (200 ms) + 2 s + slack; took ${took + 100} ms`);
    const listed = listKeepers(dir).find((info) => info.ref.keeperId === transport.keeperId);
    assert.equal(listed?.state, 'dead');
    assert.equal(listKeepers(dir).find((info) => info.ref.keeperId === transport.keeperId), undefined, 'listKeepers cleaned it up');
    await assert.rejects(attachKeeper(transport.ref), (error: unknown) => isKeeperError(error, 'gone'));
  });

  test('a live keeper whose socket is gone is stopped with its agent when a window tries to attach (no duplicate agent after a resume)', async () => {
    const transport = await start(['--greet']);
    const { pid: keeperPid, cliPid } = metadataOf(transport);
    await transport.detach();
    fs.unlinkSync(keeperPaths(dir, transport.keeperId).socket); // e.g. a tmp cleaner
    await assert.rejects(attachKeeper(transport.ref), (error: Error) => isKeeperError(error, 'gone') && /could not be reached/.test(error.message));
    await waitFor(() => !isRunning(keeperPid) && !isRunning(cliPid), 2000, 'the keeper and its agent to stop');
    assert.deepEqual(keeperFiles(transport), []);
  });

  test('keeper killed under a connected window: onClose reports the keeper lost and the agent is stopped', async () => {
    const transport = await start(['--ignore-eof', '--ignore-signals']);
    process.kill(metadataOf(transport).pid, 'SIGKILL');
    const closed = await transport.whenClosed();
    assert.ok(isKeeperError(closed.error, 'lost'), String(closed.error));
    assert.match(closed.error.message, /stopped unexpectedly/);
    await waitFor(() => !isRunning(transport.pid), 1000, 'the agent to be killed');
  });

  test('keepRunning expiry stops the agent gracefully, leaves no process, and a later window learns why and what it missed', async () => {
    const transport = await start(['--greet'], { keepRunningMs: 400 });
    const recorder = new Recorder(transport);
    await recorder.waitFor((m) => m.some((x) => x.type === 'ready'), 'ready');
    transport.send({ cmd: 'print', count: 3, delayMs: 100 });
    const lastSeq = transport.lastSeq;
    const { pid: keeperPid, cliPid } = metadataOf(transport);
    await transport.detach();
    await waitFor(() => !isRunning(keeperPid) && !isRunning(cliPid), 5000, 'the keeper and agent to stop');
    const metadata = readKeeperMetadata(keeperPaths(dir, transport.keeperId).metadata);
    assert.equal(metadata?.status, 'ended');
    assert.equal(metadata?.stop, 'idle');
    assert.deepEqual(metadata?.exit, { code: 0, signal: null }, 'stdin EOF was enough: a graceful exit');
    assert.match(metadata?.reason ?? '', /^No window was attached for 0\.4 s \(agentTasks\.keepRunningMinutes\); the agent was stopped$/);
    const listed = listKeepers(dir).find((info) => info.ref.keeperId === transport.keeperId);
    assert.equal(listed?.state, 'ended');
    assert.equal(listed?.reason, metadata?.reason);
    assert.ok(!fs.existsSync(keeperPaths(dir, transport.keeperId).socket), 'no socket once ended');

    const later = await attachKeeper(transport.ref, { lastSeq });
    const after = new Recorder(later);
    const closed = await later.whenClosed();
    assert.deepEqual(after.ofType('line').map((m) => m.n), [0, 1, 2], 'the output written before the stop');
    assert.ok(isKeeperError(closed.error, 'stopped'));
    assert.equal(closed.error.stop, 'idle');
    assert.match(closed.error.message, /No window was attached/);
    assert.equal(closed.code, 0);
    assert.deepEqual(keeperFiles(transport), [], 'read once, then removed');
  });

  test('keepRunning expiry with an agent that ignores EOF and signals ends in SIGKILL of its group', async () => {
    const transport = await start(['--greet', '--ignore-eof', '--ignore-signals'], { keepRunningMs: 200, stopGraceMs: 150 });
    await new Recorder(transport).waitFor((m) => m.some((x) => x.type === 'ready'), 'the agent to set up its signal handlers');
    const { pid: keeperPid, cliPid } = metadataOf(transport);
    await transport.detach();
    await waitFor(() => !isRunning(keeperPid) && !isRunning(cliPid), 5000, 'the keeper and agent to stop');
    const metadata = readKeeperMetadata(keeperPaths(dir, transport.keeperId).metadata);
    assert.deepEqual(metadata?.exit, { code: null, signal: 'SIGKILL' });
    assert.ok(await killKeeper(transport.ref), 'Clear removes what an ended keeper left');
    assert.deepEqual(keeperFiles(transport), []);
  });

  test('SIGTERM to the keeper (shutdown) stops the agent gracefully and records why for the next window', async () => {
    const transport = await start(['--greet']);
    const { pid: keeperPid, cliPid } = metadataOf(transport);
    await transport.detach();
    process.kill(keeperPid, 'SIGTERM');
    await waitFor(() => !isRunning(keeperPid) && !isRunning(cliPid), 5000, 'the keeper and agent to stop');
    const later = await attachKeeper(transport.ref);
    const closed = await later.whenClosed();
    assert.ok(isKeeperError(closed.error, 'stopped'));
    assert.equal(closed.error.stop, 'keeper-signal');
    assert.match(closed.error.message, /received SIGTERM/);
    assert.equal(closed.code, 0, 'stdin EOF was enough');
    assert.deepEqual(keeperFiles(transport), []);
  });

  test('an agent that finishes while no window is attached: the keeper waits, and the next window gets the output and the exit', async () => {
    const transport = await start([]);
    transport.send({ cmd: 'print', count: 5, delayMs: 100 });
    transport.send({ cmd: 'exit', code: 7, delayMs: 150 });
    const lastSeq = transport.lastSeq;
    await transport.detach();
    await waitFor(() => !isRunning(transport.pid), 3000, 'the agent to exit while detached');
    await delay(100);
    assert.equal(readKeeperMetadata(keeperPaths(dir, transport.keeperId).metadata)?.status, 'exited', 'the keeper waits for a window');
    const second = await attachKeeper(transport.ref, { lastSeq });
    const recorder = new Recorder(second);
    const closed = await second.whenClosed();
    assert.deepEqual(recorder.ofType('line').map((m) => m.n), [0, 1, 2, 3, 4]);
    assert.equal(closed.code, 7);
    assert.equal(closed.error, undefined);
    await waitFor(() => keeperFiles(transport).length === 0, 3000, 'files removed after the acknowledgement');
  });

  test('a wrong or missing token, garbage or an oversized first frame is refused: the connection closes and nothing is sent', async () => {
    const transport = await start(['--greet']);
    const socketPath = keeperPaths(dir, transport.keeperId).socket;
    const attempts: { name: string; bytes: Buffer }[] = [
      { name: 'wrong token', bytes: encodeJsonFrame(FrameType.hello, { v: 1, token: 'not-the-token', lastSeq: 0 }) },
      { name: 'missing token', bytes: encodeJsonFrame(FrameType.hello, { v: 1, lastSeq: 0 }) },
      { name: 'right token, wrong version', bytes: encodeJsonFrame(FrameType.hello, { v: 99, token: metadataOf(transport).token, lastSeq: 0 }) },
      { name: 'stdin before hello', bytes: encodeFrame(FrameType.stdin, '{"cmd":"echo"}\n') },
      { name: 'garbage', bytes: Buffer.from('GET / HTTP/1.1\r\n\r\n') },
      { name: 'oversized hello', bytes: Buffer.from([0x00, 0x10, 0x00, 0x00, FrameType.hello]) },
    ];
    for (const attempt of attempts) {
      const received = await new Promise<number>((resolve, reject) => {
        const socket = net.createConnection(socketPath);
        let bytes = 0;
        socket.on('data', (chunk) => (bytes += chunk.length));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(bytes));
        socket.on('connect', () => socket.write(attempt.bytes));
        setTimeout(() => reject(new Error(`${attempt.name}: the keeper kept the connection open`)), 6000);
      });
      assert.equal(received, 0, `${attempt.name}: nothing sent`);
    }
    // A host with a forged metadata token is refused the same way.
    const file = keeperPaths(dir, transport.keeperId).metadata;
    const original = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(original), token: 'forged' }), { mode: 0o600 });
    await assert.rejects(attachKeeper(transport.ref), (error: unknown) => isKeeperError(error, 'refused'));
    fs.writeFileSync(file, original, { mode: 0o600 });
    // The agent and the real window were not disturbed.
    const recorder = new Recorder(transport);
    transport.send({ cmd: 'echo', still: 'here' });
    await recorder.waitFor((m) => m.some((x) => x.type === 'echo'), 'echo');
    transport.kill();
    await transport.whenClosed();
  });

  test('permissions: the directory is 0700 and the socket, journal, metadata and log are 0600', async () => {
    const transport = await start([]);
    const paths = keeperPaths(dir, transport.keeperId);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.ok(fs.statSync(paths.socket).isSocket());
    for (const file of [paths.socket, paths.journal, paths.metadata, paths.log]) {
      assert.equal(fs.statSync(file).mode & 0o777, 0o600, path.basename(file));
      assert.equal(fs.statSync(file).uid, process.getuid?.());
    }
    assert.ok(Buffer.byteLength(paths.socket) < 100);
    transport.kill();
    await transport.whenClosed();
  });

  test('secrets in env reach the agent but no file, no command line and not the keeper\'s own environment', async () => {
    const secret = `sk-test-${Math.random().toString(36).slice(2)}${Date.now()}`;
    const transport = await start(['--greet'], { env: { ATW_TEST_SECRET: secret } });
    const recorder = new Recorder(transport);
    transport.send({ cmd: 'env', name: 'ATW_TEST_SECRET' });
    transport.send({ cmd: 'stderr', text: 'some stderr\n' });
    await recorder.waitFor((m) => m.some((x) => x.type === 'env'), 'env report');
    assert.deepEqual(recorder.ofType('env')[0], { type: 'env', name: 'ATW_TEST_SECRET', present: true, length: secret.length });
    await delay(100);
    const { pid: keeperPid, watchdogPid } = metadataOf(transport);
    const leaks: string[] = [];
    for (const name of fs.readdirSync(dir)) {
      const file = path.join(dir, name);
      if (fs.statSync(file).isFile() && fs.readFileSync(file).includes(secret)) leaks.push(name);
    }
    for (const pid of [keeperPid, watchdogPid]) {
      for (const what of ['cmdline', 'environ']) if (fs.readFileSync(`/proc/${pid}/${what}`).includes(secret)) leaks.push(`/proc/<${pid}>/${what}`);
    }
    assert.deepEqual(leaks, []);
    assert.ok(fs.readFileSync(`/proc/${transport.pid}/environ`).includes(secret), 'the agent itself has it');
    transport.kill();
    await transport.whenClosed();
  });

  test('an executable that does not exist rejects with CommandNotFoundError and leaves nothing behind', async () => {
    const before = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    await assert.rejects(
      startKeeper({ command: 'atw-no-such-agent-cli', args: [], cwd: root, dir, taskId: 't', provider: 'fake', keepRunningMs: 1000, keeperScript }),
      (error: Error) => error instanceof CommandNotFoundError && error.command === 'atw-no-such-agent-cli',
    );
    await delay(100);
    assert.deepEqual(fs.readdirSync(dir), before);
  });

  test('the socket stream cut at random points (host → keeper) still carries every line intact, in order', async () => {
    const transport = await start([]);
    const { token } = metadataOf(transport);
    await transport.detach();
    const socketPath = keeperPaths(dir, transport.keeperId).socket;
    let lastSeq = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'binary', maxLength: 200 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 20 }),
        async (texts, sizes) => {
          const echoes = await new Promise<string[]>((resolve, reject) => {
            const socket = net.createConnection(socketPath);
            const decoder = new FrameDecoder();
            const got: string[] = [];
            const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${texts.length} echoes`)), 5000);
            socket.on('error', reject);
            socket.on('data', (chunk) => {
              for (const frame of decoder.push(chunk)) {
                if (frame.type !== FrameType.out) continue;
                const { firstSeq, lines } = decodeLineRecord(frame.body);
                assert.ok(firstSeq > lastSeq, 'no line twice');
                lastSeq = firstSeq + lines.length - 1;
                for (const line of lines) {
                  const message = JSON.parse(line.toString('utf8')) as { type: string; text: string };
                  if (message.type === 'echo') got.push(message.text);
                }
              }
              if (got.length === texts.length) {
                clearTimeout(timer);
                socket.end(); // detach; the keeper keeps the agent
                resolve(got);
              }
            });
            socket.on('connect', async () => {
              const bytes = Buffer.concat([
                encodeJsonFrame(FrameType.hello, { v: 1, token, lastSeq }),
                ...texts.map((text) => encodeFrame(FrameType.stdin, `${JSON.stringify({ cmd: 'echo', text })}\n`)),
              ]);
              for (let at = 0, i = 0; at < bytes.length; i++) {
                const size = sizes[i % sizes.length];
                socket.write(bytes.subarray(at, at + size));
                at += size;
                if (i % 3 === 0) await delay(1);
              }
            });
          });
          // Lone surrogates become U+FFFD on the way through UTF-8, as with a direct pipe.
          assert.deepEqual(echoes, texts.map((text) => Buffer.from(text, 'utf8').toString('utf8')));
        },
      ),
      { numRuns: 25 },
    );
    assert.ok(await killKeeper(transport.ref));
  });

  test('a 3 MB line from the agent arrives intact', async () => {
    const transport = await start([]);
    const recorder = new Recorder(transport);
    transport.send({ cmd: 'print', count: 1, size: 3 * 1024 * 1024 });
    await recorder.waitFor((m) => m.some((x) => x.type === 'line'), 'the long line', 10_000);
    assert.equal((recorder.ofType('line')[0].pad as string).length, 3 * 1024 * 1024);
    transport.kill();
    await transport.whenClosed();
  });

  test('the journal is compacted once acknowledged records pile up, and replay after it is still exact', async () => {
    const transport = await start([], { compactBytes: 8 * 1024 });
    const recorder = new Recorder(transport);
    transport.send({ cmd: 'print', count: 400, size: 100 });
    await recorder.waitFor((m) => m.filter((x) => x.type === 'line').length === 400, '400 lines');
    const journal = keeperPaths(dir, transport.keeperId).journal;
    await delay(100);
    transport.send({ cmd: 'echo', poke: 1 }); // one more acknowledged record triggers the compaction
    await recorder.waitFor((m) => m.some((x) => x.type === 'echo'), 'echo');
    await waitFor(() => fs.statSync(journal).size < 8 * 1024, 3000, 'the journal to shrink');
    transport.send({ cmd: 'print', count: 50, delayMs: 150 });
    const lastSeq = transport.lastSeq;
    await transport.detach();
    await delay(300);
    const second = await attachKeeper(transport.ref, { lastSeq });
    assert.ok(second.welcome.firstSeq > 100, `acknowledged records were dropped (firstSeq ${second.welcome.firstSeq})`);
    const after = new Recorder(second);
    await after.waitFor((m) => m.filter((x) => x.type === 'line').length === 50, '50 lines');
    assert.deepEqual(after.ofType('line').map((m) => m.n), [...Array(50).keys()]);
    second.kill();
    await second.whenClosed();
  });

  test('KeeperLauncher: start, list, persist the ref as providerState, kill a detached agent (Clear)', async () => {
    const launcher = new KeeperLauncher({ dir, keeperScript });
    const transport = await launcher.start({ command: process.execPath, args: [fakeCli('agent')], cwd: root, taskId: 'calm-heron-042', provider: 'claude-cli', keepRunningMs: 60_000 });
    const metadata = metadataOf(transport);
    tracked.push(metadata.pid, metadata.cliPid, ...(metadata.watchdogPid ? [metadata.watchdogPid] : []));
    const providerState = JSON.parse(JSON.stringify({ sessionId: 's-1', keeper: transport.ref })) as Record<string, unknown>;
    assert.ok(!JSON.stringify(providerState).includes(metadata.token), 'the ref holds no token');
    await transport.detach();
    const find = () => launcher.list().find((info) => info.taskId === 'calm-heron-042');
    await waitFor(() => find()?.hostAttached === false, 2000, 'the keeper to record the detach');
    assert.equal(find()?.state, 'live');
    assert.equal(find()?.provider, 'claude-cli');
    const ref = keeperRefFrom(providerState);
    assert.deepEqual(ref, transport.ref);
    assert.ok(await launcher.kill(ref!));
    await waitFor(() => !isRunning(metadata.cliPid) && !isRunning(metadata.pid), 3000, 'the agent and keeper to end');
    assert.deepEqual(keeperFiles(transport), []);
    await assert.rejects(launcher.attach(ref!), (error: unknown) => isKeeperError(error, 'gone'));
  });
});
