import * as vscode from 'vscode';
import type { TaskManager } from '../core/task-manager';
import type { AgentChoice, Answer, CreateTaskInput, TaskSnapshot } from '../core/task-state';
import type { MergeHow } from '../core/worktree-port';
import type { ProviderAdapter } from '../core/ports';
import type { ProviderRegistry } from '../core/provider-registry';
import type { AnswerGate } from './answering';
import type { TaskGroup } from './presentation';
import type { FindingThreadView } from './review-comments';
import type { AttemptsView } from './webview/compare-protocol';

/** The API `activate()` returns (DESIGN §1), for other extensions, scripts and tests. */
export interface AgentTasksApi {
  readonly version: 1;
  createTask(input: CreateTaskInput): Promise<TaskSnapshot>;
  getTask(id: string): TaskSnapshot | undefined;
  listTasks(): TaskSnapshot[];
  answer(taskId: string, requestId: string, response: Answer): Promise<void>;
  cancelTask(id: string): Promise<void>;
  readonly onDidChangeTask: vscode.Event<TaskSnapshot>;
  registerProvider(adapter: ProviderAdapter): vscode.Disposable;
  /** DESIGN §8: merges (or applies, uncommitted) a finished task's worktree into the main checkout; rejects with a
   *  message naming the files when it cannot (dirty files it would write, a conflict). */
  mergeChanges(id: string, options: { how: MergeHow }): Promise<TaskSnapshot>;
  /** DESIGN §8: removes a finished task's worktree and branch, unmerged work included. */
  discardChanges(id: string): Promise<TaskSnapshot>;
  /** DESIGN §9: runs `agentTasks.check` in the task's worktree; resolves when it ends (passed or failed alike). */
  runCheck(id: string): Promise<TaskSnapshot>;
  /** DESIGN §9: a read-only review of a finished task's change by another agent (default: the first available
   *  provider other than the author's); resolves with the new review task. */
  reviewTask(id: string, reviewer?: AgentChoice): Promise<TaskSnapshot>;
  /** DESIGN §9: one isolated task per agent on the same prompt, sharing an `attemptGroup`. */
  createAttempts(input: CreateTaskInput, agents: AgentChoice[]): Promise<TaskSnapshot[]>;
  /** DESIGN §9: merges that attempt, then discards the group's others; rejects like mergeChanges, discarding nothing. */
  pickAttempt(id: string): Promise<TaskSnapshot>;
}

/** Test-only view of the UI state; not part of the public contract. */
export interface AgentTasksTestHooks {
  treeGroups(): Promise<{ status: string; label: string; count: number; taskIds: string[] }[]>;
  /** How long activate() took, in ms. */
  activationMs(): number;
  /** Whether VS Code took our MCP server definition provider (VS Code ≥ 1.101), and the definitions it provides. */
  mcpServerDefinitions(): { registered: boolean; definitions: unknown[] };
  /** The safety settings as the extension reads them (user settings only), to show a workspace cannot change them. */
  effectiveSettings(): { allowAgentApprovals: boolean; acpAgents: string[]; profiles: string[]; codexPath: string | undefined; defaultProvider: string };
  /** A task's tree row as the tree provider hands it to VS Code (label, description, tooltip and aria label as text). */
  treeItem(taskId: string): { label: string; description: string; tooltip: string; ariaLabel: string; contextValue: string } | undefined;
  /** The tree's element for a task, as VS Code hands it back to a command run from the row (inline actions). */
  treeNode(taskId: string): unknown;
  /** The rows Review Changes hands the multi-file diff editor: file, left (base) and right side, as URI strings. */
  reviewEntries(taskId: string): { resource: string; original?: string; modified?: string }[];
  /** The live worktrees being watched for file changes: task id → folder. */
  watchedWorktrees(): Record<string, string>;
  /** The comment threads showing review findings on a task's files (DESIGN §9). */
  commentThreads(reviewedId: string): FindingThreadView[];
  /** What the open Compare Attempts view of a group shows; undefined when none is open. */
  compareView(group: string): AttemptsView | undefined;
  /** The rows under an attempt group's row: the group row's label and description, and its children's task ids. */
  attemptRow(group: string): { label: string; description: string; taskIds: string[]; status: string } | undefined;
}

export type WorktreeTestHooks = Pick<AgentTasksTestHooks, 'treeNode' | 'reviewEntries' | 'watchedWorktrees' | 'commentThreads' | 'compareView' | 'attemptRow'>;

export function createApi(
  manager: TaskManager,
  registry: ProviderRegistry,
  answers: AnswerGate,
  groups: () => TaskGroup[],
  subscriptions: vscode.Disposable[],
  activationMs: () => number,
  treeItem: (taskId: string) => vscode.TreeItem | undefined,
  mcpServerDefinitions: AgentTasksTestHooks['mcpServerDefinitions'] = () => ({ registered: false, definitions: [] }),
  effectiveSettings: AgentTasksTestHooks['effectiveSettings'] = () => ({ allowAgentApprovals: false, acpAgents: [], profiles: [], codexPath: undefined, defaultProvider: 'codex' }),
  worktreeHooks: WorktreeTestHooks = { treeNode: () => undefined, reviewEntries: () => [], watchedWorktrees: () => ({}), commentThreads: () => [], compareView: () => undefined, attemptRow: () => undefined },
): AgentTasksApi & { __test: AgentTasksTestHooks } {
  const changeEmitter = new vscode.EventEmitter<TaskSnapshot>();
  subscriptions.push(changeEmitter, manager.onDidChangeTask((task) => changeEmitter.fire(task)));
  return {
    version: 1,
    createTask: (input) => manager.createTask(input),
    getTask: (id) => manager.getTask(id),
    listTasks: () => manager.listTasks(),
    answer: (taskId, requestId, response) => answers.answer(taskId, requestId, response),
    cancelTask: (id) => manager.cancelTask(id),
    mergeChanges: async (id, options) => manager.worktrees.mergeChanges(id, { how: options?.how ?? 'merge' }),
    discardChanges: async (id) => manager.worktrees.discardChanges(id),
    runCheck: async (id) => manager.worktrees.jobs.runCheck(id),
    reviewTask: async (id, reviewer) => manager.secondOpinions.reviewTask(id, reviewer),
    createAttempts: async (input, agents) => manager.secondOpinions.createAttempts(input, agents),
    pickAttempt: async (id) => manager.secondOpinions.pickAttempt(id),
    onDidChangeTask: changeEmitter.event,
    registerProvider: (adapter) => {
      const registration = registry.register(adapter);
      return new vscode.Disposable(() => registration.dispose());
    },
    __test: {
      activationMs,
      mcpServerDefinitions,
      effectiveSettings,
      ...worktreeHooks,
      treeItem: (taskId) => {
        const item = treeItem(taskId);
        if (!item) return undefined;
        const text = (value: string | vscode.MarkdownString | vscode.TreeItemLabel | boolean | undefined): string =>
          typeof value === 'string' ? value : value instanceof vscode.MarkdownString ? value.value : typeof value === 'object' ? value.label : '';
        return { label: text(item.label), description: text(item.description), tooltip: text(item.tooltip), ariaLabel: item.accessibilityInformation?.label ?? '', contextValue: item.contextValue ?? '' };
      },
      treeGroups: () =>
        Promise.resolve(groups().map((group) => ({ status: group.status, label: group.label, count: group.tasks.length, taskIds: group.tasks.map((t) => t.id) }))),
    },
  };
}
