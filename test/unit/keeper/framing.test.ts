/**
 * The keeper's framing and helpers, without processes: frames survive any chunking, records carry any bytes
 * (invalid UTF-8, long lines) unchanged, lines decode exactly as ProcessTransport decodes them, and the socket
 * directory stays short and private.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { LineDecoder } from '../../../src/platform/jsonl';
import { ensurePrivateDir, privateDirFor } from '../../../src/platform/private-dir';
import { isSameProcess, processStartTime } from '../../../src/platform/process';
import {
  ByteLineSplitter,
  decodeAck,
  decodeLineRecord,
  decodeLineText,
  encodeAck,
  encodeExitRecord,
  encodeFrame,
  encodeLineRecord,
  FrameDecoder,
  FrameError,
  forEachRecordLine,
  forEachRecordText,
  LineBatcher,
  recordSeq,
  type RecordParts,
} from '../../../src/keeper/framing';
import { FrameType, MAX_HELLO_BYTES, type Frame, type KeeperMetadata } from '../../../src/keeper/protocol';
import { keeperPaths, MAX_SOCKET_PATH_BYTES, readKeeperMetadata, writeKeeperMetadata } from '../../../src/keeper/files';

/** Cuts `bytes` at `cuts` and feeds the pieces (fresh copies) to `push`. */
function feedInChunks<T>(bytes: Buffer, cuts: number[], push: (chunk: Buffer) => T[]): T[] {
  const out: T[] = [];
  let start = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= start || cut >= bytes.length) continue;
    out.push(...push(Buffer.from(bytes.subarray(start, cut))));
    start = cut;
  }
  out.push(...push(Buffer.from(bytes.subarray(start))));
  return out;
}

const copyFrame = (frame: Frame): Frame => ({ type: frame.type, body: Buffer.from(frame.body) });

/** Bytes of a line: anything but a newline. */
const arbitraryLine = fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes.map((b) => (b === 0x0a ? 0x0b : b))));
const MAX_SEQ = 2 ** 48 - 1;

const arbitraryFrame = fc.oneof(
  fc.record({ type: fc.constantFrom(FrameType.stdin, FrameType.stderr, FrameType.welcome, FrameType.bye), body: fc.uint8Array({ maxLength: 300 }) }).map(({ type, body }) => encodeFrame(type, Buffer.from(body))),
  fc.record({ type: fc.constantFrom(FrameType.out, FrameType.in), seq: fc.integer({ min: 0, max: MAX_SEQ - 10 }), lines: fc.array(arbitraryLine, { minLength: 1, maxLength: 5 }) }).map(
    ({ type, seq, lines }) => encodeLineRecord(type, seq, lines),
  ),
  fc.integer({ min: 0, max: MAX_SEQ }).map((seq) => encodeExitRecord(seq, { code: 0, signal: null, stderrTail: 'é', stop: 'exited' })),
  fc.integer({ min: 0, max: MAX_SEQ }).map((seq) => encodeAck(seq)),
);

describe('keeper framing', () => {
  test('any sequence of frames, cut at any byte positions, decodes to the same frames', () => {
    fc.assert(
      fc.property(fc.array(arbitraryFrame, { maxLength: 25 }), fc.array(fc.nat(), { maxLength: 60 }), (encoded, rawCuts) => {
        const bytes = Buffer.concat(encoded);
        const cuts = rawCuts.map((n) => (bytes.length ? n % bytes.length : 0));
        const whole = new FrameDecoder().push(Buffer.from(bytes)).map(copyFrame);
        for (const frame of whole) if (frame.type === FrameType.out || frame.type === FrameType.exit) assert.ok(recordSeq(frame.body) >= 0);
        const decoder = new FrameDecoder();
        const chunked = feedInChunks(bytes, cuts, (chunk) => decoder.push(chunk).map(copyFrame));
        assert.deepEqual(chunked, whole);
        assert.equal(decoder.bufferedBytes, 0);
        // Re-encoding what was decoded gives the original bytes back.
        assert.deepEqual(Buffer.concat(whole.map((frame) => encodeFrame(frame.type, frame.body))), bytes);
      }),
      { numRuns: 500 },
    );
  });

  test('line records carry their first sequence number and any bytes (invalid UTF-8, NUL, CR) unchanged', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.array(arbitraryLine, { minLength: 1, maxLength: 20 }), (first, lines) => {
        const [frame] = new FrameDecoder().push(encodeLineRecord(FrameType.out, first, lines));
        assert.equal(frame.type, FrameType.out);
        assert.deepEqual(decodeLineRecord(frame.body), { firstSeq: first, lines });
      }),
      { numRuns: 300 },
    );
  });

  test('a multi-megabyte line crosses in many chunks intact', () => {
    const line = Buffer.alloc(5 * 1024 * 1024 + 3, 0x61);
    line[1000] = 0xff; // invalid UTF-8 in the middle
    const bytes = encodeLineRecord(FrameType.out, 7, [line]);
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    for (let at = 0; at < bytes.length; at += 65536) frames.push(...decoder.push(bytes.subarray(at, at + 65536)));
    assert.equal(frames.length, 1);
    const { firstSeq, lines } = decodeLineRecord(frames[0].body);
    assert.equal(firstSeq, 7);
    assert.equal(lines.length, 1);
    assert.ok(lines[0].equals(line));
  });

  test('a length of 0 or above the limit is a protocol error (an unauthenticated peer cannot make the keeper buffer much)', () => {
    assert.throws(() => new FrameDecoder().push(Buffer.from([0, 0, 0, 0, 1])), FrameError);
    const hello = new FrameDecoder(MAX_HELLO_BYTES);
    assert.throws(() => hello.push(Buffer.from([0, 0, 0x10, 0x01])), FrameError, 'the header alone is enough to refuse');
    assert.throws(() => new FrameDecoder().push(Buffer.from([0xff, 0xff, 0xff, 0xff])), FrameError);
  });

  test('acks round-trip 48-bit sequence numbers', () => {
    for (const seq of [0, 1, 255, 65536, 2 ** 32 + 5, 2 ** 48 - 1]) {
      const [frame] = new FrameDecoder().push(encodeAck(seq));
      assert.equal(frame.type, FrameType.ack);
      assert.equal(decodeAck(frame.body), seq);
    }
  });
});

describe('keeper line handling', () => {
  test('the byte splitter yields the same lines as splitting the whole stream, for any chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 40 }), (raw, rawCuts) => {
        const bytes = Buffer.from(raw.map((b) => (b % 7 === 0 ? 0x0a : b)));
        const cuts = rawCuts.map((n) => (bytes.length ? n % bytes.length : 0));
        const splitter = new ByteLineSplitter();
        const lines = feedInChunks(bytes, cuts, (chunk) => splitter.push(chunk).map((line) => Buffer.from(line)));
        const rest = splitter.end();
        const expected = [];
        let start = 0;
        for (let index = bytes.indexOf(0x0a); index !== -1; index = bytes.indexOf(0x0a, start)) {
          expected.push(bytes.subarray(start, index));
          start = index + 1;
        }
        assert.deepEqual(lines, expected);
        assert.deepEqual(rest, start < bytes.length ? bytes.subarray(start) : undefined);
      }),
      { numRuns: 500 },
    );
  });

  test('a line longer than the limit is cut, never held without bound', () => {
    const splitter = new ByteLineSplitter(10);
    const lines = [...splitter.push(Buffer.from('0123456789abcdefghij')), ...splitter.push(Buffer.from('XY\n'))];
    assert.deepEqual(lines.map(String), ['0123456789', 'abcdefghij', 'XY']);
  });

  test('the batcher frames the same lines as the splitter, numbered without a gap, for any chunking and line limit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 40 }), fc.constantFrom(8, 64, 1 << 20), fc.integer({ min: 1, max: 1000 }), (raw, rawCuts, maxLine, firstSeq) => {
        const bytes = Buffer.from(raw.map((b) => (b % 9 === 0 ? 0x0a : b)));
        const cuts = rawCuts.map((n) => (bytes.length ? n % bytes.length : 0));
        const batcher = new LineBatcher(FrameType.out, maxLine);
        let seq = firstSeq;
        const lines: Buffer[] = [];
        const take = (batch: RecordParts | undefined) => {
          if (!batch) return [];
          const [frame] = new FrameDecoder().push(Buffer.concat(batch.parts));
          const decoded = decodeLineRecord(frame.body);
          assert.equal(decoded.firstSeq, seq, 'numbered on from the last record');
          assert.equal(decoded.lines.length, batch.count);
          seq += batch.count;
          lines.push(...decoded.lines);
          return [];
        };
        feedInChunks(bytes, cuts, (chunk) => take(batcher.push(chunk, seq)));
        take(batcher.end(seq));
        const splitter = new ByteLineSplitter(maxLine);
        const expected: Buffer[] = splitter.push(Buffer.from(bytes)).map((line) => Buffer.from(line));
        const rest = splitter.end();
        if (rest) expected.push(rest);
        assert.deepEqual(lines, expected);
      }),
      { numRuns: 500 },
    );
  });

  test('a line decodes to exactly what ProcessTransport (LineDecoder) makes of the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (raw) => {
        const bytes = Buffer.from(raw.filter((b) => b !== 0x0a));
        const viaLineDecoder = new LineDecoder().push(Buffer.concat([bytes, Buffer.from('\n')]));
        assert.deepEqual([decodeLineText(bytes)], viaLineDecoder);
        // Inside a larger buffer, by range, as the transport decodes it.
        const framed = Buffer.concat([Buffer.from('ab'), bytes, Buffer.from('\ncd')]);
        assert.deepEqual([decodeLineText(framed, 2, 2 + bytes.length)], viaLineDecoder);
      }),
      { numRuns: 500 },
    );
  });
});

describe('keeper record text', () => {
  test('a record decoded once and split gives the lines decodeLineText gives one by one (any bytes, CR, invalid UTF-8)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.uint8Array({ maxLength: 600 }), (first, raw) => {
        // Newlines, CRs and bytes that start or cut multi-byte sequences, often.
        const bytes = Buffer.from(raw.map((b) => (b % 11 === 0 ? 0x0a : b % 13 === 0 ? 0x0d : b % 5 === 0 ? 0xe2 : b)));
        const [frame] = new FrameDecoder().push(encodeLineRecord(FrameType.out, first, [bytes]));
        const body = frame.body;
        const expected: Array<[number, string]> = [];
        const lineCount = forEachRecordLine(body, 0, body.length, (seq, buffer, from, to) => expected.push([seq, decodeLineText(buffer, from, to)]));
        const actual: Array<[number, string]> = [];
        assert.equal(forEachRecordText(body, 0, body.length, (seq, text) => actual.push([seq, text])), lineCount);
        assert.deepEqual(actual, expected);
      }),
      { numRuns: 500 },
    );
  });

  test('a body without a last newline still ends with its last line; an empty body has none', () => {
    const body = encodeLineRecord(FrameType.out, 5, [Buffer.from('a\r\nb')]).subarray(5, -1);
    const lines: string[] = [];
    assert.equal(forEachRecordText(body, 0, body.length, (_seq, text) => lines.push(text)), 2);
    assert.deepEqual(lines, ['a', 'b']);
    const empty = encodeLineRecord(FrameType.out, 5, []).subarray(5);
    assert.equal(forEachRecordText(empty, 0, empty.length, () => assert.fail('no line')), 0);
  });
});

describe('keeper files and processes', () => {
  test('the socket directory is short, per workspace and per user, and the socket path fits a Unix socket', () => {
    const long = `/home/someone/${'very-long-folder-name/'.repeat(20)}project`;
    const dir = privateDirFor(long, 1000);
    assert.match(path.basename(dir), /^atw-[0-9a-f]{8}$/);
    assert.equal(privateDirFor(long, 1000), dir, 'stable');
    assert.notEqual(privateDirFor(long, 1001), dir, 'another user gets another directory');
    assert.notEqual(privateDirFor(`${long}2`, 1000), dir, 'another workspace gets another directory');
    assert.ok(Buffer.byteLength(keeperPaths(dir, 'abcdef012345').socket) < MAX_SOCKET_PATH_BYTES);
    // A long TMPDIR falls back to /tmp rather than overflowing sun_path.
    const fallback = privateDirFor(long, 1000, `/${'t'.repeat(80)}`);
    assert.ok(fallback.startsWith('/tmp/atw-'), fallback);
    assert.ok(Buffer.byteLength(keeperPaths(fallback, 'abcdef012345').journal) < MAX_SOCKET_PATH_BYTES);
  });

  test('ensurePrivateDir makes the directory 0700 and tightens a loose one', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atwk-dir-'));
    try {
      const dir = path.join(root, 'sockets');
      ensurePrivateDir(dir);
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
      fs.chmodSync(dir, 0o755);
      ensurePrivateDir(dir);
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
      const link = path.join(root, 'link');
      fs.symlinkSync(dir, link);
      assert.throws(() => ensurePrivateDir(link), /not a directory/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('metadata is written atomically with mode 0600 and read back; junk is ignored', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atwk-meta-'));
    try {
      const file = path.join(root, 'k-abcdef012345.json');
      const metadata: KeeperMetadata = {
        version: 1, id: 'abcdef012345', taskId: 't', provider: 'p', command: 'c', pid: 1, cliPid: 2, socketPath: 's', journalPath: 'j',
        token: 'x', keepRunningMs: 1, createdAt: 1, updatedAt: 1, status: 'running', hostAttached: false,
      };
      writeKeeperMetadata(file, metadata);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(readKeeperMetadata(file), metadata);
      assert.deepEqual(fs.readdirSync(root), ['k-abcdef012345.json'], 'no temporary file left');
      fs.writeFileSync(file, '{"version":1,"id":"../../etc"}');
      assert.equal(readKeeperMetadata(file), undefined);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('a pid is only "the same process" with its own start time, and never once it is gone', () => {
    const start = processStartTime(process.pid);
    assert.ok(start);
    assert.ok(isSameProcess(process.pid, start));
    assert.ok(!isSameProcess(process.pid, `${start}1`), 'a reused pid has another start time');
    assert.ok(!isSameProcess(2 ** 22 + 12345, undefined));
    assert.ok(!isSameProcess(undefined, undefined));
  });
});
