import * as vscode from 'vscode';
import { CommandId, ItemToken } from '../../constants';
import type { TaskManager } from '../../core/task-manager';
import { isTerminal, type TaskState, type TaskStatus } from '../../core/task-state';
import { MAX_AGENT_TITLE, taskTitle } from '../../core/task-title';
import type { ProviderRegistry } from '../../core/provider-registry';
import { capabilitySummary, providerLimitations } from '../capabilities-text';
import { isLive } from '../../core/task-isolation';
import { elapsedOf, formatDuration, formatUsage, groupTasks, stateDetail, STATUS_PRESENTATION, worktreeDetail, worktreeLines, type TaskGroup } from '../presentation';
import type { ProfileManager } from '../../core/profiles';
import { accountLine } from '../presentation';
import { questionHash } from '../question-hash';
import { arrangeRows, attemptGroupLabel, attemptLabel, checkBadge, checkLine, findingLine, findingsSummary, type GroupRow } from '../opinion-presentation';

/** How often rows of running and rate-limited tasks are redrawn (their description counts minutes). */
const CLOCK_REFRESH_MS = 30_000;

/**
 * The approval a task's row showed when VS Code last drew it (L2): its inline Approve / Deny answer exactly that
 * request, and only while it is unchanged (the hash of what was shown).
 */
export interface ShownRequest {
  requestId: string;
  payloadHash: string;
}

/** A status group, the attempts of one prompt (DESIGN §9), or a task. */
export type TaskTreeNode = { kind: 'group'; status: TaskStatus } | { kind: 'attempts'; group: string } | { kind: 'task'; id: string; shown?: ShownRequest };

type ShownGroup = TaskGroup & { rows: GroupRow[] };

/** The sidebar tree: tasks grouped by state, only non-empty groups, each with its count. */
export class TaskTreeProvider implements vscode.TreeDataProvider<TaskTreeNode>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<TaskTreeNode | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private groups: ShownGroup[] = [];
  /** Titles that more than one task shows: those rows also name their task id. */
  private sharedTitles = new Set<string>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private clockTimer: ReturnType<typeof setInterval> | undefined;
  private readonly groupNodes = new Map<TaskStatus, TaskTreeNode>();
  private readonly taskNodes = new Map<string, TaskTreeNode>();
  private readonly attemptNodes = new Map<string, TaskTreeNode>();

  constructor(
    private readonly manager: TaskManager,
    private readonly registry: ProviderRegistry,
    private readonly profiles?: ProfileManager,
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

  /**
   * Recomputes the groups and tells VS Code now, skipping the coalescing delay: before `TreeView.reveal`, whose
   * walk up (getParent) and down (getChildren) must see the same groups or VS Code cannot resolve the new task's group.
   */
  refreshNow(): void {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    this.recompute();
    this.changeEmitter.fire(undefined);
  }

  private recompute(): void {
    const tasks = this.manager.allTasks();
    this.groups = arrangeRows(groupTasks(tasks), tasks);
    const seen = new Set<string>();
    this.sharedTitles = new Set();
    for (const task of tasks) {
      const title = taskTitle(task);
      if (seen.has(title)) this.sharedTitles.add(title);
      seen.add(title);
    }
    const ticking = tasks.some((task) => task.status === 'running' || task.status === 'rate_limited');
    if (ticking && this.clockTimer === undefined) this.clockTimer = setInterval(() => this.tick(), CLOCK_REFRESH_MS);
    else if (!ticking && this.clockTimer !== undefined) {
      clearInterval(this.clockTimer);
      this.clockTimer = undefined;
    }
  }

  /** Redraws the rows whose description counts time. */
  private tick(): void {
    for (const group of this.groups) {
      if (group.status !== 'running' && group.status !== 'rate_limited') continue;
      for (const task of group.tasks) this.changeEmitter.fire(this.taskNode(task.id));
    }
  }

  /** Groups as shown (for tests and the status bar). */
  currentGroups(): TaskGroup[] {
    this.recompute();
    return this.groups;
  }

  getChildren(node?: TaskTreeNode): TaskTreeNode[] {
    if (!node) return this.groups.map((group) => this.groupNode(group.status));
    if (node.kind === 'group') {
      return (this.groups.find((group) => group.status === node.status)?.rows ?? []).map((row) => (row.kind === 'task' ? this.taskNode(row.task.id) : this.attemptsNode(row.group)));
    }
    if (node.kind === 'attempts') return (this.attemptRow(node.group)?.tasks ?? []).map((task) => this.taskNode(task.id));
    return [];
  }

  /** The group that getChildren shows the task under: the same snapshot of the groups, never the task's live status
   *  (between two refreshes they differ, and VS Code then cannot resolve the parent it was given). */
  getParent(node: TaskTreeNode): TaskTreeNode | undefined {
    if (node.kind === 'group') return undefined;
    const isRow = (row: GroupRow): boolean => (node.kind === 'attempts' ? row.kind === 'attempts' && row.group === node.group : row.kind === 'task' && row.task.id === node.id);
    const group = this.groups.find((candidate) => candidate.rows.some(isRow));
    if (group) return this.groupNode(group.status);
    const attempts = node.kind === 'task' ? this.groups.flatMap((candidate) => candidate.rows).find((row) => row.kind === 'attempts' && row.tasks.some((task) => task.id === node.id)) : undefined;
    return attempts?.kind === 'attempts' ? this.attemptsNode(attempts.group) : undefined;
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
    if (node.kind === 'attempts') return this.attemptsItem(node.group);
    const task = this.manager.peek(node.id);
    if (!task) return new vscode.TreeItem(node.id);
    const question = task.pendingQuestions[0];
    node.shown = question ? { requestId: question.requestId, payloadHash: questionHash(task.id, question) } : undefined;
    return this.taskItem(task);
  }

  /** An attempt group's row as getTreeItem gives it, the status group it sits in and its children (for the test hook). */
  attemptRowView(group: string): { label: string; description: string; taskIds: string[]; status: string } | undefined {
    this.recompute();
    const row = this.attemptRow(group);
    const status = this.groups.find((shown) => shown.rows.includes(row!))?.status;
    if (!row || !status) return undefined;
    const item = this.attemptsItem(group);
    return { label: String(item.label), description: String(item.description), taskIds: row.tasks.map((task) => task.id), status };
  }

  /** The row of a task, as getTreeItem gives it (for the test hook). */
  taskTreeItem(id: string): vscode.TreeItem | undefined {
    this.recompute();
    const task = this.manager.peek(id);
    return task ? this.taskItem(task) : undefined;
  }

  private taskItem(task: TaskState): vscode.TreeItem {
    // The label names the task in every state (an attempt, under its group's row: its agent); what the state is about
    // goes in the description.
    const title = taskTitle(task);
    const asAttempt = task.attemptGroup !== undefined && this.attemptRow(task.attemptGroup) !== undefined;
    const displayName = this.registry.get(task.provider)?.displayName ?? task.provider;
    const item = new vscode.TreeItem(asAttempt ? attemptLabel(task, displayName) : title, vscode.TreeItemCollapsibleState.None);
    const presentation = STATUS_PRESENTATION[task.status];
    item.id = `task:${task.id}`;
    const detail = stateDetail(task, Date.now(), (id) => {
      const dependency = this.manager.peek(id);
      return dependency ? taskTitle(dependency) : undefined;
    });
    // The detail comes first: a narrow side bar cuts the end of the row. Unmerged changes come next (DESIGN §8), then
    // the check's verdict and a review's findings (§9).
    const changes = worktreeDetail(task);
    const opinions = [task.check && checkBadge(task.check), task.reviewOf !== undefined ? findingsSummary(task.findings) ?? 'reviewing' : undefined].filter(Boolean).join(' · ');
    const name = asAttempt ? '' : ` · ${task.provider}${this.sharedTitles.has(title) ? ` · ${task.id}` : ''}`;
    item.description = `${detail}${changes ? ` · ${changes}` : ''}${opinions ? ` · ${opinions}` : ''}${name}`;
    item.iconPath = new vscode.ThemeIcon(presentation.icon, presentation.color ? new vscode.ThemeColor(presentation.color) : undefined);
    item.tooltip = this.tooltip(task, detail);
    item.contextValue = contextValueOf(task, this.registry.get(task.provider)?.capabilities.followUps ?? false);
    item.command = { command: CommandId.openTask, title: 'Open Task', arguments: [task.id] };
    const spoken = [detail, changes && `changes ${changes}`, opinions].filter(Boolean).join(', ');
    item.accessibilityInformation = { label: taskAriaLabel(task, presentation.label, spoken) };
    return item;
  }

  private tooltip(task: TaskState, detail: string): vscode.MarkdownString {
    const md = new vscode.MarkdownString(undefined, true);
    md.supportHtml = false;
    md.isTrusted = false;
    // The title may come from the agent: appended as text, so nothing in it is read as Markdown.
    md.appendMarkdown('**');
    md.appendText(taskTitle(task, MAX_AGENT_TITLE));
    md.appendMarkdown('**\n\n');
    md.appendMarkdown(`Task \`${task.id}\` — $(${STATUS_PRESENTATION[task.status].icon.replace('~spin', '')}) ${STATUS_PRESENTATION[task.status].label}: `);
    md.appendText(detail);
    md.appendMarkdown('\n\n');
    md.appendCodeblock(task.prompt.length > 600 ? `${task.prompt.slice(0, 600)}…` : task.prompt, 'text');
    // L2: the row shortens the command it asks to run; the tooltip shows all of it.
    const question = task.pendingQuestions[0];
    if (question?.type === 'command_approval') {
      md.appendMarkdown('Asks to run:\n');
      md.appendCodeblock(question.command, 'sh');
    }
    const lines: string[] = [];
    lines.push(`Provider: ${task.provider}${task.profile ? ` (profile ${task.profile})` : ''} · ${task.taskType}`);
    const account = this.profiles && accountLine(task, this.profiles, Date.now());
    if (account) lines.push(account);
    const adapter = this.registry.get(task.provider);
    if (adapter) lines.push(`Can: ${capabilitySummary(adapter.capabilities)}`);
    const limits = providerLimitations(task.provider);
    if (limits.length) lines.push(`Limits: ${limits.join('; ')}`);
    lines.push(`Created: ${new Date(task.timestamps.created).toLocaleString()}`);
    const elapsed = elapsedOf(task, Date.now());
    if (elapsed !== undefined) lines.push(`${isTerminal(task.status) ? 'Ran for' : 'Running for'}: ${formatDuration(elapsed)}`);
    const usage = formatUsage(task);
    if (usage) lines.push(`Usage: ${usage}`);
    if (task.dependsOn.length) lines.push(`Depends on: ${task.dependsOn.join(', ')}`);
    if (task.reviewOf !== undefined) lines.push(`Review of ${this.titleOf(task.reviewOf)} (${task.reviewOf}): ${findingsSummary(task.findings) ?? 'not answered yet'}`);
    if (task.attemptGroup !== undefined) lines.push(`One of ${this.manager.allTasks().filter((other) => other.attemptGroup === task.attemptGroup).length} attempts on this prompt`);
    if (task.error) lines.push(`Error: ${task.error}`);
    for (const line of lines) md.appendText(`${line}\n\n`);
    // Paths come from the agent's work: appended as text, never read as Markdown.
    if (task.worktree) md.appendText(`${worktreeLines(task.worktree).join('\n')}\n\n`);
    if (task.check) {
      const tail = task.check.tail?.trimEnd().split('\n').slice(-5).join('\n');
      md.appendText(`${task.check.state === 'passed' ? '✓' : task.check.state === 'failed' ? '✗' : '•'} ${checkLine(task.check)}\n\n`);
      if (tail && task.check.state !== 'passed') md.appendCodeblock(tail, 'text');
    }
    if (task.findings?.length) md.appendText(`${task.findings.slice(0, 10).map(findingLine).join('\n')}${task.findings.length > 10 ? `\nand ${task.findings.length - 10} more` : ''}\n\n`);
    return md;
  }

  /** The row of one prompt's attempts: how many, the prompt, and where each attempt stands. */
  private attemptsItem(group: string): vscode.TreeItem {
    const row = this.attemptRow(group);
    const tasks = row?.tasks ?? [];
    const item = new vscode.TreeItem(attemptGroupLabel(tasks), vscode.TreeItemCollapsibleState.Expanded);
    item.id = `attempts:${group}`;
    const counts = new Map<string, number>();
    for (const task of tasks) counts.set(STATUS_PRESENTATION[task.status].label.toLowerCase(), (counts.get(STATUS_PRESENTATION[task.status].label.toLowerCase()) ?? 0) + 1);
    const picked = tasks.find((task) => task.worktree?.state === 'merged');
    item.description = picked ? `merged ${this.registry.get(picked.provider)?.displayName ?? picked.provider}` : [...counts].map(([label, count]) => `${count} ${label}`).join(' · ');
    item.iconPath = new vscode.ThemeIcon('versions');
    item.contextValue = ItemToken.attemptGroup;
    item.command = { command: CommandId.compareAttempts, title: 'Compare Attempts', arguments: [group] };
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = false;
    md.appendMarkdown('**');
    md.appendText(attemptGroupLabel(tasks));
    md.appendMarkdown('**\n\n');
    for (const task of tasks) {
      const parts = [STATUS_PRESENTATION[task.status].label, worktreeDetail(task), task.check && checkBadge(task.check)].filter(Boolean);
      md.appendText(`${attemptLabel(task, this.registry.get(task.provider)?.displayName ?? task.provider)} (${task.id}): ${parts.join(' · ')}\n\n`);
    }
    md.appendMarkdown('Click to compare them side by side.');
    item.tooltip = md;
    item.accessibilityInformation = { label: `${attemptGroupLabel(tasks)}, ${item.description}` };
    return item;
  }

  private attemptRow(group: string): Extract<GroupRow, { kind: 'attempts' }> | undefined {
    for (const shown of this.groups) {
      for (const row of shown.rows) if (row.kind === 'attempts' && row.group === group) return row;
    }
    return undefined;
  }

  private titleOf(id: string): string {
    const task = this.manager.peek(id);
    return task ? `“${taskTitle(task)}”` : 'a removed task';
  }

  private attemptsNode(group: string): TaskTreeNode {
    let node = this.attemptNodes.get(group);
    if (!node) this.attemptNodes.set(group, (node = { kind: 'attempts', group }));
    return node;
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

  /** The element VS Code hands back for a task's row (for the test hook: what an inline action receives). */
  nodeOf(id: string): TaskTreeNode | undefined {
    return this.taskNodes.get(id);
  }

  forget(id: string): void {
    this.taskNodes.delete(id);
  }

  dispose(): void {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    if (this.clockTimer !== undefined) clearInterval(this.clockTimer);
    this.changeEmitter.dispose();
  }
}

/**
 * What a screen reader says for a task row: title, state and detail first, the task id last (tests and scripts
 * find a row's task by that trailing "task <id>").
 */
export function taskAriaLabel(task: TaskState, statusLabel: string, detail: string): string {
  return `${taskTitle(task, MAX_AGENT_TITLE)}, ${statusLabel}, ${task.provider}: ${detail}, task ${task.id}`;
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
  const worktree = task.worktree;
  const attempt = task.attemptGroup !== undefined;
  if (attempt) tokens.push(ItemToken.attempt);
  if (isLive(worktree)) {
    tokens.push(ItemToken.liveWorktree);
    const changed = worktree.changes.files.length > 0;
    if (changed) tokens.push(ItemToken.liveChanges);
    if (isTerminal(task.status)) {
      // An attempt is merged with Merge This Attempt, which also discards the others (DESIGN §9).
      if (changed) tokens.push(attempt ? ItemToken.pickable : ItemToken.mergeable);
      tokens.push(ItemToken.discardable, ItemToken.checkable);
      if (changed && task.reviewOf === undefined) tokens.push(ItemToken.reviewable);
      if (worktree.state === 'conflict') tokens.push(ItemToken.conflict);
    }
  }
  if (task.reviewOf !== undefined && (task.findings?.length ?? 0) > 0) tokens.push(ItemToken.hasFindings);
  return tokens.join(' ');
}
