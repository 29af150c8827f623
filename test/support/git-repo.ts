/**
 * Real git repositories in temp dirs for the git/ and worktrees/ tests. Git runs with an identity and config of its
 * own (never the user's global config), and `fingerprint` captures a checkout exactly (HEAD, index bytes, every file's
 * hash) to prove an operation left it untouched.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Environment for every git the tests run: a fixed identity, no global or system config. */
export const TEST_GIT_ENV: Record<string, string> = {
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.invalid',
  GIT_COMMITTER_NAME: 'Test Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.invalid',
  GIT_CONFIG_GLOBAL: os.devNull,
  GIT_CONFIG_NOSYSTEM: '1',
};

/** A temp folder holding a repository `repo/` (so `repo.worktrees/` lands in the temp folder too). */
export interface TestRepo {
  /** The temp folder (parent of the repository). */
  dir: string;
  /** The repository's top level. */
  root: string;
  /** Runs git in the repository (or `cwd`) and returns stdout. */
  git(args: string[], cwd?: string): string;
  write(file: string, content: string | Buffer, cwd?: string): void;
  read(file: string, cwd?: string): string;
  /** Stages everything and commits in `cwd` (default the repository). */
  commit(message: string, cwd?: string): string;
  remove(): void;
}

/** Creates a repository with `files` committed (none: a repository without commits). */
export function makeRepo(files: Record<string, string | Buffer> = { 'README.md': '# test\n' }, prefix = 'atw-git-'): TestRepo {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  const root = path.join(dir, 'repo');
  fs.mkdirSync(root);
  const git = (args: string[], cwd = root): string => execFileSync('git', args, { cwd, env: { ...process.env, ...TEST_GIT_ENV, LC_ALL: 'C' }, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  const write = (file: string, content: string | Buffer, cwd = root): void => {
    fs.mkdirSync(path.dirname(path.join(cwd, file)), { recursive: true });
    fs.writeFileSync(path.join(cwd, file), content);
  };
  git(['init', '--quiet', '--initial-branch=main']);
  for (const [file, content] of Object.entries(files)) write(file, content);
  const repo: TestRepo = {
    dir,
    root,
    git,
    write,
    read: (file, cwd = root) => fs.readFileSync(path.join(cwd, file), 'utf8'),
    commit: (message, cwd = root) => {
      git(['add', '--all'], cwd);
      git(['commit', '--quiet', '--allow-empty', '-m', message], cwd);
      return git(['rev-parse', 'HEAD'], cwd).trim();
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
  if (Object.keys(files).length > 0) repo.commit('initial');
  return repo;
}

/** Everything a user could lose, captured exactly: HEAD, the index file's bytes, and every working file's hash. */
export interface Fingerprint {
  head: string;
  index: string;
  files: Record<string, string>;
}

function sha(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hashTree(root: string, relative = '', into: Record<string, string> = {}): Record<string, string> {
  for (const entry of fs.readdirSync(path.join(root, relative), { withFileTypes: true })) {
    const file = relative ? `${relative}/${entry.name}` : entry.name;
    if (file === '.git') continue;
    if (entry.isDirectory()) hashTree(root, file, into);
    else into[file] = sha(fs.readFileSync(path.join(root, file)));
  }
  return into;
}

/** The fingerprint of the repository's main checkout, read without git writing anything. */
export function fingerprint(repo: TestRepo): Fingerprint {
  const indexFile = path.join(repo.root, '.git', 'index');
  return {
    head: fs.readFileSync(path.join(repo.root, '.git', 'HEAD'), 'utf8') + repo.git(['rev-parse', 'HEAD']),
    index: fs.existsSync(indexFile) ? sha(fs.readFileSync(indexFile)) : '',
    files: hashTree(repo.root),
  };
}

/** True when some file of the checkout holds a conflict marker. */
export function hasConflictMarkers(root: string): boolean {
  return Object.keys(hashTree(root)).some((file) => /^(<{7}|>{7}) /m.test(fs.readFileSync(path.join(root, file), 'utf8')));
}
