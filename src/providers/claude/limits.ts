// What Claude Code says about its account's limits and rate limits, in the provider-neutral shapes of core/ports.
import type { AccountLimits, LimitStatus, LimitWindow } from '../../core/ports';
import type { ClaudeRateLimitInfo, ClaudeResultMessage } from './protocol';

/**
 * A 429 or usage-limit result as a rate limit, with the reset time: from a `rejected` rate_limit_event (Claude Code
 * 2.1.3xx), else from the older "Claude AI usage limit reached|<unix seconds>" text.
 */
export function rateLimitOf(
  result: ClaudeResultMessage,
  retrySeen: string | undefined,
  limitResetsAt?: number,
  now = Date.now(),
): { error: string; retryAfterMs?: number; resetsAt?: number } | undefined {
  const text = (result.result ?? '').trim();
  const usageLimit = /usage limit reached|limit reached.*resets|hit your .*limit/i.test(text) || result.api_error === 'usage_limit_reached';
  if (result.api_error_status !== 429 && !usageLimit && !(retrySeen && result.is_error && /\b429\b/.test(text))) return undefined;
  const reset = /\|(\d{10})\b/.exec(text);
  const resetsAt = limitResetsAt ?? (reset ? Number(reset[1]) * 1000 : undefined);
  const error = text.replace(/\|\d{10}\b/, '') || retrySeen || 'Claude API rate limit (HTTP 429)';
  if (resetsAt === undefined) return { error };
  return { error, retryAfterMs: Math.max(0, resetsAt - now), resetsAt };
}

/**
 * The API's Retry-After, as far as an `api_retry` shows it: Claude Code (2.1.3xx) waits what the 429's `retry-after`
 * header says, while its own back-off is 0.5 s doubling per attempt up to 32 s with up to 25 % jitter. A delay well
 * beyond that back-off is the server's, and the limit is expected to last that long again after the last attempt.
 */
export function serverRetryDelay(attempt: number | undefined, delayMs: number | undefined): number | undefined {
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs)) return undefined;
  const backoff = Math.min(500 * 2 ** Math.max(0, (attempt ?? 1) - 1), 32_000);
  return delayMs > backoff * 1.5 ? delayMs : undefined;
}

const CLAUDE_LIMIT_STATUS: Record<string, LimitStatus> = { allowed: 'allowed', allowed_warning: 'warning', rejected: 'rejected' };

/** Claude Code's rate_limit_info in the provider-neutral shape (its times are epoch seconds). */
export function claudeLimits(info: ClaudeRateLimitInfo, now = Date.now()): AccountLimits {
  const windows: LimitWindow[] = Object.entries(info.unifiedWindows ?? {}).map(([id, window]) => ({
    id,
    ...(typeof window.utilization === 'number' ? { usedPercent: Math.round(window.utilization * 1000) / 10 } : {}),
    ...(typeof window.resetsAt === 'number' ? { resetsAt: window.resetsAt * 1000 } : {}),
    ...(window.status && CLAUDE_LIMIT_STATUS[window.status] ? { status: CLAUDE_LIMIT_STATUS[window.status] } : {}),
  }));
  if (!windows.length && info.rateLimitType) {
    windows.push({
      id: info.rateLimitType,
      ...(typeof info.utilization === 'number' ? { usedPercent: Math.round(info.utilization * 1000) / 10 } : {}),
      ...(typeof info.resetsAt === 'number' ? { resetsAt: info.resetsAt * 1000 } : {}),
      ...(CLAUDE_LIMIT_STATUS[info.status] ? { status: CLAUDE_LIMIT_STATUS[info.status] } : {}),
    });
  }
  const status = CLAUDE_LIMIT_STATUS[info.status];
  return {
    at: now,
    ...(info.rateLimitType ? { limitId: info.rateLimitType } : {}),
    ...(status ? { status } : {}),
    ...(typeof info.resetsAt === 'number' ? { resetsAt: info.resetsAt * 1000 } : {}),
    windows,
  };
}
