// The VS Code host the suites run in (scripts/run-integration.mjs --host): its version and Node are the ones asked
// for, and the newer API the extension uses behind feature detection — VS Code's MCP server list — works where the
// host has it (1.139: VS Code lists our server) and is absent and harmless where it does not (1.100).
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { McpClientConfig } from '../../src/host/mcp-host';
import { startClient } from '../support/mcp-client';
import { EXTENSION_ID, agentTasks, atLeast, eventually } from './support/agent-tasks';

interface McpTestHooks {
  mcpServerDefinitions(): { registered: boolean; definitions: { label?: string; command?: string; args?: string[]; env?: Record<string, string | number | null> }[] };
}

const MCP_API_SINCE = [1, 101];

suite('Host', () => {
  test('the extension host is the VS Code and Node the run asked for', () => {
    const expected = process.env.ATW_EXPECT_VSCODE;
    assert.ok(expected, 'scripts/run-integration.mjs sets ATW_EXPECT_VSCODE');
    assert.equal(vscode.version, expected);
    assert.equal(process.versions.node.split('.')[0], process.env.ATW_EXPECT_NODE_MAJOR, `Node ${process.versions.node}`);
  });

  test('VS Code\'s MCP server list: our definition provider where the API exists, nothing (and no harm) where not', async function () {
    this.timeout(60_000);
    const api = await agentTasks();
    assert.ok(vscode.extensions.getExtension(EXTENSION_ID)?.isActive, 'the extension is active');
    const hooks = (api as unknown as { __test: McpTestHooks }).__test;
    const lm = (vscode as unknown as { lm?: { registerMcpServerDefinitionProvider?: unknown } }).lm;
    const hasApi = typeof lm?.registerMcpServerDefinitionProvider === 'function'
      && typeof (vscode as unknown as { McpStdioServerDefinition?: unknown }).McpStdioServerDefinition === 'function';
    if (!atLeast(vscode.version, MCP_API_SINCE)) {
      assert.equal(hooks.mcpServerDefinitions().registered, false, `VS Code ${vscode.version} takes no MCP server definition provider`);
      assert.deepEqual(hooks.mcpServerDefinitions().definitions, []);
      return;
    }
    assert.ok(hasApi, `VS Code ${vscode.version} has vscode.lm.registerMcpServerDefinitionProvider and McpStdioServerDefinition`);
    assert.equal(hooks.mcpServerDefinitions().registered, true, 'the provider was registered');
    const { definitions } = await eventually(() => hooks.mcpServerDefinitions(), (value) => value.definitions.length === 1,
      'one MCP server definition once the socket is served', 15_000);
    const [definition] = definitions;
    const config = await vscode.commands.executeCommand<McpClientConfig>('agentTasks.copyMcpConfig', { copy: false });
    assert.equal(definition.label, 'Agent Tasks');
    assert.equal(definition.command, process.execPath);
    assert.deepEqual(definition.args, [config.serverPath]);
    for (const [key, value] of Object.entries(config.env)) assert.equal(definition.env?.[key], value, `the definition passes ${key}`);
    // What VS Code would start: that command line serves the task tools.
    const env = Object.fromEntries(Object.entries(definition.env ?? {}).filter(([, value]) => value !== null).map(([key, value]) => [key, String(value)]));
    const client = await startClient(definition.args![0], env, { node: definition.command, name: 'vscode-mcp-list' });
    try {
      const { tools } = await client.client.listTools();
      assert.ok(tools.some((tool) => tool.name === 'spawn_task'), `tools: ${tools.map((tool) => tool.name).join(', ')}`);
    } finally {
      await client.close();
    }
  });
});
