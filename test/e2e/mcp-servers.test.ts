// VS Code's own MCP server list shows the Agent Tasks server, defined by the extension through
// vscode.lm.registerMcpServerDefinitionProvider (VS Code ≥ 1.101, feature-detected). The floor host (1.100) has no such
// list for extensions; test/integration/host.test.ts checks the extension stays fine there.
import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HOST, Workbench, waitUntil } from './harness';

const skip = HOST.name === 'floor' && 'VS Code 1.100 has no MCP server definition providers';

describe('VS Code lists the Agent Tasks MCP server', { timeout: 180_000, skip }, () => {
  let workbench: Workbench;

  before(async () => {
    // The MCP commands belong to VS Code's AI features, which the current host's defaults turn off.
    workbench = await Workbench.start({ settings: { 'chat.disableAIFeatures': false } });
  });
  after(async () => {
    await workbench?.stop();
  });

  test('"MCP: List Servers" shows "Agent Tasks", and VS Code starts it: Running', async () => {
    await workbench.capture('mcp-list-servers', async () => {
      await workbench.runCommand('MCP: List Servers', 30_000);
      const row = await workbench.pickQuickItem(/^Agent Tasks\b/, 30_000);
      assert.match(row.label, /^Agent Tasks/);
      // Its actions: VS Code starts the server it was given (node + dist/mcp-server.js with the window's socket).
      await workbench.pickQuickItem(/^Start Server$/, 15_000);
      await workbench.waitForQuickInputClosed();
      await waitUntil(async () => {
        await workbench.runCommand('MCP: List Servers', 30_000);
        await workbench.waitForQuickInputStep();
        const rows = await workbench.quickPickRows();
        await workbench.page.keyboard.press('Escape');
        return rows.find((candidate) => /^Agent Tasks\b/.test(candidate.label));
      }, (found) => found !== undefined && /running/i.test(`${found.description} ${found.ariaLabel}`), 'Agent Tasks shown as running', 30_000);
      await workbench.screenshot('e2e-mcp-list-servers');
    });
  });
});
