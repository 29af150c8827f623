/**
 * The keeper: a small detached process (bundled as dist/keeper.js) that holds a stdio agent's pipes so the agent
 * outlives the window. It journals every line the agent writes with a sequence number, serves one private Unix socket
 * (0600, token) to the host, replays what a reattaching host missed, and forwards what the host sends to the agent's
 * stdin. The config (with the agent's environment, which may hold secrets) arrives on stdin and is never written.
 *
 * Lifetime: the keeper ends when the agent exited and the host acknowledged the exit record (files removed); when the
 * host asks for a kill (files removed); or when no host was attached for `keepRunningMs` (the agent is stopped
 * gracefully and the metadata and journal are kept, so a later host learns why and what happened meanwhile).
 *
 * Orphans: the agent leads its own process group. If the keeper dies, even by SIGKILL, the agent's stdin closes (stdio
 * agents exit on EOF), and a tiny /bin/sh watchdog that polls the keeper every `watchdogPollMs` sends SIGTERM, then
 * SIGKILL two seconds later, to the agent's group — so an agent that ignores EOF is gone within poll + 2 s.
 *
 *   node keeper.js --keeper=<id>      (config JSON on stdin; one JSON line on stdout when ready; log on stderr)
 */
import { KEEPER_PROTOCOL_VERSION, type KeeperConfig } from '../protocol';

import type { KeeperReady } from './agent';
import { Keeper } from './keeper';
import { log } from './log';

function readConfig(timeoutMs: number): Promise<KeeperConfig> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => reject(new Error('no config arrived on stdin')), timeoutMs);
    process.stdin.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 8 * 1024 * 1024) reject(new Error('the config is too large'));
      chunks.push(chunk);
    });
    process.stdin.once('error', reject);
    process.stdin.once('end', () => {
      clearTimeout(timer);
      try {
        resolve(validateConfig(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

function validateConfig(value: KeeperConfig): KeeperConfig {
  const strings = ['id', 'dir', 'token', 'taskId', 'provider', 'command', 'cwd'] as const;
  const numbers = ['keepRunningMs', 'stopGraceMs', 'watchdogPollMs', 'compactBytes'] as const;
  if (!value || value.v !== KEEPER_PROTOCOL_VERSION) throw new Error(`unsupported keeper config version ${value?.v}`);
  for (const key of strings) if (typeof value[key] !== 'string' || value[key] === '') throw new Error(`config.${key} is missing`);
  for (const key of numbers) if (typeof value[key] !== 'number' || !(value[key] >= 0)) throw new Error(`config.${key} is invalid`);
  if (!Array.isArray(value.args) || !value.args.every((arg) => typeof arg === 'string')) throw new Error('config.args is invalid');
  if (!value.env || typeof value.env !== 'object') throw new Error('config.env is invalid');
  return value;
}

function report(ready: KeeperReady): void {
  try {
    process.stdout.write(`${JSON.stringify(ready)}\n`);
  } catch {
    // The host is gone; it will find the keeper through the metadata file.
  }
}

async function main(): Promise<void> {
  process.umask(0o077);
  process.stdout.on('error', () => undefined);
  const running: { keeper?: Keeper } = {};
  process.on('uncaughtException', (error) => (running.keeper ? running.keeper.fail(error) : process.exit(1)));
  let config: KeeperConfig;
  try {
    config = await readConfig(10_000);
  } catch (error) {
    report({ ok: false, code: 'ECONFIG', message: (error as Error).message });
    process.exit(2);
  }
  process.stdin.destroy();
  const keeper = new Keeper(config);
  running.keeper = keeper;
  let ready: KeeperReady;
  try {
    ready = await keeper.start();
  } catch (error) {
    ready = { ok: false, code: (error as NodeJS.ErrnoException).code, message: (error as Error).message };
  }
  report(ready);
  if (!ready.ok) {
    log(`could not start: ${ready.message}`);
    setTimeout(() => process.exit(1), 50);
  }
}

void main();
