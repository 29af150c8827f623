import type { TaskManager } from '../core/task-manager';
import type { Answer } from '../core/task-state';
import { questionHash } from './question-hash';

/**
 * Sends an answer bound to (taskId, requestId) and to the hash of the question the user saw. A request that is
 * gone or changed is refused with a message, and an answer already on its way is not sent twice.
 */
export class AnswerGate {
  private readonly inFlight = new Set<string>();

  constructor(private readonly manager: TaskManager) {}

  async answer(taskId: string, requestId: string, answer: Answer, payloadHash?: string): Promise<void> {
    const key = `${taskId}\0${requestId}`;
    if (this.inFlight.has(key)) throw new Error('This answer is already being sent');
    const task = this.manager.peek(taskId);
    if (!task) throw new Error(`Task ${taskId} no longer exists`);
    const question = task.pendingQuestions.find((q) => q.requestId === requestId);
    if (!question) throw new Error(`Task ${taskId} is no longer waiting on this request: it was answered, withdrawn, or the task stopped`);
    if (payloadHash !== undefined && questionHash(taskId, question) !== payloadHash) {
      throw new Error(`The request of task ${taskId} changed since it was shown; nothing was sent. Review it again.`);
    }
    this.inFlight.add(key);
    try {
      await this.manager.answer(taskId, requestId, answer);
    } finally {
      this.inFlight.delete(key);
    }
  }
}
