/**
 * A per-repository operation queue: mutations (worktree add/remove, commits, merges, branch deletes) run one at a
 * time; read-only operations (summaries, lists, dirty checks) never wait, because they run with GIT_OPTIONAL_LOCKS=0
 * and take no lock that a mutation needs.
 */

import { AsyncLocalStorage } from 'node:async_hooks';

/** How an operation uses the repository. */
export type OperationKind = 'read' | 'write';

/** Serializes the writes of one repository (all its worktrees share the object store and refs). */
export class OperationQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private writesQueued = 0;
  private readsRunning = 0;
  /** Set inside a write of this queue, so writes it starts run at once instead of waiting for themselves. */
  private readonly holder = new AsyncLocalStorage<OperationQueue>();

  /**
   * Runs `operation` now (read) or after every write queued before it (write). A write may be a sequence of git
   * commands: the writes it starts itself run inside it.
   */
  async run<T>(kind: OperationKind, operation: () => Promise<T>): Promise<T> {
    if (kind === 'read') {
      this.readsRunning++;
      try {
        return await operation();
      } finally {
        this.readsRunning--;
      }
    }
    if (this.holder.getStore() === this) return operation();
    this.writesQueued++;
    const held = () => this.holder.run(this, operation);
    const result = this.tail.then(held, held);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await result;
    } finally {
      this.writesQueued--;
    }
  }

  /** Writes running or waiting, and reads running (for tests and diagnostics). */
  get pending(): { writes: number; reads: number } {
    return { writes: this.writesQueued, reads: this.readsRunning };
  }
}

const queues = new Map<string, OperationQueue>();

/** The one queue of the repository whose common git directory is `commonDir` (shared by all its worktrees). */
export function queueFor(commonDir: string): OperationQueue {
  let queue = queues.get(commonDir);
  if (!queue) {
    queue = new OperationQueue();
    queues.set(commonDir, queue);
  }
  return queue;
}
