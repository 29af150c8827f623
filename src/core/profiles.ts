import type { AccountLimits } from './ports';
import type { ProviderId } from './task-state';

/** A profile as configured in `agentTasks.profiles`. `env` may hold secrets: it stays in memory only. */
export interface ProfileConfig {
  id: string;
  provider: ProviderId;
  configDir?: string;
  env?: Record<string, string>;
}

/** An account a task runs on (DESIGN §3a), as handed to an adapter. `env` holds secrets: never log or persist it. */
export interface ResolvedProfile {
  id: string;
  provider: ProviderId;
  configDir?: string;
  env: Record<string, string>;
}

/** What is persisted about a profile (never its env). */
export interface ProfileState {
  cooldownUntil?: number;
  failureCount: number;
  lastFailureReason?: string;
  /** The last account rate-limit snapshot the provider reported. */
  rateLimitInfo?: Record<string, unknown>;
  /** The account's last known usage and limits (TaskHandle.reportLimits), shown in tooltips and Show Accounts. */
  limits?: AccountLimits;
}

/** Where a task without a profile (the provider's own default account) keeps its state. */
export const defaultAccountKey = (provider: ProviderId): string => `default:${provider}`;

export const BASE_COOLDOWN_MS = 30_000;
export const MAX_COOLDOWN_MS = 30 * 60_000;

/** The environment variable a profile's configDir becomes, per provider. */
export const CONFIG_DIR_ENV: Readonly<Record<string, string>> = {
  codex: 'CODEX_HOME',
  'claude-cli': 'CLAUDE_CONFIG_DIR',
  copilot: 'COPILOT_HOME',
};

/**
 * Accounts per provider and their cooldowns (DESIGN §3a). Order is the order of `agentTasks.profiles`.
 */
export class ProfileManager {
  private configs: ProfileConfig[] = [];
  private readonly states = new Map<string, ProfileState>();

  constructor(private readonly now: () => number) {}

  setConfigs(configs: readonly ProfileConfig[]): void {
    const seen = new Set<string>();
    this.configs = configs.filter((config) => {
      if (!config || typeof config.id !== 'string' || typeof config.provider !== 'string' || seen.has(config.id)) return false;
      seen.add(config.id);
      return true;
    });
  }

  configsFor(provider: ProviderId): ProfileConfig[] {
    return this.configs.filter((config) => config.provider === provider);
  }

  get(id: string): ProfileConfig | undefined {
    return this.configs.find((config) => config.id === id);
  }

  state(id: string): ProfileState {
    let state = this.states.get(id);
    if (!state) this.states.set(id, (state = { failureCount: 0 }));
    return state;
  }

  isCoolingDown(id: string, at = this.now()): boolean {
    const until = this.states.get(id)?.cooldownUntil;
    return until !== undefined && until > at;
  }

  /** The profile a new (unpinned) task starts on: the first not cooling down, else the one free soonest. */
  pickFor(provider: ProviderId): ProfileConfig | undefined {
    const candidates = this.configsFor(provider);
    return candidates.find((config) => !this.isCoolingDown(config.id)) ?? this.soonestFree(candidates);
  }

  /** The next profile for failover: in order, not cooling down, not tried yet. */
  nextForFailover(provider: ProviderId, tried: readonly string[]): ProfileConfig | undefined {
    return this.configsFor(provider).find((config) => !tried.includes(config.id) && !this.isCoolingDown(config.id));
  }

  /** The profile among `provider`'s that becomes free first, and when. */
  soonestFree(candidates: readonly ProfileConfig[]): ProfileConfig | undefined {
    let best: ProfileConfig | undefined;
    for (const config of candidates) {
      const until = this.states.get(config.id)?.cooldownUntil ?? 0;
      if (!best || until < (this.states.get(best.id)?.cooldownUntil ?? 0)) best = config;
    }
    return best;
  }

  /** Starts a cooldown: Retry-After when given, else exponential from 30 s. Returns when it ends. */
  markRateLimited(id: string, reason: string, retryAfterMs?: number): number {
    const state = this.state(id);
    state.failureCount += 1;
    state.lastFailureReason = reason;
    const wait = retryAfterMs ?? Math.min(BASE_COOLDOWN_MS * 2 ** (state.failureCount - 1), MAX_COOLDOWN_MS);
    state.cooldownUntil = this.now() + wait;
    return state.cooldownUntil;
  }

  markSucceeded(id: string): void {
    const state = this.state(id);
    state.failureCount = 0;
    state.cooldownUntil = undefined;
  }

  setRateLimitInfo(id: string, info: Record<string, unknown>): void {
    this.state(id).rateLimitInfo = info;
  }

  /** Remembers an account's usage and limits (`id` = a profile id or defaultAccountKey(provider)). */
  setLimits(id: string, limits: AccountLimits): void {
    this.state(id).limits = limits;
  }

  /** An account's last known usage and limits, if any was reported. */
  limitsOf(id: string): AccountLimits | undefined {
    return this.states.get(id)?.limits;
  }

  /** Every account worth listing: the configured profiles in order, then default accounts with known limits. */
  accounts(): { key: string; provider: ProviderId; profile?: ProfileConfig; state: ProfileState | undefined }[] {
    const listed = this.configs.map((config) => ({ key: config.id, provider: config.provider, profile: config, state: this.states.get(config.id) }));
    const defaults = [...this.states]
      .filter(([key, state]) => key.startsWith('default:') && state.limits)
      .map(([key, state]) => ({ key, provider: key.slice('default:'.length), state }));
    return [...listed, ...defaults];
  }

  /** Profile as handed to an adapter: configDir folded into the provider's env variable. */
  resolve(config: ProfileConfig): ResolvedProfile {
    const env: Record<string, string> = { ...(config.env ?? {}) };
    const variable = CONFIG_DIR_ENV[config.provider];
    if (config.configDir && variable) env[variable] = config.configDir;
    return { id: config.id, provider: config.provider, configDir: config.configDir, env };
  }

  toJSON(): Record<string, ProfileState> {
    return Object.fromEntries(this.states);
  }

  load(states: Record<string, ProfileState> | undefined): void {
    this.states.clear();
    for (const [id, state] of Object.entries(states ?? {})) {
      if (state && typeof state === 'object') this.states.set(id, { failureCount: Number(state.failureCount) || 0, cooldownUntil: state.cooldownUntil, lastFailureReason: state.lastFailureReason, rateLimitInfo: state.rateLimitInfo, limits: validLimits(state.limits) });
    }
  }
}

/** Limits read back from state.json: kept only when they have the shape written (anything else is dropped). */
function validLimits(value: unknown): AccountLimits | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const limits = value as Partial<AccountLimits>;
  return typeof limits.at === 'number' && Array.isArray(limits.windows) ? (limits as AccountLimits) : undefined;
}
