// DESIGN §8 in the real UI: a Codex task (the `npm start` demo model) edits a file in a git workspace, in its own
// worktree → the tree shows its change summary → Review Changes (the row's inline action) opens VS Code's multi-file
// diff editor → Merge Changes (inline) → the file is in the main checkout and the task shows merged. Then, with the
// scripted test agent, the panel's changed-files list, Review from the panel with every file, and Discard's modal.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../../scripts/paths.mjs';
import { ARTIFACTS_DIR, type Workbench, waitUntil } from './harness';
import { type DemoSuite, startDemoSuite, stopDemoSuite } from './support-demo';
import { clearNotifications, formButton, newTaskFromPalette, questionForm, showTasksView, taskPanel, waitForFile } from './support-workbench';

const DEMO_FILE = 'hello-from-agent-tasks.md';
/** ATW_UPDATE_SCREENSHOTS=1 writes the README's screenshot docs/images/review-changes.png (else to the e2e artifacts). */
const SCREENSHOTS_DIR = process.env.ATW_UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot(), 'docs', 'images') : ARTIFACTS_DIR;
const TURN_MS = 90_000;

/** The file names the multi-file diff editor shows (its entries' headers). */
async function multiDiffFiles(workbench: Workbench): Promise<string[]> {
  return workbench.page.locator('.part.editor .multiDiffEditor .multiDiffEntry .header').allInnerTexts();
}

describe('Task worktrees in the workbench', { timeout: 400_000 }, () => {
  let suite: DemoSuite | undefined;
  let workbench: Workbench;
  let workspace = '';
  let git: (...args: string[]) => string;

  before(async () => {
    suite = await startDemoSuite('atw-e2e-wt-');
    ({ workbench, workspace, git } = suite);
  });

  after(() => (suite ? stopDemoSuite(suite) : undefined));

  test('a Codex task edits a file in its worktree; Review Changes shows it; Merge puts it in the main checkout', async () => {
    await workbench.capture('worktree-review-merge', async () => {
      const id = await newTaskFromPalette(workbench, 'Please edit a file', /^codex$/i, /^general\b/i);
      // The demo model proposes a new file; the read-only sandbox asks first.
      await workbench.waitForTaskInGroup(id, 'Needs you', TURN_MS);
      const frame = await taskPanel(workbench, id, { open: true });
      await formButton(await questionForm(frame, 'file_approval'), 'Approve').click();
      await workbench.waitForTaskInGroup(id, 'Completed', TURN_MS);
      const worktree = path.join(`${workspace}.worktrees`, id);
      await waitForFile(path.join(worktree, DEMO_FILE), undefined, 10_000);
      assert.ok(!fs.existsSync(path.join(workspace, DEMO_FILE)), 'the agent wrote in its worktree, not in the main checkout');

      // The tree: its change summary, then the inline Review Changes.
      await showTasksView(workbench);
      const row = await workbench.waitForTreeRow((r) => r.taskId === id && /\+\d+ −0 · 1 file/.test(r.description), 'the row with its change summary', 20_000);
      assert.match(row.description, /^done in .* · \+\d+ −0 · 1 file · codex$/);
      await workbench.clickInlineAction(id, 'Review Changes');
      const files = await waitUntil(() => multiDiffFiles(workbench), (names) => names.some((name) => name.includes(DEMO_FILE)), 'the multi-file diff editor with the file');
      assert.equal(files.length, 1, `one file in the review: ${JSON.stringify(files)}`);
      await workbench.screenshot('worktree-review');

      // Merge (inline): the file lands in the main checkout, committed; the task says merged.
      await showTasksView(workbench);
      await workbench.clickInlineAction(id, 'Merge Changes');
      await waitForFile(path.join(workspace, DEMO_FILE), fs.readFileSync(path.join(worktree, DEMO_FILE), 'utf8'), 30_000);
      assert.equal(git('status', '--porcelain').trim(), '', 'merged as a commit: nothing uncommitted in the main checkout');
      assert.match(git('log', '-1', '--format=%B'), new RegExp(`Agent task ${id}`));
      await workbench.waitForTreeRow((r) => r.taskId === id && !/files? ·/.test(r.description), 'the row without a summary');
      const panel = await taskPanel(workbench, id, { open: true });
      await waitUntil(() => panel.locator('#changes h2').innerText({ timeout: 2_000 }), (text) => /Merged into the main checkout/.test(text), 'the panel says merged');
    });
  });

  test('the panel lists every changed file (a click opens its diff); Review shows them all; Discard asks, then removes', async () => {
    await workbench.capture('worktree-panel-discard', async () => {
      // `\n` as typed: the scripted agent turns it into a line break of the file.
      const prompt = 'title: Add a --shout flag to hello.js; ask-file: CHANGELOG.md|# Changelog\\n\\n- hello.js: --shout prints the greeting in capitals\\n; done: ok';
      const id = await newTaskFromPalette(workbench, prompt, /scripted/i, /^general\b/i);
      await workbench.waitForTaskInGroup(id, 'Needs you', 30_000);
      const frame = await taskPanel(workbench, id, { open: true });
      await formButton(await questionForm(frame, 'file_approval'), 'Approve').click();
      await workbench.waitForTaskInGroup(id, 'Completed', 30_000);
      const worktree = path.join(`${workspace}.worktrees`, id);
      // More work in the worktree (as the agent's commands would do it): a change, and a deleted file.
      fs.writeFileSync(path.join(worktree, 'hello.js'), [
        '#!/usr/bin/env node',
        '// Prints a greeting: node hello.js [--shout] [name]',
        "const shout = process.argv.includes('--shout');",
        "const name = process.argv.slice(2).find((arg) => arg !== '--shout') ?? 'world';",
        'const greeting = `Hello, ${name}!`;',
        'console.log(shout ? greeting.toUpperCase() : greeting);',
        '',
      ].join('\n'));
      fs.rmSync(path.join(worktree, 'docs', 'old-usage.md'));

      const panel = await taskPanel(workbench, id, { open: true });
      const rows = panel.locator('#changes .changed-files li');
      await waitUntil(() => rows.count(), (count) => count === 3, 'three changed files in the panel', 20_000);
      const texts = (await rows.allInnerTexts()).map((text) => text.replace(/\s+/g, ' ').trim());
      assert.deepEqual(texts, ['A CHANGELOG.md +3 −0', 'D docs/old-usage.md +0 −3', 'M hello.js +5 −3']);
      const actions = await panel.locator('#changes .buttons button').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.action));
      assert.deepEqual(actions, ['review', 'merge', 'apply', 'discard', 'openWorktree'], 'the actions a finished task with changes allows');
      await panel.locator('#changes li[data-path="hello.js"] button').click();
      await workbench.page.locator('.part.editor .tab', { hasText: `hello.js (modified by ${id})` }).first().waitFor({ state: 'visible', timeout: 15_000 });

      const again = await taskPanel(workbench, id, { open: true });
      await again.locator('#changes button[data-action="review"]').click();
      const files = await waitUntil(() => multiDiffFiles(workbench), (names) => names.length === 3, 'the multi-file diff editor with the three files');
      for (const name of ['CHANGELOG.md', 'old-usage.md', 'hello.js']) assert.ok(files.some((header) => header.includes(name)), `the review shows ${name}: ${JSON.stringify(files)}`);
      await clearNotifications(workbench);
      await workbench.page.mouse.move(0, 0);
      await workbench.page.screenshot({ path: path.join(SCREENSHOTS_DIR, 'review-changes.png') });

      // Discard: the modal names the file count; Cancel keeps everything, Discard removes the worktree and the branch.
      const dialog = workbench.page.locator('.monaco-dialog-box');
      // The section is redrawn on every change of the task: a click that met a redraw is tried again.
      const discard = (): Promise<boolean> => waitUntil(async () => {
        const shown = await taskPanel(workbench, id, { open: true });
        await shown.locator('#changes button[data-action="discard"]').click({ timeout: 5_000 });
        return dialog.waitFor({ state: 'visible', timeout: 5_000 }).then(() => true, () => false);
      }, (opened) => opened, 'the Discard confirmation', 30_000);
      await discard();
      assert.match(await dialog.innerText(), /Discard 3 changed files of “Add a --shout flag to hello\.js”\?/);
      await dialog.locator('.monaco-button', { hasText: /^Cancel$/ }).click();
      await dialog.waitFor({ state: 'hidden', timeout: 5_000 });
      assert.ok(fs.existsSync(worktree), 'Cancel kept the worktree');
      await discard();
      await dialog.locator('.monaco-button', { hasText: /^Discard$/ }).click();
      await waitUntil(() => Promise.resolve(fs.existsSync(worktree)), (exists) => !exists, 'the worktree folder to go');
      // Discard removes the folder first, then the branch: wait for both.
      await waitUntil(() => Promise.resolve(git('branch', '--list', `agent-tasks/${id}`).trim()), (listed) => listed === '', 'the branch to go', 10_000);
      assert.ok(fs.existsSync(path.join(workspace, 'docs', 'old-usage.md')), 'the main checkout is untouched');
      const after = await taskPanel(workbench, id, { open: true });
      await waitUntil(() => after.locator('#changes h2').innerText({ timeout: 2_000 }), (text) => /Discarded/.test(text), 'the panel says discarded');
    });
  });
});
