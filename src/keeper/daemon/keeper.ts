/**
 * The keeper (see main.ts for its lifetime): holds one stdio agent's pipes, journals what the agent writes (journal.ts),
 * serves the host over one private Unix socket (0600, token), replays what a reattaching host missed, and forwards
 * what the host sends to the agent's stdin.
 */
import { type ChildProcess } from 'node:child_process';
import type * as net from 'node:net';
import { ByteLineSplitter, decodeAck, encodeFrame, encodeJsonFrame, encodeExitRecord, encodeLineRecord, LineBatcher } from '../framing';
import {
  FrameType,
  KEEPER_PROTOCOL_VERSION,
  type Frame,
  type KeeperConfig,
  type KeeperExit,
  type KeeperMetadata,
  type KeeperStopKind,
  type KeeperWelcome,
} from '../protocol';
import { keeperPaths, MAX_SOCKET_PATH_BYTES, writeKeeperMetadata, type KeeperPaths } from '../files';
import { ensurePrivateDir } from '../../platform/private-dir';
import { killProcessTree, processStartTime, removeQuietly } from '../../platform/process';

import { Journal } from './journal';
import { spawnAgent, type KeeperReady } from './agent';
import { listenForHosts, writeRecord } from './host-socket';
import { log } from './log';
import { startWatchdog } from './watchdog';
const STDERR_TAIL_BYTES = 8 * 1024;
const BACKPRESSURE_BYTES = 4 * 1024 * 1024;
/** A host gets at least this long to attach right after the start, whatever keepRunningMs says. */
const FIRST_ATTACH_MS = 15_000;
const HOST_CLOSE_KILL_AFTER_MS = 2000;

interface Client {
  socket: net.Socket;
  replaying: boolean;
}

/** One keeper: the agent, its journal, and the socket a host attaches to. */
export class Keeper {
  private readonly paths: KeeperPaths;
  private metadata!: KeeperMetadata;
  private child!: ChildProcess;
  private watchdog: ChildProcess | undefined;
  private server: net.Server | undefined;
  private journal!: Journal;
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
  }

  /** Starts the agent and the socket; resolves with what to report to the host. */
  async start(): Promise<KeeperReady> {
    const { config, paths } = this;
    ensurePrivateDir(config.dir, 'agent sockets');
    if (Buffer.byteLength(paths.socket) >= MAX_SOCKET_PATH_BYTES) {
      return { ok: false, code: 'EPATHTOOLONG', message: `The socket path is too long for a Unix socket: ${paths.socket}` };
    }
    this.journal = new Journal(paths.journal);
    const spawned = await spawnAgent(config, paths.socket, {
      created: (child) => (this.child = child),
      stdout: (chunk) => this.onAgentStdout(chunk),
      stderr: (chunk) => this.onAgentStderr(chunk),
      closed: (code, signal) => this.onAgentClosed(code, signal),
    });
    if (!spawned.ok) {
      this.journal.close();
      removeQuietly(paths.journal);
      return spawned;
    }
    const cliPid = this.child.pid as number;
    this.watchdog = startWatchdog(cliPid, config);
    try {
      this.server = await listenForHosts(paths.socket, config.token, {
        refusing: () => this.finishing,
        attached: (socket, lastSeq) => this.onClientAttached(socket, lastSeq),
        isCurrent: (socket) => this.client?.socket === socket,
        frame: (frame) => this.onClientFrame(frame),
        closed: (socket) => {
          if (this.client?.socket === socket) this.onClientGone();
        },
        failed: (error) => this.fail(error),
      });
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
      ...(typeof config.owner === 'string' ? { owner: config.owner } : {}),
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
      firstSeq: this.journal.firstSeq,
      headSeq: this.journal.nextSeq - 1,
      ackedSeq: this.journal.ackedSeq,
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
      const from = Math.max(Math.min(lastSeq + 1, this.exitSeq ?? Infinity), this.journal.firstSeq);
      // `from` may be inside a batch: its tail goes first as a record of its own, then whole records.
      const start = this.journal.replayStart(from);
      let offset = start.offset;
      if (start.head && !client.socket.write(start.head)) await drained(client.socket);
      // Records appended meanwhile (host input, the exit record) are picked up: the loop runs to the current end.
      while (offset < this.journal.size) {
        if (this.client !== client || client.socket.destroyed) return;
        const chunk = this.journal.read(offset);
        offset += chunk.length;
        if (!client.socket.write(chunk)) await drained(client.socket);
      }
    } finally {
      this.activeReplays--;
      client.replaying = false;
      this.release('replay');
    }
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
    const batch = this.stdoutBatcher.push(chunk, this.journal.nextSeq);
    if (batch) this.appendRecord(FrameType.out, batch.parts, batch.count);
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
    if (lines.length > 0) this.appendRecord(FrameType.in, encodeLineRecord(FrameType.in, this.journal.nextSeq, lines), lines.length);
    stdin.write(Buffer.from(bytes));
  }

  /**
   * Journals a record holding `count` sequence numbers and sends it to a live client, unless it is host input (the
   * host knows it).
   */
  private appendRecord(type: number, record: Buffer | readonly Buffer[], count: number): void {
    this.journal.append(record, count);
    const client = this.client;
    if (type === FrameType.in || !client || client.replaying) return;
    writeRecord(client.socket, record);
    // A few MB of slack before the agent is held back: pausing at every full socket buffer would run agent, keeper and
    // host in lock-step (one wakes while the others sleep) instead of side by side.
    if (client.socket.writableLength > BACKPRESSURE_BYTES && !this.stdoutHolds.has('backpressure')) {
      this.hold('backpressure');
      client.socket.once('drain', () => this.release('backpressure'));
    }
  }

  private acknowledge(seq: number): void {
    this.journal.acknowledge(seq);
    if (this.exitSeq !== undefined && this.journal.ackedSeq >= this.exitSeq) {
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
    const rest = this.stdoutBatcher.end(this.journal.nextSeq);
    if (rest) this.appendRecord(FrameType.out, rest.parts, rest.count);
    const stop = this.stopKind ?? 'exited';
    const exit: KeeperExit = { code, signal, stderrTail: this.stderrTail, stop, reason: this.stopReason };
    this.exitInfo = exit;
    this.exitSeq = this.journal.nextSeq;
    this.appendRecord(FrameType.exit, encodeExitRecord(this.exitSeq, exit), 1);
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
    this.journal.close();
    if (mode === 'remove') {
      removeQuietly(this.paths.journal);
      removeQuietly(this.paths.metadata);
      removeQuietly(this.paths.log);
    } else {
      Object.assign(this.metadata, { status: 'ended', hostAttached: false, ackedSeq: this.journal.ackedSeq });
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

  /** Compacts the journal's acknowledged head, unless a replay is reading it or the keeper is ending. */
  private compactIfWorthIt(): void {
    if (this.activeReplays > 0 || this.finishing) return;
    this.journal.compact(this.config.compactBytes);
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

function describeDuration(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 6000) / 10} min` : `${Math.round(ms / 100) / 10} s`;
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
