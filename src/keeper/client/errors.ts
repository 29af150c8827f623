import type { KeeperStopKind } from '../protocol';

/** What went wrong with a keeper; `kind` says which case, and `name` keeps the old class names for logs. */
export type KeeperErrorKind =
  /** It could not be started (missing bundle, socket path too long, no answer). */
  | 'start'
  /** Attach found no keeper to talk to: it ended and was cleaned up, or died. The agent is not running under it. */
  | 'gone'
  /** It closed the connection without a welcome: a wrong token, or a keeper that is ending. */
  | 'refused'
  /** onClose.error when this window let go of the agent (detach, or another window attached): it keeps running. */
  | 'detached'
  /** onClose.error when the keeper died under a connected window; its agent was stopped with it. */
  | 'lost'
  /** onClose.error when the keeper stopped the agent by itself (no window for keepRunningMinutes, a signal, a failure). */
  | 'stopped';

const NAMES: Record<KeeperErrorKind, string> = {
  start: 'KeeperStartError',
  gone: 'KeeperGoneError',
  refused: 'KeeperRefusedError',
  detached: 'KeeperDetachedError',
  lost: 'KeeperLostError',
  stopped: 'KeeperStoppedError',
};

export class KeeperError extends Error {
  /** start: the keeper's log tail. */
  readonly logTail: string;
  /** gone: why the keeper ended, as it recorded. */
  readonly reason?: string;
  /** stopped: how the keeper stopped the agent. */
  readonly stop?: KeeperStopKind;

  constructor(readonly kind: KeeperErrorKind, message: string, details: { logTail?: string; reason?: string; stop?: KeeperStopKind } = {}) {
    super(message);
    this.name = NAMES[kind];
    this.logTail = details.logTail ?? '';
    this.reason = details.reason;
    this.stop = details.stop;
  }
}

/** True when `error` is a KeeperError (of `kind`, when given). */
export function isKeeperError(error: unknown, kind?: KeeperErrorKind): error is KeeperError {
  return error instanceof KeeperError && (kind === undefined || error.kind === kind);
}
