// The MCP socket's file name (in the workspace's private dir, platform/private-dir.ts) and the token that opens it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SOCKET_FILE = 'mcp.sock';
const TOKEN_FILE = 'mcp-token';
const TOKEN_SHAPE = /^[0-9a-f]{64}$/;

/** The file that holds a workspace's token. */
export function tokenFilePath(storageDir: string): string {
  return path.join(storageDir, TOKEN_FILE);
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
