/**
 * Parsers for git's machine-readable (`-z`, porcelain) output. Pure functions of the text, so they are tested on
 * literal samples; nothing here runs git.
 */

/** One entry of `git worktree list --porcelain -z`. */
export interface WorktreeEntry {
  path: string;
  /** The checked-out commit; undefined for a bare repository. */
  head?: string;
  /** Full ref name (`refs/heads/…`); undefined when detached or bare. */
  branch?: string;
  detached: boolean;
  bare: boolean;
  locked: boolean;
  /** git considers it prunable (its folder is gone); the reason it gave. */
  prunable?: string;
}

/** Parses `git worktree list --porcelain -z`: attribute fields separated by NUL, entries by an empty field. */
export function parseWorktreeList(text: string): WorktreeEntry[] {
  const entries: WorktreeEntry[] = [];
  let current: WorktreeEntry | undefined;
  for (const field of text.split('\0')) {
    if (field === '') {
      if (current) entries.push(current);
      current = undefined;
      continue;
    }
    const space = field.indexOf(' ');
    const key = space < 0 ? field : field.slice(0, space);
    const value = space < 0 ? '' : field.slice(space + 1);
    if (key === 'worktree') {
      if (current) entries.push(current);
      current = { path: value, detached: false, bare: false, locked: false };
      continue;
    }
    if (!current) continue;
    if (key === 'HEAD') current.head = value;
    else if (key === 'branch') current.branch = value;
    else if (key === 'detached') current.detached = true;
    else if (key === 'bare') current.bare = true;
    else if (key === 'locked') current.locked = true;
    else if (key === 'prunable') current.prunable = value || 'gitdir file points to non-existent location';
  }
  if (current) entries.push(current);
  return entries;
}

/** One file of `git diff --numstat -z`; counts are undefined for binary files (git prints `-`). */
export interface NumstatEntry {
  path: string;
  /** Set for a rename or copy: the path before. */
  oldPath?: string;
  insertions?: number;
  deletions?: number;
  binary: boolean;
}

function count(value: string): number | undefined {
  return value === '-' ? undefined : Number(value);
}

/**
 * Parses `git diff --numstat -z`: `ins TAB del TAB path NUL`, or for a rename `ins TAB del TAB NUL old NUL new NUL`.
 * Fields starting with `:` (the `--raw` part when both are asked) are skipped, see parseRawNumstat.
 */
export function parseNumstat(text: string): NumstatEntry[] {
  return parseRawNumstat(text).numstat;
}

/** One file of `git diff --raw -z`: its one-letter status (A, M, D, R, C, T, U) and path(s). */
export interface RawEntry {
  status: string;
  path: string;
  oldPath?: string;
  /** Similarity for R/C, percent. */
  score?: number;
}

/** Parses the combined output of `git diff --raw --numstat -z` (raw entries start with `:`). */
export function parseRawNumstat(text: string): { raw: RawEntry[]; numstat: NumstatEntry[] } {
  const fields = text.split('\0');
  const raw: RawEntry[] = [];
  const numstat: NumstatEntry[] = [];
  let i = 0;
  while (i < fields.length) {
    const field = fields[i++];
    if (field === '') continue;
    if (field.startsWith(':')) {
      const letters = field.split(' ')[4] ?? '';
      const status = letters.charAt(0);
      const score = letters.length > 1 ? Number(letters.slice(1)) : undefined;
      if (status === 'R' || status === 'C') {
        raw.push({ status, oldPath: fields[i], path: fields[i + 1], score });
        i += 2;
      } else {
        raw.push({ status, path: fields[i] });
        i += 1;
      }
      continue;
    }
    const [insertions = '', deletions = '', path = ''] = field.split('\t');
    const binary = insertions === '-' && deletions === '-';
    if (path === '') {
      numstat.push({ oldPath: fields[i], path: fields[i + 1], insertions: count(insertions), deletions: count(deletions), binary });
      i += 2;
    } else {
      numstat.push({ path, insertions: count(insertions), deletions: count(deletions), binary });
    }
  }
  return { raw, numstat };
}

/** One changed path of `git status --porcelain=v2 -z`. */
export interface StatusEntry {
  kind: 'changed' | 'renamed' | 'unmerged' | 'untracked' | 'ignored';
  path: string;
  /** For renames and copies: the path in HEAD. */
  origPath?: string;
  /** Index (staged) status letter, `.` when unchanged; `?`/`!` for untracked/ignored. */
  index: string;
  /** Working tree status letter, `.` when unchanged. */
  workTree: string;
}

/** Parses `git status --porcelain=v2 -z` (header lines `# …` are skipped). */
export function parseStatusV2(text: string): StatusEntry[] {
  const fields = text.split('\0');
  const entries: StatusEntry[] = [];
  let i = 0;
  while (i < fields.length) {
    const field = fields[i++];
    if (field === '' || field.startsWith('#')) continue;
    const type = field.charAt(0);
    if (type === '?' || type === '!') {
      entries.push({ kind: type === '?' ? 'untracked' : 'ignored', path: field.slice(2), index: type, workTree: type });
      continue;
    }
    const parts = field.split(' ');
    const xy = parts[1] ?? '..';
    // Fixed field counts before the path: 1 → 8, 2 → 9 (+ orig path in the next NUL field), u → 10.
    const before = type === '1' ? 8 : type === '2' ? 9 : type === 'u' ? 10 : -1;
    if (before < 0) continue;
    const path = parts.slice(before).join(' ');
    const entry: StatusEntry = { kind: type === '1' ? 'changed' : type === '2' ? 'renamed' : 'unmerged', path, index: xy.charAt(0), workTree: xy.charAt(1) };
    if (type === '2') entry.origPath = fields[i++];
    entries.push(entry);
  }
  return entries;
}

/** What `git merge-tree --write-tree --name-only --no-messages -z` said. */
export interface MergeTreeResult {
  /** The tree of the merge result (with conflict markers in conflicted files). */
  tree: string;
  clean: boolean;
  /** Conflicted paths, each once, in git's order. */
  conflicts: string[];
}

/** Parses `git merge-tree --write-tree --name-only --no-messages -z` output given its exit code (0 clean, 1 conflicts). */
export function parseMergeTree(text: string, exitCode: number): MergeTreeResult {
  const fields = text.split('\0');
  const tree = (fields[0] ?? '').trim();
  const conflicts: string[] = [];
  for (let i = 1; i < fields.length && fields[i] !== ''; i++) if (!conflicts.includes(fields[i])) conflicts.push(fields[i]);
  return { tree, clean: exitCode === 0, conflicts };
}

/** Splits NUL-separated output into its non-empty fields. */
export function splitNul(text: string): string[] {
  return text.split('\0').filter((field) => field !== '');
}
