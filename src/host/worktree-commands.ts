// DESIGN §8 commands: Review, Merge, Apply, Discard, Open Worktree and Resolve with Agent. Each takes a task id, a
// tree node, or nothing (then a quick pick of the tasks it fits).
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { CommandId } from '../constants';
import { isLive, WorktreeMergeError } from '../core/task-isolation';
import type { TaskManager } from '../core/task-manager';
import { isTerminal, type TaskSnapshot, type TaskState, type TaskWorktree } from '../core/task-state';
import { taskTitle } from '../core/task-title';
import { changeSummary, STATUS_PRESENTATION } from './presentation';
import type { TaskReview } from './review';

export interface WorktreeCommandDependencies {
  manager: TaskManager;
  review: TaskReview;
  /** Opens a task's panel (the follow-up Resolve with Agent starts). */
  openTask(id: string): void;
  taskIdOf(arg: unknown): string | undefined;
}

type WorktreeCommandId =
  | typeof CommandId.reviewChanges
  | typeof CommandId.mergeChanges
  | typeof CommandId.applyChanges
  | typeof CommandId.discardChanges
  | typeof CommandId.openWorktree
  | typeof CommandId.resolveWithAgent;

/** What each command needs of a task, for its quick pick. */
const FITS: Record<WorktreeCommandId, (task: TaskState) => boolean> = {
  [CommandId.reviewChanges]: (task) => isLive(task.worktree) && task.worktree.changes.files.length > 0,
  [CommandId.mergeChanges]: (task) => isTerminal(task.status) && isLive(task.worktree) && task.worktree.changes.files.length > 0,
  [CommandId.applyChanges]: (task) => isTerminal(task.status) && isLive(task.worktree) && task.worktree.changes.files.length > 0,
  [CommandId.discardChanges]: (task) => isTerminal(task.status) && isLive(task.worktree),
  [CommandId.openWorktree]: (task) => isLive(task.worktree),
  [CommandId.resolveWithAgent]: (task) => isTerminal(task.status) && task.worktree?.state === 'conflict',
};

const PLACEHOLDERS: Record<WorktreeCommandId, string> = {
  [CommandId.reviewChanges]: 'Review the changes of which task?',
  [CommandId.mergeChanges]: 'Merge the changes of which task into the main checkout?',
  [CommandId.applyChanges]: 'Apply the changes of which task as uncommitted changes?',
  [CommandId.discardChanges]: 'Discard the changes of which task?',
  [CommandId.openWorktree]: 'Open the worktree of which task?',
  [CommandId.resolveWithAgent]: 'Resolve the conflicts of which task?',
};

const RESOLVE = 'Resolve with Agent';
const REVIEW = 'Review Changes';
const SOURCE_CONTROL = 'Open Source Control';

export function worktreeCommands(deps: WorktreeCommandDependencies): Record<WorktreeCommandId, (...args: unknown[]) => unknown> {
  const { manager } = deps;

  /** The task the argument names, or the one the user picks among those the command fits. */
  const pick = async (command: WorktreeCommandId, arg: unknown): Promise<TaskState | undefined> => {
    const id = deps.taskIdOf(arg);
    if (id) {
      const task = manager.peek(id);
      if (!task) throw new Error(`There is no task "${id}"`);
      return task;
    }
    const tasks = manager.allTasks().filter(FITS[command]).sort((a, b) => b.timestamps.created - a.timestamps.created);
    if (tasks.length === 0) {
      void vscode.window.showInformationMessage('No task has changes this command can act on.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      tasks.map((task) => ({
        label: taskTitle(task).replace(/\$\(/g, '\\$('),
        description: `${changeSummary(task.worktree as TaskWorktree)} · ${task.id}`,
        detail: `${STATUS_PRESENTATION[task.status].label} · ${task.provider} · branch ${(task.worktree as TaskWorktree).branch}`,
        task,
      })),
      { placeHolder: PLACEHOLDERS[command], matchOnDescription: true, matchOnDetail: true },
    );
    return picked?.task;
  };

  /** Merge or apply; a refusal or conflict is shown with what to do next (not thrown). */
  const merge = async (arg: unknown, how: 'merge' | 'apply'): Promise<TaskSnapshot | undefined> => {
    const task = await pick(how === 'merge' ? CommandId.mergeChanges : CommandId.applyChanges, arg);
    if (!task) return undefined;
    try {
      const merged = await manager.worktrees.mergeChanges(task.id, { how });
      const done = how === 'merge' ? 'merged into' : 'applied as uncommitted changes to';
      void vscode.window.showInformationMessage(`The changes of “${plain(taskTitle(task))}” were ${done} the main checkout.`);
      return merged;
    } catch (error) {
      if (!(error instanceof WorktreeMergeError)) throw error;
      void showMergeError(error, task.id);
      return undefined;
    }
  };

  return {
    [CommandId.reviewChanges]: async (arg?: unknown) => {
      const task = await pick(CommandId.reviewChanges, arg);
      if (task) await deps.review.reviewChanges(task.id);
    },

    [CommandId.mergeChanges]: (arg?: unknown) => merge(arg, 'merge'),

    [CommandId.applyChanges]: (arg?: unknown) => merge(arg, 'apply'),

    [CommandId.discardChanges]: async (arg?: unknown) => {
      const task = await pick(CommandId.discardChanges, arg);
      if (!task) return undefined;
      const worktree = task.worktree;
      if (!isLive(worktree)) throw new Error(`Task ${task.id} has no unmerged changes to discard`);
      const count = worktree.changes.files.length;
      const choice = await vscode.window.showWarningMessage(
        `Discard ${count} changed file${count === 1 ? '' : 's'} of “${plain(taskTitle(task))}”?`,
        {
          modal: true,
          detail: `The worktree ${worktree.path} and the branch ${worktree.branch} are deleted (${changeSummary(worktree)}). This cannot be undone.`,
        },
        'Discard',
      );
      if (choice !== 'Discard') return undefined;
      return manager.worktrees.discardChanges(task.id);
    },

    [CommandId.openWorktree]: async (arg?: unknown) => {
      const task = await pick(CommandId.openWorktree, arg);
      if (!task) return;
      const worktree = task.worktree;
      if (!worktree || !isLive(worktree)) throw new Error(`Task ${task.id} has no worktree to open`);
      if (!fs.existsSync(worktree.path)) {
        throw new Error(`The worktree folder ${worktree.path} of task ${task.id} was deleted; its branch ${worktree.branch} keeps what was committed, and Merge or Discard still work.`);
      }
      await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(worktree.path), { forceNewWindow: true });
    },

    [CommandId.resolveWithAgent]: async (arg?: unknown) => {
      const task = await pick(CommandId.resolveWithAgent, arg);
      if (!task) return undefined;
      const next = await manager.worktrees.resolveWithAgent(task.id);
      if (next.id !== task.id) {
        deps.openTask(next.id);
        return next.id;
      }
      // The main checkout's branch merged into the worktree without conflicts: nothing for the agent to do.
      void vscode.window.showInformationMessage(`The main checkout's branch merged into the worktree of “${plain(taskTitle(task))}” without conflicts; merge it again.`, 'Merge Changes').then((choice) => {
        if (choice) void vscode.commands.executeCommand(CommandId.mergeChanges, task.id);
      });
      return task.id;
    },
  };
}

/** A refused or conflicting merge, with what to do next: Resolve with Agent, Review Changes, Source Control. */
export async function showMergeError(error: WorktreeMergeError, taskId: string): Promise<void> {
  const actions = error.reason === 'conflict' ? [RESOLVE, REVIEW] : error.reason === 'dirty' ? [REVIEW, SOURCE_CONTROL] : [];
  const choice = await vscode.window.showErrorMessage(error.message, ...actions);
  if (choice === RESOLVE) await vscode.commands.executeCommand(CommandId.resolveWithAgent, taskId);
  else if (choice === REVIEW) await vscode.commands.executeCommand(CommandId.reviewChanges, taskId);
  else if (choice === SOURCE_CONTROL) await vscode.commands.executeCommand('workbench.view.scm');
}

/** A title inside a notification: `[text](target)` would become a link. */
export function plain(title: string): string {
  return title.replace(/\]\(/g, '] (');
}
