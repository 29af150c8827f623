/**
 * Keeps a task's change summary current without polling: callers `trigger()` it on file events and on the agent's
 * file-change / command-end items; triggers are coalesced into at most one computation at a time, at most one per
 * `delayMs`, and a trigger that arrives during a computation causes exactly one more afterwards.
 */

/** Options of a `ChangeWatcher`. */
export interface ChangeWatcherOptions {
  /** Quiet time between a trigger and the computation it starts (default 300 ms). */
  delayMs?: number;
  /** Told about a failed computation (the watcher keeps working). */
  onError?: (error: unknown) => void;
}

/** Coalesces triggers into single runs of `compute`, handing each result to `onResult`. */
export class ChangeWatcher<T> {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private disposed = false;
  private readonly controller = new AbortController();
  private readonly delayMs: number;
  /** Computations started so far (for tests and diagnostics). */
  runs = 0;

  constructor(
    private readonly compute: (signal: AbortSignal) => Promise<T>,
    private readonly onResult: (value: T) => void,
    private readonly options: ChangeWatcherOptions = {},
  ) {
    this.delayMs = options.delayMs ?? 300;
  }

  /** Something may have changed: schedule a computation unless one is already scheduled or will follow. */
  trigger(): void {
    if (this.disposed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer === undefined) this.timer = setTimeout(() => this.start(), this.delayMs);
  }

  /** Computes now (skipping the quiet time) if anything is scheduled, and resolves when no computation is left. */
  async flush(): Promise<void> {
    while (this.timer !== undefined || this.running) {
      if (this.timer !== undefined) this.start();
      await this.running;
    }
  }

  private start(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.disposed || this.running) return;
    this.runs++;
    this.running = this.compute(this.controller.signal)
      .then(
        (value) => {
          if (!this.disposed) this.onResult(value);
        },
        (error: unknown) => {
          if (!this.disposed) this.options.onError?.(error);
        },
      )
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.disposed) {
          this.again = false;
          this.trigger();
        }
      });
  }

  /** Stops: clears the timer and aborts a computation in flight; later triggers do nothing. */
  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.controller.abort();
  }
}
