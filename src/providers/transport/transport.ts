import { Emitter, type Event } from '../../core/events';
import { parseJsonLine } from '../../platform/jsonl';

/** Why a transport closed. `stderrTail` is the last few KB the agent wrote to stderr (for error messages). */
export interface TransportClosed {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string;
  /** Set when the transport itself failed (spawn error, socket error). */
  error?: Error;
}

/**
 * A bidirectional stream of JSON messages with an agent. The process transport is the first implementation;
 * a Unix-socket WebSocket (Codex app-server) and a keeper connection (stdio agents that outlive the window)
 * implement the same interface, so providers do not care which one they run on.
 */
export interface MessageTransport {
  readonly onMessage: Event<unknown>;
  /** A line that was not valid JSON; the transport skips it and goes on. */
  readonly onMalformed: Event<{ raw: string; error: Error }>;
  readonly onClose: Event<TransportClosed>;
  readonly closed: boolean;
  /** Sends one message (serialised as one JSON line / one frame). Throws if the transport is closed. */
  send(message: unknown): void;
  /** Ends the agent gracefully (close stdin), then kills it after `graceMs`. Resolves when it is gone. */
  close(graceMs?: number): Promise<TransportClosed>;
  /** Kills the agent (its whole process tree) at once. */
  kill(): void;
}

/** The events every transport has; a transport fires them through the protected emitters. */
export abstract class BaseTransport implements MessageTransport {
  protected readonly messageEmitter = new Emitter<unknown>();
  protected readonly malformedEmitter = new Emitter<{ raw: string; error: Error }>();
  protected readonly closeEmitter = new Emitter<TransportClosed>();
  readonly onMessage = this.messageEmitter.event;
  readonly onMalformed = this.malformedEmitter.event;
  readonly onClose = this.closeEmitter.event;

  /** Delivers one line the agent wrote: a message, or onMalformed with the raw line. Blank lines are skipped. */
  protected deliverLine(line: string): void {
    if (line.trim() === '') return;
    const parsed = parseJsonLine(line);
    if (parsed.ok) this.messageEmitter.fire(parsed.value);
    else this.malformedEmitter.fire({ raw: parsed.raw, error: parsed.error });
  }

  abstract readonly closed: boolean;
  abstract send(message: unknown): void;
  abstract close(graceMs?: number): Promise<TransportClosed>;
  abstract kill(): void;
}
