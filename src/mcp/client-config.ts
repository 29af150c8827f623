// The configs other agents paste to start the server bundle (Agent Tasks: Copy MCP Server Config).

/** The server's name in those configs (tools show up as e.g. mcp__agent-tasks__spawn_task). */
export const MCP_SERVER_NAME = 'agent-tasks';

/**
 * The server's tools that change nothing (readOnlyHint, see tools.ts): the only ones a client may call without asking.
 * spawn_task, answer_question, cancel_task, send_message and merge_task_changes act for the user, so Codex asks before each call.
 */
export const READ_ONLY_TOOLS: readonly string[] = ['get_task', 'list_tasks', 'wait_for_task', 'get_task_changes'];

export type McpClientKind = 'claude' | 'claudeCli' | 'codex';

/** Ready-to-paste configs that start `node <extension>/dist/mcp-server.js` with the socket and token. */
export function clientSnippets(serverPath: string, env: Record<string, string>): Record<McpClientKind, string> {
  const claude = JSON.stringify({ mcpServers: { [MCP_SERVER_NAME]: { type: 'stdio', command: 'node', args: [serverPath], env } } }, null, 2);
  const claudeCli = [
    'claude mcp add',
    MCP_SERVER_NAME,
    ...Object.entries(env).map(([key, value]) => `-e ${shellQuote(`${key}=${value}`)}`),
    '-- node',
    shellQuote(serverPath),
  ].join(' ');
  const codex = codexServerToml(MCP_SERVER_NAME, {
    command: 'node',
    args: [serverPath],
    env,
    // wait_for_task may wait up to 10 minutes.
    toolTimeoutSec: 660,
    approvedTools: READ_ONLY_TOOLS,
    comment: [
      'Codex calls the read-only tools (get_task, list_tasks, wait_for_task, get_task_changes) without asking and asks',
      'you before the others (spawn_task, answer_question, cancel_task, send_message, merge_task_changes). To let it',
      'delegate without asking (codex exec), add a table [mcp_servers.agent-tasks.tools.spawn_task] with approval_mode = "approve".',
    ],
  });
  return { claude, claudeCli, codex };
}

export interface CodexServerToml {
  command: string;
  args: string[];
  env?: Record<string, string>;
  toolTimeoutSec?: number;
  /** Tools Codex may call without asking; every other tool of the server keeps Codex's approval prompt. */
  approvedTools?: readonly string[];
  comment?: string[];
}

/** A Codex config.toml entry for an MCP server: never a server-wide auto-approval, only per named tool. */
export function codexServerToml(name: string, server: CodexServerToml): string {
  const lines = [`[mcp_servers.${tomlKey(name)}]`, `command = ${JSON.stringify(server.command)}`, `args = [${server.args.map((arg) => JSON.stringify(arg)).join(', ')}]`];
  if (server.toolTimeoutSec !== undefined) lines.push(`tool_timeout_sec = ${server.toolTimeoutSec}`);
  if (server.env && Object.keys(server.env).length) {
    lines.push(`env = { ${Object.entries(server.env).map(([key, value]) => `${tomlKey(key)} = ${JSON.stringify(value)}`).join(', ')} }`);
  }
  if (server.approvedTools?.length) {
    lines.push(...(server.comment ?? []).map((line) => `# ${line}`));
    for (const tool of server.approvedTools) lines.push(`[mcp_servers.${tomlKey(name)}.tools.${tomlKey(tool)}]`, 'approval_mode = "approve"');
  }
  return lines.join('\n');
}

function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./=:@-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
