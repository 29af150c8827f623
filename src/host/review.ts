// DESIGN §8 Review: a task's work in VS Code's own diff editors — every changed file at once in the multi-file diff
// editor (`vscode.changes`), or one file in the diff editor. The left side is the file at the worktree's base commit,
// served by a content provider of ours; the right side is the file in the worktree, or on the task's branch when
// the worktree folder is gone.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isLive } from '../core/task-isolation';
import type { TaskManager } from '../core/task-manager';
import type { TaskState, TaskWorktree, WorktreeFileChange } from '../core/task-state';
import { taskTitle } from '../core/task-title';
import { openWorktreeRepository } from './git-extension';

/** Read-only files of a task's work: `?task=<id>&path=<file>`, at the base commit or on the task's branch. */
export const BASE_SCHEME = 'agent-tasks-base';
export const BRANCH_SCHEME = 'agent-tasks-branch';
const EMPTY = 'empty';

/** One row of the multi-file diff editor: the file, its left (base) and right (the task's version) side; an added file has no left side, a deleted one no right side (VS Code then marks them A and D). */
export interface ReviewEntry {
  resource: vscode.Uri;
  original: vscode.Uri | undefined;
  modified: vscode.Uri | undefined;
}

export class TaskReview implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly registrations: vscode.Disposable[];

  constructor(private readonly manager: TaskManager) {
    this.registrations = [
      vscode.workspace.registerTextDocumentContentProvider(BASE_SCHEME, this),
      vscode.workspace.registerTextDocumentContentProvider(BRANCH_SCHEME, this),
    ];
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    // One side of a single-file diff of an added or deleted file.
    if (uri.fragment === EMPTY) return '';
    const params = new URLSearchParams(uri.query);
    const taskId = params.get('task') ?? '';
    const file = params.get('path') ?? '';
    const task = this.manager.peek(taskId);
    // The URI can come from anywhere: only a file this task changed (or its name before a rename) is read.
    if (!task?.worktree || !task.worktree.changes.files.some((change) => change.path === file || change.oldPath === file)) {
      return `(${file} is not among the changes of task ${taskId}.)`;
    }
    const content = await this.manager.worktrees.show(taskId, uri.scheme === BASE_SCHEME ? 'base' : 'branch', file);
    return content ?? '';
  }

  /** The rows of the multi-file diff editor for a task: every changed file, added, deleted and renamed ones included. */
  entries(task: TaskState): ReviewEntry[] {
    const worktree = task.worktree;
    if (!worktree) return [];
    return worktree.changes.files.map((change) => this.entry(task.id, worktree, change));
  }

  private entry(taskId: string, worktree: TaskWorktree, change: WorktreeFileChange): ReviewEntry {
    const resource = vscode.Uri.file(path.join(worktree.path, change.path));
    const original = change.status === 'added' ? undefined : fileUri(BASE_SCHEME, taskId, worktree, change.oldPath ?? change.path);
    const modified = change.status === 'deleted' ? undefined : this.rightSide(taskId, worktree, change.path);
    return { resource, original, modified };
  }

  /** The right side of a file in the task's review diff (where findings are shown as comments), when its worktree is live. */
  modifiedUri(task: TaskState, file: string): vscode.Uri | undefined {
    return isLive(task.worktree) ? this.rightSide(task.id, task.worktree, file) : undefined;
  }

  /** The task's version of a file: in its worktree while the folder exists (editable, live), else from its branch. */
  private rightSide(taskId: string, worktree: TaskWorktree, file: string): vscode.Uri {
    return isLive(worktree) && fs.existsSync(worktree.path) ? vscode.Uri.file(path.join(worktree.path, file)) : fileUri(BRANCH_SCHEME, taskId, worktree, file);
  }

  /** Opens VS Code's multi-file diff editor with every file the task changed. */
  async reviewChanges(taskId: string): Promise<void> {
    const task = this.taskWithWorktree(taskId);
    await this.manager.worktrees.settled(taskId);
    const current = this.manager.peek(taskId) ?? task;
    const entries = this.entries(current);
    if (entries.length === 0) {
      void vscode.window.showInformationMessage(`${taskTitle(current)} (${taskId}) has changed no files yet.`);
      return;
    }
    await showWorktreeInSourceControl(current.worktree);
    await vscode.commands.executeCommand('vscode.changes', reviewTitle(current), entries.map((entry) => [entry.resource, entry.original, entry.modified]));
  }

  /** Opens one changed file in the diff editor: base ↔ the task's version. */
  async openFileDiff(taskId: string, file: string): Promise<void> {
    const task = this.taskWithWorktree(taskId);
    const worktree = task.worktree as TaskWorktree;
    const change = worktree.changes.files.find((candidate) => candidate.path === file);
    if (!change) throw new Error(`${file} is not among the changes of task ${taskId}`);
    const entry = this.entry(taskId, worktree, change);
    // The diff editor needs two sides: an added or deleted file is compared with an empty one.
    const original = entry.original ?? fileUri(BASE_SCHEME, taskId, worktree, change.path, true);
    const modified = entry.modified ?? fileUri(BRANCH_SCHEME, taskId, worktree, change.path, true);
    await showWorktreeInSourceControl(worktree);
    const label = change.status === 'added' ? 'added' : change.status === 'deleted' ? 'deleted' : change.status === 'renamed' ? `renamed from ${change.oldPath ?? '?'}` : 'modified';
    await vscode.commands.executeCommand('vscode.diff', original, modified, `${path.basename(change.path)} (${label} by ${taskId})`, { preview: true });
  }

  private taskWithWorktree(taskId: string): TaskState {
    const task = this.manager.peek(taskId);
    if (!task) throw new Error(`There is no task "${taskId}"`);
    if (!task.worktree) throw new Error(`Task ${taskId} did not run in a worktree, so there are no changes to review`);
    if (task.worktree.state === 'discarded') throw new Error(`The changes of task ${taskId} were discarded`);
    return task;
  }

  dispose(): void {
    for (const registration of this.registrations) registration.dispose();
  }
}

/** The multi-file diff editor's title (its tab label; VS Code adds the file count). */
export function reviewTitle(task: TaskState): string {
  return `Changes of ${taskTitle(task)}`;
}

/**
 * A file of a task's work on our schemes. Its path is the file's path in the worktree (so the editors name it like the
 * worktree's file and do not take the two sides for a rename); the query says which task and file. `empty`: the empty
 * side of an added or deleted file in the single-file diff.
 */
function fileUri(scheme: string, taskId: string, worktree: TaskWorktree, file: string, empty = false): vscode.Uri {
  return vscode.Uri.from({
    scheme,
    path: vscode.Uri.file(path.join(worktree.path, file)).path,
    query: new URLSearchParams({ task: taskId, path: file }).toString(),
    fragment: empty ? EMPTY : '',
  });
}

/** The worktree in Source Control before its files open (see openWorktreeRepository); never in the way of the diff. */
async function showWorktreeInSourceControl(worktree: TaskWorktree | undefined): Promise<void> {
  if (!isLive(worktree) || !fs.existsSync(worktree.path)) return;
  await openWorktreeRepository(worktree.path).then(undefined, () => undefined);
}
