/**
 * A `gitPath` for tests: a shell script that runs the real git, logs every command's start and end to a file, and
 * sleeps before the commands a test wants slow — so a test can cancel, or kill the host, while git runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface GitWrapper {
  /** The script, for `gitPath`. */
  path: string;
  /** The command lines started so far (`worktree add -b …`), in order. */
  started(): string[];
  /** How many started commands have not ended yet (a killed host leaves them running). */
  running(): number;
}

/**
 * Writes the wrapper into `dir`. `slow` lists command prefixes (`worktree add`, `merge --ff-only`) that sleep
 * `delaySeconds` before git runs.
 */
export function gitWrapper(dir: string, slow: readonly string[] = [], delaySeconds = 1): GitWrapper {
  const script = path.join(dir, 'slow-git.sh');
  const log = path.join(dir, 'slow-git.log');
  const cases = slow.map((prefix) => `  "${prefix}"*) sleep ${delaySeconds} ;;`).join('\n');
  fs.writeFileSync(
    script,
    ['#!/bin/sh', `echo "start $$ $*" >> '${log}'`, 'case "$*" in', cases, '  *) ;;', 'esac', 'git "$@"', 'rc=$?', `echo "end $$ $rc" >> '${log}'`, 'exit $rc', ''].join('\n'),
    { mode: 0o755 },
  );
  const lines = (): string[] => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []);
  return {
    path: script,
    started: () => lines().filter((line) => line.startsWith('start ')).map((line) => line.replace(/^start \d+ /, '')),
    running: () => {
      const open = new Set<string>();
      for (const [kind, pid] of lines().map((line) => line.split(' '))) {
        if (kind === 'start') open.add(pid);
        else open.delete(pid);
      }
      return open.size;
    },
  };
}
