// Reading a file an agent names (for the diff of a proposed change) without trusting the name: the path is resolved
// with realpath and must lie inside the task's folder (or another allowed root), it must be a regular file, it is read
// asynchronously, and only up to a size cap. A FIFO, a device, a symlink out of the workspace or a huge file is never
// read: the change is shown without that file's content and the user still decides.
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

/** The largest file read for a diff. Larger files are "too large to show". */
export const MAX_AGENT_FILE_BYTES = 2 * 1024 * 1024;

export type AgentFileRead =
  /** The file's content (UTF-8). */
  | { status: 'text'; text: string }
  /** No such file, at a place inside the roots: the change creates it. */
  | { status: 'missing' }
  /** Not read; `reason` completes the sentence "<path> …" for the question. */
  | { status: 'refused'; reason: string };

/** Reads the file at `file` (absolute) if it is a regular file of at most `maxBytes` inside one of `roots`. */
export async function readAgentFile(file: string, roots: readonly string[], maxBytes: number = MAX_AGENT_FILE_BYTES): Promise<AgentFileRead> {
  const absolute = path.resolve(file);
  const realRoots = await Promise.all(roots.map((root) => resolveExisting(path.resolve(root))));
  let real: string;
  try {
    real = await fsp.realpath(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return { status: 'refused', reason: `could not be read (${code ?? 'error'})` };
    // A file the change creates: where it would be created must be inside too.
    const target = await resolveExisting(absolute);
    return insideAny(target, realRoots) ? { status: 'missing' } : { status: 'refused', reason: OUTSIDE };
  }
  if (!insideAny(real, realRoots)) return { status: 'refused', reason: OUTSIDE };
  let handle: fsp.FileHandle;
  try {
    const stat = await fsp.stat(real);
    if (!stat.isFile()) return { status: 'refused', reason: NOT_A_FILE };
    if (stat.size > maxBytes) return { status: 'refused', reason: tooLarge(stat.size, maxBytes) };
    // O_NONBLOCK: a FIFO swapped in after the stat does not block the open; O_NOFOLLOW: nor does a symlink.
    handle = await fsp.open(real, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    return { status: 'refused', reason: `could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return { status: 'refused', reason: NOT_A_FILE };
    if (stat.size > maxBytes) return { status: 'refused', reason: tooLarge(stat.size, maxBytes) };
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, Math.max(stat.size + 1, 1)));
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) return { status: 'refused', reason: tooLarge(length, maxBytes) };
    return { status: 'text', text: buffer.subarray(0, length).toString('utf8') };
  } catch (error) {
    return { status: 'refused', reason: `could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Whether `file` (absolute, resolved) lies inside one of the resolved `roots`. */
export function insideAny(file: string, roots: readonly string[]): boolean {
  return roots.some((root) => {
    const relative = path.relative(root, file);
    return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
  });
}

/** The real path of the longest existing prefix of `absolute`, with the rest appended (for paths that do not exist). */
async function resolveExisting(absolute: string): Promise<string> {
  const rest: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      return path.join(await fsp.realpath(current), ...rest.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return absolute;
      rest.push(path.basename(current));
      current = parent;
    }
  }
}

const OUTSIDE = "is outside the task's folder and the workspace, so it was not read";
const NOT_A_FILE = 'is not a regular file, so it was not read';

function tooLarge(size: number, maxBytes: number): string {
  return `is too large to show (${megabytes(size)}; the limit is ${megabytes(maxBytes)})`;
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** The note a question carries for a file that was not read: "<shown> is too large to show (…). …". */
export function unreadNote(shown: string, read: AgentFileRead): string | undefined {
  return read.status === 'refused' ? `${shown} ${read.reason}; the diff shows only what the agent sent.` : undefined;
}

/** Where an agent's file may be read for a diff, and how (replay tests inject the reader). */
export interface PermissionContext {
  cwd: string;
  /** Folders besides cwd whose files may be read for a diff (the workspace). */
  roots?: readonly string[];
  /**
   * Reads a file as UTF-8, or undefined when it does not exist (injectable for replay tests). Default: readAgentFile
   * (inside cwd/roots, a regular file, at most MAX_AGENT_FILE_BYTES, asynchronously).
   */
  readFile?: (file: string) => string | undefined | AgentFileRead | Promise<AgentFileRead>;
}

/** What the context's reader says about a file. */
export async function readForDiff(file: string, context: PermissionContext): Promise<AgentFileRead> {
  if (!context.readFile) return readAgentFile(file, [context.cwd, ...(context.roots ?? [])]);
  const result = await context.readFile(file);
  if (result === undefined) return { status: 'missing' };
  return typeof result === 'string' ? { status: 'text', text: result } : result;
}

