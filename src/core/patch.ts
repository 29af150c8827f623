/**
 * Applies a unified diff (hunks only, as agents report them) to a text. Returns undefined when a hunk does not
 * fit, so callers can show the raw patch instead of a wrong result.
 */
export function applyUnifiedDiff(original: string, patch: string): string | undefined {
  const source = original.split('\n');
  const out: string[] = [];
  let cursor = 0;
  const lines = patch.split('\n');
  let i = 0;
  let sawHunk = false;
  while (i < lines.length) {
    const header = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(lines[i]);
    if (!header && lines[i].startsWith('@@')) {
      // A bare "@@" hunk (Codex style): locate it by its context lines.
      sawHunk = true;
      i++;
      const hunk: string[] = [];
      while (i < lines.length && !lines[i].startsWith('@@')) hunk.push(lines[i++]);
      const oldLines = hunk.filter((l) => !l.startsWith('+')).map((l) => l.slice(1));
      while (oldLines.length && oldLines[oldLines.length - 1] === '' && hunk[hunk.length - 1] === '') oldLines.pop();
      const at = findSequence(source, oldLines, cursor);
      if (at === undefined) return undefined;
      out.push(...source.slice(cursor, at));
      for (const l of hunk) {
        if (l.startsWith('+')) out.push(l.slice(1));
        else if (l.startsWith(' ')) out.push(l.slice(1));
      }
      cursor = at + oldLines.length;
      continue;
    }
    if (!header) {
      i++;
      continue;
    }
    sawHunk = true;
    const start = Math.max(0, Number(header[1]) - 1);
    if (start < cursor) return undefined;
    out.push(...source.slice(cursor, start));
    cursor = start;
    i++;
    while (i < lines.length && !lines[i].startsWith('@@')) {
      const line = lines[i];
      if (line.startsWith('+')) out.push(line.slice(1));
      else if (line.startsWith('-')) {
        if (source[cursor] !== line.slice(1)) return undefined;
        cursor++;
      } else if (line.startsWith(' ')) {
        if (source[cursor] !== line.slice(1)) return undefined;
        out.push(source[cursor++]);
      } else if (line.startsWith('\\')) {
        // "\ No newline at end of file"
      } else if (line === '' && i === lines.length - 1) {
        // trailing newline of the patch text
      } else if (line.startsWith('---') || line.startsWith('+++') || line.startsWith('diff ')) {
        break;
      }
      i++;
    }
  }
  if (!sawHunk) return undefined;
  out.push(...source.slice(cursor));
  return out.join('\n');
}

function findSequence(haystack: string[], needle: string[], from: number): number | undefined {
  if (needle.length === 0) return from;
  for (let i = from; i + needle.length <= haystack.length; i++) {
    let match = true;
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) {
        match = false;
        break;
      }
    }
    if (match) return i;
  }
  return undefined;
}

/** The content of a new file from an "add" patch: its + lines, or the text itself when it is not a diff. */
export function contentOfAddPatch(patch: string): string {
  const lines = patch.split('\n');
  if (!lines.some((l) => l.startsWith('+') || l.startsWith('@@'))) return patch;
  return lines
    .filter((l) => l.startsWith('+') && !l.startsWith('+++'))
    .map((l) => l.slice(1))
    .join('\n');
}
