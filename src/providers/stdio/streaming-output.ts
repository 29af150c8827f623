import type { OutputEntry } from '../../core/task-state';
import type { TaskHandle } from '../../core/ports';

export type StreamedEntry = Omit<OutputEntry, 'at'> & { id: string };

/**
 * Writes transcript entries for one run. Entries that grow while streaming (message text, command output) are
 * written at most every `flushIntervalMs` with their latest text, under a stable id so each write replaces the last;
 * any other entry flushes what is pending first, so entries keep the order they started in.
 */
export class StreamingOutput {
  private readonly pending = new Map<string, StreamedEntry>();
  /** Ids already written once. */
  private readonly seen = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;

  constructor(
    private readonly handle: Pick<TaskHandle, 'appendOutput'>,
    private readonly flushIntervalMs = 100,
  ) {}

  /** Records the latest state of a growing entry. */
  stream(entry: StreamedEntry): void {
    if (this.disposed) return;
    if (this.flushIntervalMs <= 0) {
      this.handle.appendOutput(entry);
      return;
    }
    // A new id is written at once so it takes its place in the order; later growth is batched.
    if (!this.pending.has(entry.id) && !this.seen.has(entry.id)) {
      this.seen.add(entry.id);
      this.flush();
      this.handle.appendOutput(entry);
      return;
    }
    this.pending.set(entry.id, entry);
    this.timer ??= setTimeout(() => this.flush(), this.flushIntervalMs);
  }

  /** Writes an entry now (after whatever is pending). An entry with an id replaces its earlier versions. */
  append(entry: Omit<OutputEntry, 'at'>): void {
    if (this.disposed) return;
    if (entry.id !== undefined) {
      this.seen.add(entry.id);
      this.pending.delete(entry.id);
    }
    this.flush();
    this.handle.appendOutput(entry);
  }

  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.size === 0) return;
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const entry of entries) this.handle.appendOutput(entry);
  }

  /** Flushes and stops writing. */
  dispose(): void {
    this.flush();
    this.disposed = true;
  }
}
