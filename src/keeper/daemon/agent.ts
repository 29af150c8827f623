// Starting the agent the keeper holds: its own process group, all three pipes, the config's cwd and environment.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { KeeperConfig } from '../protocol';
import { log } from './log';

/** What the keeper prints on stdout once: the host waits for it before connecting. */
export type KeeperReady = { ok: true; cliPid: number; socketPath: string } | { ok: false; code?: string; message: string };

export interface AgentEvents {
  /** The process object, as soon as it exists (before it has spawned). */
  created(child: ChildProcess): void;
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  closed(code: number | null, signal: NodeJS.Signals | null): void;
}

/** Spawns the agent; resolves once it runs (or could not start, with a code such as ENOENT or ENOCWD). */
export function spawnAgent(config: KeeperConfig, socketPath: string, events: AgentEvents): Promise<KeeperReady> {
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
    events.created(child);
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return log(`agent process error: ${error.message}`);
      const code = error.code === 'ENOENT' && !fs.existsSync(config.cwd) ? 'ENOCWD' : error.code;
      resolve({ ok: false, code, message: code === 'ENOCWD' ? `The working directory ${config.cwd} does not exist` : error.message });
    });
    child.once('spawn', () => {
      child.stdout?.on('data', (chunk: Buffer) => events.stdout(chunk));
      child.stderr?.on('data', (chunk: Buffer) => events.stderr(chunk));
      child.stdin?.on('error', () => undefined);
      child.once('close', (code, signal) => events.closed(code, signal));
      resolve({ ok: true, cliPid: child.pid as number, socketPath });
    });
  });
}
