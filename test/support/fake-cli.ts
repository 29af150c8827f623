/**
 * Shared by the keeper tests and benchmark: the fake CLIs, a freshly built keeper bundle, a private socket directory,
 * and process-table checks.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

/** The fake agent programs (test/fixtures/fake-cli). */
export const FAKE_CLI_DIR = path.resolve(__dirname, '../fixtures/fake-cli');
export const fakeCli = (name: 'agent' | 'approval' | 'flood'): string => path.join(FAKE_CLI_DIR, `${name}.mjs`);
const REPO = path.resolve(__dirname, '../..');

/** Builds src/keeper/daemon/main.ts into `outDir`/keeper.js (so tests never run a stale dist/). */
export async function buildKeeper(outDir: string): Promise<string> {
  const outfile = path.join(outDir, 'keeper.js');
  await esbuild.build({
    entryPoints: [path.join(REPO, 'src', 'keeper', 'daemon', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

/** A short private temp root: socket paths must stay under 100 bytes. */
export function makeRoot(prefix = 'atwk-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** True while `pid` exists and is not a zombie. */
export function isRunning(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]);
  } catch {
    return false;
  }
}

/** The pids in the process table whose command line contains `text`. */
export function pidsMatching(text: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.includes(text) && isRunning(Number(name))) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

export async function waitFor(check: () => boolean, timeoutMs: number, what = 'condition'): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
  return Date.now() - started;
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
