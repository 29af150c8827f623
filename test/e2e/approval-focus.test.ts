// Security review L2 in the real UI: a question that arrives while the task panel has the keyboard focuses its card,
// never its Approve button, so a key meant for something else (Enter, Space) approves nothing; and an answer typed
// but not yet sent survives whatever makes the panel render again.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Frame } from 'playwright-core';
import { Workbench, waitUntil } from './harness';
import { makeGitWorkspace } from './support-demo';
import { formButton, newTaskFromPalette, questionForm, runCommand, taskPanel, waitForEntry, waitForPanelStatus } from './support-workbench';

/** What has the keyboard inside the panel: the element's tag, classes and (for a button) its label. */
function focusIn(frame: Frame): Promise<{ tag?: string; classes: string; text: string }> {
  return frame.evaluate(() => {
    const active = document.activeElement as HTMLElement | null;
    return { tag: active?.tagName, classes: active?.className ?? '', text: active?.textContent?.slice(0, 40) ?? '' };
  });
}

describe('Approval focus in the task panel', { timeout: 180_000 }, () => {
  let workbench: Workbench;

  before(async () => {
    workbench = await Workbench.start();
  });
  after(async () => {
    await workbench?.stop();
  });

  test('L2 a new question takes the panel\'s keyboard on its card, not on Approve: Enter and Space approve nothing', async () => {
    await workbench.capture('l2-focus', async () => {
      const id = await newTaskFromPalette(workbench, 'say: thinking; sleep: 8000; ask-command: echo focus; done: ok', /scripted/i, /^general\b/i);
      const frame = await taskPanel(workbench, id, { open: true });
      // The panel has the keyboard, on nothing in particular, when the question arrives.
      await frame.locator('#header .prompt').click();
      assert.equal(await frame.locator('form.question').count(), 0, 'the question comes after the click (the script sleeps first)');
      const form = await questionForm(frame, 'command_approval', 20_000);
      const focused = await focusIn(frame);
      assert.equal(focused.tag, 'FORM', `the question's card has the focus (${JSON.stringify(focused)})`);
      assert.match(focused.classes, /\bq-command_approval\b/);
      await workbench.page.keyboard.press('Enter');
      await workbench.page.keyboard.press('Space');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.match(await frame.locator('#status').innerText(), /needs you/i, 'still waiting: the keys approved nothing');
      assert.equal(await form.locator('button:disabled').count(), 0, 'no answer is on its way');
      // Tab reaches the buttons from the card: Approve is one key away, on purpose only.
      await workbench.page.keyboard.press('Tab');
      assert.equal(await frame.evaluate(() => document.activeElement?.textContent?.startsWith('Approve') ?? false), true, 'Tab moves to Approve');
      await workbench.page.keyboard.press('Enter');
      await waitForPanelStatus(frame, /completed/i);
    });
  });

  test('L2 a typed answer survives a re-render of the panel: a task update while the question is open, and the tab hidden and shown again', async (t) => {
    await workbench.capture('l2-draft', async () => {
      // In a git workspace the task works in its own worktree, and a file changed there updates the task while its
      // question is open (as an agent's command or the user would): the panel renders the task again.
      makeGitWorkspace(workbench.workspace);
      const prompt = 'title: Name the flag; ask-input: Which name should the flag have?; done: ok';
      const id = await newTaskFromPalette(workbench, prompt, /scripted/i, /^general\b/i);
      let frame = await taskPanel(workbench, id, { open: true });
      let field = (await questionForm(frame, 'user_input', 20_000)).locator('input.free');
      await field.click();
      await workbench.page.keyboard.type('--shout');
      await frame.locator('#header h1').evaluate((el) => el.setAttribute('data-before-update', ''));

      // (a) The task changes: the header is built anew and the changed file is listed. (A new transcript entry would
      // not do: entries are appended, the header and the questions stay as they are.)
      const worktree = path.join(`${workbench.workspace}.worktrees`, id);
      await waitUntil(() => Promise.resolve(fs.existsSync(worktree)), (exists) => exists, 'the task\'s worktree');
      // Nothing changed in it yet: the panel says so, with no "+0 −0 · 0 files".
      await frame.locator('#changes .hint', { hasText: 'No files changed yet' }).waitFor({ state: 'visible', timeout: 10_000 });
      assert.equal(await frame.locator('#changes .change-summary').count(), 0, 'no change summary without changed files');
      fs.writeFileSync(path.join(worktree, 'flag.txt'), 'shout\n');
      await frame.locator('#changes li[data-path="flag.txt"]').waitFor({ state: 'visible', timeout: 20_000 });
      assert.equal(await frame.locator('#changes .change-summary').innerText(), '+1 −0 · 1 file');
      assert.equal(await frame.locator('#header h1[data-before-update]').count(), 0, 'the panel rendered the task again (its header is new)');
      assert.equal(await field.inputValue(), '--shout', 'the typed text is still in the field');
      const focused = await focusIn(frame);
      assert.equal(focused.tag, 'INPUT', `the field keeps the keyboard (${JSON.stringify(focused)})`);
      assert.match(focused.classes, /\bfree\b/);
      await workbench.page.keyboard.type(' or');
      assert.equal(await field.inputValue(), '--shout or', 'typing goes on where it was');

      // (b) Another editor hides the panel's tab; its tab shows it again.
      await frame.evaluate(() => { (window as { beforeHide?: boolean }).beforeHide = true; });
      await runCommand(workbench, 'File: New Untitled Text File');
      await workbench.page.locator('.part.editor .tab.active', { hasText: /^Untitled/ }).waitFor({ state: 'visible', timeout: 15_000 });
      await workbench.page.locator('.part.editor .tab', { hasText: 'Name the flag' }).first().click();
      frame = await taskPanel(workbench, id);
      field = (await questionForm(frame, 'user_input', 20_000)).locator('input.free');
      const reloaded = !(await frame.evaluate(() => (window as { beforeHide?: boolean }).beforeHide === true));
      t.diagnostic(`the panel's webview was ${reloaded ? 'reloaded' : 'kept'} while its tab was hidden`);
      assert.equal(await field.inputValue(), '--shout or', `the typed text is back in the field (the webview was ${reloaded ? 'reloaded' : 'kept'})`);
      // The keyboard is back in the field, not on Submit (nor on the card).
      await waitUntil(() => focusIn(frame), (f) => f.tag === 'INPUT' && /\bfree\b/.test(f.classes), 'the keyboard back in the field', 5_000);
      await workbench.page.keyboard.type(' --loud');
      assert.equal(await field.inputValue(), '--shout or --loud');

      // Sent, the draft's answer is the agent's.
      await formButton(await questionForm(frame, 'user_input'), 'Submit').click();
      await waitForEntry(frame, (entry) => entry.text.includes('You chose: --shout or --loud'), 'the answer in the transcript');
      await waitForPanelStatus(frame, /completed/i);
    });
  });
});

