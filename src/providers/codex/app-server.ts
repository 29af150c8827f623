import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Disposable, Logger } from '../../core/events';
import { messageOf } from '../../core/errors';
import { raceAbort } from '../../platform/abort';
import { ensurePrivateDir } from '../../platform/private-dir';
import { commandLineIncludes, delay, fileSize, killProcessTree, mergeEnv, readTail, removeQuietly, waitForExit } from '../../platform/process';
import { UnixWebSocketTransport } from '../transport/websocket-transport';
import { checkVersionFloor, executableVersion } from '../cli-versions';
import type { CodexExecutable } from './executable';
import {
  CodexRpcConnection,
  ConnectionClosedError,
  type ClientMethod,
  type ClientParams,
  type ClientResults,
  type RequestOptions,
} from './rpc';
import { ThreadRouter, type RequestReply, type ServerLost, type ThreadListener } from './thread-router';
import { CrashBackoff, initialize } from './startup';
import { startWatchdog, touch, watchdogTiming, type WatchdogTiming } from './watchdog';

import {
  acquireStartLock,
  describeExit,
  isCodexProcess,
  isStillRunning,
  readMetadata,
  rotateLog,
  safeFileKey,
  type CodexServerMetadata,
} from './server-files';

export type { CodexServerMetadata, RequestReply, ServerLost, ThreadListener };

/** What a task run needs from the server hosting its thread. */
export interface ThreadHost {
  attachThread(threadId: string, listener: ThreadListener): Disposable;
  /** Increments with every new connection (server request ids restart at 0 on each). */
  readonly connectionSerial: number;
  request<M extends ClientMethod>(method: M, params: ClientParams<M>, options?: RequestOptions): Promise<ClientResults[M]>;
}

/** Thrown when the app-server cannot be started or reached. */
export class CodexStartError extends Error {
  constructor(message: string, readonly stderrTail = '', readonly notFound = false) {
    super(message);
    this.name = 'CodexStartError';
  }
}

export interface CodexAppServerOptions {
  /** 'default' or the profile id. */
  profileKey: string;
  /** Resolved when the server has to be spawned (undefined: Codex is not installed). */
  executable: () => CodexExecutable | undefined;
  /** CODEX_HOME and the profile's env, merged over process.env. */
  env: Record<string, string>;
  /** The private directory of sockets, logs and metadata (see privateDirFor). */
  socketDir: string;
  log: Logger;
  clientInfo: { name: string; title: string; version: string };
  /** Stop the server after this long with no task attached and no thread active (default 10 min; 0 = never). */
  idleShutdownMs?: number;
  /** How long to wait for a spawned server to listen (default 30 s). */
  startTimeoutMs?: number;
  /** Stop the server when no window has been connected for this long (default 30 min); read when it is spawned. */
  keepRunningMs?: () => number;
}

const CONNECT_TIMEOUT_MS = 3000;
const STDERR_TAIL_BYTES = 4 * 1024;

/**
 * One `codex app-server` per profile, listening on a Unix socket and started detached, so it outlives the window:
 * after a reload a new instance finds the socket and reuses the running server. It hosts many threads at once;
 * notifications and server requests are routed to the listener of their thread.
 */
export class CodexAppServer implements ThreadHost {
  readonly socketPath: string;
  readonly metadataPath: string;
  readonly logPath: string;
  readonly heartbeatPath: string;
  private readonly lockPath: string;

  private connection: CodexRpcConnection | undefined;
  private connecting: Promise<CodexRpcConnection> | undefined;
  private connectionSerialCounter = 0;
  private serverPid: number | undefined;
  /** The version of the running server, from its user agent (or `codex --version` before a spawn). */
  private serverVersion: string | undefined;
  private spawnedExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private spawnedExitPromise: Promise<unknown> | undefined;
  private logStartOffset = 0;
  private reusedServer = false;
  private readonly router: ThreadRouter;
  private readonly crashes = new CrashBackoff();
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  private transportClose: (() => Promise<unknown>) | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: CodexAppServerOptions) {
    const name = `codex-${safeFileKey(options.profileKey)}`;
    this.socketPath = path.join(options.socketDir, `${name}.sock`);
    this.metadataPath = path.join(options.socketDir, `${name}.json`);
    this.logPath = path.join(options.socketDir, `${name}.log`);
    this.heartbeatPath = path.join(options.socketDir, `${name}.alive`);
    this.lockPath = path.join(options.socketDir, `${name}.lock`);
    this.router = new ThreadRouter(options.log);
    if (Buffer.byteLength(this.socketPath) >= 100) {
      throw new CodexStartError(`The Codex socket path is too long for a Unix socket: ${this.socketPath}`);
    }
  }

  get profileKey(): string {
    return this.options.profileKey;
  }

  /** The server's process id, once connected. */
  get pid(): number | undefined {
    return this.serverPid;
  }

  /** Increments with every new connection (server request ids restart at 0 on each). */
  get connectionSerial(): number {
    return this.connectionSerialCounter;
  }

  /** The Codex version of the server, once known. */
  get version(): string | undefined {
    return this.serverVersion;
  }

  /** True when the current connection joined a server that was already running (after a reload). */
  get reused(): boolean {
    return this.reusedServer;
  }

  get connected(): boolean {
    return this.connection !== undefined && !this.connection.closed;
  }

  /** Connects (starting the server if none answers) and initializes. Concurrent callers share one attempt. */
  async connect(signal?: AbortSignal): Promise<CodexRpcConnection> {
    if (this.disposed) throw new CodexStartError('The Codex provider was disposed');
    if (this.connection && !this.connection.closed) return this.connection;
    // One attempt serves every caller; a caller's abort only stops its own wait.
    this.connecting ??= this.establish().finally(() => (this.connecting = undefined));
    return raceAbort(this.connecting, signal);
  }

  /** Sends a request on the current connection (it never starts a server: a thread belongs to the one it was on). */
  request<M extends ClientMethod>(method: M, params: ClientParams<M>, options?: RequestOptions): Promise<ClientResults[M]> {
    const connection = this.connection;
    if (!connection || connection.closed) return Promise.reject(new ConnectionClosedError(method));
    return connection.request(method, params, options);
  }

  /** Routes a thread's notifications and requests to `listener` until the returned disposable is disposed. */
  attachThread(threadId: string, listener: ThreadListener): Disposable {
    this.cancelIdleTimer();
    return this.router.attach(threadId, listener, () => {
      if (this.router.size === 0) this.armIdleTimer();
    });
  }

  /** The last few KB the server wrote to its log since it was started. */
  stderrTail(): string {
    return readTail(this.logPath, STDERR_TAIL_BYTES, this.logStartOffset);
  }

  /** Disconnects and leaves the server running (a window reload); threads keep going and can be reattached. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.cancelIdleTimer();
    this.stopHeartbeat();
    this.router.detachAll();
    const connection = this.connection;
    this.connection = undefined;
    connection?.dispose();
    await this.transportClose?.();
  }

  /** Stops the server (SIGTERM, then SIGKILL) and removes its socket and metadata. */
  async shutdown(): Promise<void> {
    const metadata = readMetadata(this.metadataPath);
    const pid = this.serverPid ?? metadata?.pid;
    await this.dispose();
    this.stopWatchdog(metadata);
    if (pid !== undefined && isCodexProcess(pid)) {
      killProcessTree(pid, 'SIGTERM');
      if (!(await waitForExit(pid, 3000))) killProcessTree(pid, 'SIGKILL');
      await waitForExit(pid, 2000);
    }
    removeQuietly(this.socketPath);
    removeQuietly(this.metadataPath);
    removeQuietly(this.heartbeatPath);
    this.serverPid = undefined;
  }

  private async establish(): Promise<CodexRpcConnection> {
    try {
      ensurePrivateDir(this.options.socketDir, 'the Codex socket');
    } catch (error) {
      throw new CodexStartError(messageOf(error));
    }
    await this.crashes.wait((ms, count) => this.options.log.info(`[codex] app-server crashed ${count} times recently; waiting ${ms} ms before starting it again`));
    // Windows on the same workspace share the socket: one of them starts the server, the others join it.
    const releaseLock = await acquireStartLock(this.lockPath);
    let transport: UnixWebSocketTransport;
    try {
      const existing = await this.tryConnectExisting();
      this.reusedServer = existing !== undefined;
      transport = existing ?? (await this.spawnAndConnect());
    } finally {
      releaseLock();
    }
    const connection = new CodexRpcConnection(transport, this.options.log);
    this.connectionSerialCounter++;
    this.transportClose = () => transport.close(500);
    connection.onNotification((notification) => this.router.routeNotification(notification));
    connection.onRequest((request) =>
      this.router.routeRequest(request, {
        result: (value) => connection.respond(request.id, value),
        error: (code, message) => connection.respondError(request.id, code, message),
      }),
    );
    try {
      this.serverVersion = (await initialize(connection, this.options.clientInfo)) ?? this.serverVersion;
    } catch (error) {
      connection.dispose();
      transport.kill();
      throw new CodexStartError(`codex app-server did not initialize: ${(error as Error).message}`, this.stderrTail());
    }
    this.connection = connection;
    this.startHeartbeat();
    connection.onClose(() => void this.handleConnectionClosed(connection));
    if (connection.closed) void this.handleConnectionClosed(connection);
    if (this.router.size === 0) this.armIdleTimer();
    this.options.log.info(
      `[codex] ${this.reusedServer ? 'reattached to' : 'started'} app-server for profile "${this.options.profileKey}" (pid ${this.serverPid ?? '?'})`,
    );
    return connection;
  }

  /** Connects to a server already listening on the socket; removes a stale socket file. */
  private async tryConnectExisting(): Promise<UnixWebSocketTransport | undefined> {
    if (!fs.existsSync(this.socketPath)) return undefined;
    const metadata = readMetadata(this.metadataPath);
    try {
      const transport = await UnixWebSocketTransport.connect(this.socketPath, { timeoutMs: CONNECT_TIMEOUT_MS });
      this.serverPid = metadata?.pid;
      this.spawnedExit = undefined;
      this.spawnedExitPromise = undefined;
      this.logStartOffset = fileSize(this.logPath);
      return transport;
    } catch (error) {
      // Nobody answers: the server died without cleaning up, or it is wedged. Stop what the metadata names.
      this.options.log.info(`[codex] removing the stale socket ${this.socketPath} (${(error as Error).message})`);
      if (metadata && isCodexProcess(metadata.pid)) killProcessTree(metadata.pid, 'SIGKILL');
      removeQuietly(this.socketPath);
      return undefined;
    }
  }

  private async spawnAndConnect(): Promise<UnixWebSocketTransport> {
    const executable = this.options.executable();
    if (!executable) {
      throw new CodexStartError('Codex was not found. Set agentTasks.codex.path or put codex on PATH.', '', true);
    }
    // An older Codex lacks methods this client uses: refuse it before starting it (CLI_VERSION_FLOORS).
    const version = await executableVersion(executable.command);
    const tooOld = checkVersionFloor('codex', version);
    if (tooOld) throw tooOld;
    this.serverVersion = version;
    rotateLog(this.logPath);
    const logFd = fs.openSync(this.logPath, 'a', 0o600);
    fs.writeSync(logFd, `--- ${new Date().toISOString()} starting codex app-server for profile "${this.options.profileKey}"\n`);
    this.logStartOffset = fileSize(this.logPath);
    let child;
    try {
      child = spawn(executable.command, ['app-server', '--listen', `unix://${this.socketPath}`], {
        cwd: this.options.socketDir,
        env: mergeEnv(process.env, { ...this.options.env, ...executable.env }),
        stdio: ['ignore', logFd, logFd],
        detached: true,
        windowsHide: true,
      });
    } finally {
      fs.closeSync(logFd);
    }
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, exitSignal) => resolve({ code, signal: exitSignal })),
    );
    child.unref();
    this.spawnedExit = undefined;
    this.spawnedExitPromise = exited.then((info) => {
      if (this.serverPid === child.pid) this.spawnedExit = info;
    });
    if (child.pid === undefined) {
      const error = await spawnError;
      const notFound = (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EACCES';
      throw new CodexStartError(`Could not start ${executable.command}: ${error.message}`, '', notFound);
    }
    this.serverPid = child.pid;
    const metadata: CodexServerMetadata = {
      version: 1,
      pid: child.pid,
      profileKey: this.options.profileKey,
      socketPath: this.socketPath,
      logPath: this.logPath,
      command: executable.command,
      startedAt: Date.now(),
      watchdogPid: startWatchdog(child.pid, this.heartbeatPath, this.timing()),
    };
    fs.writeFileSync(this.metadataPath, JSON.stringify(metadata, null, 2), { mode: 0o600 });
    try {
      return await this.waitForListening(child.pid, exited);
    } catch (error) {
      this.crashes.record();
      killProcessTree(child.pid, 'SIGKILL');
      this.stopWatchdog(metadata);
      removeQuietly(this.metadataPath);
      removeQuietly(this.socketPath);
      this.serverPid = undefined;
      throw error;
    }
  }

  private async waitForListening(pid: number, exited: Promise<unknown>): Promise<UnixWebSocketTransport> {
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 30000);
    let lastError: Error | undefined;
    while (Date.now() < deadline) {
      if (this.spawnedExit) {
        const { code, signal: exitSignal } = this.spawnedExit;
        throw new CodexStartError(`codex app-server exited during startup (${describeExit(code, exitSignal)})`, this.stderrTail());
      }
      if (fs.existsSync(this.socketPath)) {
        try {
          return await UnixWebSocketTransport.connect(this.socketPath, { timeoutMs: CONNECT_TIMEOUT_MS });
        } catch (error) {
          lastError = error as Error;
        }
      }
      await Promise.race([delay(15), exited]);
    }
    throw new CodexStartError(
      `codex app-server (pid ${pid}) did not listen on ${this.socketPath} in time${lastError ? ` (${lastError.message})` : ''}`,
      this.stderrTail(),
    );
  }

  private async handleConnectionClosed(connection: CodexRpcConnection): Promise<void> {
    if (this.connection !== connection && this.connection !== undefined) return;
    this.connection = undefined;
    this.stopHeartbeat();
    this.router.dropUnrouted();
    if (this.disposed) return;
    const pid = this.serverPid;
    const exited = pid === undefined ? true : !(await isStillRunning(pid, 500));
    if (exited && this.spawnedExitPromise) await Promise.race([this.spawnedExitPromise, delay(500)]);
    const exit = this.spawnedExit;
    const lost: ServerLost = {
      exited,
      message: exited
        ? `codex app-server exited${exit ? ` (${describeExit(exit.code, exit.signal)})` : ''}`
        : 'the connection to codex app-server was lost',
      stderrTail: this.stderrTail(),
    };
    if (exited) {
      this.crashes.record();
      this.stopWatchdog();
      removeQuietly(this.socketPath);
      removeQuietly(this.metadataPath);
      this.serverPid = undefined;
    }
    this.options.log.warn(`[codex] ${lost.message} (profile "${this.options.profileKey}")`);
    this.router.lost(lost);
  }

  private stopWatchdog(metadata = readMetadata(this.metadataPath)): void {
    if (metadata?.watchdogPid !== undefined && commandLineIncludes(metadata.watchdogPid, this.heartbeatPath, () => process.platform !== 'linux')) {
      killProcessTree(metadata.watchdogPid, 'SIGKILL');
    }
  }

  private timing(): WatchdogTiming {
    return watchdogTiming(this.options.keepRunningMs?.() ?? 30 * 60_000);
  }

  /** Tells the watchdog a window is using the server. */
  private startHeartbeat(): void {
    this.stopHeartbeat();
    touch(this.heartbeatPath);
    this.heartbeatTimer = setInterval(() => touch(this.heartbeatPath), this.timing().heartbeatMs);
    this.heartbeatTimer.unref?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private armIdleTimer(): void {
    const idleMs = this.options.idleShutdownMs ?? 10 * 60_000;
    if (idleMs <= 0 || this.disposed) return;
    this.cancelIdleTimer();
    this.idleTimer = setTimeout(() => void this.shutdownIfIdle(), idleMs);
    this.idleTimer.unref?.();
  }

  private cancelIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Stops the server when no task here needs it and no thread on it (maybe another window's) is running. */
  private async shutdownIfIdle(): Promise<void> {
    this.idleTimer = undefined;
    if (this.router.size > 0 || !this.connection || this.disposed) return;
    try {
      const loaded = await this.connection.request('thread/loaded/list', {}, { timeoutMs: 5000 });
      for (const threadId of loaded.data) {
        const { thread } = await this.connection.request('thread/read', { threadId, includeTurns: false }, { timeoutMs: 5000 });
        if (thread.status.type === 'active') {
          this.armIdleTimer();
          return;
        }
      }
    } catch (error) {
      this.options.log.debug(`[codex] idle check failed: ${(error as Error).message}`);
    }
    if (this.router.size > 0) return;
    this.options.log.info(`[codex] stopping the idle app-server for profile "${this.options.profileKey}"`);
    await this.shutdown();
  }
}
