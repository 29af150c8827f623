/**
 * A TaskHandle for provider tests: records transcript entries, questions, usage and state, and lets the test answer
 * questions. Like the real manager, ask() rejects when the task's signal aborts or the question is withdrawn.
 */
import { QuestionWithdrawnError, type AccountLimits, type DistributiveOmit, type ResolvedProfile, type RunContext, type TaskHandle } from '../../src/core/ports';
import { silentLogger, type Logger } from '../../src/core/events';
import type { Answer, OutputEntry, PendingQuestion, TaskState, Usage } from '../../src/core/task-state';

interface Waiter<T> {
  match: (value: T) => boolean;
  resolve: (value: T) => void;
}

export class FakeHandle implements TaskHandle {
  /** Every appendOutput call, in order (an entry with a known id appears again each time it is replaced). */
  readonly appended: OutputEntry[] = [];
  /** Every question asked, in order. */
  readonly asked: PendingQuestion[] = [];
  readonly withdrawn: { requestId: string; reason: string }[] = [];
  readonly rateLimitInfo: Record<string, unknown>[] = [];
  /** Every title the agent gave, in order. */
  readonly titles: string[] = [];
  /** Every reportLimits call, in order. */
  readonly limits: AccountLimits[] = [];
  usage: Usage | undefined;
  sessionId: string | undefined;
  providerState: Record<string, unknown> | undefined;

  private readonly open = new Map<string, { question: PendingQuestion; resolve: (answer: Answer) => void; reject: (error: Error) => void }>();
  private readonly questionWaiters: Waiter<PendingQuestion>[] = [];
  private readonly entryWaiters: Waiter<OutputEntry>[] = [];

  constructor(
    readonly taskId: string,
    private readonly signal?: AbortSignal,
  ) {}

  /** The transcript as the UI shows it: one entry per id, in first-appearance order, latest content. */
  get transcript(): OutputEntry[] {
    const byId = new Map<string, OutputEntry>();
    const result: OutputEntry[] = [];
    for (const entry of this.appended) {
      if (entry.id === undefined) {
        result.push(entry);
        continue;
      }
      const known = byId.get(entry.id);
      if (known) result[result.indexOf(known)] = entry;
      else result.push(entry);
      byId.set(entry.id, entry);
    }
    return result;
  }

  /** Questions still waiting for an answer. */
  get pendingQuestions(): PendingQuestion[] {
    return [...this.open.values()].map((entry) => entry.question);
  }

  appendOutput(entry: Omit<OutputEntry, 'at'> & { at?: number }): void {
    const full: OutputEntry = { at: entry.at ?? Date.now(), ...entry };
    this.appended.push(full);
    this.notify(this.entryWaiters, full);
  }

  ask(draft: DistributiveOmit<PendingQuestion, 'askedAt'>): Promise<Answer> {
    const question = { ...draft, askedAt: Date.now() } as PendingQuestion;
    if (this.signal?.aborted) return Promise.reject(new Error('The task was aborted'));
    if (this.open.has(question.requestId)) return Promise.reject(new Error(`Duplicate question ${question.requestId}`));
    this.asked.push(question);
    return new Promise<Answer>((resolve, reject) => {
      const onAbort = () => {
        this.open.delete(question.requestId);
        reject(new Error('The task was aborted'));
      };
      this.signal?.addEventListener('abort', onAbort, { once: true });
      this.open.set(question.requestId, {
        question,
        resolve: (answer) => {
          this.signal?.removeEventListener('abort', onAbort);
          resolve(answer);
        },
        reject: (error) => {
          this.signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      this.notify(this.questionWaiters, question);
    });
  }

  withdrawQuestion(requestId: string, reason: string): void {
    this.withdrawn.push({ requestId, reason });
    const entry = this.open.get(requestId);
    if (!entry) return;
    this.open.delete(requestId);
    entry.reject(new QuestionWithdrawnError(requestId, reason));
  }

  reportUsage(usage: Usage): void {
    this.usage = usage;
  }

  setSessionId(sessionId: string): void {
    this.sessionId = sessionId;
  }

  setTitle(title: string): void {
    this.titles.push(title);
  }

  setProviderState(state: Record<string, unknown>): void {
    this.providerState = state;
  }

  reportRateLimitInfo(info: Record<string, unknown>): void {
    this.rateLimitInfo.push(info);
  }

  reportLimits(limits: AccountLimits): void {
    this.limits.push(limits);
  }

  /** Answers an open question (throws if it is not open, like the real API). */
  answer(requestId: string, answer: Answer): void {
    const entry = this.open.get(requestId);
    if (!entry) throw new Error(`Question ${requestId} is not pending (open: ${[...this.open.keys()].join(', ') || 'none'})`);
    this.open.delete(requestId);
    entry.resolve(answer);
  }

  /** Resolves with the first question (already asked or coming) that matches. */
  waitForQuestion(match: (question: PendingQuestion) => boolean = () => true, timeoutMs = 20_000): Promise<PendingQuestion> {
    const open = this.pendingQuestions.find(match);
    if (open) return Promise.resolve(open);
    return this.wait(this.questionWaiters, match, timeoutMs, 'question');
  }

  /** Resolves with the first entry (already appended or coming) that matches. */
  waitForEntry(match: (entry: OutputEntry) => boolean, timeoutMs = 20_000): Promise<OutputEntry> {
    const found = this.appended.find(match);
    if (found) return Promise.resolve(found);
    return this.wait(this.entryWaiters, match, timeoutMs, 'entry');
  }

  private wait<T>(waiters: Waiter<T>[], match: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = waiters.indexOf(waiter);
        if (index >= 0) waiters.splice(index, 1);
        reject(new Error(`No matching ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter<T> = {
        match,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
      };
      waiters.push(waiter);
    });
  }

  private notify<T>(waiters: Waiter<T>[], value: T): void {
    for (const waiter of [...waiters]) {
      if (!waiter.match(value)) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(value);
    }
  }
}

let taskCounter = 0;

/** A task snapshot with sensible defaults for provider tests. */
export function makeTask(overrides: Partial<TaskState> & Pick<TaskState, 'prompt' | 'cwd'>): TaskState {
  const now = Date.now();
  return {
    id: `test-task-${++taskCounter}`,
    status: 'running',
    provider: 'codex',
    taskType: 'coder',
    timestamps: { created: now, updated: now, started: now },
    output: [],
    dependsOn: [],
    labels: [],
    pendingQuestions: [],
    ...overrides,
  };
}

/** A RunContext for `task`, with its own AbortController. */
export function makeContext(
  task: TaskState,
  options: { profile?: ResolvedProfile; log?: Logger } = {},
): { context: RunContext; controller: AbortController; handle: FakeHandle } {
  const controller = new AbortController();
  const context: RunContext = { task, profile: options.profile, signal: controller.signal, log: options.log ?? silentLogger };
  return { context, controller, handle: new FakeHandle(task.id, controller.signal) };
}
