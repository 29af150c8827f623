// The MCP socket's file name (in the workspace's private dir, platform/private-dir.ts) and the token that opens it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SOCKET_FILE = 'mcp.sock';
const TOKEN_FILE = 'mcp-token';

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
