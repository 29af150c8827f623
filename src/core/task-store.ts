import { Emitter } from './events';
import { canTransition, IllegalTransitionError } from './fsm';
import { isTerminal, type OutputEntry, type TaskState, type TaskStatus } from './task-state';

/** Entries kept in memory per task (DESIGN §2); the full history is in the task's JSONL transcript. */
export const OUTPUT_RING_SIZE = 500;

export type TaskChange =
  | { kind: 'created'; task: TaskState }
  | { kind: 'updated'; task: TaskState; previousStatus: TaskStatus }
  | { kind: 'deleted'; task: TaskState };

/** Fields an update may not touch: identity and the output ring (appendOutput owns it). */
export type TaskPatch = Partial<Omit<TaskState, 'id' | 'output' | 'timestamps'>> & {
  timestamps?: Partial<TaskState['timestamps']>;
};

/**
 * The single owner of task state. Every status change is checked against the FSM before anything is mutated,
 * so an illegal transition leaves the task exactly as it was.
 */
export class TaskStore {
  private readonly tasks = new Map<string, TaskState>();
  private readonly bySession = new Map<string, string>();
  /** Streaming entries by task and entry id, so an update replaces the entry in place. */
  private readonly openEntries = new Map<string, Map<string, OutputEntry>>();
  private readonly changeEmitter = new Emitter<TaskChange>();
  readonly onDidChange = this.changeEmitter.event;

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.tasks.size;
  }

  has(id: string): boolean {
    return this.tasks.has(id);
  }

  get(id: string): TaskState | undefined {
    return this.tasks.get(id);
  }

  all(): TaskState[] {
    return [...this.tasks.values()];
  }

  findBySession(sessionId: string): TaskState[] {
    const id = this.bySession.get(sessionId);
    // Follow-ups share a session: return every task on it, newest first.
    if (id === undefined) return [];
    return this.all()
      .filter((task) => task.sessionId === sessionId)
      .sort((a, b) => b.timestamps.created - a.timestamps.created);
  }

  /** Adds a task (new, or loaded from disk). */
  add(task: TaskState): TaskState {
    if (this.tasks.has(task.id)) throw new Error(`A task with id ${task.id} already exists`);
    this.tasks.set(task.id, task);
    if (task.sessionId) this.bySession.set(task.sessionId, task.id);
    this.changeEmitter.fire({ kind: 'created', task });
    return task;
  }

  /** Applies a patch; rejects an illegal status change before mutating anything. */
  update(id: string, patch: TaskPatch): TaskState {
    const task = this.tasks.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    const previousStatus = task.status;
    if (patch.status !== undefined && patch.status !== previousStatus && !canTransition(previousStatus, patch.status)) {
      throw new IllegalTransitionError(id, previousStatus, patch.status);
    }
    const { timestamps, ...rest } = patch;
    Object.assign(task, rest);
    task.timestamps = { ...task.timestamps, ...timestamps, updated: this.now() };
    if (patch.status !== undefined && patch.status !== previousStatus && isTerminal(patch.status)) {
      task.timestamps.completed ??= this.now();
    }
    if (patch.sessionId) this.bySession.set(patch.sessionId, id);
    this.changeEmitter.fire({ kind: 'updated', task, previousStatus });
    return task;
  }

  /**
   * Appends to the task's output ring. An entry whose `id` matches an open streaming entry replaces it in place.
   * Returns the stored entry.
   */
  appendOutput(id: string, entry: OutputEntry): OutputEntry {
    const task = this.tasks.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    if (entry.id !== undefined) {
      let open = this.openEntries.get(id);
      const existing = open?.get(entry.id);
      if (existing) {
        Object.assign(existing, entry);
        task.timestamps.lastOutput = entry.at;
        return existing;
      }
      if (!open) this.openEntries.set(id, (open = new Map()));
      open.set(entry.id, entry);
    }
    task.output.push(entry);
    task.timestamps.lastOutput = entry.at;
    // Trim in batches: amortised O(1) per entry, never more than 2× the ring in memory.
    if (task.output.length > 2 * OUTPUT_RING_SIZE) {
      const removed = task.output.splice(0, task.output.length - OUTPUT_RING_SIZE);
      const open = this.openEntries.get(id);
      if (open) for (const old of removed) if (old.id !== undefined) open.delete(old.id);
    }
    return entry;
  }

  /** Replaces the output ring (used when a transcript is loaded lazily from disk). */
  setOutput(id: string, entries: OutputEntry[]): void {
    const task = this.tasks.get(id);
    if (!task) return;
    task.output = entries.slice(-OUTPUT_RING_SIZE);
    const open = new Map<string, OutputEntry>();
    for (const entry of task.output) if (entry.id !== undefined) open.set(entry.id, entry);
    this.openEntries.set(id, open);
  }

  delete(id: string): TaskState | undefined {
    const task = this.tasks.get(id);
    if (!task) return undefined;
    this.tasks.delete(id);
    this.openEntries.delete(id);
    if (task.sessionId && this.bySession.get(task.sessionId) === id) {
      // Follow-ups share a session: keep the index pointing at a task that still has it.
      const other = this.all().find((candidate) => candidate.sessionId === task.sessionId);
      if (other) this.bySession.set(task.sessionId, other.id);
      else this.bySession.delete(task.sessionId);
    }
    this.changeEmitter.fire({ kind: 'deleted', task });
    return task;
  }

  /**
   * Removes finished tasks older than the `keep` newest ones; returns what was removed. A finished task a live task
   * depends on is kept (on top of the `keep` newest).
   */
  evictFinished(keep: number): TaskState[] {
    const finished = this.all()
      .filter((task) => isTerminal(task.status))
      .sort((a, b) => (a.timestamps.completed ?? a.timestamps.updated) - (b.timestamps.completed ?? b.timestamps.updated));
    const excess = finished.length - Math.max(0, keep);
    if (excess <= 0) return [];
    const referenced = new Set(this.all().filter((task) => !isTerminal(task.status)).flatMap((task) => task.dependsOn));
    const removed: TaskState[] = [];
    for (const task of finished.slice(0, excess)) {
      if (referenced.has(task.id)) continue;
      this.delete(task.id);
      removed.push(task);
    }
    return removed;
  }

  dispose(): void {
    this.changeEmitter.dispose();
  }
}

/** A plain JSON copy with the last OUTPUT_RING_SIZE entries: what the API and UI receive. */
export function snapshotOf(task: TaskState): TaskState {
  const copy = structuredClone({ ...task, output: task.output.slice(-OUTPUT_RING_SIZE) });
  return copy;
}
