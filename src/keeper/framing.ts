// The binary framing of the keeper socket, also the journal's file format (see protocol.ts for the layout), and the
// byte-level line splitting and batching both ends share.
import { FrameType, MAX_FRAME_BYTES, MAX_LINE_BYTES, type Frame, type KeeperExit } from './protocol';

const HEADER_BYTES = 5;
const SEQ_BYTES = 6;
export const RECORD_HEADER_BYTES = HEADER_BYTES + SEQ_BYTES;

export function encodeFrame(type: number, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + bytes.length);
  frame.writeUInt32BE(bytes.length + 1, 0);
  frame[4] = type;
  bytes.copy(frame, HEADER_BYTES);
  return frame;
}

export function encodeJsonFrame(type: number, value: unknown): Buffer {
  return encodeFrame(type, JSON.stringify(value));
}

/** Writes a 48-bit sequence number (faster than writeUIntBE on the hot path). */
export function writeSeq(buffer: Buffer, seq: number, offset: number): void {
  buffer.writeUInt16BE(Math.floor(seq / 0x100000000), offset);
  buffer.writeUInt32BE(seq >>> 0, offset + 2);
}

export function readSeq(buffer: Buffer, offset: number): number {
  return buffer.readUInt16BE(offset) * 0x100000000 + buffer.readUInt32BE(offset + 2);
}

export function encodeAck(seq: number): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + SEQ_BYTES);
  frame.writeUInt32BE(SEQ_BYTES + 1, 0);
  frame[4] = FrameType.ack;
  writeSeq(frame, seq, HEADER_BYTES);
  return frame;
}

/** A line record: `lines` numbered from `firstSeq`, each followed by \n. */
export function encodeLineRecord(type: number, firstSeq: number, lines: readonly Buffer[]): Buffer {
  let total = RECORD_HEADER_BYTES;
  for (const line of lines) total += line.length + 1;
  const out = Buffer.allocUnsafe(total);
  writeRecordHeader(out, 0, total, type, firstSeq);
  let at = RECORD_HEADER_BYTES;
  for (const line of lines) {
    at += line.copy(out, at);
    out[at++] = NEWLINE;
  }
  return out;
}

/** The exit record: its sequence number and the JSON of a KeeperExit. */
export function encodeExitRecord(seq: number, exit: KeeperExit): Buffer {
  const json = Buffer.from(JSON.stringify(exit), 'utf8');
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + json.length);
  writeRecordHeader(out, 0, out.length, FrameType.exit, seq);
  json.copy(out, RECORD_HEADER_BYTES);
  return out;
}

function writeRecordHeader(out: Buffer, at: number, frameBytes: number, type: number, seq: number): void {
  out.writeUInt32BE(frameBytes - 4, at);
  out[at + 4] = type;
  writeSeq(out, seq, at + HEADER_BYTES);
}

export function isRecordType(type: number): boolean {
  return type === FrameType.out || type === FrameType.in || type === FrameType.exit;
}

/** The sequence number a record's body starts with. */
export function recordSeq(body: Buffer, start = 0, end = body.length): number {
  if (end - start < SEQ_BYTES) throw new FrameError(`record of ${end - start} bytes has no sequence number`);
  return readSeq(body, start);
}

/**
 * Visits the lines of a line record whose body is `buffer[start, end)`: each line's sequence number and byte range
 * (without its \n). Returns the number of lines.
 */
export function forEachRecordLine(buffer: Buffer, start: number, end: number, visit: (seq: number, buffer: Buffer, lineStart: number, lineEnd: number) => void): number {
  let seq = recordSeq(buffer, start, end);
  let count = 0;
  for (let at = start + SEQ_BYTES; at < end; count++) {
    let newline = buffer.indexOf(NEWLINE, at);
    if (newline === -1 || newline >= end) newline = end; // a keeper always ends lines; stay safe anyway
    visit(seq++, buffer, at, newline);
    at = newline + 1;
  }
  return count;
}

/**
 * Visits the lines of a line record whose body is `buffer[start, end)` as text, each as decodeLineText decodes it:
 * the body is decoded once and split, which gives the same strings (a newline is ASCII, so no UTF-8 sequence, valid or
 * not, spans one) without a decoder call per line. Returns the number of lines.
 */
export function forEachRecordText(buffer: Buffer, start: number, end: number, visit: (seq: number, text: string) => void): number {
  let seq = recordSeq(buffer, start, end);
  const text = buffer.toString('utf8', start + SEQ_BYTES, end);
  let count = 0;
  for (let at = 0; at < text.length; count++) {
    let newline = text.indexOf('\n', at);
    if (newline === -1) newline = text.length;
    visit(seq++, text.slice(at, newline > at && text.charCodeAt(newline - 1) === CARRIAGE_RETURN ? newline - 1 : newline));
    at = newline + 1;
  }
  return count;
}

/** The lines of a line record (copies), for tests and tools. */
export function decodeLineRecord(body: Buffer): { firstSeq: number; lines: Buffer[] } {
  const lines: Buffer[] = [];
  forEachRecordLine(body, 0, body.length, (_seq, _buffer, from, to) => lines.push(Buffer.from(body.subarray(from, to))));
  return { firstSeq: recordSeq(body), lines };
}

export function decodeAck(body: Buffer): number {
  if (body.length !== SEQ_BYTES) throw new FrameError(`ack of ${body.length} bytes`);
  return readSeq(body, 0);
}

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Visits one frame: its type and body as `buffer[start, end)` (valid only during the call). */
export type FrameVisitor = (type: number, buffer: Buffer, start: number, end: number) => void;

/**
 * Cuts a byte stream into frames. Survives any chunking. A length of 0 or above `maxFrameBytes` is a protocol error
 * (FrameError). `each` visits frames without allocating per frame (the hot path); `push` collects them. The tail of a
 * chunk that starts an unfinished frame is kept as a view, not copied (a frame usually spans two socket reads):
 * callers pass chunks they do not reuse, as sockets and the journal reader do.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the buffered frame is complete. */
  private needed = 0;

  constructor(public maxFrameBytes: number = MAX_FRAME_BYTES) {}

  /** Feeds a chunk; returns its complete frames (bodies are views into the chunks: copy to keep them). */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    this.each(chunk, (type, buffer, start, end) => frames.push({ type, body: buffer.subarray(start, end) }));
    return frames;
  }

  /** Feeds a chunk and calls `visit` for each complete frame, in order. */
  each(chunk: Buffer, visit: FrameVisitor): void {
    let buffer: Buffer;
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered < this.needed) return;
      buffer = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
    } else {
      buffer = chunk;
    }
    let offset = 0;
    const length = buffer.length;
    while (length - offset >= 4) {
      const frameLength = this.checkedLength(buffer.readUInt32BE(offset));
      if (length - offset - 4 < frameLength) break;
      visit(buffer[offset + 4], buffer, offset + HEADER_BYTES, offset + 4 + frameLength);
      offset += 4 + frameLength;
    }
    if (offset < length) {
      const rest = buffer.subarray(offset);
      this.chunks = [rest];
      this.buffered = rest.length;
      this.needed = rest.length >= 4 ? 4 + this.checkedLength(rest.readUInt32BE(0)) : 4;
    }
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  private checkedLength(length: number): number {
    if (length < 1 || length > this.maxFrameBytes) throw new FrameError(`frame length ${length} is out of bounds (1…${this.maxFrameBytes})`);
    return length;
  }
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Splits a byte stream into lines (without the newline, bytes untouched). A line over `maxLineBytes` is cut. */
export class ByteLineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes: number = MAX_LINE_BYTES) {}

  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    let index = chunk.indexOf(NEWLINE, start);
    while (index !== -1) {
      const piece = chunk.subarray(start, index);
      let line = piece;
      if (this.pendingBytes > 0) {
        this.pending.push(piece);
        line = Buffer.concat(this.pending, this.pendingBytes + piece.length);
        this.pending = [];
        this.pendingBytes = 0;
      }
      for (; line.length > this.maxLineBytes; line = line.subarray(this.maxLineBytes)) lines.push(line.subarray(0, this.maxLineBytes));
      lines.push(line);
      start = index + 1;
      index = chunk.indexOf(NEWLINE, start);
    }
    if (start < chunk.length) {
      const rest = Buffer.from(chunk.subarray(start));
      this.pending.push(rest);
      this.pendingBytes += rest.length;
      while (this.pendingBytes > this.maxLineBytes) {
        const all = Buffer.concat(this.pending, this.pendingBytes);
        lines.push(all.subarray(0, this.maxLineBytes));
        const tail = all.subarray(this.maxLineBytes);
        this.pending = tail.length ? [tail] : [];
        this.pendingBytes = tail.length;
      }
    }
    return lines;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** What is left without a trailing newline (at end of stream), or undefined. */
  end(): Buffer | undefined {
    if (this.pendingBytes === 0) return undefined;
    const rest = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return rest;
  }
}

/** A record as pieces written one after the other: a header, then views of what the agent wrote (nothing copied). */
export interface RecordParts {
  parts: Buffer[];
  /** How many sequence numbers (lines) the record holds. */
  count: number;
}

/**
 * The keeper's hot path: turns an agent's stdout chunks into line records, one record per chunk that completes a
 * line — a header and views of the chunk, whatever the number of lines; only a line split across chunks is copied.
 * Same lines as ByteLineSplitter, including the cut of over-long lines.
 */
export class LineBatcher {
  private readonly splitter: ByteLineSplitter;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly type: number,
    private readonly maxLineBytes: number = MAX_LINE_BYTES,
  ) {
    this.splitter = new ByteLineSplitter(maxLineBytes);
  }

  /**
   * Frames the lines `chunk` completes, numbered from `firstSeq`; undefined when it completes none. The parts view
   * `chunk`: the caller must not reuse it (stream chunks are never reused).
   */
  push(chunk: Buffer, firstSeq: number): RecordParts | undefined {
    if (this.splitter.bufferedBytes > 0 || this.pendingBytes + chunk.length > this.maxLineBytes) return this.slowPath(chunk, firstSeq);
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) {
      this.stash(chunk);
      return undefined;
    }
    let count = 0;
    for (let index = chunk.indexOf(NEWLINE); index !== -1 && index <= last; index = chunk.indexOf(NEWLINE, index + 1)) count++;
    const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    writeRecordHeader(header, 0, RECORD_HEADER_BYTES + this.pendingBytes + last + 1, this.type, firstSeq);
    const parts = [header, ...this.pending, chunk.subarray(0, last + 1)];
    this.pending = [];
    this.pendingBytes = 0;
    if (last + 1 < chunk.length) this.stash(chunk.subarray(last + 1));
    return { parts, count };
  }

  /** Frames what is left without a trailing newline (end of stream) as a last line, or undefined. */
  end(seq: number): RecordParts | undefined {
    const rest = this.splitter.end() ?? (this.pendingBytes > 0 ? Buffer.concat(this.pending, this.pendingBytes) : undefined);
    this.pending = [];
    this.pendingBytes = 0;
    return rest ? { parts: [encodeLineRecord(this.type, seq, [rest])], count: 1 } : undefined;
  }

  private stash(piece: Buffer): void {
    const copy = Buffer.from(piece);
    this.pending.push(copy);
    this.pendingBytes += copy.length;
  }

  /** A line near the size limit: the plain splitter cuts it (rare, so allocations do not matter). */
  private slowPath(chunk: Buffer, firstSeq: number): RecordParts | undefined {
    if (this.pendingBytes > 0) {
      this.splitter.push(Buffer.concat(this.pending, this.pendingBytes));
      this.pending = [];
      this.pendingBytes = 0;
    }
    const lines = this.splitter.push(chunk);
    return lines.length === 0 ? undefined : { parts: [encodeLineRecord(this.type, firstSeq, lines)], count: lines.length };
  }
}

/**
 * Decodes `buffer[start, end)` as ProcessTransport decodes a line: UTF-8 with replacement characters (Buffer's decoder
 * follows the same WHATWG rules as TextDecoder; a test holds them equal), a trailing CR dropped.
 */
export function decodeLineText(buffer: Buffer, start = 0, end = buffer.length): string {
  return buffer.toString('utf8', start, end > start && buffer[end - 1] === 0x0d ? end - 1 : end);
}

