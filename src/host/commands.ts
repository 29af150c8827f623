import * as vscode from 'vscode';
import { CommandId } from '../constants';
import { questionRoot, summarizeQuestion } from '../core/answers';
import type { TaskManager } from '../core/task-manager';
import { isTerminal, TASK_TYPES, type CreateTaskInput, type PendingQuestion, type TaskState, type TaskTypeName } from '../core/task-state';
import type { Logger } from '../core/events';
import { taskTitle } from '../core/task-title';
import type { ProviderRegistry } from '../core/provider-registry';
import type { AnswerGate } from './answering';
import { capabilitySummary, providerLimitations } from './capabilities-text';
import { requestOfProposedUri, type TaskDocuments } from './documents';
import { copyMcpConfig, rotateMcpToken, type McpHost } from './mcp-host';
import { STATUS_PRESENTATION } from './presentation';
import type { ShownRequest, TaskTreeNode } from './tree/task-tree';
import { confirmWholeRequest } from './whole-request';
import type { TaskReview } from './review';
import { worktreeCommands } from './worktree-commands';
import { opinionCommands } from './opinion-commands';
import type { TaskPanels } from './webview/task-panel';
import type { ProfileManager } from '../core/profiles';
import { showAccounts } from './accounts';

export interface CommandDependencies {
  manager: TaskManager;
  registry: ProviderRegistry;
  answers: AnswerGate;
  panels: TaskPanels;
  documents: TaskDocuments;
  log: vscode.LogOutputChannel & Logger;
  memento: vscode.Memento;
  /** This window's MCP host, for the copy command. */
  mcpHost?: McpHost;
  /** The accounts (profiles and default accounts) and their last known usage, for Show Accounts. */
  profiles: ProfileManager;
  revealTask(id: string): Promise<void>;
  /** Review Changes and the file diffs of task worktrees (DESIGN §8). */
  review: TaskReview;
  /** Opens the Compare Attempts view of an attempt group (DESIGN §9). */
  compareAttempts(group: string): void;
  /** The `agentTasks.check` command the user set, empty when none. */
  checkCommand(): string;
}

type CommandHandler = (...args: unknown[]) => unknown;

const LAST_PROVIDER = 'agentTasks.lastProvider';
const LAST_TASK_TYPE = 'agentTasks.lastTaskType';

/** Every contributed command, in one table. */
export function commandTable(deps: CommandDependencies): Record<CommandId, CommandHandler> {
  const { manager } = deps;

  const pickTask = async (arg: unknown, filter: (task: TaskState) => boolean, placeHolder: string): Promise<TaskState | undefined> => {
    const id = taskIdOf(arg);
    if (id) {
      const task = manager.peek(id);
      if (!task) throw new Error(`Unknown task ${id}`);
      return task;
    }
    const tasks = manager.allTasks().filter(filter).sort((a, b) => b.timestamps.created - a.timestamps.created);
    if (tasks.length === 0) {
      void vscode.window.showInformationMessage('No task fits this command right now.');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      tasks.map((task) => ({ label: plainLabel(taskTitle(task)), description: task.id, detail: `${STATUS_PRESENTATION[task.status].label} · ${task.provider}`, task })),
      { placeHolder, matchOnDescription: true, matchOnDetail: true },
    );
    return picked?.task;
  };

  const pickQuestion = async (arg: unknown, kinds?: PendingQuestion['type'][]): Promise<{ task: TaskState; question: PendingQuestion } | undefined> => {
    const fromUri = arg instanceof vscode.Uri ? requestOfProposedUri(arg) : undefined;
    if (fromUri) {
      const task = manager.peek(fromUri.taskId);
      const question = task?.pendingQuestions.find((q) => q.requestId === fromUri.requestId);
      if (!task || !question) throw new Error('This change is no longer waiting for an answer');
      return { task, question };
    }
    const id = taskIdOf(arg);
    const candidates = manager
      .allTasks()
      .filter((task) => !id || task.id === id)
      .flatMap((task) => task.pendingQuestions.filter((q) => !kinds || kinds.includes(q.type)).map((question) => ({ task, question })));
    if (candidates.length === 0) {
      void vscode.window.showInformationMessage(id ? `Task ${id} has no question of that kind waiting` : 'No task is waiting for an answer');
      return undefined;
    }
    if (candidates.length === 1) return candidates[0];
    const picked = await vscode.window.showQuickPick(
      candidates.map((c) => ({ label: `$(bell-dot) ${plainLabel(taskTitle(c.task))}`, description: `${c.question.type.replace('_', ' ')} · ${c.task.id}`, detail: summarizeQuestion(c.question, questionRoot(c.task)), c })),
      { placeHolder: 'Which question?', matchOnDescription: true, matchOnDetail: true },
    );
    return picked?.c;
  };

  /** A tree row passed to Approve / Deny: its task and the request the row showed (none: the row showed no question). */
  const shownOnRow = (arg: unknown): { task: TaskState; request: ShownRequest } | undefined => {
    if (typeof arg !== 'object' || arg === null || (arg as Partial<TaskTreeNode>).kind !== 'task') return undefined;
    const node = arg as Extract<TaskTreeNode, { kind: 'task' }>;
    const task = manager.peek(node.id);
    if (!task) throw new Error(`Task ${node.id} no longer exists`);
    if (!node.shown) throw new Error(`Task ${node.id} showed no request to answer; open it to see what it waits on`);
    return { task, request: node.shown };
  };

  const boundQuestion = (task: TaskState, request: ShownRequest): PendingQuestion => {
    const question = task.pendingQuestions.find((q) => q.requestId === request.requestId);
    if (!question) throw new Error(`Task ${task.id} is no longer waiting on the request its row showed; nothing was sent`);
    if (question.type !== 'command_approval' && question.type !== 'file_approval') throw new Error(`Task ${task.id} asks a question, not for an approval: use Answer…`);
    return question;
  };

  const send = async (taskId: string, requestId: string, answer: Parameters<AnswerGate['answer']>[2]): Promise<void> => {
    await deps.answers.answer(taskId, requestId, answer);
  };

  return {
    [CommandId.newTask]: async (arg?: unknown) => {
      if (arg !== undefined && typeof arg === 'object' && arg !== null && !(arg instanceof vscode.Uri) && 'prompt' in arg) {
        const task = await manager.createTask(arg as CreateTaskInput);
        return task.id;
      }
      if (!vscode.workspace.isTrusted) {
        const choice = await vscode.window.showWarningMessage('Agent Tasks cannot start agents in an untrusted workspace.', 'Manage Workspace Trust');
        if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
        return undefined;
      }
      const input = await newTaskFlow(deps);
      if (!input) return undefined;
      const task = await manager.createTask(input);
      deps.panels.open(task.id, true);
      await deps.revealTask(task.id);
      return task.id;
    },

    [CommandId.openTask]: async (arg?: unknown) => {
      const task = await pickTask(arg, () => true, 'Open which task?');
      if (task) deps.panels.open(task.id);
    },

    [CommandId.answer]: async (arg?: unknown) => {
      const picked = await pickQuestion(arg);
      if (picked) await answerInteractively(picked.task, picked.question, deps, send);
    },

    [CommandId.approve]: async (arg?: unknown) => {
      const shown = shownOnRow(arg);
      if (shown) {
        // From a tree row (L2): exactly the request the row showed, unchanged, and all of it seen first.
        const question = boundQuestion(shown.task, shown.request);
        if (!(await confirmWholeRequest(`“${taskTitle(shown.task)}”`, question))) return;
        await deps.answers.answer(shown.task.id, shown.request.requestId, { decision: 'approve' }, shown.request.payloadHash);
        return;
      }
      const picked = await pickQuestion(arg, ['command_approval', 'file_approval']);
      if (picked) await send(picked.task.id, picked.question.requestId, { decision: 'approve' });
    },

    [CommandId.deny]: async (arg?: unknown) => {
      const shown = shownOnRow(arg);
      if (shown) {
        boundQuestion(shown.task, shown.request);
        await deps.answers.answer(shown.task.id, shown.request.requestId, { decision: 'deny' }, shown.request.payloadHash);
        return;
      }
      const picked = await pickQuestion(arg, ['command_approval', 'file_approval']);
      if (picked) await send(picked.task.id, picked.question.requestId, { decision: 'deny' });
    },

    [CommandId.cancelTask]: async (arg?: unknown) => {
      const task = await pickTask(arg, (t) => !isTerminal(t.status), 'Cancel which task?');
      if (task) await manager.cancelTask(task.id);
    },

    [CommandId.retryTask]: async (arg?: unknown) => {
      const task = await pickTask(arg, (t) => isTerminal(t.status), 'Retry which task?');
      if (!task) return undefined;
      const retry = await manager.retryTask(task.id);
      deps.panels.open(retry.id, true);
      return retry.id;
    },

    [CommandId.sendMessage]: async (arg?: unknown, text?: unknown) => {
      const task = await pickTask(arg, (t) => isTerminal(t.status) && !!t.sessionId, 'Send a follow-up to which task?');
      if (!task) return undefined;
      const message =
        typeof text === 'string'
          ? text
          : await vscode.window.showInputBox({ title: `Follow-up to ${task.id}`, prompt: 'Continues the same conversation as a new task', ignoreFocusOut: true });
      if (!message?.trim()) return undefined;
      const followUp = await manager.sendFollowUp(task.id, message);
      deps.panels.open(followUp.id, true);
      return followUp.id;
    },

    [CommandId.clearFinished]: async () => {
      const count = await manager.clearFinished();
      void vscode.window.setStatusBarMessage(`Agent Tasks: cleared ${count} finished task${count === 1 ? '' : 's'}`, 4000);
      return count;
    },

    [CommandId.showLog]: async (arg?: unknown) => {
      const id = taskIdOf(arg);
      if (id === undefined) {
        deps.log.show(true);
        return;
      }
      // Only a task this window knows: the id becomes a file name (tasks/<id>.jsonl).
      if (!manager.peek(id)) throw new Error(`There is no task "${id}"`);
      await deps.documents.openLog(id);
    },

    [CommandId.copyMcpConfig]: (arg?: unknown) => copyMcpConfig(deps.mcpHost, arg),

    [CommandId.rotateMcpToken]: (arg?: unknown) => rotateMcpToken(deps.mcpHost, arg),

    [CommandId.showAccounts]: (arg?: unknown) => showAccounts(deps.profiles, arg),

    ...worktreeCommands({ manager, review: deps.review, openTask: (id) => deps.panels.open(id), taskIdOf }),

    ...opinionCommands({
      manager,
      registry: deps.registry,
      profiles: deps.profiles,
      openTask: (id) => deps.panels.open(id),
      revealTask: deps.revealTask,
      compareAttempts: deps.compareAttempts,
      checkCommand: deps.checkCommand,
      taskIdOf,
    }),
  };
}

/** A task id from a command argument: an id string, a tree node, or nothing. */
export function taskIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string' && arg) return arg;
  if (typeof arg === 'object' && arg !== null) {
    const node = arg as Partial<TaskTreeNode> & { id?: unknown };
    if (node.kind === 'task' && typeof node.id === 'string') return node.id;
  }
  return undefined;
}

async function newTaskFlow(deps: CommandDependencies): Promise<CreateTaskInput | undefined> {
  const prompt = await vscode.window.showInputBox({
    title: 'New Agent Task (1/3)',
    prompt: 'What should the agent do?',
    placeHolder: 'e.g. Add input validation to the signup form',
    ignoreFocusOut: true,
    validateInput: (value) => (value.trim() ? undefined : 'Describe the task'),
  });
  if (!prompt?.trim()) return undefined;

  const adapters = deps.registry.list();
  if (adapters.length === 0) throw new Error('No agent provider is available');
  const lastProvider = deps.memento.get<string>(LAST_PROVIDER);
  const providerItems = adapters
    .map((adapter) => ({ label: adapter.displayName, description: adapter.id, detail: [capabilitySummary(adapter.capabilities), ...providerLimitations(adapter.id)].join(' · '), id: adapter.id }))
    .sort((a, b) => Number(b.id === lastProvider) - Number(a.id === lastProvider));
  const provider = await vscode.window.showQuickPick(providerItems, { title: 'New Agent Task (2/3): which agent?', placeHolder: 'Pick the agent to run', ignoreFocusOut: true, matchOnDescription: true });
  if (!provider) return undefined;

  const lastType = deps.memento.get<TaskTypeName>(LAST_TASK_TYPE, 'general');
  const typeDescriptions: Record<TaskTypeName, string> = {
    coder: 'writes and changes code',
    planner: 'plans first; may ask you questions',
    tester: 'writes and runs tests',
    researcher: 'reads and reports, changes nothing',
    general: 'anything else',
  };
  const typeItems = [...TASK_TYPES]
    .sort((a, b) => Number(b === lastType) - Number(a === lastType))
    .map((type) => ({ label: type, description: typeDescriptions[type] }));
  const type = await vscode.window.showQuickPick(typeItems, { title: 'New Agent Task (3/3): task type', placeHolder: 'Pick the kind of task', ignoreFocusOut: true });
  if (!type) return undefined;

  await deps.memento.update(LAST_PROVIDER, provider.id);
  await deps.memento.update(LAST_TASK_TYPE, type.label);
  return { prompt, provider: provider.id, taskType: type.label as TaskTypeName };
}

/** Answers a question from the command palette; forms that need more room open the task panel. */
async function answerInteractively(
  task: TaskState,
  question: PendingQuestion,
  deps: CommandDependencies,
  send: (taskId: string, requestId: string, answer: Parameters<AnswerGate['answer']>[2]) => Promise<void>,
): Promise<void> {
  switch (question.type) {
    case 'command_approval':
    case 'file_approval': {
      const items: (vscode.QuickPickItem & { value: string })[] = [
        { label: '$(check) Approve', value: 'approve' },
        ...(question.canApproveForSession ? [{ label: '$(check-all) Approve for session', value: 'approveForSession' }] : []),
        { label: '$(close) Deny', value: 'deny' },
        ...(question.type === 'file_approval' ? [{ label: '$(diff) Open Diff', value: 'diff' }] : [{ label: '$(go-to-file) Open Task', value: 'open' }]),
      ];
      const picked = await vscode.window.showQuickPick(items, { title: `${taskTitle(task)} (${task.id}): ${summarizeQuestion(question, questionRoot(task))}`, placeHolder: question.type === 'command_approval' ? question.command : 'Apply this change?' });
      if (!picked) return;
      if (picked.value === 'diff' && question.type === 'file_approval') {
        const file = question.fileChanges[0];
        if (file) await deps.documents.openDiff(task.id, question.requestId, file.path);
        return;
      }
      if (picked.value === 'open') {
        deps.panels.open(task.id);
        return;
      }
      await send(task.id, question.requestId, { decision: picked.value as 'approve' | 'approveForSession' | 'deny' });
      return;
    }
    case 'user_input': {
      const answers: Record<string, string[]> = {};
      for (const q of question.questions) {
        let value: string | undefined;
        if (q.options?.length) {
          const other = '$(edit) Other…';
          const picked = await vscode.window.showQuickPick([...q.options.map((o) => ({ label: o.label, description: o.description })), ...(q.allowFreeform !== false ? [{ label: other }] : [])], { title: `${taskTitle(task)} (${task.id})`, placeHolder: q.text });
          if (!picked) return;
          value = picked.label === other ? await vscode.window.showInputBox({ title: `${taskTitle(task)} (${task.id})`, prompt: q.text }) : picked.label;
        } else value = await vscode.window.showInputBox({ title: `${taskTitle(task)} (${task.id})`, prompt: q.text, ignoreFocusOut: true });
        if (value === undefined) return;
        answers[q.id] = [value];
      }
      await send(task.id, question.requestId, { answers });
      return;
    }
    case 'elicitation':
    case 'dynamic_tool':
      deps.panels.open(task.id);
      return;
    default: {
      const never: never = question;
      throw new Error(`Unknown question ${String(never)}`);
    }
  }
}

/** Quick pick labels render `$(name)` as an icon: a title shows it as typed. */
function plainLabel(text: string): string {
  return text.replace(/\$\(/g, '\\$(');
}
