// What a person does with Agent Tasks in the real UI: open the view, start a task from the palette, watch it finish in
// the tree, read its transcript in the task panel, cancel a running task.
import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Frame } from 'playwright-core';
import { type TreeRow, Workbench, waitUntil } from './harness';
import { cancelTask, clearNotifications, runCommand } from './support-workbench';
import { TAB_TITLE_LENGTH, taskTitle } from '../../src/core/task-title';

const PROMPT = 'say: hello from e2e; sleep: 300; done: all good';
/** A task row of the scripted provider whose prompt starts with `text` (the label is the task's title: the prompt's
 *  first line, shortened; the description says what the task does or waits on; the aria label ends with the id). */
const isTaskRowFor = (text: string) => (row: TreeRow): boolean =>
  row.level > 1 && row.taskId !== undefined && / · scripted( · [a-z]+-[a-z]+-\d{3})?$/.test(row.description) && (row.label.startsWith(text) || row.ariaLabel.startsWith(text));

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
    const before = new Set((await workbench.treeRows()).filter((row) => row.level > 1).map((row) => row.taskId));
    await workbench.runCommand('Agent Tasks: New Task');
    await workbench.submitInputBox(prompt);
    await workbench.pickQuickItem(/scripted/i);
    await workbench.pickQuickItem(/^general\b/i);
    await workbench.waitForQuickInputClosed();
    await workbench.openAgentTasks();
    const firstLine = prompt.split('\n')[0].slice(0, 20);
    const row = await workbench.waitForTreeRow((r) => isTaskRowFor(firstLine)(r) && !before.has(r.taskId), `a new task row for "${firstLine}"`);
    assert.ok(row.label.startsWith(firstLine), `a task row is labelled with the prompt's first line: "${row.label}"`);
    assert.match(row.taskId!, /^[a-z]+-[a-z]+-\d{3}$/, 'its aria label ends with the task id');
    return row.taskId!;
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
      const group = await workbench.waitForTaskInGroup(completedTaskId, 'Completed', 30_000);
      assert.match(group.description, /\b1\b/, `the Completed group shows its count: "${group.description}"`);
      const task = await workbench.waitForTreeRow((row) => row.taskId === completedTaskId, 'the task row');
      assert.equal(task.label, taskTitle({ prompt: PROMPT }), 'the row is labelled with the prompt\'s first line, shortened');
      assert.ok(task.label.endsWith('…') && PROMPT.startsWith(task.label.slice(0, -1)), `the prompt's start: "${task.label}"`);
      assert.match(task.description, /^done in \d+s · scripted$/, 'the description says how the task ended, then the provider');
      await workbench.screenshot('e2e-02-completed');
    });
  });

  test('opening the task shows its transcript and status in the task panel', async () => {
    assert.ok(completedTaskId, 'the previous test created a task');
    await workbench.capture('open-task', async () => {
      await workbench.taskRow(completedTaskId).click();
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
      await workbench.runCommandAndPick('Agent Tasks: Open Task', completedTaskId);
      await workbench.waitForQuickInputClosed();
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
      await workbench.taskRow(id).click();
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
      await workbench.runCommandAndPick('Agent Tasks: Cancel Task', id);
      await confirmIfAsked(/cancel task|^yes|^ok/i);
      await workbench.waitForTaskInGroup(id, 'Cancelled', 15_000);
    });
  });

  test('three tasks waiting at once are told apart by their rows; the toast and the panel name a task by its title', async () => {
    await workbench.capture('three-waiting', async () => {
      await clearNotifications(workbench);
      // First lines that fit a row (40 characters), so the label is the whole line.
      const prompts = ['Add --verbose; ask-command: npm test', 'Fix the changelog; ask-command: npm test', 'Bump the version; ask-command: npm test'];
      const ids: string[] = [];
      for (const prompt of prompts) ids.push(await newTaskFromPalette(prompt));
      for (const id of ids) await workbench.waitForTaskInGroup(id, 'Needs you', 20_000);
      const rows = await waitUntil(
        async () => (await workbench.treeRows()).filter((row) => row.taskId !== undefined && ids.includes(row.taskId)),
        (found) => found.length === 3 && found.every((row) => row.description.includes('needs you')),
        'the three rows under Needs you',
      );
      for (const [index, id] of ids.entries()) {
        const row = rows.find((candidate) => candidate.taskId === id)!;
        assert.equal(row.label, prompts[index], 'the label is the prompt\'s first line while the task needs you');
        assert.equal(row.description, 'needs you: run npm test · scripted', 'the state detail is in the description');
        assert.ok(!row.label.includes(id) && !row.description.includes(id), 'the random id is not what tells the rows apart');
      }
      assert.equal(new Set(rows.map((row) => `${row.label} ${row.description}`)).size, 3, 'the rows\' visible text differs');
      await workbench.screenshot('e2e-06-three-waiting');

      // A newer toast may hide an older one: read every notification in the notification center.
      await runCommand(workbench, 'Notifications: Show Notifications');
      const center = workbench.page.locator('.notifications-center .notification-list-item-message');
      const expected = prompts.map((prompt) => `“${prompt}” needs you: run npm test`);
      const messages = await waitUntil(() => center.allInnerTexts(), (shown) => expected.every((text) => shown.includes(text)), 'a notification naming each task by its title');
      assert.ok(!messages.some((message) => ids.some((id) => message.includes(id))), `no notification names a task by its id: ${JSON.stringify(messages)}`);
      await workbench.page.keyboard.press('Escape');

      await workbench.taskRow(ids[1]).click();
      // The click switches panels asynchronously: the visible webview is looked up again until it is the second task's.
      const frame = await waitUntil(async () => {
        const visible = await workbench.webviewFrame();
        return (await visible.locator('#header .task-id').innerText().catch(() => '')) === ids[1] ? visible : null;
      }, (found) => found !== null, 'the panel of the second task') as Frame;
      assert.equal(await frame.locator('#header h1').innerText(), prompts[1], 'the panel header shows the title');
      const tab = workbench.page.locator('.part.editor .tab.active');
      const tabTitle = taskTitle({ prompt: prompts[1] }, TAB_TITLE_LENGTH);
      assert.ok(tabTitle.startsWith('Fix the changelog'), tabTitle);
      await waitUntil(() => tab.innerText(), (text) => text.includes(tabTitle), 'the panel tab named by the title');
      for (const id of ids) await cancelTask(workbench, id);
    });
  });
});
