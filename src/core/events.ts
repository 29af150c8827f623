/** Something that can be released; shaped like vscode.Disposable so host code can collect both. */
export interface Disposable {
  dispose(): void;
}

export type Listener<T> = (value: T) => void;

/** A subscribe function, shaped like vscode.Event. */
export type Event<T> = (listener: Listener<T>) => Disposable;

/** A minimal typed event emitter for the layers that may not import vscode. */
export class Emitter<T> implements Disposable {
  /** Replaced, never changed in place: fire iterates the listeners of its start without a copy per event. */
  private listeners: readonly Listener<T>[] = [];

  readonly event: Event<T> = (listener) => {
    if (!this.listeners.includes(listener)) this.listeners = [...this.listeners, listener];
    return { dispose: () => (this.listeners = this.listeners.filter((known) => known !== listener)) };
  };

  fire(value: T): void {
    for (const listener of this.listeners) {
      try {
        listener(value);
      } catch (error) {
        // A faulty listener must not break the emitter's other listeners or the caller.
        console.error('[agent-tasks] listener failed', error);
      }
    }
  }

  get hasListeners(): boolean {
    return this.listeners.length > 0;
  }

  dispose(): void {
    this.listeners = [];
  }
}

/** Logging sink the core and providers write to; the host backs it with a LogOutputChannel. */
export interface Logger {
  trace(message: string, ...args: unknown[]): void;
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string | Error, ...args: unknown[]): void;
}

export const silentLogger: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };
