// Where a workspace's MCP socket lives, and the token that opens it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const SOCKET_FILE = 'mcp.sock';
const TOKEN_FILE = 'mcp-token';

/**
 * The private directory for a workspace's sockets: `atw-<hash of workspace and uid>` under the temp dir, or under /tmp
 * when the temp dir's path is long (Unix socket paths are limited to ~107 bytes). Codex sockets share it (DESIGN §5).
 */
export function workspaceSocketDir(workspacePath: string, uid: number = process.getuid?.() ?? 0, tmpdir: string = os.tmpdir()): string {
  const hash = createHash('sha256').update(`${workspacePath}\0${uid}`).digest('hex').slice(0, 8);
  const name = `atw-${hash}`;
  const preferred = path.join(tmpdir, name);
  return Buffer.byteLength(preferred) <= 60 || process.platform === 'win32' ? preferred : path.join('/tmp', name);
}

/** Creates the directory 0700, or checks an existing one is a real directory of ours and tightens its mode. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  if (!stat.isDirectory() || stat.isSymbolicLink()) throw new Error(`${dir} is not a directory`);
  if (process.platform === 'win32') return;
  if (stat.uid !== process.getuid?.()) throw new Error(`${dir} belongs to another user; refusing to put the MCP socket there`);
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

/**
 * The workspace's token, kept in its (persistent) storage folder so a copied MCP config stays valid across reloads.
 * Created 0600 on first use.
 */
export function loadOrCreateToken(storageDir: string): string {
  const file = path.join(storageDir, TOKEN_FILE);
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f]{64}$/.test(existing)) {
      if (process.platform !== 'win32' && (fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
      return existing;
    }
  } catch {
    // Missing or unreadable: make a new one.
  }
  fs.mkdirSync(storageDir, { recursive: true });
  const token = randomBytes(32).toString('hex');
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${token}\n`, { mode: 0o600 });
  fs.renameSync(temp, file);
  return token;
}

/** Compares a presented token with the expected one in constant time. */
export function tokenMatches(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
