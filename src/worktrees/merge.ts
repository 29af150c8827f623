/**
 * Merge and apply with DESIGN §8's safety rules. The merge is computed in memory first (`git merge-tree`), so a
 * conflict is found without touching the main checkout; main is written by one all-or-nothing git command — a
 * fast-forward to the merge commit, or `git apply --index` of the merged result — that checks every file before it
 * writes any, and that refuses to overwrite the user's uncommitted work.
 */
import { GitError } from '../git/git';
import type { Repository } from '../git/repository';
import type { MergeHow, MergeResult, WorktreeRef } from './port';

/**
 * Files with uncommitted work that the merge would write, in path order: the same path, or a folder/file clash (the
 * merge puts a file where a dirty file's folder is, or a folder where a dirty file is).
 */
export function dirtyFilesWritten(dirty: readonly string[], written: readonly string[]): string[] {
  const writtenFiles = new Set(written);
  const writtenFolders = new Set(written.flatMap(parentsOf));
  return dirty.filter((file) => writtenFiles.has(file) || writtenFolders.has(file) || parentsOf(file).some((folder) => writtenFiles.has(folder))).sort();
}

/** `a/b/c` → `a`, `a/b`. */
function parentsOf(file: string): string[] {
  const parts = file.split('/');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

function refusedDirty(files: string[], how: MergeHow): MergeResult {
  const verb = how === 'merge' ? 'Merge' : 'Apply';
  const list = files.length > 10 ? `${files.slice(0, 10).join(', ')} and ${files.length - 10} more` : files.join(', ');
  return { state: 'refused', reason: 'dirty', files, message: `${verb} refused: uncommitted changes in the main checkout to files it would write: ${list}. Commit or stash them yourself, then try again.` };
}

/** What a main-writing git command's refusal means for the user (nothing was written). */
function refusalFrom(error: unknown, how: MergeHow): MergeResult | undefined {
  if (!(error instanceof GitError)) return undefined;
  if (error.code === 'DirtyWorkTree' || error.code === 'UntrackedOverwritten' || error.code === 'PatchFailed') return refusedDirty([...error.files], how);
  return undefined;
}

/**
 * Merges (or applies) the task branch `ref.branch` into the checkout `main`. Runs as one exclusive operation of the
 * repository. The signal is honoured up to the moment main is written; that last step always runs to its end, so an
 * interruption leaves main either exactly as before or fully merged.
 */
export async function mergeBranchIntoMain(main: Repository, ref: WorktreeRef, how: MergeHow, message: string, signal?: AbortSignal): Promise<MergeResult> {
  return main.exclusive(async () => {
    const busy = main.inProgress();
    if (busy) {
      return { state: 'refused', reason: 'busy', files: [], message: `The main checkout is in the middle of a ${busy}; finish or abort it first.` };
    }
    const tip = await main.resolveCommit(`refs/heads/${ref.branch}`, { signal });
    if (!tip) throw new GitError('BranchNotFound', `The task branch ${ref.branch} no longer exists`);
    const ours = await main.headCommit({ signal });
    if (!ours) throw new GitError('NoCommits', `The main checkout ${main.root} has no commits`);
    if (await main.isAncestor(tip, ours, { signal })) return how === 'merge' ? { state: 'merged', commit: ours } : { state: 'applied', files: [] };

    const fastForward = await main.isAncestor(ours, tip, { signal });
    const merged = fastForward ? { tree: `${tip}^{tree}`, clean: true, conflicts: [] } : await main.mergeTree(ours, tip, { signal });
    if (!merged.clean) return { state: 'conflict', conflicts: merged.conflicts };

    const written = await main.changedPaths(ours, merged.tree, { signal });
    const dirty = dirtyFilesWritten(await main.dirtyPaths({ signal }), written);
    if (dirty.length > 0) {
      // An apply that went through before the host died (the task was never saved as applied): main holds it already.
      if (how === 'apply' && (await main.holdsTree(merged.tree, written, { signal }))) return { state: 'applied', files: written };
      return refusedDirty(dirty, how);
    }
    const target = how === 'merge' && !fastForward ? await main.commitTree(merged.tree, [ours, tip], `Merge branch '${ref.branch}'\n\n${message}`, { signal }) : tip;
    const patch = how === 'apply' ? await main.patch(ours, merged.tree, { signal }) : '';
    if (signal?.aborted) throw new GitError('Aborted', 'The merge was cancelled before the main checkout was written');

    // From here on main is written: no signal, so git is never killed half-way through.
    try {
      if (how === 'merge') {
        await main.merge(target, { fastForwardOnly: true, reflog: `merge ${ref.branch}` });
        return { state: 'merged', commit: (await main.headCommit()) ?? target };
      }
      await main.applyPatch(patch, { index: true });
      return { state: 'applied', files: written };
    } catch (error) {
      const refusal = refusalFrom(error, how);
      if (refusal) return refusal;
      throw error;
    }
  });
}
