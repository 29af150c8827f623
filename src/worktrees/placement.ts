/**
 * Where a task's worktree goes (DESIGN §8): a sibling folder `<repo>.worktrees/<taskId>`, VS Code's own convention,
 * or — when that parent cannot be written — a folder in the extension's global storage.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GitError } from '../git/git';

/** The branch of a task's worktree. */
export function taskBranch(taskId: string): string {
  return `agent-tasks/${taskId}`;
}

/** The preferred folder of a task's worktree: `<repo>.worktrees/<taskId>` next to the repository. */
export function siblingFolder(repositoryRoot: string, taskId: string): string {
  return `${repositoryRoot}.worktrees${path.sep}${taskId}`;
}

/** The fallback folder: `<fallbackDir>/<repo name>-<hash of its path>/<taskId>`. */
export function fallbackFolder(fallbackDir: string, repositoryRoot: string, taskId: string): string {
  const hash = createHash('sha256').update(repositoryRoot).digest('hex').slice(0, 8);
  return path.join(fallbackDir, `${path.basename(repositoryRoot) || 'repository'}-${hash}`, taskId);
}

/** True when `dir` exists (or can be created) as a folder we may write in. */
function writableFolder(dir: string): boolean {
  try {
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.statSync(dir).isDirectory()) return false;
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function isEmptyFolder(dir: string): boolean {
  try {
    return fs.readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

/**
 * The folder for a new task worktree, its parent created. Rejects with `WorktreeExists` when something is already
 * there, and with a message when neither place can be written.
 */
export function placeWorktree(repositoryRoot: string, taskId: string, fallbackDir: string | undefined): string {
  const candidates = [siblingFolder(repositoryRoot, taskId), ...(fallbackDir ? [fallbackFolder(fallbackDir, repositoryRoot, taskId)] : [])];
  for (const folder of candidates) {
    if (!writableFolder(path.dirname(folder))) continue;
    if (fs.existsSync(folder) && !isEmptyFolder(folder)) {
      throw new GitError('WorktreeExists', `${folder} already exists and is not empty; remove it or choose another task id`);
    }
    return folder;
  }
  const where = candidates.map((folder) => path.dirname(folder)).join(' or ');
  throw new GitError('Unknown', `Cannot create a worktree folder in ${where} (not writable). Set agentTasks.isolation to "none" to run tasks in place.`);
}
