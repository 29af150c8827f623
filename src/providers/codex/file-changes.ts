// Codex's fileChange items in the contract's shape: a unified diff per file, and a new file's content.
import * as path from 'node:path';
import type { FileChange } from '../../core/task-state';
import type { FileUpdateChange } from './protocol/v2/FileUpdateChange';

/**
 * One file of a Codex fileChange as the contract's FileChange: a unified diff (git-style a/ b/ names when the file is
 * inside `cwd`) and, for an add, the new content. `path` stays as Codex reported it.
 */
export function toFileChange(change: FileUpdateChange, cwd?: string): FileChange {
  const [from, to] = diffNames(change.path, cwd);
  switch (change.kind.type) {
    case 'add':
      return { path: change.path, kind: 'add', patch: wholeFilePatch('/dev/null', to, '+', change.diff), newContent: change.diff };
    case 'delete':
      return { path: change.path, kind: 'delete', patch: wholeFilePatch(from, '/dev/null', '-', change.diff) };
    case 'update': {
      const target = change.kind.move_path ? diffNames(change.kind.move_path, cwd)[1] : to;
      const body = change.diff.endsWith('\n') || change.diff === '' ? change.diff : `${change.diff}\n`;
      return { path: change.path, kind: 'update', patch: `--- ${from}\n+++ ${target}\n${body}` };
    }
  }
}

function diffNames(file: string, cwd: string | undefined): [string, string] {
  const relative = relativeInside(cwd, file);
  return relative === undefined ? [file, file] : [`a/${relative}`, `b/${relative}`];
}

/** `file` relative to `cwd` when it lies inside it. */
export function relativeInside(cwd: string | undefined, file: string): string | undefined {
  if (!cwd || !path.isAbsolute(file)) return path.isAbsolute(file) ? undefined : file;
  const relative = path.relative(cwd, file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative.split(path.sep).join('/') : undefined;
}

function wholeFilePatch(from: string, to: string, sign: '+' | '-', content: string): string {
  const lines = content === '' ? [] : content.replace(/\n$/, '').split('\n');
  const range = sign === '+' ? `-0,0 +1,${lines.length}` : `-1,${lines.length} +0,0`;
  const noNewline = content !== '' && !content.endsWith('\n') ? '\\ No newline at end of file\n' : '';
  return `--- ${from}\n+++ ${to}\n@@ ${range} @@\n${lines.map((line) => `${sign}${line}\n`).join('')}${noNewline}`;
}
