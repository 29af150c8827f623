// The host's connection to one keeper (see the class below); how providers use it: keeper/index.ts.
import type * as net from 'node:net';
import { Emitter, type Logger } from '../../core/events';
import { encodeJsonLine, parseJsonLine } from '../../platform/jsonl';
import { decodeLineText, forEachRecordLine, forEachRecordText, recordSeq, encodeAck, encodeFrame, encodeJsonFrame, FrameDecoder } from '../framing';
import { FrameType, MAX_LINE_BYTES, type Frame, type KeeperExit, type KeeperWelcome } from '../protocol';
import { keeperPaths, readKeeperMetadata } from '../files';
import { isSameProcess, killProcessTree, removeQuietly, waitUntil } from '../../platform/process';
import { BaseTransport, type TransportClosed } from '../../providers/transport/transport';
import { KeeperError } from './errors';
import { reconnectToKeeper, type OpenConnection } from './connection';
import { killKeeperProcesses, removeKeeperFiles } from './keepers';
import type { KeeperRef, KeeperReplayedInput, TransportInit } from './launcher';

/**
 * An agent's stdio through its keeper, as a MessageTransport: to a provider it behaves like ProcessTransport (JSON
 * lines both ways, onMalformed with the raw line, onClose with code/signal/stderrTail, close(graceMs), kill()), and it
 * survives the window: `detach()` lets go and the agent keeps running; `attachKeeper(ref)` in the next window replays
 * what it missed, then streams live.
 *
 * Subscribe synchronously after `await startKeeper()` / `await attachKeeper()`: records are dispatched from the next
 * macrotask on, never before.
 */
export class KeeperTransport extends BaseTransport {
  private readonly inputEmitter = new Emitter<KeeperReplayedInput>();
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
    super();
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
      this.finish({ code: null, signal: null, stderrTail: this.stderrText, error: new KeeperError('detached', 'Detached from the agent; it keeps running under its keeper') });
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
        if (end - start < MAX_LINE_BYTES) forEachRecordText(buffer, start, end, this.onOutText);
        else forEachRecordLine(buffer, start, end, this.onOutLine);
        this.scheduleAck();
        return;
      case FrameType.in:
        forEachRecordText(buffer, start, end, (seq, raw) => {
          if (seq <= this.seq) return;
          this.seq = seq;
          // Lines past the welcome's head are this window's own input, not history.
          if (seq > this.welcomeInfo.headSeq) return;
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
          error: stoppedByKeeper ? new KeeperError('stopped', exit.reason ?? 'The keeper stopped the agent', { stop: exit.stop }) : undefined,
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

  /** One line of a record long enough to hold a line the keeper cut (L1), which ends the task; others go to onOutText. */
  private readonly onOutLine = (seq: number, buffer: Buffer, start: number, end: number): void => {
    if (seq <= this.seq || this.closeInfo) return;
    if (end - start >= MAX_LINE_BYTES) {
      this.seq = seq;
      // The keeper cut a line over the cap (L1): its pieces are not JSON, and the rest is not read. End the task clearly.
      this.log.warn(`[keeper ${this.ref.keeperId}] the agent sent a line of ${MAX_LINE_BYTES} bytes or more; stopping it`);
      this.kill();
      const error = new Error(`The agent was stopped: it sent a line longer than ${MAX_LINE_BYTES / (1024 * 1024)} MiB, more than Agent Tasks reads`);
      return this.finish({ code: null, signal: 'SIGKILL', stderrTail: this.stderrText, error });
    }
    this.onOutText(seq, decodeLineText(buffer, start, end));
  };

  /** One line the agent wrote: parsed and delivered exactly as ProcessTransport delivers it, once per seq. */
  private readonly onOutText = (seq: number, text: string): void => {
    if (seq <= this.seq || this.closeInfo) return; // Exactly once, whatever a reconnect replays.
    this.seq = seq;
    this.deliverLine(text);
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
      this.finish({ code: null, signal: null, stderrTail: this.stderrText, error: new KeeperError('detached', 'Detached from the agent; it keeps running under its keeper') });
      return;
    }
    if (this.byeReason === 'replaced') {
      this.finish({ code: null, signal: null, stderrTail: this.stderrText, error: new KeeperError('detached', 'Another window attached to this agent') });
      return;
    }
    if (this.byeReason === 'error') {
      // The keeper failed and killed the agent; its message says why.
      this.finish({ code: null, signal: 'SIGKILL', stderrTail: this.stderrText, error: new KeeperError('stopped', this.byeMessage ?? 'The keeper failed', { stop: 'keeper-error' }) });
      return;
    }
    void this.reconnect();
  }

  /** The connection dropped without an exit record: reconnect if the keeper lives, else report it lost. */
  private async reconnect(): Promise<void> {
    this.reconnecting = true;
    const { metadata, connection, error } = await reconnectToKeeper(this.ref, this.seq);
    if (error) this.log.warn(`[keeper ${this.ref.keeperId}] could not reconnect: ${error.message}`);
    if (connection) {
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
      error: new KeeperError(
        'lost',
        alive
          ? `Lost the connection to the agent's keeper (pid ${this.keeperPid}); the agent was stopped`
          : `The agent's keeper (pid ${this.keeperPid}) stopped unexpectedly; the agent was stopped with it`,
      ),
    });
  }

  private removeOfflineFiles(): void {
    for (const file of Object.values(this.offline ?? {})) removeQuietly(file);
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

