// The keepers of a private directory: list them, kill one, and reap what dead keepers left behind.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeFrame } from '../framing';
import { FrameType, type KeeperMetadata } from '../protocol';
import { isKeeperId, keeperPaths, readKeeperMetadata } from '../files';
import { commandLineIncludes, delay, isSameProcess, killProcessTree, removeQuietly } from '../../platform/process';
import { privateDirProblem } from '../../platform/private-dir';

import { openConnection } from './connection';
import { KeeperError } from './errors';
import type { KeeperInfo, KeeperLauncher, KeeperRef } from './launcher';

/**
 * Throws KeeperError('refused') unless `dir` is a private directory of ours (H1): a directory another user made or
 * replaced could name any process for us to kill, or hold a forged journal. False when it does not exist.
 */
export function checkKeeperDir(dir: string): boolean {
  const problem = privateDirProblem(dir);
  if (problem === 'missing') return false;
  if (problem) throw new KeeperError('refused', `${problem}; refusing to use its agent keepers`);
  return true;
}

/**
 * Lists the keepers in `dir`. With `cleanup` (default) dead keepers, long-ended ones and stray files are removed;
 * with `owner`, only the keepers that owner started are cleaned up (another window's are listed, never touched).
 * Throws KeeperError('refused') when `dir` is not a private directory of ours.
 */
export function listKeepers(dir: string, options: { cleanup?: boolean; endedRetentionMs?: number; owner?: string } = {}): KeeperInfo[] {
  const cleanup = options.cleanup ?? true;
  const retention = options.endedRetentionMs ?? 7 * 24 * 60 * 60_000;
  if (!checkKeeperDir(dir)) return [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const infos: KeeperInfo[] = [];
  const known = new Set<string>();
  for (const name of names) {
    const match = /^k-([0-9a-f]{12})\.json$/.exec(name);
    if (!match) continue;
    const ref: KeeperRef = { keeperId: match[1], dir };
    const metadata = readKeeperMetadata(path.join(dir, name));
    if (!metadata) continue;
    known.add(ref.keeperId);
    const live = metadata.status !== 'ended' && isSameProcess(metadata.pid, metadata.pidStart);
    const state: KeeperInfo['state'] = live ? 'live' : metadata.status === 'ended' ? 'ended' : 'dead';
    infos.push({
      ref,
      taskId: metadata.taskId,
      provider: metadata.provider,
      owner: metadata.owner,
      state,
      status: metadata.status,
      pid: metadata.pid,
      cliPid: metadata.cliPid,
      createdAt: metadata.createdAt,
      updatedAt: metadata.updatedAt,
      hostAttached: live && metadata.hostAttached,
      stop: metadata.stop,
      reason: metadata.reason,
      exit: metadata.exit,
    });
    if (!cleanup || (options.owner !== undefined && metadata.owner !== options.owner)) continue;
    if (state === 'dead') reapDeadKeeper(metadata, ref);
    else if (state === 'ended' && Date.now() - metadata.updatedAt > retention) removeKeeperFiles(ref);
  }
  if (cleanup) removeStrayFiles(dir, names, known);
  return infos;
}

/**
 * Ends a keeper and its agent without attaching (Clear of a task whose agent runs detached, or a keeper whose task
 * is gone). Resolves true when there was something to end; rejects with KeeperError('refused') when `ref.dir` is not
 * a private directory of ours (nothing is killed then).
 */
export async function killKeeper(ref: KeeperRef, timeoutMs = 3000): Promise<boolean> {
  if (!isKeeperId(ref?.keeperId)) return false;
  if (!checkKeeperDir(ref.dir)) return false;
  const paths = keeperPaths(ref.dir, ref.keeperId);
  const metadata = readKeeperMetadata(paths.metadata);
  if (!metadata) {
    removeKeeperFiles(ref);
    return false;
  }
  if (metadata.status !== 'ended' && isSameProcess(metadata.pid, metadata.pidStart)) {
    try {
      const connection = await openConnection(paths.socket, metadata.token, Number.MAX_SAFE_INTEGER, timeoutMs);
      const closed = new Promise<void>((resolve) => connection.socket.once('close', () => resolve()));
      connection.socket.resume();
      connection.socket.write(encodeFrame(FrameType.kill));
      await Promise.race([closed, delay(timeoutMs)]);
      connection.socket.destroy();
    } catch {
      // Fall through to the signals.
    }
  }
  killKeeperProcesses(ref, metadata);
  removeKeeperFiles(ref);
  return true;
}

/** Kills what a keeper's metadata names, only where the pid is still the same process (never a reused pid). */
export function killKeeperProcesses(ref: KeeperRef, metadata: KeeperMetadata | undefined): void {
  if (!metadata) return;
  if (isSameProcess(metadata.cliPid, metadata.cliStart)) killProcessTree(metadata.cliPid, 'SIGKILL');
  if (isSameProcess(metadata.pid, metadata.pidStart)) {
    try {
      process.kill(metadata.pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
  if (metadata.watchdogPid !== undefined && commandLineIncludes(metadata.watchdogPid, `--keeper=${ref.keeperId}`)) {
    try {
      process.kill(metadata.watchdogPid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
}

/** A keeper died: make sure its agent did too, then remove its files. */
export function reapDeadKeeper(metadata: KeeperMetadata, ref: KeeperRef): void {
  killKeeperProcesses(ref, metadata);
  removeKeeperFiles(ref);
}

/** Removes every file of a keeper: socket, journal, metadata, log and any temporary file a crash left. */
export function removeKeeperFiles(ref: KeeperRef): void {
  const prefix = `k-${ref.keeperId}.`;
  let names: string[];
  try {
    names = fs.readdirSync(ref.dir);
  } catch {
    return;
  }
  for (const name of names) if (name.startsWith(prefix)) removeQuietly(path.join(ref.dir, name));
}

/** Keeper files with no metadata (a keeper that died while starting), older than a minute so a starting one is spared. */
function removeStrayFiles(dir: string, names: string[], known: Set<string>): void {
  for (const name of names) {
    const match = /^k-([0-9a-f]{12})\.(sock|journal|journal\.tmp|log|json\.\d+\.tmp)$/.exec(name);
    if (!match || known.has(match[1])) continue;
    const file = path.join(dir, name);
    try {
      if (Date.now() - fs.lstatSync(file).mtimeMs > 60_000) fs.unlinkSync(file);
    } catch {
      // Gone meanwhile.
    }
  }
}


/** The owner a window's keepers record (M4): a hash of its storage dir, so windows on one socket dir tell theirs apart. */
export function keeperOwnerFor(storageDir: string): string {
  return createHash('sha256').update(storageDir).digest('hex').slice(0, 16);
}

/**
 * The activation sweep: ends this launcher's live keepers whose task is gone or finished (`wanted(taskId)` false), so
 * they do not keep an agent running until keepRunningMinutes. Keepers of live tasks are left for the providers'
 * resume() to reattach, and keepers another window started (another owner) are never touched. Returns the refs it
 * ended. Throws KeeperError('refused') when the launcher's directory is not ours.
 */
export function sweepOrphanKeepers(launcher: KeeperLauncher, wanted: (taskId: string) => boolean, log: { info(message: string): void; warn(message: string): void }): KeeperRef[] {
  const ended: KeeperRef[] = [];
  for (const keeper of launcher.list({ cleanup: true })) {
    if (keeper.state !== 'live' || keeper.owner !== launcher.owner || wanted(keeper.taskId)) continue;
    log.info(`Stopping the agent of task ${keeper.taskId}, which is finished or gone (keeper ${keeper.ref.keeperId})`);
    ended.push(keeper.ref);
    void launcher.kill(keeper.ref).catch((error: unknown) => log.warn(`Stopping keeper ${keeper.ref.keeperId} failed: ${(error as Error)?.message ?? String(error)}`));
  }
  return ended;
}
