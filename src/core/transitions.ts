// Where a task changes state: the only code that writes a task's `status`, as named moves. The store checks each
// write against the FSM table (fsm.ts); these moves say why it happens.
import { canTransition } from './fsm';
import type { TaskPatch, TaskStore } from './task-store';
import { isTerminal, type OutputEntry, type PendingQuestion, type TaskStatus } from './task-state';

type Fields = Omit<TaskPatch, 'status'>;
type AppendOutput = (id: string, entry: Omit<OutputEntry, 'at'> & { at?: number }) => void;

export class Transitions {
  constructor(
    private readonly store: TaskStore,
    private readonly appendOutput: AppendOutput,
    /** Called after a task reached a terminal state (forget its timers, evict old tasks). */
    private readonly onFinished: (id: string, status: TaskStatus) => void,
  ) {}

  /** A new task waits for its dependencies unless all of them completed. */
  initial(dependenciesDone: boolean): TaskStatus {
    return dependenciesDone ? 'pending' : 'waiting';
  }

  /** waiting → pending: its dependencies completed. */
  release(id: string): void {
    this.set(id, 'pending');
  }

  /** pending → running: the scheduler gave the task a slot. */
  start(id: string, fields: Fields): void {
    this.store.update(id, { ...fields, status: 'running' });
  }

  /** waiting_answer → running: a restored task is reconnected; its questions are asked again by the agent. */
  reconnect(id: string): void {
    if (this.store.get(id)?.status === 'waiting_answer') this.set(id, 'running');
  }

  /** Back in the queue (rate limit over, failover to another profile, or recovered after a reload). */
  requeue(id: string, fields: Fields = {}): void {
    this.store.update(id, { ...fields, status: 'pending' });
  }

  /** running → waiting_answer: the agent asked; `questions` is the new list of open questions. */
  ask(id: string, questions: PendingQuestion[]): void {
    const task = this.store.get(id);
    if (!task) return;
    this.store.update(id, { pendingQuestions: questions, status: task.status === 'running' ? 'waiting_answer' : task.status });
  }

  /**
   * A question was answered or withdrawn; `remaining` are still open. With none left (and `resumeRunning`), a
   * task waiting on them is running again; otherwise its status is left for the terminal state that follows.
   */
  answered(id: string, remaining: PendingQuestion[], resumeRunning = true): void {
    const task = this.store.get(id);
    if (!task) return;
    const running = resumeRunning && remaining.length === 0 && task.status === 'waiting_answer';
    this.store.update(id, { pendingQuestions: remaining, status: running ? 'running' : task.status });
  }

  /** → rate_limited (through running when the agent hit the limit while waiting on an answer). */
  rateLimited(id: string, fields: Fields): void {
    if (this.store.get(id)?.status === 'waiting_answer') this.store.update(id, { status: 'running' });
    this.store.update(id, { ...fields, status: 'rate_limited' });
  }

  /** Moves a task to a terminal state with a transcript line, going through `running` when the FSM requires it. */
  finish(id: string, status: TaskStatus, patch: Fields, line?: string, kind: OutputEntry['kind'] = 'status'): void {
    const task = this.store.get(id);
    if (!task || isTerminal(task.status)) return;
    if (!canTransition(task.status, status) && canTransition(task.status, 'running') && canTransition('running', status)) {
      this.store.update(id, { status: 'running' });
    }
    if (line) this.appendOutput(id, { kind, text: line });
    this.store.update(id, { ...patch, status, pendingQuestions: [] });
    this.onFinished(id, status);
  }

  private set(id: string, status: TaskStatus): void {
    const task = this.store.get(id);
    if (task && task.status !== status) this.store.update(id, { status });
  }
}
