// DESIGN §9 commands: Run Check, Review with Another Agent…, Send Findings to Task, New Task with Several Agents…,
// Compare Attempts and Merge This Attempt. Task-taking ones accept a task id, a tree node, or nothing (a quick pick).
import * as vscode from 'vscode';
import { CommandId, ConfigKey, ConfigSection } from '../constants';
import { isLive, WorktreeMergeError } from '../core/task-isolation';
import type { TaskManager } from '../core/task-manager';
import type { ProfileConfig } from '../core/profiles';
import type { ProviderRegistry } from '../core/provider-registry';
import { isTerminal, type AgentChoice, type CreateTaskInput, type TaskState } from '../core/task-state';
import { taskTitle } from '../core/task-title';
import { attemptLabel, checkBadge, checkLine, findingPlace, findingsSummary, SEVERITY_ICON } from './opinion-presentation';
import { changeSummary, firstLine, STATUS_PRESENTATION } from './presentation';
import { plain, showMergeError } from './worktree-commands';

export interface OpinionCommandDependencies {
  manager: TaskManager;
  registry: ProviderRegistry;
  /** The profiles of `agentTasks.profiles`, offered as reviewers and attempts besides each agent's default account. */
  profiles: { configsFor(provider: string): ProfileConfig[] };
  openTask(id: string): void;
  revealTask(id: string): Promise<void>;
  compareAttempts(group: string): void;
  /** The check command the user set (`agentTasks.check`), empty when none. */
  checkCommand(): string;
  taskIdOf(arg: unknown): string | undefined;
}

type OpinionCommandId =
  | typeof CommandId.runCheck
  | typeof CommandId.reviewWithAgent
  | typeof CommandId.sendFindings
  | typeof CommandId.newAttempts
  | typeof CommandId.compareAttempts
  | typeof CommandId.pickAttempt;

const OPEN_SETTINGS = 'Open Settings';
const OPEN_TASK = 'Open Task';

/** What each task-taking command needs of a task, and what its quick pick asks. */
const FITS: Record<Exclude<OpinionCommandId, typeof CommandId.newAttempts | typeof CommandId.compareAttempts>, { fits: (task: TaskState) => boolean; ask: string }> = {
  [CommandId.runCheck]: { fits: (task) => isTerminal(task.status) && isLive(task.worktree), ask: 'Run the check in the worktree of which task?' },
  [CommandId.reviewWithAgent]: {
    fits: (task) => isTerminal(task.status) && isLive(task.worktree) && task.worktree.changes.files.length > 0 && task.reviewOf === undefined,
    ask: 'Have another agent review the change of which task?',
  },
  [CommandId.sendFindings]: { fits: (task) => task.reviewOf !== undefined && (task.findings?.length ?? 0) > 0, ask: 'Send the findings of which review?' },
  [CommandId.pickAttempt]: {
    fits: (task) => task.attemptGroup !== undefined && isTerminal(task.status) && isLive(task.worktree) && task.worktree.changes.files.length > 0,
    ask: 'Merge which attempt (the others are discarded)?',
  },
};

export function opinionCommands(deps: OpinionCommandDependencies): Record<OpinionCommandId, (...args: unknown[]) => unknown> {
  const { manager } = deps;
  const agentName = (provider: string): string => deps.registry.get(provider)?.displayName ?? provider;

  const pick = async (command: keyof typeof FITS, arg: unknown, among?: readonly TaskState[]): Promise<TaskState | undefined> => {
    const id = deps.taskIdOf(arg);
    if (id) {
      const task = manager.peek(id);
      if (!task) throw new Error(`There is no task "${id}"`);
      return task;
    }
    const tasks = (among ?? manager.allTasks()).filter(FITS[command].fits).sort((a, b) => b.timestamps.created - a.timestamps.created);
    if (tasks.length === 0) {
      void vscode.window.showInformationMessage('No task fits this command right now.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      tasks.map((task) => ({
        label: `${task.attemptGroup !== undefined ? `${attemptLabel(task, agentName(task.provider))}: ` : ''}${plain(taskTitle(task))}`.replace(/\$\(/g, '\\$('),
        description: [task.worktree && isLive(task.worktree) ? changeSummary(task.worktree) : findingsSummary(task.findings), task.id].filter(Boolean).join(' · '),
        detail: `${STATUS_PRESENTATION[task.status].label} · ${agentName(task.provider)}${task.check ? ` · ${checkBadge(task.check)}` : ''}`,
        task,
      })),
      { placeHolder: FITS[command].ask, matchOnDescription: true, matchOnDetail: true },
    );
    return picked?.task;
  };

  /** Every agent, and each profile of it, as a choice; `first` on top. */
  const agentChoices = (first?: AgentChoice, author?: string): (vscode.QuickPickItem & { choice: AgentChoice })[] => {
    const items = deps.registry.list().flatMap((adapter) => [
      { label: adapter.displayName, description: adapter.id, choice: { provider: adapter.id } as AgentChoice },
      ...deps.profiles.configsFor(adapter.id).map((profile) => ({ label: `${adapter.displayName} · profile ${profile.id}`, description: adapter.id, choice: { provider: adapter.id, profile: profile.id } })),
    ]);
    for (const item of items) {
      if (author !== undefined && item.choice.provider === author) item.description = `${item.description} · wrote this change`;
    }
    const same = (item: { choice: AgentChoice }): boolean => first !== undefined && item.choice.provider === first.provider && item.choice.profile === first.profile;
    return items.sort((a, b) => Number(same(b)) - Number(same(a)));
  };

  /** The group an argument names: a group id, an attempts row, or a task (its group); nothing → a quick pick. */
  const attemptGroupOf = async (arg: unknown): Promise<string | undefined> => {
    if (typeof arg === 'object' && arg !== null && (arg as { kind?: unknown }).kind === 'attempts') return String((arg as { group: unknown }).group);
    if (typeof arg === 'string' && manager.allTasks().some((task) => task.attemptGroup === arg)) return arg;
    const id = deps.taskIdOf(arg);
    if (id) {
      const task = manager.peek(id);
      if (!task) throw new Error(`There is no task "${id}"`);
      if (task.attemptGroup === undefined) throw new Error(`Task ${id} is not one of several attempts`);
      return task.attemptGroup;
    }
    const groups = new Map<string, TaskState[]>();
    for (const task of manager.allTasks()) if (task.attemptGroup !== undefined) groups.set(task.attemptGroup, [...(groups.get(task.attemptGroup) ?? []), task]);
    if (groups.size === 0) {
      void vscode.window.showInformationMessage('No tasks were started as several attempts yet: use New Task with Several Agents….');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      [...groups].map(([group, tasks]) => ({ label: taskTitle(tasks[0]).replace(/\$\(/g, '\\$('), description: `${tasks.length} attempts`, detail: tasks.map((task) => `${agentName(task.provider)}: ${STATUS_PRESENTATION[task.status].label}`).join(' · '), group })),
      { placeHolder: 'Which attempts?' },
    );
    return picked?.group;
  };

  return {
    [CommandId.runCheck]: async (arg?: unknown) => {
      const task = await pick(CommandId.runCheck, arg);
      if (!task) return undefined;
      const command = deps.checkCommand().trim();
      if (!command) {
        const choice = await vscode.window.showErrorMessage('No check is set: put a command such as "npm test" in the agentTasks.check setting (your user settings).', OPEN_SETTINGS);
        if (choice) await vscode.commands.executeCommand('workbench.action.openSettings', `${ConfigSection}.${ConfigKey.check}`);
        return undefined;
      }
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Checking “${plain(taskTitle(task))}”: ${command}`, cancellable: true },
        (_progress, token) => {
          const cancel = token.onCancellationRequested(() => manager.worktrees.jobs.cancelCheck(task.id));
          return manager.worktrees.jobs.runCheck(task.id).finally(() => cancel.dispose());
        },
      );
      const check = result.check;
      if (check?.state === 'passed') void vscode.window.showInformationMessage(`✓ ${checkLine(check)} for “${plain(taskTitle(task))}”.`);
      else if (check?.state === 'failed') {
        void vscode.window.showWarningMessage(`✗ ${checkLine(check)} for “${plain(taskTitle(task))}”: ${firstLine(check.tail?.trim().split('\n').pop() ?? '', 120)}`, OPEN_TASK).then((choice) => {
          if (choice) deps.openTask(task.id);
        });
      }
      return result;
    },

    [CommandId.reviewWithAgent]: async (arg?: unknown, reviewer?: unknown) => {
      const task = await pick(CommandId.reviewWithAgent, arg);
      if (!task) return undefined;
      let choice = isAgentChoice(reviewer) ? reviewer : undefined;
      if (!choice) {
        const fallback = manager.secondOpinions.defaultReviewer(task.provider);
        const picked = await vscode.window.showQuickPick(agentChoices(fallback, task.provider), {
          title: `Review “${plain(taskTitle(task))}” (${agentName(task.provider)}'s change) with…`,
          placeHolder: 'The reviewer reads the change in its worktree and answers with findings; it cannot change files',
          matchOnDescription: true,
        });
        if (!picked) return undefined;
        choice = picked.choice;
      }
      const review = await manager.secondOpinions.reviewTask(task.id, choice);
      deps.openTask(review.id);
      await deps.revealTask(review.id);
      return review.id;
    },

    [CommandId.sendFindings]: async (arg?: unknown, findingIds?: unknown) => {
      const review = await pick(CommandId.sendFindings, arg);
      if (!review) return undefined;
      const findings = review.findings ?? [];
      if (review.reviewOf === undefined || findings.length === 0) throw new Error(`Task ${review.id} is not a review with findings`);
      let ids = Array.isArray(findingIds) && findingIds.every((id) => typeof id === 'string') ? (findingIds as string[]) : undefined;
      if (!ids) {
        const reviewed = manager.peek(review.reviewOf);
        const picked = await vscode.window.showQuickPick(
          findings.map((finding) => ({
            label: `$(${SEVERITY_ICON[finding.severity].icon}) ${finding.title.replace(/\$\(/g, '\\$(')}`,
            description: [finding.severity, findingPlace(finding)].filter(Boolean).join(' · '),
            detail: firstLine(finding.body, 160),
            picked: true,
            id: finding.id,
          })),
          { canPickMany: true, title: `Send findings to “${reviewed ? plain(taskTitle(reviewed)) : review.reviewOf}”`, placeHolder: 'The task continues in its worktree with the findings you keep checked', matchOnDescription: true, matchOnDetail: true },
        );
        if (!picked || picked.length === 0) return undefined;
        ids = picked.map((item) => item.id);
      }
      const followUp = await manager.secondOpinions.sendFindings(review.id, ids);
      deps.openTask(followUp.id);
      await deps.revealTask(followUp.id);
      return followUp.id;
    },

    [CommandId.newAttempts]: async (arg?: unknown) => {
      if (typeof arg === 'object' && arg !== null && 'prompt' in arg && 'agents' in arg) {
        const { agents, ...input } = arg as CreateTaskInput & { agents: AgentChoice[] };
        return (await manager.secondOpinions.createAttempts(input, agents)).map((task) => task.id);
      }
      if (!vscode.workspace.isTrusted) {
        const choice = await vscode.window.showWarningMessage('Agent Tasks cannot start agents in an untrusted workspace.', 'Manage Workspace Trust');
        if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
        return undefined;
      }
      const prompt = await vscode.window.showInputBox({
        title: 'New Task with Several Agents (1/2)',
        prompt: 'What should each agent do? Each works in its own worktree; you keep the best attempt.',
        placeHolder: 'e.g. Add input validation to the signup form',
        ignoreFocusOut: true,
        validateInput: (value) => (value.trim() ? undefined : 'Describe the task'),
      });
      if (!prompt?.trim()) return undefined;
      const picked = await vscode.window.showQuickPick(agentChoices(), {
        title: 'New Task with Several Agents (2/2): which agents?',
        placeHolder: 'Check two or more agents (Space toggles, Enter starts)',
        canPickMany: true,
        ignoreFocusOut: true,
        matchOnDescription: true,
      });
      if (!picked || picked.length === 0) return undefined;
      const tasks = await manager.secondOpinions.createAttempts({ prompt }, picked.map((item) => item.choice));
      await deps.revealTask(tasks[0].id);
      if (tasks[0].attemptGroup !== undefined) deps.compareAttempts(tasks[0].attemptGroup);
      return tasks.map((task) => task.id);
    },

    [CommandId.compareAttempts]: async (arg?: unknown) => {
      const group = await attemptGroupOf(arg);
      if (group !== undefined) deps.compareAttempts(group);
      return group;
    },

    [CommandId.pickAttempt]: async (arg?: unknown) => {
      const group = typeof arg === 'object' && arg !== null && (arg as { kind?: unknown }).kind === 'attempts' ? await attemptGroupOf(arg) : undefined;
      const task = await pick(CommandId.pickAttempt, group !== undefined ? undefined : arg, group !== undefined ? manager.secondOpinions.attempts(group) : undefined);
      if (!task) return undefined;
      if (task.attemptGroup === undefined) throw new Error(`Task ${task.id} is not one of several attempts; use Merge Changes`);
      const others = manager.secondOpinions.attempts(task.attemptGroup).filter((other) => other.id !== task.id && (isLive(other.worktree) || !isTerminal(other.status)));
      const name = attemptLabel(task, agentName(task.provider));
      const detail = others.length > 0
        ? `Then the other attempts are stopped and discarded (their worktrees and branches deleted): ${others.map((other) => `${attemptLabel(other, agentName(other.provider))} (${other.id})`).join(', ')}. If the merge is refused or conflicts, nothing is discarded.`
        : 'No other attempt is left to discard.';
      const confirm = await vscode.window.showWarningMessage(`Merge the attempt of ${name} (${task.worktree && isLive(task.worktree) ? changeSummary(task.worktree) : 'no changes'}) into the main checkout?`, { modal: true, detail }, 'Merge This Attempt');
      if (confirm !== 'Merge This Attempt') return undefined;
      try {
        const merged = await manager.secondOpinions.pickAttempt(task.id);
        void vscode.window.showInformationMessage(`The attempt of ${name} was merged into the main checkout${others.length > 0 ? `; ${others.length} other attempt${others.length === 1 ? ' was' : 's were'} discarded` : ''}.`);
        return merged;
      } catch (error) {
        if (!(error instanceof WorktreeMergeError)) throw error;
        void showMergeError(error, task.id);
        return undefined;
      }
    },
  };
}

function isAgentChoice(value: unknown): value is AgentChoice {
  return typeof value === 'object' && value !== null && typeof (value as AgentChoice).provider === 'string';
}

