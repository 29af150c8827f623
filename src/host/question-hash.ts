import { createHash } from 'node:crypto';
import type { PendingQuestion } from '../core/task-state';

/** A hash of exactly what the user was shown; an answer carrying another hash is refused. */
export function questionHash(taskId: string, question: PendingQuestion): string {
  return createHash('sha256').update(taskId).update('\0').update(JSON.stringify(question)).digest('hex').slice(0, 32);
}
