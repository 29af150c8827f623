// DESIGN §9 in the real UI, in a git workspace: New Task with Several Agents… on the demo Codex model and the scripted
// test agent → one group row with a child per agent (✓/✗ of the check) → Review with Another Agent… on the scripted
// attempt (the default offered is another agent than its author) → its finding is a comment on the changed line in
// the review diff → Compare Attempts side by side → Merge This Attempt (Codex's) asks in a modal naming the attempt it
// discards → the main checkout has Codex's file and not the other's; the other worktree is gone.
// ATW_UPDATE_SCREENSHOTS=1 writes the README's docs/images/compare-attempts.png and review-comments.png.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Frame } from 'playwright-core';
import { repoRoot } from '../../scripts/paths.mjs';
import { ARTIFACTS_DIR, type Workbench, waitUntil } from './harness';
import { type DemoSuite, startDemoSuite, stopDemoSuite, widenSideBar } from './support-demo';
import { clearNotifications, formButton, questionForm, runCommand, showTasksView, taskPanel, waitForFile } from './support-workbench';

const SCREENSHOTS_DIR = process.env.ATW_UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot(), 'docs', 'images') : ARTIFACTS_DIR;
const TURN_MS = 90_000;
const CODEX_FILE = 'hello-from-agent-tasks.md';
const FINDING = { path: 'greeting.md', line: 1, severity: 'medium', title: 'Say who is greeting', body: 'Name the agent in the greeting, so a reader knows where it came from.' };
// The scripted agent runs the steps; the demo Codex model sees "file" and proposes its own file. The scripted reviewer
// reads this prompt too: its ask-file is declined (a review is read-only) and its `done:` answers with the finding.
const PROMPT = `title: Add a greeting file; ask-file: greeting.md|Hello from the scripted agent; done: ${JSON.stringify({ findings: [FINDING] })}`;

/** Lets the quick input that just closed fade out before a screenshot. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 600));

/** The visible webview whose document has `selector`. */
async function webviewWith(workbench: Workbench, selector: string, timeoutMs = 20_000): Promise<Frame> {
  return waitUntil(async () => {
    const frame = await workbench.webviewFrame(5_000);
    return (await frame.locator(selector).count()) > 0 ? frame : null;
  }, (frame) => frame !== null, `a webview with ${selector}`, timeoutMs) as Promise<Frame>;
}

describe('Second opinions in the workbench', { timeout: 500_000 }, () => {
  let suite: DemoSuite | undefined;
  let workbench: Workbench;
  let workspace = '';
  let git: (...args: string[]) => string;

  before(async () => {
    // The check passes where greeting.md exists: the scripted attempt's ✓ and Codex's ✗.
    const settings = { 'agentTasks.check': 'test -f greeting.md || { echo "greeting.md is missing"; exit 1; }' };
    suite = await startDemoSuite('atw-e2e-op-', settings);
    ({ workbench, workspace, git } = suite);
  });

  after(() => (suite ? stopDemoSuite(suite) : undefined));

  test('several agents → the group row → a review’s finding as a comment in the diff → Compare Attempts → Merge This Attempt', async () => {
    await workbench.capture('second-opinions', async () => {
      await showTasksView(workbench);
      await widenSideBar(workbench.page, 220);
      await runCommand(workbench, 'Agent Tasks: New Task with Several Agents…');
      await workbench.submitInputBox(PROMPT);
      // A multi-select: each click checks an agent; Enter starts them.
      await workbench.pickQuickItem(/^codex$/i);
      await workbench.pickQuickItem(/^Scripted \(tests\)$/);
      await workbench.page.keyboard.press('Enter');
      await workbench.waitForQuickInputClosed();

      await showTasksView(workbench);
      const children = await waitUntil(async () => {
        await workbench.expandGroups();
        return (await workbench.treeRows()).filter((row) => row.level === 3 && row.taskId);
      }, (rows) => rows.length === 2, 'a child row per agent under the group row', 30_000);
      const codexId = children.find((row) => /codex/i.test(row.label))!.taskId!;
      const scriptedId = children.find((row) => /scripted/i.test(row.label))!.taskId!;
      assert.ok(codexId && scriptedId, `children: ${JSON.stringify(children)}`);

      // Both agents ask before writing their file.
      for (const [id, turn] of [[scriptedId, 30_000], [codexId, TURN_MS]] as const) {
        await workbench.waitForTaskInGroup(id, 'Needs you', turn);
        const frame = await taskPanel(workbench, id, { open: true });
        await formButton(await questionForm(frame, 'file_approval', turn), 'Approve').click();
      }
      await workbench.waitForTaskInGroup(scriptedId, 'Completed', 30_000);
      await workbench.waitForTaskInGroup(codexId, 'Completed', TURN_MS);

      const group = await workbench.waitForTreeRow((row) => row.level === 2 && row.label === '2 attempts: Add a greeting file' && row.description === '2 completed', 'the group row', 30_000);
      assert.equal(group.expanded, true);
      await workbench.waitForTreeRow((row) => row.taskId === scriptedId && /^done in .* · \+1 −0 · 1 file · ✓ check$/.test(row.description), 'the scripted attempt with its ✓', 30_000);
      await workbench.waitForTreeRow((row) => row.taskId === codexId && /^done in .* · \+\d+ −0 · 1 file · ✗ check$/.test(row.description), 'the Codex attempt with its ✗', 30_000);

      // Review with Another Agent… on the scripted attempt: the default offered is another agent than its author.
      await runCommand(workbench, 'Agent Tasks: Review with Another Agent…');
      await workbench.pickQuickItem(scriptedId);
      const reviewers = await waitUntil(() => workbench.quickPickRows(), (rows) => rows.some((row) => /wrote this change/.test(row.description)), 'the reviewers');
      assert.doesNotMatch(reviewers[0].label, /scripted/i, `the default is not the author's agent: ${JSON.stringify(reviewers)}`);
      assert.ok(reviewers.some((row) => /^Scripted \(tests\)$/.test(row.label) && /^scripted · wrote this change$/.test(row.description)), JSON.stringify(reviewers));
      await workbench.pickQuickItem(/^Scripted \(tests\)$/);
      const reviewRow = await workbench.waitForTreeRow((row) => row.taskId !== undefined && ![codexId, scriptedId].includes(row.taskId) && /1 finding \(1 medium\)/.test(row.description), 'the review with its finding', 30_000);
      const reviewPanel = await taskPanel(workbench, reviewRow.taskId!, { open: true });
      const finding = reviewPanel.locator('#opinions .finding');
      await finding.first().waitFor({ state: 'visible', timeout: 10_000 });
      assert.match((await finding.innerText()).replace(/\s+/g, ' '), /medium Say who is greeting greeting\.md:1 Name the agent in the greeting/i);
      assert.equal(await reviewPanel.locator('#opinions button[data-action="sendFindings"]').count(), 1, 'Send Findings to Task is offered');

      // The finding is a comment on the changed line of the scripted attempt's review diff.
      await showTasksView(workbench);
      await workbench.clickInlineAction(scriptedId, 'Review Changes');
      const comment = workbench.page.locator('.part.editor .review-widget', { hasText: FINDING.title }).first();
      await comment.waitFor({ state: 'visible', timeout: 20_000 });
      // Comment text comes with non-breaking spaces (the Markdown of a finding escapes its text).
      const shown = (await comment.innerText()).replace(/\s+/g, ' ');
      assert.match(shown, new RegExp(`Review by Scripted \\(tests\\) \\(${reviewRow.taskId}\\)`));
      assert.match(shown, /medium: Say who is greeting Name the agent in the greeting/);
      await clearNotifications(workbench);
      await workbench.page.mouse.move(0, 0);
      await settle();
      await workbench.page.screenshot({ path: path.join(SCREENSHOTS_DIR, 'review-comments.png') });

      // Compare Attempts (the group row's click): both side by side with their check and findings.
      await workbench.treeRow('2 attempts: Add a greeting file').click();
      const compare = await webviewWith(workbench, '#attempts .attempt');
      const column = (id: string) => compare.locator(`.attempt[data-task-id="${id}"]`);
      await waitUntil(() => column(scriptedId).innerText(), (text) => /1 finding \(1 medium\)/.test(text) && /passed/.test(text), 'the scripted column with its check and finding');
      assert.match(await column(codexId).innerText(), /failed/);
      assert.deepEqual(await column(codexId).locator('.buttons button').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.action)), ['open', 'reviewChanges', 'review', 'runCheck', 'pick']);
      await runCommand(workbench, 'View: Hide Panel');
      await clearNotifications(workbench);
      await workbench.page.mouse.move(0, 0);
      await settle();
      await workbench.page.screenshot({ path: path.join(SCREENSHOTS_DIR, 'compare-attempts.png') });

      // Merge This Attempt on Codex's: the modal names the attempt it discards.
      await column(codexId).locator('button[data-action="pick"]').click();
      const dialog = workbench.page.locator('.monaco-dialog-box');
      await dialog.waitFor({ state: 'visible', timeout: 10_000 });
      assert.match(await dialog.innerText(), new RegExp(`discarded.*Scripted \\(tests\\) \\(${scriptedId}\\)`, 's'));
      await dialog.locator('.monaco-button', { hasText: /^Merge This Attempt$/ }).click();
      const codexWorktree = path.join(`${workspace}.worktrees`, codexId);
      await waitForFile(path.join(workspace, CODEX_FILE), undefined, 30_000);
      await waitUntil(() => Promise.resolve(fs.existsSync(path.join(`${workspace}.worktrees`, scriptedId))), (exists) => !exists, 'the other attempt’s worktree to go');
      assert.ok(!fs.existsSync(path.join(workspace, 'greeting.md')), 'the other attempt’s file is not in the main checkout');
      assert.equal(git('status', '--porcelain').trim(), '', 'merged as a commit');
      assert.ok(!fs.existsSync(codexWorktree) || git('branch', '--list', `agent-tasks/${scriptedId}`).trim() === '', 'the discarded branch is gone');
      await waitUntil(() => compare.locator('#header').innerText(), (text) => /merged into the main checkout/.test(text), 'the compare view says which was merged');
    });
  });
});
