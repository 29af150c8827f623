/**
 * DESIGN §9 `agentTasks.worktree.copy`: a fresh worktree has none of the main checkout's untracked files (`.env`,
 * `node_modules`, build output); the ones matching the user's globs are copied in before setup, never overwriting.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GitError } from '../git/git';
import type { Repository } from '../git/repository';

/** Files copied at once. */
const PARALLEL_COPIES = 16;

/**
 * Copies the untracked files of `main` (ignored ones included) that match `globs` to the same paths under `target`.
 * A file that already exists there is kept. Returns the paths copied, relative to the top level, in path order.
 * Git matches the globs itself (`:(glob)` pathspecs: `*` stays within a folder, `**` crosses folders, a glob naming a
 * folder takes everything in it), so no file of an unrelated ignored tree is read.
 */
export async function copyUntrackedFiles(main: Repository, target: string, globs: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const pathspecs = globs.map((glob) => `:(top,glob)${glob.replace(/^\.\//, '')}`);
  const files = new Set<string>();
  for (const extra of [[], ['--ignored']]) {
    const listed = await main.git(['ls-files', '-z', '--others', ...extra, '--exclude-standard', '--', ...pathspecs], 'read', { signal });
    for (const file of listed.stdout.split('\0')) if (file) files.add(file);
  }
  const copied: string[] = [];
  const queue = [...files].sort();
  const worker = async (): Promise<void> => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      if (signal?.aborted) throw new GitError('Aborted', 'Copying files into the worktree was cancelled');
      if (await copyOne(path.join(main.root, file), path.join(target, file))) copied.push(file);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_COPIES, queue.length) }, worker));
  return copied.sort();
}

/** Copies one file or symlink unless `to` exists; true when it was copied. */
async function copyOne(from: string, to: string): Promise<boolean> {
  const stat = await fs.promises.lstat(from).catch(() => undefined);
  if (!stat || (!stat.isFile() && !stat.isSymbolicLink())) return false;
  if (await fs.promises.lstat(to).then(() => true, () => false)) return false;
  await fs.promises.mkdir(path.dirname(to), { recursive: true });
  try {
    if (stat.isSymbolicLink()) await fs.promises.symlink(await fs.promises.readlink(from), to);
    else await fs.promises.copyFile(from, to, fs.constants.COPYFILE_EXCL);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}
