// The configs other agents paste to start the server bundle (Agent Tasks: Copy MCP Server Config).

/** The server's name in those configs (tools show up as e.g. mcp__agent-tasks__spawn_task). */
export const MCP_SERVER_NAME = 'agent-tasks';

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
  const codex = [
    `[mcp_servers.${MCP_SERVER_NAME}]`,
    'command = "node"',
    `args = [${JSON.stringify(serverPath)}]`,
    // wait_for_task may wait up to 10 minutes.
    'tool_timeout_sec = 660',
    '# Codex asks before each call of a tool that changes something; delegated tasks still ask you in VS Code before',
    '# their agents run commands or change files. Remove this line to be asked for every spawn_task too.',
    'default_tools_approval_mode = "approve"',
    `env = { ${Object.entries(env).map(([key, value]) => `${key} = ${JSON.stringify(value)}`).join(', ')} }`,
  ].join('\n');
  return { claude, claudeCli, codex };
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./=:@-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

