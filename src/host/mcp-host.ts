// The VS Code shell of MCP delegation: serves the editor-free host server (mcp/host-server.ts) in the workspace's
// private dir, lists it in VS Code's own MCP server list (when the API exists), and builds the ready-to-paste configs
// for other agents (Agent Tasks: Copy MCP Server Config).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Logger } from '../core/events';
import { messageOf } from '../core/errors';
import type { TaskManager } from '../core/task-manager';
import { clientSnippets, type McpClientKind } from '../mcp/client-config';
import { McpHostServer } from '../mcp/host-server';
import { tokenFilePath } from '../mcp/endpoint';
import { ENV_SOCKET, ENV_TOKEN_FILE } from '../mcp/protocol';
import { privateDirFor } from '../platform/private-dir';
import type { AnswerGate } from './answering';
import type { Settings } from './settings';

/** The id under contributes.mcpServerDefinitionProviders (VS Code ≥ 1.101). */
export const MCP_PROVIDER_ID = 'agentTasks.mcpServer';

/** What an MCP client needs to start the server bundle; also what the copy command returns to programmatic callers. */
export interface McpClientConfig {
  serverPath: string;
  socketPath: string;
  token: string;
  /** The 0600 file that holds the token; the configs name this file, never the token. */
  tokenFile: string;
  env: Record<string, string>;
  snippets: Record<McpClientKind, string>;
}

const CLIENT_LABELS: Record<McpClientKind, { label: string; detail: string }> = {
  claude: { label: 'Claude Code — .mcp.json', detail: 'Project config; merge into .mcp.json at the workspace root (it names the token file, not the token)' },
  claudeCli: { label: 'Claude Code — claude mcp add', detail: 'A command that adds the server to your local Claude Code config' },
  codex: { label: 'Codex — config.toml', detail: 'Append to ~/.codex/config.toml (or $CODEX_HOME/config.toml)' },
};

/** Serves the workspace's tasks to the MCP server bundle. One per window. */
export class McpHost implements vscode.Disposable {
  private readonly server: McpHostServer;
  private readonly definitionsChanged = new vscode.EventEmitter<void>();
  private readonly disposables: { dispose(): void }[] = [];
  /** What was registered with VS Code's MCP server list (undefined where the API is missing or refused it). */
  private definitionProvider: { provideMcpServerDefinitions(): unknown[] } | undefined;

  constructor(
    manager: TaskManager,
    answers: AnswerGate,
    settings: Settings,
    log: Logger,
    private readonly context: vscode.ExtensionContext,
    /** The verified private directory of a workspace (the container's resolvePrivateDir). */
    privateDir: (workspace: string) => string = privateDirFor,
  ) {
    this.server = new McpHostServer({
      tasks: manager,
      answer: (taskId, requestId, answer) => answers.answer(taskId, requestId, answer),
      allowAgentApprovals: () => settings.allowAgentApprovals(),
      allowAgentMerge: () => settings.allowAgentMerge(),
      log,
    });
    this.disposables.push(this.server.onDidStartServing(() => this.definitionsChanged.fire()), this.definitionsChanged);
    this.registerDefinitionProvider(log);
    const workspace = workspaceKey();
    const storageDir = context.storageUri?.fsPath;
    let socketDir: string | undefined;
    let refused: string | undefined;
    try {
      socketDir = workspace ? privateDir(workspace) : undefined;
    } catch (error) {
      refused = `No private socket directory: ${(error as Error).message}`;
    }
    void this.server.serve(
      refused !== undefined
        ? refused
        : workspace && storageDir && socketDir
        ? { workspace, socketDir, storageDir }
        : 'Delegating over MCP needs an open folder: the socket and its token belong to a workspace.',
    );
  }

  /** The server bundle's command line and the snippets for each client; throws when the socket is not served. */
  clientConfig(): McpClientConfig {
    const endpoint = this.server.endpoint;
    if (!endpoint) throw new Error(this.server.unavailableReason ?? 'The MCP socket is not available');
    const serverPath = this.context.asAbsolutePath(path.join('dist', 'mcp-server.js'));
    if (!fs.existsSync(serverPath)) throw new Error(`${serverPath} is missing: this build of Agent Task Worker has no MCP server`);
    const storage = this.context.storageUri?.fsPath;
    if (!storage) throw new Error('Delegating over MCP needs an open folder');
    const tokenFile = tokenFilePath(storage);
    // The configs name the token file: the token stays out of argv, shell history and project files (L6).
    const env = { [ENV_SOCKET]: endpoint.socketPath, [ENV_TOKEN_FILE]: tokenFile };
    return { serverPath, ...endpoint, tokenFile, env, snippets: clientSnippets(serverPath, env) };
  }

  /** See McpHostServer.rotateToken; VS Code's MCP list gets the new definition. */
  rotateToken(): void {
    this.server.rotateToken();
    this.definitionsChanged.fire();
  }

  /** VS Code ≥ 1.101 lists MCP servers from extensions; 1.100 (our floor) lacks the API, so it is looked up defensively. */
  private registerDefinitionProvider(log: Logger): void {
    const api = vscode as unknown as {
      lm?: { registerMcpServerDefinitionProvider?: (id: string, provider: unknown) => vscode.Disposable };
      McpStdioServerDefinition?: new (label: string, command: string, args?: string[], env?: Record<string, string>, version?: string) => unknown;
    };
    const register = api.lm?.registerMcpServerDefinitionProvider;
    const Definition = api.McpStdioServerDefinition;
    if (typeof register !== 'function' || typeof Definition !== 'function') return;
    try {
      const version = (this.context.extension.packageJSON as { version?: string }).version;
      const provider = {
        onDidChangeMcpServerDefinitions: this.definitionsChanged.event,
        provideMcpServerDefinitions: () => {
          try {
            const config = this.clientConfig();
            // The extension host's runtime runs the bundle (Electron's binary acts as Node with this variable).
            return [new Definition('Agent Tasks', process.execPath, [config.serverPath], { ...config.env, ELECTRON_RUN_AS_NODE: '1' }, version)];
          } catch {
            return [];
          }
        },
      };
      this.disposables.push(register.call(api.lm, MCP_PROVIDER_ID, provider));
      this.definitionProvider = provider;
    } catch (error) {
      // 1.100 has the function behind an API proposal: it throws, and the configs from the copy command still work.
      log.debug(`[mcp] VS Code's MCP server list is not available here: ${messageOf(error)}`);
    }
  }

  /** For the tests: whether VS Code took the definition provider, and what it gives VS Code now. */
  mcpServerDefinitions(): { registered: boolean; definitions: unknown[] } {
    return { registered: this.definitionProvider !== undefined, definitions: this.definitionProvider?.provideMcpServerDefinitions() ?? [] };
  }

  dispose(): void {
    this.server.dispose();
    for (const disposable of this.disposables) disposable.dispose();
  }
}

/**
 * `Agent Tasks: Copy MCP Server Config` for this window's host. Arg: a client kind, or {client?, copy?}; returns the
 * config (for scripts and tests).
 */
export async function copyMcpConfig(host: McpHost | undefined, arg?: unknown): Promise<McpClientConfig | undefined> {
  if (!host) throw new Error('Agent Tasks is not running its MCP host');
  const config = host.clientConfig();
  const options = typeof arg === 'string' ? { client: arg } : typeof arg === 'object' && arg !== null ? (arg as { client?: unknown; copy?: unknown }) : {};
  if (options.copy === false) return config;
  let kind = typeof options.client === 'string' && options.client in CLIENT_LABELS ? (options.client as McpClientKind) : undefined;
  if (!kind) {
    const picked = await vscode.window.showQuickPick(
      (Object.keys(CLIENT_LABELS) as McpClientKind[]).map((id) => ({ ...CLIENT_LABELS[id], id })),
      { title: 'Copy MCP Server Config', placeHolder: 'For which agent?' },
    );
    if (!picked) return undefined;
    kind = picked.id;
  }
  await vscode.env.clipboard.writeText(config.snippets[kind]);
  void vscode.window.showInformationMessage(
    `Copied the ${CLIENT_LABELS[kind].label} config. It names this workspace's token file (readable only by you), not the token itself.`,
  );
  return config;
}

/** The workspace the socket belongs to: the workspace file of a saved multi-root workspace, else the first folder. */
function workspaceKey(): string | undefined {
  const file = vscode.workspace.workspaceFile;
  if (file?.scheme === 'file') return file.fsPath;
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** `Agent Tasks: Rotate MCP Token`. Arg {confirm: false} skips the question (scripts and tests). */
export async function rotateMcpToken(host: McpHost | undefined, arg?: unknown): Promise<boolean> {
  if (!host) throw new Error('Agent Tasks is not running its MCP host');
  const confirmed =
    typeof arg === 'object' && arg !== null && (arg as { confirm?: unknown }).confirm === false
      ? true
      : (await vscode.window.showWarningMessage(
          'Rotate the MCP token? Connected agents are disconnected; configs copied before that embed the old token stop working. Configs that name the token file keep working.',
          { modal: true },
          'Rotate',
        )) === 'Rotate';
  if (!confirmed) return false;
  host.rotateToken();
  void vscode.window.showInformationMessage('The MCP token was rotated.');
  return true;
}
