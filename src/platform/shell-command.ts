// A shell command the user configured (a worktree's setup, a task's check): run in a folder, its output streamed and
// its tail kept bounded, its whole process tree killed on cancel or timeout.
import { spawn } from 'node:child_process';
import { killProcessTree, mergeEnv } from './process';

/** Lines kept of a command's output (DESIGN §9: `check.tail` is the last ≤ 40 lines). */
export const TAIL_LINES = 40;
/** Characters kept while collecting, so a command printing megabytes costs a bounded buffer. */
const TAIL_CHARS = 16_384;
/** After SIGTERM to the process group, how long before SIGKILL. */
const KILL_GRACE_MS = 2_000;

export interface ShellCommandOptions {
  command: string;
  cwd: string;
  /** Added to (string) or removed from (undefined) this process's environment. */
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Stop the command after this long (0 or undefined: no limit). */
  timeoutMs?: number;
  /** Each piece of output as it arrives (stdout and stderr interleaved). */
  onOutput?: (text: string) => void;
}

export interface ShellCommandResult {
  /** The exit code; undefined when a signal ended it. */
  exitCode: number | undefined;
  /** The last ≤ 40 lines of its output. */
  tail: string;
  durationMs: number;
  /** Stopped because `signal` aborted. */
  cancelled: boolean;
  timedOut: boolean;
}

/** The last `TAIL_LINES` lines of `text`. */
export function lastLines(text: string, lines = TAIL_LINES): string {
  const all = text.replace(/\n+$/, '').split('\n');
  return all.slice(-lines).join('\n');
}

/** Runs `command` with `/bin/sh -c` in its own process group; resolves when it and its output have ended. Never rejects. */
export function runShellCommand(options: ShellCommandOptions): Promise<ShellCommandResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let collected = '';
    let cancelled = false;
    let timedOut = false;
    let settled = false;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const finish = (exitCode: number | undefined, extra = ''): void => {
      if (settled) return;
      settled = true;
      if (deadline) clearTimeout(deadline);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve({ exitCode, tail: lastLines(collected + extra), durationMs: Date.now() - started, cancelled, timedOut });
    };
    if (options.signal?.aborted) {
      cancelled = true;
      finish(undefined);
      return;
    }
    const child = spawn('/bin/sh', ['-c', options.command], {
      cwd: options.cwd,
      env: mergeEnv(process.env, options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const stop = (): void => {
      killProcessTree(child.pid, 'SIGTERM');
      killTimer ??= setTimeout(() => killProcessTree(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    function onAbort(): void {
      cancelled = true;
      stop();
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs) {
      deadline = setTimeout(() => {
        timedOut = true;
        stop();
      }, options.timeoutMs);
    }
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      collected = (collected + text).slice(-TAIL_CHARS);
      options.onOutput?.(text);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (error) => finish(undefined, `\n${error.message}`));
    // Whatever the shell left running in the background dies with it: the command's tree never outlives the
    // command, and nothing holds the output pipes open, so 'close' (which waits for them) follows.
    child.once('exit', () => killProcessTree(child.pid, 'SIGKILL'));
    child.once('close', (code) => finish(code ?? undefined));
  });
}
