// DESIGN §9: second opinions on a task's change — several agents attempting one prompt (keep the best, discard the
// rest), and a review by another agent that runs read-only in the task's worktree and answers with findings.
import { randomUUID } from 'node:crypto';
import { messageOf } from './errors';
import type { ReviewRequest } from './ports';
import type { CreateTaskLinks } from './task-input';
import { isLive, type TaskIsolation } from './task-isolation';
import type { ManagerParts } from './task-runner';
import { isTerminal, type AgentChoice, type CreateTaskInput, type Finding, type TaskSnapshot, type TaskState } from './task-state';
import { taskTitle } from './task-title';

/** Lines of the change a reviewer is shown in its prompt (the rest it can read in the worktree). */
const REVIEW_DIFF_LINES = 3_000;
/** Files of the change a native review mode is told about (it finds the rest with git). */
const REVIEW_LISTED_FILES = 50;
const SEVERITIES: readonly Finding['severity'][] = ['high', 'medium', 'low', 'info'];

/** What SecondOpinions needs of the manager. */
export interface OpinionHooks {
  create(input: CreateTaskInput, links: CreateTaskLinks): Promise<TaskSnapshot>;
  followUp(id: string, message: string): Promise<TaskSnapshot>;
  cancel(id: string): Promise<void>;
}

export class SecondOpinions {
  constructor(
    private readonly parts: ManagerParts,
    private readonly isolation: TaskIsolation,
    private readonly hooks: OpinionHooks,
  ) {}

  // Attempts

  /** One isolated task per agent on the same prompt, sharing an `attemptGroup`. All or none are created. */
  async createAttempts(input: CreateTaskInput, agents: readonly AgentChoice[]): Promise<TaskSnapshot[]> {
    if (!Array.isArray(agents) || agents.length === 0) throw new Error('Attempts need at least one agent: [{provider, profile?, model?}]');
    if (input?.isolation === 'none') throw new Error('Attempts each run in their own worktree; isolation "none" is not possible for them');
    for (const agent of agents) {
      if (typeof agent !== 'object' || agent === null || typeof agent.provider !== 'string') throw new Error('Each attempt needs a provider');
      if (!this.parts.options.registry.has(agent.provider)) {
        const known = this.parts.options.registry.list().map((adapter) => adapter.id).join(', ') || 'none';
        throw new Error(`Unknown provider "${agent.provider}" for an attempt. Available providers: ${known}`);
      }
    }
    const attemptGroup = `attempts-${randomUUID().slice(0, 8)}`;
    const created: TaskSnapshot[] = [];
    try {
      for (const agent of agents) {
        created.push(await this.hooks.create({ ...input, provider: agent.provider, profile: agent.profile, model: agent.model ?? input.model, isolation: 'worktree' }, { attemptGroup }));
      }
    } catch (error) {
      for (const task of created) await this.hooks.cancel(task.id).catch(() => undefined);
      throw error;
    }
    return created;
  }

  /** The tasks of an attempt group, in creation order. */
  attempts(group: string): TaskState[] {
    return this.parts.store.all().filter((task) => task.attemptGroup === group).sort((a, b) => a.timestamps.created - b.timestamps.created);
  }

  /**
   * Merges one attempt (as mergeChanges with `merge`); only when that succeeded are the group's other attempts stopped
   * and discarded. A refused or conflicting merge rejects and discards nothing.
   */
  async pickAttempt(id: string): Promise<TaskSnapshot> {
    const task = this.parts.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    if (!task.attemptGroup) throw new Error(`Task ${id} is not one of several attempts; use Merge Changes`);
    await this.isolation.mergeChanges(id, { how: 'merge' });
    const discarded: string[] = [];
    for (const other of this.attempts(task.attemptGroup).filter((each) => each.id !== id)) {
      try {
        if (!isTerminal(other.status)) await this.hooks.cancel(other.id);
        if (isLive(this.parts.store.get(other.id)?.worktree)) {
          await this.isolation.discardChanges(other.id);
          discarded.push(other.id);
        }
      } catch (error) {
        this.parts.appendOutput(other.id, { kind: 'error', text: `Discarding this attempt after ${id} was picked failed: ${messageOf(error)}` });
      }
    }
    this.parts.appendOutput(id, { kind: 'status', text: `Picked this attempt${discarded.length > 0 ? `; discarded ${discarded.join(', ')}` : ''}` });
    return this.parts.snapshot(this.parts.store.get(id) ?? task);
  }

  // Reviews

  /** The reviewer used when none is named: the first available provider other than the author's. */
  defaultReviewer(author: string): AgentChoice {
    const other = this.parts.options.registry.list().find((adapter) => adapter.id !== author);
    return { provider: other?.id ?? author };
  }

  /** Starts a read-only review of a finished task's change by `reviewer`; resolves with the review task. */
  async reviewTask(id: string, reviewer?: AgentChoice): Promise<TaskSnapshot> {
    const task = this.parts.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    if (task.reviewOf !== undefined) throw new Error(`Task ${id} is itself a review`);
    if (!isTerminal(task.status)) throw new Error(`Task ${id} is still ${task.status.replace('_', ' ')}; review it once it has finished`);
    if (!isLive(task.worktree)) throw new Error(`Task ${id} has no unmerged worktree to review`);
    const choice = reviewer ?? this.defaultReviewer(task.provider);
    // An agent with its own review mode reads the change itself (RunContext.review): its prompt says so, and carries no
    // diff it would never be sent.
    let prompt: string;
    if (this.parts.options.registry.get(choice.provider)?.capabilities.nativeReview) {
      prompt = nativeReviewPrompt(task);
    } else {
      const diff = await this.isolation.diff(id, { limit: REVIEW_DIFF_LINES });
      prompt = reviewPrompt(task, diff.text, diff.nextOffset !== undefined ? diff.totalLines : undefined);
    }
    return this.hooks.create(
      { prompt, provider: choice.provider, profile: choice.profile, model: choice.model, cwd: task.worktree.cwd, isolation: 'none', taskType: 'researcher', dependsOn: [], labels: ['review'] },
      { reviewOf: id },
    );
  }

  /**
   * A review task completed: its answer becomes its findings — unless the agent's own review mode already reported
   * them (RunOutcome.findings).
   */
  onStatus(task: TaskState): void {
    if (task.reviewOf === undefined || task.status !== 'completed') return;
    const findings = task.findings ?? parseFindings(task.result ?? '');
    if (task.findings === undefined) this.parts.store.update(task.id, { findings });
    const counts = SEVERITIES.map((severity) => [severity, findings.filter((finding) => finding.severity === severity).length] as const).filter(([, count]) => count > 0);
    this.parts.appendOutput(task.id, { kind: 'status', text: findings.length === 0 ? 'The review found nothing to report' : `Findings: ${counts.map(([severity, count]) => `${count} ${severity}`).join(', ')}` });
  }

  /** Continues the reviewed task with the chosen findings (all when none are named): a follow-up in its worktree. */
  async sendFindings(reviewId: string, findingIds?: readonly string[]): Promise<TaskSnapshot> {
    const review = this.parts.store.get(reviewId);
    if (!review) throw new Error(`Unknown task ${reviewId}`);
    if (review.reviewOf === undefined) throw new Error(`Task ${reviewId} is not a review`);
    const chosen = (review.findings ?? []).filter((finding) => !findingIds || findingIds.includes(finding.id));
    if (chosen.length === 0) throw new Error(`No findings of ${reviewId} to send`);
    const lines = chosen.map((finding, index) => {
      const where = finding.path ? ` (${finding.path}${finding.line !== undefined ? `:${finding.line}` : ''})` : '';
      return `${index + 1}. [${finding.severity}] ${finding.title}${where}\n${finding.body}`;
    });
    const message = `A reviewer (${review.provider}) looked at your change and found:\n\n${lines.join('\n\n')}\n\nAddress these findings in your change.`;
    return this.hooks.followUp(review.reviewOf, message);
  }
}

/** The reviewer's instructions: the change, the rules, and the one JSON shape to answer in. */
export function reviewPrompt(task: TaskState, diff: string, totalLines?: number): string {
  const cut = totalLines !== undefined ? `\n(The diff is cut at ${REVIEW_DIFF_LINES} of ${totalLines} lines; read the rest in the working folder with git diff ${task.worktree?.baseCommit ?? ''}.)` : '';
  return [
    ...reviewedTask(task),
    `The change against its base commit ${task.worktree?.baseCommit ?? ''} is below, and the files are in your working folder. This review is read-only: do not change any file.`,
    `\`\`\`diff\n${diff}\`\`\`${cut}`,
    'Answer with one JSON object and nothing else: {"findings": [{"path": "<file>", "line": <number>, "severity": "high" | "medium" | "low" | "info", "title": "<one line>", "body": "<what is wrong and how to fix it>"}]}. path and line are optional; an empty list means you found nothing.',
  ].join('\n\n');
}

/** The prompt of a review by an agent with its own review mode: what is reviewed, and how (the mode reads the diff). */
export function nativeReviewPrompt(task: TaskState): string {
  return [
    ...reviewedTask(task),
    `The reviewer reads the change against its base commit ${task.worktree?.baseCommit ?? ''} in its own review mode, in the task's worktree. This review is read-only: it changes no file.`,
  ].join('\n\n');
}

/**
 * What an agent's own review mode needs (RunContext.review) to review the change of `reviewed` for the review task
 * `review`: undefined when `review` is no review or the reviewed task has no worktree.
 */
export function reviewRequest(review: TaskState, reviewed: TaskState | undefined): ReviewRequest | undefined {
  const worktree = reviewed?.worktree;
  if (review.reviewOf === undefined || review.reviewOf !== reviewed?.id || !worktree) return undefined;
  const files = worktree.changes.files.slice(0, REVIEW_LISTED_FILES).map((file) => `${file.path} (${file.status})`);
  const more = worktree.changes.files.length - files.length;
  const about = [
    ...reviewedTask(reviewed),
    files.length > 0 ? `The files it changed against ${worktree.baseCommit}: ${files.join(', ')}${more > 0 ? ` and ${more} more` : ''}.` : undefined,
    'Part of the change may be uncommitted, and new files untracked: `git status` lists them, and a new file is read as it is. This review is read-only: do not change any file.',
  ];
  return { baseCommit: worktree.baseCommit, root: worktree.path, about: about.filter(Boolean).join('\n\n') };
}

/** The reviewed task, in the words of both review paths. */
function reviewedTask(task: TaskState): string[] {
  return [`Review the change another coding agent made for this task: "${taskTitle(task)}".`, `The task's prompt was:\n${task.prompt}`];
}

/**
 * A reviewer's answer as findings: the one JSON object `{"findings": [...]}` in it (extra text around it is
 * tolerated); anything else becomes one `info` finding carrying the text, never an error.
 */
export function parseFindings(text: string): Finding[] {
  for (const candidate of jsonObjects(text)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(candidate);
    } catch {
      continue;
    }
    const list = (parsed as { findings?: unknown })?.findings;
    if (!Array.isArray(list)) continue;
    return list.flatMap((item, index): Finding[] => {
      if (typeof item !== 'object' || item === null) return [];
      const raw = item as Record<string, unknown>;
      const title = typeof raw.title === 'string' && raw.title.trim() ? raw.title.trim() : undefined;
      const body = typeof raw.body === 'string' ? raw.body : '';
      if (!title && !body) return [];
      const severity = SEVERITIES.includes(raw.severity as Finding['severity']) ? (raw.severity as Finding['severity']) : 'info';
      const line = typeof raw.line === 'number' && Number.isInteger(raw.line) && raw.line > 0 ? raw.line : undefined;
      return [{ id: `f${index + 1}`, ...(typeof raw.path === 'string' && raw.path ? { path: raw.path } : {}), ...(line !== undefined ? { line } : {}), severity, title: title ?? body.split('\n')[0].slice(0, 120), body }];
    });
  }
  const trimmed = text.trim();
  return trimmed ? [{ id: 'f1', severity: 'info', title: 'The reviewer did not answer in the findings format', body: trimmed }] : [];
}

/** Balanced `{…}` spans of `text` (strings and escapes respected), longest-first from each opening brace. */
function* jsonObjects(text: string): Generator<string> {
  for (let start = text.indexOf('{'); start !== -1; start = text.indexOf('{', start + 1)) {
    let depth = 0;
    let inString = false;
    for (let i = start; i < text.length; i++) {
      const char = text[i];
      if (inString) {
        if (char === '\\') i++;
        else if (char === '"') inString = false;
      } else if (char === '"') inString = true;
      else if (char === '{') depth++;
      else if (char === '}' && --depth === 0) {
        yield text.slice(start, i + 1);
        break;
      }
    }
  }
}
