/**
 * The git CLI driver: one function that runs `git` with a fixed environment and turns failures into a `GitError`
 * whose `code` says what went wrong (read from stderr through one table). Everything above it speaks in codes.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Why a git command failed, as far as the caller needs to know. */
export type GitErrorCode =
  | 'GitNotFound'
  | 'NotARepository'
  | 'NoCommits'
  | 'Conflict'
  | 'DirtyWorkTree'
  | 'UntrackedOverwritten'
  | 'BranchExists'
  | 'BranchNotFound'
  | 'WorktreeExists'
  | 'WorktreeDirty'
  | 'NotFastForward'
  | 'PatchFailed'
  | 'LockHeld'
  | 'IdentityUnknown'
  | 'GitTooOld'
  | 'Aborted'
  | 'Unknown';

/** A failed git command: the code, the command line (without the binary) and what git printed. */
export class GitError extends Error {
  override readonly name = 'GitError';
  constructor(
    readonly code: GitErrorCode,
    message: string,
    readonly args: readonly string[] = [],
    readonly stderr = '',
    readonly exitCode?: number,
    /** Paths the failure is about (dirty files, conflicts), when known. */
    readonly files: readonly string[] = [],
  ) {
    super(message);
  }
}

/** Options of one git run. */
export interface RunOptions {
  /** Aborting kills the git process; the promise rejects with code `Aborted`. */
  signal?: AbortSignal;
  /** Added to the fixed environment (e.g. GIT_INDEX_FILE, an identity in tests). */
  env?: Record<string, string | undefined>;
  /** Written to git's stdin, which is closed afterwards. */
  input?: string | Buffer;
  /** The git executable; default `git` looked up on the PATH of the resulting environment. */
  gitPath?: string;
  /** A read-only command: sets GIT_OPTIONAL_LOCKS=0 so it never takes the index lock. */
  readOnly?: boolean;
  /** Exit codes besides 0 that are answers, not failures (e.g. 1 for `merge-tree` with conflicts). */
  okExitCodes?: readonly number[];
  /** Called with each stdout chunk instead of collecting it (stdout is then ''). */
  onStdout?: (chunk: Buffer) => void;
  /**
   * A command that must run to its end even if this process dies (a write to the main checkout): its input and
   * output go through temp files, not pipes, so a killed host cannot stop it half-way with SIGPIPE. Not with onStdout.
   */
  durable?: boolean;
}

/** What a git run printed and how it ended. */
export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Variables from the user's environment that would point git at another repository or index than the one asked. */
const INHERITED_BLOCKLIST = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_PREFIX'];

/** The environment every git run gets: C locale (stable messages for the table below) and never a prompt. */
export function gitEnvironment(extra: Record<string, string | undefined> = {}, readOnly = false): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of INHERITED_BLOCKLIST) delete env[key];
  Object.assign(env, {
    LC_ALL: 'C',
    LANG: 'C',
    LANGUAGE: '',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
    GIT_EDITOR: ':',
    GIT_SEQUENCE_EDITOR: ':',
    GIT_PAGER: 'cat',
    GIT_MERGE_AUTOEDIT: 'no',
  });
  if (readOnly) env.GIT_OPTIONAL_LOCKS = '0';
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** stderr (and for merges stdout) patterns → codes; the first match wins. */
const ERROR_TABLE: readonly [RegExp, GitErrorCode][] = [
  [/unknown option .?write-tree|usage: git merge-tree|unknown option .?path-format/i, 'GitTooOld'],
  [/not a git repository|must be run in a work tree/i, 'NotARepository'],
  [/does not have any commits yet|ambiguous argument 'HEAD'|bad default revision 'HEAD'|Needed a single revision/i, 'NoCommits'],
  [/index\.lock'?: File exists|Another git process seems to be running|could not lock config file|cannot lock ref/i, 'LockHeld'],
  [/CONFLICT \(|Automatic merge failed|Applied patch to .* with conflicts|fix conflicts and then commit|needs merge|you need to resolve your current index first/i, 'Conflict'],
  [/untracked working tree files would be (overwritten|removed)/i, 'UntrackedOverwritten'],
  [/Your local changes to the following files would be overwritten|not uptodate\. Cannot merge|would be overwritten by merge/i, 'DirtyWorkTree'],
  [/a branch named '.+' already exists/i, 'BranchExists'],
  [/branch '.+' not found|not a valid branch name|invalid reference|not a valid object name|unknown revision/i, 'BranchNotFound'],
  [/contains modified or untracked files/i, 'WorktreeDirty'],
  [/Not possible to fast-forward|not something we can merge/i, 'NotFastForward'],
  [/patch does not apply|patch failed|does not exist in index|already exists in working directory|does not match index/i, 'PatchFailed'],
  [/already exists|is already checked out at|is already used by worktree|is a missing but (already )?registered worktree/i, 'WorktreeExists'],
  [/Please tell me who you are|unable to auto-detect email address|empty ident name/i, 'IdentityUnknown'],
];

/** The code for what a failed git command printed. */
export function classifyGitError(stderr: string, stdout = ''): GitErrorCode {
  for (const [pattern, code] of ERROR_TABLE) if (pattern.test(stderr) || pattern.test(stdout)) return code;
  return 'Unknown';
}

/** Paths listed one per tab-indented line after git's "would be overwritten" messages. */
function listedFiles(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => /^\t/.test(line))
    .map((line) => line.trim());
}

/**
 * Runs `git <args>` in `cwd`. Resolves with the output when git exits 0 (or with an allowed code); rejects with a
 * `GitError` otherwise: `GitNotFound` when there is no git to run, `Aborted` when the signal fired.
 */
export function run(cwd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { signal, input, readOnly = false, okExitCodes = [], onStdout } = options;
  const gitPath = options.gitPath ?? 'git';
  return new Promise<RunResult>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new GitError('Aborted', `git ${args[0] ?? ''} was cancelled before it started`, args));
      return;
    }
    // A write gets its own process group, so an abort also stops the git commands it runs itself (worktree add runs
    // `reset --hard`). Reads run no children, and a new session per run measurably slows them on a busy machine.
    const group = process.platform !== 'win32' && !readOnly;
    const files = options.durable ? durableStdio(input) : undefined;
    const child = spawn(gitPath, args, { cwd, env: gitEnvironment(options.env, readOnly), stdio: files?.stdio ?? ['pipe', 'pipe', 'pipe'], windowsHide: true, detached: group });
    files?.closeOurs();
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      files?.remove();
      outcome();
    };
    let aborted = false;
    const rejectAborted = (): void => finish(() => reject(new GitError('Aborted', `git ${args[0] ?? ''} was cancelled`, args)));
    const onAbort = (): void => {
      aborted = true;
      try {
        if (group && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      // Settled when git is gone, so whoever cleans up after a cancel never races a git still writing; bounded.
      setTimeout(rejectAborted, 2000).unref();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (chunk: Buffer) => (onStdout ? onStdout(chunk) : stdout.push(chunk)));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' && !fs.existsSync(cwd)) {
        finish(() => reject(new GitError('NotARepository', `The folder ${cwd} does not exist`, args)));
      } else if (error.code === 'ENOENT') {
        const where = options.gitPath ? `at ${gitPath}` : 'on the PATH';
        const message = `Git was not found ${where}. Install git (or put it on the PATH) to run tasks in worktrees, or set agentTasks.isolation to "none".`;
        finish(() => reject(new GitError('GitNotFound', message, args)));
      } else finish(() => reject(new GitError('Unknown', `git ${args[0] ?? ''} could not start: ${error.message}`, args)));
    });
    child.on('close', (code) => {
      if (aborted) return rejectAborted();
      if (files) files.read(stdout, stderr);
      const out = Buffer.concat(stdout).toString('utf8');
      const err = Buffer.concat(stderr).toString('utf8');
      const exitCode = code ?? -1;
      if (exitCode === 0 || okExitCodes.includes(exitCode)) {
        finish(() => resolve({ stdout: out, stderr: err, exitCode }));
        return;
      }
      const errorCode = classifyGitError(err, args[0] === 'merge' ? out : '');
      const firstLine = err.split('\n').find((line) => line.trim()) ?? `exit code ${exitCode}`;
      finish(() => reject(new GitError(errorCode, `git ${args[0] ?? ''} failed: ${firstLine.trim()}`, args, err, exitCode, listedFiles(err))));
    });
    child.stdin?.on('error', () => undefined); // git may exit before reading its input (EPIPE)
    child.stdin?.end(input);
  });
}

/** The stdio of a durable run: temp files for input and output, read back when git has exited. */
function durableStdio(input: string | Buffer | undefined): { stdio: [number | 'ignore', number, number]; closeOurs(): void; read(stdout: Buffer[], stderr: Buffer[]): void; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-git-'));
  const file = (name: string) => path.join(dir, name);
  if (input !== undefined) fs.writeFileSync(file('in'), input);
  const fds: [number | 'ignore', number, number] = [input !== undefined ? fs.openSync(file('in'), 'r') : 'ignore', fs.openSync(file('out'), 'w'), fs.openSync(file('err'), 'w')];
  return {
    stdio: fds,
    closeOurs: () => fds.forEach((fd) => typeof fd === 'number' && fs.closeSync(fd)),
    read: (stdout, stderr) => {
      stdout.push(fs.readFileSync(file('out')));
      stderr.push(fs.readFileSync(file('err')));
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
