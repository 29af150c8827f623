import type { AccountLimits, LimitWindow } from '../../core/ports';
import type { RateLimitSnapshot } from './protocol/v2/RateLimitSnapshot';
import type { RateLimitWindow } from './protocol/v2/RateLimitWindow';

/**
 * Codex's `account/rateLimits/updated` snapshot in the provider-neutral shape. Codex sends the windows of the
 * ChatGPT plan (`primary`, about 5 hours, and `secondary`, a week) with `resetsAt` in epoch seconds; with an API-key
 * provider every field is null and the snapshot carries no windows.
 */
export function codexLimits(snapshot: RateLimitSnapshot, now = Date.now()): AccountLimits {
  // Called on every rate-limit notification: plain loops, no intermediate arrays.
  const windows: LimitWindow[] = [];
  if (snapshot.primary) windows.push(limitWindow('primary', snapshot.primary));
  if (snapshot.secondary) windows.push(limitWindow('secondary', snapshot.secondary));
  let exhausted = false;
  let warning = false;
  for (const window of windows) {
    if (window.status === 'rejected') exhausted = true;
    else if ((window.usedPercent ?? 0) >= 90) warning = true;
  }
  const resetsAt = soonest(exhausted ? windows.filter((window) => window.status === 'rejected') : windows);
  const reached = snapshot.rateLimitReachedType !== null && snapshot.rateLimitReachedType !== undefined;
  const status = reached || exhausted ? 'rejected' : warning ? 'warning' : windows.length ? 'allowed' : undefined;
  const limits: AccountLimits = { at: now, windows };
  if (snapshot.limitId) limits.limitId = snapshot.limitId;
  if (status) limits.status = status;
  if (resetsAt !== undefined) limits.resetsAt = resetsAt;
  if (snapshot.planType) limits.plan = String(snapshot.planType);
  return limits;
}

/**
 * Merges a sparse update into what was known: Codex documents `account/rateLimits/updated` as a rolling update in
 * which a null field means "unavailable", not "cleared".
 */
export function mergeSnapshot(previous: RateLimitSnapshot | undefined, update: RateLimitSnapshot): RateLimitSnapshot {
  if (!previous) return update;
  // Copied only when something changed (most updates repeat what is known); for…in reads a parsed object's fields fast.
  let merged: Record<string, unknown> | undefined;
  for (const key in update) {
    const value = (update as unknown as Record<string, unknown>)[key];
    if (value === null || value === undefined || (previous as unknown as Record<string, unknown>)[key] === value) continue;
    merged ??= { ...previous };
    merged[key] = value;
  }
  return (merged ?? previous) as RateLimitSnapshot;
}

/** When a rate-limited turn can go again: the exhausted window's reset, else none known from the snapshot. */
export function exhaustedResetAt(limits: AccountLimits | undefined, now = Date.now()): number | undefined {
  if (!limits) return undefined;
  return soonest(limits.windows.filter((window) => window.status === 'rejected' && window.resetsAt !== undefined && window.resetsAt > now));
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

/** The earliest known `resetsAt` of `windows`. */
function soonest(windows: readonly LimitWindow[]): number | undefined {
  let earliest: number | undefined;
  for (const { resetsAt } of windows) {
    if (typeof resetsAt === 'number' && Number.isFinite(resetsAt) && (earliest === undefined || resetsAt < earliest)) earliest = resetsAt;
  }
  return earliest;
}
