// The files of one keeper, all in the private directory and named after its id: socket, journal, metadata, log.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type KeeperMetadata } from './protocol';

/** Where one keeper's files live: all in the private directory, all named after its id. */
export interface KeeperPaths {
  socket: string;
  journal: string;
  metadata: string;
  log: string;
}

export function keeperPaths(dir: string, id: string): KeeperPaths {
  const base = path.join(dir, `k-${id}`);
  return { socket: `${base}.sock`, journal: `${base}.journal`, metadata: `${base}.json`, log: `${base}.log` };
}

/** Unix socket paths must fit sun_path (108 bytes on Linux, 104 on macOS); stay well below. */
export const MAX_SOCKET_PATH_BYTES = 100;

/** A keeper id: 12 hex characters (keeps the socket path short). */
export function isKeeperId(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{12}$/.test(value);
}

export function readKeeperMetadata(file: string): KeeperMetadata | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as KeeperMetadata;
    return value && value.version === 1 && isKeeperId(value.id) && typeof value.pid === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the metadata atomically (tmp + rename), readable by the owner only. */
export function writeKeeperMetadata(file: string, metadata: KeeperMetadata): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(metadata, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

