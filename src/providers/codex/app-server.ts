import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Emitter, type Disposable, type Logger } from '../../core/events';
import { killProcessTree, mergeEnv } from '../transport/process-transport';
import { UnixWebSocketTransport } from '../transport/websocket-transport';
import type { CodexExecutable } from './executable';
import type { RequestId } from './protocol/RequestId';
import type { ServerNotification } from './protocol/ServerNotification';
import type { ServerRequest } from './protocol/ServerRequest';
import { CodexRpcConnection, RpcErrorCode, type ClientMethod, type ClientParams, type ClientResults, type RequestOptions } from './rpc';

/** Answers one server request on the connection it arrived on. */
export interface RequestReply {
  result(value: unknown): void;
  error(code: number, message: string): void;
}

/** Why a thread lost its server. */
export interface ServerLost {
  /** True when the app-server process is gone (not just the connection). */
  exited: boolean;
  message: string;
  /** The last lines the server wrote to its log (stderr). */
  stderrTail: string;
}

/** Receives what the server sends about one thread. */
export interface ThreadListener {
  onNotification(notification: ServerNotification): void;
  /** A server→client request for this thread; it must be answered through `reply` (or left for a later client). */
  onRequest(request: ServerRequest, reply: RequestReply): void;
  onServerLost(lost: ServerLost): void;
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
  /** The private directory of sockets, logs and metadata (see codexSocketDir). */
  socketDir: string;
  log: Logger;
  clientInfo: { name: string; title: string; version: string };
  /** Stop the server after this long with no task attached and no thread active (default 10 min; 0 = never). */
  idleShutdownMs?: number;
  /** How long to wait for a spawned server to listen (default 30 s). */
  startTimeoutMs?: number;
}

/** What is written beside the socket so another window (or a reload) can find and stop the server. */
export interface CodexServerMetadata {
  version: 1;
  pid: number;
  profileKey: string;
  socketPath: string;
  logPath: string;
  command: string;
  startedAt: number;
}

const CONNECT_TIMEOUT_MS = 3000;
const UNROUTED_REQUEST_GRACE_MS = 5000;
const MAX_LOG_BYTES = 4 * 1024 * 1024;
const STDERR_TAIL_BYTES = 4 * 1024;

/**
 * One `codex app-server` per profile, listening on a Unix socket and started detached, so it outlives the window:
 * after a reload a new instance finds the socket and reuses the running server. It hosts many threads at once;
 * notifications and server requests are routed to the listener of their thread.
 */
export class CodexAppServer implements Disposable {
  readonly socketPath: string;
  readonly metadataPath: string;
  readonly logPath: string;

  private connection: CodexRpcConnection | undefined;
  private connecting: Promise<CodexRpcConnection> | undefined;
  private connectionSerialCounter = 0;
  private serverPid: number | undefined;
  private spawnedExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private logStartOffset = 0;
  private reusedServer = false;
  private readonly listeners = new Map<string, ThreadListener>();
  private readonly unrouted = new Map<string, { request: ServerRequest; reply: RequestReply; timer: ReturnType<typeof setTimeout> }[]>();
  private readonly crashTimes: number[] = [];
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  private readonly exitEmitter = new Emitter<ServerLost>();
  /** Fires when the server process or the connection to it is lost unexpectedly. */
  readonly onLost = this.exitEmitter.event;

  constructor(private readonly options: CodexAppServerOptions) {
    const name = `codex-${safeFileKey(options.profileKey)}`;
    this.socketPath = path.join(options.socketDir, `${name}.sock`);
    this.metadataPath = path.join(options.socketDir, `${name}.json`);
    this.logPath = path.join(options.socketDir, `${name}.log`);
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
    this.connecting ??= this.establish(signal).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async request<M extends ClientMethod>(method: M, params: ClientParams<M>, options?: RequestOptions): Promise<ClientResults[M]> {
    const connection = await this.connect();
    return connection.request(method, params, options);
  }

  /** Routes a thread's notifications and requests to `listener` until the returned disposable is disposed. */
  attachThread(threadId: string, listener: ThreadListener): Disposable {
    this.listeners.set(threadId, listener);
    this.cancelIdleTimer();
    for (const pending of this.unrouted.get(threadId) ?? []) {
      clearTimeout(pending.timer);
      listener.onRequest(pending.request, pending.reply);
    }
    this.unrouted.delete(threadId);
    return {
      dispose: () => {
        if (this.listeners.get(threadId) !== listener) return;
        this.listeners.delete(threadId);
        if (this.listeners.size === 0) this.armIdleTimer();
      },
    };
  }

  get attachedThreads(): number {
    return this.listeners.size;
  }

  /** The last few KB the server wrote to its log since it was started. */
  stderrTail(): string {
    return readTail(this.logPath, this.logStartOffset, STDERR_TAIL_BYTES);
  }

  /** Disconnects and leaves the server running (a window reload); threads keep going and can be reattached. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.cancelIdleTimer();
    this.dropUnrouted();
    this.listeners.clear();
    const connection = this.connection;
    this.connection = undefined;
    connection?.dispose();
    await this.transportClose?.();
    this.exitEmitter.dispose();
  }

  /** Stops the server (SIGTERM, then SIGKILL) and removes its socket and metadata. */
  async shutdown(): Promise<void> {
    const pid = this.serverPid ?? readMetadata(this.metadataPath)?.pid;
    await this.dispose();
    if (pid !== undefined && isCodexProcess(pid)) {
      killProcessTree(pid, 'SIGTERM');
      if (!(await waitForExit(pid, 3000))) killProcessTree(pid, 'SIGKILL');
      await waitForExit(pid, 2000);
    }
    removeQuietly(this.socketPath);
    removeQuietly(this.metadataPath);
    this.serverPid = undefined;
  }

  private transportClose: (() => Promise<unknown>) | undefined;

  private async establish(signal?: AbortSignal): Promise<CodexRpcConnection> {
    ensurePrivateDir(this.options.socketDir);
    await this.waitForBackoff(signal);
    let transport = await this.tryConnectExisting(signal);
    this.reusedServer = transport !== undefined;
    if (!transport) transport = await this.spawnAndConnect(signal);
    const connection = new CodexRpcConnection(transport, this.options.log);
    const serial = ++this.connectionSerialCounter;
    this.transportClose = () => transport.close(500);
    connection.onNotification((notification) => this.routeNotification(notification));
    connection.onRequest((request) => this.routeRequest(request, connection, serial));
    connection.onClose(() => void this.handleConnectionClosed(connection));
    try {
      await connection.request(
        'initialize',
        { clientInfo: this.options.clientInfo, capabilities: { experimentalApi: true, requestAttestation: false } },
        { timeoutMs: 15000 },
      );
      connection.notify('initialized');
    } catch (error) {
      connection.dispose();
      transport.kill();
      throw new CodexStartError(`codex app-server did not initialize: ${(error as Error).message}`, this.stderrTail());
    }
    this.connection = connection;
    if (this.listeners.size === 0) this.armIdleTimer();
    this.options.log.info(
      `[codex] ${this.reusedServer ? 'reattached to' : 'started'} app-server for profile "${this.options.profileKey}" (pid ${this.serverPid ?? '?'})`,
    );
    return connection;
  }

  /** Connects to a server already listening on the socket; removes a stale socket file. */
  private async tryConnectExisting(signal?: AbortSignal): Promise<UnixWebSocketTransport | undefined> {
    if (!fs.existsSync(this.socketPath)) return undefined;
    const metadata = readMetadata(this.metadataPath);
    try {
      const transport = await UnixWebSocketTransport.connect(this.socketPath, { timeoutMs: CONNECT_TIMEOUT_MS, signal });
      this.serverPid = metadata?.pid;
      this.spawnedExit = undefined;
      this.logStartOffset = fileSize(this.logPath);
      this.watchForeignExit();
      return transport;
    } catch (error) {
      if (signal?.aborted) throw error;
      // Nobody answers: the server died without cleaning up, or it is wedged. Stop what the metadata names.
      this.options.log.info(`[codex] removing the stale socket ${this.socketPath} (${(error as Error).message})`);
      if (metadata && isCodexProcess(metadata.pid)) killProcessTree(metadata.pid, 'SIGKILL');
      removeQuietly(this.socketPath);
      return undefined;
    }
  }

  private async spawnAndConnect(signal?: AbortSignal): Promise<UnixWebSocketTransport> {
    const executable = this.options.executable();
    if (!executable) {
      throw new CodexStartError('Codex was not found. Set agentTasks.codex.path or put codex on PATH.', '', true);
    }
    rotateLog(this.logPath);
    const logFd = fs.openSync(this.logPath, 'a', 0o600);
    this.logStartOffset = fileSize(this.logPath);
    fs.writeSync(logFd, `--- ${new Date().toISOString()} starting codex app-server for profile "${this.options.profileKey}"\n`);
    this.logStartOffset = fileSize(this.logPath);
    let child;
    try {
      child = spawn(executable.command, ['app-server', '--listen', `unix://${this.socketPath}`], {
        cwd: os.homedir(),
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
    void exited.then((info) => {
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
    };
    fs.writeFileSync(this.metadataPath, JSON.stringify(metadata, null, 2), { mode: 0o600 });

    const deadline = Date.now() + (this.options.startTimeoutMs ?? 30000);
    let lastError: Error | undefined;
    while (Date.now() < deadline) {
      if (signal?.aborted) {
        killProcessTree(child.pid, 'SIGKILL');
        throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      }
      if (this.spawnedExit) {
        const { code, signal: exitSignal } = this.spawnedExit;
        throw new CodexStartError(`codex app-server exited during startup (${describeExit(code, exitSignal)})`, this.stderrTail());
      }
      if (fs.existsSync(this.socketPath)) {
        try {
          return await UnixWebSocketTransport.connect(this.socketPath, { timeoutMs: CONNECT_TIMEOUT_MS, signal });
        } catch (error) {
          lastError = error as Error;
        }
      }
      await Promise.race([delay(40), exited]);
    }
    killProcessTree(child.pid, 'SIGKILL');
    throw new CodexStartError(
      `codex app-server did not listen on ${this.socketPath} in time${lastError ? ` (${lastError.message})` : ''}`,
      this.stderrTail(),
    );
  }

  /** A server we did not spawn cannot be waited on; a dropped connection tells us, and a liveness check decides. */
  private watchForeignExit(): void {
    // Nothing to register: handleConnectionClosed checks the pid.
  }

  private routeNotification(notification: ServerNotification): void {
    const threadId = threadIdOf(notification.params);
    if (threadId !== undefined) {
      this.listeners.get(threadId)?.onNotification(notification);
      return;
    }
    switch (notification.method) {
      case 'account/rateLimits/updated':
        for (const listener of this.listeners.values()) listener.onNotification(notification);
        return;
      case 'configWarning':
        this.options.log.warn(`[codex] ${notification.params.summary}${notification.params.details ? ` (${notification.params.details})` : ''}`);
        return;
      case 'deprecationNotice':
        this.options.log.debug(`[codex] ${notification.params.summary}`);
        return;
      default:
        this.options.log.trace(`[codex] ${notification.method}`);
    }
  }

  private routeRequest(request: ServerRequest, connection: CodexRpcConnection, serial: number): void {
    const reply: RequestReply = {
      result: (value) => connection.respond(request.id, value),
      error: (code, message) => connection.respondError(request.id, code, message),
    };
    void serial;
    if (request.method === 'currentTime/read') {
      reply.result({ currentTimeAt: Math.floor(Date.now() / 1000) });
      return;
    }
    const threadId = threadIdOf(request.params);
    if (threadId === undefined) {
      this.options.log.warn(`[codex] answered the unsupported server request ${request.method} with an error`);
      reply.error(RpcErrorCode.methodNotFound, `${request.method} is not supported by this client`);
      return;
    }
    const listener = this.listeners.get(threadId);
    if (listener) {
      listener.onRequest(request, reply);
      return;
    }
    // A thread being attached right now (resume) gets its re-sent requests a moment later; others are refused.
    const timer = setTimeout(() => {
      const queue = this.unrouted.get(threadId);
      const index = queue?.findIndex((entry) => entry.request === request) ?? -1;
      if (!queue || index < 0) return;
      queue.splice(index, 1);
      if (queue.length === 0) this.unrouted.delete(threadId);
      this.options.log.warn(`[codex] no task is attached to thread ${threadId}; refused ${request.method} (id ${String(request.id)})`);
      reply.error(RpcErrorCode.internalError, 'No task is attached to this thread');
    }, UNROUTED_REQUEST_GRACE_MS);
    timer.unref?.();
    const queue = this.unrouted.get(threadId) ?? [];
    queue.push({ request, reply, timer });
    this.unrouted.set(threadId, queue);
  }

  private async handleConnectionClosed(connection: CodexRpcConnection): Promise<void> {
    if (this.connection !== connection && this.connection !== undefined) return;
    this.connection = undefined;
    this.dropUnrouted();
    if (this.disposed) return;
    const pid = this.serverPid;
    const exited = pid === undefined ? true : !(await isStillRunning(pid, 500));
    const exit = this.spawnedExit;
    const lost: ServerLost = {
      exited,
      message: exited
        ? `codex app-server exited${exit ? ` (${describeExit(exit.code, exit.signal)})` : ''}`
        : 'the connection to codex app-server was lost',
      stderrTail: this.stderrTail(),
    };
    if (exited) {
      this.crashTimes.push(Date.now());
      removeQuietly(this.socketPath);
      removeQuietly(this.metadataPath);
      this.serverPid = undefined;
    }
    this.options.log.warn(`[codex] ${lost.message} (profile "${this.options.profileKey}")`);
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    for (const listener of listeners) listener.onServerLost(lost);
    this.exitEmitter.fire(lost);
  }

  /** Repeated crashes delay the next start: 1 s, 2 s, 4 s … up to 30 s for crashes within two minutes. */
  private async waitForBackoff(signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    while (this.crashTimes.length && now - this.crashTimes[0] > 120_000) this.crashTimes.shift();
    if (this.crashTimes.length < 2) return;
    const wait = Math.min(30_000, 1000 * 2 ** (this.crashTimes.length - 2));
    const remaining = this.crashTimes[this.crashTimes.length - 1] + wait - now;
    if (remaining <= 0) return;
    this.options.log.info(`[codex] app-server crashed ${this.crashTimes.length} times recently; waiting ${remaining} ms before starting it again`);
    await abortableDelay(remaining, signal);
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
    if (this.listeners.size > 0 || !this.connection || this.disposed) return;
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
    if (this.listeners.size > 0) return;
    this.options.log.info(`[codex] stopping the idle app-server for profile "${this.options.profileKey}"`);
    await this.shutdown();
  }

  private dropUnrouted(): void {
    for (const queue of this.unrouted.values()) for (const entry of queue) clearTimeout(entry.timer);
    this.unrouted.clear();
  }
}

/** The socket directory for a workspace: short (Unix socket paths are limited to ~107 bytes) and private (0700). */
export function codexSocketDir(workspacePath: string, uid: number = process.getuid?.() ?? 0): string {
  const hash = createHash('sha256').update(`${workspacePath}\0${uid}`).digest('hex').slice(0, 8);
  const name = `atw-${hash}`;
  const preferred = path.join(os.tmpdir(), name);
  // Leave room for "/codex-<profile>.sock".
  return Buffer.byteLength(preferred) <= 60 || process.platform === 'win32' ? preferred : path.join('/tmp', name);
}

/** A profile id as a short, safe file name part. */
export function safeFileKey(key: string): string {
  const cleaned = key.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 24);
  if (cleaned === key) return cleaned;
  return `${cleaned}-${createHash('sha256').update(key).digest('hex').slice(0, 6)}`;
}

function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory() || stat.isSymbolicLink()) throw new CodexStartError(`${dir} is not a directory`);
  if (process.platform === 'win32') return;
  if (stat.uid !== process.getuid?.()) throw new CodexStartError(`${dir} belongs to another user; refusing to put the Codex socket there`);
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

function threadIdOf(params: unknown): string | undefined {
  if (params && typeof params === 'object' && 'threadId' in params) {
    const threadId = (params as { threadId: unknown }).threadId;
    if (typeof threadId === 'string') return threadId;
  }
  return undefined;
}

function readMetadata(file: string): CodexServerMetadata | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as CodexServerMetadata;
    return typeof value.pid === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and (where /proc exists) is a codex app-server, so a reused pid is never killed. */
function isCodexProcess(pid: number): boolean {
  if (!processExists(pid)) return false;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('app-server');
  } catch {
    return process.platform !== 'linux';
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isStillRunning(pid: number, graceMs: number): Promise<boolean> {
  return !(await waitForExit(pid, graceMs));
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!processExists(pid) || isZombie(pid)) return true;
    await delay(25);
  }
  return !processExists(pid) || isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /\) Z /.test(stat);
  } catch {
    return false;
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readTail(file: string, from: number, bytes: number): string {
  try {
    const size = fileSize(file);
    const start = Math.max(from, size - bytes);
    if (size <= start) return '';
    const fd = fs.openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(size - start);
      fs.readSync(fd, buffer, 0, buffer.length, start);
      return buffer.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function rotateLog(file: string): void {
  if (fileSize(file) > MAX_LOG_BYTES) {
    try {
      fs.renameSync(file, `${file}.1`);
    } catch {
      // Keep appending.
    }
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone.
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export type { RequestId };
