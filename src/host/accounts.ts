import * as vscode from 'vscode';
import type { ProfileManager } from '../core/profiles';
import { limitsText, resumesAt } from './presentation';

export interface AccountItem extends vscode.QuickPickItem {
  key: string;
}

/** The items of "Agent Tasks: Show Accounts": every profile and every default account with known usage. */
export function accountItems(profiles: ProfileManager, now: number): AccountItem[] {
  return profiles.accounts().map(({ key, provider, profile, state }) => {
    const cooling = state?.cooldownUntil !== undefined && state.cooldownUntil > now;
    const usage = limitsText(state?.limits, now);
    const seen = state?.limits ? `as of ${new Date(state.limits.at).toLocaleString()}` : 'no usage reported yet';
    return {
      key,
      label: `$(${cooling ? 'watch' : 'account'}) ${profile ? profile.id : `${provider} (default account)`}`,
      description: `${provider}${cooling ? ` · rate limited, ${resumesAt(state!.cooldownUntil!, now)}` : ''}${state?.limits?.plan ? ` · ${state.limits.plan}` : ''}`,
      detail: usage ? `${usage} — ${seen}` : seen,
    };
  });
}

/** `Agent Tasks: Show Accounts`: a quick pick of the accounts; choosing one opens the profiles setting. Returns the items. */
export async function showAccounts(profiles: ProfileManager, arg?: unknown): Promise<AccountItem[]> {
  const items = accountItems(profiles, Date.now());
  if (typeof arg === 'object' && arg !== null && (arg as { pick?: unknown }).pick === false) return items;
  if (items.length === 0) {
    const open = await vscode.window.showInformationMessage('No accounts yet: add profiles in the agentTasks.profiles setting, or run a task to see its account\'s usage.', 'Open Settings');
    if (open) await vscode.commands.executeCommand('workbench.action.openSettings', 'agentTasks.profiles');
    return items;
  }
  const picked = await vscode.window.showQuickPick(items, { title: 'Agent Tasks: Accounts', placeHolder: 'Usage and limits each agent last reported', matchOnDescription: true, matchOnDetail: true });
  if (picked) await vscode.commands.executeCommand('workbench.action.openSettings', 'agentTasks.profiles');
  return items;
}
