// What a delegating agent may ask to start — a task (spawn_task), several attempts at one prompt, a reviewer — checked
// on the host before anything starts, so a wrong input is refused with a message that says what to fix.
import { ISOLATIONS, TASK_TYPES, type AgentChoice, type CreateTaskInput } from '../core/task-state';
import { DELEGATED_LABEL, MAX_ATTEMPTS, type SpawnParams } from './protocol';

/** Refuses an `isolation` that is neither `worktree` nor `none`. */
export function checkIsolation(isolation: unknown): void {
  if (isolation !== undefined && !ISOLATIONS.includes(isolation as never)) throw new Error(`isolation must be one of ${ISOLATIONS.join(', ')}`);
}

/**
 * The task input for a spawn: an agent may set these fields only (no cwd, no profile), and always gets the
 * DELEGATED_LABEL. `readable` throws for a dependency the client may not read (its outcome decides this task's).
 */
export function spawnInput(params: SpawnParams, readable: (id: string) => void): CreateTaskInput {
  if (typeof params.prompt !== 'string' || !params.prompt.trim()) throw new Error('spawn_task needs a prompt');
  if (params.taskType !== undefined && !TASK_TYPES.includes(params.taskType)) throw new Error(`taskType must be one of ${TASK_TYPES.join(', ')}`);
  optionalStrings(params, ['provider', 'model']);
  if (params.timeoutMinutes !== undefined && (typeof params.timeoutMinutes !== 'number' || !Number.isFinite(params.timeoutMinutes))) {
    throw new Error('timeoutMinutes must be a number');
  }
  if (params.dependsOn !== undefined && (!Array.isArray(params.dependsOn) || !params.dependsOn.every((id) => typeof id === 'string'))) {
    throw new Error('dependsOn must be a list of task ids');
  }
  for (const id of params.dependsOn ?? []) readable(id);
  checkIsolation(params.isolation);
  const labels = Array.isArray(params.labels) ? params.labels.filter((label): label is string => typeof label === 'string') : [];
  return {
    prompt: params.prompt,
    provider: params.provider,
    taskType: params.taskType,
    model: params.model,
    dependsOn: params.dependsOn,
    labels: [...new Set([...labels, DELEGATED_LABEL])],
    timeoutMinutes: params.timeoutMinutes,
    isolation: params.isolation,
  };
}

/** DESIGN §9: the agents of spawn_task's `attempts`, 1 to MAX_ATTEMPTS of `{provider, profile?, model?}`. */
export function attemptChoices(attempts: unknown): AgentChoice[] {
  const shape = 'attempts must be a list of {provider, profile?, model?}, one per agent';
  if (!Array.isArray(attempts)) throw new Error(shape);
  if (attempts.length === 0) throw new Error(`${shape}: it is empty`);
  if (attempts.length > MAX_ATTEMPTS) throw new Error(`At most ${MAX_ATTEMPTS} attempts at once (${attempts.length} were asked for)`);
  return attempts.map((attempt: unknown, index) => {
    const where = `attempts[${index}]`;
    if (typeof attempt !== 'object' || attempt === null || Array.isArray(attempt)) throw new Error(`${where} must be an object: ${shape}`);
    const fields = attempt as Record<string, unknown>;
    const extra = Object.keys(fields).filter((key) => !['provider', 'profile', 'model'].includes(key));
    if (extra.length > 0) throw new Error(`${where} has ${extra.join(', ')}: an attempt takes only provider, profile and model`);
    if (typeof fields.provider !== 'string' || !fields.provider.trim()) throw new Error(`${where} needs a provider, e.g. "codex" or "claude-cli"`);
    return choice(fields, where);
  });
}

/**
 * The reviewer review_task asks for: none (the default: the first provider other than the author's), a provider
 * (with its profile and model), or only a model for the default provider. A profile belongs to one provider, so it
 * needs the provider named.
 */
export function reviewerChoice(params: Record<string, unknown>, defaultProvider: () => string): AgentChoice | undefined {
  if (params.provider === undefined) {
    if (params.profile !== undefined) throw new Error('profile is an account of one provider: name the provider too');
    optionalStrings(params, ['model']);
    return params.model === undefined ? undefined : { provider: defaultProvider(), model: params.model as string };
  }
  if (typeof params.provider !== 'string' || !params.provider.trim()) throw new Error('provider must be the name of an agent, e.g. "codex" or "claude-cli"');
  return choice(params, 'the reviewer');
}

/** " by <client name>", for the transcript and the log. */
export function byClient(client: unknown): string {
  return typeof client === 'string' && client ? ` by ${client.slice(0, 80)}` : '';
}

function choice(fields: Record<string, unknown>, where: string): AgentChoice {
  optionalStrings(fields, ['profile', 'model'], where);
  return {
    provider: fields.provider as string,
    ...(fields.profile !== undefined ? { profile: fields.profile as string } : {}),
    ...(fields.model !== undefined ? { model: fields.model as string } : {}),
  };
}

function optionalStrings(fields: object, keys: readonly string[], where?: string): void {
  for (const key of keys) {
    const value = (fields as Record<string, unknown>)[key];
    if (value !== undefined && typeof value !== 'string') throw new Error(`${where ? `${where}: ` : ''}${key} must be a string`);
  }
}
