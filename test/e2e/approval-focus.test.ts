// Security review L2 in the real UI: a question that arrives while the task panel has the keyboard focuses its card,
// never its Approve button, so a key meant for something else (Enter, Space) approves nothing.
import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Workbench } from './harness';
import { newTaskFromPalette, questionForm, taskPanel, waitForPanelStatus } from './support-workbench';

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
      const focused = await frame.evaluate(() => {
        const active = document.activeElement as HTMLElement | null;
        return { tag: active?.tagName, classes: active?.className ?? '', text: active?.textContent?.slice(0, 40) ?? '' };
      });
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
});
