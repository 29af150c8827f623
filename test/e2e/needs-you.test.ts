// The needs-you flow in the real workbench: every kind of question an agent can wait on, answered where a person
// answers it — the notification toast, the task panel's forms, the diff editor's title bar, the status bar, the
// keyboard. Real Codex (pinned binary, mock Responses server) raises the kinds it can raise in the extension:
// command approvals, file approvals (read-only sandbox), user input (planner tasks, plan mode) and MCP
// elicitation. The scripted test provider raises the rest (dynamic tools: the extension offers Codex none) and
// the cases that need exact control (a required field, stale answers, HTML payloads).
//
// ATW_UPDATE_SCREENSHOTS=1 writes the form screenshots to docs/images/form-<kind>-<theme>.png (else to the e2e
// artifacts folder, so a test run leaves the repository as it was).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { writeCodexHome } from '../fixtures/mock-responses/codex-home';
import { startMockResponsesServer, type MockResponsesServer } from '../fixtures/mock-responses/server';
import { repoRoot } from '../../scripts/paths.mjs';
import { ARTIFACTS_DIR, Workbench, waitUntil } from './harness';
import { MCP_ELICIT_SCRIPT, codexProcessesOf, codexSettings, pinnedCodexBinary, socketDirOf, stopCodexAppServers } from './support-codex';
import {
  type RenderedEntry, type ThemeName, cancelTask, clearNotifications, clearTasks, clickToastButton, closeAllEditors, pickQuestionOf, formButton, runCommand, newTaskFromPalette, questionForm, screenshotPanel,
  switchTheme, taskPanel, transcript, waitForEntry, waitForFile, waitForPanelStatus, waitForWebviewTheme,
} from './support-workbench';

const CODEX = /^codex$/i;
const SCRIPTED = /scripted/i;
const GENERAL = /^general\b/i;
const PLANNER = /^planner\b/i;
/** A Codex turn may start the app-server first; the machine is shared. */
const TURN_MS = 90_000;
/** A transcript line that records an answer (the prompt is a `user` entry too). */
const isAnswer = (entry: RenderedEntry): boolean => entry.kind === 'user' && /^(Approved|Denied|Accepted|Declined|Cancelled|Answered|Tool (result|failure))\b/.test(entry.text);
const SCREENSHOTS_DIR = process.env.ATW_UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot(), 'docs', 'images') : ARTIFACTS_DIR;

/** A Codex home and the settings for it: read-only sandbox (edits ask first), maybe the MCP server that elicits. */
async function codexBed(options: { mcp: boolean }): Promise<{ root: string; settings: Record<string, unknown>; writeHome(port: number, workspace: string): Promise<string> }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-e2e-codex-'));
  const home = path.join(root, 'home');
  return {
    root,
    settings: codexSettings(pinnedCodexBinary(), home),
    // Codex reads config.toml when its app-server starts (at the first task), after the workbench is up.
    writeHome: (port, workspace) => writeCodexHome(home, {
      port, cwd: workspace, sandboxMode: 'read-only', mcpElicitScript: options.mcp ? MCP_ELICIT_SCRIPT : undefined,
    }),
  };
}

/**
 * Stops the suite's Codex app-servers, then the workbench, and checks nothing of Codex is left. Keeps what explains
 * a failure in the artifacts folder: the app-server logs and what the mock model was asked.
 */
async function teardown(name: string, workbench: Workbench | undefined, root: string | undefined, mock: MockResponsesServer | undefined): Promise<void> {
  const workspace = workbench?.workspace;
  if (workspace) keepCodexDiagnostics(name, workspace, mock);
  const stopped = workspace ? await stopCodexAppServers(workspace).catch((error: Error) => [error.message]) : [];
  await workbench?.stop();
  const left = workspace ? codexProcessesOf(workspace) : [];
  if (root) fs.rmSync(root, { recursive: true, force: true });
  await mock?.close();
  assert.deepEqual(left, [], `no Codex process outlives the suite (stopped: ${stopped.join('; ')})`);
}

function keepCodexDiagnostics(name: string, workspace: string, mock: MockResponsesServer | undefined): void {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const dir = socketDirOf(workspace);
  for (const log of fs.existsSync(dir) ? fs.readdirSync(dir).filter((file) => file.endsWith('.log')) : []) {
    fs.copyFileSync(path.join(dir, log), path.join(ARTIFACTS_DIR, `${name}-${log}`));
  }
  const requests = (mock?.requests ?? []).map((r) => ({ at: new Date(r.at).toISOString(), thread: r.threadKey, scenario: r.scenario, last: r.lastItemType, user: r.userText, planMode: r.planMode }));
  fs.writeFileSync(path.join(ARTIFACTS_DIR, `${name}-mock-requests.json`), `${JSON.stringify(requests, null, 2)}\n`);
}

/**
 * Codex starts its MCP servers with the app-server, and a turn that runs before they are up either fails its MCP
 * call ("unsupported call") or gets a "<tools>Added deferred tool namespaces" developer message after its tool
 * output, which the mock model takes for a new prompt (it asks the same approval again). So before the tests, run
 * elicitation tasks until one reaches the MCP server (then cancel it): threads started after that find it ready.
 * Returns the ids of the tasks it created.
 */
async function waitForCodexMcp(workbench: Workbench): Promise<string[]> {
  const ids: string[] = [];
  for (let attempt = 1; attempt <= 5; attempt++) {
    const id = await newTaskFromPalette(workbench, 'Please elicit', CODEX, GENERAL);
    ids.push(id);
    const group = await waitUntil(async () => {
      await workbench.expandGroups();
      return (await workbench.groupOfTask(id))?.label ?? '';
    }, (label) => ['Needs you', 'Completed', 'Failed'].includes(label), `warm-up task ${id} to ask or end`, TURN_MS);
    if (group === 'Needs you') {
      await cancelTask(workbench, id);
      return ids;
    }
  }
  throw new Error(`Codex never reached its MCP server in ${ids.length} tasks`);
}

describe('Needs you: answering agents in the workbench', { timeout: 900_000 }, () => {
  let mock: MockResponsesServer;
  let workbench: Workbench;
  let root: string;
  let workspace: string;

  before(async () => {
    mock = await startMockResponsesServer();
    const bed = await codexBed({ mcp: true });
    root = bed.root;
    workbench = await Workbench.start({
      settings: { ...bed.settings, 'agentTasks.maxConcurrentTasks': 8, 'workbench.colorTheme': 'Default Dark Modern' },
    });
    workspace = workbench.workspace;
    await bed.writeHome(mock.port, workspace);
    await clearTasks(workbench, await waitForCodexMcp(workbench));
    await clearNotifications(workbench);
  });
  after(async () => {
    await teardown('needs-you', workbench, root, mock);
  });
  beforeEach(() => {
    for (const file of ['approved.txt', 'hello.txt']) fs.rmSync(path.join(workspace, file), { force: true });
  });
  afterEach(async () => {
    // Each test starts from an empty tree and editor area, with no toasts.
    await closeAllEditors(workbench).catch(() => undefined);
    await clearTasks(workbench, created.splice(0)).catch(() => undefined);
    await clearNotifications(workbench);
  });

  const file = (name: string): string => path.join(workspace, name);
  /** Tasks the running test created; afterEach cancels what is left of them. */
  const created: string[] = [];
  const newTask = async (prompt: string, agent: RegExp, taskType: RegExp): Promise<string> => {
    const id = await newTaskFromPalette(workbench, prompt, agent, taskType);
    created.push(id);
    return id;
  };

  test('a Codex command approval is approved from the notification toast', async () => {
    await workbench.capture('toast-approve', async () => {
      const id = await newTask('Please run-approval', CODEX, GENERAL);
      await clickToastButton(workbench, '“Please run-approval” needs you: run touch approved.txt && echo made', 'Approve', TURN_MS);
      await waitForFile(file('approved.txt'), '', TURN_MS);
      await workbench.waitForTaskInGroup(id, 'Completed', TURN_MS);
    });
  });

  test('a Codex command approval is approved in the task panel: the command runs', async () => {
    await workbench.capture('panel-approve', async () => {
      const id = await newTask('Please run-approval', CODEX, GENERAL);
      await workbench.waitForTaskInGroup(id, 'Needs you', TURN_MS);
      const frame = await taskPanel(workbench, id, { open: true });
      const form = await questionForm(frame, 'command_approval');
      assert.equal(await form.locator('.command-text').innerText(), 'touch approved.txt && echo made');
      assert.match(await form.innerText(), /Create approved\.txt outside the sandbox\?/, 'the reason is shown');
      assert.ok(!fs.existsSync(file('approved.txt')), 'nothing ran before the answer');
      await formButton(form, 'Approve').click();
      await waitForFile(file('approved.txt'), '', TURN_MS);
      await waitForPanelStatus(frame, /completed/i, TURN_MS);
      await waitForEntry(frame, (e) => e.kind === 'user' && e.text.startsWith('Approved: run'), 'the approval in the transcript');
      assert.equal(await frame.locator('form.question').count(), 0, 'the form is gone once answered');
    });
  });

  test('a Codex command approval is denied in the task panel: nothing runs', async () => {
    await workbench.capture('panel-deny', async () => {
      const id = await newTask('Please run-approval', CODEX, GENERAL);
      const frame = await taskPanel(workbench, id, { open: true, timeoutMs: TURN_MS });
      const form = await questionForm(frame, 'command_approval', TURN_MS);
      await formButton(form, 'Deny').click();
      await waitForPanelStatus(frame, /completed/i, TURN_MS);
      await waitForEntry(frame, (e) => e.kind === 'user' && e.text.startsWith('Denied: run'), 'the denial in the transcript');
      assert.ok(!fs.existsSync(file('approved.txt')), 'the denied command did not run');
      await workbench.waitForTaskInGroup(id, 'Completed');
    });
  });

  test('a Codex file approval: "Open Diff" shows the native diff editor, Approve in its title bar writes the file', async () => {
    await workbench.capture('file-diff-approve', async () => {
      const id = await newTask('Please file-approval', CODEX, GENERAL);
      const frame = await taskPanel(workbench, id, { open: true, timeoutMs: TURN_MS });
      const form = await questionForm(frame, 'file_approval', TURN_MS);
      assert.match(await form.innerText(), /hello\.txt/);
      await form.locator('details summary', { hasText: 'Patch' }).click();
      assert.match(await form.locator('pre.patch').innerText(), /\+hello world/, 'the patch is in the form');
      assert.ok(!fs.existsSync(file('hello.txt')));

      await formButton(form, 'Open Diff').click();
      const page = workbench.page;
      const diff = page.locator('.part.editor .monaco-diff-editor').first();
      await diff.waitFor({ state: 'visible', timeout: 20_000 });
      // Monaco renders spaces as no-break spaces.
      await waitUntil(async () => (await diff.locator('.editor.modified .view-lines').innerText()).replace(/\u00a0/g, ' '),
        (text) => text.includes('hello world'), 'the proposed content in the diff');
      const tab = page.locator('.part.editor .tab.active');
      assert.match(await tab.innerText(), /hello\.txt/);
      await workbench.screenshot('needs-you-diff-editor');
      const approve = page.locator('.part.editor .editor-group-container.active .editor-actions a.action-label')
        .and(page.locator('[aria-label^="Agent Tasks: Approve"], [aria-label^="Approve"]')).first();
      await approve.click();

      await waitForFile(file('hello.txt'), 'hello world\n', TURN_MS);
      // The answered change's diff closes: no Approve/Deny is left on a question that is gone.
      await waitUntil(() => page.locator('.part.editor .tab', { hasText: `hello.txt (new file by ${id})` }).count(), (open) => open === 0, 'the answered diff to close');
      await workbench.waitForTaskInGroup(id, 'Completed', TURN_MS);
      const after = await taskPanel(workbench, id, { open: true });
      await waitForEntry(after, (e) => e.kind === 'user' && e.text.startsWith('Approved: change'), 'the approval in the transcript');
    });
  });

  test('a Codex planner question is answered by picking an option', async () => {
    await workbench.capture('user-input-option', async () => {
      const id = await newTask('Please ask-user', CODEX, PLANNER);
      const frame = await taskPanel(workbench, id, { open: true, timeoutMs: TURN_MS });
      const form = await questionForm(frame, 'user_input', TURN_MS);
      assert.match(await form.locator('legend').innerText(), /Database: Which database should I use\?/);
      assert.deepEqual(await form.locator('label span').allInnerTexts(), ['SQLite (Recommended)', 'Postgres']);
      await form.locator('label', { hasText: 'Postgres' }).click();
      await formButton(form, 'Submit').click();
      await waitForPanelStatus(frame, /completed/i, TURN_MS);
      const entries = await waitForEntry(frame, (e) => e.kind === 'agent' && e.text.includes('Tool said:'), 'the reply after the answer');
      assert.match(entries.find((e) => e.text.includes('Tool said:'))!.text, /Postgres/, 'the model got the picked option');
      assert.doesNotMatch(entries.find((e) => e.text.includes('Tool said:'))!.text, /SQLite/);
    });
  });

  test('a Codex planner question is answered with free text', async () => {
    await workbench.capture('user-input-free', async () => {
      const id = await newTask('Please ask-user', CODEX, PLANNER);
      const frame = await taskPanel(workbench, id, { open: true, timeoutMs: TURN_MS });
      const form = await questionForm(frame, 'user_input', TURN_MS);
      await form.locator('input.free').fill('DuckDB, embedded');
      await formButton(form, 'Submit').click();
      await waitForPanelStatus(frame, /completed/i, TURN_MS);
      const entries = await waitForEntry(frame, (e) => e.kind === 'agent' && e.text.includes('Tool said:'), 'the reply after the answer');
      assert.match(entries.find((e) => e.text.includes('Tool said:'))!.text, /DuckDB, embedded/, 'the model got the typed answer');
      assert.ok(entries.some((e) => e.kind === 'user' && e.text === 'Answered db_choice: DuckDB, embedded'));
    });
  });

  test('an elicitation form with a missing required field shows an error and sends nothing; a valid submit goes through', async () => {
    await workbench.capture('elicitation-required', async () => {
      const id = await newTask('ask-elicit: Who are you?; done: elicited', SCRIPTED, GENERAL);
      const frame = await taskPanel(workbench, id, { open: true });
      const form = await questionForm(frame, 'elicitation');
      assert.match(await form.innerText(), /Who are you\?/);
      const accept = formButton(form, 'Accept');
      await accept.click();
      const error = form.locator('.question-error');
      await error.waitFor({ state: 'visible', timeout: 5_000 });
      assert.equal(await error.innerText(), 'Required: name');
      assert.equal(await accept.isEnabled(), true, 'the buttons stay enabled: no answer is on its way');
      assert.deepEqual((await transcript(frame)).filter(isAnswer), [], 'nothing reached the task');
      assert.match(await frame.locator('#status').innerText(), /needs you/i);

      await form.locator('#f-name').fill('Ada');
      await form.locator('#f-count').fill('3');
      await accept.click();
      await waitForPanelStatus(frame, /completed/i);
      const entries = await waitForEntry(frame, (e) => e.kind === 'tool' && e.text.startsWith('elicitation accept'), 'the accepted content');
      assert.equal(entries.find((e) => e.kind === 'tool')!.text, 'elicitation accept {"name":"Ada","count":3}');
      assert.deepEqual(entries.filter(isAnswer).map((e) => e.text), ['Accepted: Who are you?'], 'one answer was sent');
    });
  });

  test('a Codex MCP elicitation is accepted with a picked value', async () => {
    await workbench.capture('elicitation-codex', async () => {
      const id = await newTask('Please elicit', CODEX, GENERAL);
      const frame = await taskPanel(workbench, id, { open: true, timeoutMs: TURN_MS });
      const form = await questionForm(frame, 'elicitation', TURN_MS);
      assert.match(await form.innerText(), /Which color should I use\?/);
      await form.locator('#f-color').selectOption({ label: 'green' });
      await formButton(form, 'Accept').click();
      await waitForPanelStatus(frame, /completed/i, TURN_MS);
      await waitForEntry(frame, (e) => e.kind === 'agent' && e.text.includes('elicitation result: {"action":"accept","content":{"color":"green"}}'),
        'the MCP tool result with the picked color');
    });
  });

  test('a dynamic tool call gets the reply typed in the panel', async () => {
    await workbench.capture('dynamic-tool', async () => {
      const id = await newTask('ask-tool: lookup_ticket|{"ticket":"ATW-42"}; done: tool answered', SCRIPTED, GENERAL);
      const frame = await taskPanel(workbench, id, { open: true });
      const form = await questionForm(frame, 'dynamic_tool');
      assert.match(await form.locator('h2').innerText(), /Tool call: lookup_ticket/);
      assert.deepEqual(JSON.parse(await form.locator('pre.args').innerText()), { ticket: 'ATW-42' });
      await form.locator('textarea').fill('ATW-42 is open, assigned to Ada');
      await formButton(form, 'Send result').click();
      await waitForPanelStatus(frame, /completed/i);
      await waitForEntry(frame, (e) => e.kind === 'tool' && e.text === 'lookup_ticket → ATW-42 is open, assigned to Ada (ok)', 'the tool result reaching the agent');
    });
  });

  test('a stale answer is refused in the panel and nothing is sent twice', async () => {
    await workbench.capture('stale-answer', async () => {
      const id = await newTask('ask-command: npm run stale-check; done: stale done', SCRIPTED, GENERAL);
      const frame = await taskPanel(workbench, id, { open: true });
      const form = await questionForm(frame, 'command_approval');
      // The panel keeps showing the form as it was, as a panel lagging behind the host would: from here on its
      // script reads every task update from the host as a message of no known type.
      await frame.evaluate(() => {
        const data = Object.getOwnPropertyDescriptor(MessageEvent.prototype, 'data')!;
        Object.defineProperty(MessageEvent.prototype, 'data', {
          configurable: true,
          get(this: MessageEvent) {
            const value = data.get!.call(this) as { type?: string } | undefined;
            return value?.type === 'task' ? { type: 'withheld-by-test' } : value;
          },
        });
      });
      // Another surface answers first: "Agent Tasks: Approve" sends through the same gate as the API's answer().
      await runCommand(workbench, 'Agent Tasks: Approve');
      await pickQuestionOf(workbench, id);
      await workbench.waitForTaskInGroup(id, 'Completed');
      assert.equal(await form.isVisible(), true, 'the panel still shows the answered form');

      await formButton(form, 'Approve').click();
      const error = form.locator('.question-error');
      await error.waitFor({ state: 'visible', timeout: 10_000 });
      assert.match(await error.innerText(), new RegExp(`Task ${id} is no longer waiting on this request`));
      const entries = await waitForEntry(frame, (e) => e.kind === 'command' && e.text.includes('npm run stale-check'), 'the approved command');
      assert.deepEqual(entries.filter(isAnswer).map((e) => e.text), ['Approved: run npm run stale-check'], 'the request was answered once');
      assert.equal(entries.filter((e) => e.kind === 'command').length, 1, 'the command ran once');
    });
  });

  test('HTML in agent output and in a command stays inert text', async () => {
    await workbench.capture('xss', async () => {
      const img = '<img src=x onerror="window.__xss=1">';
      const script = '<script>window.__xss=2</script>';
      const id = await newTask(`say: ${img}; ask-command: ${script}; done: inert`, SCRIPTED, GENERAL);
      const frame = await taskPanel(workbench, id, { open: true });
      const form = await questionForm(frame, 'command_approval');
      assert.equal(await form.locator('.command-text').innerText(), script, 'the command is shown literally');
      const entries = await waitForEntry(frame, (e) => e.kind === 'agent', 'the agent message');
      assert.equal(entries.find((e) => e.kind === 'agent')!.text, img, 'the agent output is shown literally');
      const injected = await frame.evaluate(() => ({
        xss: (window as unknown as { __xss?: unknown }).__xss,
        images: document.querySelectorAll('img').length,
        scripts: [...document.scripts].filter((element) => element.textContent?.includes('__xss')).length,
      }));
      assert.deepEqual(injected, { xss: undefined, images: 0, scripts: 0 }, 'no element was created from the payloads');
      assert.match(await frame.locator('#header .prompt').innerText(), /<img src=x onerror=/, 'the prompt is shown literally');
      await formButton(form, 'Deny').click();
      await waitForPanelStatus(frame, /completed/i);
      assert.equal(await frame.evaluate(() => (window as unknown as { __xss?: unknown }).__xss), undefined);
    });
  });

  test('Alt+A on the focused panel approves', async () => {
    await workbench.capture('alt-a', async () => {
      const id = await newTask('ask-command: echo keyboard; done: keyboard done', SCRIPTED, GENERAL);
      const frame = await taskPanel(workbench, id, { open: true });
      const form = await questionForm(frame, 'command_approval');
      await form.locator('h2').click(); // focus inside the panel, on no button
      await workbench.page.keyboard.press('Alt+A');
      await waitForPanelStatus(frame, /completed/i);
      await waitForEntry(frame, (e) => e.kind === 'user' && e.text === 'Approved: run echo keyboard', 'the approval in the transcript');
    });
  });

  test('a question arriving in a background panel leaves the keyboard where it is (the open palette stays open)', async () => {
    await workbench.capture('no-focus-steal', async () => {
      const id = await newTask('sleep: 5000; ask-command: echo later', SCRIPTED, GENERAL);
      const page = workbench.page;
      const needsYou = page.locator('.part.statusbar .statusbar-item', { hasText: /1 needs you/ }).first();
      await page.keyboard.press('F1');
      await workbench.quickInput.waitFor({ state: 'visible' });
      await workbench.quickInput.fill('>View: Toggle');
      assert.equal(await needsYou.isVisible(), false, 'the palette opened before the question arrived (the script sleeps first)');
      // The status bar tells when the question has arrived; reading it takes no focus.
      await needsYou.waitFor({ state: 'visible', timeout: 20_000 });
      const frame = await taskPanel(workbench, id);
      await questionForm(frame, 'command_approval');
      assert.equal(await workbench.quickInput.isVisible(), true, 'the command palette is still open');
      assert.equal(await workbench.quickInput.evaluate((input) => input === document.activeElement), true, 'and still has the keyboard');
      assert.equal(await workbench.quickInput.inputValue(), '>View: Toggle');
      await page.keyboard.press('Escape');
    });
  });

  test('the status bar "1 needs you" opens the answer picker', async () => {
    await workbench.capture('status-bar', async () => {
      const id = await newTask('ask-command: echo from the status bar; done: status bar done', SCRIPTED, GENERAL);
      await workbench.waitForTaskInGroup(id, 'Needs you');
      const item = workbench.page.locator('.part.statusbar .statusbar-item', { hasText: /1 needs you/ }).first();
      await item.waitFor({ state: 'visible', timeout: 15_000 });
      await item.click();
      await pickQuestionOf(workbench, id);
      await workbench.pickQuickItem(/^approve$/i);
      await workbench.waitForTaskInGroup(id, 'Completed');
      await item.waitFor({ state: 'hidden', timeout: 15_000 });
    });
  });

  test('screenshots of each form in the dark and the light theme', async () => {
    await workbench.capture('form-screenshots', async () => {
      const tasks: { kind: string; form: Parameters<typeof questionForm>[1]; id: string }[] = [];
      const make = async (kind: string, form: Parameters<typeof questionForm>[1], prompt: string, agent: RegExp, type: RegExp): Promise<void> => {
        tasks.push({ kind, form, id: await newTask(prompt, agent, type) });
      };
      await make('command-approval', 'command_approval', 'Create the marker file (run-approval)', CODEX, GENERAL);
      await make('file-approval', 'file_approval', 'Add a greeting file (file-approval)', CODEX, GENERAL);
      await make('user-input', 'user_input', 'Plan the storage layer (ask-user)', CODEX, PLANNER);
      await make('dynamic-tool', 'dynamic_tool', 'say: Looking the ticket up; ask-tool: lookup_ticket|{"ticket":"ATW-42"}', SCRIPTED, GENERAL);
      // Codex's MCP client gives up on an elicitation after 60 s: create it last and take its pictures first.
      await make('elicitation', 'elicitation', 'Pick a color for the chart (elicit)', CODEX, GENERAL);
      tasks.reverse();
      for (const task of tasks) await workbench.waitForTaskInGroup(task.id, 'Needs you', TURN_MS);
      // New Task opened a panel for each; start the pictures from fresh panels.
      await closeAllEditors(workbench);
      for (const theme of ['dark', 'light'] as ThemeName[]) {
        await switchTheme(workbench, theme);
        for (const task of tasks) {
          const frame = await taskPanel(workbench, task.id, { open: true });
          await questionForm(frame, task.form);
          await waitForWebviewTheme(frame, theme);
          await clearNotifications(workbench);
          await screenshotPanel(workbench, path.join(SCREENSHOTS_DIR, `form-${task.kind}-${theme}.png`));
        }
      }
      for (const task of tasks) await cancelTask(workbench, task.id);
    });
  });
});

describe('Needs you: a question nobody answers', { timeout: 300_000 }, () => {
  let mock: MockResponsesServer;
  let workbench: Workbench;
  let root: string;

  before(async () => {
    mock = await startMockResponsesServer();
    const bed = await codexBed({ mcp: false });
    root = bed.root;
    // 0.02 min = 1.2 s.
    workbench = await Workbench.start({ settings: { ...bed.settings, 'agentTasks.questionTimeoutMinutes': 0.02 } });
    await bed.writeHome(mock.port, workbench.workspace);
  });
  after(async () => {
    await teardown('question-timeout', workbench, root, mock);
  });

  test('is declined when agentTasks.questionTimeoutMinutes runs out, and the transcript says so', async () => {
    await workbench.capture('question-timeout', async () => {
      const id = await newTaskFromPalette(workbench, 'Please run-approval', CODEX, GENERAL);
      await workbench.waitForTaskInGroup(id, 'Completed', TURN_MS);
      const frame = await taskPanel(workbench, id, { open: true });
      const entries = await waitForEntry(frame, (e) => e.text.startsWith('[timeout]'), 'the [timeout] entry');
      const line = entries.find((e) => e.text.startsWith('[timeout]'))!.text;
      assert.equal(line, '[timeout] No answer after 0.02 min: run touch approved.txt && echo made was declined');
      assert.ok(!fs.existsSync(path.join(workbench.workspace, 'approved.txt')), 'the declined command did not run');
      assert.equal(await frame.locator('form.question').count(), 0, 'no form is left');
    });
  });
});
