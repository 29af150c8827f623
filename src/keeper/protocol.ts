/**
 * What the host and a keeper share: the frame types and messages of their socket, the launch config and the
 * metadata file beside the socket. Framing is in framing.ts, the paths of one keeper's files in files.ts.
 *
 * A frame is `u32 length (big-endian) | u8 type | body`, where length counts the type byte and the body. Records
 * (what the journal holds) start with a 48-bit sequence number. A line record (`out`, `in`) is a batch:
 * `u48 seq of its first line | line \n line \n …`, every line numbered on from there — the keeper frames a whole stdout
 * chunk at once instead of copying line by line. Lines are bytes, never re-encoded, so what the agent wrote reaches
 * the host exactly (invalid UTF-8 included) and is decoded once, on the host, the way ProcessTransport decodes it.
 */

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

/**
 * Largest frame either side accepts (L1): a record holds at most one cut line (MAX_LINE_BYTES) and what one read
 * completed, so 4× the line cap leaves room without letting either side buffer hundreds of MiB.
 */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Largest frame a connection may send before it authenticated. */
export const MAX_HELLO_BYTES = 4096;
/**
 * Largest line the keeper holds before it cuts it (L1, ≈ 16 MiB like MAX_JSONL_LINE_BYTES): a piece this long is a
 * line over the cap, and the host ends the task with a clear error instead of reading on.
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;


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
  /** Which window's extension started it (a hash of its storage dir): the activation sweep ends only its own. */
  owner?: string;
}

/** The metadata file beside the socket (mode 0600). It holds the connection token, so it is read by its owner only. */
export interface KeeperMetadata {
  version: 1;
  id: string;
  taskId: string;
  provider: string;
  /** KeeperConfig.owner: the activation sweep of another window (another storage dir) leaves this keeper alone. */
  owner?: string;
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

