import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Finds an executable the way a user names it in a setting: an absolute or `~/` path, a path relative to nothing
 * (taken as is), or a bare name looked up on PATH. Returns the resolved real path, or undefined when nothing exists.
 */
export function findExecutable(nameOrPath: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const wanted = expandHome(nameOrPath.trim());
  if (!wanted) return undefined;
  const found = wanted.includes('/') || wanted.includes('\\') ? (isFile(wanted) ? wanted : undefined) : findOnPath(wanted, env);
  return found === undefined ? undefined : safeRealpath(found);
}

/** The first file named `name` (with `.exe`/`.cmd` on Windows) in the directories of PATH. */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const pathKey = Object.keys(env).find((key) => key.toUpperCase() === 'PATH') ?? 'PATH';
  const extensions = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of (env[pathKey] ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const extension of extensions) {
      const candidate = path.join(dir, name + extension);
      if (isFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/** True for a JavaScript file or a script whose shebang runs node (an npm wrapper, not a native binary). */
export function isNodeScript(file: string): boolean {
  if (/\.[cm]?js$/.test(file)) return true;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const head = Buffer.alloc(64);
      const read = fs.readSync(fd, head, 0, head.length, 0);
      return /^#!.*\bnode\b/.test(head.subarray(0, read).toString('utf8'));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** The first of `candidates` that is a file. */
export function firstFile(candidates: readonly string[]): string | undefined {
  return candidates.find(isFile);
}

/** True on a musl Linux (Alpine), where npm installs the `…-musl` / `linuxmusl-…` platform packages. */
export function isMuslLinux(): boolean {
  if (process.platform !== 'linux') return false;
  const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report !== undefined && report.header?.glibcVersionRuntime === undefined;
}

/** `~` and `~/…` under the user's home directory; anything else as is. */
export function expandHome(file: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(os.homedir(), file.slice(1)) : file;
}

export function safeRealpath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}

export function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}
