import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * A detached app-server has no parent to stop it once no window uses it. A tiny shell loop beside it stops it when
 * the heartbeat file, touched by every connected window, is older than the keep-running limit
 * (`agentTasks.keepRunningMinutes`), and ends by itself when the server is gone.
 */
const WATCHDOG_SCRIPT = `
pid="$1"; heartbeat="$2"; limit="$3"; poll="$4"
age() {
  now=$(date +%s)
  touched=$(stat -c %Y "$heartbeat" 2>/dev/null || stat -f %m "$heartbeat" 2>/dev/null || echo "$now")
  echo $((now - touched))
}
while kill -0 "$pid" 2>/dev/null; do
  sleep "$poll"
  if [ "$(age)" -ge "$limit" ]; then
    kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 10 ]; do sleep 1; waited=$((waited + 1)); done
    kill -KILL -"$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    exit 0
  fi
done
`;

export interface WatchdogTiming {
  /** How often connected windows touch the heartbeat. */
  heartbeatMs: number;
  /** Heartbeat age (whole seconds) at which the server is stopped. */
  limitSeconds: number;
  /** How often the watchdog looks (whole seconds). */
  pollSeconds: number;
}

/** Timing for a keep-running limit; the limit never undercuts a few heartbeats, so a reload never trips it. */
export function watchdogTiming(keepRunningMs: number): WatchdogTiming {
  const heartbeatMs = Math.min(30_000, Math.max(250, Math.floor(keepRunningMs / 4)));
  const limitSeconds = Math.max(1, Math.ceil(Math.max(keepRunningMs, 3 * heartbeatMs) / 1000));
  const pollSeconds = Math.min(30, Math.max(1, Math.floor(limitSeconds / 4)));
  return { heartbeatMs, limitSeconds, pollSeconds };
}

/** Starts the watchdog for server `pid`; returns its pid (undefined where there is no POSIX shell). */
export function startWatchdog(pid: number, heartbeatPath: string, timing: WatchdogTiming): number | undefined {
  if (process.platform === 'win32' || !fs.existsSync('/bin/sh')) return undefined;
  touch(heartbeatPath);
  const child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'codex-app-server-watchdog', String(pid), heartbeatPath, String(timing.limitSeconds), String(timing.pollSeconds)], {
    detached: true,
    stdio: 'ignore',
  });
  child.on('error', () => undefined);
  child.unref();
  return child.pid;
}

/** Marks the heartbeat fresh. */
export function touch(file: string): void {
  const now = new Date();
  try {
    fs.utimesSync(file, now, now);
  } catch {
    try {
      fs.writeFileSync(file, '', { mode: 0o600 });
    } catch {
      // The directory is gone (shutdown); nothing to keep alive.
    }
  }
}
