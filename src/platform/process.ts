// Processes and the files they leave: kill a tree, tell a live process from a reused pid, read a log's tail.
import * as fs from 'node:fs';

/** Kills a process group led by `pid` (falls back to the single process). Never throws. */
export function killProcessTree(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(process.platform === 'win32' ? pid : -pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** `base` with `extra` applied: a string sets a variable, undefined removes it. */
export function mergeEnv(base: NodeJS.ProcessEnv, extra: Record<string, string | undefined> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** True when `pid` exists (a process of another user counts). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The start time of `pid` from /proc (clock ticks since boot), undefined where unknown or for a zombie. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is alive and ours: signalling it is allowed (EPERM means another user's process, never ours) and,
 * where /proc tells, it runs as our uid (root may signal anything).
 */
export function isOurProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform === 'win32') return true;
  try {
    return fs.statSync(`/proc/${pid}`).uid === process.getuid?.();
  } catch {
    return !fs.existsSync('/proc/self/stat');
  }
}

/**
 * True when `pid` is alive, ours (isOurProcess), and is the process that had `start` as its start time (a reused pid
 * is not). A missing `start` never matches: nothing is signalled on the word of a file that does not say which
 * process it means. Where /proc is missing (no start times at all), liveness alone decides.
 */
export function isSameProcess(pid: number | undefined, start: string | undefined): boolean {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  if (!isOurProcess(pid)) return false;
  if (!fs.existsSync('/proc/self/stat')) return true;
  const now = processStartTime(pid);
  return now !== undefined && start !== undefined && now === start;
}

/**
 * True when `pid` is alive and its command line contains `text`, so a reused pid is never taken for ours. Where the
 * command line cannot be read, `whereUnreadable` decides (the Codex server assumes it is ours off Linux).
 */
export function commandLineIncludes(pid: number, text: string, whereUnreadable: () => boolean = () => false): boolean {
  if (!processExists(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
  } catch {
    return whereUnreadable();
  }
}

export function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Waits up to `timeoutMs` for `pid` to exit (a zombie counts as gone); true when it did. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!processExists(pid) || isZombie(pid)) return true;
    await delay(25);
  }
  return !processExists(pid) || isZombie(pid);
}

/** Polls `check` until it holds (true) or `timeoutMs` passes (false). */
export async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() >= deadline) return false;
    await delay(20);
  }
  return true;
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** The last `bytes` of a file (from byte `from` at the earliest) as text; empty when it cannot be read. */
export function readTail(file: string, bytes = 4096, from = 0): string {
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

export function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone.
  }
}
