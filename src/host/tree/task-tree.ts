import * as vscode from 'vscode';
import { CommandId, ItemToken } from '../../constants';
import { summarizeQuestion } from '../../core/answers';
import type { TaskManager } from '../../core/task-manager';
import { isTerminal, type TaskState, type TaskStatus } from '../../core/task-state';
import type { ProviderRegistry } from '../../core/provider-registry';
import { capabilitySummary, providerLimitations } from '../capabilities-text';
import { elapsedOf, firstLine, formatDuration, formatUsage, groupTasks, STATUS_PRESENTATION, type TaskGroup } from '../presentation';

export type TaskTreeNode = { kind: 'group'; status: TaskStatus } | { kind: 'task'; id: string };

/** The sidebar tree: tasks grouped by state, only non-empty groups, each with its count. */
export class TaskTreeProvider implements vscode.TreeDataProvider<TaskTreeNode>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<TaskTreeNode | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private groups: TaskGroup[] = [];
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly groupNodes = new Map<TaskStatus, TaskTreeNode>();
  private readonly taskNodes = new Map<string, TaskTreeNode>();

  constructor(
    private readonly manager: TaskManager,
    private readonly registry: ProviderRegistry,
  ) {
    this.recompute();
  }

  /** Coalesces bursts of task changes into one refresh. */
  scheduleRefresh(): void {
    if (this.refreshTimer !== undefined) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.recompute();
      this.changeEmitter.fire(undefined);
    }, 50);
  }

  private recompute(): void {
    this.groups = groupTasks(this.manager.allTasks());
  }

  /** Groups as shown (for tests and the status bar). */
  currentGroups(): TaskGroup[] {
    this.recompute();
    return this.groups;
  }

  getChildren(node?: TaskTreeNode): TaskTreeNode[] {
    if (!node) return this.groups.map((group) => this.groupNode(group.status));
    if (node.kind === 'group') {
      return (this.groups.find((group) => group.status === node.status)?.tasks ?? []).map((task) => this.taskNode(task.id));
    }
    return [];
  }

  getParent(node: TaskTreeNode): TaskTreeNode | undefined {
    if (node.kind === 'group') return undefined;
    const task = this.manager.peek(node.id);
    return task ? this.groupNode(task.status) : undefined;
  }

  getTreeItem(node: TaskTreeNode): vscode.TreeItem {
    if (node.kind === 'group') {
      const group = this.groups.find((g) => g.status === node.status);
      const presentation = STATUS_PRESENTATION[node.status];
      const item = new vscode.TreeItem(presentation.label, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `group:${node.status}`;
      item.description = String(group?.tasks.length ?? 0);
      item.contextValue = `${ItemToken.group} status-${node.status}`;
      item.accessibilityInformation = { label: `${presentation.label}: ${group?.tasks.length ?? 0} tasks` };
      return item;
    }
    const task = this.manager.peek(node.id);
    if (!task) return new vscode.TreeItem(node.id);
    return this.taskItem(task);
  }

  private taskItem(task: TaskState): vscode.TreeItem {
    const item = new vscode.TreeItem(task.id, vscode.TreeItemCollapsibleState.None);
    const presentation = STATUS_PRESENTATION[task.status];
    item.id = `task:${task.id}`;
    const question = task.pendingQuestions[0];
    item.description = question
      ? `${task.provider} · needs you: ${firstLine(summarizeQuestion(question), 60)}`
      : `${task.provider} · ${firstLine(task.prompt)}`;
    item.iconPath = new vscode.ThemeIcon(presentation.icon, presentation.color ? new vscode.ThemeColor(presentation.color) : undefined);
    item.tooltip = this.tooltip(task);
    item.contextValue = contextValueOf(task, this.registry.get(task.provider)?.capabilities.followUps ?? false);
    item.command = { command: CommandId.openTask, title: 'Open Task', arguments: [task.id] };
    item.accessibilityInformation = { label: `Task ${task.id}, ${presentation.label}, ${task.provider}: ${firstLine(task.prompt)}` };
    return item;
  }

  private tooltip(task: TaskState): vscode.MarkdownString {
    const md = new vscode.MarkdownString(undefined, true);
    md.supportHtml = false;
    md.isTrusted = false;
    md.appendMarkdown(`**${task.id}** — $(${STATUS_PRESENTATION[task.status].icon.replace('~spin', '')}) ${STATUS_PRESENTATION[task.status].label}\n\n`);
    md.appendCodeblock(task.prompt.length > 600 ? `${task.prompt.slice(0, 600)}…` : task.prompt, 'text');
    const lines: string[] = [];
    lines.push(`Provider: ${task.provider}${task.profile ? ` (profile ${task.profile})` : ''} · ${task.taskType}`);
    const adapter = this.registry.get(task.provider);
    if (adapter) lines.push(`Can: ${capabilitySummary(adapter.capabilities)}`);
    const limits = providerLimitations(task.provider);
    if (limits.length) lines.push(`Cannot: ${limits.join('; ')}`);
    lines.push(`Created: ${new Date(task.timestamps.created).toLocaleString()}`);
    const elapsed = elapsedOf(task, Date.now());
    if (elapsed !== undefined) lines.push(`${isTerminal(task.status) ? 'Ran for' : 'Running for'}: ${formatDuration(elapsed)}`);
    const usage = formatUsage(task);
    if (usage) lines.push(`Usage: ${usage}`);
    if (task.dependsOn.length) lines.push(`Depends on: ${task.dependsOn.join(', ')}`);
    if (task.error) lines.push(`Error: ${task.error}`);
    for (const line of lines) md.appendText(`${line}\n\n`);
    return md;
  }

  private groupNode(status: TaskStatus): TaskTreeNode {
    let node = this.groupNodes.get(status);
    if (!node) this.groupNodes.set(status, (node = { kind: 'group', status }));
    return node;
  }

  private taskNode(id: string): TaskTreeNode {
    let node = this.taskNodes.get(id);
    if (!node) this.taskNodes.set(id, (node = { kind: 'task', id }));
    return node;
  }

  forget(id: string): void {
    this.taskNodes.delete(id);
  }

  dispose(): void {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    this.changeEmitter.dispose();
  }
}

/** Space-separated tokens that `when` clauses match with regexes. */
export function contextValueOf(task: TaskState, followUps: boolean): string {
  const tokens: string[] = [ItemToken.task, `status-${task.status}`];
  if (task.pendingQuestions.length > 0) tokens.push(ItemToken.needsYou);
  if (task.pendingQuestions[0]?.type === 'command_approval') tokens.push(ItemToken.commandApproval);
  if (isTerminal(task.status)) {
    tokens.push(ItemToken.retryable);
    if (followUps && task.sessionId) tokens.push(ItemToken.followUp);
  } else tokens.push(ItemToken.cancellable);
  return tokens.join(' ');
}
