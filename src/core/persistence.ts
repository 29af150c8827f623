import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Clock, TimerHandle } from './clock';
import { silentLogger, type Logger } from './events';
import type { ProfileState } from './profiles';
import { TASK_STATUSES, type TaskState } from './task-state';
import { boundedQuestion } from './question-bounds';

export const STATE_VERSION = 1;
export const STATE_FILE = 'state.json';

/** What state.json holds (DESIGN §5). Tasks are stored without their output; transcripts live in tasks/<id>.jsonl. */
export interface PersistedState {
  version: number;
  tasks: TaskState[];
  profiles: Record<string, ProfileState>;
  lastSavedAt: number;
}

export interface LoadResult {
  state: PersistedState;
  /** Things the user must be told (a corrupt file moved aside, a backup loaded). */
  warnings: string[];
  source: 'state' | 'backup' | 'empty';
}

/** state.json was written by a newer version of the extension; it is left untouched. */
export class NewerStateVersionError extends Error {
  constructor(readonly found: number) {
    super(
      `The task state was saved by a newer version of Agent Task Worker (format ${found}, this version reads ${STATE_VERSION}). ` +
        'It was left untouched; tasks started now are not saved. Update the extension to see your tasks.',
    );
    this.name = 'NewerStateVersionError';
  }
}

export const emptyState = (): PersistedState => ({ version: STATE_VERSION, tasks: [], profiles: {}, lastSavedAt: 0 });

/**
 * Atomic, versioned persistence of the task list. Writes go to a temp file, are fsynced and renamed over
 * state.json, with the previous good copy kept as state.json.bak. Saves are debounced; `flush()` writes at once.
 */
export class StateFile {
  readonly file: string;
  readonly backup: string;
  private timer: TimerHandle | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  /** Set when the file on disk must not be overwritten (newer version). */
  private readOnly = false;
  /** Each save is numbered when its state is collected; an older save never replaces a newer one on disk. */
  private lastStarted = 0;
  private lastCommitted = 0;
  saveCount = 0;

  constructor(
    readonly dir: string,
    private readonly collect: () => PersistedState,
    private readonly clock: Clock,
    private readonly debounceMs = 500,
    private readonly log: Logger = silentLogger,
  ) {
    this.file = path.join(dir, STATE_FILE);
    this.backup = `${this.file}.bak`;
  }

  /** Loads state; a corrupt file is moved aside and the backup loaded, never silently treated as empty. */
  load(): LoadResult {
    fs.mkdirSync(this.dir, { recursive: true });
    this.recoverInterruptedSave();
    this.removeLeftoverTempFiles();
    const warnings: string[] = [];
    const main = readStateFile(this.file);
    if (main.kind === 'ok') return { state: main.state, warnings, source: 'state' };
    if (main.kind === 'newer') {
      this.readOnly = true;
      throw new NewerStateVersionError(main.version);
    }
    if (main.kind === 'corrupt') {
      const aside = `${this.file}.corrupt-${new Date(this.clock.now()).toISOString().replace(/[:.]/g, '-')}`;
      fs.renameSync(this.file, aside);
      warnings.push(`The task state file was unreadable (${main.reason}); it was kept as ${path.basename(aside)}.`);
      this.log.warn(`state.json corrupt (${main.reason}); moved to ${aside}`);
    }
    const backup = readStateFile(this.backup);
    if (backup.kind === 'ok') {
      if (main.kind === 'corrupt') warnings.push('Tasks were restored from the last good backup (state.json.bak).');
      return { state: backup.state, warnings, source: 'backup' };
    }
    if (backup.kind === 'newer') {
      this.readOnly = true;
      throw new NewerStateVersionError(backup.version);
    }
    if (main.kind === 'corrupt') warnings.push('No usable backup was found; the task list starts empty.');
    return { state: emptyState(), warnings, source: 'empty' };
  }

  get isReadOnly(): boolean {
    return this.readOnly;
  }

  /** Schedules a debounced save; bursts of changes become one write. */
  scheduleSave(): void {
    if (this.readOnly) return;
    this.dirty = true;
    if (this.timer !== undefined) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.debounceMs);
  }

  /** Writes now (if anything changed or `force`), after any write in progress. */
  flush(force = false): Promise<void> {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.readOnly || (!this.dirty && !force)) return this.writing;
    this.dirty = false;
    const state = this.collect();
    const seq = ++this.lastStarted;
    this.writing = this.writing.then(() => this.write(state, seq)).catch((error: unknown) => {
      this.dirty = true;
      this.log.error(`Saving task state failed: ${String(error)}`);
    });
    return this.writing;
  }

  /** Synchronous variant for deactivate(), when the host may not wait for promises. */
  flushSync(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    // A save still in flight counts as unsaved: the host may exit before it lands.
    if (this.readOnly || (!this.dirty && this.lastStarted === this.lastCommitted)) return;
    this.dirty = false;
    const seq = ++this.lastStarted;
    fs.mkdirSync(this.dir, { recursive: true });
    writeAtomicSync(this.file, this.backup, serialize(this.collect()), `${this.file}.tmp-${process.pid}-${seq}`);
    this.lastCommitted = seq;
    this.saveCount++;
  }

  private async write(state: PersistedState, seq: number): Promise<void> {
    const text = serialize(state);
    // A temp file per save: flushSync() may run while this one is being written.
    const tmp = `${this.file}.tmp-${process.pid}-${seq}`;
    await fsp.mkdir(this.dir, { recursive: true });
    const handle = await fsp.open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (seq < this.lastCommitted) {
      // flushSync() saved a newer state meanwhile (deactivate): this one is stale.
      await fsp.rm(tmp, { force: true });
      return;
    }
    // Synchronous renames: nothing can interleave between moving the old file aside and putting the new one in place.
    rotateIntoPlaceSync(this.file, this.backup, tmp);
    this.lastCommitted = seq;
    this.saveCount++;
  }

  /**
   * A crash between the two renames of a save (state.json → .bak, temp → state.json) leaves no state.json, the older
   * state as .bak and the newest state as a complete, fsynced temp file. That temp file is put in place, so the save
   * is not lost. Only a temp file that reads as a whole, valid state and is newer than the backup is used.
   */
  private recoverInterruptedSave(): void {
    if (fs.existsSync(this.file)) return;
    let best: { name: string; savedAt: number; seq: number } | undefined;
    for (const name of safeReaddir(this.dir)) {
      if (!name.startsWith(`${STATE_FILE}.tmp-`)) continue;
      const outcome = readStateFile(path.join(this.dir, name));
      if (outcome.kind !== 'ok') continue;
      const savedAt = typeof outcome.state.lastSavedAt === 'number' ? outcome.state.lastSavedAt : 0;
      const seq = Number(/-(\d+)$/.exec(name)?.[1] ?? 0);
      if (!best || savedAt > best.savedAt || (savedAt === best.savedAt && seq > best.seq)) best = { name, savedAt, seq };
    }
    if (!best) return;
    const backup = readStateFile(this.backup);
    if (backup.kind === 'ok' && (backup.state.lastSavedAt ?? 0) > best.savedAt) return;
    try {
      fs.renameSync(path.join(this.dir, best.name), this.file);
      fsyncDirectorySync(this.dir);
      this.log.warn(`state.json was missing after an interrupted save; the complete newer copy ${best.name} was put in place`);
    } catch (error) {
      this.log.error(`Recovering the interrupted save ${best.name} failed: ${String(error)}`);
    }
  }

  private removeLeftoverTempFiles(): void {
    for (const name of safeReaddir(this.dir)) {
      if (name.startsWith(`${STATE_FILE}.tmp-`)) {
        try {
          fs.rmSync(path.join(this.dir, name), { force: true });
        } catch {
          // Ignored: a leftover temp file is never read.
        }
      }
    }
  }

  dispose(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function serialize(state: PersistedState): string {
  // Pending file approvals keep a bounded patch and no proposed file content: state.json never holds whole files.
  return JSON.stringify({
    ...state,
    tasks: state.tasks.map((task) => ({ ...task, output: [], pendingQuestions: task.pendingQuestions.map((question) => boundedQuestion(question)) })),
  });
}

// load() moves a corrupt state.json aside, so whatever is at `file` when we save was written or read back by us:
// it is a good copy and becomes the backup.
function rotateIntoPlaceSync(file: string, backup: string, tmp: string): void {
  try {
    fs.renameSync(file, backup);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  fs.renameSync(tmp, file);
  // The renames are durable only once the directory itself is on disk.
  fsyncDirectorySync(path.dirname(file));
}

/** fsyncs a directory (its entries: renames, creations). Platforms that cannot open a directory skip it. */
export function fsyncDirectorySync(dir: string): void {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fs.fsyncSync(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Some file systems (and Windows) refuse fsync on a directory; the rename itself still happened.
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR' && code !== 'ENOTSUP') throw error;
  } finally {
    fs.closeSync(fd);
  }
}

function writeAtomicSync(file: string, backup: string, text: string, tmp: string): void {
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  rotateIntoPlaceSync(file, backup, tmp);
}

type ReadOutcome =
  | { kind: 'ok'; state: PersistedState }
  | { kind: 'missing' }
  | { kind: 'newer'; version: number }
  | { kind: 'corrupt'; reason: string };

function readStateFile(file: string): ReadOutcome {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: (error as Error).message };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { kind: 'corrupt', reason: `invalid JSON: ${(error as Error).message}` };
  }
  const problem = validateState(data);
  if (problem === 'newer') return { kind: 'newer', version: (data as { version: number }).version };
  if (problem) return { kind: 'corrupt', reason: problem };
  return { kind: 'ok', state: data as PersistedState };
}

const KNOWN_STATUSES = new Set<string>(TASK_STATUSES);

/** Returns why the data is not a state file we can read, 'newer' for a future version, or undefined if fine. */
function validateState(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'not an object';
  const state = data as Record<string, unknown>;
  if (typeof state.version !== 'number') return 'no version';
  if (state.version > STATE_VERSION) return 'newer';
  if (!Array.isArray(state.tasks)) return 'no task list';
  for (const task of state.tasks as unknown[]) {
    if (typeof task !== 'object' || task === null) return 'a task is not an object';
    const t = task as Record<string, unknown>;
    if (typeof t.id !== 'string' || typeof t.status !== 'string' || !KNOWN_STATUSES.has(t.status)) {
      return `task ${String(t.id)} has no valid id or status`;
    }
    if (typeof t.timestamps !== 'object' || t.timestamps === null) return `task ${t.id} has no timestamps`;
  }
  if (state.profiles !== undefined && (typeof state.profiles !== 'object' || state.profiles === null)) return 'bad profiles';
  return undefined;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
