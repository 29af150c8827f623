// Where a workspace's MCP socket lives, and the token that opens it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const SOCKET_FILE = 'mcp.sock';
const TOKEN_FILE = 'mcp-token';
const TOKEN_SHAPE = /^[0-9a-f]{64}$/;

/** The file that holds a workspace's token. */
export function tokenFilePath(storageDir: string): string {
  return path.join(storageDir, TOKEN_FILE);
}

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
    if (TOKEN_SHAPE.test(existing)) {
      if (process.platform !== 'win32' && (fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
      return existing;
    }
  } catch {
    // Missing or unreadable: make a new one.
  }
  return writeNewToken(storageDir);
}

/** Replaces the workspace's token with a new random one (0600) and returns it: every config that embeds the old one stops working. */
export function rotateToken(storageDir: string): string {
  return writeNewToken(storageDir);
}

function writeNewToken(storageDir: string): string {
  const file = path.join(storageDir, TOKEN_FILE);
  fs.mkdirSync(storageDir, { recursive: true });
  const token = randomBytes(32).toString('hex');
  const temp = `${file}.${process.pid}.tmp`;
  fs.rmSync(temp, { force: true });
  fs.writeFileSync(temp, `${token}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(temp, file);
  return token;
}

/** The token in a token file, or undefined when it is missing or not a token. */
export function readTokenFile(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    const token = fs.readFileSync(file, 'utf8').trim();
    return TOKEN_SHAPE.test(token) ? token : undefined;
  } catch {
    return undefined;
  }
}

/** Compares a presented token with the expected one in constant time. */
export function tokenMatches(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
