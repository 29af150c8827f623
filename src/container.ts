import * as path from 'node:path';
import * as vscode from 'vscode';
import { CommandId, ConfigKey, OutputChannelName, ViewId, WebviewType } from './constants';
import { systemClock } from './core/clock';
import { StateFile } from './core/persistence';
import { ProfileManager } from './core/profiles';
import { messageOf } from './core/errors';
import { TaskManager } from './core/task-manager';
import { TaskStore } from './core/task-store';
import { isTerminal } from './core/task-state';
import { TranscriptStore } from './core/transcript';
import { AnswerGate } from './host/answering';
import { createApi, type AgentTasksApi } from './host/api';
import { commandTable, type CommandDependencies } from './host/commands';
import { TaskDocuments } from './host/documents';
import { McpHost } from './host/mcp-host';
import { Notifier } from './host/notifications';
import { Settings } from './host/settings';
import { TaskIndicators } from './host/status-bar';
import { TaskTreeProvider, type TaskTreeNode } from './host/tree/task-tree';
import { TaskPanels } from './host/webview/task-panel';
import { TaskReview } from './host/review';
import { ReviewComments } from './host/review-comments';
import { CompareViews } from './host/webview/compare-view';
import { WorktreeWatchers } from './host/worktree-watchers';
import type { ProviderAdapter } from './core/ports';
import { AcpProvider } from './providers/acp';
import { ClaudeProvider } from './providers/claude';
import { CodexProvider } from './providers/codex';
import { CopilotProvider } from './providers/copilot';
import { ProviderRegistry } from './core/provider-registry';
import { KeeperLauncher, keeperOwnerFor, sweepOrphanKeepers } from './keeper';
import { resolvePrivateDir } from './platform/private-dir';
import { TaskWorktrees } from './worktrees';

/** The composition root: the only place that creates the extension's parts and wires them together. */
export class Container implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  readonly manager: TaskManager;
  readonly api: AgentTasksApi;
  private providerShutdown: () => Promise<void> = () => Promise.resolve();
  /** How long activate() took (for the benchmark). */
  activationMs = 0;

  constructor(context: vscode.ExtensionContext) {
    const log = vscode.window.createOutputChannel(OutputChannelName, { log: true });
    this.disposables.push(log);
    const settings = new Settings((message) => log.warn(message));
    const storageDir = (context.storageUri ?? vscode.Uri.joinPath(context.globalStorageUri, 'no-workspace')).fsPath;
    const clock = systemClock;
    const store = new TaskStore(() => clock.now());
    const registry = new ProviderRegistry();
    const profiles = new ProfileManager(() => clock.now());
    profiles.setConfigs(settings.profiles());

    const stateFile = new StateFile(
      storageDir,
      () => ({ version: 1, tasks: store.all(), profiles: profiles.toJSON(), lastSavedAt: clock.now() }),
      clock,
      500,
      log,
    );
    const transcripts = new TranscriptStore(path.join(storageDir, 'tasks'), 200, log);
    const manager = new TaskManager({
      store,
      registry,
      profiles,
      clock,
      log,
      settings: () => settings.manager(),
      isTrusted: () => vscode.workspace.isTrusted,
      defaultCwd: () => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
      stateFile,
      transcripts,
      // DESIGN §8: worktrees go beside the repository, or here when its parent is not writable.
      worktrees: new TaskWorktrees({ fallbackDir: path.join(context.globalStorageUri.fsPath, 'worktrees') }),
    });
    this.manager = manager;

    // Built-in providers. They are disposed after the manager (disposables run in reverse), so the manager's
    // 'shutdown' abort reaches them first and they let their agents keep running for the next window.
    const workspacePath = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? storageDir;
    const clientVersion = String(context.extension.packageJSON.version ?? '0.0.0');
    // Stdio agents (Claude Code, Copilot, ACP agents) run under keepers in this workspace's private socket directory.
    // Ours every time (H1): when another user took the predictable name, a fresh mkdtemp directory, remembered here.
    const privateDir = (workspace: string): string =>
      resolvePrivateDir(workspace, {
        rememberFile: path.join(storageDir, workspace === workspacePath ? 'private-dir' : 'private-dir-mcp'),
        onFallback: (reason) => log.warn(`Not using the predictable socket directory (${reason}); using a fresh private one`),
      });
    const socketDir = privateDir(workspacePath);
    const keeper = {
      // M4: keepers record which window's storage started them, so another window's sweep leaves them running.
      launcher: new KeeperLauncher({ dir: socketDir, keeperScript: context.asAbsolutePath(path.join('dist', 'keeper.js')), owner: keeperOwnerFor(storageDir), log }),
      keepRunningMs: () => settings.keepRunningMinutes() * 60_000,
    };
    const builtIn: ProviderAdapter[] = [
      new CodexProvider({
        codexPath: () => settings.cliPath(ConfigKey.codexPath),
        workspacePath,
        socketDir,
        log,
        keepRunningMinutes: () => settings.keepRunningMinutes(),
        clientVersion,
      }),
      new ClaudeProvider({ claudePath: () => settings.cliPath(ConfigKey.claudePath), log, keeper }),
      new CopilotProvider({ copilotPath: () => settings.cliPath(ConfigKey.copilotPath), log, clientVersion, keeper }),
    ];
    for (const adapter of builtIn) this.disposables.push(toVscode(registry.register(adapter)));
    // ACP agents come from a setting, so they are registered again whenever it changes.
    let acpAdapters: { adapter: AcpProvider; registration: { dispose(): void } }[] = [];
    const registerAcpAgents = (): void => {
      for (const { adapter, registration } of acpAdapters) {
        registration.dispose();
        void adapter.dispose?.();
      }
      acpAdapters = [];
      for (const agent of settings.acpAgents()) {
        const adapter = AcpProvider.fromConfig(agent, log, clientVersion, keeper);
        try {
          acpAdapters.push({ adapter, registration: registry.register(adapter) });
        } catch (error) {
          log.warn(`ACP agent "${agent.name}" was not added: ${messageOf(error)}`);
        }
      }
    };
    registerAcpAgents();
    this.disposables.push(
      settings.onDidChange((event) => {
        if (event.affectsConfiguration(`agentTasks.${ConfigKey.acpAgents}`)) registerAcpAgents();
      }),
    );
    this.providerShutdown = () =>
      Promise.all([...builtIn, ...acpAdapters.map((entry) => entry.adapter)].map((adapter) => adapter.dispose?.())).then(() => undefined);
    this.disposables.push({ dispose: () => manager.dispose() });

    const answers = new AnswerGate(manager);
    const tree = new TaskTreeProvider(manager, registry, profiles);
    const view = vscode.window.createTreeView<TaskTreeNode>(ViewId.tasks, { treeDataProvider: tree, showCollapseAll: true });
    const indicators = new TaskIndicators(manager, view as vscode.TreeView<unknown>);
    const documents = new TaskDocuments(manager);
    const review = new TaskReview(manager);
    const worktreeWatchers = new WorktreeWatchers(manager, log);
    const panels = new TaskPanels({
      extensionUri: context.extensionUri,
      manager,
      registry,
      answers,
      log,
      openDiff: (taskId, requestId, file) => documents.openDiff(taskId, requestId, file),
      openChange: (taskId, file) => review.openFileDiff(taskId, file),
      openFinding: (reviewId, findingId) => comments.openFinding(reviewId, findingId),
    });
    const notifier = new Notifier(manager, settings, answers);
    // DESIGN §9: findings as comments in the review diff; attempts side by side.
    const comments = new ReviewComments(manager, review, (provider) => registry.get(provider)?.displayName ?? provider);
    const compare = new CompareViews({ extensionUri: context.extensionUri, manager, registry, log });
    this.disposables.push(tree, view, indicators, documents, review, worktreeWatchers, panels, notifier, comments, compare, registry);
    // A task panel open when the window reloaded comes back showing its task (the webview kept the id in its state).
    this.disposables.push(
      vscode.window.registerWebviewPanelSerializer(WebviewType.taskPanel, {
        deserializeWebviewPanel: (panel, state) => Promise.resolve(panels.restore(panel, state)),
      }),
    );
    const mcpHost = new McpHost(manager, answers, settings, log, context, privateDir);
    this.disposables.push(mcpHost);

    const refresh = (): void => {
      tree.scheduleRefresh();
      indicators.scheduleUpdate();
    };
    this.disposables.push(
      toVscode(manager.onDidUpdateTask(refresh)),
      toVscode(manager.onDidRemoveTask((id) => {
        tree.forget(id);
        refresh();
      })),
      toVscode(registry.onDidChange(refresh)),
      settings.onDidChange(() => {
        profiles.setConfigs(settings.profiles());
        refresh();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => refresh()),
    );

    const deps: CommandDependencies = {
      manager,
      registry,
      answers,
      panels,
      documents,
      log,
      memento: context.workspaceState,
      mcpHost,
      profiles,
      review,
      compareAttempts: (group) => compare.open(group),
      checkCommand: () => settings.manager().check ?? '',
      revealTask: async (id) => {
        try {
          // The new task is not in the tree's groups until its next refresh: show it first, then reveal its node.
          tree.refreshNow();
          await view.reveal({ kind: 'task', id }, { select: true, focus: false });
        } catch {
          // The tree may not have rendered the new task yet; revealing is a courtesy.
        }
      },
    };
    for (const [id, handler] of Object.entries(commandTable(deps))) {
      this.disposables.push(
        vscode.commands.registerCommand(id, async (...args: unknown[]) => {
          try {
            return await handler(...args);
          } catch (error) {
            const message = messageOf(error);
            log.error(`${id} failed: ${message}`);
            // Programmatic callers (an args object or id) get the rejection; palette users get a message.
            if (id === CommandId.newTask && args.length > 0) throw error;
            void vscode.window.showErrorMessage(message);
            return undefined;
          }
        }),
      );
    }

    this.api = createApi(manager, registry, answers, () => tree.currentGroups(), this.disposables, () => this.activationMs,
      (id) => tree.taskTreeItem(id), () => mcpHost.mcpServerDefinitions(), () => ({
        allowAgentApprovals: settings.allowAgentApprovals(),
        acpAgents: settings.acpAgents().map((agent) => agent.name),
        profiles: settings.profiles().map((profile) => profile.id),
        codexPath: settings.cliPath(ConfigKey.codexPath),
        defaultProvider: settings.defaultProvider(),
      }), {
        treeNode: (id) => tree.nodeOf(id),
        reviewEntries: (id) => {
          const task = manager.peek(id);
          return (task ? review.entries(task) : []).map((entry) => ({ resource: entry.resource.toString(), original: entry.original?.toString(), modified: entry.modified?.toString() }));
        },
        watchedWorktrees: () => worktreeWatchers.watched(),
        commentThreads: (id) => comments.threadsOf(id),
        compareView: (group) => compare.viewOf(group),
        attemptRow: (group) => tree.attemptRowView(group),
      });

    // M3: tasks restored in an untrusted workspace wait; they run once the user trusts it.
    this.disposables.push(vscode.workspace.onDidGrantWorkspaceTrust(() => manager.trustGranted()));
    const warnings = manager.restore();
    for (const warning of warnings) {
      log.warn(warning);
      void vscode.window.showWarningMessage(`Agent Tasks: ${warning}`, 'Show Log').then((choice) => {
        if (choice) log.show(true);
      });
    }
    this.sweepOrphanKeepers(keeper.launcher, log);
    refresh();
    log.info(`Agent Task Worker activated: ${manager.allTasks().length} task(s) restored from ${storageDir}`);
  }

  /**
   * Keepers whose task is gone or finished would keep an agent running until keepRunningMinutes: end them now.
   * Keepers of live tasks are left for the providers' resume() to reattach.
   */
  private sweepOrphanKeepers(launcher: KeeperLauncher, log: vscode.LogOutputChannel): void {
    try {
      sweepOrphanKeepers(launcher, (taskId) => {
        const task = this.manager.peek(taskId);
        return task !== undefined && !isTerminal(task.status);
      }, log);
    } catch (error) {
      log.warn(`Looking for leftover agent keepers failed: ${messageOf(error)}`);
    }
  }

  /** Disposes everything, then lets providers release their connections (agents keep running). */
  async disposeAsync(): Promise<void> {
    this.dispose();
    try {
      await this.providerShutdown();
    } catch (error) {
      console.error('[agent-tasks] provider shutdown failed', error);
    }
  }

  dispose(): void {
    for (const disposable of this.disposables.splice(0).reverse()) {
      try {
        disposable.dispose();
      } catch (error) {
        console.error('[agent-tasks] dispose failed', error);
      }
    }
  }
}

function toVscode(disposable: { dispose(): void }): vscode.Disposable {
  return new vscode.Disposable(() => disposable.dispose());
}
