import * as vscode from 'vscode';
import { CommandId, ContextKey } from '../constants';
import type { TaskManager } from '../core/task-manager';
import { isLive } from '../core/task-isolation';
import { isTerminal } from '../core/task-state';

/** Status bar item (running / needs-you counts), the view badge and the context keys menus depend on. */
export class TaskIndicators implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('agentTasks.status', vscode.StatusBarAlignment.Left, 50);
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last = '';

  constructor(
    private readonly manager: TaskManager,
    private readonly view: vscode.TreeView<unknown>,
  ) {
    this.item.name = 'Agent Tasks';
    this.update();
  }

  scheduleUpdate(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.update();
    }, 50);
  }

  update(): void {
    const tasks = this.manager.allTasks();
    const needsYou = tasks.reduce((sum, task) => sum + task.pendingQuestions.length, 0);
    const running = tasks.filter((task) => task.status === 'running').length;
    const active = tasks.filter((task) => !isTerminal(task.status)).length;
    const finished = tasks.length - active;
    const liveWorktrees = tasks.some((task) => isLive(task.worktree));
    const findings = tasks.some((task) => task.reviewOf !== undefined && (task.findings?.length ?? 0) > 0);
    const attempts = tasks.some((task) => task.attemptGroup !== undefined);
    const key = `${needsYou}/${running}/${active}/${finished}/${liveWorktrees}/${findings}/${attempts}`;
    if (key === this.last) return;
    this.last = key;
    void vscode.commands.executeCommand('setContext', ContextKey.hasTasks, tasks.length > 0);
    void vscode.commands.executeCommand('setContext', ContextKey.hasActiveTasks, active > 0);
    void vscode.commands.executeCommand('setContext', ContextKey.hasFinishedTasks, finished > 0);
    void vscode.commands.executeCommand('setContext', ContextKey.needsYouCount, needsYou);
    void vscode.commands.executeCommand('setContext', ContextKey.hasLiveWorktrees, liveWorktrees);
    void vscode.commands.executeCommand('setContext', ContextKey.hasFindings, findings);
    void vscode.commands.executeCommand('setContext', ContextKey.hasAttempts, attempts);
    this.view.badge = needsYou > 0 ? { value: needsYou, tooltip: `${needsYou} question${needsYou === 1 ? '' : 's'} need${needsYou === 1 ? 's' : ''} you` } : undefined;
    if (active === 0) {
      this.item.hide();
      return;
    }
    const parts: string[] = [];
    if (needsYou > 0) parts.push(`$(bell-dot) ${needsYou} need${needsYou === 1 ? 's' : ''} you`);
    if (running > 0) parts.push(`$(loading~spin) ${running} running`);
    if (parts.length === 0) parts.push(`$(clock) ${active} queued`);
    this.item.text = parts.join('  ');
    this.item.tooltip = needsYou > 0 ? 'Answer the questions agents are waiting on' : 'Show agent tasks';
    this.item.command = needsYou > 0 ? CommandId.answer : 'agentTasks.tasks.focus';
    this.item.backgroundColor = needsYou > 0 ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.accessibilityInformation = { label: `Agent tasks: ${needsYou} need you, ${running} running` };
    this.item.show();
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.item.dispose();
  }
}
