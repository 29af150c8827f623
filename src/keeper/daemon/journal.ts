// The keeper's journal: every record (agent output, host input, the exit) in one file, in the socket's framing, each
// with the sequence number of its first line; an index to replay from any sequence number; and compaction of the head
// the host acknowledged.
import * as fs from 'node:fs';
import { encodeLineRecord, forEachRecordLine } from '../framing';

/** How much of the journal is read at once, replaying or compacting. */
export const JOURNAL_CHUNK_BYTES = 1024 * 1024;

export class Journal {
  private fd: number;
  private bytes = 0;
  /** The journal offset and first sequence number of every record, in order (the replay index). */
  private recordStarts: number[] = [];
  private recordSeqs: number[] = [];
  /** The first sequence number still in the journal. */
  firstSeq = 1;
  /** The sequence number the next record starts with. */
  nextSeq = 1;
  /** The last sequence number the host acknowledged. */
  ackedSeq = 0;

  /** Creates the journal file (0600); it must not exist. */
  constructor(readonly path: string) {
    this.fd = fs.openSync(path, 'wx+', 0o600);
  }

  /** The journal's length in bytes. */
  get size(): number {
    return this.bytes;
  }

  /** Appends a record (whole, or as parts written one after the other) holding `count` sequence numbers from nextSeq. */
  append(record: Buffer | readonly Buffer[], count: number): void {
    const base = this.bytes;
    this.recordStarts.push(base);
    this.recordSeqs.push(this.nextSeq);
    this.bytes += Buffer.isBuffer(record) ? writeFully(this.fd, record, base) : writeAllFully(this.fd, record, base);
    this.nextSeq += count;
  }

  /** The host has everything up to `seq` (never past what was written). */
  acknowledge(seq: number): void {
    if (seq > this.ackedSeq) this.ackedSeq = Math.min(seq, this.nextSeq - 1);
  }

  /**
   * Where a replay from sequence number `from` starts: the offset of the first whole record to send, and, when
   * `from` is inside a batch, the tail of that batch as a record of its own (`head`), to send first.
   */
  replayStart(from: number): { offset: number; head?: Buffer } {
    if (from >= this.nextSeq) return { offset: this.bytes };
    const index = this.recordIndexOf(from);
    const offset = this.recordStarts[index];
    if (this.recordSeqs[index] >= from) return { offset };
    const end = this.recordStarts[index + 1] ?? this.bytes;
    return { offset: end, head: this.tailOfRecord(offset, end, from) };
  }

  /** Up to `max` bytes of the journal from `offset`. */
  read(offset: number, max = JOURNAL_CHUNK_BYTES): Buffer {
    const buffer = Buffer.allocUnsafe(Math.min(max, this.bytes - offset));
    const read = fs.readSync(this.fd, buffer, 0, buffer.length, offset);
    if (read <= 0) throw new Error(`the journal ended at ${offset} of ${this.bytes} bytes`);
    return read === buffer.length ? buffer : buffer.subarray(0, read);
  }

  /**
   * Drops acknowledged records from the head of the journal (at a record boundary) once they take `minBytes`:
   * the rest is copied to a new file that replaces the journal.
   */
  compact(minBytes: number): void {
    const cutSeq = this.ackedSeq + 1;
    if (cutSeq <= this.firstSeq) return;
    const index = cutSeq < this.nextSeq ? this.recordIndexOf(cutSeq) : this.recordStarts.length;
    const cut = this.recordStarts[index] ?? this.bytes;
    if (cut < minBytes) return;
    const tmp = `${this.path}.tmp`;
    const fd = fs.openSync(tmp, 'w+', 0o600);
    const buffer = Buffer.allocUnsafe(JOURNAL_CHUNK_BYTES);
    for (let from = cut; from < this.bytes; ) {
      const read = fs.readSync(this.fd, buffer, 0, Math.min(buffer.length, this.bytes - from), from);
      writeFully(fd, buffer.subarray(0, read), from - cut);
      from += read;
    }
    fs.renameSync(tmp, this.path);
    fs.closeSync(this.fd);
    this.fd = fd;
    this.recordStarts = this.recordStarts.slice(index).map((offset) => offset - cut);
    this.recordSeqs = this.recordSeqs.slice(index);
    this.bytes -= cut;
    this.firstSeq = this.recordSeqs[0] ?? this.nextSeq;
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed.
    }
  }

  /** The index of the record holding sequence number `seq` (the last record starting at or before it). */
  private recordIndexOf(seq: number): number {
    let low = 0;
    let high = this.recordSeqs.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.recordSeqs[middle] <= seq) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** The lines from `seq` on of the line record at journal bytes [start, end), as a record of their own. */
  private tailOfRecord(start: number, end: number, seq: number): Buffer {
    const frame = Buffer.allocUnsafe(end - start);
    fs.readSync(this.fd, frame, 0, frame.length, start);
    const lines: Buffer[] = [];
    forEachRecordLine(frame, 5, frame.length, (lineSeq, _buffer, from, to) => {
      if (lineSeq >= seq) lines.push(frame.subarray(from, to));
    });
    return encodeLineRecord(frame[4], seq, lines);
  }
}

/** Writes `bytes` at `position`; returns their length. */
function writeFully(fd: number, bytes: Buffer, position: number): number {
  let written = 0;
  while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written, position + written);
  return written;
}

/** Writes `parts` one after the other at `position` in one system call (the rest, if it stops short); returns their length. */
function writeAllFully(fd: number, parts: readonly Buffer[], position: number): number {
  let total = 0;
  for (const part of parts) total += part.length;
  const written = fs.writevSync(fd, parts as Buffer[], position);
  if (written < total) writeFully(fd, Buffer.concat(parts, total).subarray(written), position + written);
  return total;
}
