#!/usr/bin/env node
// Takes a screenshot of the extension at work (for the README): a finished task, a running one and one that needs
// you, with that task's panel open. Uses the e2e harness and the scripted test provider; needs the build.
//
//   node scripts/build-tests.mjs && node --import tsx scripts/screenshot.mjs [--out <file.png>]
import * as path from 'node:path';
import { Workbench } from '../test/e2e/harness.ts';

const outIndex = process.argv.indexOf('--out');
const out = path.resolve(outIndex > 0 ? process.argv[outIndex + 1] : 'agent-tasks-overview.png');

// `title:` is the scripted agent naming its session, as Codex and ACP agents do: the rows show that title.
const TASKS = [
  'title: Add a --shout flag to hello.js; say: Added a --shout flag to hello.js; run: node hello.js --shout; done: hello.js prints the greeting in capitals',
  'title: Write tests for hello.js; say: Writing tests for hello.js; sleep: 600000',
  'title: Mention --shout in the README; think: The README should mention the new flag; say: I would like to run the tests first.; ask-command: npm test; done: ok',
];

/** Drags the side bar's edge to the right, so that the rows show their state detail next to the title. */
async function widenSideBar(page, by) {
  const box = await page.locator('.part.sidebar').first().boundingBox();
  if (!box) return;
  const x = box.x + box.width - 1;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + by, y, { steps: 8 });
  await page.mouse.up();
}

const workbench = await Workbench.start();
try {
  await workbench.openAgentTasks();
  await widenSideBar(workbench.page, 140);
  let lastId = '';
  for (const prompt of TASKS) {
    const known = new Set((await workbench.treeRows()).map((row) => row.taskId));
    await workbench.runCommand('Agent Tasks: New Task');
    await workbench.submitInputBox(prompt);
    await workbench.pickQuickItem(/scripted/i);
    await workbench.pickQuickItem(/^general\b/i);
    await workbench.waitForQuickInputClosed();
    const row = await workbench.waitForTreeRow((r) => r.taskId !== undefined && !known.has(r.taskId), 'the new task row');
    lastId = row.taskId;
  }
  await workbench.waitForTaskInGroup(lastId, 'Needs you');
  await workbench.taskRow(lastId).click();
  const frame = await workbench.webviewFrame();
  await frame.waitForSelector('#transcript .entry', { timeout: 15_000 });
  await workbench.page.mouse.move(0, 0);
  await workbench.page.screenshot({ path: out });
  console.log(`[screenshot] ${out}`);
} finally {
  await workbench.stop();
}
