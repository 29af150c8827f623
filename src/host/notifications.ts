import * as vscode from 'vscode';
import { CommandId } from '../constants';
import { questionRoot, summarizeQuestion } from '../core/answers';
import type { TaskManager } from '../core/task-manager';
import { isTerminal, type PendingQuestion } from '../core/task-state';
import { taskTitle } from '../core/task-title';
import type { AnswerGate } from './answering';
import { questionHash } from './question-hash';
import type { Settings } from './settings';
import { confirmWholeRequest } from './whole-request';

/** Questions that arrive within this window are shown as one notification, never a storm. */
const COALESCE_MS = 400;

/**
 * Tells the user when a task needs them (and, with notifications = all, when one finishes). Command approvals
 * can be answered from the notification itself.
 */
export class Notifier implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[] = [];
  private queued: { taskId: string; question: PendingQuestion }[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly manager: TaskManager,
    private readonly settings: Settings,
    private readonly answers: AnswerGate,
  ) {
    this.subscriptions.push(
      manager.onDidAskQuestion((event) => this.questionAsked(event)),
      manager.onDidUpdateTask((task) => {
        if (isTerminal(task.status) && this.settings.notifications() === 'all' && !this.finishedNotified.has(task.id)) {
          this.finishedNotified.add(task.id);
          void this.taskFinished(task.id, task.status, task.error);
        }
      }),
      manager.onDidFail((failure) => {
        if (failure.action?.kind === 'openSettings') void this.errorWithSettings(failure.taskId, failure.message, failure.action.setting);
      }),
    );
  }

  private readonly finishedNotified = new Set<string>();

  private questionAsked(event: { taskId: string; question: PendingQuestion }): void {
    if (this.settings.notifications() === 'off') return;
    this.queued.push(event);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const batch = this.queued;
      this.queued = [];
      void this.show(batch);
    }, COALESCE_MS);
  }

  private async show(batch: { taskId: string; question: PendingQuestion }[]): Promise<void> {
    const live = batch.filter(({ taskId, question }) => this.manager.peek(taskId)?.pendingQuestions.some((q) => q.requestId === question.requestId));
    if (live.length === 0) return;
    if (live.length > 1) {
      const tasks = new Set(live.map((item) => item.taskId)).size;
      const choice = await vscode.window.showWarningMessage(`${live.length} questions from ${tasks} task${tasks === 1 ? '' : 's'} need you`, 'Show');
      if (choice === 'Show') await vscode.commands.executeCommand(CommandId.answer);
      return;
    }
    const [{ taskId, question }] = live;
    // Notifications turn `[text](target)` into links: the agent's command must not carry one.
    const task = this.manager.peek(taskId);
    const text = `${this.named(taskId)} needs you: ${summarizeQuestion(question, task && questionRoot(task)).replace(/\]\(/g, '] (')}`;
    if (question.type === 'command_approval') {
      // L2: the answer is bound to this request as shown; a long command is shown whole before it is approved.
      const shownHash = questionHash(taskId, question);
      const choice = await vscode.window.showWarningMessage(text, 'Approve', 'Deny', 'Open');
      if (choice === 'Approve' || choice === 'Deny') {
        try {
          if (choice === 'Approve' && !(await confirmWholeRequest(this.named(taskId), question))) return;
          await this.answers.answer(taskId, question.requestId, { decision: choice === 'Approve' ? 'approve' : 'deny' }, shownHash);
        } catch (error) {
          void vscode.window.showErrorMessage(error instanceof Error ? error.message : String(error));
        }
      } else if (choice === 'Open') await vscode.commands.executeCommand(CommandId.openTask, taskId);
      return;
    }
    const choice = await vscode.window.showWarningMessage(text, 'Open');
    if (choice === 'Open') await vscode.commands.executeCommand(CommandId.openTask, taskId);
  }

  private async taskFinished(taskId: string, status: string, error: string | undefined): Promise<void> {
    const name = this.named(taskId);
    const text = status === 'completed' ? `${name} completed` : `${name} ended ${status.replace('_', ' ')}${error ? `: ${error}` : ''}`;
    const show = status === 'completed' ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
    const choice = await show(text, 'Open');
    if (choice === 'Open') await vscode.commands.executeCommand(CommandId.openTask, taskId);
  }

  private async errorWithSettings(taskId: string, message: string, setting: string): Promise<void> {
    const choice = await vscode.window.showErrorMessage(`${this.named(taskId)} failed: ${message}`, 'Open Settings', 'Open Task');
    if (choice === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettings', setting);
    else if (choice === 'Open Task') await vscode.commands.executeCommand(CommandId.openTask, taskId);
  }

  /**
   * The task as a notification names it: its title in quotes (“Add a --verbose flag”). Notifications turn
   * `[text](target)` into links (command: links included), so a title cannot carry one.
   */
  private named(taskId: string): string {
    const task = this.manager.peek(taskId);
    return task ? `“${taskTitle(task).replace(/\]\(/g, '] (')}”` : `Task ${taskId}`;
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}
