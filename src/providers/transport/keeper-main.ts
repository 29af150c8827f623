/**
 * The keeper: a small detached process (bundled as dist/keeper.js) that holds a stdio agent's pipes so the agent
 * outlives the window. It journals every line the agent writes with a sequence number, serves one private Unix socket
 * (0600, token) to the host, replays what a reattaching host missed, and forwards what the host sends to the agent's
 * stdin. The config (with the agent's environment, which may hold secrets) arrives on stdin and is never written.
 *
 * Lifetime: the keeper ends when the agent exited and the host acknowledged the exit record (files removed); when the
 * host asks for a kill (files removed); or when no host was attached for `keepRunningMs` (the agent is stopped
 * gracefully and the metadata and journal are kept, so a later host learns why and what happened meanwhile).
 *
 * Orphans: the agent leads its own process group. If the keeper dies, even by SIGKILL, the agent's stdin closes (stdio
 * agents exit on EOF), and a tiny /bin/sh watchdog that polls the keeper every `watchdogPollMs` sends SIGTERM, then
 * SIGKILL two seconds later, to the agent's group — so an agent that ignores EOF is gone within poll + 2 s.
 *
 *   node keeper.js --keeper=<id>      (config JSON on stdin; one JSON line on stdout when ready; log on stderr)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import {
  ByteLineSplitter,
  decodeAck,
  encodeFrame,
  encodeJsonFrame,
  encodeExitRecord,
  encodeLineRecord,
  forEachRecordLine,
  FrameDecoder,
  FrameType,
  KEEPER_PROTOCOL_VERSION,
  keeperPaths,
  LineBatcher,
  MAX_FRAME_BYTES,
  MAX_HELLO_BYTES,
  MAX_SOCKET_PATH_BYTES,
  writeKeeperMetadata,
  type Frame,
  type KeeperConfig,
  type KeeperExit,
  type KeeperHello,
  type KeeperMetadata,
  type KeeperPaths,
  type KeeperStopKind,
  type KeeperWelcome,
} from './keeper-protocol';
import { ensurePrivateDir } from '../../platform/private-dir';
import { killProcessTree, processStartTime, removeQuietly } from '../../platform/process';

/** What the keeper prints on stdout once: the host waits for it before connecting. */
export type KeeperReady = { ok: true; cliPid: number; socketPath: string } | { ok: false; code?: string; message: string };

const STDERR_TAIL_BYTES = 8 * 1024;
const AUTH_TIMEOUT_MS = 5000;
const REPLAY_CHUNK_BYTES = 1024 * 1024;
const BACKPRESSURE_BYTES = 4 * 1024 * 1024;
/** A host gets at least this long to attach right after the start, whatever keepRunningMs says. */
const FIRST_ATTACH_MS = 15_000;
const HOST_CLOSE_KILL_AFTER_MS = 2000;

/**
 * Polls the keeper; once it is gone (or a zombie, or its pid was reused: the command line must name the keeper id),
 * SIGTERM to the agent's group, then SIGKILL after `steps` more polls. Ends by itself when the group is gone.
 */
const WATCHDOG_SCRIPT = `
keeper="$1"; group="$2"; tag="$3"; poll="$4"; steps="$5"
keeper_alive() {
  kill -0 "$keeper" 2>/dev/null || return 1
  [ -r "/proc/$keeper/cmdline" ] || return 0
  tr '\\000' ' ' < "/proc/$keeper/cmdline" | grep -q -e "$tag"
}
while kill -0 -"$group" 2>/dev/null; do
  if ! keeper_alive; then
    kill -TERM -"$group" 2>/dev/null
    n=0
    while kill -0 -"$group" 2>/dev/null && [ "$n" -lt "$steps" ]; do sleep "$poll"; n=$((n + 1)); done
    kill -KILL -"$group" 2>/dev/null
    exit 0
  fi
  sleep "$poll"
done
`;

interface Client {
  socket: net.Socket;
  replaying: boolean;
}

class Keeper {
  private readonly paths: KeeperPaths;
  private readonly tokenDigest: Buffer;
  private metadata!: KeeperMetadata;
  private child!: ChildProcess;
  private watchdog: ChildProcess | undefined;
  private server: net.Server | undefined;
  private journalFd = -1;
  private journalSize = 0;
  /** The journal offset and first sequence number of every record, in order (the replay index). */
  private recordStarts: number[] = [];
  private recordSeqs: number[] = [];
  private firstSeq = 1;
  private nextSeq = 1;
  private ackedSeq = 0;
  private exitSeq: number | undefined;
  private exitInfo: KeeperExit | undefined;
  private client: Client | undefined;
  private readonly stdoutBatcher = new LineBatcher(FrameType.out);
  private stderrTail = '';
  private stopKind: KeeperStopKind | undefined;
  private stopReason: string | undefined;
  private stdinEnded = false;
  private readonly stopTimers = new Set<NodeJS.Timeout>();
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly stdoutHolds = new Set<'replay' | 'backpressure'>();
  private activeReplays = 0;
  private finishing = false;

  constructor(private readonly config: KeeperConfig) {
    this.paths = keeperPaths(config.dir, config.id);
    this.tokenDigest = digest(config.token);
  }

  /** Starts the agent and the socket; resolves with what to report to the host. */
  async start(): Promise<KeeperReady> {
    const { config, paths } = this;
    ensurePrivateDir(config.dir, 'agent sockets');
    if (Buffer.byteLength(paths.socket) >= MAX_SOCKET_PATH_BYTES) {
      return { ok: false, code: 'EPATHTOOLONG', message: `The socket path is too long for a Unix socket: ${paths.socket}` };
    }
    this.journalFd = fs.openSync(paths.journal, 'wx+', 0o600);
    const spawned = await this.spawnAgent();
    if (!spawned.ok) {
      fs.closeSync(this.journalFd);
      removeQuietly(paths.journal);
      return spawned;
    }
    const cliPid = this.child.pid as number;
    this.watchdog = startWatchdog(cliPid, config);
    try {
      await this.listen();
    } catch (error) {
      killProcessTree(cliPid, 'SIGKILL');
      this.watchdog?.kill('SIGKILL');
      removeQuietly(paths.journal);
      throw error;
    }
    const now = Date.now();
    this.metadata = {
      version: 1,
      id: config.id,
      taskId: config.taskId,
      provider: config.provider,
      command: config.command,
      pid: process.pid,
      pidStart: processStartTime(process.pid),
      cliPid,
      cliStart: processStartTime(cliPid),
      watchdogPid: this.watchdog?.pid,
      socketPath: paths.socket,
      journalPath: paths.journal,
      token: config.token,
      keepRunningMs: config.keepRunningMs,
      createdAt: now,
      updatedAt: now,
      status: 'running',
      hostAttached: false,
    };
    this.saveMetadata();
    this.armIdleTimer(Math.max(config.keepRunningMs, FIRST_ATTACH_MS));
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      process.on(signal, () => this.stop('keeper-signal', `The keeper received ${signal}; the agent was stopped`));
    }
    log(`started ${config.command} (pid ${cliPid}) for task ${config.taskId}`);
    return { ok: true, cliPid, socketPath: paths.socket };
  }

  /** The keeper cannot go on (journal unwritable, a bug): stop the agent at once and say why. */
  fail(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    log(`failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
    if (this.finishing) process.exit(1);
    this.stopKind = 'keeper-error';
    this.stopReason = `The keeper failed (${message}); the agent was stopped`;
    if (this.child?.pid !== undefined) killProcessTree(this.child.pid, 'SIGKILL');
    if (this.metadata) {
      this.metadata.status = 'ended';
      this.metadata.stop = 'keeper-error';
      this.metadata.reason = this.stopReason;
      try {
        this.saveMetadata();
      } catch {
        // Nothing more to do.
      }
    }
    this.client?.socket.end(encodeJsonFrame(FrameType.bye, { reason: 'error', message: this.stopReason }));
    this.watchdog?.kill('SIGKILL');
    removeQuietly(this.paths.socket);
    setTimeout(() => process.exit(1), 200).unref();
  }

  private spawnAgent(): Promise<KeeperReady> {
    const { config } = this;
    return new Promise((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(config.command, config.args, {
          cwd: config.cwd,
          env: config.env,
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: process.platform !== 'win32',
          windowsHide: true,
        });
      } catch (error) {
        resolve({ ok: false, code: (error as NodeJS.ErrnoException).code, message: (error as Error).message });
        return;
      }
      this.child = child;
      child.once('error', (error: NodeJS.ErrnoException) => {
        if (child.pid !== undefined) return log(`agent process error: ${error.message}`);
        const code = error.code === 'ENOENT' && !fs.existsSync(config.cwd) ? 'ENOCWD' : error.code;
        resolve({ ok: false, code, message: code === 'ENOCWD' ? `The working directory ${config.cwd} does not exist` : error.message });
      });
      child.once('spawn', () => {
        child.stdout?.on('data', (chunk: Buffer) => this.onAgentStdout(chunk));
        child.stderr?.on('data', (chunk: Buffer) => this.onAgentStderr(chunk));
        child.stdin?.on('error', () => undefined);
        child.once('close', (code, signal) => this.onAgentClosed(code, signal));
        resolve({ ok: true, cliPid: child.pid as number, socketPath: this.paths.socket });
      });
    });
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => this.onConnection(socket));
      this.server = server;
      server.once('error', reject);
      // The socket is created 0600: the directory is private too, but a socket should not rely on that alone.
      const previous = process.umask(0o177);
      server.listen(this.paths.socket, () => {
        process.umask(previous);
        fs.chmodSync(this.paths.socket, 0o600);
        server.off('error', reject);
        server.on('error', (error) => this.fail(error));
        resolve();
      });
    });
  }

  private onConnection(socket: net.Socket): void {
    const decoder = new FrameDecoder(MAX_HELLO_BYTES);
    let authenticated = false;
    const authTimer = setTimeout(() => socket.destroy(), AUTH_TIMEOUT_MS);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(authTimer);
      if (this.client?.socket === socket) this.onClientGone();
    });
    socket.on('data', (chunk: Buffer) => {
      let frames: Frame[];
      try {
        frames = decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (socket.destroyed) return;
        if (!authenticated) {
          const hello = this.checkHello(frame);
          // Refused: nothing is sent, not even a reason.
          if (!hello) return void socket.destroy();
          authenticated = true;
          clearTimeout(authTimer);
          decoder.maxFrameBytes = MAX_FRAME_BYTES;
          this.onClientAttached(socket, hello.lastSeq);
          continue;
        }
        // A window that was replaced by a newer one is ignored until its connection ends.
        if (this.client?.socket !== socket) continue;
        try {
          this.onClientFrame(frame);
        } catch (error) {
          log(`dropping a host connection after a bad frame: ${(error as Error).message}`);
          socket.destroy();
          return;
        }
      }
    });
  }

  private checkHello(frame: Frame): KeeperHello | undefined {
    if (frame.type !== FrameType.hello || this.finishing) return undefined;
    let hello: KeeperHello;
    try {
      hello = JSON.parse(frame.body.toString('utf8')) as KeeperHello;
    } catch {
      return undefined;
    }
    if (!hello || typeof hello.token !== 'string' || hello.v !== KEEPER_PROTOCOL_VERSION) return undefined;
    if (!timingSafeEqual(digest(hello.token), this.tokenDigest)) return undefined;
    const lastSeq = Number.isSafeInteger(hello.lastSeq) && hello.lastSeq > 0 ? hello.lastSeq : 0;
    return { ...hello, lastSeq };
  }

  private onClientAttached(socket: net.Socket, lastSeq: number): void {
    const previous = this.client;
    if (previous) {
      // One host at a time: the newest window wins.
      previous.socket.end(encodeJsonFrame(FrameType.bye, { reason: 'replaced' }));
      this.stdoutHolds.delete('backpressure');
    }
    const client: Client = { socket, replaying: true };
    this.client = client;
    this.cancelIdleTimer();
    this.metadata.hostAttached = true;
    this.metadata.detachedAt = undefined;
    this.saveMetadata();
    const welcome: KeeperWelcome = {
      v: KEEPER_PROTOCOL_VERSION,
      keeperId: this.config.id,
      cliPid: this.metadata.cliPid,
      status: this.exitInfo ? 'exited' : this.stopKind ? 'stopping' : 'running',
      firstSeq: this.firstSeq,
      headSeq: this.nextSeq - 1,
      ackedSeq: this.ackedSeq,
      stderrTail: this.stderrTail,
    };
    socket.write(encodeJsonFrame(FrameType.welcome, welcome));
    void this.replay(client, lastSeq).catch((error) => this.fail(error));
  }

  /** Sends the journal after `lastSeq`, then switches the client to live records. Agent output waits meanwhile. */
  private async replay(client: Client, lastSeq: number): Promise<void> {
    this.activeReplays++;
    this.hold('replay');
    try {
      // The exit record is always sent again, so a host that saw it but did not acknowledge it still learns the end.
      const from = Math.max(Math.min(lastSeq + 1, this.exitSeq ?? Infinity), this.firstSeq);
      let offset = this.journalSize;
      if (from < this.nextSeq) {
        const index = this.recordIndexOf(from);
        offset = this.recordStarts[index];
        if (this.recordSeqs[index] < from) {
          // `from` is inside a batch: send its tail as a record of its own, then whole records.
          const end = this.recordStarts[index + 1] ?? this.journalSize;
          if (!client.socket.write(this.tailOfRecord(offset, end, from))) await drained(client.socket);
          offset = end;
        }
      }
      // Records appended meanwhile (host input, the exit record) are picked up: the loop runs to the current end.
      while (offset < this.journalSize) {
        if (this.client !== client || client.socket.destroyed) return;
        const buffer = Buffer.allocUnsafe(Math.min(REPLAY_CHUNK_BYTES, this.journalSize - offset));
        const read = fs.readSync(this.journalFd, buffer, 0, buffer.length, offset);
        if (read <= 0) throw new Error(`the journal ended at ${offset} of ${this.journalSize} bytes`);
        offset += read;
        if (!client.socket.write(read === buffer.length ? buffer : buffer.subarray(0, read))) await drained(client.socket);
      }
    } finally {
      this.activeReplays--;
      client.replaying = false;
      this.release('replay');
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
    fs.readSync(this.journalFd, frame, 0, frame.length, start);
    const lines: Buffer[] = [];
    forEachRecordLine(frame, 5, frame.length, (lineSeq, _buffer, from, to) => {
      if (lineSeq >= seq) lines.push(frame.subarray(from, to));
    });
    return encodeLineRecord(frame[4], seq, lines);
  }

  private onClientFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.stdin:
        this.writeAgentStdin(frame.body);
        return;
      case FrameType.ack:
        this.acknowledge(decodeAck(frame.body));
        return;
      case FrameType.close: {
        const { graceMs } = JSON.parse(frame.body.toString('utf8')) as { graceMs?: number };
        this.stop('host-close', undefined, typeof graceMs === 'number' && graceMs >= 0 ? graceMs : 3000);
        return;
      }
      case FrameType.kill:
        this.killAgent();
        return;
      default:
        throw new Error(`unexpected frame type ${frame.type}`);
    }
  }

  private onClientGone(): void {
    this.client = undefined;
    this.release('backpressure');
    if (this.finishing) return;
    this.metadata.hostAttached = false;
    this.metadata.detachedAt = Date.now();
    this.saveMetadata();
    this.armIdleTimer(this.config.keepRunningMs);
  }

  private onAgentStdout(chunk: Buffer): void {
    const batch = this.stdoutBatcher.push(chunk, this.nextSeq);
    if (batch) this.appendRecord(FrameType.out, batch.frame, batch.count);
  }

  private onAgentStderr(chunk: Buffer): void {
    this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
    const client = this.client;
    if (client && !client.replaying) client.socket.write(encodeFrame(FrameType.stderr, chunk));
  }

  private writeAgentStdin(bytes: Buffer): void {
    const stdin = this.child.stdin;
    // Once stdin is closed (or the agent gone) input is dropped and not journaled: the agent never read it.
    if (this.exitInfo || this.stdinEnded || !stdin || !stdin.writable) return;
    const splitter = new ByteLineSplitter();
    const lines = splitter.push(bytes);
    const rest = splitter.end();
    if (rest) lines.push(rest);
    if (lines.length > 0) this.appendRecord(FrameType.in, encodeLineRecord(FrameType.in, this.nextSeq, lines), lines.length);
    stdin.write(Buffer.from(bytes));
  }

  /**
   * Journals a record holding `count` sequence numbers and sends it to a live client, unless it is host input (the
   * host knows it).
   */
  private appendRecord(type: number, frame: Buffer, count: number): void {
    const base = this.journalSize;
    this.recordStarts.push(base);
    this.recordSeqs.push(this.nextSeq);
    writeFully(this.journalFd, frame, base);
    this.journalSize += frame.length;
    this.nextSeq += count;
    const client = this.client;
    if (type === FrameType.in || !client || client.replaying) return;
    client.socket.write(frame);
    // A few MB of slack before the agent is held back: pausing at every full socket buffer would run agent, keeper and
    // host in lock-step (one wakes while the others sleep) instead of side by side.
    if (client.socket.writableLength > BACKPRESSURE_BYTES && !this.stdoutHolds.has('backpressure')) {
      this.hold('backpressure');
      client.socket.once('drain', () => this.release('backpressure'));
    }
  }

  private acknowledge(seq: number): void {
    if (seq > this.ackedSeq) this.ackedSeq = Math.min(seq, this.nextSeq - 1);
    if (this.exitSeq !== undefined && this.ackedSeq >= this.exitSeq) {
      this.finish('remove');
      return;
    }
    this.compactIfWorthIt();
  }

  /** Asks the agent to end: stdin closed, then (idle, signal) SIGINT, then SIGTERM, then SIGKILL to its group. */
  private stop(kind: KeeperStopKind, reason?: string, graceMs = this.config.stopGraceMs): void {
    if (this.exitInfo || this.finishing || this.stopKind) return;
    this.stopKind = kind;
    this.stopReason = reason;
    this.metadata.status = 'stopping';
    this.metadata.stop = kind;
    this.metadata.reason = reason;
    this.saveMetadata();
    log(`stopping the agent (${kind})`);
    this.endAgentStdin();
    const pid = this.child.pid as number;
    if (kind === 'host-close') {
      // The same steps as ProcessTransport.close(graceMs).
      this.after(graceMs, () => killProcessTree(pid, 'SIGTERM'));
      this.after(graceMs + HOST_CLOSE_KILL_AFTER_MS, () => killProcessTree(pid, 'SIGKILL'));
    } else {
      this.after(graceMs, () => killProcessTree(pid, 'SIGINT'));
      this.after(2 * graceMs, () => killProcessTree(pid, 'SIGTERM'));
      this.after(3 * graceMs, () => killProcessTree(pid, 'SIGKILL'));
    }
  }

  private killAgent(): void {
    if (this.finishing) return;
    if (this.exitInfo) {
      this.finish('remove');
      return;
    }
    this.stopKind = 'host-kill';
    this.stopReason = undefined;
    log('killing the agent (host request)');
    killProcessTree(this.child.pid as number, 'SIGKILL');
  }

  private onAgentClosed(code: number | null, signal: NodeJS.Signals | null): void {
    for (const timer of this.stopTimers) clearTimeout(timer);
    this.stopTimers.clear();
    const rest = this.stdoutBatcher.end(this.nextSeq);
    if (rest) this.appendRecord(FrameType.out, rest.frame, rest.count);
    const stop = this.stopKind ?? 'exited';
    const exit: KeeperExit = { code, signal, stderrTail: this.stderrTail, stop, reason: this.stopReason };
    this.exitInfo = exit;
    this.exitSeq = this.nextSeq;
    this.appendRecord(FrameType.exit, encodeExitRecord(this.nextSeq, exit), 1);
    log(`the agent exited (${signal ? `signal ${signal}` : `code ${code}`}, ${stop})`);
    // A stop the keeper or host decided ends the whole group, stragglers included.
    if (stop !== 'exited' && stop !== 'host-close') killProcessTree(this.child.pid as number, 'SIGKILL');
    Object.assign(this.metadata, { status: 'exited', stop, reason: this.stopReason, exit: { code, signal }, stderrTail: this.stderrTail });
    this.saveMetadata();
    if (stop === 'host-kill') this.finish('remove');
    else if (!this.client && (stop === 'idle' || stop === 'keeper-signal')) this.finish('keep');
    // Otherwise the host acknowledges the exit record (or, with no host, the idle timer ends the keeper).
  }

  private onIdle(): void {
    this.idleTimer = undefined;
    if (this.client || this.finishing) return;
    if (this.exitInfo) {
      this.finish('keep');
      return;
    }
    this.stop('idle', `No window was attached for ${describeDuration(this.config.keepRunningMs)} (agentTasks.keepRunningMinutes); the agent was stopped`);
  }

  /**
   * Ends the keeper. `remove`: the host has everything, delete the files. `keep`: no host has seen the end; leave the
   * journal and metadata (status `ended`) for one to attach later.
   */
  private finish(mode: 'remove' | 'keep'): void {
    if (this.finishing) return;
    this.finishing = true;
    this.cancelIdleTimer();
    for (const timer of this.stopTimers) clearTimeout(timer);
    if (!this.exitInfo) killProcessTree(this.child.pid as number, 'SIGKILL');
    this.watchdog?.kill('SIGKILL');
    this.server?.close();
    removeQuietly(this.paths.socket);
    try {
      fs.closeSync(this.journalFd);
    } catch {
      // Already closed.
    }
    if (mode === 'remove') {
      removeQuietly(this.paths.journal);
      removeQuietly(this.paths.metadata);
      removeQuietly(this.paths.log);
    } else {
      Object.assign(this.metadata, { status: 'ended', hostAttached: false, ackedSeq: this.ackedSeq });
      this.saveMetadata();
    }
    log(`ended (${mode === 'remove' ? 'files removed' : 'journal kept for the next window'})`);
    const client = this.client;
    const exit = (): never => process.exit(0);
    if (!client) return exit();
    client.socket.once('close', exit);
    client.socket.end(encodeJsonFrame(FrameType.bye, { reason: 'ended' }));
    setTimeout(exit, 2000).unref();
  }

  /** Drops acknowledged records from the head of the journal (at a record boundary) once they take compactBytes. */
  private compactIfWorthIt(): void {
    if (this.activeReplays > 0 || this.finishing) return;
    const cutSeq = this.ackedSeq + 1;
    if (cutSeq <= this.firstSeq) return;
    const index = cutSeq < this.nextSeq ? this.recordIndexOf(cutSeq) : this.recordStarts.length;
    const cut = this.recordStarts[index] ?? this.journalSize;
    if (cut < this.config.compactBytes) return;
    const tmp = `${this.paths.journal}.tmp`;
    const fd = fs.openSync(tmp, 'w+', 0o600);
    const buffer = Buffer.allocUnsafe(REPLAY_CHUNK_BYTES);
    for (let from = cut; from < this.journalSize; ) {
      const read = fs.readSync(this.journalFd, buffer, 0, Math.min(buffer.length, this.journalSize - from), from);
      writeFully(fd, buffer.subarray(0, read), from - cut);
      from += read;
    }
    fs.renameSync(tmp, this.paths.journal);
    fs.closeSync(this.journalFd);
    this.journalFd = fd;
    this.recordStarts = this.recordStarts.slice(index).map((offset) => offset - cut);
    this.recordSeqs = this.recordSeqs.slice(index);
    this.journalSize -= cut;
    this.firstSeq = this.recordSeqs[0] ?? this.nextSeq;
  }

  private endAgentStdin(): void {
    this.stdinEnded = true;
    this.child.stdin?.end();
  }

  private hold(reason: 'replay' | 'backpressure'): void {
    this.stdoutHolds.add(reason);
    this.child.stdout?.pause();
  }

  private release(reason: 'replay' | 'backpressure'): void {
    if (!this.stdoutHolds.delete(reason)) return;
    if (this.stdoutHolds.size === 0) this.child.stdout?.resume();
  }

  private after(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.stopTimers.delete(timer);
      action();
    }, ms);
    this.stopTimers.add(timer);
  }

  private armIdleTimer(ms: number): void {
    this.cancelIdleTimer();
    this.idleTimer = setTimeout(() => this.onIdle(), ms);
  }

  private cancelIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private saveMetadata(): void {
    this.metadata.updatedAt = Date.now();
    writeKeeperMetadata(this.paths.metadata, this.metadata);
  }
}

function startWatchdog(cliPid: number, config: KeeperConfig): ChildProcess | undefined {
  if (process.platform === 'win32' || !fs.existsSync('/bin/sh')) return undefined;
  const pollSeconds = Math.max(0.05, config.watchdogPollMs / 1000);
  const steps = Math.max(1, Math.ceil(2 / pollSeconds));
  const child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'atw-keeper-watchdog', String(process.pid), String(cliPid), `--keeper=${config.id}`, pollSeconds.toFixed(2), String(steps)], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  child.on('error', () => undefined);
  child.unref();
  return child;
}

function describeDuration(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 6000) / 10} min` : `${Math.round(ms / 100) / 10} s`;
}

function writeFully(fd: number, bytes: Buffer, position: number): void {
  let written = 0;
  while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written, position + written);
}

function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function log(message: string): void {
  try {
    process.stderr.write(`${new Date().toISOString()} [keeper ${process.pid}] ${message}\n`);
  } catch {
    // No log file.
  }
}

function readConfig(timeoutMs: number): Promise<KeeperConfig> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => reject(new Error('no config arrived on stdin')), timeoutMs);
    process.stdin.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 8 * 1024 * 1024) reject(new Error('the config is too large'));
      chunks.push(chunk);
    });
    process.stdin.once('error', reject);
    process.stdin.once('end', () => {
      clearTimeout(timer);
      try {
        resolve(validateConfig(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

function validateConfig(value: KeeperConfig): KeeperConfig {
  const strings = ['id', 'dir', 'token', 'taskId', 'provider', 'command', 'cwd'] as const;
  const numbers = ['keepRunningMs', 'stopGraceMs', 'watchdogPollMs', 'compactBytes'] as const;
  if (!value || value.v !== KEEPER_PROTOCOL_VERSION) throw new Error(`unsupported keeper config version ${value?.v}`);
  for (const key of strings) if (typeof value[key] !== 'string' || value[key] === '') throw new Error(`config.${key} is missing`);
  for (const key of numbers) if (typeof value[key] !== 'number' || !(value[key] >= 0)) throw new Error(`config.${key} is invalid`);
  if (!Array.isArray(value.args) || !value.args.every((arg) => typeof arg === 'string')) throw new Error('config.args is invalid');
  if (!value.env || typeof value.env !== 'object') throw new Error('config.env is invalid');
  return value;
}

function report(ready: KeeperReady): void {
  try {
    process.stdout.write(`${JSON.stringify(ready)}\n`);
  } catch {
    // The host is gone; it will find the keeper through the metadata file.
  }
}

async function main(): Promise<void> {
  process.umask(0o077);
  process.stdout.on('error', () => undefined);
  const running: { keeper?: Keeper } = {};
  process.on('uncaughtException', (error) => (running.keeper ? running.keeper.fail(error) : process.exit(1)));
  let config: KeeperConfig;
  try {
    config = await readConfig(10_000);
  } catch (error) {
    report({ ok: false, code: 'ECONFIG', message: (error as Error).message });
    process.exit(2);
  }
  process.stdin.destroy();
  const keeper = new Keeper(config);
  running.keeper = keeper;
  let ready: KeeperReady;
  try {
    ready = await keeper.start();
  } catch (error) {
    ready = { ok: false, code: (error as NodeJS.ErrnoException).code, message: (error as Error).message };
  }
  report(ready);
  if (!ready.ok) {
    log(`could not start: ${ready.message}`);
    setTimeout(() => process.exit(1), 50);
  }
}

void main();
