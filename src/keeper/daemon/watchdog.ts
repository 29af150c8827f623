// The keeper's /bin/sh watchdog: stops the agent's process group when the keeper is gone, even after a SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { type KeeperConfig } from '../protocol';


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

export function startWatchdog(cliPid: number, config: KeeperConfig): ChildProcess | undefined {
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
