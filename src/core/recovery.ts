// After a reload: load the persisted tasks and pick up the ones that were live (DESIGN §5).
import type { TimerHandle } from './clock';
import { NewerStateVersionError, type LoadResult } from './persistence';
import type { ProviderAdapter } from './ports';
import { scheduleRateLimitRetry } from './failover';
import { rebuildFromRecords } from './task-records';
import { WorktreeJobs } from './worktree-jobs';
import type { ManagerParts } from './task-runner';
import { isTerminal, type TaskState } from './task-state';

/** How long a restored task waits for its provider to register before it becomes unknown. */
export const PROVIDER_WAIT_MS = 15_000;

export class Recovery {
  private readonly awaitingProvider = new Map<string, 'resume'>();
  /** Tasks to reconnect once the workspace is trusted (M3): no agent starts in an untrusted workspace. */
  private readonly awaitingTrust = new Set<string>();
  private providerWaitTimer: TimerHandle | undefined;

  constructor(
    private readonly parts: ManagerParts,
    /** Reattaches a task's run (TaskRunner.launch in resume mode). */
    private readonly resume: (id: string, adapter: ProviderAdapter) => void,
    /** Told of each task about to be restored (its transcript already holds a record of it). */
    private readonly onRestored: (task: TaskState) => void = () => undefined,
  ) {}

  /** Loads persisted tasks and recovers the ones that were live. Returns the warnings the user must see. */
  restore(): string[] {
    const { store, options } = this.parts;
    const stateFile = options.stateFile;
    if (!stateFile) return [];
    let loaded: LoadResult;
    try {
      loaded = stateFile.load();
    } catch (error) {
      if (error instanceof NewerStateVersionError) return [error.message];
      throw error;
    }
    options.profiles.load(loaded.state.profiles);
    const warnings = [...loaded.warnings];
    let tasks = loaded.state.tasks;
    if (options.transcripts) {
      // Anything state.json (or its backup) lacks is rebuilt from the task records in the transcripts.
      const rebuild = rebuildFromRecords(tasks, options.transcripts, loaded.source !== 'state');
      tasks = rebuild.tasks;
      if (rebuild.rebuilt.length > 0) {
        warnings.push(rebuiltWarning(rebuild.rebuilt));
        options.log.warn(`Rebuilt from transcripts: ${rebuild.rebuilt.join(', ')}`);
      }
    }
    const live: TaskState[] = [];
    for (const raw of tasks) {
      const task: TaskState = { ...raw, output: [], pendingQuestions: [], dependsOn: raw.dependsOn ?? [], labels: raw.labels ?? [] };
      if (task.check) task.check = WorktreeJobs.restoredCheck(task.check);
      if (store.has(task.id)) continue;
      this.onRestored(task);
      store.add(task);
      if (!isTerminal(task.status)) live.push(task);
    }
    for (const task of live) this.recover(task);
    this.parts.scheduler.pump();
    // Whatever was rebuilt is saved at once, so the next activation finds it in state.json.
    if (tasks !== loaded.state.tasks) stateFile.scheduleSave();
    return warnings;
  }

  private recover(task: TaskState): void {
    switch (task.status) {
      case 'waiting':
      case 'pending':
        this.parts.appendOutput(task.id, { kind: 'status', text: '[recovery] Re-queued after the window reloaded' });
        break;
      case 'rate_limited': {
        const now = this.parts.options.clock.now();
        if (task.retryAt !== undefined && task.retryAt > now) {
          // The wait survives the reload: the task resumes when the limit resets, as it would have.
          const at = new Date(task.retryAt).toLocaleTimeString();
          this.parts.appendOutput(task.id, { kind: 'status', text: `[recovery] Still rate limited after the window reloaded; resumes at ${at}` });
          scheduleRateLimitRetry(this.parts, task.id, task.retryAt, task.profile);
          break;
        }
        this.parts.appendOutput(task.id, { kind: 'status', text: '[recovery] Re-queued after the window reloaded (was rate limited)' });
        this.parts.moves.requeue(task.id, { retryAt: undefined });
        break;
      }
      case 'running':
      case 'waiting_answer':
        if (!this.parts.options.registry.has(task.provider)) {
          this.awaitingProvider.set(task.id, 'resume');
          this.armProviderWait();
        } else this.resumeTask(task.id);
        break;
      default:
        break;
    }
  }

  private resumeTask(id: string): void {
    const { store, options, moves } = this.parts;
    const task = store.get(id);
    if (!task || isTerminal(task.status)) return;
    const adapter = options.registry.get(task.provider);
    if (!adapter?.resume) {
      const why = adapter
        ? `${adapter.displayName} cannot resume a session after the window reloads`
        : `provider ${task.provider} is not available`;
      moves.finish(id, 'unknown', { error: `Lost when the window reloaded: ${why}` }, `[recovery] The agent process was lost and ${why}; the task's outcome is unknown`);
      return;
    }
    if (!options.isTrusted()) {
      if (!this.awaitingTrust.has(id)) {
        this.awaitingTrust.add(id);
        this.parts.appendOutput(id, { kind: 'status', text: `[recovery] Waiting for workspace trust before reconnecting to ${adapter.displayName}` });
      }
      return;
    }
    moves.reconnect(id);
    store.update(id, { recovered: true });
    this.parts.appendOutput(id, { kind: 'status', text: `[recovery] Reconnecting to ${adapter.displayName} after the window reloaded` });
    if (task.timeoutAt !== undefined) this.parts.scheduler.setDeadline(id, task.timeoutAt);
    this.resume(id, adapter);
  }

  /** A provider registered (or went away): resume the tasks that waited for it. */
  onProvidersChanged(): void {
    for (const [id] of [...this.awaitingProvider]) {
      const task = this.parts.store.get(id);
      if (!task || !this.parts.options.registry.has(task.provider)) continue;
      this.awaitingProvider.delete(id);
      this.resumeTask(id);
    }
    this.parts.scheduler.pump();
  }

  /** The workspace became trusted: reconnect the tasks that waited for it. */
  trustGranted(): void {
    for (const id of [...this.awaitingTrust]) {
      this.awaitingTrust.delete(id);
      this.resumeTask(id);
    }
  }

  /** The task is being stopped: it no longer waits for its provider or for trust. */
  forget(id: string): void {
    this.awaitingProvider.delete(id);
    this.awaitingTrust.delete(id);
  }

  private armProviderWait(): void {
    if (this.providerWaitTimer !== undefined) return;
    this.providerWaitTimer = this.parts.options.clock.setTimeout(() => {
      this.providerWaitTimer = undefined;
      for (const [id] of [...this.awaitingProvider]) {
        this.awaitingProvider.delete(id);
        this.resumeTask(id);
      }
    }, PROVIDER_WAIT_MS);
  }

  dispose(): void {
    if (this.providerWaitTimer !== undefined) this.parts.options.clock.clearTimeout(this.providerWaitTimer);
  }
}

function rebuiltWarning(rebuilt: readonly string[]): string {
  const names = rebuilt.slice(0, 5).join(', ') + (rebuilt.length > 5 ? `, and ${rebuilt.length - 5} more` : '');
  return rebuilt.length === 1 ? `1 task was rebuilt from its transcript: ${names}.` : `${rebuilt.length} tasks were rebuilt from their transcripts: ${names}.`;
}
