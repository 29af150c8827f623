// Real Codex in the real workbench: a task waiting on a command approval is still answerable after "Developer:
// Reload Window". The Codex app-server runs detached and outlives the window; the reloaded extension reattaches to
// it, Codex re-sends the pending approval, and the approval given in the panel runs the command.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCodexHome } from '../fixtures/mock-responses/codex-home';
import { startMockResponsesServer, type MockResponsesServer } from '../fixtures/mock-responses/server';
import { Workbench, waitUntil } from './harness';
import { appServerPidsOf, codexProcessesOf, codexSettings, pinnedCodexBinary, stopCodexAppServers } from './support-codex';
import { formButton, newTaskFromPalette, showTasksView, questionForm, reloadWindow, taskPanel, waitForEntry, waitForFile, waitForPanelStatus } from './support-workbench';

describe('Codex in the workbench', { timeout: 300_000 }, () => {
  let mock: MockResponsesServer;
  let workbench: Workbench;
  let codexRoot: string;
  let workspace = '';

  before(async () => {
    mock = await startMockResponsesServer();
    codexRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-e2e-codex-'));
    const codexHome = path.join(codexRoot, 'home');
    workbench = await Workbench.start({ settings: codexSettings(pinnedCodexBinary(), codexHome) });
    workspace = workbench.workspace;
    // Codex reads its config when the app-server starts (at the first task), so the home can follow the workbench.
    await writeCodexHome(codexHome, { port: mock.port, cwd: workspace });
  });

  after(async () => {
    // The app-servers first: they are detached, so stopping code-server would leave them running.
    const stopped = workspace ? await stopCodexAppServers(workspace).catch((error: Error) => [error.message]) : [];
    await workbench?.stop();
    const left = workspace ? codexProcessesOf(workspace) : [];
    fs.rmSync(codexRoot, { recursive: true, force: true });
    await mock?.close();
    assert.deepEqual(left, [], `no Codex process outlives the suite (stopped: ${stopped.join('; ')})`);
  });

  test('a command approval is still answerable after "Developer: Reload Window"', async () => {
    await workbench.capture('codex-reload', async () => {
      const file = path.join(workspace, 'approved.txt');
      const id = await newTaskFromPalette(workbench, 'Please run-approval', /^codex$/i, /^general\b/i);
      // The first task of a fresh window, from the palette: on VS Code 1.139 it failed at once with "Codex was not found
      // on PATH" while agentTasks.codex.path was machine-scoped (a remote window drops those from User settings).
      const group = await waitUntil(async () => {
        await workbench.expandGroups();
        return (await workbench.groupOfTask(id))?.label;
      }, (label) => label === 'Needs you' || label === 'Failed', `task ${id} in Needs you (or Failed)`, 90_000);
      if (group === 'Failed') {
        const frame = await taskPanel(workbench, id, { open: true });
        const error = await frame.locator('.error-banner').first().innerText({ timeout: 5_000 }).catch(() => '?');
        assert.fail(`the Codex task failed instead of asking for the approval: ${error}`);
      }
      // New Task reveals the new task in the tree; VS Code logs when it cannot resolve the task's group.
      const unresolved = workbench.extensionHostLog().split('\n').filter((line) => /Cannot resolve tree item/.test(line));
      assert.deepEqual(unresolved, [], 'revealing the new task found its group');
      const [serverBefore] = await waitUntil(() => Promise.resolve(appServerPidsOf(workspace)), (pids) => pids.length === 1, 'one Codex app-server');
      const before = await questionForm(await taskPanel(workbench, id, { open: true }), 'command_approval');
      assert.match(await before.innerText(), /touch approved\.txt && echo made/);
      assert.ok(!fs.existsSync(file), 'nothing ran before the answer');

      await reloadWindow(workbench);

      // The task's panel was the active editor: VS Code restores it and the extension shows the task in it again,
      // with the approval, before anyone clicks the tree.
      const restored = await taskPanel(workbench, id, { timeoutMs: 60_000 });
      assert.match(await (await questionForm(restored, 'command_approval')).innerText(), /touch approved\.txt && echo made/, 'the restored panel shows the approval');
      await showTasksView(workbench);
      await workbench.waitForTaskInGroup(id, 'Needs you', 60_000);
      assert.deepEqual(appServerPidsOf(workspace), [serverBefore], 'the reloaded window reattached to the same app-server');
      const frame = await taskPanel(workbench, id, { open: true });
      const form = await questionForm(frame, 'command_approval');
      assert.match(await form.locator('.command-text').innerText(), /^touch approved\.txt && echo made$/, 'the same approval is shown again');
      await waitForEntry(frame, (entry) => entry.text.includes('[recovery]'), 'a [recovery] entry');
      await workbench.screenshot('codex-after-reload');
      await formButton(form, 'Approve').click();

      await waitForFile(file, '', 60_000);
      await workbench.waitForTaskInGroup(id, 'Completed', 60_000);
      await waitForPanelStatus(frame, /completed/i);
      await waitForEntry(frame, (entry) => entry.kind === 'agent' && /Tool said: .*made/s.test(entry.text), 'the agent reply quoting the command output');
      assert.equal(mock.requests.filter((request) => request.scenario === 'run-approval' && request.lastItemType === 'message').length, 1,
        'the model was asked once: the reload did not restart the turn');
    });
  });
});
