import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encodeJsonLine, LineDecoder, LineTooLongError, MAX_JSONL_LINE_BYTES, parseJsonLine } from '../../../src/platform/jsonl';
import { CommandNotFoundError, ProcessTransport } from '../../../src/providers/transport/process-transport';
import { mergeEnv } from '../../../src/platform/process';
import type { TransportClosed } from '../../../src/providers/transport/transport';

/** Feeds `bytes` to a decoder cut at `cuts` (byte offsets) and returns every line it produced. */
function decodeInChunks(bytes: Buffer, cuts: number[]): string[] {
  const decoder = new LineDecoder();
  const lines: string[] = [];
  let start = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= start || cut >= bytes.length) continue;
    // A fresh Uint8Array copy: the decoder must not depend on the caller keeping its buffer.
    lines.push(...decoder.push(new Uint8Array(bytes.subarray(start, cut))));
    start = cut;
  }
  lines.push(...decoder.push(bytes.subarray(start)));
  assert.equal(decoder.end(), undefined, 'nothing left over after the last newline');
  return lines;
}

describe('LineDecoder', () => {
  test('any list of JSON messages, split at any byte positions (inside multi-byte UTF-8 too), yields exactly the messages', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (messages, rawCuts) => {
          const bytes = Buffer.from(messages.map(encodeJsonLine).join(''), 'utf8');
          const cuts = rawCuts.map((n) => (bytes.length ? n % bytes.length : 0));
          const lines = decodeInChunks(bytes, cuts);
          assert.deepEqual(lines.map((line) => JSON.parse(line)), messages.map((m) => JSON.parse(JSON.stringify(m))));
        },
      ),
      { numRuns: 500 },
    );
  });

  test('multi-byte characters split byte by byte decode whole', () => {
    const text = '{"text":"héllo ✓ 日本語 🎉 👩‍👩‍👧"}\n';
    const bytes = Buffer.from(text, 'utf8');
    const every = Array.from({ length: bytes.length }, (_, i) => i);
    assert.deepEqual(decodeInChunks(bytes, every), [text.slice(0, -1)]);
  });

  test('a Uint8Array view into a larger buffer is read from its own offset', () => {
    const backing = Buffer.from('XXXX{"a":1}\n{"b":YYYY');
    const decoder = new LineDecoder();
    const lines = decoder.push(new Uint8Array(backing.buffer, backing.byteOffset + 4, 13));
    assert.deepEqual(lines, ['{"a":1}']);
    assert.equal(decoder.end(), '{"b":');
  });

  test('a line without a newline is kept until the end of the stream', () => {
    const decoder = new LineDecoder();
    assert.deepEqual(decoder.push(Buffer.from('{"a":')), []);
    assert.equal(decoder.bufferedBytes, 5);
    assert.deepEqual(decoder.push(Buffer.from('1}')), []);
    assert.equal(decoder.end(), '{"a":1}');
    assert.equal(decoder.end(), undefined);
  });

  test('a 10 MB line arriving in 64 KB chunks comes out whole', () => {
    const big = { kind: 'file', content: 'x'.repeat(10 * 1024 * 1024), tail: 'ü' };
    const bytes = Buffer.from(encodeJsonLine(big) + encodeJsonLine({ after: true }));
    const decoder = new LineDecoder();
    const lines: string[] = [];
    for (let offset = 0; offset < bytes.length; offset += 64 * 1024) lines.push(...decoder.push(bytes.subarray(offset, offset + 64 * 1024)));
    assert.equal(lines.length, 2);
    assert.deepEqual(JSON.parse(lines[0]), big);
    assert.deepEqual(JSON.parse(lines[1]), { after: true });
  });

  test('invalid UTF-8 does not throw, and the next lines still parse', () => {
    const decoder = new LineDecoder();
    const lines = [
      ...decoder.push(Buffer.from([0xff, 0xfe, 0xc3, 0x0a])),
      ...decoder.push(Buffer.from([0xe2, 0x82])),
      ...decoder.push(Buffer.from('\n{"ok":1}\n')),
    ];
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^\uFFFD+$/);
    assert.match(lines[1], /^\uFFFD+$/);
    assert.deepEqual(JSON.parse(lines[2]), { ok: 1 });
  });

  test('CRLF line endings are stripped, also when CR and LF arrive in different chunks', () => {
    const decoder = new LineDecoder();
    const lines = [...decoder.push(Buffer.from('{"a":1}\r\n{"b":2}\r')), ...decoder.push(Buffer.from('\n\r\n'))];
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '']);
  });

  test('parseJsonLine reports a malformed line with the raw text', () => {
    assert.deepEqual(parseJsonLine('{"a":[1,2]}'), { ok: true, value: { a: [1, 2] } });
    const bad = parseJsonLine('{"a":');
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && bad.raw === '{"a":' && bad.error instanceof SyntaxError);
  });

  test('encodeJsonLine never puts a raw newline inside a message', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (value) => {
        const line = encodeJsonLine(value);
        assert.equal(line.indexOf('\n'), line.length - 1);
      }),
    );
  });
});

/** A child that echoes each stdin line back on stdout; "bad" makes it print a malformed line first. */
const ECHO = `
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line === '{"cmd":"bad"}') process.stdout.write('this is { not json\\n');
  process.stdout.write(line + '\\n');
});
rl.on('close', () => process.exit(0));
`;

/** A child that starts a grandchild (sleep 60) in its process group, reports both pids, and then waits. */
const SPAWNER = `
const { spawn } = require('node:child_process');
const grandchild = spawn('sleep', ['60'], { stdio: 'ignore' });
process.stdout.write(JSON.stringify({ child: process.pid, grandchild: grandchild.pid }) + '\\n');
setInterval(() => {}, 1000);
`;

function nextMessage(transport: ProcessTransport): Promise<unknown> {
  return new Promise((resolve) => {
    const subscription = transport.onMessage((message) => {
      subscription.dispose();
      resolve(message);
    });
  });
}

/** True while the process exists and is not a zombie (an unreaped, already dead process). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('ProcessTransport with a real child', () => {
  test('messages round trip through the child', async () => {
    const transport = new ProcessTransport({ command: process.execPath, args: ['-e', ECHO], cwd: process.cwd() });
    const received: unknown[] = [];
    transport.onMessage((message) => received.push(message));
    const messages = [{ id: 1, method: 'hello', params: { text: 'héllo ✓ 🎉' } }, [1, 2, 3], 'a string', null, { big: 'y'.repeat(200_000) }];
    for (const message of messages) transport.send(message);
    await waitUntil(() => received.length === messages.length, 'the echoes');
    assert.deepEqual(received, messages);
    assert.ok(typeof transport.pid === 'number');
    const closed = await transport.close(2_000);
    assert.equal(closed.code, 0);
    assert.ok(transport.closed);
    assert.throws(() => transport.send({ late: true }), /has exited/);
  });

  test('a malformed line fires onMalformed and the stream continues', async () => {
    const transport = new ProcessTransport({ command: process.execPath, args: ['-e', ECHO], cwd: process.cwd() });
    const malformed: string[] = [];
    const received: unknown[] = [];
    transport.onMalformed(({ raw, error }) => {
      assert.ok(error instanceof Error);
      malformed.push(raw);
    });
    transport.onMessage((message) => received.push(message));
    transport.send({ cmd: 'bad' });
    transport.sendRaw('also { broken\n');
    transport.send({ cmd: 'after' });
    await waitUntil(() => received.length === 2, 'the messages around the bad lines');
    assert.deepEqual(malformed, ['this is { not json', 'also { broken']);
    assert.deepEqual(received, [{ cmd: 'bad' }, { cmd: 'after' }]);
    await transport.close(2_000);
  });

  test('stderr is passed on and its tail kept for the close report', async () => {
    const chunks: string[] = [];
    const transport = new ProcessTransport({
      command: process.execPath,
      args: ['-e', 'process.stderr.write("boom: " + process.env.AGENT_TOKEN); process.exit(3)'],
      cwd: process.cwd(),
      env: { AGENT_TOKEN: 'from-profile' },
      onStderr: (text) => chunks.push(text),
    });
    const closed = await transport.whenClosed();
    assert.equal(closed.code, 3);
    assert.equal(closed.stderrTail, 'boom: from-profile');
    assert.equal(chunks.join(''), 'boom: from-profile');
  });

  test('spawning a missing command reports CommandNotFoundError through onClose', async () => {
    const transport = new ProcessTransport({ command: 'definitely-not-an-agent-cli-4242', args: [], cwd: process.cwd() });
    const closed = await new Promise<TransportClosed>((resolve) => transport.onClose(resolve));
    assert.ok(closed.error instanceof CommandNotFoundError, String(closed.error));
    assert.equal((closed.error as CommandNotFoundError).command, 'definitely-not-an-agent-cli-4242');
    assert.match(closed.error!.message, /"definitely-not-an-agent-cli-4242" was not found/);
    assert.deepEqual(await transport.whenClosed(), closed);
  });

  test('kill() ends the whole process tree: the child and the grandchild it spawned', async () => {
    const transport = new ProcessTransport({ command: process.execPath, args: ['-e', SPAWNER], cwd: process.cwd() });
    const { child, grandchild } = (await nextMessage(transport)) as { child: number; grandchild: number };
    assert.equal(child, transport.pid);
    assert.ok(isAlive(child) && isAlive(grandchild), 'both run before the kill');
    transport.kill();
    const closed = await transport.whenClosed();
    assert.equal(closed.signal, 'SIGKILL');
    await waitUntil(() => !isAlive(child) && !isAlive(grandchild), 'both processes to be gone');
  });

  test('mergeEnv: the profile env wins, undefined removes a variable', () => {
    const env = mergeEnv({ PATH: '/bin', HOME: '/home/me', SECRET: 'old' }, { SECRET: 'new', HOME: undefined });
    assert.deepEqual(env, { PATH: '/bin', SECRET: 'new' });
  });
});

describe('L1: line caps', () => {
  test('L1 LineDecoder refuses a line over its cap instead of buffering it without bound', () => {
    assert.equal(MAX_JSONL_LINE_BYTES, 16 * 1024 * 1024);
    const decoder = new LineDecoder(1024);
    assert.deepEqual(decoder.push(Buffer.from(`${'a'.repeat(1024)}\n`)), ['a'.repeat(1024)], 'a line at the cap is fine');
    decoder.push(Buffer.alloc(600, 0x61));
    assert.throws(() => decoder.push(Buffer.alloc(600, 0x61)), (error: unknown) => error instanceof LineTooLongError && /longer than 1024 bytes/.test((error as Error).message));
    assert.equal(decoder.bufferedBytes, 0, 'what it held is dropped');
    // A complete line over the cap in one chunk is refused too.
    assert.throws(() => new LineDecoder(10).push(Buffer.from(`${'b'.repeat(11)}\n`)), LineTooLongError);
    // The default cap: 17 MiB without a newline never sits in memory.
    const big = new LineDecoder();
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    assert.throws(() => {
      for (let i = 0; i < 17; i++) big.push(chunk);
    }, LineTooLongError);
    assert.equal(big.bufferedBytes, 0);
  });

  test('L1 an agent that sends a line over 16 MiB is stopped and its transport closes with a clear error', async () => {
    // The child writes 20 MiB without a newline, then waits: only the cap ends it.
    const script = "const c = Buffer.alloc(1024 * 1024, 97); let n = 0; const go = () => { while (n < 20) { n++; if (!process.stdout.write(c)) return process.stdout.once('drain', go); } }; go(); setInterval(() => {}, 1000);";
    const transport = new ProcessTransport({ command: process.execPath, args: ['-e', script], cwd: process.cwd() });
    const malformed: string[] = [];
    transport.onMalformed(({ raw }) => malformed.push(raw));
    const closed = await Promise.race([
      transport.whenClosed(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the agent was not stopped')), 20_000)),
    ]);
    assert.match(closed.error?.message ?? '', /The agent was stopped: it sent a line longer than 16 MiB/);
    assert.equal(closed.signal, 'SIGKILL');
    assert.deepEqual(malformed, [], 'no partial line is passed on');
  });
});
