// The keeper's journal (src/keeper/daemon/journal.ts) on a real file: records with sequence numbers, replay from any
// sequence number (inside a batch too), acknowledgements, and compaction of the acknowledged head.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { Journal } from '../../../src/keeper/daemon/journal';
import { decodeLineRecord, encodeExitRecord, encodeLineRecord, FrameDecoder, recordSeq } from '../../../src/keeper/framing';
import { FrameType, type Frame } from '../../../src/keeper/protocol';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-journal-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** A journal holding `batches` of output lines, numbered from 1 ("line 1", "line 2", …). */
function journalWith(...batches: number[]): Journal {
  const journal = new Journal(path.join(root, `j${++counter}.journal`));
  let n = 1;
  for (const size of batches) {
    const lines = Array.from({ length: size }, () => Buffer.from(`line ${n++}`));
    journal.append(encodeLineRecord(FrameType.out, journal.nextSeq, lines), lines.length);
  }
  return journal;
}

/** Everything a replay from `from` sends: the head (if any), then whole records to the end. */
function replay(journal: Journal, from: number): Frame[] {
  const start = journal.replayStart(from);
  const bytes: Buffer[] = start.head ? [start.head] : [];
  for (let offset = start.offset; offset < journal.size; ) {
    const chunk = journal.read(offset, 7); // small reads: frames cross chunk boundaries
    bytes.push(chunk);
    offset += chunk.length;
  }
  return new FrameDecoder().push(Buffer.concat(bytes));
}

const linesOf = (frames: Frame[]): string[] => frames.flatMap((frame) => (frame.type === FrameType.out ? decodeLineRecord(frame.body).lines.map(String) : []));

describe('the keeper journal', () => {
  test('numbers records on from 1 and writes them to its file (0600)', () => {
    const journal = journalWith(2, 3);
    assert.equal(journal.firstSeq, 1);
    assert.equal(journal.nextSeq, 6);
    assert.equal(journal.size, fs.statSync(journal.path).size);
    if (process.platform !== 'win32') assert.equal(fs.statSync(journal.path).mode & 0o777, 0o600);
    assert.throws(() => new Journal(journal.path), /EEXIST/, 'an existing journal is never reused');
    journal.close();
  });

  test('replays from any sequence number: whole records, or the tail of a batch as a record of its own', () => {
    const journal = journalWith(2, 3, 1);
    assert.deepEqual(linesOf(replay(journal, 1)), ['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6']);
    assert.deepEqual(linesOf(replay(journal, 3)), ['line 3', 'line 4', 'line 5', 'line 6']);
    const fromInside = replay(journal, 4);
    assert.deepEqual(linesOf(fromInside), ['line 4', 'line 5', 'line 6']);
    assert.equal(recordSeq(fromInside[0].body), 4, 'the tail record starts at the asked sequence number');
    assert.deepEqual(replay(journal, 7), [], 'nothing after the head');
    journal.close();
  });

  test('an exit record takes one sequence number and is replayed like the others', () => {
    const journal = journalWith(2);
    const seq = journal.nextSeq;
    journal.append(encodeExitRecord(seq, { code: 0, signal: null, stderrTail: '', stop: 'exited' }), 1);
    const frames = replay(journal, seq);
    assert.equal(frames.length, 1);
    assert.equal(frames[0].type, FrameType.exit);
    assert.equal(journal.nextSeq, seq + 1);
    journal.close();
  });

  test('acknowledgements only move forward and never past what was written', () => {
    const journal = journalWith(3);
    journal.acknowledge(2);
    journal.acknowledge(1);
    assert.equal(journal.ackedSeq, 2);
    journal.acknowledge(99);
    assert.equal(journal.ackedSeq, 3);
    journal.close();
  });

  test('compaction drops whole acknowledged records once they take enough bytes, and replay stays exact', () => {
    const journal = journalWith(2, 2, 2);
    const before = journal.size;
    journal.acknowledge(3); // inside the second record: only the first one may go
    journal.compact(before); // not worth it yet
    assert.equal(journal.size, before);
    journal.compact(1);
    assert.equal(journal.firstSeq, 3);
    assert.ok(journal.size < before);
    assert.equal(fs.statSync(journal.path).size, journal.size);
    assert.ok(!fs.existsSync(`${journal.path}.tmp`));
    assert.deepEqual(linesOf(replay(journal, 3)), ['line 3', 'line 4', 'line 5', 'line 6']);
    assert.deepEqual(linesOf(replay(journal, 4)), ['line 4', 'line 5', 'line 6']);
    // Appending after a compaction goes on from the same sequence numbers.
    journal.append(encodeLineRecord(FrameType.out, journal.nextSeq, [Buffer.from('line 7')]), 1);
    assert.deepEqual(linesOf(replay(journal, 6)), ['line 6', 'line 7']);
    journal.acknowledge(7);
    journal.compact(1);
    assert.equal(journal.size, 0);
    assert.equal(journal.firstSeq, 8);
    journal.close();
  });
});
