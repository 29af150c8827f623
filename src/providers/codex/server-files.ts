// The files of a detached Codex app-server beside its socket (metadata, log, start lock), and telling its process
// from a reused pid.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { commandLineIncludes, delay, fileSize, removeQuietly, waitForExit } from '../../platform/process';

const MAX_LOG_BYTES = 4 * 1024 * 1024;

/** What is written beside the socket so another window (or a reload) can find and stop the server. */
export interface CodexServerMetadata {
  version: 1;
  pid: number;
  profileKey: string;
  socketPath: string;
  logPath: string;
  command: string;
  startedAt: number;
  /** The shell loop that stops the server when no window is connected (see watchdog.ts). */
  watchdogPid?: number;
}

/** Takes the start lock (an exclusive file); a lock older than 45 s is a crashed starter's and is broken. */
export async function acquireStartLock(lockPath: string): Promise<() => void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const fd = fs.openSync(lockPath, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return () => removeQuietly(lockPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let age = 0;
      try {
        age = Date.now() - fs.statSync(lockPath).mtimeMs;
      } catch {
        continue; // released meanwhile
      }
      if (age > 45_000 || Date.now() > deadline) removeQuietly(lockPath);
      else await delay(100);
    }
  }
}

/** A profile id as a short, safe file name part. */
export function safeFileKey(key: string): string {
  const cleaned = key.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 24);
  if (cleaned === key) return cleaned;
  return `${cleaned}-${createHash('sha256').update(key).digest('hex').slice(0, 6)}`;
}

export function readMetadata(file: string): CodexServerMetadata | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as CodexServerMetadata;
    return typeof value.pid === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and (where /proc exists) is a codex app-server, so a reused pid is never killed. */
export function isCodexProcess(pid: number): boolean {
  return commandLineIncludes(pid, 'app-server', () => process.platform !== 'linux');
}

export async function isStillRunning(pid: number, graceMs: number): Promise<boolean> {
  return !(await waitForExit(pid, graceMs));
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

export function rotateLog(file: string): void {
  if (fileSize(file) > MAX_LOG_BYTES) {
    try {
      fs.renameSync(file, `${file}.1`);
    } catch {
      // Keep appending.
    }
  }
}
