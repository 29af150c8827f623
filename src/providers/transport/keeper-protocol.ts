/**
 * What the host and a keeper share: the binary framing of their socket (also the journal's file format), the launch
 * config, the metadata file beside the socket, and the paths of one keeper's files.
 *
 * A frame is `u32 length (big-endian) | u8 type | body`, where length counts the type byte and the body. Records
 * (what the journal holds) start with a 48-bit sequence number. A line record (`out`, `in`) is a batch:
 * `u48 seq of its first line | line \n line \n …`, every line numbered on from there — the keeper frames a whole stdout
 * chunk at once instead of copying line by line. Lines are bytes, never re-encoded, so what the agent wrote reaches
 * the host exactly (invalid UTF-8 included) and is decoded once, on the host, the way ProcessTransport decodes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const KEEPER_PROTOCOL_VERSION = 1;

/** Frame types. Host → keeper below 16; keeper → host from 16. `out`, `in` and `exit` are journaled records. */
export const FrameType = {
  /** Host → keeper, JSON {@link KeeperHello}; the first frame of every connection. */
  hello: 1,
  /** Host → keeper, bytes for the agent's stdin (whole lines). */
  stdin: 2,
  /** Host → keeper, u48 seq: every record up to it has been processed. */
  ack: 3,
  /** Host → keeper, JSON {graceMs}: end the agent gracefully (close stdin, then SIGTERM, then SIGKILL). */
  close: 4,
  /** Host → keeper, empty: kill the agent's process group and end the keeper now. */
  kill: 5,
  /** Keeper → host, JSON {@link KeeperWelcome}: the answer to a valid hello. */
  welcome: 16,
  /** Record: lines the agent wrote to stdout (u48 seq of the first, then each line with its \n). */
  out: 17,
  /** Record: lines the host sent to the agent's stdin (journaled so a later host knows what was answered). */
  in: 18,
  /** Record: JSON {@link KeeperExit}; the agent's process ended. Always the last record. */
  exit: 19,
  /** Keeper → host, bytes the agent wrote to stderr (live only, not journaled). */
  stderr: 20,
  /** Keeper → host, JSON {reason}: the keeper drops this connection. */
  bye: 21,
} as const;

export type FrameTypeName = keyof typeof FrameType;
export type FrameTypeCode = (typeof FrameType)[FrameTypeName];

export interface Frame {
  type: number;
  body: Buffer;
}

/** Largest frame either side accepts (a single agent line longer than this is cut into several records). */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
/** Largest frame a connection may send before it authenticated. */
export const MAX_HELLO_BYTES = 4096;
/** Largest line the keeper holds before it cuts it (a record holds at least one whole line). */
export const MAX_LINE_BYTES = MAX_FRAME_BYTES / 2;

const HEADER_BYTES = 5;
const SEQ_BYTES = 6;
export const RECORD_HEADER_BYTES = HEADER_BYTES + SEQ_BYTES;

/** The first frame a host sends. */
export interface KeeperHello {
  v: number;
  token: string;
  /** Replay every record after this sequence number (0: all). */
  lastSeq: number;
}

/** Why the keeper stopped the agent (or `exited`: it ended by itself). Recorded in the metadata and the exit record. */
export type KeeperStopKind = 'exited' | 'host-close' | 'host-kill' | 'idle' | 'keeper-signal' | 'keeper-error';

/** The agent process's end, as the exit record carries it. */
export interface KeeperExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  stop: KeeperStopKind;
  /** A sentence for the user when the keeper stopped the agent (not for `exited`). */
  reason?: string;
}

/** The keeper's answer to a valid hello. */
export interface KeeperWelcome {
  v: number;
  keeperId: string;
  cliPid: number;
  status: KeeperStatus;
  /** The oldest record still in the journal (older acknowledged ones may have been compacted away). */
  firstSeq: number;
  /** The newest record so far (0: none). */
  headSeq: number;
  /** The highest sequence number any host acknowledged as processed. */
  ackedSeq: number;
  stderrTail: string;
}

/** `running` → `stopping` (the keeper or host asked the agent to end) → `exited` → `ended` (keeper gone, files kept). */
export type KeeperStatus = 'running' | 'stopping' | 'exited' | 'ended';

/** What the host sends the keeper process on its stdin (never written to a file: `env` holds secrets). */
export interface KeeperConfig {
  v: number;
  id: string;
  dir: string;
  token: string;
  taskId: string;
  provider: string;
  command: string;
  args: string[];
  cwd: string;
  /** The agent's complete environment. */
  env: Record<string, string>;
  /** Stop the agent after it has had no host attached for this long. */
  keepRunningMs: number;
  /** How long the agent gets between the graceful steps of an idle stop (stdin closed, SIGINT, SIGTERM, SIGKILL). */
  stopGraceMs: number;
  /** How often the orphan watchdog checks that the keeper is alive. */
  watchdogPollMs: number;
  /** Rewrite the journal without acknowledged records once they take this many bytes. */
  compactBytes: number;
}

/** The metadata file beside the socket (mode 0600). It holds the connection token, so it is read by its owner only. */
export interface KeeperMetadata {
  version: 1;
  id: string;
  taskId: string;
  provider: string;
  /** The agent's executable (not its arguments or environment). */
  command: string;
  pid: number;
  /** Process start time (from /proc), so a reused pid is never mistaken for the keeper. */
  pidStart?: string;
  cliPid: number;
  cliStart?: string;
  watchdogPid?: number;
  socketPath: string;
  journalPath: string;
  token: string;
  keepRunningMs: number;
  createdAt: number;
  updatedAt: number;
  status: KeeperStatus;
  hostAttached: boolean;
  detachedAt?: number;
  stop?: KeeperStopKind;
  /** Why the keeper stopped the agent, for a host that attaches later. */
  reason?: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  stderrTail?: string;
  /** Written when the keeper ends with its journal kept: what the last host acknowledged. */
  ackedSeq?: number;
}

/** Where one keeper's files live: all in the private directory, all named after its id. */
export interface KeeperPaths {
  socket: string;
  journal: string;
  metadata: string;
  log: string;
}

export function keeperPaths(dir: string, id: string): KeeperPaths {
  const base = path.join(dir, `k-${id}`);
  return { socket: `${base}.sock`, journal: `${base}.journal`, metadata: `${base}.json`, log: `${base}.log` };
}

/** Unix socket paths must fit sun_path (108 bytes on Linux, 104 on macOS); stay well below. */
export const MAX_SOCKET_PATH_BYTES = 100;

/** A keeper id: 12 hex characters (keeps the socket path short). */
export function isKeeperId(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{12}$/.test(value);
}

export function readKeeperMetadata(file: string): KeeperMetadata | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as KeeperMetadata;
    return value && value.version === 1 && isKeeperId(value.id) && typeof value.pid === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the metadata atomically (tmp + rename), readable by the owner only. */
export function writeKeeperMetadata(file: string, metadata: KeeperMetadata): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(metadata, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

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
 * (FrameError). `each` visits frames without allocating per frame (the hot path); `push` collects them.
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
      // Copy the rest: the caller may reuse its chunk.
      const rest = Buffer.from(buffer.subarray(offset));
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

/**
 * The keeper's hot path: turns an agent's stdout chunks into line records, one record per chunk that completes a
 * line — one allocation and two copies per chunk, whatever the number of lines. Same lines as ByteLineSplitter,
 * including the cut of over-long lines.
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

  /** Frames the lines `chunk` completes, numbered from `firstSeq`; undefined when it completes none. */
  push(chunk: Buffer, firstSeq: number): { frame: Buffer; count: number } | undefined {
    if (this.splitter.bufferedBytes > 0 || this.pendingBytes + chunk.length > this.maxLineBytes) return this.slowPath(chunk, firstSeq);
    const last = chunk.lastIndexOf(NEWLINE);
    if (last === -1) {
      this.stash(chunk);
      return undefined;
    }
    let count = 0;
    for (let index = chunk.indexOf(NEWLINE); index !== -1 && index <= last; index = chunk.indexOf(NEWLINE, index + 1)) count++;
    const frame = Buffer.allocUnsafe(RECORD_HEADER_BYTES + this.pendingBytes + last + 1);
    writeRecordHeader(frame, 0, frame.length, this.type, firstSeq);
    let at = RECORD_HEADER_BYTES;
    for (const piece of this.pending) at += piece.copy(frame, at);
    chunk.copy(frame, at, 0, last + 1);
    this.pending = [];
    this.pendingBytes = 0;
    if (last + 1 < chunk.length) this.stash(chunk.subarray(last + 1));
    return { frame, count };
  }

  /** Frames what is left without a trailing newline (end of stream) as a last line, or undefined. */
  end(seq: number): { frame: Buffer; count: number } | undefined {
    const rest = this.splitter.end() ?? (this.pendingBytes > 0 ? Buffer.concat(this.pending, this.pendingBytes) : undefined);
    this.pending = [];
    this.pendingBytes = 0;
    return rest ? { frame: encodeLineRecord(this.type, seq, [rest]), count: 1 } : undefined;
  }

  private stash(piece: Buffer): void {
    const copy = Buffer.from(piece);
    this.pending.push(copy);
    this.pendingBytes += copy.length;
  }

  /** A line near the size limit: the plain splitter cuts it (rare, so allocations do not matter). */
  private slowPath(chunk: Buffer, firstSeq: number): { frame: Buffer; count: number } | undefined {
    if (this.pendingBytes > 0) {
      this.splitter.push(Buffer.concat(this.pending, this.pendingBytes));
      this.pending = [];
      this.pendingBytes = 0;
    }
    const lines = this.splitter.push(chunk);
    return lines.length === 0 ? undefined : { frame: encodeLineRecord(this.type, firstSeq, lines), count: lines.length };
  }
}

/**
 * Decodes `buffer[start, end)` as ProcessTransport decodes a line: UTF-8 with replacement characters (Buffer's decoder
 * follows the same WHATWG rules as TextDecoder; a test holds them equal), a trailing CR dropped.
 */
export function decodeLineText(buffer: Buffer, start = 0, end = buffer.length): string {
  return buffer.toString('utf8', start, end > start && buffer[end - 1] === 0x0d ? end - 1 : end);
}

