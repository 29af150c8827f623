// A task's input: checked (createTask), or made from another task: Retry and Follow-up build it here, in one place, because they differ
// exactly where it matters (a retry starts over; a follow-up continues the same session on the same account).
import { adjectives, animals, NumberDictionary, uniqueNamesGenerator } from 'unique-names-generator';
import type { ProfileConfig, ProfileManager } from './profiles';
import type { ProviderRegistry } from './provider-registry';
import { ISOLATIONS, TASK_TYPES, type CreateTaskInput, type Isolation, type TaskState, type TaskTypeName } from './task-state';

/** Extra fields for tasks made by Retry and Follow-up. */
export interface CreateTaskLinks {
  parentId?: string;
  continueSession?: boolean;
  sessionId?: string;
  /** DESIGN §9: attempts launched together share it. */
  attemptGroup?: string;
  /** DESIGN §9: a review task names the task it reviews. */
  reviewOf?: string;
}

/**
 * The input of a task made from a finished one. A retry starts over with the same settings (on a pinned profile
 * only); a follow-up sends `message` into the same session, so it stays on the account that holds it.
 */
export function inputFrom(task: TaskState, how: { kind: 'retry' } | { kind: 'followUp'; message: string }): { input: CreateTaskInput; links: CreateTaskLinks } {
  const input: CreateTaskInput = {
    prompt: how.kind === 'retry' ? task.prompt : how.message,
    provider: task.provider,
    taskType: task.taskType,
    model: task.model,
    cwd: task.cwd,
    labels: task.labels,
    timeoutMinutes: task.timeoutMs !== undefined ? task.timeoutMs / 60_000 : 0,
    profile: how.kind === 'retry' ? (task.profilePinned ? task.profile : undefined) : task.profile,
    isolation: task.isolation,
  };
  const links: CreateTaskLinks = how.kind === 'retry' ? { parentId: task.id } : { parentId: task.id, continueSession: true, sessionId: task.sessionId };
  // A review stays a (read-only) review, and an attempt stays in its group, whether retried or continued (DESIGN §9).
  if (task.reviewOf !== undefined) links.reviewOf = task.reviewOf;
  if (task.attemptGroup !== undefined) links.attemptGroup = task.attemptGroup;
  return { input, links };
}

/** What createTask needs to check an input against. */
export interface InputContext {
  settings(): { defaultProvider: string; defaultTimeoutMinutes: number; isolation?: Isolation };
  registry: ProviderRegistry;
  profiles: ProfileManager;
  defaultCwd(): string | undefined;
}

/** A createTask input, checked and with its defaults filled in. */
export interface CheckedInput {
  prompt: string;
  provider: string;
  taskType: TaskTypeName;
  profile?: ProfileConfig;
  model?: string;
  cwd: string;
  dependsOn: string[];
  labels: string[];
  timeoutMs?: number;
  isolation: Isolation;
}

/** Checks a createTask input (it may come from another extension or an MCP client); throws a message saying what is wrong. */
export function checkedInput(input: CreateTaskInput, context: InputContext): CheckedInput {
  if (typeof input !== 'object' || input === null) throw new Error('createTask needs an object with a prompt');
  const prompt = typeof input.prompt === 'string' ? input.prompt.trim() : '';
  if (!prompt) throw new Error('A task needs a prompt');
  const settings = context.settings();
  const provider = input.provider ?? settings.defaultProvider;
  if (!context.registry.has(provider)) {
    const known = context.registry.list().map((adapter) => adapter.id).join(', ') || 'none';
    throw new Error(`Unknown provider "${provider}". Available providers: ${known}`);
  }
  const taskType = input.taskType ?? 'general';
  if (!TASK_TYPES.includes(taskType)) throw new Error(`Unknown task type "${String(taskType)}"; use one of ${TASK_TYPES.join(', ')}`);
  let profile: ProfileConfig | undefined;
  if (input.profile !== undefined) {
    profile = context.profiles.get(input.profile);
    if (!profile) throw new Error(`Unknown profile "${input.profile}": add it to the agentTasks.profiles setting`);
    if (profile.provider !== provider) throw new Error(`Profile "${input.profile}" belongs to ${profile.provider}, not ${provider}`);
  }
  if (input.model !== undefined && typeof input.model !== 'string') throw new Error('model must be a string');
  const cwd = input.cwd ?? context.defaultCwd();
  if (!cwd) throw new Error('No folder is open: open a folder or pass cwd to run a task');
  const dependsOn = [...new Set(input.dependsOn ?? [])];
  if (!Array.isArray(input.dependsOn ?? []) || dependsOn.some((dep) => typeof dep !== 'string')) throw new Error('dependsOn must be a list of task ids');
  const labels = Array.isArray(input.labels) ? input.labels.filter((label): label is string => typeof label === 'string') : [];
  const isolation = input.isolation ?? settings.isolation ?? 'worktree';
  if (!ISOLATIONS.includes(isolation)) throw new Error(`Unknown isolation "${String(isolation)}"; use ${ISOLATIONS.join(' or ')}`);
  const minutes = input.timeoutMinutes ?? settings.defaultTimeoutMinutes;
  if (typeof minutes !== 'number' || !Number.isFinite(minutes) || minutes < 0) throw new Error('timeoutMinutes must be a number ≥ 0');
  return { prompt, provider, taskType, profile, model: input.model, cwd, dependsOn, labels, timeoutMs: minutes > 0 ? Math.round(minutes * 60_000) : undefined, isolation };
}

/** A readable task id (`brave-otter-123`) that `taken` does not know yet. */
export function newTaskId(taken: (id: string) => boolean): string {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const id = uniqueNamesGenerator({
      dictionaries: [adjectives, animals, NumberDictionary.generate({ min: 100, max: 999 })],
      separator: '-',
      length: 3,
      style: 'lowerCase',
    }).replace(/[^a-z0-9-]/g, '');
    if (!taken(id)) return id;
  }
  throw new Error('Could not find a free task id');
}
