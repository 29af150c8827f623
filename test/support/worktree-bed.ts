/**
 * A TaskManager with real task worktrees over a real repository in a temp dir, and the file-writing agent: the
 * bed of the task-worktree tests (DESIGN §8). `reload()` is a restart on the same state dir.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CreateTaskInput, TaskState, TaskStatus } from '../../src/core/task-state';
import type { WorktreePort } from '../../src/core/worktree-port';
import { TaskWorktrees, type TaskWorktreesOptions } from '../../src/worktrees/task-worktrees';
import { FileWriterProvider, FILE_WRITER_ID } from '../fixtures/file-writer-provider';
import { Harness, type HarnessOptions } from './core-harness';
import { makeRepo, TEST_GIT_ENV, type TestRepo } from './git-repo';

export interface WorktreeBed {
  repo: TestRepo;
  harness: Harness;
  agent: FileWriterProvider;
  worktrees: WorktreePort;
  /** Creates a task for the file-writing agent (in the repository unless `cwd` says otherwise). */
  create(prompt: string, extra?: Partial<CreateTaskInput>): Promise<string>;
  /** Waits until the task has finished with `status` and its change summary is current. */
  finished(id: string, status?: TaskStatus): Promise<TaskState>;
  /** The task's worktree (fails when it has none). */
  worktreeOf(id: string): NonNullable<TaskState['worktree']>;
  /** A new manager over the same state dir and repository, as after a restart. Disposes this one. */
  reload(): Promise<WorktreeBed>;
  dispose(): Promise<void>;
}

export interface BedOptions {
  /** Files committed in the new repository. */
  files?: Record<string, string>;
  repo?: TestRepo;
  /** Options of the TaskWorktrees (a gitPath, say); the test identity is always added. */
  git?: TaskWorktreesOptions;
  /** The port itself (e.g. one that counts calls); default a TaskWorktrees. */
  worktrees?: WorktreePort;
  harness?: Omit<HarnessOptions, 'worktrees' | 'providers' | 'cwd'>;
}

const repos: TestRepo[] = [];

export function worktreeBed(options: BedOptions = {}): WorktreeBed {
  const repo = options.repo ?? makeRepo(options.files ?? { 'README.md': '# test\n' });
  if (!options.repo) repos.push(repo);
  const worktrees = options.worktrees ?? new TaskWorktrees({ ...options.git, env: { ...TEST_GIT_ENV, ...options.git?.env } });
  const agent = new FileWriterProvider();
  const harness = new Harness({ ...options.harness, settings: { defaultProvider: FILE_WRITER_ID, ...options.harness?.settings }, cwd: repo.root, worktrees, providers: [agent] });
  const bed: WorktreeBed = {
    repo,
    harness,
    agent,
    worktrees,
    async create(prompt, extra = {}) {
      return (await harness.create(prompt, extra)).id;
    },
    async finished(id, status = 'completed') {
      await harness.until(() => harness.status(id) === status, `task ${id} to be ${status} (is ${harness.status(id)})`, 15_000);
      await harness.manager.worktrees.settled(id);
      return harness.task(id);
    },
    worktreeOf(id) {
      const worktree = harness.task(id).worktree;
      if (!worktree) throw new Error(`task ${id} has no worktree`);
      return worktree;
    },
    async reload() {
      await harness.dispose();
      // A new TaskWorktrees too (unless the test passed its own port): nothing cached survives a restart.
      return worktreeBed({ ...options, repo, harness: { ...options.harness, dir: harness.dir, clock: harness.clock, restore: true } });
    },
    dispose: () => harness.dispose(),
  };
  return bed;
}

/** Removes the repositories the beds made. */
export function removeBedRepos(): void {
  for (const repo of repos.splice(0)) repo.remove();
}

/** The files of a folder (relative paths → content), `.git` left out. */
export function filesOf(root: string, relative = '', into: Record<string, string> = {}): Record<string, string> {
  for (const entry of fs.readdirSync(path.join(root, relative), { withFileTypes: true })) {
    const file = relative ? `${relative}/${entry.name}` : entry.name;
    if (file === '.git') continue;
    if (entry.isDirectory()) filesOf(root, file, into);
    else into[file] = fs.readFileSync(path.join(root, file), 'utf8');
  }
  return into;
}
