// DESIGN §3a: what a rate limit does to a task — cooldown, failover to the next profile, or a wait for the earliest
// cooldown; at most MAX_RATE_LIMITED_ATTEMPTS attempts.
import type { ManagerParts } from './task-runner';

export const MAX_RATE_LIMITED_ATTEMPTS = 3;

export function onRateLimited(parts: ManagerParts, id: string, error: string, retryAfterMs: number | undefined): void {
  const { store, moves, scheduler, options } = parts;
  const task = store.get(id);
  if (!task) return;
  const profiles = options.profiles;
  const attempts = (task.rateLimitAttempts ?? 0) + 1;
  const now = options.clock.now();
  const current = task.profile ? profiles.get(task.profile) : undefined;
  let until = current
    ? profiles.markRateLimited(current.id, error, retryAfterMs)
    : now + (retryAfterMs ?? Math.min(30_000 * 2 ** (attempts - 1), 30 * 60_000));
  moves.rateLimited(id, { rateLimitAttempts: attempts, error });
  parts.appendOutput(id, { kind: 'status', text: `[rate limit] ${error} (attempt ${attempts} of ${MAX_RATE_LIMITED_ATTEMPTS})` });
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
  parts.appendOutput(id, { kind: 'status', text: `[rate limit] Retrying at ${new Date(until).toLocaleTimeString()}${where}` });
  store.update(id, { retryAt: until });
  scheduler.scheduleRetry(id, until, () => {
    if (store.get(id)?.status === 'rate_limited') moves.requeue(id, { profile: retryProfile?.id });
  });
}
