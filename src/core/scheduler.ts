import type { Clock, TimerHandle } from './clock';
import type { TaskStore } from './task-store';
import type { TaskState } from './task-state';

/** What the scheduler asks of the task manager; it decides *when*, the manager does the state changes. */
export interface SchedulerHost {
  /** Starts a pending task now (pending → running happens in the manager). */
  startTask(id: string): void;
  /** A dependency ended in anything but completed: the waiting task fails with `reason`. */
  failDependent(id: string, reason: string): void;
  /** All dependencies completed: waiting → pending. */
  releaseWaiting(id: string): void;
  /** The task's deadline passed. */
  timeOut(id: string): void;
  /** Whether the task's provider is available (a provider registered late keeps the task pending). */
  canStart(task: TaskState): boolean;
}

/** Refuses unknown dependencies and cycles, with a message a user can act on. Returns the error or undefined. */
export function checkDependencies(store: TaskStore, taskId: string, dependsOn: readonly string[]): string | undefined {
  for (const dep of dependsOn) {
    if (dep === taskId) return `Task ${taskId} cannot depend on itself`;
    if (!store.has(dep)) return `Unknown dependency "${dep}": no task has that id`;
  }
  // Depth-first search from the new task's dependencies back to it.
  const path: string[] = [];
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (id: string): string[] | undefined => {
    if (id === taskId) return [...path, id];
    if (done.has(id) || visiting.has(id)) return undefined;
    visiting.add(id);
    path.push(id);
    for (const next of store.get(id)?.dependsOn ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    visiting.delete(id);
    done.add(id);
    return undefined;
  };
  for (const dep of dependsOn) {
    const cycle = visit(dep);
    if (cycle) return `Dependency cycle: ${[taskId, ...cycle].join(' → ')}`;
  }
  return undefined;
}

/**
 * Decides when tasks run: dependencies (waiting → pending, or failure cascading to dependents), the
 * concurrency limit (pending → running, oldest first), task deadlines and delayed retries.
 */
export class Scheduler {
  private readonly deadlines = new Map<string, { at: number; timer: TimerHandle }>();
  private readonly retries = new Map<string, TimerHandle>();
  private pumping = false;
  private pumpAgain = false;
  private disposed = false;

  constructor(
    private readonly store: TaskStore,
    private readonly clock: Clock,
    private readonly host: SchedulerHost,
    private readonly maxConcurrent: () => number,
  ) {}

  /** Re-evaluates every task; safe to call often and re-entrantly. */
  pump(): void {
    if (this.disposed) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.resolveDependencies();
        this.startPending();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private resolveDependencies(): void {
    let changed = true;
    while (changed) {
      changed = false;
      for (const task of this.store.all()) {
        if (task.status !== 'waiting') continue;
        const verdict = this.dependencyVerdict(task);
        if (verdict.kind === 'ready') {
          this.host.releaseWaiting(task.id);
          changed = true;
        } else if (verdict.kind === 'failed') {
          this.host.failDependent(task.id, verdict.reason);
          changed = true;
        }
      }
    }
  }

  private dependencyVerdict(task: TaskState): { kind: 'ready' | 'blocked' } | { kind: 'failed'; reason: string } {
    let ready = true;
    for (const dep of task.dependsOn) {
      const other = this.store.get(dep);
      if (!other) return { kind: 'failed', reason: `Dependency ${dep} no longer exists` };
      if (other.status === 'completed') continue;
      if (['failed', 'timed_out', 'cancelled', 'unknown'].includes(other.status)) {
        const why = other.error ? `: ${other.error}` : '';
        return { kind: 'failed', reason: `Dependency ${dep} ended ${other.status.replace('_', ' ')}${why}` };
      }
      ready = false;
    }
    return { kind: ready ? 'ready' : 'blocked' };
  }

  private startPending(): void {
    const tasks = this.store.all();
    let active = tasks.filter((task) => task.status === 'running' || task.status === 'waiting_answer').length;
    const limit = Math.max(1, this.maxConcurrent());
    const pending = tasks
      .filter((task) => task.status === 'pending' && !this.retries.has(task.id))
      .sort((a, b) => a.timestamps.created - b.timestamps.created);
    for (const task of pending) {
      if (active >= limit) break;
      if (!this.host.canStart(task)) continue;
      active++;
      this.host.startTask(task.id);
    }
  }

  /** Arms (or re-arms) the deadline of a task; `at` undefined clears it. */
  setDeadline(id: string, at: number | undefined): void {
    this.clearDeadline(id);
    if (at === undefined || this.disposed) return;
    const timer = this.clock.setTimeout(() => {
      this.deadlines.delete(id);
      this.host.timeOut(id);
    }, at - this.clock.now());
    this.deadlines.set(id, { at, timer });
  }

  clearDeadline(id: string): void {
    const deadline = this.deadlines.get(id);
    if (deadline) this.clock.clearTimeout(deadline.timer);
    this.deadlines.delete(id);
  }

  /** Runs `retry` at `at` (e.g. when a cooldown ends); the task is not started by pump() meanwhile. */
  scheduleRetry(id: string, at: number, retry: () => void): void {
    this.cancelRetry(id);
    const timer = this.clock.setTimeout(() => {
      this.retries.delete(id);
      retry();
      this.pump();
    }, Math.max(0, at - this.clock.now()));
    this.retries.set(id, timer);
  }

  cancelRetry(id: string): void {
    const timer = this.retries.get(id);
    if (timer !== undefined) this.clock.clearTimeout(timer);
    this.retries.delete(id);
  }

  /** Forgets every timer of a task (it ended or was removed). */
  forget(id: string): void {
    this.clearDeadline(id);
    this.cancelRetry(id);
  }

  dispose(): void {
    this.disposed = true;
    for (const id of [...this.deadlines.keys(), ...this.retries.keys()]) this.forget(id);
  }
}
