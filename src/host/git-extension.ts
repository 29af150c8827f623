// The built-in Git extension (`vscode.git`), when present and enabled: Source Control follows what tasks do to their
// repositories. Everything here is a courtesy — without the extension the editor just does not show it.
import * as vscode from 'vscode';

/** The part of the Git extension's API (getAPI(1)) used here. */
interface GitRepository {
  readonly rootUri: vscode.Uri;
  status(): Thenable<void>;
}
interface GitApi {
  readonly repositories: readonly GitRepository[];
  openRepository(root: vscode.Uri): Thenable<GitRepository | null>;
}
interface GitExtension {
  readonly enabled?: boolean;
  getAPI(version: 1): GitApi;
}

async function gitApi(): Promise<GitApi | undefined> {
  const extension = vscode.extensions.getExtension<GitExtension>('vscode.git');
  if (!extension) return undefined;
  const git = extension.isActive ? extension.exports : await extension.activate();
  return git && git.enabled !== false ? git.getAPI(1) : undefined;
}

function openAt(api: GitApi, folder: string): GitRepository[] {
  const root = vscode.Uri.file(folder).toString();
  return api.repositories.filter((repository) => repository.rootUri.toString() === root);
}

/** Re-reads a repository the extension changed (a merge or apply into the main checkout), when Source Control has it. */
export async function refreshRepository(folder: string): Promise<void> {
  const api = await gitApi();
  if (api) await Promise.all(openAt(api, folder).map((repository) => repository.status()));
}

/**
 * Opens a task's worktree in Source Control before its files are shown. A worktree lies outside the workspace folder,
 * so otherwise the Git extension, seeing one of its files open, asks whether to open "repositories in parent folders".
 */
export async function openWorktreeRepository(folder: string): Promise<void> {
  const api = await gitApi();
  if (api && openAt(api, folder).length === 0) await api.openRepository(vscode.Uri.file(folder));
}

/** Closes a worktree's repository in Source Control once the task's worktree is merged, applied or discarded. */
export async function closeWorktreeRepository(folder: string): Promise<void> {
  const api = await gitApi();
  if (api && openAt(api, folder).length > 0) await vscode.commands.executeCommand('git.close', vscode.Uri.file(folder));
}
