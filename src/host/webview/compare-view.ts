// DESIGN §9 Compare Attempts: the attempts of one prompt side by side in a webview — agent, status, duration, tokens,
// files, ±, check and findings — with Review and Merge This Attempt on each. One panel per group, kept current.
import * as vscode from 'vscode';
import { panelOptions, showPanel, webviewHtml } from './page';
import { CommandId, WebviewType } from '../../constants';
import type { Logger } from '../../core/events';
import { isLive } from '../../core/task-isolation';
import type { TaskManager } from '../../core/task-manager';
import type { ProviderRegistry } from '../../core/provider-registry';
import { isTerminal, type TaskState } from '../../core/task-state';
import { TAB_TITLE_LENGTH } from '../../core/task-title';
import { attemptLabel, attemptsTitle, checkLine, findingsSummary } from '../opinion-presentation';
import { elapsedOf, formatDuration, formatUsage, statusLabel } from '../presentation';
import { parseCompareMessage, type AttemptView, type AttemptsView, type CompareAction, type CompareHostMessage } from './compare-protocol';

export interface CompareDependencies {
  extensionUri: vscode.Uri;
  manager: TaskManager;
  registry: ProviderRegistry;
  log: Logger;
}

/** The command each action of a column runs (with the attempt's id). */
const ACTION_COMMANDS: Record<CompareAction, CommandId> = {
  open: CommandId.openTask,
  reviewChanges: CommandId.reviewChanges,
  review: CommandId.reviewWithAgent,
  runCheck: CommandId.runCheck,
  pick: CommandId.pickAttempt,
};

const MAX_FILES = 50;

export class CompareViews implements vscode.Disposable {
  private readonly panels = new Map<string, ComparePanel>();
  private readonly subscription: vscode.Disposable;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly deps: CompareDependencies) {
    // A member, or a review of one, changed: every open view redraws (coalesced; there are few).
    const changed = deps.manager.onDidUpdateTask(() => {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        for (const panel of this.panels.values()) panel.update();
      }, 100);
    });
    this.subscription = new vscode.Disposable(() => changed.dispose());
  }

  open(group: string): void {
    if (this.deps.manager.secondOpinions.attempts(group).length === 0) throw new Error(`There are no attempts "${group}"`);
    const existing = this.panels.get(group);
    if (existing) existing.reveal();
    else this.panels.set(group, new ComparePanel(group, this.deps, () => this.panels.delete(group)));
  }

  /** What an open view shows (for tests); undefined when none is open for the group. */
  viewOf(group: string): AttemptsView | undefined {
    return this.panels.has(group) ? attemptsView(group, this.deps) : undefined;
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const panel of [...this.panels.values()]) panel.dispose();
    this.subscription.dispose();
  }
}

class ComparePanel {
  private readonly panel: vscode.WebviewPanel;
  private ready = false;
  private disposed = false;

  constructor(private readonly group: string, private readonly deps: CompareDependencies, private readonly onDispose: () => void) {
    const first = deps.manager.secondOpinions.attempts(group)[0];
    this.panel = vscode.window.createWebviewPanel(
      WebviewType.compareAttempts,
      `Compare: ${first ? attemptsTitle(deps.manager.secondOpinions.attempts(group), TAB_TITLE_LENGTH) : group}`,
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      panelOptions(deps.extensionUri),
    );
    showPanel(this.panel, deps.extensionUri, this.html(), {
      receive: (raw) => void this.receive(raw),
      hidden: () => (this.ready = false),
      disposed: () => this.dispose(),
    });
  }

  reveal(): void {
    this.panel.reveal(undefined, false);
  }

  update(): void {
    if (this.ready) this.post({ type: 'attempts', view: attemptsView(this.group, this.deps) });
  }

  private async receive(raw: unknown): Promise<void> {
    const message = parseCompareMessage(raw);
    if (!message) {
      this.deps.log.warn(`Ignored a malformed message from the compare view of ${this.group}`);
      return;
    }
    if (message.type === 'ready') {
      this.ready = true;
      this.update();
      return;
    }
    // Only the group's own attempts: the id comes from the webview.
    if (!this.deps.manager.secondOpinions.attempts(this.group).some((task) => task.id === message.taskId)) {
      this.post({ type: 'notice', level: 'error', text: `Task ${message.taskId} is not one of these attempts` });
      return;
    }
    try {
      await vscode.commands.executeCommand(ACTION_COMMANDS[message.action], message.taskId);
    } catch (error) {
      this.post({ type: 'notice', level: 'error', text: error instanceof Error ? error.message : String(error) });
    }
  }

  private post(message: CompareHostMessage): void {
    if (!this.disposed) void this.panel.webview.postMessage(message);
  }

  private html(): string {
    return webviewHtml(this.panel.webview, this.deps.extensionUri, {
      title: 'Compare Attempts',
      styles: [['media', 'compare.css']],
      body: `<div id="app">
  <header id="header"></header>
  <main id="attempts" aria-label="Attempts side by side"></main>
</div>`,
      script: ['dist', 'compare.js'],
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.onDispose();
    this.panel.dispose();
  }
}

/** The compare view of a group: each attempt with what tells them apart, and the actions its state allows. */
export function attemptsView(group: string, deps: Pick<CompareDependencies, 'manager' | 'registry'>): AttemptsView {
  const attempts = deps.manager.secondOpinions.attempts(group);
  const now = Date.now();
  const reviews = deps.manager.allTasks().filter((task) => task.reviewOf !== undefined);
  const agentName = (task: Pick<TaskState, 'provider'>): string => deps.registry.get(task.provider)?.displayName ?? task.provider;
  const views = attempts.map((task): AttemptView => {
    const worktree = task.worktree;
    const changes = worktree?.changes ?? { files: [], insertions: 0, deletions: 0 };
    const live = isLive(worktree);
    const changed = live && changes.files.length > 0;
    const finished = isTerminal(task.status);
    const review = reviews.filter((candidate) => candidate.reviewOf === task.id).sort((a, b) => b.timestamps.created - a.timestamps.created)[0];
    const elapsed = elapsedOf(task, now);
    const actions: CompareAction[] = ['open'];
    if (changed) actions.push('reviewChanges');
    if (finished && changed) actions.push('review');
    if (finished && live) actions.push('runCheck');
    if (finished && changed) actions.push('pick');
    return {
      id: task.id,
      agent: attemptLabel(task, agentName(task)),
      status: task.status,
      statusLabel: statusLabel(task, now),
      duration: elapsed !== undefined ? formatDuration(elapsed) : undefined,
      tokens: formatUsage(task),
      worktreeState: worktree?.state,
      files: changes.files.slice(0, MAX_FILES).map((file) => ({ path: file.path, status: file.status, insertions: file.insertions, deletions: file.deletions })),
      fileCount: changes.files.length,
      insertions: changes.insertions,
      deletions: changes.deletions,
      check: task.check && { ...task.check, line: checkLine(task.check) },
      review: review && {
        id: review.id,
        reviewer: agentName(review),
        findings: review.findings,
        summary: findingsSummary(review.findings) ?? `${statusLabel(review, now).toLowerCase()}…`,
      },
      error: task.error,
      actions,
    };
  });
  const first = attempts[0];
  return {
    group,
    title: first ? attemptsTitle(attempts, 120) : group,
    prompt: first?.prompt ?? '',
    attempts: views,
    picked: attempts.find((task) => task.worktree?.state === 'merged')?.id,
  };
}
