/**
 * Unified diffs for proposed file changes. Claude Code asks to Write/Edit with the new content only and ACP agents
 * may send `{oldText, newText}` diff blocks, so the patch a file approval shows is computed here (Myers' O(ND) line
 * diff, git-style headers, three lines of context).
 */

const CONTEXT_LINES = 3;
/** Above this many differing lines the middle of the diff is shown as one replace hunk (keeps time and memory bounded). */
const MAX_EDIT_DISTANCE = 2000;

interface Line {
  text: string;
  /** False only for a last line without a trailing newline. */
  newline: boolean;
}

type Op = { kind: ' ' | '-' | '+'; line: Line; oldIndex: number; newIndex: number };

/**
 * The unified diff turning `oldText` into `newText` for `path`. `oldText` undefined means the file is created,
 * `newText` undefined that it is deleted. Returns '' when nothing changes.
 */
export function createUnifiedDiff(path: string, oldText: string | undefined, newText: string | undefined, context = CONTEXT_LINES): string {
  const oldLines = splitLines(oldText ?? '');
  const newLines = splitLines(newText ?? '');
  const ops = diffLines(oldLines, newLines);
  if (!ops.some((op) => op.kind !== ' ')) return '';
  const name = path.replace(/^\/+/, '');
  const header = [
    `--- ${oldText === undefined ? '/dev/null' : `a/${name}`}`,
    `+++ ${newText === undefined ? '/dev/null' : `b/${name}`}`,
  ];
  return `${[...header, ...hunks(ops, context)].join('\n')}\n`;
}

function splitLines(text: string): Line[] {
  if (text === '') return [];
  const parts = text.split('\n');
  const endsWithNewline = parts[parts.length - 1] === '';
  if (endsWithNewline) parts.pop();
  return parts.map((part, index) => ({ text: part, newline: endsWithNewline || index < parts.length - 1 }));
}

const same = (a: Line, b: Line): boolean => a.text === b.text && a.newline === b.newline;

/** The edit script from `a` to `b`: common prefix and suffix, and Myers' shortest script for the middle. */
function diffLines(a: Line[], b: Line[]): Op[] {
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && same(a[prefix], b[prefix])) prefix++;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix && same(a[a.length - 1 - suffix], b[b.length - 1 - suffix])) suffix++;
  const ops: Op[] = [];
  for (let i = 0; i < prefix; i++) ops.push({ kind: ' ', line: a[i], oldIndex: i, newIndex: i });
  const middleA = a.slice(prefix, a.length - suffix);
  const middleB = b.slice(prefix, b.length - suffix);
  for (const op of myers(middleA, middleB)) ops.push({ ...op, oldIndex: op.oldIndex + prefix, newIndex: op.newIndex + prefix });
  for (let i = suffix; i > 0; i--) {
    ops.push({ kind: ' ', line: a[a.length - i], oldIndex: a.length - i, newIndex: b.length - i });
  }
  return ops;
}

function myers(a: Line[], b: Line[]): Op[] {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return replaceAll(a, b);
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  // trace[d] is the part of the frontier step d reads (diagonals -d-1 … d+1); walking it backwards recovers the script.
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && same(a[x], b[y])) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  if (!found) return replaceAll(a, b);
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const frontier = trace[d];
    const at = (diagonal: number) => frontier[diagonal + d + 1];
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      ops.push({ kind: ' ', line: a[x], oldIndex: x, newIndex: y });
    }
    if (d > 0) {
      if (x === prevX) ops.push({ kind: '+', line: b[prevY], oldIndex: prevX, newIndex: prevY });
      else ops.push({ kind: '-', line: a[prevX], oldIndex: prevX, newIndex: prevY });
    }
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
}

function replaceAll(a: Line[], b: Line[]): Op[] {
  return [
    ...a.map((line, i): Op => ({ kind: '-', line, oldIndex: i, newIndex: 0 })),
    ...b.map((line, i): Op => ({ kind: '+', line, oldIndex: a.length, newIndex: i })),
  ];
}

function hunks(ops: Op[], context: number): string[] {
  const out: string[] = [];
  const changed = ops.map((op, i) => (op.kind === ' ' ? -1 : i)).filter((i) => i >= 0);
  let index = 0;
  while (index < changed.length) {
    const start = Math.max(0, changed[index] - context);
    let end = changed[index];
    // Extend the hunk while the next change is close enough that the contexts would touch.
    while (index + 1 < changed.length && changed[index + 1] - end <= 2 * context) end = changed[++index];
    end = Math.min(ops.length - 1, end + context);
    index++;
    const slice = ops.slice(start, end + 1);
    const oldCount = slice.filter((op) => op.kind !== '+').length;
    const newCount = slice.filter((op) => op.kind !== '-').length;
    const first = slice[0];
    const oldStart = oldCount === 0 ? first.oldIndex : first.oldIndex + 1;
    const newStart = newCount === 0 ? first.newIndex : first.newIndex + 1;
    out.push(`@@ -${oldStart},${oldCount} +${newStart},${newCount} @@`);
    for (const op of slice) {
      out.push(`${op.kind}${op.line.text}`);
      if (!op.line.newline) out.push('\\ No newline at end of file');
    }
  }
  return out;
}
