import * as vscode from 'vscode';
import type { TaskManager } from '../core/task-manager';
import type { Answer, CreateTaskInput, TaskSnapshot } from '../core/task-state';
import type { ProviderAdapter } from '../core/ports';
import type { ProviderRegistry } from '../core/provider-registry';
import type { AnswerGate } from './answering';
import type { TaskGroup } from './presentation';

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
  treeItem(taskId: string): { label: string; description: string; tooltip: string; ariaLabel: string } | undefined;
}

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
    onDidChangeTask: changeEmitter.event,
    registerProvider: (adapter) => {
      const registration = registry.register(adapter);
      return new vscode.Disposable(() => registration.dispose());
    },
    __test: {
      activationMs,
      mcpServerDefinitions,
      effectiveSettings,
      treeItem: (taskId) => {
        const item = treeItem(taskId);
        if (!item) return undefined;
        const text = (value: string | vscode.MarkdownString | vscode.TreeItemLabel | boolean | undefined): string =>
          typeof value === 'string' ? value : value instanceof vscode.MarkdownString ? value.value : typeof value === 'object' ? value.label : '';
        return { label: text(item.label), description: text(item.description), tooltip: text(item.tooltip), ariaLabel: item.accessibilityInformation?.label ?? '' };
      },
      treeGroups: () =>
        Promise.resolve(groups().map((group) => ({ status: group.status, label: group.label, count: group.tasks.length, taskIds: group.tasks.map((t) => t.id) }))),
    },
  };
}
