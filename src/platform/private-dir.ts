// The one private directory of a workspace's sockets and keeper files (DESIGN §5): MCP, Codex and keepers share it.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * `atw-<hash of workspace and uid>` under `$XDG_RUNTIME_DIR` when it is set and ours (a per-user 0700 directory
 * nobody else can squat in), else under the temp dir, or under /tmp when that path is long: Unix socket paths are
 * limited to ~107 bytes, and names like "/k-<12 hex>.journal" must still fit.
 */
export function privateDirFor(workspacePath: string, uid: number = process.getuid?.() ?? 0, tmpdir: string = defaultBase()): string {
  const hash = createHash('sha256').update(`${workspacePath}\0${uid}`).digest('hex').slice(0, 8);
  const name = `atw-${hash}`;
  const preferred = path.join(tmpdir, name);
  return Buffer.byteLength(preferred) <= 60 || process.platform === 'win32' ? preferred : path.join('/tmp', name);
}

/** `$XDG_RUNTIME_DIR` when it is a private directory of ours with a short path, else the temp dir. */
function defaultBase(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime) && Buffer.byteLength(runtime) <= 47 && privateDirProblem(runtime) === undefined) return runtime;
  return os.tmpdir();
}

/**
 * Why `dir` may not hold our sockets, or undefined when it may: it must be a real directory (not a symlink), owned by
 * the current user, with no group or other permissions. 'missing' when it does not exist.
 */
export function privateDirProblem(dir: string): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(dir);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `${dir} cannot be read: ${(error as Error).message}`;
  }
  if (stat.isSymbolicLink()) return `${dir} is a symbolic link`;
  if (!stat.isDirectory()) return `${dir} is not a directory`;
  if (process.platform === 'win32') return undefined;
  if (stat.uid !== process.getuid?.()) return `${dir} belongs to another user (uid ${stat.uid})`;
  if ((stat.mode & 0o077) !== 0) return `${dir} is accessible to other users (mode ${(stat.mode & 0o777).toString(8)})`;
  return undefined;
}

/**
 * Throws unless `dir` is a private directory of ours (see privateDirProblem): checked on every use, not only when it
 * is created, since another local user may create or replace the predictable name at any time.
 */
export function verifyPrivateDir(dir: string, what = 'sockets'): void {
  const problem = privateDirProblem(dir);
  if (problem === 'missing') throw new Error(`${dir} does not exist`);
  if (problem) throw new Error(`${problem}; refusing to use it for ${what}`);
}

/**
 * Creates `dir` as a 0700 directory of the current user, or checks an existing one is a real directory of ours and
 * tightens its mode. `what` names the user in the error ("the MCP socket", "agent sockets").
 */
export function ensurePrivateDir(dir: string, what = 'sockets'): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory() || stat.isSymbolicLink()) throw new Error(`${dir} is not a directory`);
  if (process.platform === 'win32') return;
  if (stat.uid !== process.getuid?.()) throw new Error(`${dir} belongs to another user; refusing to put ${what} there`);
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

/**
 * The private directory a window uses: the predictable one (privateDirFor) when it is ours or can be made ours; when
 * another user took the name, a fresh `mkdtemp` directory, remembered in `rememberFile` (in the workspace storage) so
 * the next window finds its keepers again. `onFallback` says why the predictable one was refused.
 */
export function resolvePrivateDir(workspacePath: string, options: { rememberFile?: string; onFallback?: (reason: string) => void } = {}): string {
  const preferred = privateDirFor(workspacePath);
  try {
    ensurePrivateDir(preferred);
    return preferred;
  } catch (error) {
    options.onFallback?.((error as Error).message);
  }
  if (options.rememberFile) {
    try {
      const remembered = fs.readFileSync(options.rememberFile, 'utf8').trim();
      if (path.isAbsolute(remembered) && privateDirProblem(remembered) === undefined) return remembered;
    } catch {
      // Nothing remembered yet.
    }
  }
  const base = Buffer.byteLength(os.tmpdir()) <= 40 ? os.tmpdir() : '/tmp';
  const dir = fs.mkdtempSync(path.join(base, 'atw-'));
  fs.chmodSync(dir, 0o700);
  if (options.rememberFile) {
    try {
      fs.mkdirSync(path.dirname(options.rememberFile), { recursive: true });
      fs.writeFileSync(options.rememberFile, dir, { mode: 0o600 });
    } catch {
      // Not remembered: the next window makes another one (and resumes sessions instead of reattaching).
    }
  }
  return dir;
}
