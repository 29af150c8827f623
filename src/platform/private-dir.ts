// The one private directory of a workspace's sockets and keeper files (DESIGN §5): MCP, Codex and keepers share it.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * `atw-<hash of workspace and uid>` under the temp dir, or under /tmp when the temp dir's path is long: Unix socket
 * paths are limited to ~107 bytes, and names like "/k-<12 hex>.journal" must still fit.
 */
export function privateDirFor(workspacePath: string, uid: number = process.getuid?.() ?? 0, tmpdir: string = os.tmpdir()): string {
  const hash = createHash('sha256').update(`${workspacePath}\0${uid}`).digest('hex').slice(0, 8);
  const name = `atw-${hash}`;
  const preferred = path.join(tmpdir, name);
  return Buffer.byteLength(preferred) <= 60 || process.platform === 'win32' ? preferred : path.join('/tmp', name);
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
