/**
 * What the needs-you and Codex e2e suites do in the workbench beyond test/e2e/harness.ts: create a task from the
 * palette with a chosen agent and task type, find a task's panel and its question form, read the transcript,
 * answer from a notification toast or the diff editor's title bar, reload the window, switch the color theme and
 * take screenshots of the panel.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Frame, Locator } from 'playwright-core';
import { type TreeRow, type Workbench, waitUntil } from './harness';

/** The activity bar item of Agent Tasks (its label may carry a keybinding). */
const ACTIVITY_ITEM = '.part.activitybar a.action-label[aria-label^="Agent Tasks"]';

/**
 * Shows the Agent Tasks view. Unlike Workbench.openAgentTasks it clicks the whole activity bar entry: its badge
 * ("1 question needs you", or the progress badge while the view restores after a reload) covers the label and
 * takes the pointer events a click on the label needs.
 */
export async function showTasksView(workbench: Workbench): Promise<void> {
  const page = workbench.page;
  const entry = page.locator('.part.activitybar .action-item').filter({ has: page.locator('a.action-label[aria-label^="Agent Tasks"]') }).first();
  const title = page.locator('.part.sidebar .composite.title', { hasText: /agent tasks/i }).first();
  await entry.waitFor({ state: 'visible', timeout: 15_000 });
  // Clicking the active entry hides the side bar, and right after a reload the view may turn active by itself:
  // look again before every click.
  await waitUntil(async () => {
    if (await title.isVisible()) return true;
    if (!(await entry.evaluate((el) => el.classList.contains('checked')))) await entry.click();
    return title.waitFor({ state: 'visible', timeout: 2_000 }).then(() => true, () => false);
  }, (shown) => shown, 'the Agent Tasks view', 20_000);
}

export const THEMES = { light: 'Default Light Modern', dark: 'Default Dark Modern' } as const;
export type ThemeName = keyof typeof THEMES;

/** A transcript entry as the panel renders it. */
export interface RenderedEntry {
  kind: string;
  text: string;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Runs a command by its palette title, like Workbench.runCommand, but starts over when the palette closes under
 * it: a webview that has just been revealed takes the keyboard once it has loaded, and that closes a palette
 * opened in the meantime.
 */
export async function runCommand(workbench: Workbench, title: string, timeoutMs = 20_000): Promise<void> {
  const page = workbench.page;
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) }).first();
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      await workbench.quickInput.waitFor({ state: 'visible', timeout: 5_000 });
      await workbench.quickInput.fill(`>${title}`, { timeout: 3_000 });
      await row.click({ timeout: 3_000 });
      return;
    } catch (error) {
      lastError = error; // the palette closed, or the command list is not there yet: open it again
    }
  }
  throw new Error(`could not run "${title}" from the palette within ${timeoutMs} ms: ${String(lastError)}`);
}

/** Task rows of the tree (not groups): their aria label names the task id. */
const isTaskRow = (row: TreeRow): boolean => row.level > 1 && row.taskId !== undefined;

/**
 * Runs "Agent Tasks: New Task" and walks its quick input — prompt, agent, task type — then returns the id of the
 * task row that appeared.
 */
export async function newTaskFromPalette(workbench: Workbench, prompt: string, agent: RegExp, taskType: RegExp): Promise<string> {
  await showTasksView(workbench);
  await workbench.expandGroups();
  const known = new Set((await workbench.treeRows()).filter(isTaskRow).map((row) => row.taskId));
  await runCommand(workbench, 'Agent Tasks: New Task');
  await workbench.submitInputBox(prompt);
  await workbench.pickQuickItem(agent);
  await workbench.pickQuickItem(taskType);
  await workbench.waitForQuickInputClosed();
  await showTasksView(workbench);
  const row = await workbench.waitForTreeRow((r) => isTaskRow(r) && !known.has(r.taskId), 'the row of the new task', 30_000);
  return row.taskId!;
}

/**
 * The content frame of the visible task panel of `taskId` (its header shows the task id). Opens the panel from the
 * tree when `open` is set.
 */
export async function taskPanel(workbench: Workbench, taskId: string, options: { open?: boolean; timeoutMs?: number } = {}): Promise<Frame> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const find = (ms: number): Promise<Frame> => waitUntil(async () => {
    const frame = await workbench.webviewFrame(5_000);
    const header = await frame.locator('#header .task-id').textContent({ timeout: 1_000 });
    return header?.trim() === taskId ? frame : null;
  }, (frame) => frame !== null, `the task panel of ${taskId}`, ms) as Promise<Frame>;
  if (!options.open) return find(timeoutMs);
  await clickTaskRow(workbench, taskId);
  try {
    return await find(Math.min(timeoutMs, 12_000));
  } catch {
    // Now and then, with several task panels open, the workbench activates the panel's tab but never shows its
    // webview (the editor area stays blank). The panel is the active editor: close it and open the task again.
    await runCommand(workbench, 'View: Close Editor');
    await clickTaskRow(workbench, taskId);
    return find(timeoutMs);
  }
}

async function clickTaskRow(workbench: Workbench, taskId: string): Promise<void> {
  await showTasksView(workbench);
  await workbench.waitForTreeRow((row) => row.taskId === taskId, `the tree row of ${taskId}`);
  await workbench.taskRow(taskId).click();
}

/** The question form of a given kind in a task panel, once it shows. */
export async function questionForm(frame: Frame, kind: 'command_approval' | 'file_approval' | 'user_input' | 'elicitation' | 'dynamic_tool', timeoutMs = 30_000): Promise<Locator> {
  const form = frame.locator(`form.question.q-${kind}`).first();
  await form.waitFor({ state: 'visible', timeout: timeoutMs });
  return form;
}

/** A button of a question form by its exact label ("Approve", not "Approve for session"); the shortcut hint is ignored. */
export function formButton(form: Locator, label: string): Locator {
  return form.locator(`button:has(> span:text-is(${JSON.stringify(label)}))`).first();
}

/** The transcript entries the panel shows now. */
export function transcript(frame: Frame): Promise<RenderedEntry[]> {
  return frame.$$eval('#transcript .entry', (nodes) => nodes.map((node) => ({
    kind: node.getAttribute('data-kind') ?? '',
    text: node.querySelector('.body')?.textContent ?? '',
  })));
}

/** Waits until the panel's transcript has an entry for which `accept` holds; returns the whole transcript. */
export function waitForEntry(frame: Frame, accept: (entry: RenderedEntry) => boolean, what: string, timeoutMs = 30_000): Promise<RenderedEntry[]> {
  return waitUntil(() => transcript(frame), (entries) => entries.some(accept), what, timeoutMs);
}

/** Waits for the header's status badge to read `label` (e.g. "Completed"). */
export async function waitForPanelStatus(frame: Frame, label: RegExp, timeoutMs = 30_000): Promise<string> {
  return waitUntil(() => frame.locator('#status').innerText({ timeout: 2_000 }), (text) => label.test(text), `the panel status ${label}`, timeoutMs);
}

/** Waits for a file to exist (and to hold `content`, when given); returns its content. */
export function waitForFile(file: string, content?: string, timeoutMs = 30_000): Promise<string> {
  return waitUntil(
    () => Promise.resolve(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null),
    (text) => text !== null && (content === undefined || text === content),
    `${path.basename(file)}${content === undefined ? '' : ` holding ${JSON.stringify(content)}`}`,
    timeoutMs,
  ) as Promise<string>;
}

/** The notification toast whose message matches `message` (toasts are the bottom-right popups). */
export function toast(workbench: Workbench, message: string | RegExp): Locator {
  return workbench.page.locator('.notifications-toasts .notification-list-item').filter({ hasText: message }).first();
}

/** Clicks a button of the toast whose message matches; waits for the toast first. */
export async function clickToastButton(workbench: Workbench, message: string | RegExp, button: string, timeoutMs = 30_000): Promise<void> {
  const item = toast(workbench, message);
  await item.waitFor({ state: 'visible', timeout: timeoutMs });
  await item.locator('.monaco-button', { hasText: new RegExp(`^${button}$`) }).first().click();
}

/** Closes every toast now showing, so later tests see only their own. */
export async function clearNotifications(workbench: Workbench): Promise<void> {
  await runCommand(workbench, 'Notifications: Clear All Notifications').catch(() => undefined);
  await workbench.page.keyboard.press('Escape');
}

/** "Developer: Reload Window", then waits for the workbench and the Agent Tasks item to be back. */
export async function reloadWindow(workbench: Workbench): Promise<void> {
  const page = workbench.page;
  const loaded = page.waitForEvent('load', { timeout: 60_000 });
  await runCommand(workbench, 'Developer: Reload Window');
  await loaded;
  await page.waitForSelector('.monaco-workbench .part.activitybar', { timeout: 60_000 });
  await page.waitForSelector(ACTIVITY_ITEM, { timeout: 60_000 });
}

/** Switches the color theme through "Preferences: Color Theme" and waits for the workbench and webviews to follow. */
export async function switchTheme(workbench: Workbench, theme: ThemeName): Promise<void> {
  const page = workbench.page;
  const workbenchClass = theme === 'light' ? 'vs' : 'vs-dark';
  const isApplied = (): Promise<boolean> => page.locator('.monaco-workbench').first().evaluate((el, cls) => el.classList.contains(cls), workbenchClass);
  if (await isApplied()) return;
  await runCommand(workbench, 'Preferences: Color Theme');
  // 1.100 labels it "Default Light Modern", 1.139 "Light Modern" (its default themes are now the "2026" ones).
  await workbench.pickQuickItem(new RegExp(`^(Default )?${THEMES[theme].replace(/^Default /, '')}$`));
  await workbench.waitForQuickInputClosed();
  await waitUntil(isApplied, (applied) => applied, `the ${THEMES[theme]} theme`);
}

/** Waits until the webview body carries the theme class VS Code gives it (vscode-light / vscode-dark). */
export async function waitForWebviewTheme(frame: Frame, theme: ThemeName): Promise<void> {
  await waitUntil(() => frame.evaluate((cls) => document.body.classList.contains(cls), `vscode-${theme}`), (ok) => ok, `the panel in the ${theme} theme`);
}

/** Saves a screenshot of the visible task panel (the webview only, down to the end of its transcript) to `file`. */
export async function screenshotPanel(workbench: Workbench, file: string): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (const outer of await workbench.page.locator('iframe.webview.ready').all()) {
    const box = await outer.boundingBox();
    if (!box || !(await outer.isVisible())) continue;
    // Off the tabs and the tree: a hover tooltip of the workbench ("Close (Ctrl+W)") must not cover the panel.
    await workbench.page.mouse.move(box.x + box.width - 4, box.y + box.height - 4);
    await workbench.page.locator('.monaco-hover, .workbench-hover').first().waitFor({ state: 'hidden', timeout: 3_000 }).catch(() => undefined);
    const frame = await workbench.webviewFrame();
    const used = await frame.evaluate(() => {
      const last = document.querySelector('#transcript .entry:last-child') ?? document.querySelector('#questions') ?? document.body;
      return Math.ceil(last.getBoundingClientRect().bottom) + 16;
    });
    await workbench.page.screenshot({ path: file, clip: { x: box.x, y: box.y, width: box.width, height: Math.min(box.height, Math.max(used, 200)) } });
    return;
  }
  throw new Error('no visible webview to take a screenshot of');
}

/** Cancels a task from the palette ("Agent Tasks: Cancel Task", then the task in the picker). */
export async function cancelTask(workbench: Workbench, taskId: string): Promise<void> {
  await workbench.runCommandAndPick('Agent Tasks: Cancel Task', taskId);
  await workbench.waitForTaskInGroup(taskId, 'Cancelled');
}

/** Groups of tasks that are not finished. */
const ACTIVE_GROUPS = new Set(['Needs you', 'Running', 'Rate limited', 'Pending', 'Waiting']);

/** Cancels the tasks of `taskIds` that are still active, then clears every finished task from the tree. */
export async function clearTasks(workbench: Workbench, taskIds: readonly string[]): Promise<void> {
  await showTasksView(workbench);
  await workbench.expandGroups();
  for (const id of taskIds) {
    const group = await workbench.groupOfTask(id);
    if (group && ACTIVE_GROUPS.has(group.label)) await cancelTask(workbench, id);
  }
  // The command is in the palette only while finished tasks exist.
  await runCommand(workbench, 'Agent Tasks: Clear Finished Tasks', 5_000).catch(() => undefined);
  await workbench.page.keyboard.press('Escape');
}

/**
 * After a command that answers "the" question (Approve, Answer…): when several tasks wait, it first asks which
 * question; pick the one of `taskId`. Does nothing when the next step is not that picker.
 */
export async function pickQuestionOf(workbench: Workbench, taskId: string): Promise<void> {
  const widget = workbench.page.locator('.quick-input-widget');
  const rows = await waitUntil(
    async () => ((await widget.isVisible()) ? workbench.quickPickRows() : 'closed' as const),
    (seen) => seen === 'closed' || seen.length > 0,
    'a quick pick, or the palette to close',
    10_000,
  );
  if (rows !== 'closed' && rows.some((row) => [row.label, row.description, row.ariaLabel].some((text) => text.includes(taskId)))) await workbench.pickQuickItem(taskId);
}

/** Closes all editors (task panels, diffs), so the next test starts from an empty editor area. */
export async function closeAllEditors(workbench: Workbench): Promise<void> {
  await runCommand(workbench, 'View: Close All Editors');
}
