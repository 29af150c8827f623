/**
 * Starting a keeper (a detached process running dist/keeper.js, whose path the container passes) and finding one
 * again after a reload: `attachKeeper(ref)` reads the keeper's metadata in the private dir, checks it is the same
 * process, and connects; a keeper that ended leaves its journal, which is replayed offline.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { silentLogger, type Logger } from '../../core/events';
import { forEachRecordLine, recordSeq, FrameDecoder } from '../framing';
import {
  FrameType,
  KEEPER_PROTOCOL_VERSION,
  type KeeperConfig,
  type KeeperMetadata,
  type KeeperStatus,
  type KeeperStopKind,
  type KeeperWelcome,
} from '../protocol';
import { isKeeperId, keeperPaths, MAX_SOCKET_PATH_BYTES, readKeeperMetadata } from '../files';
import { ensurePrivateDir } from '../../platform/private-dir';
import { isSameProcess, killProcessTree, mergeEnv, readTail } from '../../platform/process';
import { CommandNotFoundError } from '../../providers/transport/process-transport';

import { isKeeperError, KeeperError } from './errors';
import { openConnection, type OpenConnection } from './connection';
import { checkKeeperDir, killKeeper, killKeeperProcesses, listKeepers, reapDeadKeeper, removeKeeperFiles } from './keepers';

const DEFAULT_ATTACH_TIMEOUT_MS = 5000;
import { KeeperTransport } from './transport';

/**
 * How to find a keeper again: what a provider persists in its task's providerState (`{ keeper: transport.ref }`).
 * It holds no secret: the connection token stays in the keeper's own 0600 metadata file.
 */
export interface KeeperRef {
  keeperId: string;
  /** The private socket directory (keeperDirFor(workspace)). */
  dir: string;
}

/** How a provider starts an agent under a keeper; the first five fields are ProcessTransportOptions'. */
export interface KeeperStartOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  /** Merged over process.env (the profile's env wins). Passed to the agent only; never written to a file. */
  env?: Record<string, string | undefined>;
  onStderr?: (text: string) => void;
  /** The private socket directory (keeperDirFor(workspace)). */
  dir: string;
  taskId: string;
  provider: string;
  /** Recorded in the keeper's metadata (KeeperMetadata.owner): which window's sweep may end it. */
  owner?: string;
  /** agentTasks.keepRunningMinutes in ms: the agent is stopped after this long with no window attached. */
  keepRunningMs: number;
  /** Between the steps of an idle stop: stdin closed → SIGINT → SIGTERM → SIGKILL (default 3 s). */
  stopGraceMs?: number;
  /** How often the orphan watchdog checks the keeper (default 1 s). */
  watchdogPollMs?: number;
  /** Compact the journal once acknowledged records take this many bytes (default 32 MB). */
  compactBytes?: number;
  /** The keeper bundle, dist/keeper.js (the container passes its path). */
  keeperScript: string;
  /** Gives up when the keeper is not ready after this long (default 15 s). */
  startTimeoutMs?: number;
  log?: Logger;
}

export interface KeeperAttachOptions {
  /**
   * Replay every record after this sequence number. 0 (default) replays the whole journal: the way to rebuild a
   * protocol's state (pending requests, session) after a reload; `welcome.ackedSeq` tells which records an earlier
   * window already processed.
   */
  lastSeq?: number;
  onStderr?: (text: string) => void;
  /** Acknowledge records automatically once listeners have run (default true). */
  autoAck?: boolean;
  timeoutMs?: number;
  log?: Logger;
}

/** A host→agent line from the journal, replayed on attach: what an earlier window already sent (answers included). */
export interface KeeperReplayedInput {
  seq: number;
  /** The parsed message, or undefined when the line was not JSON (`raw` has it). */
  message: unknown;
  raw: string;
}

/** A keeper found in the socket directory. */
export interface KeeperInfo {
  ref: KeeperRef;
  taskId: string;
  provider: string;
  /** The owner recorded by the window that started it (undefined for keepers of older versions). */
  owner?: string;
  /** `live`: the keeper runs. `ended`: it stopped, its journal waits for a host. `dead`: it died (files removed by cleanup). */
  state: 'live' | 'ended' | 'dead';
  status: KeeperStatus;
  pid: number;
  cliPid: number;
  createdAt: number;
  updatedAt: number;
  hostAttached: boolean;
  stop?: KeeperStopKind;
  reason?: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

/** What a KeeperTransport starts from: a live connection's welcome, or an ended keeper's journal. */
export interface TransportInit {
  ref: KeeperRef;
  welcome: KeeperWelcome;
  cliStart?: string;
  keeperPid: number;
  keeperStart?: string;
  lastSeq: number;
  autoAck: boolean;
  onStderr?: (text: string) => void;
  log: Logger;
}

/**
 * Starts an agent under a new detached keeper and attaches to it. Rejects with CommandNotFoundError when the
 * executable does not exist (ProcessTransport reports that through onClose instead), or KeeperStartError.
 */
export async function startKeeper(options: KeeperStartOptions): Promise<KeeperTransport> {
  const log = options.log ?? silentLogger;
  const script = options.keeperScript;
  if (!fs.existsSync(script)) throw new KeeperError('start', `The keeper bundle ${script} is missing; rebuild the extension (npm run build)`);
  try {
    ensurePrivateDir(options.dir, 'agent sockets');
  } catch (error) {
    throw new KeeperError('start', (error as Error).message);
  }
  const id = randomBytes(6).toString('hex');
  const token = randomBytes(32).toString('base64url');
  const paths = keeperPaths(options.dir, id);
  if (Buffer.byteLength(paths.socket) >= MAX_SOCKET_PATH_BYTES) {
    throw new KeeperError('start', `The keeper socket path is too long for a Unix socket: ${paths.socket}`);
  }
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(mergeEnv(process.env, options.env))) if (value !== undefined) env[key] = value;
  const config: KeeperConfig = {
    v: KEEPER_PROTOCOL_VERSION,
    id,
    dir: options.dir,
    token,
    taskId: options.taskId,
    provider: options.provider,
    command: options.command,
    args: [...options.args],
    cwd: options.cwd,
    env,
    keepRunningMs: Math.max(0, options.keepRunningMs),
    stopGraceMs: options.stopGraceMs ?? 3000,
    watchdogPollMs: options.watchdogPollMs ?? 1000,
    compactBytes: options.compactBytes ?? 32 * 1024 * 1024,
    ...(options.owner !== undefined ? { owner: options.owner } : {}),
  };
  const logFd = fs.openSync(paths.log, 'a', 0o600);
  let child;
  try {
    child = spawn(process.execPath, [script, `--keeper=${id}`], {
      cwd: options.dir,
      detached: process.platform !== 'win32',
      stdio: ['pipe', 'pipe', logFd],
      // The keeper's own environment holds no secret: the agent's arrives on stdin. ELECTRON_RUN_AS_NODE makes the
      // editor's executable run as plain Node.
      env: { ELECTRON_RUN_AS_NODE: '1', PATH: process.env.PATH ?? '' },
      windowsHide: true,
    });
  } finally {
    fs.closeSync(logFd);
  }
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(JSON.stringify(config));
  const fail = (error: Error): never => {
    killKeeperProcesses({ keeperId: id, dir: options.dir }, readKeeperMetadata(paths.metadata));
    killProcessTree(child.pid, 'SIGKILL');
    removeKeeperFiles({ keeperId: id, dir: options.dir });
    throw error;
  };
  let ready: { ok: boolean; cliPid?: number; code?: string; message?: string };
  try {
    ready = await readReadyLine(child, options.startTimeoutMs ?? 15_000);
  } catch (error) {
    return fail(new KeeperError('start', (error as Error).message, { logTail: readTail(paths.log) }));
  } finally {
    child.stdout?.destroy();
    child.stdin?.destroy();
    child.unref();
  }
  if (!ready.ok) {
    if (ready.code === 'ENOENT' || ready.code === 'EACCES') return fail(new CommandNotFoundError(options.command));
    return fail(new KeeperError('start', `The keeper could not start ${options.command}: ${ready.message ?? 'unknown error'}`, { logTail: readTail(paths.log) }));
  }
  const metadata = readKeeperMetadata(paths.metadata);
  if (!metadata) return fail(new KeeperError('start', 'The keeper reported ready but wrote no metadata', { logTail: readTail(paths.log) }));
  log.info(`[keeper ${id}] started ${options.command} (pid ${metadata.cliPid}) for task ${options.taskId}`);
  try {
    const connection = await openConnection(paths.socket, token, 0, DEFAULT_ATTACH_TIMEOUT_MS);
    return KeeperTransport.fromConnection(
      { ref: { keeperId: id, dir: options.dir }, welcome: connection.welcome, ...processIds(metadata), lastSeq: 0, autoAck: true, onStderr: options.onStderr, log },
      connection,
    );
  } catch (error) {
    killKeeperProcesses({ keeperId: id, dir: options.dir }, metadata);
    return fail(new KeeperError('start', `Could not connect to the keeper: ${(error as Error).message}`, { logTail: readTail(paths.log) }));
  }
}

/**
 * Attaches to a keeper after a reload: replays the journal after `lastSeq`, then streams live. For a keeper that
 * ended while no window was attached, the journal is replayed from its file and the transport closes with the
 * recorded exit (onClose.error is a KeeperStoppedError when the keeper stopped the agent). Rejects with
 * KeeperGoneError when there is no keeper or it died (its leftovers are cleaned up), KeeperRefusedError on a bad token.
 */
export async function attachKeeper(ref: KeeperRef, options: KeeperAttachOptions = {}): Promise<KeeperTransport> {
  const log = options.log ?? silentLogger;
  if (!isKeeperId(ref?.keeperId) || typeof ref.dir !== 'string') throw new KeeperError('gone', 'The task has no valid keeper reference');
  if (!checkKeeperDir(ref.dir)) throw new KeeperError('gone', `The agent's keeper ${ref.keeperId} is gone (${ref.dir} does not exist)`);
  const paths = keeperPaths(ref.dir, ref.keeperId);
  const metadata = readKeeperMetadata(paths.metadata);
  if (!metadata) throw new KeeperError('gone', `The agent's keeper ${ref.keeperId} is gone (no metadata in ${ref.dir})`);
  const lastSeq = Math.max(0, options.lastSeq ?? 0);
  const base = { ref, ...processIds(metadata), lastSeq, autoAck: options.autoAck ?? true, onStderr: options.onStderr, log };
  if (metadata.status === 'ended') return openJournal(base, metadata, paths);
  if (!isSameProcess(metadata.pid, metadata.pidStart)) {
    reapDeadKeeper(metadata, ref);
    throw new KeeperError(
      'gone',
      `The agent's keeper (pid ${metadata.pid}) is no longer running; the agent was stopped with it${metadata.reason ? ` (${metadata.reason})` : ''}`,
      { reason: metadata.reason },
    );
  }
  let connection: OpenConnection;
  try {
    connection = await openConnection(paths.socket, metadata.token, lastSeq, options.timeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS);
  } catch (error) {
    if (!isKeeperError(error, 'gone')) throw error;
    // Alive but unreachable (its socket file was deleted, or it is wedged): stop it, so that a provider falling back to
    // resuming the session never has two agents on it.
    reapDeadKeeper(metadata, ref);
    throw new KeeperError('gone', `The agent's keeper (pid ${metadata.pid}) could not be reached (${error.message}); it was stopped with its agent`);
  }
  log.info(`[keeper ${ref.keeperId}] attached (replaying after seq ${lastSeq}, head ${connection.welcome.headSeq})`);
  return KeeperTransport.fromConnection({ ...base, welcome: connection.welcome }, connection);
}

function openJournal(base: Omit<TransportInit, 'welcome'>, metadata: KeeperMetadata, paths: ReturnType<typeof keeperPaths>): KeeperTransport {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(paths.journal);
  } catch {
    removeKeeperFiles(base.ref);
    throw new KeeperError('gone', `The agent's keeper ended${metadata.reason ? `: ${metadata.reason}` : ''}; its journal is gone`, { reason: metadata.reason });
  }
  const frames = new FrameDecoder().push(bytes);
  let headSeq = 0;
  let hasExit = false;
  for (const frame of frames) {
    if (frame.type === FrameType.exit) hasExit = true;
    const first = recordSeq(frame.body);
    const count = frame.type === FrameType.exit ? 1 : forEachRecordLine(frame.body, 0, frame.body.length, () => undefined);
    headSeq = Math.max(headSeq, first + count - 1);
  }
  if (!hasExit) {
    removeKeeperFiles(base.ref);
    throw new KeeperError('gone', `The agent's keeper ended without recording the agent's exit${metadata.reason ? ` (${metadata.reason})` : ''}`, { reason: metadata.reason });
  }
  const welcome: KeeperWelcome = {
    v: KEEPER_PROTOCOL_VERSION,
    keeperId: metadata.id,
    cliPid: metadata.cliPid,
    status: 'ended',
    firstSeq: frames.length > 0 ? recordSeq(frames[0].body) : 1,
    headSeq,
    ackedSeq: metadata.ackedSeq ?? 0,
    stderrTail: metadata.stderrTail ?? '',
  };
  // Lines at or before lastSeq are skipped by the transport, which starts from lastSeq; the exit record always counts.
  const replay = frames;
  return KeeperTransport.fromJournal({ ...base, welcome }, replay, paths);
}

/**
 * One socket directory and keeper bundle for the providers of a workspace (built by the container): start an agent,
 * attach after a reload, list, kill.
 */
export class KeeperLauncher {
  /**
   * `owner` (the container passes a hash of the window's storage dir) is recorded in the metadata of every keeper this
   * launcher starts, and limits list's cleanup to those keepers: other windows' keepers are listed but never touched.
   */
  constructor(private readonly options: { dir: string; keeperScript: string; owner?: string; log?: Logger }) {}

  get dir(): string {
    return this.options.dir;
  }

  get owner(): string | undefined {
    return this.options.owner;
  }

  start(options: Omit<KeeperStartOptions, 'dir' | 'keeperScript' | 'log' | 'owner'>): Promise<KeeperTransport> {
    return startKeeper({ ...options, dir: this.options.dir, keeperScript: this.options.keeperScript, owner: this.options.owner, log: this.options.log });
  }

  /** Attaches in this launcher's directory (verified again), never in the `ref.dir` a task persisted. */
  attach(ref: KeeperRef, options: KeeperAttachOptions = {}): Promise<KeeperTransport> {
    return attachKeeper({ keeperId: ref?.keeperId, dir: this.options.dir }, { log: this.options.log, ...options });
  }

  /** The keepers in this launcher's directory; cleanup touches only this launcher's owner's keepers. */
  list(options?: { cleanup?: boolean; endedRetentionMs?: number }): KeeperInfo[] {
    return listKeepers(this.options.dir, { ...options, owner: this.options.owner });
  }

  /** Kills in this launcher's directory (verified again), never in the `ref.dir` a task persisted. */
  kill(ref: KeeperRef): Promise<boolean> {
    return killKeeper({ keeperId: ref?.keeperId, dir: this.options.dir });
  }
}

/** Reads a KeeperRef back from persisted providerState (`{ keeper: { keeperId, dir } }`), or undefined. */
export function keeperRefFrom(state: Record<string, unknown> | undefined): KeeperRef | undefined {
  const value = state?.keeper as Partial<KeeperRef> | undefined;
  return value && isKeeperId(value.keeperId) && typeof value.dir === 'string' ? { keeperId: value.keeperId, dir: value.dir } : undefined;
}

function processIds(metadata: KeeperMetadata): { cliStart?: string; keeperPid: number; keeperStart?: string } {
  return { cliStart: metadata.cliStart, keeperPid: metadata.pid, keeperStart: metadata.pidStart };
}

function readReadyLine(child: ReturnType<typeof spawn>, timeoutMs: number): Promise<{ ok: boolean; cliPid?: number; code?: string; message?: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => done(new Error(`The keeper did not report ready within ${timeoutMs} ms`)), timeoutMs);
    const done = (error?: Error, value?: { ok: boolean }) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      if (error) reject(error);
      else resolve(value as { ok: boolean });
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline === -1) return;
      try {
        done(undefined, JSON.parse(text.slice(0, newline)) as { ok: boolean });
      } catch {
        done(new Error(`The keeper reported something unexpected: ${text.slice(0, 200)}`));
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      // The ready line may still be in the pipe.
      setTimeout(() => done(new Error(`The keeper exited before it was ready (${signal ? `signal ${signal}` : `code ${code}`})`)), 50);
    };
    const onError = (error: Error) => done(new Error(`Could not run the keeper: ${error.message}`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

