/**
 * DESIGN §9 `agentTasks.worktree.copy`: a fresh worktree has none of the main checkout's untracked files (`.env`,
 * `node_modules`, build output); the ones matching the user's globs are copied in before setup, never overwriting.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { GitError } from '../git/git';
import type { Repository } from '../git/repository';

/** Files copied at once. */
const PARALLEL_COPIES = 16;

/**
 * Copies the untracked files of `main` (ignored ones included) that match `globs` to the same paths under `target`.
 * A file that already exists there is kept. Returns the paths copied, relative to the top level, in path order.
 */
export async function copyUntrackedFiles(main: Repository, target: string, globs: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const matches = picomatch([...globs], { dot: true });
  const files = new Set<string>();
  const untracked = await main.git(['ls-files', '-z', '--others', '--exclude-standard'], 'read', { signal });
  for (const file of untracked.stdout.split('\0')) if (file && matches(file)) files.add(file);
  // Ignored files, with wholly ignored folders collapsed (`node_modules/`): a folder is walked only when a glob can
  // match inside it, so an unrelated ignored tree costs nothing.
  const ignored = await main.git(['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory'], 'read', { signal });
  for (const entry of ignored.stdout.split('\0')) {
    if (!entry) continue;
    if (!entry.endsWith('/')) {
      if (matches(entry)) files.add(entry);
      continue;
    }
    const folder = entry.slice(0, -1);
    if (!globs.some((glob) => mayMatchInside(glob, folder, matches))) continue;
    const whole = matches(folder);
    for (const file of walk(main.root, folder)) if (whole || matches(file)) files.add(file);
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

/** Could `glob` match `folder` itself or a path inside it? */
function mayMatchInside(glob: string, folder: string, matches: (file: string) => boolean): boolean {
  if (matches(folder)) return true;
  const { base, isGlob } = picomatch.scan(glob);
  if (!isGlob) return glob === folder || glob.startsWith(`${folder}/`);
  // `**/x` (no base) may match anywhere; `a/b/*` only under a/b.
  return base === '' || base === folder || base.startsWith(`${folder}/`) || folder.startsWith(`${base}/`);
}

/** Files (and symlinks) under `folder`, relative to `root`; symlinked folders are not followed. */
function* walk(root: string, folder: string): Generator<string> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(path.join(root, folder), { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const relative = `${folder}/${entry.name}`;
    if (entry.isDirectory()) yield* walk(root, relative);
    else if (entry.isFile() || entry.isSymbolicLink()) yield relative;
  }
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
