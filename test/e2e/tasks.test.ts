// What a person does with Agent Tasks in the real UI: open the view, start a task from the palette, watch it finish in
// the tree, read its transcript in the task panel, cancel a running task.
import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TreeRow, Workbench, waitUntil } from './harness';

const PROMPT = 'say: hello from e2e; sleep: 300; done: all good';
/** A task row of the scripted provider whose prompt starts with `text` (the description shows the prompt's first line,
 *  or what the task waits on; the aria-label always has the prompt). */
const isTaskRowFor = (text: string) => (row: TreeRow): boolean =>
  row.level > 1 && row.description.startsWith('scripted · ') && (row.description.includes(text) || row.ariaLabel.includes(text));

describe('Agent Tasks in the workbench', { timeout: 240_000 }, () => {
  let workbench: Workbench;
  let completedTaskId = '';

  before(async () => {
    workbench = await Workbench.start();
  });
  after(async () => {
    await workbench?.stop();
  });

  /** Runs "Agent Tasks: New Task" and walks its quick input: prompt, provider "Scripted", task type "general". */
  async function newTaskFromPalette(prompt: string): Promise<string> {
    const before = new Set((await workbench.treeRows()).filter((row) => row.level > 1).map((row) => row.label));
    await workbench.runCommand('Agent Tasks: New Task');
    await workbench.submitInputBox(prompt);
    await workbench.pickQuickItem(/scripted/i);
    await workbench.pickQuickItem(/^general\b/i);
    await workbench.waitForQuickInputClosed();
    await workbench.openAgentTasks();
    const firstLine = prompt.split('\n')[0].slice(0, 20);
    const row = await workbench.waitForTreeRow((r) => isTaskRowFor(firstLine)(r) && !before.has(r.label), `a new task row for "${firstLine}"`);
    assert.match(row.label, /^[a-z]+-[a-z]+-\d{3}$/, 'a task row is labelled with the task id');
    return row.label;
  }

  /** A modal confirmation some actions may ask for: accept it if one shows. */
  async function confirmIfAsked(button: RegExp): Promise<void> {
    const dialogButton = workbench.page.locator('.monaco-dialog-box .monaco-button', { hasText: button }).first();
    if (await dialogButton.waitFor({ state: 'visible', timeout: 1_500 }).then(() => true, () => false)) await dialogButton.click();
  }

  test('the activity bar opens Agent Tasks; the empty view offers "New Task"', async () => {
    await workbench.capture('welcome-view', async () => {
      await workbench.openAgentTasks();
      const button = workbench.welcomeButton(/^New Task$/);
      await button.waitFor({ state: 'visible', timeout: 15_000 });
      await workbench.screenshot('e2e-01-welcome');
      await button.click();
      await workbench.waitForQuickInputStep();
      await workbench.page.keyboard.press('Escape');
      await workbench.waitForQuickInputClosed();
      assert.deepEqual((await workbench.treeRows()).filter((row) => row.level > 1), [], 'escaping the flow creates no task');
      await button.waitFor({ state: 'visible', timeout: 5_000 });
    });
  });

  test('"Agent Tasks: New Task" → prompt, Scripted, general → the task reaches Completed', async () => {
    await workbench.capture('new-task', async () => {
      completedTaskId = await newTaskFromPalette(PROMPT);
      const task = await workbench.waitForTreeRow((row) => row.label === completedTaskId, 'the task row');
      assert.equal(task.description.startsWith('scripted · '), true, `task row description: "${task.description}"`);
      const group = await workbench.waitForTaskInGroup(completedTaskId, 'Completed', 30_000);
      assert.match(group.description, /\b1\b/, `the Completed group shows its count: "${group.description}"`);
      await workbench.screenshot('e2e-02-completed');
    });
  });

  test('opening the task shows its transcript and status in the task panel', async () => {
    assert.ok(completedTaskId, 'the previous test created a task');
    await workbench.capture('open-task', async () => {
      await workbench.treeRow(completedTaskId).click();
      const frame = await workbench.webviewFrame();
      await frame.waitForSelector('#transcript .entry[data-kind]', { timeout: 15_000 });
      const entries = await waitUntil(
        () => frame.$$eval('#transcript .entry', (nodes) => nodes.map((n) => ({ kind: n.getAttribute('data-kind'), text: n.textContent ?? '' }))),
        (all) => all.some((e) => e.kind === 'agent' && e.text.includes('hello from e2e')),
        'the agent message in the transcript',
      );
      assert.ok(entries.length >= 1);
      const header = await frame.locator('#header').innerText();
      assert.match(header, /completed/i, `header: ${header}`);
      await workbench.screenshot('e2e-03-task-panel');
    });
  });

  test('"Agent Tasks: Open Task" from the palette opens the panel for a picked task', async () => {
    assert.ok(completedTaskId, 'an earlier test created a task');
    await workbench.capture('open-task-palette', async () => {
      await workbench.runCommand('Agent Tasks: Open Task');
      await workbench.pickQuickItem(completedTaskId);
      const frame = await workbench.webviewFrame();
      await frame.waitForSelector('#header', { timeout: 15_000 });
      await waitUntil(() => frame.locator('#header').innerText(), (text) => /completed/i.test(text), 'the header to show Completed');
    });
  });

  test('a running task is cancelled from its inline "Cancel Task" action', async () => {
    await workbench.capture('cancel-inline', async () => {
      const id = await newTaskFromPalette('sleep: 60000');
      await workbench.waitForTaskInGroup(id, 'Running', 20_000);
      await workbench.screenshot('e2e-04-running');
      await workbench.clickInlineAction(id, 'Cancel Task');
      await confirmIfAsked(/cancel task|^yes|^ok/i);
      await workbench.waitForTaskInGroup(id, 'Cancelled', 15_000);
      await workbench.screenshot('e2e-05-cancelled');
    });
  });

  test('a command approval shows under "Needs you" and is approved from the task panel', async () => {
    await workbench.capture('approve-in-panel', async () => {
      const id = await newTaskFromPalette('say: may I?; ask-command: npm test; done: approved in the panel');
      await workbench.waitForTaskInGroup(id, 'Needs you', 20_000);
      await workbench.treeRow(id).click();
      const frame = await workbench.webviewFrame();
      await waitUntil(() => frame.locator('#header').innerText(), (text) => text.includes(id), `the panel of ${id}`);
      const approve = frame.getByRole('button', { name: /^approve(\s|$)/i }).first();
      await approve.waitFor({ state: 'visible', timeout: 15_000 });
      assert.ok(await frame.getByText('npm test').first().isVisible(), 'the panel shows the command to approve');
      await approve.click();
      await workbench.waitForTaskInGroup(id, 'Completed', 20_000);
      await waitUntil(() => frame.locator('#header').innerText(), (text) => /completed/i.test(text), 'the header to show Completed');
    });
  });

  test('"Agent Tasks: Cancel Task" from the palette cancels a picked running task', async () => {
    await workbench.capture('cancel-palette', async () => {
      const id = await newTaskFromPalette('sleep: 60000; say: cancel me from the palette');
      await workbench.waitForTaskInGroup(id, 'Running', 20_000);
      await workbench.runCommand('Agent Tasks: Cancel Task');
      await workbench.pickQuickItem(id);
      await confirmIfAsked(/cancel task|^yes|^ok/i);
      await workbench.waitForTaskInGroup(id, 'Cancelled', 15_000);
    });
  });
});
