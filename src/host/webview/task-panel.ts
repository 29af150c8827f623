import * as vscode from 'vscode';
import { escapeHtml, panelOptions, showPanel, webviewHtml } from './page';
import { CommandId, WebviewType } from '../../constants';
import type { TaskManager } from '../../core/task-manager';
import { isTerminal, type OutputEntry, type TaskState } from '../../core/task-state';
import { MAX_AGENT_TITLE, TAB_TITLE_LENGTH, taskTitle } from '../../core/task-title';
import type { Logger } from '../../core/events';
import type { ProviderRegistry } from '../../core/provider-registry';
import type { AnswerGate } from '../answering';
import { elapsedOf, formatUsage, statusLabel } from '../presentation';
import { questionHash } from '../question-hash';
import { isLive } from '../../core/task-isolation';
import { MAX_PANEL_FILES, parseWebviewMessage, type HostMessage, type OpinionAction, type TaskView, type WebviewMessage, type WorktreeAction, type WorktreeView } from './protocol';
import { opinionsView } from './opinions-view';

const ENTRY_BATCH_MS = 80;

export interface PanelDependencies {
  extensionUri: vscode.Uri;
  manager: TaskManager;
  registry: ProviderRegistry;
  answers: AnswerGate;
  log: Logger;
  openDiff(taskId: string, requestId: string, path: string): Promise<void>;
  /** One changed file of the task's worktree in the diff editor. */
  openChange(taskId: string, path: string): Promise<void>;
  /** A review task's finding: its file at its line. */
  openFinding(reviewId: string, findingId: string): Promise<void>;
}

/** The command each worktree action of the panel runs (with the task's id). */
const WORKTREE_COMMANDS: Record<WorktreeAction, CommandId> = {
  review: CommandId.reviewChanges,
  merge: CommandId.mergeChanges,
  apply: CommandId.applyChanges,
  discard: CommandId.discardChanges,
  resolve: CommandId.resolveWithAgent,
  openWorktree: CommandId.openWorktree,
};

/** The command each second-opinion action of the panel runs (with the task's id); cancelCheck is handled here. */
const OPINION_COMMANDS: Record<Exclude<OpinionAction, 'cancelCheck'>, CommandId> = {
  runCheck: CommandId.runCheck,
  reviewWithAgent: CommandId.reviewWithAgent,
  sendFindings: CommandId.sendFindings,
  compareAttempts: CommandId.compareAttempts,
};

/** One webview panel per task, reused when opened again. */
export class TaskPanels implements vscode.Disposable {
  private readonly panels = new Map<string, TaskPanel>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly deps: PanelDependencies) {
    this.subscriptions.push(
      deps.manager.onDidUpdateTask((task) => this.panels.get(task.id)?.taskChanged()),
      deps.manager.onDidAppendOutput(({ taskId, entry }) => this.panels.get(taskId)?.entryAdded(entry)),
      deps.manager.onDidRemoveTask((id) => this.panels.get(id)?.dispose()),
    );
  }

  open(taskId: string, preserveFocus = false): void {
    const existing = this.panels.get(taskId);
    if (existing) {
      existing.reveal(preserveFocus);
      return;
    }
    const panel = new TaskPanel(taskId, this.deps, preserveFocus, () => this.panels.delete(taskId));
    this.panels.set(taskId, panel);
  }

  /**
   * A panel VS Code kept across a reload (its webview saved the task's id in its state): shown again for that task,
   * or closed when the task is gone (cleared meanwhile, or the state is not ours).
   */
  restore(panel: vscode.WebviewPanel, state: unknown): void {
    const taskId = typeof state === 'object' && state !== null ? (state as { taskId?: unknown }).taskId : undefined;
    if (typeof taskId !== 'string' || !this.deps.manager.peek(taskId) || this.panels.has(taskId)) {
      panel.dispose();
      return;
    }
    this.panels.set(taskId, new TaskPanel(taskId, this.deps, true, () => this.panels.delete(taskId), panel));
  }

  isOpen(taskId: string): boolean {
    return this.panels.has(taskId);
  }

  dispose(): void {
    for (const panel of [...this.panels.values()]) panel.dispose();
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}

class TaskPanel {
  private readonly panel: vscode.WebviewPanel;
  private ready = false;
  private pendingEntries: OutputEntry[] = [];
  private entryTimer: ReturnType<typeof setTimeout> | undefined;
  private taskTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;

  constructor(
    private readonly taskId: string,
    private readonly deps: PanelDependencies,
    preserveFocus: boolean,
    private readonly onDispose: () => void,
    restored?: vscode.WebviewPanel,
  ) {
    const task = deps.manager.peek(taskId);
    const title = task ? taskTitle(task, TAB_TITLE_LENGTH) : `Task ${taskId}`;
    if (restored) {
      this.panel = restored;
      this.panel.title = title;
      this.panel.webview.options = panelOptions(deps.extensionUri);
    } else {
      this.panel = vscode.window.createWebviewPanel(WebviewType.taskPanel, title, { viewColumn: vscode.ViewColumn.Active, preserveFocus }, panelOptions(deps.extensionUri));
    }
    showPanel(this.panel, deps.extensionUri, this.html(), {
      receive: (raw) => void this.receive(raw),
      hidden: () => (this.ready = false),
      disposed: () => this.dispose(),
    });
  }

  reveal(preserveFocus: boolean): void {
    this.panel.reveal(undefined, preserveFocus);
  }

  taskChanged(): void {
    const current = this.deps.manager.peek(this.taskId);
    // The agent may name its session while the task runs: the tab follows.
    if (current && !this.disposed) {
      const tabTitle = taskTitle(current, TAB_TITLE_LENGTH);
      if (this.panel.title !== tabTitle) this.panel.title = tabTitle;
    }
    if (!this.ready || this.taskTimer !== undefined) return;
    this.taskTimer = setTimeout(() => {
      this.taskTimer = undefined;
      const task = this.deps.manager.peek(this.taskId);
      if (task) this.post({ type: 'task', task: this.view(task) });
    }, 30);
  }

  entryAdded(entry: OutputEntry): void {
    if (!this.ready) return;
    this.pendingEntries.push(entry);
    this.entryTimer ??= setTimeout(() => {
      this.entryTimer = undefined;
      const entries = this.pendingEntries;
      this.pendingEntries = [];
      // Streaming entries are updated in place: send only the last version of each.
      this.post({ type: 'entries', entries: dedupeById(entries) });
    }, ENTRY_BATCH_MS);
  }

  private async receive(raw: unknown): Promise<void> {
    const message = parseWebviewMessage(raw);
    if (!message) {
      this.deps.log.warn(`Ignored a malformed message from the task panel of ${this.taskId}`);
      return;
    }
    try {
      await this.handle(message);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (message.type === 'answer') this.post({ type: 'answerResult', requestId: message.requestId, ok: false, error: text });
      else this.post({ type: 'notice', level: 'error', text });
    }
  }

  private async handle(message: WebviewMessage): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.sendInit();
        return;
      case 'answer':
        await this.deps.answers.answer(this.taskId, message.requestId, message.answer, message.payloadHash);
        this.post({ type: 'answerResult', requestId: message.requestId, ok: true });
        return;
      case 'cancel':
        await vscode.commands.executeCommand(CommandId.cancelTask, this.taskId);
        return;
      case 'retry':
        await vscode.commands.executeCommand(CommandId.retryTask, this.taskId);
        return;
      case 'followUp': {
        const task = await this.deps.manager.sendFollowUp(this.taskId, message.text);
        this.post({ type: 'notice', level: 'info', text: `Follow-up started as task ${task.id}` });
        await vscode.commands.executeCommand(CommandId.openTask, task.id);
        return;
      }
      case 'openDiff':
        await this.deps.openDiff(this.taskId, message.requestId, message.path);
        return;
      case 'showLog':
        await vscode.commands.executeCommand(CommandId.showLog, this.taskId);
        return;
      case 'openChange':
        await this.deps.openChange(this.taskId, message.path);
        return;
      case 'worktree':
        await vscode.commands.executeCommand(WORKTREE_COMMANDS[message.action], this.taskId);
        return;
      case 'opinion':
        if (message.action === 'cancelCheck') this.deps.manager.worktrees.jobs.cancelCheck(this.taskId);
        else await vscode.commands.executeCommand(OPINION_COMMANDS[message.action], this.taskId);
        return;
      case 'openFinding':
        await this.deps.openFinding(this.taskId, message.findingId);
        return;
      default: {
        const never: never = message;
        throw new Error(`Unhandled message ${JSON.stringify(never)}`);
      }
    }
  }

  private sendInit(): void {
    const task = this.deps.manager.peekWithOutput(this.taskId);
    if (!task) return;
    this.ready = true;
    this.pendingEntries = [];
    this.post({ type: 'init', task: this.view(task), entries: task.output.slice(-500), truncated: task.output.length > 500 || task.output.length === 500 });
  }

  private view(task: TaskState): TaskView {
    const adapter = this.deps.registry.get(task.provider);
    return {
      id: task.id,
      title: taskTitle(task, MAX_AGENT_TITLE),
      status: task.status,
      statusLabel: statusLabel(task, Date.now()),
      provider: task.provider,
      providerName: adapter?.displayName ?? task.provider,
      profile: task.profile,
      taskType: task.taskType,
      prompt: task.prompt,
      model: task.model,
      startedAt: task.timestamps.started,
      endedAt: isTerminal(task.status) && task.timestamps.started !== undefined ? task.timestamps.started + (elapsedOf(task, Date.now()) ?? 0) : undefined,
      usage: formatUsage(task),
      error: task.error,
      result: task.result,
      terminal: isTerminal(task.status),
      canFollowUp: isTerminal(task.status) && !!task.sessionId && !!adapter?.capabilities.followUps,
      canCancel: !isTerminal(task.status),
      recovered: task.recovered,
      dependsOn: task.dependsOn,
      questions: task.pendingQuestions.map((question) => ({ question, payloadHash: questionHash(task.id, question) })),
      worktree: worktreeView(task),
      ...opinionsView(task, (id) => this.deps.manager.peek(id), this.deps.manager.allTasks()),
    };
  }

  private post(message: HostMessage): void {
    if (!this.disposed) void this.panel.webview.postMessage(message);
  }

  private html(): string {
    return webviewHtml(this.panel.webview, this.deps.extensionUri, {
      title: `Task ${escapeHtml(this.taskId)}`,
      body: `<div id="app" data-task-id="${escapeHtml(this.taskId)}">
  <header id="header" aria-label="Task status"></header>
  <section id="questions" aria-label="Questions waiting for you" aria-live="assertive"></section>
  <section id="changes" aria-label="Changed files" hidden></section>
  <section id="opinions" aria-label="Check and review" hidden></section>
  <main id="transcript" role="log" aria-label="Transcript" aria-live="polite"></main>
  <footer id="footer"></footer>
</div>`,
      script: ['dist', 'webview.js'],
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.entryTimer !== undefined) clearTimeout(this.entryTimer);
    if (this.taskTimer !== undefined) clearTimeout(this.taskTimer);
    this.onDispose();
    this.panel.dispose();
  }
}

/** The panel's view of a task's worktree, with the actions its state allows (the tree's menus follow the same rules). */
function worktreeView(task: TaskState): WorktreeView | undefined {
  const worktree = task.worktree;
  if (!worktree) return undefined;
  const actions: WorktreeAction[] = [];
  const changed = worktree.changes.files.length > 0;
  if (isLive(worktree)) {
    if (changed) actions.push('review');
    if (isTerminal(task.status)) {
      if (worktree.state === 'conflict') actions.push('resolve');
      if (changed) actions.push('merge', 'apply');
      actions.push('discard');
    }
    actions.push('openWorktree');
  }
  return {
    state: worktree.state,
    branch: worktree.branch,
    path: worktree.path,
    files: worktree.changes.files.slice(0, MAX_PANEL_FILES),
    fileCount: worktree.changes.files.length,
    insertions: worktree.changes.insertions,
    deletions: worktree.changes.deletions,
    conflicts: worktree.conflicts,
    actions,
  };
}

function dedupeById(entries: OutputEntry[]): OutputEntry[] {
  const lastIndex = new Map<string, number>();
  entries.forEach((entry, index) => {
    if (entry.id !== undefined) lastIndex.set(entry.id, index);
  });
  return entries.filter((entry, index) => entry.id === undefined || lastIndex.get(entry.id) === index);
}

