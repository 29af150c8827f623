/**
 * What the host and a keeper share: the binary framing of their socket (also the journal's file format), the launch
 * config, the metadata file beside the socket, and the paths of one keeper's files.
 *
 * A frame is `u32 length (big-endian) | u8 type | body`, where length counts the type byte and the body. Records
 * (what the journal holds) carry a 48-bit sequence number before their payload: `u48 seq | payload`. Payloads are
 * bytes, never re-encoded, so a line the agent wrote reaches the host exactly as written (invalid UTF-8 included) and
 * is decoded once, on the host, the way ProcessTransport decodes it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
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
  /** Record: one line the agent wrote to stdout (without its newline). */
  out: 17,
  /** Record: one line the host sent to the agent's stdin (journaled so a later host knows what was answered). */
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
/** Largest line the keeper holds before it cuts it. */
export const MAX_LINE_BYTES = MAX_FRAME_BYTES - 16;

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

/**
 * The private directory of a workspace's sockets: short and named by a hash of the workspace and user, the same
 * scheme (and so the same directory) as the Codex app-server socket.
 */
export function keeperDirFor(workspacePath: string, uid: number = process.getuid?.() ?? 0, tmpdir: string = os.tmpdir()): string {
  const hash = createHash('sha256').update(`${workspacePath}\0${uid}`).digest('hex').slice(0, 8);
  const name = `atw-${hash}`;
  const preferred = path.join(tmpdir, name);
  // Leave room for "/k-<12 hex>.journal".
  return Buffer.byteLength(preferred) <= 60 || process.platform === 'win32' ? preferred : path.join('/tmp', name);
}

/** Creates `dir` as a 0700 directory of the current user, or refuses one that another user could get into. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory() || stat.isSymbolicLink()) throw new Error(`${dir} is not a directory`);
  if (process.platform === 'win32') return;
  if (stat.uid !== process.getuid?.()) throw new Error(`${dir} belongs to another user; refusing to put agent sockets there`);
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

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

export function encodeAck(seq: number): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + SEQ_BYTES);
  frame.writeUInt32BE(SEQ_BYTES + 1, 0);
  frame[4] = FrameType.ack;
  frame.writeUIntBE(seq, HEADER_BYTES, SEQ_BYTES);
  return frame;
}

/**
 * Encodes consecutive records `firstSeq, firstSeq + 1, …` into one buffer (one write to the journal and the socket).
 * `offsets`, when given, receives each record's offset within the returned buffer.
 */
export function encodeRecords(type: number, firstSeq: number, payloads: readonly Buffer[], offsets?: number[]): Buffer {
  let total = 0;
  for (const payload of payloads) total += RECORD_HEADER_BYTES + payload.length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  let seq = firstSeq;
  for (const payload of payloads) {
    offsets?.push(at);
    out.writeUInt32BE(1 + SEQ_BYTES + payload.length, at);
    out[at + 4] = type;
    out.writeUIntBE(seq++, at + HEADER_BYTES, SEQ_BYTES);
    payload.copy(out, at + RECORD_HEADER_BYTES);
    at += RECORD_HEADER_BYTES + payload.length;
  }
  return out;
}

export function isRecordType(type: number): boolean {
  return type === FrameType.out || type === FrameType.in || type === FrameType.exit;
}

/** Splits a record's body into its sequence number and payload. */
export function decodeRecord(body: Buffer): { seq: number; payload: Buffer } {
  if (body.length < SEQ_BYTES) throw new FrameError(`record of ${body.length} bytes has no sequence number`);
  return { seq: body.readUIntBE(0, SEQ_BYTES), payload: body.subarray(SEQ_BYTES) };
}

export function decodeAck(body: Buffer): number {
  if (body.length !== SEQ_BYTES) throw new FrameError(`ack of ${body.length} bytes`);
  return body.readUIntBE(0, SEQ_BYTES);
}

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/**
 * Cuts a byte stream into frames. Survives any chunking; bodies are views into the received chunks, valid until the
 * caller's next push (copy to keep longer). A length of 0 or above `maxFrameBytes` is a protocol error.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the buffered frame is complete. */
  private needed = 0;

  constructor(public maxFrameBytes: number = MAX_FRAME_BYTES) {}

  push(chunk: Buffer): Frame[] {
    let buffer: Buffer;
    if (this.buffered > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered < this.needed) return [];
      buffer = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [];
      this.buffered = 0;
    } else {
      buffer = chunk;
    }
    const frames: Frame[] = [];
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const length = this.checkedLength(buffer.readUInt32BE(offset));
      if (buffer.length - offset - 4 < length) break;
      frames.push({ type: buffer[offset + 4], body: buffer.subarray(offset + HEADER_BYTES, offset + 4 + length) });
      offset += 4 + length;
    }
    if (offset < buffer.length) {
      // Copy the rest: the caller may reuse its chunk.
      const rest = Buffer.from(buffer.subarray(offset));
      this.chunks = [rest];
      this.buffered = rest.length;
      this.needed = rest.length >= 4 ? 4 + this.checkedLength(rest.readUInt32BE(0)) : 4;
    }
    return frames;
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

  /** What is left without a trailing newline (at end of stream), or undefined. */
  end(): Buffer | undefined {
    if (this.pendingBytes === 0) return undefined;
    const rest = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return rest;
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });

/** Decodes a line's bytes as ProcessTransport does: UTF-8 with replacement characters, a trailing CR dropped. */
export function decodeLineText(bytes: Uint8Array): string {
  const length = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return textDecoder.decode(bytes.subarray(0, length));
}

/** The start time of `pid` from /proc (clock ticks since boot), undefined where unknown or for a zombie. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is alive and is the process that had `start` as its start time (a reused pid is not). Where /proc
 * is missing, liveness alone decides.
 */
export function isSameProcess(pid: number | undefined, start: string | undefined): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!fs.existsSync('/proc/self/stat')) return true;
  const now = processStartTime(pid);
  return now !== undefined && (start === undefined || now === start);
}

/** True while any process of the group led by `pgid` exists. */
export function processGroupExists(pgid: number | undefined): boolean {
  if (pgid === undefined || pgid <= 0) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone.
  }
}
