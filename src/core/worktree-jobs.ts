// DESIGN §9 in a worktree's life: the user's copy globs and setup commands prepare each new worktree before its agent
// starts, and the user's check command judges the work when the task completes (or on demand). Both run only inside
// the task's worktree, stream into its transcript, and die with their whole process tree on cancel or timeout.
import { messageOf } from './errors';
import type { ManagerParts } from './task-runner';
import type { TaskCheck, TaskSnapshot, TaskWorktree } from './task-state';
import type { WorktreePort, WorktreeRef } from './worktree-port';

/** How often a running command's transcript entry is updated with its output. */
const STREAM_INTERVAL_MS = 250;

function refOf(worktree: TaskWorktree): WorktreeRef {
  return { path: worktree.path, branch: worktree.branch, baseCommit: worktree.baseCommit, repository: worktree.repository };
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

export class WorktreeJobs {
  /** Checks running, by task. */
  private readonly checks = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private commandCount = 0;

  constructor(private readonly parts: ManagerParts, private readonly port: WorktreePort) {}

  /**
   * A new worktree: copies the untracked files the user's globs name, then runs the setup commands in order. A failing
   * command rejects with the command and its last lines (the task fails; the worktree stays for inspection).
   */
  async setUp(id: string, worktree: TaskWorktree, signal: AbortSignal): Promise<void> {
    const settings = this.parts.options.settings();
    const globs = (settings.worktreeCopy ?? []).filter((glob) => typeof glob === 'string' && glob.trim() !== '');
    if (globs.length > 0) {
      const copied = await this.port.copyUntracked(refOf(worktree), globs, signal);
      const shown = copied.length > 5 ? `${copied.slice(0, 5).join(', ')} and ${copied.length - 5} more` : copied.join(', ');
      this.parts.appendOutput(id, { kind: 'status', text: copied.length > 0 ? `Copied ${copied.length} untracked file${copied.length === 1 ? '' : 's'} into the worktree: ${shown}` : `No untracked files matched ${globs.join(', ')}` });
    }
    for (const command of (settings.worktreeSetup ?? []).filter((each) => typeof each === 'string' && each.trim() !== '')) {
      signal.throwIfAborted();
      const result = await this.run(id, worktree, command, signal, 'Setup');
      if (result.cancelled) signal.throwIfAborted();
      if (result.exitCode !== 0) {
        const why = result.timedOut ? 'timed out' : result.exitCode === undefined ? 'was stopped' : `exited with ${result.exitCode}`;
        throw new Error(`Setup command \`${command}\` ${why} in the worktree ${worktree.path} (left there for you to inspect):\n${result.tail}`);
      }
    }
  }

  /** Runs the check on a finished task's worktree; resolves with the task when it has ended, passed or failed alike. */
  async runCheck(id: string): Promise<TaskSnapshot> {
    const task = this.parts.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    const worktree = task.worktree;
    if (!worktree || (worktree.state !== 'active' && worktree.state !== 'conflict')) {
      throw new Error(`Task ${id} has no worktree to check${worktree ? ` (its changes were ${worktree.state})` : ''}`);
    }
    const command = this.parts.options.settings().check?.trim();
    if (!command) throw new Error('No check is set: put a command such as "npm test" in the agentTasks.check setting');
    const running = this.checks.get(id);
    if (running) {
      await running.done;
      return this.snapshotOf(id);
    }
    const controller = new AbortController();
    const done = this.check(id, worktree, command, controller.signal).finally(() => this.checks.delete(id));
    this.checks.set(id, { controller, done });
    await done;
    return this.snapshotOf(id);
  }

  private async check(id: string, worktree: TaskWorktree, command: string, signal: AbortSignal): Promise<void> {
    this.setCheck(id, { command, state: 'running' });
    let check: TaskCheck;
    try {
      const result = await this.run(id, worktree, command, signal, 'Check');
      const state = result.cancelled ? 'cancelled' : result.exitCode === 0 ? 'passed' : 'failed';
      check = { command, state, ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}), durationMs: result.durationMs, tail: result.tail };
      const how = state === 'passed' ? 'passed' : state === 'cancelled' ? 'was cancelled' : result.timedOut ? 'timed out' : `failed (exit ${result.exitCode ?? 'signal'})`;
      this.parts.appendOutput(id, { kind: state === 'failed' ? 'error' : 'status', text: `Check \`${command}\` ${how} after ${seconds(result.durationMs)}` });
    } catch (error) {
      check = { command, state: 'failed', tail: messageOf(error) };
      this.parts.appendOutput(id, { kind: 'error', text: `Check \`${command}\` could not run: ${messageOf(error)}` });
    }
    this.setCheck(id, check);
  }

  private setCheck(id: string, check: TaskCheck): void {
    if (this.parts.store.has(id)) this.parts.store.update(id, { check });
  }

  /** Cancels a running check (Cancel on a finished task); true when there was one. */
  cancelCheck(id: string): boolean {
    const running = this.checks.get(id);
    running?.controller.abort();
    return running !== undefined;
  }

  /** An isolated task completed: its check runs when one is set. */
  onCompleted(id: string): void {
    const task = this.parts.store.get(id);
    if (!task || task.status !== 'completed' || task.worktree?.state !== 'active' || !this.parts.options.settings().check?.trim()) return;
    void this.runCheck(id).catch((error: unknown) => this.parts.options.log.warn(`Task ${id}: the check did not run: ${messageOf(error)}`));
  }

  /** True while a check runs (a merge waits for it to end). */
  isChecking(id: string): boolean {
    return this.checks.has(id);
  }

  /** Runs one command in the worktree, streaming its output into a `command` entry of the transcript. */
  private async run(id: string, worktree: TaskWorktree, command: string, signal: AbortSignal, what: 'Setup' | 'Check') {
    const entryId = `${what.toLowerCase()}-${++this.commandCount}-${Date.now()}`;
    let output = '';
    let last = 0;
    const show = (exitCode?: number): void => this.parts.appendOutput(id, { kind: 'command', id: entryId, text: `${what}: ${command}`, detail: output.slice(-8_192), ...(exitCode !== undefined ? { exitCode } : {}) });
    show();
    const timeoutMinutes = this.parts.options.settings().defaultTimeoutMinutes;
    const result = await this.port.runCommand(refOf(worktree), {
      command,
      cwd: worktree.cwd,
      signal,
      timeoutMs: timeoutMinutes > 0 ? timeoutMinutes * 60_000 : undefined,
      onOutput: (text) => {
        output = (output + text).slice(-16_384);
        const now = Date.now();
        if (now - last >= STREAM_INTERVAL_MS) {
          last = now;
          show();
        }
      },
    });
    output = result.tail;
    show(result.exitCode ?? -1);
    return result;
  }

  private snapshotOf(id: string): TaskSnapshot {
    const task = this.parts.store.get(id);
    if (!task) throw new Error(`Unknown task ${id}`);
    return this.parts.snapshot(task);
  }

  /** The window is closing: running checks are stopped (their result is not kept as a verdict). */
  dispose(): void {
    for (const { controller } of this.checks.values()) controller.abort();
    this.checks.clear();
  }

  /** A task whose check is still marked running after a reload: that run is gone. */
  static restoredCheck(check: TaskCheck | undefined): TaskCheck | undefined {
    return check?.state === 'running' ? { ...check, state: 'cancelled', tail: `${check.tail ?? ''}\n(the window closed while the check ran)`.trim() } : check;
  }
}
