import type { AccountLimits, LimitWindow } from '../../core/ports';
import type { RateLimitSnapshot } from './protocol/v2/RateLimitSnapshot';
import type { RateLimitWindow } from './protocol/v2/RateLimitWindow';

/**
 * Codex's `account/rateLimits/updated` snapshot in the provider-neutral shape. Codex sends the windows of the
 * ChatGPT plan (`primary`, about 5 hours, and `secondary`, a week) with `resetsAt` in epoch seconds; with an API-key
 * provider every field is null and the snapshot carries no windows.
 */
export function codexLimits(snapshot: RateLimitSnapshot, now = Date.now()): AccountLimits {
  const windows: LimitWindow[] = [];
  for (const [id, window] of [
    ['primary', snapshot.primary],
    ['secondary', snapshot.secondary],
  ] as const) {
    if (window) windows.push(limitWindow(id, window));
  }
  const reached = snapshot.rateLimitReachedType !== null && snapshot.rateLimitReachedType !== undefined;
  const exhausted = windows.filter((window) => window.status === 'rejected');
  const resetsAt = soonest((exhausted.length ? exhausted : windows).map((window) => window.resetsAt));
  const status = reached || exhausted.length ? 'rejected' : windows.some((window) => (window.usedPercent ?? 0) >= 90) ? 'warning' : windows.length ? 'allowed' : undefined;
  return {
    at: now,
    ...(snapshot.limitId ? { limitId: snapshot.limitId } : {}),
    ...(status ? { status } : {}),
    ...(resetsAt !== undefined ? { resetsAt } : {}),
    windows,
    ...(snapshot.planType ? { plan: String(snapshot.planType) } : {}),
  };
}

/**
 * Merges a sparse update into what was known: Codex documents `account/rateLimits/updated` as a rolling update in
 * which a null field means "unavailable", not "cleared".
 */
export function mergeSnapshot(previous: RateLimitSnapshot | undefined, update: RateLimitSnapshot): RateLimitSnapshot {
  if (!previous) return update;
  const merged = { ...previous } as Record<string, unknown>;
  for (const [key, value] of Object.entries(update)) if (value !== null && value !== undefined) merged[key] = value;
  return merged as RateLimitSnapshot;
}

/** When a rate-limited turn can go again: the exhausted window's reset, else none known from the snapshot. */
export function exhaustedResetAt(limits: AccountLimits | undefined, now = Date.now()): number | undefined {
  if (!limits) return undefined;
  const exhausted = limits.windows.filter((window) => window.status === 'rejected' && window.resetsAt !== undefined && window.resetsAt > now);
  return soonest(exhausted.map((window) => window.resetsAt));
}

function limitWindow(id: string, window: RateLimitWindow): LimitWindow {
  return {
    id,
    usedPercent: window.usedPercent,
    ...(window.windowDurationMins !== null ? { windowMinutes: window.windowDurationMins } : {}),
    ...(window.resetsAt !== null ? { resetsAt: window.resetsAt * 1000 } : {}),
    status: window.usedPercent >= 100 ? 'rejected' : window.usedPercent >= 90 ? 'warning' : 'allowed',
  };
}

function soonest(times: (number | undefined)[]): number | undefined {
  const known = times.filter((time): time is number => typeof time === 'number' && Number.isFinite(time));
  return known.length ? Math.min(...known) : undefined;
}
