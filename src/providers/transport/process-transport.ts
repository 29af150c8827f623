import { spawn, type ChildProcess } from 'node:child_process';
import { encodeJsonLine, LineDecoder, LineTooLongError } from '../../platform/jsonl';
import { killProcessTree, mergeEnv } from '../../platform/process';
import { BaseTransport, type TransportClosed } from './transport';

const STDERR_TAIL_BYTES = 8 * 1024;

export interface ProcessTransportOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  /** Merged over process.env (the profile's env wins). */
  env?: Record<string, string | undefined>;
  /** Lines of stderr, for diagnostics. */
  onStderr?: (text: string) => void;
}

/** Thrown (via onClose.error) when the executable does not exist, so providers can name the setting. */
export class CommandNotFoundError extends Error {
  constructor(readonly command: string) {
    super(`"${command}" was not found`);
    this.name = 'CommandNotFoundError';
  }
}

/**
 * Runs an agent as a child process speaking JSONL over stdio. The child leads its own process group, so
 * kill() ends the whole tree (shells and tools the agent started), not just the direct child.
 */
export class ProcessTransport extends BaseTransport {

  private readonly child: ChildProcess;
  private readonly decoder = new LineDecoder();
  private stderrTail = '';
  private closeInfo: TransportClosed | undefined;
  /** Set when the agent sent a line over the cap (L1): it was stopped, and onClose reports this. */
  private overflow: Error | undefined;
  private readonly exited: Promise<TransportClosed>;

  constructor(options: ProcessTransportOptions) {
    super();
    this.child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: mergeEnv(process.env, options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    });
    this.exited = new Promise((resolve) => {
      let spawnError: Error | undefined;
      this.child.once('error', (error: NodeJS.ErrnoException) => {
        spawnError = error.code === 'ENOENT' ? new CommandNotFoundError(options.command) : error;
        // 'exit' may never come after a spawn error.
        if (this.child.pid === undefined) this.finish({ code: null, signal: null, stderrTail: '', error: spawnError }, resolve);
      });
      this.child.once('close', (code, signal) => {
        const rest = this.overflow ? undefined : this.decoder.end();
        if (rest !== undefined) this.deliverLine(rest);
        this.finish({ code, signal, stderrTail: this.stderrTail, error: this.overflow ?? spawnError }, resolve);
      });
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      if (this.overflow) return;
      let lines: string[];
      try {
        lines = this.decoder.push(chunk);
      } catch (error) {
        if (!(error instanceof LineTooLongError)) throw error;
        // Never buffered without bound: the agent is stopped, and the task ends with this error.
        this.overflow = new Error(`The agent was stopped: it sent ${error.message}, more than Agent Tasks reads`);
        this.kill('SIGKILL');
        return;
      }
      for (const line of lines) this.deliverLine(line);
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_BYTES);
      options.onStderr?.(text);
    });
    // EPIPE when the child exits while we write: reported through onClose, not as an uncaught error.
    this.child.stdin?.on('error', () => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get closed(): boolean {
    return this.closeInfo !== undefined;
  }

  send(message: unknown): void {
    this.sendRaw(encodeJsonLine(message));
  }

  /** Writes text as is (used by keepers and tests that need exact bytes). */
  sendRaw(text: string): void {
    if (this.closed || !this.child.stdin || this.child.stdin.destroyed) throw new Error('The agent process has exited');
    this.child.stdin.write(text);
  }

  async close(graceMs = 3000): Promise<TransportClosed> {
    if (this.closeInfo) return this.closeInfo;
    this.child.stdin?.end();
    const timer = setTimeout(() => this.kill('SIGTERM'), graceMs);
    const hardTimer = setTimeout(() => this.kill('SIGKILL'), graceMs + 2000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      clearTimeout(hardTimer);
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    killProcessTree(this.child.pid, signal);
  }

  /** Resolves when the process has exited. */
  whenClosed(): Promise<TransportClosed> {
    return this.exited;
  }

  private finish(info: TransportClosed, resolve: (info: TransportClosed) => void): void {
    if (this.closeInfo) return;
    this.closeInfo = info;
    resolve(info);
    this.closeEmitter.fire(info);
  }
}

