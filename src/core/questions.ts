// How a question reaches the user and an answer gets back: the TaskHandle an adapter asks through, question
// timeouts, and withdrawing what the agent no longer waits on. The panel and MCP listen to onDidAskQuestion.
import { answerProblem, declineAnswer, describeAnswer, questionRoot, summarizeQuestion } from './answers';
import { QuestionWithdrawnError, type TaskHandle } from './ports';
import type { ActiveRun, ManagerParts, PendingAnswer } from './task-runner';
import { isTerminal, type Answer, type PendingQuestion } from './task-state';
import { cleanAgentTitle } from './task-title';
import { defaultAccountKey } from './profiles';

export class Questions {
  constructor(
    private readonly parts: ManagerParts,
    /** Tells listeners (the panel, notifications, MCP) a question is open. */
    private readonly announce: (taskId: string, question: PendingQuestion) => void,
  ) {}

  /** Validates and delivers the user's answer to the run waiting on it. */
  answer(taskId: string, requestId: string, answer: Answer): void {
    const task = this.parts.store.get(taskId);
    if (!task) throw new Error(`Unknown task ${taskId}`);
    const pending = this.parts.runs.get(taskId)?.questions.get(requestId);
    if (!pending) {
      throw new Error(`Task ${taskId} is not waiting on request ${requestId}: it was already answered, withdrawn, or the task stopped`);
    }
    const problem = answerProblem(pending.question, answer);
    if (problem) throw new Error(problem);
    this.settle(taskId, requestId, answer, describeAnswer(pending.question, answer, questionRoot(task)));
  }

  /** The adapter's only way to affect its task; every call is ignored once the run is over. */
  handleFor(id: string, run: ActiveRun): TaskHandle {
    const { store, options } = this.parts;
    const live = (): boolean => this.parts.runs.get(id) === run && !this.parts.disposed;
    return {
      taskId: id,
      appendOutput: (entry) => {
        if (live()) this.parts.appendOutput(id, { ...entry, at: entry.at ?? options.clock.now() });
      },
      ask: (question) =>
        new Promise<Answer>((resolve, reject) => {
          if (!live() || run.controller.signal.aborted) {
            reject(new QuestionWithdrawnError(question.requestId, 'The task is no longer running'));
            return;
          }
          const full = { ...question, askedAt: options.clock.now() } as PendingQuestion;
          if (full.type === 'file_approval' && store.get(id)?.reviewOf !== undefined) {
            // DESIGN §9: a review task is read-only; its file changes are declined, never approved, and it says so.
            const files = full.fileChanges.map((change) => change.path).join(', ');
            this.parts.appendOutput(id, { kind: 'status', text: `Declined a file change (${files}): a review task is read-only` });
            resolve({ decision: 'deny', message: 'This is a read-only review: do not change any file. Report what you found as findings instead.' });
            return;
          }
          const previous = run.questions.get(full.requestId);
          if (previous) this.settle(id, full.requestId, undefined, 'Replaced by a newer request');
          const pending: PendingAnswer = { question: full, resolve, reject };
          run.questions.set(full.requestId, pending);
          const task = store.get(id);
          if (!task) return;
          this.parts.appendOutput(id, { kind: 'status', text: `Waiting for your answer: ${summarizeQuestion(full, questionRoot(task))}` });
          this.parts.moves.ask(id, [...task.pendingQuestions.filter((q) => q.requestId !== full.requestId), full]);
          const minutes = options.settings().questionTimeoutMinutes;
          if (minutes > 0) {
            pending.timer = options.clock.setTimeout(() => this.expire(id, full.requestId, minutes), minutes * 60_000);
          }
          this.announce(id, full);
        }),
      withdrawQuestion: (requestId, reason) => {
        if (live()) this.settle(id, requestId, undefined, reason);
      },
      reportUsage: (usage) => {
        if (live()) store.update(id, { usage: { ...usage } });
      },
      setSessionId: (sessionId) => {
        if (live() && store.get(id)?.sessionId !== sessionId) store.update(id, { sessionId });
      },
      setTitle: (raw) => {
        const title = cleanAgentTitle(raw);
        if (live() && title && store.get(id)?.title !== title) store.update(id, { title });
      },
      setProviderState: (state) => {
        if (live()) store.update(id, { providerState: { ...state } });
      },
      reportLimits: (limits) => {
        const task = store.get(id);
        if (!live() || !task) return;
        options.profiles.setLimits(task.profile ?? defaultAccountKey(task.provider), limits);
        options.stateFile?.scheduleSave();
      },
      reportRateLimitInfo: (info) => {
        const profile = store.get(id)?.profile;
        if (live() && profile) {
          options.profiles.setRateLimitInfo(profile, info);
          options.stateFile?.scheduleSave();
        }
      },
    };
  }

  private expire(id: string, requestId: string, minutes: number): void {
    const pending = this.parts.runs.get(id)?.questions.get(requestId);
    // After dispose the question belongs to the next window (it re-attaches or resumes): never answer it from here.
    if (!pending || this.parts.disposed) return;
    const answer = declineAnswer(pending.question);
    const task = this.parts.store.get(id);
    const summary = summarizeQuestion(pending.question, task && questionRoot(task));
    this.settle(id, requestId, answer, `[timeout] No answer after ${minutes} min: ${summary} was declined`);
  }

  /** Resolves (with an answer) or withdraws (without) one question, and updates the task. */
  private settle(id: string, requestId: string, answer: Answer | undefined, line: string): void {
    const run = this.parts.runs.get(id);
    const pending = run?.questions.get(requestId);
    if (!run || !pending) return;
    run.questions.delete(requestId);
    if (pending.timer !== undefined) this.parts.options.clock.clearTimeout(pending.timer);
    const task = this.parts.store.get(id);
    if (task) {
      const remaining = task.pendingQuestions.filter((q) => q.requestId !== requestId);
      this.parts.appendOutput(id, { kind: answer ? 'user' : 'status', text: line });
      this.parts.moves.answered(id, remaining);
    }
    if (answer) pending.resolve(answer);
    else pending.reject(new QuestionWithdrawnError(requestId, line));
  }

  /**
   * Rejects every open question of a run. When the agent is still going (`resumeRunning`), a task waiting on
   * them is running again; when it is being stopped, the status is left for the terminal state that follows
   * (waiting_answer → cancelled directly, never through a running the user did not see).
   */
  withdrawAll(id: string, run: ActiveRun, reason: string, resumeRunning: boolean): void {
    for (const [requestId, pending] of [...run.questions]) {
      run.questions.delete(requestId);
      if (pending.timer !== undefined) this.parts.options.clock.clearTimeout(pending.timer);
      pending.reject(new QuestionWithdrawnError(requestId, reason));
    }
    const task = this.parts.store.get(id);
    if (task && task.pendingQuestions.length > 0 && !isTerminal(task.status)) this.parts.moves.answered(id, [], resumeRunning);
  }
}
