// The host side of second opinions over MCP (DESIGN §9): several agents attempting one prompt (spawn_task with
// attempts) and a review of a delegated task's change by another agent (review_task). What they start becomes the
// asking client's, under the same spawn limit as spawn_task. Picking an attempt (a merge) stays the user's.
import type { SecondOpinions } from '../core/second-opinions';
import type { CreateTaskInput, OutputEntry, TaskState } from '../core/task-state';
import type { AttemptsParams, ReviewParams, SpawnParams, WireAttempts, WireTask } from './protocol';
import type { TaskLookups } from './host-worktrees';
import { attemptChoices, byClient, reviewerChoice } from './spawn-input';

/** The tasks as the second-opinion requests use them (TaskManager has it all). */
export interface OpinionTasks {
  /** DESIGN §9 (throws where task worktrees are not available). */
  readonly secondOpinions: Pick<SecondOpinions, 'createAttempts' | 'reviewTask' | 'defaultReviewer'>;
  appendOutput(id: string, entry: Omit<OutputEntry, 'at'>): void;
}

/** What the host server decides for these requests: who may read what, spawn inputs, and starting tasks for a client. */
export interface OpinionLookups<Caller> extends Pick<TaskLookups<Caller>, 'readable' | 'wire'> {
  /** A spawn's checked input (its dependencies must be the caller's). */
  spawnInput(params: SpawnParams, caller: Caller): CreateTaskInput;
  /**
   * Runs `start` (which starts at most `count` tasks) within the spawn limit; every task it resolves with becomes the
   * caller's and gets `note(task, index)` as an `[mcp]` status entry.
   */
  startFor(caller: Caller, count: number, note: (task: TaskState, index: number) => string, start: () => Promise<readonly { id: string }[]>): Promise<TaskState[]>;
}

export class OpinionRequests<Caller = void> {
  constructor(
    private readonly tasks: OpinionTasks,
    private readonly lookups: OpinionLookups<Caller>,
  ) {}

  /** One isolated task per agent on the same prompt, in one attempt group; all start or none does. */
  async attempts(params: AttemptsParams, caller: Caller): Promise<WireAttempts> {
    const agents = attemptChoices(params.attempts);
    if (params.provider !== undefined) throw new Error('With attempts, name the provider in each attempt, not beside them');
    if (params.isolation === 'none') throw new Error('Attempts each run in a git worktree of their own: isolation "none" is not possible with attempts');
    const { attempts: _agents, ...spawn } = params;
    const input = this.lookups.spawnInput(spawn, caller);
    const by = byClient(params.client);
    const tasks = await this.lookups.startFor(
      caller,
      agents.length,
      (task, index) => `Delegated over MCP${by}: attempt ${index + 1} of ${agents.length} on one prompt (${task.attemptGroup ?? ''})`,
      () => this.tasks.secondOpinions.createAttempts(input, agents),
    );
    return { attemptGroup: tasks[0]?.attemptGroup ?? '', tasks: tasks.map((task) => this.lookups.wire(task)) };
  }

  /** A read-only review of a finished task the client delegated; the review task is the client's too. */
  async review(params: ReviewParams, caller: Caller): Promise<WireTask> {
    const task = this.lookups.readable(params.taskId, caller);
    const opinions = this.tasks.secondOpinions;
    const reviewer = reviewerChoice(params as unknown as Record<string, unknown>, () => opinions.defaultReviewer(task.provider).provider);
    const by = byClient(params.client);
    const [review] = await this.lookups.startFor(caller, 1, () => `Review of ${task.id} asked for over MCP${by}`, async () => [await opinions.reviewTask(task.id, reviewer)]);
    this.tasks.appendOutput(task.id, { kind: 'status', text: `[mcp] The delegating agent asked ${review.provider} to review this change (review task ${review.id})` });
    return this.lookups.wire(review);
  }
}
