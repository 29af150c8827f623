/**
 * The host side of keepers (see keeper-main.ts): stdio agents that outlive the window.
 *
 * How a provider uses it (Claude, Copilot, ACP):
 *   start   `const transport = await launcher.start({ command, args, cwd, env, taskId, provider, keepRunningMs })` where
 *           ProcessTransport was `new ProcessTransport({ command, args, cwd, env })`; then, synchronously, subscribe and
 *           `handle.setProviderState({ ...state, keeper: transport.ref })`. A missing executable rejects with
 *           CommandNotFoundError (ProcessTransport reports it through onClose instead).
 *   window  on dispose/shutdown call `transport.detach()` (not close/kill): the agent keeps running.
 *   resume  `const ref = keeperRefFrom(task.providerState)`; `await launcher.attach(ref)` replays the whole journal
 *           (lastSeq 0): rebuild the protocol state from it — a question with no later answer in `onInput` is still
 *           pending and must be asked again; lines up to `transport.welcome.ackedSeq` were already shown by the
 *           previous window (skip their transcript entries). KeeperGoneError: the agent is gone; fall back to
 *           resuming the session (--resume, session/load) or `unknown`.
 *   end     close(graceMs) and kill() as with ProcessTransport; Clear of a task whose agent is detached: launcher.kill(ref).
 * Recovery: `launcher.list()` after activation reports live, ended (journal kept, `reason` says why) and dead keepers;
 * kill those whose task is gone or terminal.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Emitter, silentLogger, type Logger } from '../../core/events';
import { encodeJsonLine, parseJsonLine } from '../../platform/jsonl';
import {
  decodeLineText,
  forEachRecordLine,
  recordSeq,
  encodeAck,
  encodeFrame,
  encodeJsonFrame,
  FrameDecoder,
  FrameType,
  isKeeperId,
  KEEPER_PROTOCOL_VERSION,
  keeperPaths,
  MAX_SOCKET_PATH_BYTES,
  readKeeperMetadata,
  type Frame,
  type KeeperConfig,
  type KeeperExit,
  type KeeperMetadata,
  type KeeperStatus,
  type KeeperStopKind,
  type KeeperWelcome,
} from './keeper-protocol';
import { ensurePrivateDir } from '../../platform/private-dir';
import { commandLineIncludes, delay, isSameProcess, killProcessTree, mergeEnv, readTail, removeQuietly, waitUntil } from '../../platform/process';
import { CommandNotFoundError } from './process-transport';
import type { MessageTransport, TransportClosed } from './transport';

export type { KeeperStatus, KeeperStopKind, KeeperWelcome } from './keeper-protocol';

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
  /** agentTasks.keepRunningMinutes in ms: the agent is stopped after this long with no window attached. */
  keepRunningMs: number;
  /** Between the steps of an idle stop: stdin closed → SIGINT → SIGTERM → SIGKILL (default 3 s). */
  stopGraceMs?: number;
  /** How often the orphan watchdog checks the keeper (default 1 s). */
  watchdogPollMs?: number;
  /** Compact the journal once acknowledged records take this many bytes (default 32 MB). */
  compactBytes?: number;
  /** dist/keeper.js (default: beside the extension bundle). */
  keeperScript?: string;
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

/** The keeper could not be started (missing bundle, socket path too long, no answer). */
export class KeeperStartError extends Error {
  constructor(message: string, readonly logTail = '') {
    super(message);
    this.name = 'KeeperStartError';
  }
}

/** Attach found no keeper to talk to: it ended and was cleaned up, or died. The agent is not running under it. */
export class KeeperGoneError extends Error {
  constructor(message: string, readonly reason?: string) {
    super(message);
    this.name = 'KeeperGoneError';
  }
}

/** The keeper closed the connection without a welcome: a wrong token, or a keeper that is ending. */
export class KeeperRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeeperRefusedError';
  }
}

/** onClose.error when this window let go of the agent (detach, or another window attached): it keeps running. */
export class KeeperDetachedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeeperDetachedError';
  }
}

/** onClose.error when the keeper died under a connected window; its agent was stopped with it. */
export class KeeperLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeeperLostError';
  }
}

/** onClose.error when the keeper stopped the agent by itself (no window for keepRunningMinutes, a signal, a failure). */
export class KeeperStoppedError extends Error {
  constructor(message: string, readonly stop: KeeperStopKind) {
    super(message);
    this.name = 'KeeperStoppedError';
  }
}

const DEFAULT_ATTACH_TIMEOUT_MS = 5000;
const RECONNECT_TIMEOUT_MS = 3000;

/** Where the keeper bundle is: beside dist/extension.js, or the repository's dist/ when running from source. */
export function defaultKeeperScript(): string {
  const beside = path.join(__dirname, 'keeper.js');
  if (fs.existsSync(beside)) return beside;
  return path.resolve(__dirname, '..', '..', '..', 'dist', 'keeper.js');
}

interface TransportInit {
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
 * An agent's stdio through its keeper, as a MessageTransport: to a provider it behaves like ProcessTransport (JSON
 * lines both ways, onMalformed with the raw line, onClose with code/signal/stderrTail, close(graceMs), kill()), and it
 * survives the window: `detach()` lets go and the agent keeps running; `attachKeeper(ref)` in the next window replays
 * what it missed, then streams live.
 *
 * Subscribe synchronously after `await startKeeper()` / `await attachKeeper()`: records are dispatched from the next
 * macrotask on, never before.
 */
export class KeeperTransport implements MessageTransport {
  private readonly messageEmitter = new Emitter<unknown>();
  private readonly malformedEmitter = new Emitter<{ raw: string; error: Error }>();
  private readonly closeEmitter = new Emitter<TransportClosed>();
  private readonly inputEmitter = new Emitter<KeeperReplayedInput>();
  readonly onMessage = this.messageEmitter.event;
  readonly onMalformed = this.malformedEmitter.event;
  readonly onClose = this.closeEmitter.event;
  /** Host→agent lines an earlier window sent, in journal order among the replayed messages. */
  readonly onInput = this.inputEmitter.event;

  readonly ref: KeeperRef;
  /** The agent's process id (it leads its process group). */
  readonly pid: number;
  private welcomeInfo: KeeperWelcome;
  private readonly cliStart: string | undefined;
  private readonly keeperPid: number;
  private readonly keeperStart: string | undefined;
  private readonly autoAck: boolean;
  private readonly onStderrText: ((text: string) => void) | undefined;
  private readonly log: Logger;

  private socket: net.Socket | undefined;
  private decoder = new FrameDecoder();
  private queue: Frame[] = [];
  private holding = true;
  private draining = false;
  /** A bad frame arrived on the current connection; the rest of it is ignored until a reconnect. */
  private broken = false;
  private seq: number;
  private ackedSent = 0;
  private ackScheduled = false;
  private stderrText = '';
  private byeReason: string | undefined;
  private byeMessage: string | undefined;
  private detaching = false;
  private reconnecting = false;
  private pendingWrites: Buffer[] = [];
  private offline: { journal: string; metadata: string; log: string } | undefined;
  private closeInfo: TransportClosed | undefined;
  private resolveClosed!: (info: TransportClosed) => void;
  private readonly closedPromise = new Promise<TransportClosed>((resolve) => (this.resolveClosed = resolve));

  private constructor(init: TransportInit) {
    this.ref = init.ref;
    this.welcomeInfo = init.welcome;
    this.pid = init.welcome.cliPid;
    this.cliStart = init.cliStart;
    this.keeperPid = init.keeperPid;
    this.keeperStart = init.keeperStart;
    this.seq = init.lastSeq;
    this.autoAck = init.autoAck;
    this.onStderrText = init.onStderr;
    this.log = init.log;
    this.stderrText = init.welcome.stderrTail;
    // Dispatch starts on the next macrotask, after the caller's `await` continuation has subscribed.
    setImmediate(() => {
      this.holding = false;
      this.drain();
    });
  }

  /** Attaches to a keeper (`attachKeeper`). */
  static attach(ref: KeeperRef, options: KeeperAttachOptions = {}): Promise<KeeperTransport> {
    return attachKeeper(ref, options);
  }

  get keeperId(): string {
    return this.ref.keeperId;
  }

  /** What the keeper said on attach: its status, the journal's range and what earlier windows acknowledged. */
  get welcome(): Readonly<KeeperWelcome> {
    return this.welcomeInfo;
  }

  /** The sequence number of the last record dispatched (inside a listener: the current one). Persist it to resume. */
  get lastSeq(): number {
    return this.seq;
  }

  get stderrTail(): string {
    return this.stderrText;
  }

  get closed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** True while the connection to the keeper is up (false after detach, offline replay, or while reconnecting). */
  get attached(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  send(message: unknown): void {
    this.sendRaw(encodeJsonLine(message));
  }

  /** Writes text as is to the agent's stdin (whole lines). */
  sendRaw(text: string): void {
    if (this.closed || this.offline) throw new Error('The agent process has exited');
    if (!this.write(encodeFrame(FrameType.stdin, text))) throw new Error('The connection to the agent is lost');
  }

  /** Ends the agent gracefully (stdin closed; SIGTERM after `graceMs`, SIGKILL 2 s later). Resolves when it is gone. */
  async close(graceMs = 3000): Promise<TransportClosed> {
    if (this.closeInfo) return this.closeInfo;
    this.write(encodeJsonFrame(FrameType.close, { graceMs }));
    const fallback = setTimeout(() => this.kill(), graceMs + 5000);
    try {
      return await this.closedPromise;
    } finally {
      clearTimeout(fallback);
    }
  }

  /** Sends a frame now, or after the reconnect in progress; false when there is no connection to send it on. */
  private write(frame: Buffer): boolean {
    if (this.socket && !this.socket.destroyed) {
      this.socket.write(frame);
      return true;
    }
    if (!this.reconnecting) return false;
    this.pendingWrites.push(frame);
    return true;
  }

  /** Kills the agent's whole process group at once and ends its keeper (Cancel, Clear). */
  kill(): void {
    if (this.closeInfo) return;
    if (this.offline) {
      this.removeOfflineFiles();
      this.finish({ code: null, signal: null, stderrTail: this.stderrText });
      return;
    }
    const connected = this.socket !== undefined && !this.socket.destroyed;
    if (connected) this.socket?.write(encodeFrame(FrameType.kill));
    // Not only through the keeper: the agent must die even if the keeper is wedged.
    if (isSameProcess(this.pid, this.cliStart)) killProcessTree(this.pid, 'SIGKILL');
    if (!connected) {
      killKeeperProcesses(this.ref, readKeeperMetadata(keeperPaths(this.ref.dir, this.ref.keeperId).metadata));
      this.finish({ code: null, signal: 'SIGKILL', stderrTail: this.stderrText });
    }
  }

  /**
   * Lets go of the agent, which keeps running under its keeper (window closing). onClose fires with a
   * KeeperDetachedError; a later attachKeeper(ref) picks it up.
   */
  async detach(): Promise<TransportClosed> {
    if (this.closeInfo) return this.closeInfo;
    this.detaching = true;
    const socket = this.socket;
    if (!socket || socket.destroyed) {
      this.finish({ code: null, signal: null, stderrTail: this.stderrText, error: new KeeperDetachedError('Detached from the agent; it keeps running under its keeper') });
      return this.closedPromise;
    }
    this.sendAck();
    socket.end();
    const timer = setTimeout(() => socket.destroy(), 1000);
    try {
      return await this.closedPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tells the keeper every record up to `seq` was processed (automatic unless autoAck is false). */
  acknowledge(seq: number = this.seq): void {
    this.sendAck(Math.min(seq, this.seq));
  }

  whenClosed(): Promise<TransportClosed> {
    return this.closedPromise;
  }

  /** @internal Connects a new transport over an authenticated socket (use startKeeper / attachKeeper). */
  static fromConnection(init: TransportInit, connection: OpenConnection): KeeperTransport {
    const transport = new KeeperTransport(init);
    transport.adopt(connection);
    return transport;
  }

  /** @internal A transport that replays an ended keeper's journal from its file, then closes with the recorded exit. */
  static fromJournal(init: TransportInit, frames: Frame[], files: { journal: string; metadata: string; log: string }): KeeperTransport {
    const transport = new KeeperTransport(init);
    transport.offline = files;
    transport.queue = frames;
    return transport;
  }

  private adopt(connection: OpenConnection): void {
    const { socket } = connection;
    this.socket = socket;
    this.decoder = connection.decoder;
    this.byeReason = undefined;
    this.broken = false;
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    socket.on('error', (error) => this.log.debug(`[keeper ${this.ref.keeperId}] socket error: ${error.message}`));
    socket.on('close', () => this.onSocketClosed(socket));
    for (const frame of connection.rest) this.queue.push(frame);
    for (const frame of this.pendingWrites) socket.write(frame);
    this.pendingWrites = [];
    socket.resume();
    this.drain();
  }

  private onChunk(chunk: Buffer): void {
    if (this.holding || this.draining || this.queue.length > 0) {
      // Keep order behind frames still waiting (only right after attach): copy them into the queue.
      try {
        for (const frame of this.decoder.push(chunk)) this.queue.push(frame);
      } catch (error) {
        this.onBadFrame(error);
        return;
      }
      this.drain();
      return;
    }
    this.draining = true;
    try {
      this.decoder.each(chunk, this.visit);
    } catch (error) {
      this.onBadFrame(error);
    } finally {
      this.draining = false;
    }
  }

  /** The hot path: frames straight from the decoder. */
  private readonly visit = (type: number, buffer: Buffer, start: number, end: number): void => {
    if (this.closeInfo || this.broken) return;
    this.dispatch(type, buffer, start, end);
  };

  private onBadFrame(error: unknown): void {
    // A frame that does not decode: drop this connection and reconnect from the last good sequence number.
    this.log.warn(`[keeper ${this.ref.keeperId}] bad frame from the keeper, reconnecting: ${(error as Error).message}`);
    this.broken = true;
    this.queue = [];
    this.socket?.destroy();
  }

  private drain(): void {
    if (this.holding || this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.closeInfo && !this.broken) {
        const frames = this.queue;
        this.queue = [];
        for (const frame of frames) {
          if (this.closeInfo || this.broken) break;
          this.dispatch(frame.type, frame.body, 0, frame.body.length);
        }
      }
    } catch (error) {
      this.onBadFrame(error);
    } finally {
      this.draining = false;
    }
  }

  private dispatch(type: number, buffer: Buffer, start: number, end: number): void {
    switch (type) {
      case FrameType.out:
        forEachRecordLine(buffer, start, end, this.onOutLine);
        this.scheduleAck();
        return;
      case FrameType.in:
        forEachRecordLine(buffer, start, end, (seq, _buffer, from, to) => {
          if (seq <= this.seq) return;
          this.seq = seq;
          // Lines past the welcome's head are this window's own input, not history.
          if (seq > this.welcomeInfo.headSeq) return;
          const raw = decodeLineText(buffer, from, to);
          const parsed = parseJsonLine(raw);
          this.inputEmitter.fire({ seq, raw, message: parsed.ok ? parsed.value : undefined });
        });
        this.scheduleAck();
        return;
      case FrameType.exit: {
        const seq = recordSeq(buffer, start, end);
        this.seq = Math.max(this.seq, seq);
        let exit: KeeperExit;
        try {
          exit = JSON.parse(buffer.toString('utf8', start + 6, end)) as KeeperExit;
        } catch {
          exit = { code: null, signal: null, stderrTail: this.stderrText, stop: 'keeper-error', reason: 'The keeper wrote an unreadable exit record' };
        }
        this.sendAck(seq);
        if (this.offline) this.removeOfflineFiles();
        const stoppedByKeeper = exit.stop === 'idle' || exit.stop === 'keeper-signal' || exit.stop === 'keeper-error';
        this.finish({
          code: exit.code,
          signal: exit.signal,
          stderrTail: exit.stderrTail ?? this.stderrText,
          error: stoppedByKeeper ? new KeeperStoppedError(exit.reason ?? 'The keeper stopped the agent', exit.stop) : undefined,
        });
        return;
      }
      case FrameType.stderr: {
        const text = buffer.toString('utf8', start, end);
        this.stderrText = (this.stderrText + text).slice(-8192);
        this.onStderrText?.(text);
        return;
      }
      case FrameType.bye: {
        try {
          const bye = JSON.parse(buffer.toString('utf8', start, end)) as { reason?: string; message?: string };
          this.byeReason = bye.reason;
          this.byeMessage = bye.message;
        } catch {
          this.byeReason = 'unknown';
        }
        return;
      }
      default:
        return;
    }
  }

  /** One line the agent wrote: parsed and delivered exactly as ProcessTransport delivers it, once per seq. */
  private readonly onOutLine = (seq: number, buffer: Buffer, start: number, end: number): void => {
    if (seq <= this.seq || this.closeInfo) return; // Exactly once, whatever a reconnect replays.
    this.seq = seq;
    const text = decodeLineText(buffer, start, end);
    if (text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === '')) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.malformedEmitter.fire({ raw: text, error: error instanceof Error ? error : new Error(String(error)) });
      return;
    }
    this.messageEmitter.fire(value);
  };

  private scheduleAck(): void {
    if (!this.autoAck || this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      this.sendAck();
    });
  }

  private sendAck(seq: number = this.seq): void {
    if (seq <= this.ackedSent || this.offline) return;
    const socket = this.socket;
    if (!socket || socket.destroyed || !socket.writable) return;
    this.ackedSent = seq;
    socket.write(encodeAck(seq));
  }

  private onSocketClosed(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    if (this.closeInfo) return;
    if (this.detaching) {
      this.finish({ code: null, signal: null, stderrTail: this.stderrText, error: new KeeperDetachedError('Detached from the agent; it keeps running under its keeper') });
      return;
    }
    if (this.byeReason === 'replaced') {
      this.finish({ code: null, signal: null, stderrTail: this.stderrText, error: new KeeperDetachedError('Another window attached to this agent') });
      return;
    }
    if (this.byeReason === 'error') {
      // The keeper failed and killed the agent; its message says why.
      this.finish({ code: null, signal: 'SIGKILL', stderrTail: this.stderrText, error: new KeeperStoppedError(this.byeMessage ?? 'The keeper failed', 'keeper-error') });
      return;
    }
    void this.reconnect();
  }

  /** The connection dropped without an exit record: reconnect if the keeper lives, else report it lost. */
  private async reconnect(): Promise<void> {
    this.reconnecting = true;
    const paths = keeperPaths(this.ref.dir, this.ref.keeperId);
    const metadata = readKeeperMetadata(paths.metadata);
    try {
      if (metadata && metadata.status !== 'ended' && isSameProcess(metadata.pid, metadata.pidStart)) {
        const connection = await openConnection(paths.socket, metadata.token, this.seq, RECONNECT_TIMEOUT_MS);
        if (this.closeInfo) {
          // Detached or killed meanwhile.
          connection.socket.destroy();
          return;
        }
        this.welcomeInfo = connection.welcome;
        this.ackedSent = Math.min(this.ackedSent, connection.welcome.ackedSeq);
        this.reconnecting = false;
        this.log.info(`[keeper ${this.ref.keeperId}] reconnected after the connection dropped`);
        this.adopt(connection);
        return;
      }
    } catch (error) {
      this.log.warn(`[keeper ${this.ref.keeperId}] could not reconnect: ${(error as Error).message}`);
    }
    this.reconnecting = false;
    this.pendingWrites = [];
    // A killed process closes its sockets a moment before it leaves the process table.
    const alive = !(await waitUntil(() => !isSameProcess(this.keeperPid, this.keeperStart), 500));
    if (this.closeInfo) return; // detached meanwhile: leave the agent alone
    // An agent nobody can reach would run unattended until keepRunningMinutes: end it (the watchdog would too).
    if (isSameProcess(this.pid, this.cliStart)) killProcessTree(this.pid, 'SIGKILL');
    killKeeperProcesses(this.ref, metadata);
    removeKeeperFiles(this.ref);
    this.finish({
      code: null,
      signal: null,
      stderrTail: this.stderrText,
      error: new KeeperLostError(
        alive
          ? `Lost the connection to the agent's keeper (pid ${this.keeperPid}); the agent was stopped`
          : `The agent's keeper (pid ${this.keeperPid}) stopped unexpectedly; the agent was stopped with it`,
      ),
    });
  }

  private removeOfflineFiles(): void {
    if (!this.offline) return;
    removeQuietly(this.offline.journal);
    removeQuietly(this.offline.metadata);
    removeQuietly(this.offline.log);
  }

  private finish(info: TransportClosed): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    const socket = this.socket;
    if (socket && !socket.destroyed) {
      // After the exit record (and its acknowledgement, already queued) the connection has nothing left to carry.
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    }
    this.resolveClosed(info);
    this.closeEmitter.fire(info);
  }
}

interface OpenConnection {
  socket: net.Socket;
  decoder: FrameDecoder;
  welcome: KeeperWelcome;
  /** Frames that arrived with the welcome. */
  rest: Frame[];
}

/** Connects, authenticates and reads the welcome; the socket is returned paused. */
function openConnection(socketPath: string, token: string, lastSeq: number, timeoutMs: number): Promise<OpenConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const decoder = new FrameDecoder();
    let settled = false;
    const settle = (error?: Error, connection?: OpenConnection): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(connection as OpenConnection);
    };
    const timer = setTimeout(() => settle(new KeeperGoneError(`The keeper did not answer on ${socketPath} within ${timeoutMs} ms`)), timeoutMs);
    const onError = (error: NodeJS.ErrnoException): void => {
      const gone = error.code === 'ENOENT' || error.code === 'ECONNREFUSED';
      settle(gone ? new KeeperGoneError(`No keeper listens on ${socketPath} (${error.code})`) : error);
    };
    const onClose = (): void => settle(new KeeperRefusedError('The keeper closed the connection without a welcome (wrong token, or it is ending)'));
    const onData = (chunk: Buffer): void => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        settle(error as Error);
        return;
      }
      if (frames.length === 0) return;
      const [first, ...rest] = frames;
      if (first.type !== FrameType.welcome) {
        settle(new KeeperRefusedError(`The keeper answered with frame type ${first.type} instead of a welcome`));
        return;
      }
      let welcome: KeeperWelcome;
      try {
        welcome = JSON.parse(first.body.toString('utf8')) as KeeperWelcome;
      } catch (error) {
        settle(error as Error);
        return;
      }
      socket.pause();
      settle(undefined, { socket, decoder, welcome, rest });
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once('connect', () => socket.write(encodeJsonFrame(FrameType.hello, { v: KEEPER_PROTOCOL_VERSION, token, lastSeq })));
  });
}

/**
 * Starts an agent under a new detached keeper and attaches to it. Rejects with CommandNotFoundError when the
 * executable does not exist (ProcessTransport reports that through onClose instead), or KeeperStartError.
 */
export async function startKeeper(options: KeeperStartOptions): Promise<KeeperTransport> {
  const log = options.log ?? silentLogger;
  const script = options.keeperScript ?? defaultKeeperScript();
  if (!fs.existsSync(script)) throw new KeeperStartError(`The keeper bundle ${script} is missing; rebuild the extension (npm run build)`);
  try {
    ensurePrivateDir(options.dir, 'agent sockets');
  } catch (error) {
    throw new KeeperStartError((error as Error).message);
  }
  const id = randomBytes(6).toString('hex');
  const token = randomBytes(32).toString('base64url');
  const paths = keeperPaths(options.dir, id);
  if (Buffer.byteLength(paths.socket) >= MAX_SOCKET_PATH_BYTES) {
    throw new KeeperStartError(`The keeper socket path is too long for a Unix socket: ${paths.socket}`);
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
    return fail(new KeeperStartError((error as Error).message, readTail(paths.log)));
  } finally {
    child.stdout?.destroy();
    child.stdin?.destroy();
    child.unref();
  }
  if (!ready.ok) {
    if (ready.code === 'ENOENT' || ready.code === 'EACCES') return fail(new CommandNotFoundError(options.command));
    return fail(new KeeperStartError(`The keeper could not start ${options.command}: ${ready.message ?? 'unknown error'}`, readTail(paths.log)));
  }
  const metadata = readKeeperMetadata(paths.metadata);
  if (!metadata) return fail(new KeeperStartError('The keeper reported ready but wrote no metadata', readTail(paths.log)));
  log.info(`[keeper ${id}] started ${options.command} (pid ${metadata.cliPid}) for task ${options.taskId}`);
  try {
    const connection = await openConnection(paths.socket, token, 0, DEFAULT_ATTACH_TIMEOUT_MS);
    return KeeperTransport.fromConnection(
      { ref: { keeperId: id, dir: options.dir }, welcome: connection.welcome, ...processIds(metadata), lastSeq: 0, autoAck: true, onStderr: options.onStderr, log },
      connection,
    );
  } catch (error) {
    killKeeperProcesses({ keeperId: id, dir: options.dir }, metadata);
    return fail(new KeeperStartError(`Could not connect to the keeper: ${(error as Error).message}`, readTail(paths.log)));
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
  if (!isKeeperId(ref?.keeperId) || typeof ref.dir !== 'string') throw new KeeperGoneError('The task has no valid keeper reference');
  const paths = keeperPaths(ref.dir, ref.keeperId);
  const metadata = readKeeperMetadata(paths.metadata);
  if (!metadata) throw new KeeperGoneError(`The agent's keeper ${ref.keeperId} is gone (no metadata in ${ref.dir})`);
  const lastSeq = Math.max(0, options.lastSeq ?? 0);
  const base = { ref, ...processIds(metadata), lastSeq, autoAck: options.autoAck ?? true, onStderr: options.onStderr, log };
  if (metadata.status === 'ended') return openJournal(base, metadata, paths);
  if (!isSameProcess(metadata.pid, metadata.pidStart)) {
    reapDeadKeeper(metadata, ref);
    throw new KeeperGoneError(
      `The agent's keeper (pid ${metadata.pid}) is no longer running; the agent was stopped with it${metadata.reason ? ` (${metadata.reason})` : ''}`,
      metadata.reason,
    );
  }
  let connection: OpenConnection;
  try {
    connection = await openConnection(paths.socket, metadata.token, lastSeq, options.timeoutMs ?? DEFAULT_ATTACH_TIMEOUT_MS);
  } catch (error) {
    if (!(error instanceof KeeperGoneError)) throw error;
    // Alive but unreachable (its socket file was deleted, or it is wedged): stop it, so that a provider falling back to
    // resuming the session never has two agents on it.
    reapDeadKeeper(metadata, ref);
    throw new KeeperGoneError(`The agent's keeper (pid ${metadata.pid}) could not be reached (${error.message}); it was stopped with its agent`);
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
    throw new KeeperGoneError(`The agent's keeper ended${metadata.reason ? `: ${metadata.reason}` : ''}; its journal is gone`, metadata.reason);
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
    throw new KeeperGoneError(`The agent's keeper ended without recording the agent's exit${metadata.reason ? ` (${metadata.reason})` : ''}`, metadata.reason);
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

/** Lists the keepers in `dir`. With `cleanup` (default) dead keepers, long-ended ones and stray files are removed. */
export function listKeepers(dir: string, options: { cleanup?: boolean; endedRetentionMs?: number } = {}): KeeperInfo[] {
  const cleanup = options.cleanup ?? true;
  const retention = options.endedRetentionMs ?? 7 * 24 * 60 * 60_000;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const infos: KeeperInfo[] = [];
  const known = new Set<string>();
  for (const name of names) {
    const match = /^k-([0-9a-f]{12})\.json$/.exec(name);
    if (!match) continue;
    const ref: KeeperRef = { keeperId: match[1], dir };
    const metadata = readKeeperMetadata(path.join(dir, name));
    if (!metadata) continue;
    known.add(ref.keeperId);
    const live = metadata.status !== 'ended' && isSameProcess(metadata.pid, metadata.pidStart);
    const state: KeeperInfo['state'] = live ? 'live' : metadata.status === 'ended' ? 'ended' : 'dead';
    infos.push({
      ref,
      taskId: metadata.taskId,
      provider: metadata.provider,
      state,
      status: metadata.status,
      pid: metadata.pid,
      cliPid: metadata.cliPid,
      createdAt: metadata.createdAt,
      updatedAt: metadata.updatedAt,
      hostAttached: live && metadata.hostAttached,
      stop: metadata.stop,
      reason: metadata.reason,
      exit: metadata.exit,
    });
    if (!cleanup) continue;
    if (state === 'dead') reapDeadKeeper(metadata, ref);
    else if (state === 'ended' && Date.now() - metadata.updatedAt > retention) removeKeeperFiles(ref);
  }
  if (cleanup) removeStrayFiles(dir, names, known);
  return infos;
}

/**
 * Ends a keeper and its agent without attaching (Clear of a task whose agent runs detached, or a keeper whose task
 * is gone). Resolves true when there was something to end.
 */
export async function killKeeper(ref: KeeperRef, timeoutMs = 3000): Promise<boolean> {
  if (!isKeeperId(ref?.keeperId)) return false;
  const paths = keeperPaths(ref.dir, ref.keeperId);
  const metadata = readKeeperMetadata(paths.metadata);
  if (!metadata) {
    removeKeeperFiles(ref);
    return false;
  }
  if (metadata.status !== 'ended' && isSameProcess(metadata.pid, metadata.pidStart)) {
    try {
      const connection = await openConnection(paths.socket, metadata.token, Number.MAX_SAFE_INTEGER, timeoutMs);
      const closed = new Promise<void>((resolve) => connection.socket.once('close', () => resolve()));
      connection.socket.resume();
      connection.socket.write(encodeFrame(FrameType.kill));
      await Promise.race([closed, delay(timeoutMs)]);
      connection.socket.destroy();
    } catch {
      // Fall through to the signals.
    }
  }
  killKeeperProcesses(ref, metadata);
  removeKeeperFiles(ref);
  return true;
}

/**
 * One socket directory and keeper bundle for the providers of a workspace (built by the container): start an agent,
 * attach after a reload, list, kill.
 */
export class KeeperLauncher {
  constructor(private readonly options: { dir: string; keeperScript?: string; log?: Logger }) {}

  get dir(): string {
    return this.options.dir;
  }

  start(options: Omit<KeeperStartOptions, 'dir' | 'keeperScript' | 'log'>): Promise<KeeperTransport> {
    return startKeeper({ ...options, dir: this.options.dir, keeperScript: this.options.keeperScript, log: this.options.log });
  }

  attach(ref: KeeperRef, options: KeeperAttachOptions = {}): Promise<KeeperTransport> {
    return attachKeeper(ref, { log: this.options.log, ...options });
  }

  list(options?: { cleanup?: boolean; endedRetentionMs?: number }): KeeperInfo[] {
    return listKeepers(this.options.dir, options);
  }

  kill(ref: KeeperRef): Promise<boolean> {
    return killKeeper(ref);
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

/** Kills what a keeper's metadata names, only where the pid is still the same process (never a reused pid). */
function killKeeperProcesses(ref: KeeperRef, metadata: KeeperMetadata | undefined): void {
  if (!metadata) return;
  if (isSameProcess(metadata.cliPid, metadata.cliStart)) killProcessTree(metadata.cliPid, 'SIGKILL');
  if (isSameProcess(metadata.pid, metadata.pidStart)) {
    try {
      process.kill(metadata.pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
  if (metadata.watchdogPid !== undefined && commandLineIncludes(metadata.watchdogPid, `--keeper=${ref.keeperId}`)) {
    try {
      process.kill(metadata.watchdogPid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
}

/** A keeper died: make sure its agent did too, then remove its files. */
function reapDeadKeeper(metadata: KeeperMetadata, ref: KeeperRef): void {
  killKeeperProcesses(ref, metadata);
  removeKeeperFiles(ref);
}

/** Removes every file of a keeper: socket, journal, metadata, log and any temporary file a crash left. */
function removeKeeperFiles(ref: KeeperRef): void {
  const prefix = `k-${ref.keeperId}.`;
  let names: string[];
  try {
    names = fs.readdirSync(ref.dir);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(prefix)) removeQuietly(path.join(ref.dir, name));
}

/** Keeper files with no metadata (a keeper that died while starting), older than a minute so a starting one is spared. */
function removeStrayFiles(dir: string, names: string[], known: Set<string>): void {
  for (const name of names) {
    const match = /^k-([0-9a-f]{12})\.(sock|journal|journal\.tmp|log|json\.\d+\.tmp)$/.exec(name);
    if (!match || known.has(match[1])) continue;
    const file = path.join(dir, name);
    try {
      if (Date.now() - fs.lstatSync(file).mtimeMs > 60_000) fs.unlinkSync(file);
    } catch {
      // Gone meanwhile.
    }
  }
}

