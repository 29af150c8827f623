// Claude Code and GitHub Copilot CLI in the real workbench: a task waiting on a command approval is still answerable
// after "Developer: Reload Window". The agent runs under a detached keeper that outlives the window; the reloaded
// extension reattaches to it, the pending approval is asked again, and the approval given in the panel runs the command.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { privateDirFor } from '../../src/platform/private-dir';
import { startMockAnthropicServer, type MockAnthropicServer } from '../fixtures/mock-anthropic/server';
import { startMockChatServer, type MockChatServer } from '../fixtures/mock-chat/server';
import { Workbench, waitUntil } from './harness';
import { formButton, questionForm, reloadWindow, taskPanel, waitForEntry, waitForFile, waitForPanelStatus } from './support-workbench';

const TASK_ID = /^[a-z]+-[a-z]+-\d{3}$/;

/**
 * Shows the Agent Tasks view and waits until its title is visible. After a reload the workbench restores the side bar
 * a moment after the activity bar item reads as active, so a single click (or none) can leave the side bar hidden:
 * click again until the view shows.
 */
async function showTasksViewSettled(workbench: Workbench): Promise<void> {
  const page = workbench.page;
  const title = page.locator('.part.sidebar .composite.title', { hasText: /agent tasks/i }).first();
  const entry = page.locator('.part.activitybar .action-item').filter({ has: page.locator('a.action-label[aria-label^="Agent Tasks"]') }).first();
  await entry.waitFor({ state: 'visible', timeout: 15_000 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (await title.isVisible()) {
      // Still visible a moment later: the restore did not toggle it away.
      await new Promise((resolve) => setTimeout(resolve, 500));
      if (await title.isVisible()) return;
    }
    if (Date.now() > deadline) throw new Error('the Agent Tasks view did not show');
    const checked = await entry.evaluate((el) => el.classList.contains('checked'));
    const sidebarVisible = await page.locator('.part.sidebar').first().isVisible();
    // Clicking the active item hides the side bar; click only when that is not what would happen.
    if (!checked || !sidebarVisible) await entry.click();
    await title.waitFor({ state: 'visible', timeout: 3_000 }).catch(() => undefined);
  }
}

/** "Agent Tasks: New Task" with prompt, agent and type; returns the id of the new row whose description names `providerId`
 *  after the state detail (then the id, when another task has the same title). */
async function newTask(workbench: Workbench, prompt: string, agent: RegExp, providerId: string, known: ReadonlySet<string>): Promise<string> {
  await showTasksViewSettled(workbench);
  await workbench.runCommand('Agent Tasks: New Task');
  await workbench.submitInputBox(prompt);
  await workbench.pickQuickItem(agent);
  await workbench.pickQuickItem(/^general\b/i);
  await workbench.waitForQuickInputClosed();
  await showTasksViewSettled(workbench);
  const row = await workbench.waitForTreeRow(
    (r) => r.level > 1 && r.taskId !== undefined && TASK_ID.test(r.taskId) && !known.has(r.taskId) && new RegExp(` · ${providerId}( · [a-z]+-[a-z]+-\\d{3})?$`).test(r.description),
    `the row of the new ${providerId} task`, 30_000);
  return row.taskId!;
}

const ROOT = path.resolve(__dirname, '../..');
const bin = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);

/** Live (not zombie) processes whose environment contains `text` (the agents get their profile's config dir). */
function pidsWithEnv(text: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (fs.readFileSync(`/proc/${name}/environ`, 'utf8').includes(text)) found.push(Number(name));
    } catch {
      // Gone, or not ours.
    }
  }
  return found;
}

/** Live processes whose working directory is `dir` (the keepers run in their socket directory, with an environment
 *  of their own: neither the harness marker nor the profile's). */
function pidsWithCwd(dir: string): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (fs.readlinkSync(`/proc/${name}/cwd`) === dir) found.push(Number(name));
    } catch {
      // Gone.
    }
  }
  return found;
}

const cmdlineOf = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
};

/** The long-lived processes of a task: its keeper(s) and the agent CLI (not the watchdog's short-lived children). */
function agentAndKeeperPids(home: string, keeperDir: string): number[] {
  return [...pidsWithEnv(home), ...pidsWithCwd(keeperDir)].filter((pid) => /dist\/keeper\.js --keeper=|claude\.exe|copilot --acp/.test(cmdlineOf(pid)));
}

const describeProcess = (pid: number): string => {
  try {
    return `${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 160)}`;
  } catch {
    return `${pid} (gone)`;
  }
};

describe('stdio agents survive "Developer: Reload Window" (keeper)', { timeout: 600_000 }, () => {
  let anthropic: MockAnthropicServer;
  let chat: MockChatServer;
  let homes: string;
  let workbench: Workbench;
  let workspace = '';

  before(async () => {
    anthropic = await startMockAnthropicServer();
    chat = await startMockChatServer();
    homes = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-e2e-agents-'));
    workbench = await Workbench.start({
      settings: {
        'agentTasks.claude.path': bin('claude'),
        'agentTasks.copilot.path': bin('copilot'),
        'agentTasks.profiles': [
          { id: 'mock-claude', provider: 'claude-cli', configDir: path.join(homes, 'claude'), env: { ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: 'dummy' } },
          {
            id: 'mock-copilot',
            provider: 'copilot',
            configDir: path.join(homes, 'copilot'),
            env: { COPILOT_OFFLINE: 'true', COPILOT_PROVIDER_BASE_URL: chat.url, COPILOT_PROVIDER_TYPE: 'openai', COPILOT_PROVIDER_API_KEY: 'x', COPILOT_MODEL: 'gpt-4.1' },
          },
        ],
      },
    });
    workspace = workbench.workspace;
  });

  after(async () => {
    const keeperDir = workspace ? privateDirFor(workspace) : '';
    const ours = (): number[] => [...new Set([...pidsWithEnv(homes), ...(keeperDir ? pidsWithCwd(keeperDir) : [])])];
    const atTeardown = ours().map(describeProcess);
    // Keepers run detached with an environment of their own (no harness marker), so stopping code-server does not
    // reach them: end them (and their process groups) first, like a person closing the editor for good would have to.
    const kill = (pid: number, signal: NodeJS.Signals): void => {
      try {
        process.kill(pid, signal);
      } catch {
        // Gone.
      }
    };
    for (const pid of keeperDir ? pidsWithCwd(keeperDir) : []) {
      kill(-pid, 'SIGTERM');
      kill(pid, 'SIGTERM');
    }
    await workbench?.stop();
    let left: number[] = [];
    try {
      left = await waitUntil(() => Promise.resolve(ours()), (pids) => pids.length === 0, 'agent and keeper processes to end', 10_000);
    } catch {
      left = ours();
    }
    for (const pid of left) kill(pid, 'SIGKILL');
    const survivors = await waitUntil(() => Promise.resolve(ours()), (pids) => pids.length === 0, 'SIGKILLed processes to end', 5_000).catch(() => ours());
    if (keeperDir) fs.rmSync(keeperDir, { recursive: true, force: true });
    fs.rmSync(homes, { recursive: true, force: true });
    await anthropic?.close();
    await chat?.close();
    if (atTeardown.length) console.log(`[e2e] running at teardown: ${atTeardown.join('; ')}`);
    if (left.length) console.log(`[e2e] needed SIGKILL after the workbench stopped: ${left.map(describeProcess).join('; ')}`);
    assert.deepEqual(survivors.map(describeProcess), [], 'no agent or keeper process outlives the suite');
  });

  const cases = [
    { name: 'Claude Code', agent: /^Claude Code$/, provider: 'claude-cli', home: 'claude', prompt: 'Please do the run-approval step' },
    { name: 'GitHub Copilot CLI', agent: /^GitHub Copilot CLI$/, provider: 'copilot', home: 'copilot', prompt: 'Please do the run-approval step' },
  ] as const;
  const created = new Set<string>();

  for (const c of cases) {
    test(`${c.name}: a command approval is still answerable after "Developer: Reload Window"`, { timeout: 240_000 }, async () => {
      await workbench.capture(`reload-${c.home}`, async () => {
        const file = path.join(workspace, 'approved.txt');
        fs.rmSync(file, { force: true });
        const home = path.join(homes, c.home);
        const t0 = Date.now();
        const id = await newTask(workbench, c.prompt, c.agent, c.provider, created);
        created.add(id);
        await workbench.waitForTaskInGroup(id, 'Needs you', 120_000);
        const tNeeds = Date.now();
        const beforeForm = await questionForm(await taskPanel(workbench, id, { open: true }), 'command_approval');
        assert.match(await beforeForm.locator('.command-text').innerText(), /^touch approved\.txt && echo made$/);
        assert.ok(!fs.existsSync(file), 'nothing ran before the answer');
        const agentPids = agentAndKeeperPids(home, privateDirFor(workspace));
        assert.ok(pidsWithEnv(home).length > 0, `the agent runs (processes with ${home} in their environment)`);
        assert.ok(pidsWithCwd(privateDirFor(workspace)).length > 0, 'its keeper runs');

        const tReload = Date.now();
        await reloadWindow(workbench);

        await showTasksViewSettled(workbench);
        await workbench.waitForTaskInGroup(id, 'Needs you', 60_000);
        const tBack = Date.now();
        const stillAlive = agentAndKeeperPids(home, privateDirFor(workspace));
        assert.deepEqual(agentPids.filter((pid) => !stillAlive.includes(pid)).map(describeProcess), [], 'the agent and keeper processes from before the reload still run');
        const frame = await taskPanel(workbench, id, { open: true });
        const form = await questionForm(frame, 'command_approval');
        assert.match(await form.locator('.command-text').innerText(), /^touch approved\.txt && echo made$/, 'the same approval is shown again');
        await waitForEntry(frame, (entry) => /\[recovery\] Reattached/.test(entry.text), 'a [recovery] Reattached entry');
        await workbench.screenshot(`reload-${c.home}-after-reload`);
        assert.ok(!fs.existsSync(file), 'nothing ran during the reload');
        await formButton(form, 'Approve').click();

        await waitForFile(file, undefined, 60_000);
        await workbench.waitForTaskInGroup(id, 'Completed', 60_000);
        await waitForPanelStatus(frame, /completed/i);
        if (c.home === 'claude') {
          assert.ok(!anthropic.requests.some((request) => /interrupted/.test(request.userText)), 'no claude --resume fallback was needed');
        }
        console.log(`[e2e] ${c.name} ${id}: needs-you after ${tNeeds - t0} ms, reload→needs-you ${tBack - tReload} ms, completed after ${Date.now() - t0} ms`);
        await workbench.runCommand('View: Close All Editors');
      });
    });
  }

  for (const c of cases) {
  test(`${c.name}: a command approval is still answerable after the extension host is killed (kill -9) and the window reloaded`, { timeout: 240_000 }, async () => {
    await workbench.capture(`kill-host-${c.home}`, async () => {
      const file = path.join(workspace, 'approved.txt');
      fs.rmSync(file, { force: true });
      const home = path.join(homes, c.home);
      const t0 = Date.now();
      const id = await newTask(workbench, `${c.prompt} now`, c.agent, c.provider, created);
      created.add(id);
      await workbench.waitForTaskInGroup(id, 'Needs you', 120_000);
      const beforeForm = await questionForm(await taskPanel(workbench, id, { open: true }), 'command_approval');
      assert.match(await beforeForm.locator('.command-text').innerText(), /^touch approved\.txt && echo made$/);
      const agentPids = agentAndKeeperPids(home, privateDirFor(workspace));
      assert.ok(pidsWithEnv(home).length > 0, 'the agent runs');
      assert.ok(pidsWithCwd(privateDirFor(workspace)).length > 0, 'its keeper runs');

      // The extension host of this workbench: a process of code-server's (it carries the harness marker) that runs
      // the extension host entry point.
      const marker = (workbench as unknown as { server: { marker: string } }).server.marker;
      const hosts = pidsWithEnv(marker).filter((pid) => /--type=extensionHost\b/.test(cmdlineOf(pid)));
      assert.equal(hosts.length, 1, `one extension host: ${pidsWithEnv(marker).map(describeProcess).join('; ')}`);
      const tKill = Date.now();
      process.kill(hosts[0], 'SIGKILL');
      await waitUntil(() => Promise.resolve(!cmdlineOf(hosts[0])), (gone) => gone, 'the extension host to die', 10_000);

      // code-server (VS Code 1.100.3, web) neither restarts a remote extension host that died nor offers a button,
      // and its palette has no "Developer: Restart Extension Host": the way back is reloading the window. What this
      // adds over the reload test is that the extension never got to shut down (no deactivate, no abort('shutdown')).
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.ok(!fs.existsSync(file), 'nothing ran when the host died');
      await reloadWindow(workbench);
      await waitUntil(() => Promise.resolve(pidsWithEnv(marker).filter((pid) => pid !== hosts[0] && /--type=extensionHost\b/.test(cmdlineOf(pid))).length),
        (n) => n > 0, 'a new extension host', 30_000);
      await showTasksViewSettled(workbench);
      await workbench.waitForTaskInGroup(id, 'Needs you', 60_000);
      const tBack = Date.now();
      const stillAlive = agentAndKeeperPids(home, privateDirFor(workspace));
      assert.deepEqual(agentPids.filter((pid) => !stillAlive.includes(pid)).map(describeProcess), [], 'the agent and keeper processes from before the kill still run');
      await workbench.runCommand('View: Close All Editors');
      const frame = await taskPanel(workbench, id, { open: true });
      const form = await questionForm(frame, 'command_approval');
      assert.match(await form.locator('.command-text').innerText(), /^touch approved\.txt && echo made$/, 'the same approval is shown again');
      await waitForEntry(frame, (entry) => /\[recovery\] Reattached/.test(entry.text), 'a [recovery] Reattached entry');
      await workbench.screenshot(`kill-host-${c.home}-after-restart`);
      assert.ok(!fs.existsSync(file), 'nothing ran while the host was down');
      await formButton(form, 'Approve').click();

      await waitForFile(file, undefined, 60_000);
      await workbench.waitForTaskInGroup(id, 'Completed', 60_000);
      await waitForPanelStatus(frame, /completed/i);
      if (c.home === 'claude') {
        assert.ok(!anthropic.requests.some((request) => /interrupted/.test(request.userText)), 'no claude --resume fallback was needed');
      }
      console.log(`[e2e] ${c.name} (kill -9) ${id}: kill→reload→needs-you ${tBack - tKill} ms, completed after ${Date.now() - t0} ms`);
      await workbench.runCommand('View: Close All Editors');
    });
  });
  }

  // M4 with two real windows: this one on the folder, a second one (its own extension host and workspace storage) on
  // a .code-workspace whose first folder is the same. Both use the folder's keeper directory; the second window's
  // activation sweep does not know this window's task and must leave its keeper and agent running.
  test('M4 a second window whose first folder is this one does not stop this window\'s running agent', { timeout: 240_000 }, async () => {
    await workbench.capture('m4-two-windows', async () => {
      const file = path.join(workspace, 'approved.txt');
      fs.rmSync(file, { force: true });
      const home = path.join(homes, 'claude');
      const id = await newTask(workbench, 'Please do the run-approval step (two windows)', /^Claude Code$/, 'claude-cli', created);
      created.add(id);
      await workbench.waitForTaskInGroup(id, 'Needs you', 120_000);
      const agentPids = agentAndKeeperPids(home, privateDirFor(workspace));
      assert.ok(agentPids.some((pid) => /dist\/keeper\.js --keeper=/.test(cmdlineOf(pid))), `its keeper runs: ${agentPids.map(describeProcess).join('; ')}`);
      assert.ok(agentPids.some((pid) => /claude\.exe/.test(cmdlineOf(pid))), 'the agent runs');

      const activated = (): string[] => workbench.extensionLog().split('\n').filter((line) => /Agent Task Worker activated: /.test(line));
      const activationsBefore = activated().length;
      const workspaceFile = path.join(homes, 'two-windows.code-workspace');
      fs.writeFileSync(workspaceFile, JSON.stringify({ folders: [{ path: workspace }] }));
      const second = await workbench.openWindow(workspaceFile);
      try {
        // The second window activated (and so ran its sweep) with a store of its own that does not have the task.
        const lines = await waitUntil(() => Promise.resolve(activated()), (all) => all.length > activationsBefore, 'the second window to activate', 60_000);
        assert.match(lines.at(-1) ?? '', /activated: 0 task\(s\) restored from /, `the second window knows no task: ${lines.join(' | ')}`);
        assert.notEqual(lines.at(-1)?.replace(/^.* restored from /, ''), lines[0]?.replace(/^.* restored from /, ''), 'the windows have their own storage');
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        const stillAlive = agentAndKeeperPids(home, privateDirFor(workspace));
        assert.deepEqual(agentPids.filter((pid) => !stillAlive.includes(pid)).map(describeProcess), [], 'the first window\'s keeper and agent still run');
        assert.ok(!workbench.extensionLog().includes(`Stopping the agent of task ${id}`), 'no window stopped this task\'s agent');
      } finally {
        await second.close();
      }
      // And the first window's task still works: the approval given there runs the command.
      await workbench.waitForTaskInGroup(id, 'Needs you', 30_000);
      const frame = await taskPanel(workbench, id, { open: true });
      await formButton(await questionForm(frame, 'command_approval'), 'Approve').click();
      await waitForFile(file, undefined, 60_000);
      await workbench.waitForTaskInGroup(id, 'Completed', 60_000);
      await workbench.runCommand('View: Close All Editors');
    });
  });
});
