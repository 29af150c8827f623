import type { Disposable } from './events';
import { TASK_STATUSES, isTerminal, type TaskState } from './task-state';
import type { TaskStore } from './task-store';
import type { TranscriptStore } from './transcript';

/**
 * Task records in the transcripts (DESIGN §5): every task's transcript carries the task as it was at its creation and
 * after every change that restoring it needs (status, session, profile, provider state). state.json stays the fast
 * path; the records let a lost, corrupt or stale state.json be rebuilt without losing a task.
 */
export class TaskRecorder implements Disposable {
  private readonly written = new Map<string, string>();
  private readonly subscription: Disposable;

  constructor(store: TaskStore, private readonly transcripts: TranscriptStore, private readonly now: () => number) {
    this.subscription = store.onDidChange((change) => {
      if (change.kind === 'deleted') this.written.delete(change.task.id);
      else this.write(change.task);
    });
  }

  /** A task restored from disk: its transcript already holds a record of this state, so none is written again. */
  restored(task: TaskState): void {
    this.written.set(task.id, recordKey(task));
  }

  private write(task: TaskState): void {
    const key = recordKey(task);
    if (this.written.get(task.id) === key) return;
    this.written.set(task.id, key);
    this.transcripts.appendRecord(recordOf(task), this.now());
  }

  dispose(): void {
    this.subscription.dispose();
  }
}

/** What a record must follow: when any of these changed since the last record, a new one is written. */
function recordKey(task: TaskState): string {
  return JSON.stringify([task.status, task.sessionId, task.title, task.profile, task.providerState, task.error, task.result, task.model, task.parentId, task.isolation, task.worktree?.state, task.worktree?.path, task.worktree?.baseCommit]);
}

/** The task without what must not or need not be on disk twice: its output ring and the open questions' contents. */
function recordOf(task: TaskState): TaskState {
  return { ...task, output: [], pendingQuestions: [] };
}

export interface RebuildResult {
  tasks: TaskState[];
  /** One line per task taken from a transcript: `id (status)`. */
  rebuilt: string[];
}

const KNOWN_STATUSES = new Set<string>(TASK_STATUSES);

/**
 * Merges the newest transcript records into the tasks that were loaded. `complete` (state.json was lost or corrupt):
 * every transcript is read. Otherwise only transcripts of tasks state.json does not know and of its unfinished tasks
 * (a crash between a change and the next save) are read, so a normal activation stays cheap.
 */
export function rebuildFromRecords(loaded: readonly TaskState[], transcripts: TranscriptStore, complete: boolean): RebuildResult {
  const byId = new Map(loaded.map((task) => [task.id, task]));
  const rebuilt: string[] = [];
  for (const id of transcripts.listTaskIds()) {
    const known = byId.get(id);
    if (!complete && known && isTerminal(known.status)) continue;
    const record = transcripts.readLastRecord(id);
    if (!record || !KNOWN_STATUSES.has(record.task.status)) continue;
    // Every status change writes a record before any save can hold it, so a record whose status differs is newer.
    if (known && record.task.status === known.status && record.task.timestamps.updated <= known.timestamps.updated) continue;
    byId.set(id, { ...record.task, output: [], pendingQuestions: [], dependsOn: record.task.dependsOn ?? [], labels: record.task.labels ?? [] });
    rebuilt.push(`${id} (${record.task.status.replace('_', ' ')})`);
  }
  const tasks = [...byId.values()].sort((a, b) => a.timestamps.created - b.timestamps.created);
  return { tasks, rebuilt };
}
