/**
 * Issue #17 with real processes and another local uid (root simulates it with chown): the private directory is
 * verified on every use, and nothing is killed on the word of a metadata file.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { isKeeperError, KeeperLauncher, keeperOwnerFor, sweepOrphanKeepers } from '../../src/keeper';
import { keeperPaths, readKeeperMetadata } from '../../src/keeper/files';
import { buildKeeper, fakeCli, isRunning, makeRoot, waitFor } from '../support/fake-cli';
import type { KeeperMetadata } from '../../src/keeper/protocol';
import { isSameProcess, processStartTime } from '../../src/platform/process';
import { privateDirFor, resolvePrivateDir } from '../../src/platform/private-dir';

const OTHER_UID = 4242;
const isRoot = process.getuid?.() === 0;
const onLinux = fs.existsSync('/proc/self/stat');
const ID = 'aaaaaaaaaaaa';

const children: ChildProcess[] = [];
const cleanups: string[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of cleanups.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function victim(options: { uid?: number } = {}): number {
  const child = spawn('sleep', ['300'], { stdio: 'ignore', detached: true, ...options });
  children.push(child);
  return child.pid as number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function startedAt(pid: number): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const start = processStartTime(pid);
    if (start) return start;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no start time for ${pid}`);
}

/** A private dir (0700, ours) holding one keeper's metadata; `fields` override it. */
function plantKeeper(dir: string, fields: Partial<KeeperMetadata>): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const metadata: KeeperMetadata = {
    version: 1,
    id: ID,
    taskId: 'calm-heron-042',
    provider: 'claude-cli',
    command: 'claude',
    pid: 999_999_999,
    cliPid: 999_999_999,
    socketPath: path.join(dir, `k-${ID}.sock`),
    journalPath: path.join(dir, `k-${ID}.journal`),
    token: 'x',
    keepRunningMs: 60_000,
    createdAt: Date.now(),
    updatedAt: Date.now(),
    status: 'running',
    hostAttached: false,
    ...fields,
  };
  fs.writeFileSync(path.join(dir, `k-${ID}.json`), JSON.stringify(metadata), { mode: 0o600 });
}

function tempRoot(): string {
  const root = fs.mkdtempSync(path.join('/tmp', 'atw-sec-'));
  cleanups.push(root);
  return root;
}

const launcherFor = (dir: string) => new KeeperLauncher({ dir, keeperScript: '/nonexistent/keeper.js' });

describe('H1: the socket directory is ours, every time', { skip: !onLinux && 'needs /proc' }, () => {
  test('H1 a keeper directory owned by another user is refused for list, attach and kill, and nothing is killed', { skip: !isRoot && 'needs root to chown' }, async () => {
    const dir = path.join(tempRoot(), 'atw-squatted');
    const target = victim();
    // Even with the right start times, a file in someone else's directory names nothing we kill.
    plantKeeper(dir, { pid: target, pidStart: await startedAt(target), cliPid: target, cliStart: await startedAt(target) });
    fs.chownSync(dir, OTHER_UID, OTHER_UID);
    fs.chownSync(path.join(dir, `k-${ID}.json`), OTHER_UID, OTHER_UID);
    const launcher = launcherFor(dir);
    assert.throws(() => launcher.list({ cleanup: true }), (error: unknown) => isKeeperError(error, 'refused') && /another user/.test((error as Error).message));
    await assert.rejects(launcher.attach({ keeperId: ID, dir }), (error: unknown) => isKeeperError(error, 'refused'));
    await assert.rejects(launcher.kill({ keeperId: ID, dir }), (error: unknown) => isKeeperError(error, 'refused'));
    assert.ok(alive(target), 'the process named by the planted metadata is still running');
    assert.ok(fs.existsSync(path.join(dir, `k-${ID}.json`)), 'nothing was removed from a directory that is not ours');
  });

  test('H1 a directory open to other users (mode 0755) is refused too', async () => {
    const dir = path.join(tempRoot(), 'atw-open');
    const target = victim();
    plantKeeper(dir, { cliPid: target, cliStart: await startedAt(target) });
    fs.chmodSync(dir, 0o755);
    assert.throws(() => launcherFor(dir).list({ cleanup: true }), (error: unknown) => isKeeperError(error, 'refused'));
    assert.ok(alive(target));
  });

  test('H1 a symlinked keeper directory is refused for list, attach and kill', async () => {
    const root = tempRoot();
    const real = path.join(root, 'real');
    const target = victim();
    plantKeeper(real, { cliPid: target, cliStart: await startedAt(target) });
    const link = path.join(root, 'atw-link');
    fs.symlinkSync(real, link);
    const launcher = launcherFor(link);
    assert.throws(() => launcher.list({ cleanup: true }), (error: unknown) => isKeeperError(error, 'refused') && /symbolic link/.test((error as Error).message));
    await assert.rejects(launcher.attach({ keeperId: ID, dir: link }), (error: unknown) => isKeeperError(error, 'refused'));
    await assert.rejects(launcher.kill({ keeperId: ID, dir: link }), (error: unknown) => isKeeperError(error, 'refused'));
    assert.ok(alive(target));
  });

  test('H1 metadata naming a live process of ours without its start time (or with another) does not get it killed', async () => {
    const dir = path.join(tempRoot(), 'atw-ours');
    const noStart = victim();
    const wrongStart = victim();
    // A dead keeper: the sweep's cleanup reaps it, which kills what its metadata names, when it is the same process.
    plantKeeper(dir, { cliPid: noStart, pidStart: undefined, cliStart: undefined });
    const launcher = launcherFor(dir);
    const [info] = launcher.list({ cleanup: true });
    assert.equal(info?.state, 'dead');
    assert.ok(alive(noStart), 'a pid without a recorded start time is never killed');

    plantKeeper(dir, { pid: wrongStart, pidStart: '1', cliPid: wrongStart, cliStart: '1' });
    assert.equal(launcher.list({ cleanup: false })[0]?.state, 'dead', 'a pid whose start time differs is not the keeper');
    await launcher.kill({ keeperId: ID, dir });
    launcher.list({ cleanup: true });
    assert.ok(alive(wrongStart), 'a pid whose start time differs is never killed');
  });

  test('H1 the launcher uses its own verified directory, never the dir a task persisted', async () => {
    const root = tempRoot();
    const elsewhere = path.join(root, 'elsewhere');
    const target = victim();
    plantKeeper(elsewhere, { pid: target, pidStart: await startedAt(target), cliPid: target, cliStart: await startedAt(target), status: 'running' });
    const mine = path.join(root, 'mine');
    fs.mkdirSync(mine, { mode: 0o700 });
    const launcher = launcherFor(mine);
    assert.equal(await launcher.kill({ keeperId: ID, dir: elsewhere }), false, 'nothing to kill in the launcher’s own dir');
    await assert.rejects(launcher.attach({ keeperId: ID, dir: elsewhere }), (error: unknown) => isKeeperError(error, 'gone'));
    assert.ok(alive(target));
  });

  test('H1 a process of another user (kill(0) answers EPERM) is not alive-and-ours', { skip: !isRoot && 'needs root to run as another uid' }, async () => {
    const theirs = victim({ uid: OTHER_UID });
    const start = await startedAt(theirs);
    assert.equal(isSameProcess(theirs, start), false);
    const mine = victim();
    assert.equal(isSameProcess(mine, await startedAt(mine)), true);
    assert.equal(isSameProcess(mine, undefined), false, 'a missing start time never matches');
  });

  test('H1 when another user took the predictable name, a fresh private directory is used and remembered', { skip: !isRoot && 'needs root to chown' }, () => {
    const root = tempRoot();
    const workspace = path.join(root, 'ws');
    const predictable = privateDirFor(workspace);
    fs.mkdirSync(predictable, { mode: 0o755 });
    cleanups.push(predictable);
    fs.chownSync(predictable, OTHER_UID, OTHER_UID);
    const rememberFile = path.join(root, 'storage', 'private-dir');
    const reasons: string[] = [];
    const dir = resolvePrivateDir(workspace, { rememberFile, onFallback: (reason) => reasons.push(reason) });
    cleanups.push(dir);
    assert.notEqual(dir, predictable);
    const stat = fs.lstatSync(dir);
    assert.ok(stat.isDirectory() && !stat.isSymbolicLink());
    assert.equal(stat.uid, process.getuid?.());
    assert.equal(stat.mode & 0o077, 0);
    assert.match(reasons[0] ?? '', /another user/);
    assert.equal(resolvePrivateDir(workspace, { rememberFile }), dir, 'the next window finds the same directory');
    // Ours, it is used as before.
    const other = path.join(root, 'ws2');
    const own = resolvePrivateDir(other);
    cleanups.push(own);
    assert.equal(own, privateDirFor(other));
    assert.ok(os.tmpdir());
  });
});

describe('M4: windows do not kill each other\'s agents', () => {
  let root: string;
  let keeperScript: string;
  before(async () => {
    root = makeRoot('atw-m4-');
    keeperScript = await buildKeeper(root);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  test('M4 two windows over one socket dir: B\'s activation sweep leaves A\'s live keeper running, A\'s own sweep ends it', async () => {
    const dir = path.join(root, 'shared');
    const silent = { info: () => undefined, warn: () => undefined };
    const a = new KeeperLauncher({ dir, keeperScript, owner: keeperOwnerFor('/storage/window-a') });
    const b = new KeeperLauncher({ dir, keeperScript, owner: keeperOwnerFor('/storage/window-b') });
    assert.notEqual(a.owner, b.owner);
    const transport = await a.start({ command: process.execPath, args: [fakeCli('agent')], cwd: root, taskId: 'calm-heron-042', provider: 'claude-cli', keepRunningMs: 60_000 });
    const metadata = readKeeperMetadata(keeperPaths(dir, transport.ref.keeperId).metadata);
    assert.ok(metadata);
    assert.equal(metadata.owner, a.owner, 'the keeper records its owner');
    const pids = [metadata.pid, metadata.cliPid, ...(metadata.watchdogPid ? [metadata.watchdogPid] : [])];
    try {
      await transport.detach();
      await waitFor(() => a.list().find((info) => info.taskId === 'calm-heron-042')?.hostAttached === false, 2000, 'the detach');
      // Window B does not know task calm-heron-042 (its own state.json has other tasks): its sweep must leave it alone.
      assert.deepEqual(sweepOrphanKeepers(b, () => false, silent), []);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.ok(isRunning(metadata.pid) && isRunning(metadata.cliPid), 'A\'s keeper and agent still run after B\'s sweep');
      assert.equal(b.list({ cleanup: true }).find((info) => info.taskId === 'calm-heron-042')?.state, 'live');
      // A's own sweep, with the task gone, ends it.
      assert.equal(sweepOrphanKeepers(a, () => false, silent).length, 1);
      await waitFor(() => !isRunning(metadata.pid) && !isRunning(metadata.cliPid), 5000, 'A\'s sweep to end its keeper');
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
    }
  });
});

describe('L1: keeper line and frame caps', () => {
  let root: string;
  let keeperScript: string;
  before(async () => {
    root = makeRoot('atw-l1-');
    keeperScript = await buildKeeper(root);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  test('L1 an agent under a keeper that sends a line over 16 MiB is stopped and the transport closes with a clear error', async () => {
    const dir = path.join(root, 'k');
    const launcher = new KeeperLauncher({ dir, keeperScript });
    const script = "process.stdout.write('{\"type\":\"hello\"}\\n'); const c = Buffer.alloc(1024 * 1024, 97); let n = 0; const go = () => { while (n < 20) { n++; if (!process.stdout.write(c)) return process.stdout.once('drain', go); } }; go(); setInterval(() => {}, 1000);";
    const transport = await launcher.start({ command: process.execPath, args: ['-e', script], cwd: root, taskId: 'calm-heron-042', provider: 'claude-cli', keepRunningMs: 60_000 });
    const metadata = readKeeperMetadata(keeperPaths(dir, transport.ref.keeperId).metadata);
    assert.ok(metadata);
    const messages: unknown[] = [];
    const malformed: string[] = [];
    transport.onMessage((message) => messages.push(message));
    transport.onMalformed(({ raw }) => malformed.push(raw));
    try {
      const closed = await Promise.race([
        transport.whenClosed(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the agent was not stopped')), 20_000)),
      ]);
      assert.match(closed.error?.message ?? '', /The agent was stopped: it sent a line longer than 16 MiB/);
      assert.deepEqual(messages, [{ type: 'hello' }], 'the lines before it were delivered');
      assert.deepEqual(malformed, [], 'no piece of the cut line is passed on');
      await waitFor(() => !isRunning(metadata.cliPid), 5000, 'the agent to be stopped');
    } finally {
      for (const pid of [metadata.pid, metadata.cliPid, ...(metadata.watchdogPid ? [metadata.watchdogPid] : [])]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
    }
  });
});
