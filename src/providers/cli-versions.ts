import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import type { ErrorAction } from '../core/ports';

/**
 * The oldest agent CLI versions this extension works with: each is the oldest version the provider tests ran on
 * (the pins in package.json are the newest). An older CLI lacks protocol methods or fields the provider uses, so a
 * task on it fails at once with a message naming the version needed instead of failing somewhere mid-turn.
 *
 * | CLI | floor | why |
 * |---|---|---|
 * | Codex | 0.169.0 | `app-server --listen unix://`, `thread/resume` with `initialTurnsPage`, `serverRequest/resolved` |
 * | Claude Code | 2.1.197 | stream-json `control_request` `can_use_tool` with `--permission-prompt-tool stdio`, `api_retry` |
 * | Copilot CLI | 1.0.102 | `--acp` with `session/load`, `session/request_permission` and `agentInfo` |
 */
export const CLI_VERSION_FLOORS = {
  codex: { name: 'Codex', minimum: '0.169.0', setting: 'agentTasks.codex.path', install: 'npm install -g @openai/codex@latest' },
  'claude-cli': { name: 'Claude Code', minimum: '2.1.197', setting: 'agentTasks.claude.path', install: 'npm install -g @anthropic-ai/claude-code@latest' },
  copilot: { name: 'Copilot CLI', minimum: '1.0.102', setting: 'agentTasks.copilot.path', install: 'npm install -g @github/copilot@latest' },
} as const;

export type FlooredCli = keyof typeof CLI_VERSION_FLOORS;

/** Thrown (or returned as a failure) when the CLI is older than its floor. */
export class CliTooOldError extends Error {
  constructor(
    readonly cli: FlooredCli,
    readonly found: string | undefined,
    /** The protocol method the CLI did not know, when that is how it showed. */
    readonly missingMethod?: string,
  ) {
    super(tooOldMessage(cli, found, missingMethod));
    this.name = 'CliTooOldError';
  }

  get action(): ErrorAction {
    return { kind: 'openSettings', setting: CLI_VERSION_FLOORS[this.cli].setting, label: 'Open Settings' };
  }
}

/** "Codex 0.169.0 or newer is needed (found 0.150.0); update it or set agentTasks.codex.path". */
export function tooOldMessage(cli: FlooredCli, found: string | undefined, missingMethod?: string): string {
  const floor = CLI_VERSION_FLOORS[cli];
  const what = missingMethod ? `: it does not support ${missingMethod}` : '';
  return `${floor.name} ${floor.minimum} or newer is needed (found ${found ?? 'an unknown version'}${what}); update it (${floor.install}) or set ${floor.setting} to a newer ${floor.name}.`;
}

/** The first x.y.z in a version line ("codex-cli 0.171.0", "2.1.332 (Claude Code)", "atw/0.171.0 (Debian…)"). */
export function parseVersion(text: string | undefined): string | undefined {
  return /(\d+)\.(\d+)\.(\d+)/.exec(text ?? '')?.[0];
}

/** Compares dotted numeric versions: negative when a < b. Pre-release suffixes are ignored. */
export function compareVersions(a: string, b: string): number {
  const left = a.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const right = b.split('.').map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** The error for `versionText` when it names a version below the CLI's floor; undefined when it is new enough or unknown. */
export function checkVersionFloor(cli: FlooredCli, versionText: string | undefined): CliTooOldError | undefined {
  const found = parseVersion(versionText);
  if (!found) return undefined;
  return compareVersions(found, CLI_VERSION_FLOORS[cli].minimum) < 0 ? new CliTooOldError(cli, found) : undefined;
}

/** True for a JSON-RPC error that says the method does not exist (how an older server answers a newer method). */
export function isMethodNotFound(code: number | undefined, message: string | undefined): boolean {
  return code === -32601 || /method not found|unknown (variant|method)/i.test(message ?? '');
}

const versionCache = new Map<string, { key: string; version: Promise<string | undefined> }>();

/**
 * `<executable> --version`, cached per file (path, size and mtime), so a CLI is asked once per install. Undefined
 * when it prints no version or fails: the floor is then not enforced (the run reports what goes wrong).
 */
export function executableVersion(executable: string, timeoutMs = 15_000): Promise<string | undefined> {
  let key = '';
  try {
    const stat = fs.statSync(executable);
    key = `${stat.size}:${stat.mtimeMs}`;
  } catch {
    return Promise.resolve(undefined);
  }
  const cached = versionCache.get(executable);
  if (cached && cached.key === key) return cached.version;
  const version = new Promise<string | undefined>((resolve) => {
    execFile(executable, ['--version'], { timeout: timeoutMs, windowsHide: true, env: { ...process.env, DISABLE_AUTOUPDATER: '1' } }, (error, stdout) => {
      resolve(error ? undefined : parseVersion(String(stdout)));
    });
  });
  versionCache.set(executable, { key, version });
  return version;
}
