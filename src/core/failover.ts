// DESIGN §3a: what a rate limit does to a task — cooldown, failover to the next profile, or a wait; at most
// MAX_RATE_LIMITED_ATTEMPTS guessed waits. A reset time the agent reported is not a guess: the task waits exactly
// until then and resumes its session, without using up an attempt (at most MAX_RESET_WAITS such waits: never a loop).
import type { ManagerParts } from './task-runner';

export const MAX_RATE_LIMITED_ATTEMPTS = 3;
export const MAX_RESET_WAITS = 5;

/** What a run reported when it hit a limit. */
export interface RateLimit {
  error: string;
  retryAfterMs?: number;
  /** When the agent said its limit resets, epoch ms. */
  resetsAt?: number;
}

export function onRateLimited(parts: ManagerParts, id: string, limit: RateLimit): void {
  const { store, moves, scheduler, options } = parts;
  const task = store.get(id);
  if (!task) return;
  const { error } = limit;
  const profiles = options.profiles;
  const now = options.clock.now();
  const knownReset = limit.resetsAt !== undefined && limit.resetsAt > now ? limit.resetsAt : undefined;
  const resetWaits = (task.resetWaits ?? 0) + (knownReset !== undefined ? 1 : 0);
  const attempts = (task.rateLimitAttempts ?? 0) + (knownReset !== undefined && resetWaits <= MAX_RESET_WAITS ? 0 : 1);
  const retryAfterMs = knownReset !== undefined ? knownReset - now : limit.retryAfterMs;
  const current = task.profile ? profiles.get(task.profile) : undefined;
  let until = current
    ? profiles.markRateLimited(current.id, error, retryAfterMs)
    : now + (retryAfterMs ?? Math.min(30_000 * 2 ** (attempts - 1), 30 * 60_000));
  moves.rateLimited(id, { rateLimitAttempts: attempts, resetWaits, error });
  const counted = knownReset !== undefined && attempts === (task.rateLimitAttempts ?? 0) ? '' : ` (attempt ${attempts} of ${MAX_RATE_LIMITED_ATTEMPTS})`;
  parts.appendOutput(id, { kind: 'status', text: `[rate limit] ${error}${counted}` });
  if (attempts >= MAX_RATE_LIMITED_ATTEMPTS) {
    const message = `Rate limited ${attempts} times; giving up. Last error: ${error}`;
    moves.finish(id, 'failed', { error: message }, message, 'error');
    parts.fail({ taskId: id, message });
    return;
  }
  let retryProfile = current;
  if (current && !task.profilePinned) {
    const tried = [...new Set([...(task.triedProfiles ?? []), current.id])];
    const next = profiles.nextForFailover(task.provider, tried);
    if (next) {
      parts.appendOutput(id, { kind: 'status', text: `[failover] ${current.id} is rate limited; moving to profile ${next.id}` });
      moves.requeue(id, { triedProfiles: tried, profile: next.id });
      scheduler.pump();
      return;
    }
    store.update(id, { triedProfiles: tried });
    retryProfile = profiles.soonestFree(profiles.configsFor(task.provider)) ?? current;
    until = profiles.state(retryProfile.id).cooldownUntil ?? now;
  }
  const where = retryProfile ? ` on profile ${retryProfile.id}` : '';
  const at = new Date(until).toLocaleTimeString();
  parts.appendOutput(id, {
    kind: 'status',
    text: knownReset !== undefined && until === knownReset ? `[rate limit] The limit resets at ${at}; the task resumes then${where}` : `[rate limit] Retrying at ${at}${where}`,
  });
  scheduleRateLimitRetry(parts, id, until, retryProfile?.id);
}

/**
 * Waits (persisted as `retryAt`, so a reload keeps the wait) and re-queues the task. On the profile it ran on, a task
 * whose session had started continues that session rather than starting over.
 */
export function scheduleRateLimitRetry(parts: ManagerParts, id: string, until: number, profileId: string | undefined): void {
  const { store, moves, scheduler } = parts;
  store.update(id, { retryAt: until });
  scheduler.scheduleRetry(id, until, () => {
    const task = store.get(id);
    if (task?.status !== 'rate_limited') return;
    const sameSession = task.sessionId !== undefined && profileId === task.profile;
    moves.requeue(id, { profile: profileId, retryAt: undefined, ...(sameSession ? { continueSession: true } : {}) });
  });
}
