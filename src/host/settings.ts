import * as vscode from 'vscode';
import { ConfigKey, ConfigSection } from '../constants';
import type { ManagerSettings } from '../core/task-manager';
import type { ProfileConfig } from '../core/profiles';
import { expandHome } from '../platform/executable';
import { chooseDefaultProvider, userValue, workspaceOverrides } from './settings-policy';

export type NotificationLevel = 'all' | 'needsYou' | 'off';

export interface AcpAgentConfig {
  name: string;
  command: string;
  args?: string[];
  env?: Record<string, string>;
}

/** Every setting the extension reads, read in one place. */
export class Settings {
  private readonly warned = new Set<string>();

  constructor(private readonly warn: (message: string) => void = () => undefined) {}

  private get config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(ConfigSection);
  }

  /** A user-only setting: the user's value or the default; a workspace's value is ignored (and reported once). */
  private userSetting<T>(key: string, fallback: T): T {
    const inspected = this.config.inspect<T>(key);
    if (workspaceOverrides(inspected)) this.warnOnce(`The workspace sets agentTasks.${key}; it is ignored: only your user settings can change it.`);
    return userValue(inspected, fallback);
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.warn(message);
  }

  /** The provider of tasks that name none: validated (see chooseDefaultProvider). */
  defaultProvider(): string {
    const { provider, warning } = chooseDefaultProvider(
      this.config.inspect<unknown>(ConfigKey.defaultProvider),
      this.acpAgents().map((agent) => `acp:${agent.name}`),
    );
    if (warning) this.warnOnce(warning);
    return provider;
  }

  manager(): ManagerSettings {
    const config = this.config;
    return {
      defaultProvider: this.defaultProvider(),
      maxConcurrentTasks: clampInt(config.get<number>(ConfigKey.maxConcurrentTasks, 3), 1, 32, 3),
      defaultTimeoutMinutes: nonNegative(config.get<number>(ConfigKey.defaultTimeoutMinutes, 30), 30),
      questionTimeoutMinutes: nonNegative(config.get<number>(ConfigKey.questionTimeoutMinutes, 0), 0),
      isolation: config.get<string>(ConfigKey.isolation, 'worktree') === 'none' ? 'none' : 'worktree',
      // DESIGN §9 and M5: commands that run on their own, so only the user's settings may name them.
      worktreeSetup: stringList(this.userSetting<unknown>(ConfigKey.worktreeSetup, [])),
      worktreeCopy: stringList(this.userSetting<unknown>(ConfigKey.worktreeCopy, [])),
      check: typeof this.userSetting<unknown>(ConfigKey.check, '') === 'string' ? (this.userSetting<unknown>(ConfigKey.check, '') as string) : '',
    };
  }

  profiles(): ProfileConfig[] {
    const raw = this.userSetting<unknown>(ConfigKey.profiles, []);
    if (!Array.isArray(raw)) return [];
    return raw.flatMap((item): ProfileConfig[] => {
      if (typeof item !== 'object' || item === null) return [];
      const p = item as Record<string, unknown>;
      if (typeof p.id !== 'string' || typeof p.provider !== 'string') return [];
      return [{ id: p.id, provider: p.provider, configDir: typeof p.configDir === 'string' ? expandHome(p.configDir) : undefined, env: stringRecord(p.env) }];
    });
  }

  acpAgents(): AcpAgentConfig[] {
    const raw = this.userSetting<unknown>(ConfigKey.acpAgents, []);
    if (!Array.isArray(raw)) return [];
    return raw.flatMap((item): AcpAgentConfig[] => {
      if (typeof item !== 'object' || item === null) return [];
      const a = item as Record<string, unknown>;
      if (typeof a.name !== 'string' || typeof a.command !== 'string') return [];
      return [{ name: a.name, command: a.command, args: Array.isArray(a.args) ? a.args.map(String) : undefined, env: stringRecord(a.env) }];
    });
  }

  cliPath(key: typeof ConfigKey.codexPath | typeof ConfigKey.claudePath | typeof ConfigKey.copilotPath): string | undefined {
    const raw = this.userSetting<unknown>(key, '');
    const value = typeof raw === 'string' ? raw.trim() : '';
    return value ? expandHome(value) : undefined;
  }

  notifications(): NotificationLevel {
    const value = this.config.get<string>(ConfigKey.notifications, 'needsYou');
    return value === 'all' || value === 'off' ? value : 'needsYou';
  }

  allowAgentApprovals(): boolean {
    return this.userSetting<unknown>(ConfigKey.mcpAllowAgentApprovals, false) === true;
  }

  /** DESIGN §8: may an agent that delegated a task merge its changes over MCP? User settings only. */
  allowAgentMerge(): boolean {
    return this.userSetting<unknown>(ConfigKey.mcpAllowAgentMerge, false) === true;
  }

  keepRunningMinutes(): number {
    return nonNegative(this.config.get<number>(ConfigKey.keepRunningMinutes, 30), 30);
  }

  onDidChange(listener: (event: vscode.ConfigurationChangeEvent) => void): vscode.Disposable {
    return vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(ConfigSection)) listener(event);
    });
  }
}

function clampInt(value: unknown, min: number, max: number, fallback: number): number {
  const n = typeof value === 'number' && Number.isFinite(value) ? Math.round(value) : fallback;
  return Math.min(max, Math.max(min, n));
}

function nonNegative(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
}

/** The strings of a list setting (anything else is ignored). */
function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string' && item.trim() !== '') : [];
}
