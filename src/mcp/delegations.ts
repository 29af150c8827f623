// Which MCP client delegated which task (L3): a token holder sees and acts on only the tasks it spawned, and all of
// them together may spawn only so many tasks a minute.
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SESSION_SHAPE } from './protocol';

const DELEGATIONS_FILE = 'mcp-delegations.json';

/** Who is on a connection: the owner of the tasks it spawns. */
export interface McpClient {
  owner: string;
}

/**
 * The owner of the tasks a connection spawns. The MCP server bundle sends a random session secret in its hello, one
 * per bundle process (that is, per MCP client session), so its tasks stay its own when it reconnects after a window
 * reload or a token rotation; a connection without one owns only what it spawns itself. Only the secret's hash is kept.
 */
export function ownerOf(session: string | undefined): string {
  return createHash('sha256')
    .update(session ?? randomBytes(32).toString('hex'))
    .digest('hex');
}

export function isSession(value: unknown): value is string {
  return typeof value === 'string' && SESSION_SHAPE.test(value);
}

/** Task id → owner, kept (0600) in the workspace storage so a reloaded window still knows whose tasks they are. */
export class Delegations {
  private readonly owners = new Map<string, string>();
  private file: string | undefined;

  /** Loads the owners kept in `storageDir` (and keeps later changes there). */
  load(storageDir: string): void {
    this.file = path.join(storageDir, DELEGATIONS_FILE);
    try {
      const kept = JSON.parse(fs.readFileSync(this.file, 'utf8')) as unknown;
      if (typeof kept !== 'object' || kept === null) return;
      for (const [taskId, owner] of Object.entries(kept)) if (typeof owner === 'string') this.owners.set(taskId, owner);
    } catch {
      // Nothing kept yet (or a torn file): the tasks it named are nobody's over MCP, which is the safe side.
    }
  }

  isOwner(taskId: string, owner: string): boolean {
    return this.owners.get(taskId) === owner;
  }

  owner(taskId: string): string | undefined {
    return this.owners.get(taskId);
  }

  add(taskId: string, owner: string): void {
    this.owners.set(taskId, owner);
    this.save();
  }

  remove(taskId: string): void {
    if (this.owners.delete(taskId)) this.save();
  }

  private save(): void {
    if (!this.file) return;
    const temp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(temp, JSON.stringify(Object.fromEntries(this.owners)), { mode: 0o600 });
      fs.renameSync(temp, this.file);
    } catch {
      // Kept in memory for this window; after a reload the task is nobody's over MCP (the safe side).
    }
  }
}

/** How many tasks MCP clients may spawn (spawn_task and send_message together) in a sliding window. */
export interface SpawnLimit {
  count: number;
  windowMs: number;
}

export const DEFAULT_SPAWN_LIMIT: SpawnLimit = { count: 20, windowMs: 60_000 };

/**
 * One limit for every token holder together: a per-session limit would be no limit, since anyone with the token can
 * open as many sessions as they like.
 */
export class SpawnLimiter {
  private readonly times: number[] = [];

  constructor(
    private readonly limit: SpawnLimit,
    private readonly now: () => number,
  ) {}

  /** Throws when `tasks` more would pass the limit, saying when they are allowed. */
  check(tasks = 1): void {
    const now = this.now();
    while (this.times.length > 0 && this.times[0] <= now - this.limit.windowMs) this.times.shift();
    const window = Math.round(this.limit.windowMs / 1000);
    if (tasks > this.limit.count) throw new Error(`Refused: ${tasks} tasks at once are more than the ${this.limit.count} MCP clients may start in ${window} s.`);
    if (this.times.length + tasks > this.limit.count) {
      // Room comes as the oldest spawns leave the window.
      const seconds = Math.max(1, Math.ceil((this.times[this.times.length + tasks - this.limit.count - 1] + this.limit.windowMs - now) / 1000));
      const why = tasks === 1 ? 'the most Agent Tasks accepts' : `and ${tasks} more would pass the ${this.limit.count} Agent Tasks accepts`;
      throw new Error(`Refused: MCP clients started ${this.times.length} tasks in the last ${window} s, ${why}; try again in ${seconds} s.`);
    }
  }

  /** Counts a task that was started (a refused spawn, e.g. an unknown provider, does not count). */
  count(): void {
    this.times.push(this.now());
  }
}
