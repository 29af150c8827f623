import * as path from 'node:path';
import * as vscode from 'vscode';
import { contentOfAddPatch, applyUnifiedDiff } from '../core/patch';
import type { TaskManager } from '../core/task-manager';
import type { OutputEntry, TaskState } from '../core/task-state';
import { readAgentFile } from '../providers/agent-files';

export const PROPOSED_SCHEME = 'agent-tasks-proposed';
export const LOG_SCHEME = 'agent-tasks-log';

/**
 * Read-only virtual documents: the content an agent proposes for a file (the right side of the native diff),
 * an empty left side for new files, and a task's full transcript as text.
 */
export class TaskDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changeEmitter.event;
  private readonly registrations: vscode.Disposable[];

  constructor(private readonly manager: TaskManager) {
    this.registrations = [
      vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, this),
      vscode.workspace.registerTextDocumentContentProvider(LOG_SCHEME, this),
      manager.onDidUpdateTask(() => this.closeAnswered()),
    ];
  }

  /**
   * A proposed change that is no longer pending — answered here, in the panel or elsewhere, or withdrawn — closes its
   * diff, so no Approve/Deny is left on a question that is gone.
   */
  private closeAnswered(): void {
    const stale: vscode.Tab[] = [];
    for (const group of vscode.window.tabGroups.all) {
      for (const tab of group.tabs) {
        if (!(tab.input instanceof vscode.TabInputTextDiff)) continue;
        const request = requestOfProposedUri(tab.input.modified);
        if (!request) continue;
        const task = this.manager.peek(request.taskId);
        if (!task?.pendingQuestions.some((question) => question.requestId === request.requestId)) stale.push(tab);
      }
    }
    if (stale.length > 0) void vscode.window.tabGroups.close(stale, true).then(undefined, () => undefined);
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const params = new URLSearchParams(uri.query);
    const taskId = params.get('task') ?? '';
    if (uri.scheme === LOG_SCHEME) {
      // The id comes from a URI anyone can open: only a task this window knows is read.
      if (!this.manager.peek(taskId)) return `(There is no task "${taskId}".)`;
      return renderLog(taskId, await this.manager.fullTranscript(taskId));
    }
    const requestId = params.get('request') ?? '';
    const file = params.get('path') ?? '';
    const side = params.get('side');
    const task = this.manager.peek(taskId);
    const question = task?.pendingQuestions.find((q) => q.requestId === requestId);
    if (!task || !question || question.type !== 'file_approval') return '(This change is no longer pending.)';
    const change = question.fileChanges.find((c) => c.path === file);
    if (!change) return '(This file is not part of the change.)';
    if (side === 'original') return '';
    if (change.kind === 'delete') return '';
    if (change.newContent !== undefined) return change.newContent;
    if (change.kind === 'add') return contentOfAddPatch(change.patch);
    const absolute = path.isAbsolute(change.path) ? change.path : path.join(task.cwd, change.path);
    // The path comes from the agent: read only a regular file of bounded size inside the task's folder or the workspace.
    const read = await readAgentFile(absolute, fileRoots(task));
    if (read.status === 'refused') return `(${change.path} ${read.reason}. Here is the patch as sent.)\n\n${change.patch}`;
    const original = read.status === 'text' ? read.text : '';
    return applyUnifiedDiff(original, change.patch) ?? `(The patch could not be applied to the file on disk; here it is as sent.)\n\n${change.patch}`;
  }

  /** Opens VS Code's diff editor: the file on disk (or empty) ↔ the proposed content. */
  async openDiff(taskId: string, requestId: string, file: string): Promise<void> {
    const task = this.manager.peek(taskId);
    const question = task?.pendingQuestions.find((q) => q.requestId === requestId);
    if (!task || !question || question.type !== 'file_approval') throw new Error(`Task ${taskId} is no longer waiting on this change`);
    const change = question.fileChanges.find((c) => c.path === file);
    if (!change) throw new Error(`${file} is not part of this change`);
    const absolute = path.isAbsolute(change.path) ? change.path : path.join(task.cwd, change.path);
    const query = (side: string): string => new URLSearchParams({ task: taskId, request: requestId, path: change.path, side }).toString();
    const proposed = vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: `/${path.basename(change.path)}`, query: query('proposed') });
    const exists = change.kind !== 'add' && (await readAgentFile(absolute, fileRoots(task))).status === 'text';
    const left = exists ? vscode.Uri.file(absolute) : vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: `/${path.basename(change.path)}`, query: query('original') });
    const label = change.kind === 'add' ? 'new file' : change.kind === 'delete' ? 'deleted' : 'proposed';
    await vscode.commands.executeCommand('vscode.diff', left, proposed, `${path.basename(change.path)} (${label} by ${taskId})`, { preview: true });
  }

  async openLog(taskId: string): Promise<void> {
    if (!this.manager.peek(taskId)) throw new Error(`There is no task "${taskId}"`);
    const uri = vscode.Uri.from({ scheme: LOG_SCHEME, path: `/${taskId}.log`, query: new URLSearchParams({ task: taskId }).toString() });
    this.changeEmitter.fire(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, { preview: false });
  }

  dispose(): void {
    for (const registration of this.registrations) registration.dispose();
    this.changeEmitter.dispose();
  }
}

/** Parses (taskId, requestId) out of a proposed-content URI, for Approve/Deny in the diff editor's title bar. */
export function requestOfProposedUri(uri: vscode.Uri): { taskId: string; requestId: string } | undefined {
  if (uri.scheme !== PROPOSED_SCHEME) return undefined;
  const params = new URLSearchParams(uri.query);
  const taskId = params.get('task');
  const requestId = params.get('request');
  return taskId && requestId ? { taskId, requestId } : undefined;
}

/** Where files an agent names may be read: the task's folder and the workspace folders. */
function fileRoots(task: TaskState): string[] {
  return [task.cwd, ...(vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath)];
}

function renderLog(taskId: string, entries: OutputEntry[]): string {
  const lines = [`Transcript of task ${taskId} (${entries.length} entries)`, ''];
  for (const entry of entries) {
    const time = new Date(entry.at).toISOString();
    const suffix = entry.exitCode !== undefined ? ` (exit ${entry.exitCode})` : '';
    lines.push(`[${time}] ${entry.kind.toUpperCase()}: ${entry.text}${suffix}`);
    if (entry.detail) lines.push(...entry.detail.split('\n').map((line) => `    ${line}`));
  }
  return lines.join('\n');
}
