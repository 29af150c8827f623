// Which configuration values the extension accepts from where (no VS Code import, so it is unit-tested as is).
// A repository's .vscode/settings.json (or a .code-workspace file) must not change what runs, with which credentials,
// or who may approve: those settings are read from the user's own settings only (DESIGN §6, security review M5).

/**
 * Settings that decide what runs, with which credentials, or who may approve: read from the user's settings only, so a
 * repository's .vscode/settings.json cannot change them (package.json lists them, with
 * defaultProvider, in capabilities.untrustedWorkspaces.restrictedConfigurations). Keys relative to `agentTasks`.
 */
export const USER_ONLY_KEYS: readonly string[] = ['codex.path', 'claude.path', 'copilot.path', 'profiles', 'acpAgents', 'mcp.allowAgentApprovals', 'mcp.allowAgentMerge', 'worktree.setup', 'worktree.copy', 'check'];

/** The parts of `WorkspaceConfiguration.inspect()` that decide a value. */
export interface InspectedValue<T> {
  defaultValue?: T;
  globalValue?: T;
  workspaceValue?: T;
  workspaceFolderValue?: T;
}

/** The built-in providers a workspace may pick as the default (the package.json enum of agentTasks.defaultProvider). */
export const BUILTIN_PROVIDERS: readonly string[] = ['codex', 'claude-cli', 'copilot'];
export const FALLBACK_PROVIDER = 'codex';

/** A setting only the user decides: the user's value, else the default. Workspace and folder values are ignored. */
export function userValue<T>(inspected: InspectedValue<T> | undefined, fallback: T): T {
  return inspected?.globalValue ?? inspected?.defaultValue ?? fallback;
}

/** Whether a workspace or folder tries to set a user-only setting (to say so once). */
export function workspaceOverrides(inspected: InspectedValue<unknown> | undefined): boolean {
  return inspected?.workspaceValue !== undefined || inspected?.workspaceFolderValue !== undefined;
}

/**
 * The default provider: a workspace may choose among the built-in providers; the user may also name one of their own
 * ACP agents (`acp:<name>` from their agentTasks.acpAgents). Anything else falls back to the built-in default, with a
 * warning: a repository never makes new tasks run an `acp:` command.
 */
export function chooseDefaultProvider(
  inspected: InspectedValue<unknown> | undefined,
  userAcpProviders: readonly string[],
): { provider: string; warning?: string } {
  const workspace = inspected?.workspaceFolderValue ?? inspected?.workspaceValue;
  const user = inspected?.globalValue;
  const warnings: string[] = [];
  if (workspace !== undefined) {
    if (typeof workspace === 'string' && BUILTIN_PROVIDERS.includes(workspace)) return { provider: workspace };
    warnings.push(`The workspace setting agentTasks.defaultProvider = ${JSON.stringify(workspace)} is ignored: a workspace may choose ${BUILTIN_PROVIDERS.join(', ')}.`);
  }
  if (user !== undefined) {
    if (typeof user === 'string' && (BUILTIN_PROVIDERS.includes(user) || userAcpProviders.includes(user))) {
      return { provider: user, warning: warnings[0] };
    }
    warnings.push(`agentTasks.defaultProvider = ${JSON.stringify(user)} is not a known provider: using ${FALLBACK_PROVIDER}.`);
  }
  return { provider: FALLBACK_PROVIDER, warning: warnings.length ? warnings.join(' ') : undefined };
}
