// Keeps the editor in step with task worktrees (DESIGN §8): a file watcher per live worktree recomputes its change
// summary when files change, and a merge or apply into the main checkout refreshes VS Code's Source Control view.
import * as vscode from 'vscode';
import { messageOf } from '../core/errors';
import type { Logger } from '../core/events';
import { isLive } from '../core/task-isolation';
import type { TaskManager } from '../core/task-manager';
import type { TaskState, WorktreeState } from '../core/task-state';
import { closeWorktreeRepository, refreshRepository } from './git-extension';

export class WorktreeWatchers implements vscode.Disposable {
  /** One watcher per task with a live worktree, keyed by task id; the folder it watches. */
  private readonly watchers = new Map<string, { folder: string; watcher: vscode.FileSystemWatcher }>();
  /** The worktree state each task had when last seen, to notice a merge or apply. */
  private readonly states = new Map<string, WorktreeState>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly manager: TaskManager,
    private readonly log: Logger,
  ) {
    this.subscriptions.push(
      toVscode(manager.onDidUpdateTask((task) => this.taskChanged(task))),
      toVscode(manager.onDidRemoveTask((id) => this.forget(id))),
    );
    for (const task of manager.allTasks()) this.taskChanged(task);
  }

  /** The tasks being watched (for tests): task id → worktree folder. */
  watched(): Record<string, string> {
    return Object.fromEntries([...this.watchers].map(([id, { folder }]) => [id, folder]));
  }

  private taskChanged(task: TaskState): void {
    const worktree = task.worktree;
    const before = this.states.get(task.id);
    if (worktree) this.states.set(task.id, worktree.state);
    else this.states.delete(task.id);
    if (worktree && before !== worktree.state && (worktree.state === 'merged' || worktree.state === 'applied')) {
      void this.refreshSourceControl(worktree.repository);
    }
    const current = this.watchers.get(task.id);
    if (!isLive(worktree)) {
      if (current) {
        this.unwatch(task.id);
        void this.closeInSourceControl(current.folder);
      }
      return;
    }
    if (current?.folder === worktree.path) return;
    if (current) this.unwatch(task.id);
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(worktree.path), '**/*'));
    const refresh = (): void => {
      try {
        this.manager.worktrees.refresh(task.id);
      } catch (error) {
        this.log.debug(`Task ${task.id}: refreshing its change summary failed: ${messageOf(error)}`);
      }
    };
    watcher.onDidCreate(refresh);
    watcher.onDidChange(refresh);
    watcher.onDidDelete(refresh);
    this.watchers.set(task.id, { folder: worktree.path, watcher });
  }

  /** Asks the built-in Git extension to re-read the repository a merge or apply just changed, when it is there. */
  private async refreshSourceControl(repositoryRoot: string): Promise<void> {
    try {
      await refreshRepository(repositoryRoot);
    } catch (error) {
      this.log.debug(`Refreshing Source Control for ${repositoryRoot} failed: ${messageOf(error)}`);
    }
  }

  /** A worktree that stopped being live leaves Source Control (Review Changes may have opened it there). */
  private async closeInSourceControl(folder: string): Promise<void> {
    try {
      await closeWorktreeRepository(folder);
    } catch (error) {
      this.log.debug(`Closing ${folder} in Source Control failed: ${messageOf(error)}`);
    }
  }

  private unwatch(id: string): void {
    this.watchers.get(id)?.watcher.dispose();
    this.watchers.delete(id);
  }

  private forget(id: string): void {
    this.unwatch(id);
    this.states.delete(id);
  }

  dispose(): void {
    for (const id of [...this.watchers.keys()]) this.unwatch(id);
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}

function toVscode(disposable: { dispose(): void }): vscode.Disposable {
  return new vscode.Disposable(() => disposable.dispose());
}
