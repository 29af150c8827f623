import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { silentLogger, type Logger } from './events';
import type { OutputEntry, TaskState } from './task-state';

/**
 * A line of a transcript that is not output: the task itself as it was after a change that matters for restoring it
 * (creation, a status, session or profile change). The newest one lets a lost state.json be rebuilt (DESIGN §5).
 */
export interface TaskRecordLine {
  record: 'task';
  at: number;
  task: TaskState;
}

const RECORD_PREFIX = '{"record":"task"';
/** How far from a transcript's end the last task record is looked for, chunk by chunk. */
const RECORD_CHUNK_BYTES = 64 * 1024;

/** How much of a transcript's end is read to rebuild the in-memory ring. */
const TAIL_BYTES = 1024 * 1024;

/** Task ids are `adjective-animal-NNN` (DESIGN §1): lowercase words and a number joined by '-', nothing else. */
const TASK_ID_SHAPE = /^[a-z]+(?:-[a-z]+)+-[0-9]+$/;

export function isTaskIdShaped(id: unknown): boolean {
  return typeof id === 'string' && id.length <= 100 && TASK_ID_SHAPE.test(id);
}

/**
 * Append-only JSONL transcripts, one file per task (`tasks/<id>.jsonl`). Writes are batched; a streaming entry
 * (same `id`) updated before its batch is flushed is written once, with its latest text. Readers fold entries by id.
 */
export class TranscriptStore {
  private readonly buffers = new Map<string, { lines: string[]; byEntryId: Map<string, number> }>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly flushDelayMs = 200,
    private readonly log: Logger = silentLogger,
  ) {}

  /** The transcript file of a task; throws for anything that is not a task id (no path can leave the directory). */
  pathFor(taskId: string): string {
    if (!isTaskIdShaped(taskId)) throw new Error(`Not a task id: ${JSON.stringify(taskId.slice(0, 80))}`);
    return path.join(this.dir, `${taskId}.jsonl`);
  }

  append(taskId: string, entry: OutputEntry): void {
    if (!isTaskIdShaped(taskId)) {
      this.log.warn(`[transcript] not a task id, entry dropped: ${JSON.stringify(taskId.slice(0, 80))}`);
      return;
    }
    let buffer = this.buffers.get(taskId);
    if (!buffer) this.buffers.set(taskId, (buffer = { lines: [], byEntryId: new Map() }));
    const line = JSON.stringify(entry);
    const index = entry.id === undefined ? undefined : buffer.byEntryId.get(entry.id);
    if (index !== undefined) {
      buffer.lines[index] = line;
    } else {
      if (entry.id !== undefined) buffer.byEntryId.set(entry.id, buffer.lines.length);
      buffer.lines.push(line);
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.flushDelayMs);
      this.timer.unref?.();
    }
  }

  /**
   * Appends a task record, after the task's buffered output, synchronously: records are rare (a few per task) and
   * must be on disk before a crash can lose the state file's next save.
   */
  appendRecord(task: TaskState, at: number): void {
    const line: TaskRecordLine = { record: 'task', at, task };
    const buffer = this.buffers.get(task.id);
    this.buffers.delete(task.id);
    const lines = [...(buffer?.lines ?? []), JSON.stringify(line)];
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      fs.appendFileSync(this.pathFor(task.id), `${lines.join('\n')}\n`, { mode: 0o600 });
    } catch (error) {
      this.log.error(`Writing the transcript of ${task.id} failed: ${String(error)}`);
    }
  }

  /** The newest task record of a transcript, or undefined when it has none (or cannot be read). */
  readLastRecord(taskId: string): TaskRecordLine | undefined {
    let fd: number;
    try {
      fd = fs.openSync(this.pathFor(taskId), 'r');
    } catch {
      return undefined;
    }
    try {
      let end = fs.fstatSync(fd).size;
      let carry = '';
      while (end > 0) {
        const start = Math.max(0, end - RECORD_CHUNK_BYTES);
        const chunk = Buffer.alloc(end - start);
        fs.readSync(fd, chunk, 0, chunk.length, start);
        const text = chunk.toString('latin1') + carry;
        const lines = text.split('\n');
        // The first piece may be the end of a line that starts in the previous chunk.
        carry = start > 0 ? (lines.shift() ?? '') : '';
        for (let i = lines.length - 1; i >= 0; i--) {
          if (!lines[i].startsWith(RECORD_PREFIX)) continue;
          const record = parseRecord(Buffer.from(lines[i], 'latin1').toString('utf8'), taskId);
          if (record) return record;
        }
        end = start;
      }
      return undefined;
    } catch {
      return undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The ids of the tasks that have a transcript on disk. */
  listTaskIds(): string[] {
    try {
      return fs.readdirSync(this.dir).filter((name) => name.endsWith('.jsonl')).map((name) => name.slice(0, -'.jsonl'.length));
    } catch {
      return [];
    }
  }

  /** Writes every buffered line. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batches = [...this.buffers];
    this.buffers.clear();
    if (batches.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      await fsp.mkdir(this.dir, { recursive: true });
      await Promise.all(
        batches.map(([taskId, buffer]) =>
          fsp.appendFile(this.pathFor(taskId), `${buffer.lines.join('\n')}\n`, { mode: 0o600 }).catch((error: unknown) => {
            this.log.error(`Writing the transcript of ${taskId} failed: ${String(error)}`);
          }),
        ),
      );
    });
    return this.flushing;
  }

  flushSync(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    fs.mkdirSync(this.dir, { recursive: true });
    for (const [taskId, buffer] of this.buffers) {
      try {
        fs.appendFileSync(this.pathFor(taskId), `${buffer.lines.join('\n')}\n`, { mode: 0o600 });
      } catch (error) {
        this.log.error(`Writing the transcript of ${taskId} failed: ${String(error)}`);
      }
    }
    this.buffers.clear();
  }

  /** Reads the last entries of a transcript (folded by entry id). Unreadable lines are skipped. */
  readTail(taskId: string, limit: number): OutputEntry[] {
    const file = this.pathFor(taskId);
    let text: string;
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const start = Math.max(0, size - TAIL_BYTES);
        const buffer = Buffer.alloc(size - start);
        fs.readSync(fd, buffer, 0, buffer.length, start);
        text = buffer.toString('utf8');
        // Drop a partial first line when we started mid-file.
        if (start > 0) text = text.slice(text.indexOf('\n') + 1);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return [];
    }
    const buffered = this.buffers.get(taskId)?.lines ?? [];
    return foldEntries([...text.split('\n'), ...buffered]).slice(-limit);
  }

  /** Reads a whole transcript. */
  async readAll(taskId: string): Promise<OutputEntry[]> {
    await this.flush();
    try {
      return foldEntries((await fsp.readFile(this.pathFor(taskId), 'utf8')).split('\n'));
    } catch {
      return [];
    }
  }

  async remove(taskId: string): Promise<void> {
    this.buffers.delete(taskId);
    await fsp.rm(this.pathFor(taskId), { force: true });
  }

  dispose(): void {
    this.flushSync();
  }
}

/** Parses JSONL lines into entries; a later line with the same entry id replaces the earlier one in place. */
export function foldEntries(lines: readonly string[]): OutputEntry[] {
  const entries: OutputEntry[] = [];
  const byId = new Map<string, number>();
  for (const line of lines) {
    if (!line.trim()) continue;
    let entry: OutputEntry;
    try {
      entry = JSON.parse(line) as OutputEntry;
    } catch {
      continue;
    }
    if (typeof entry !== 'object' || entry === null || typeof entry.text !== 'string' || 'record' in entry) continue;
    const index = entry.id === undefined ? undefined : byId.get(entry.id);
    if (index !== undefined) entries[index] = entry;
    else {
      if (entry.id !== undefined) byId.set(entry.id, entries.length);
      entries.push(entry);
    }
  }
  return entries;
}

function parseRecord(line: string, taskId: string): TaskRecordLine | undefined {
  try {
    const data = JSON.parse(line) as Partial<TaskRecordLine>;
    const task = data.task as Partial<TaskState> | undefined;
    if (data.record !== 'task' || typeof data.at !== 'number' || typeof task !== 'object' || task === null) return undefined;
    if (task.id !== taskId || typeof task.status !== 'string' || typeof task.timestamps !== 'object' || task.timestamps === null) return undefined;
    return data as TaskRecordLine;
  } catch {
    return undefined;
  }
}
