// Shared by the integration suites: the extension's API as tests see it, and waits on task status.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ProviderAdapter } from '../../../src/core/ports';
import type { Answer, CreateTaskInput, TaskSnapshot, TaskStatus } from '../../../src/core/task-state';

export const EXTENSION_ID = 'agenttasks.agent-task-worker';
export const HELPER_EXTENSION_ID = 'agenttasks-tests.scripted-provider-helper';

/** One tree group as the test hook reports it, in display order. */
export interface TreeGroup {
  status: string;
  label: string;
  count: number;
  taskIds: string[];
}

/** DESIGN §1's AgentTasksApi, plus the test hook the tree tests read. */
export interface AgentTasksApi {
  readonly version: 1;
  createTask(input: CreateTaskInput): Promise<TaskSnapshot>;
  getTask(id: string): TaskSnapshot | undefined;
  listTasks(): TaskSnapshot[];
  answer(taskId: string, requestId: string, response: Answer): Promise<void>;
  cancelTask(id: string): Promise<void>;
  readonly onDidChangeTask: vscode.Event<TaskSnapshot>;
  registerProvider(adapter: ProviderAdapter): vscode.Disposable;
  readonly __test?: {
    treeGroups(): Promise<TreeGroup[]>;
    /** A task's tree row: label, description, tooltip (Markdown source) and aria label. */
    treeItem(taskId: string): { label: string; description: string; tooltip: string; ariaLabel: string; contextValue: string } | undefined;
  };
}

/** The tree's groups, top to bottom (only non-empty ones are shown). */
export const GROUP_ORDER: { status: TaskStatus; label: string }[] = [
  { status: 'waiting_answer', label: 'Needs you' },
  { status: 'running', label: 'Running' },
  { status: 'rate_limited', label: 'Rate limited' },
  { status: 'pending', label: 'Pending' },
  { status: 'waiting', label: 'Waiting' },
  { status: 'completed', label: 'Completed' },
  { status: 'failed', label: 'Failed' },
  { status: 'timed_out', label: 'Timed out' },
  { status: 'cancelled', label: 'Cancelled' },
  { status: 'unknown', label: 'Unknown' },
];

/** Activates Agent Task Worker and the helper that registers the `scripted` provider; returns the API. */
export async function agentTasks(): Promise<AgentTasksApi> {
  const extension = vscode.extensions.getExtension<AgentTasksApi>(EXTENSION_ID);
  assert.ok(extension, `${EXTENSION_ID} is not loaded in the extension host`);
  const api = await extension.activate();
  const helper = vscode.extensions.getExtension(HELPER_EXTENSION_ID);
  assert.ok(helper, `${HELPER_EXTENSION_ID} is not loaded in the extension host`);
  await helper.activate();
  return api;
}

/** A script for the scripted provider; steps are joined with `; `. */
export function script(...steps: string[]): string {
  return steps.join('; ');
}

/**
 * Records every status each task passes through (from onDidChangeTask, consecutive repeats dropped).
 * Create it before the tasks whose history you want.
 */
export class StatusRecorder implements vscode.Disposable {
  private readonly history = new Map<string, TaskStatus[]>();
  private readonly listeners = new Set<(task: TaskSnapshot) => void>();
  private readonly subscription: vscode.Disposable;

  constructor(private readonly api: AgentTasksApi) {
    this.subscription = api.onDidChangeTask((task) => {
      this.note(task.id, task.status);
      for (const listener of [...this.listeners]) listener(task);
    });
  }

  private note(id: string, status: TaskStatus): void {
    const seen = this.history.get(id) ?? [];
    if (seen[seen.length - 1] !== status) seen.push(status);
    this.history.set(id, seen);
  }

  /** Creates a task and records its first status, also when no event announced it. */
  async create(input: CreateTaskInput): Promise<TaskSnapshot> {
    const task = await this.api.createTask(input);
    if (!this.history.has(task.id)) this.note(task.id, task.status);
    return task;
  }

  /** The statuses the task went through, first to last. */
  statuses(id: string): TaskStatus[] {
    return [...(this.history.get(id) ?? [])];
  }

  /** The statuses, with the `pending` a new task may show before it starts dropped from the front. */
  statusesAfterStart(id: string): TaskStatus[] {
    const seen = this.statuses(id);
    return seen[0] === 'pending' ? seen.slice(1) : seen;
  }

  /** Resolves with the task once `accept(task)` holds (checked now and on every change); rejects after timeoutMs. */
  waitFor(id: string, accept: (task: TaskSnapshot) => boolean, what: string, timeoutMs = 20_000): Promise<TaskSnapshot> {
    return new Promise((resolve, reject) => {
      const check = (task: TaskSnapshot | undefined): boolean => {
        if (!task || task.id !== id || !accept(task)) return false;
        cleanup();
        resolve(task);
        return true;
      };
      const listener = (task: TaskSnapshot): void => void check(task);
      const timer = setTimeout(() => {
        cleanup();
        const now = this.api.getTask(id);
        reject(new Error(`task ${id} did not reach ${what} within ${timeoutMs} ms; it went ${this.statuses(id).join(' → ')}` +
          `, now ${now?.status ?? 'missing'}${now?.error ? ` (error: ${now.error})` : ''}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
      check(this.api.getTask(id));
    });
  }

  waitForStatus(id: string, status: TaskStatus, timeoutMs?: number): Promise<TaskSnapshot> {
    return this.waitFor(id, (task) => task.status === status, `status ${status}`, timeoutMs);
  }

  dispose(): void {
    this.subscription.dispose();
    this.listeners.clear();
  }
}

/** Polls `read` until `accept` holds for its value; rejects with the last value after timeoutMs. */
export async function eventually<T>(read: () => T | Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!accept(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await read();
  }
  return last;
}

/** The tree groups the store's tasks should produce right now. */
export function expectedGroups(tasks: TaskSnapshot[]): TreeGroup[] {
  return GROUP_ORDER.map(({ status, label }) => {
    const ids = tasks.filter((task) => task.status === status).map((task) => task.id).sort();
    return { status, label, count: ids.length, taskIds: ids };
  }).filter((group) => group.count > 0);
}

/** Tree groups in a form that compares regardless of the order of tasks within a group. */
export function normalizeGroups(groups: TreeGroup[]): TreeGroup[] {
  return groups.map((group) => ({ status: group.status, label: group.label, count: group.count, taskIds: [...group.taskIds].sort() }));
}

/** Cancels every task that is not finished yet, so a suite leaves nothing running. */
export async function cancelUnfinished(api: AgentTasksApi): Promise<void> {
  const live = api.listTasks().filter((task) => !['completed', 'failed', 'timed_out', 'cancelled', 'unknown'].includes(task.status));
  await Promise.all(live.map((task) => api.cancelTask(task.id).catch(() => undefined)));
}

/** Whether a VS Code version (`vscode.version`) is at least `[major, minor]`. */
export function atLeast(version: string, [major, minor]: readonly number[]): boolean {
  const [a, b] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}
