/**
 * Codex's own review mode (`review/start`, DESIGN §9): what a review's result says, as findings.
 *
 * Codex asks its reviewer for one JSON object (ReviewOutputEvent: `findings` of `{title, body, confidence_score,
 * priority, code_location: {absolute_file_path, line_range: {start, end}}}`, `overall_correctness`,
 * `overall_explanation`, `overall_confidence_score`). On the wire the `exitedReviewMode` item carries text only: Codex's
 * rendering when it could parse that object (the explanation, then "Full review comments:" / "Review comment:" and a
 * `- <title> — <path>:<start>-<end>` line per finding with its body indented below), else the reviewer's answer as it
 * was. Both are read here; anything else is left to the core, which makes it one `info` finding.
 */
import * as path from 'node:path';
import type { Finding } from '../../core/task-state';

/** A Codex review as findings, with the reviewer's overall explanation when it gave one. */
export interface CodexReview {
  findings: Finding[];
  explanation?: string;
}

/** Where finding paths are resolved: the review's working folder, and the worktree they are made relative to. */
export interface ReviewFolders {
  cwd: string;
  root: string;
}

const SEVERITY_BY_PRIORITY: readonly Finding['severity'][] = ['high', 'high', 'medium', 'low'];
const HEADER = /^(?:Full review comments|Review comment):\s*$/;
/** `- [x] <title> — <path>:<start>-<end>`: the checkbox is optional, and some Codex versions write `--` for the dash. */
const ITEM = /^- (?:\[[ xX]\] )?(.*)(?: — | -- )(.+):(\d+)-(\d+)\s*$/;
const ITEM_WITHOUT_PLACE = /^- (?:\[[ xX]\] )?(.+?)\s*$/;
const PRIORITY_TAG = /^\s*\[P([0-3])\]\s*/i;

/**
 * The review in `text` (Codex's JSON, or Codex's rendering of it), or undefined when it is neither. With `folders`,
 * finding paths become relative to the worktree; without, they stay as Codex wrote them.
 */
export function parseCodexReview(text: string, folders?: ReviewFolders): CodexReview | undefined {
  return fromJson(text, folders) ?? fromRendering(text, folders);
}

/** The transcript line of an `enteredReviewMode` item (`hint` is Codex's, e.g. "changes against '<sha>'"). */
export function enteredReviewText(hint: string): string {
  return `Codex entered review mode: ${hint.replace(/\b([0-9a-f]{7})[0-9a-f]{33}\b/g, '$1')}`;
}

/** The transcript line of an `exitedReviewMode` item: how many findings, and the reviewer's overall explanation. */
export function exitedReviewText(review: string): string {
  const parsed = parseCodexReview(review);
  if (!parsed) return 'Codex left review mode; its answer is not in the review format';
  const count = parsed.findings.length;
  const found = count === 0 ? 'no findings' : `${count} finding${count === 1 ? '' : 's'}`;
  const explanation = parsed.explanation && parsed.explanation.length > 300 ? `${parsed.explanation.slice(0, 299)}…` : parsed.explanation;
  return `Codex left review mode: ${found}${explanation ? ` — ${explanation}` : ''}`;
}

/** The JSON object in `text` — all of it, or from its first `{` to its last `}` (as Codex reads it). */
function fromJson(text: string, folders: ReviewFolders | undefined): CodexReview | undefined {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start === -1 || end <= start) return undefined;
  const whole = text.trim();
  // Codex's rendering is prose: only text that can be an object is handed to JSON.parse (a failed parse throws, and
  // a throw costs more than the rest of the notification's handling).
  const candidates = whole.startsWith('{') && whole.endsWith('}') ? [whole] : [text.slice(start, end + 1)];
  for (const candidate of candidates) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(candidate);
    } catch {
      continue;
    }
    const raw = parsed as { findings?: unknown; overall_explanation?: unknown } | null;
    if (typeof raw !== 'object' || raw === null || !Array.isArray(raw.findings)) continue;
    const findings = raw.findings.flatMap((item): Omit<Finding, 'id'>[] => {
      const finding = jsonFinding(item, folders);
      return finding ? [finding] : [];
    });
    return { findings: numbered(findings), ...explanationOf(raw.overall_explanation) };
  }
  return undefined;
}

function jsonFinding(item: unknown, folders: ReviewFolders | undefined): Omit<Finding, 'id'> | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const raw = item as Record<string, unknown>;
  const location = (raw.code_location ?? {}) as { absolute_file_path?: unknown; line_range?: { start?: unknown } };
  const file = typeof location.absolute_file_path === 'string' ? location.absolute_file_path : typeof raw.path === 'string' ? raw.path : undefined;
  const line = location.line_range?.start ?? raw.line;
  const title = typeof raw.title === 'string' ? raw.title : '';
  const body = typeof raw.body === 'string' ? raw.body : '';
  if (!title.trim() && !body.trim()) return undefined;
  const severity = severityOf(raw.priority, title) ?? (isSeverity(raw.severity) ? raw.severity : 'info');
  return finding(title, body, severity, file, line, folders);
}

/** Codex's rendering: the explanation, the header, then one item per finding with its body indented by two spaces. */
function fromRendering(text: string, folders: ReviewFolders | undefined): CodexReview | undefined {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const header = lines.findIndex((line) => HEADER.test(line.trim()));
  if (header === -1) return undefined;
  const items: { title: string; file?: string; line?: number; body: string[] }[] = [];
  for (const line of lines.slice(header + 1)) {
    const placed = ITEM.exec(line);
    const unplaced = placed ? undefined : ITEM_WITHOUT_PLACE.exec(line);
    if (placed) items.push({ title: placed[1], file: placed[2], line: Number(placed[3]), body: [] });
    else if (unplaced) items.push({ title: unplaced[1], body: [] });
    else if (items.length > 0 && (line.startsWith('  ') || line.trim() === '')) items[items.length - 1].body.push(line.slice(2));
  }
  if (items.length === 0) return undefined;
  const findings = items.map((item) => finding(item.title, item.body.join('\n').trim(), severityOf(undefined, item.title) ?? 'info', item.file, item.line, folders));
  return { findings: numbered(findings), ...explanationOf(lines.slice(0, header).join('\n')) };
}

/** A finding in the snapshot's shape: the priority tag leaves the title, the path becomes relative to the worktree. */
function finding(title: string, body: string, severity: Finding['severity'], file: string | undefined, line: unknown, folders: ReviewFolders | undefined): Omit<Finding, 'id'> {
  const bare = title.replace(PRIORITY_TAG, '').trim();
  const where = file ? relativePath(file, folders) : undefined;
  const start = typeof line === 'number' && Number.isInteger(line) && line > 0 ? line : undefined;
  return { ...(where ? { path: where } : {}), ...(where && start !== undefined ? { line: start } : {}), severity, title: bare || body.split('\n')[0].slice(0, 120), body };
}

/** Priority 0 and 1 are high, 2 medium, 3 low; without a number, the title's `[P…]` tag says it. */
function severityOf(priority: unknown, title: string): Finding['severity'] | undefined {
  if (typeof priority === 'number' && Number.isInteger(priority) && priority >= 0 && priority <= 3) return SEVERITY_BY_PRIORITY[priority];
  const tag = PRIORITY_TAG.exec(title);
  return tag ? SEVERITY_BY_PRIORITY[Number(tag[1])] : undefined;
}

function isSeverity(value: unknown): value is Finding['severity'] {
  return value === 'high' || value === 'medium' || value === 'low' || value === 'info';
}

/** `file` relative to the worktree when it lies inside it (Codex names files by absolute path); else as given. */
function relativePath(file: string, folders: ReviewFolders | undefined): string {
  if (!folders) return file.trim();
  const absolute = path.resolve(folders.cwd, file.trim());
  const relative = path.relative(folders.root, absolute);
  if (relative && !relative.startsWith('..') && !path.isAbsolute(relative)) return relative.split(path.sep).join('/');
  return file.trim();
}

function explanationOf(value: unknown): { explanation?: string } {
  const text = typeof value === 'string' ? value.trim() : '';
  return text ? { explanation: text } : {};
}

function numbered(findings: Omit<Finding, 'id'>[]): Finding[] {
  return findings.map((finding, index) => ({ id: `f${index + 1}`, ...finding }));
}
