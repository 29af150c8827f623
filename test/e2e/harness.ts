// Drives the real VS Code UI (code-server's workbench in headless Chromium) for the e2e tests: starts code-server with
// the built extension and the scripted-provider helper, and offers what a person does — the command palette, quick
// input, the Agent Tasks tree, the task panel's webview — plus screenshots and a teardown that leaves nothing running.
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, type WriteStream } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Frame, Locator, Page } from 'playwright-core';
import {
  type RunningCodeServer, forwardExtensionHostConsole, installExtensionFolder, launchChromium, startCodeServer, workbenchUrl,
  writeUserSettings,
} from '../../scripts/code-server.mjs';
import { type VsCodeHost, host as selectHost, repoRoot } from '../../scripts/paths.mjs';

export interface WorkbenchOptions {
  /** Load the built extension and the helper (default true); false opens a bare workbench. */
  withExtension?: boolean;
  /** Extra user settings. */
  settings?: Record<string, unknown>;
  /** Extra environment for code-server and so the extension host. */
  env?: Record<string, string>;
}

/** The VS Code the e2e tests run in: ATW_HOST=current|floor (scripts/paths.mjs), default current (VS Code 1.139). */
export const HOST: VsCodeHost = selectHost();

/** A row of the Agent Tasks tree as a person sees it. */
export interface TreeRow {
  label: string;
  description: string;
  ariaLabel: string;
  level: number;
  expanded: boolean | undefined;
  /** A task row's task id: its aria label ends with ", task <id>" (the visible label is the task's title). */
  taskId: string | undefined;
}

/** How a task row's aria label ends. */
const taskIdOfAriaLabel = (ariaLabel: string): string | undefined => /, task ([a-z]+-[a-z]+-\d{3})$/.exec(ariaLabel)?.[1];

/** A row of a quick pick. */
export interface QuickPickRow {
  label: string;
  description: string;
  ariaLabel: string;
}

const ROOT = repoRoot();
export const HELPER_EXTENSION_DIR = path.join(ROOT, 'test', 'fixtures', 'helper-extension');
export const ARTIFACTS_DIR = process.env.ATW_E2E_ARTIFACTS ?? path.join(os.tmpdir(), 'atw-e2e-artifacts');

const QUICK_INPUT = '.quick-input-widget';
const QUICK_INPUT_BOX = `${QUICK_INPUT} input.input`;
const QUICK_ROWS = `${QUICK_INPUT} .quick-input-list .monaco-list-row`;
const SIDEBAR_ROWS = '.part.sidebar .monaco-list-row';
const ACTIVITY_ITEM = '.part.activitybar a.action-label[aria-label^="Agent Tasks"]';

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `accept` holds; throws with the last value seen. For UI state that has no event to wait on. */
export async function waitUntil<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      if (accept(last)) return last;
    } catch (error) {
      lastError = error; // the DOM changed under us; read again
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${JSON.stringify(last ?? String(lastError))}`);
    }
    await delay(150);
  }
}

export class Workbench {
  private constructor(
    readonly page: Page,
    private readonly browser: Browser,
    private readonly server: RunningCodeServer,
    private readonly temp: string,
    readonly workspace: string,
    private readonly log: WriteStream,
    readonly logFile: string,
  ) {}

  /** The VS Code this workbench runs (see HOST). */
  get host(): VsCodeHost {
    return this.server.host;
  }

  /** Starts code-server and Chromium and waits for the workbench (and, with the extension, its activity bar item). */
  static async start(options: WorkbenchOptions = {}): Promise<Workbench> {
    const withExtension = options.withExtension ?? true;
    if (withExtension && !existsSync(path.join(ROOT, 'dist', 'extension.js'))) {
      throw new Error('dist/extension.js is missing: run `npm run build` (and `node scripts/build-tests.mjs`) first');
    }
    if (withExtension && !existsSync(path.join(HELPER_EXTENSION_DIR, 'dist', 'extension.js'))) {
      throw new Error('the helper extension is not built: run `node scripts/build-tests.mjs` first');
    }
    const temp = mkdtempSync(path.join(os.tmpdir(), 'atw-e2e-'));
    const workspace = path.join(temp, 'workspace');
    cpSync(path.join(ROOT, 'test', 'fixtures', 'workspace'), workspace, { recursive: true });
    const userDataDir = path.join(temp, 'user-data');
    writeUserSettings(userDataDir, {
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'security.workspace.trust.enabled': false,
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'telemetry.telemetryLevel': 'off',
      'update.showReleaseNotes': false,
      'chat.commandCenter.enabled': false,
      ...options.settings,
    });
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    const logFile = path.join(temp, 'workbench.log');
    const log = createWriteStream(logFile);
    const verbose = process.env.E2E_VERBOSE === '1';
    const write = (line: string): void => {
      log.write(`${line}\n`);
      if (verbose) process.stdout.write(`${line}\n`);
    };
    let server: RunningCodeServer | undefined;
    let browser: Browser | undefined;
    try {
      const extensionsDir = path.join(temp, 'extensions');
      // The launch payload carries one development extension (the one under test); the helper is installed.
      if (withExtension) installExtensionFolder(HELPER_EXTENSION_DIR, extensionsDir);
      // A host that loads development extensions only with its smoke-test driver (1.139) would then hide every
      // notification toast: there the extension under test is installed too, like a user's, and the driver stays off.
      const installed = withExtension && HOST.developmentArgs.length > 0;
      if (installed) installExtensionFolder(ROOT, extensionsDir);
      server = await startCodeServer({
        userDataDir, extensionsDir, folder: workspace, env: options.env ?? {}, vscodeHost: HOST, extensionDevelopment: !installed,
        log: (line) => write(`[code-server] ${line}`),
      });
      browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      forwardExtensionHostConsole(page, (text, level) => write(`[host ${level}] ${text}`));
      page.on('pageerror', (error) => write(`[page error] ${error.message}`));
      const workbench = new Workbench(page, browser, server, temp, workspace, log, logFile);
      await page.goto(workbenchUrl({
        port: server.port,
        folder: workspace,
        extensionDevelopmentPath: withExtension && !installed ? ROOT : undefined,
      }));
      // 1.139 shows its workbench 5–9 s after goto on an idle machine (1.100: ≈ 2.5 s); leave room for a busy one.
      await page.waitForSelector('.monaco-workbench .part.activitybar', { timeout: 60_000 });
      if (withExtension) await page.waitForSelector(ACTIVITY_ITEM, { timeout: 60_000 });
      return workbench;
    } catch (error) {
      await browser?.close().catch(() => {});
      await server?.stop();
      log.end();
      throw error;
    }
  }

  /**
   * Opens a second window of this code-server on `workspaceFile` (a .code-workspace): its own extension host and
   * workspace storage, like a second VS Code window. Waits for its workbench and the extension's activity bar item.
   */
  async openWindow(workspaceFile: string): Promise<Page> {
    const page = await this.browser.newPage({ viewport: { width: 1600, height: 1000 } });
    forwardExtensionHostConsole(page, (text, level) => this.log.write(`[second window host ${level}] ${text}\n`));
    // As in start(): a development extension, unless this host needed it installed (then every window loads it).
    const development = this.server.host.developmentArgs.length === 0;
    const url = new URL(workbenchUrl({ port: this.server.port, extensionDevelopmentPath: development ? ROOT : undefined }));
    url.searchParams.delete('ew');
    url.searchParams.set('workspace', path.resolve(workspaceFile));
    await page.goto(url.toString());
    await page.waitForSelector('.monaco-workbench .part.activitybar', { timeout: 60_000 });
    await page.waitForSelector(ACTIVITY_ITEM, { timeout: 60_000 });
    return page;
  }

  /** The lines of the extension's own log ("Agent Tasks" output channel) of every window so far. */
  extensionLog(): string {
    const logs = path.join(this.temp, 'user-data', 'logs');
    if (!existsSync(logs)) return '';
    return readdirSync(logs, { recursive: true, encoding: 'utf8' })
      .filter((file) => /agenttasks\.agent-task-worker/.test(file) && file.endsWith('.log'))
      .map((file) => readFileSync(path.join(logs, file), 'utf8'))
      .join('\n');
  }

  /** Closes Chromium, stops code-server and everything started under it, removes the temp folder. */
  async stop(): Promise<void> {
    await this.browser.close().catch(() => {});
    await this.server.stop();
    await new Promise<void>((resolve) => this.log.end(resolve));
    if (process.env.ATW_KEEP_TMP === '1') console.log(`[e2e] kept ${this.temp}`);
    else rmSync(this.temp, { recursive: true, force: true });
  }

  /** What the extension hosts of this workbench wrote to their log files (VS Code's own errors about the extension,
   *  e.g. a tree item it could not resolve, go there and not to the console). */
  extensionHostLog(): string {
    const logs = path.join(this.temp, 'user-data', 'logs');
    if (!existsSync(logs)) return '';
    return readdirSync(logs, { recursive: true, encoding: 'utf8' })
      .filter((file) => path.basename(file) === 'remoteexthost.log')
      .map((file) => readFileSync(path.join(logs, file), 'utf8'))
      .join('\n');
  }

  /** Saves a screenshot into ARTIFACTS_DIR and returns its path. */
  async screenshot(name: string): Promise<string> {
    const file = path.join(ARTIFACTS_DIR, `${name.replace(/[^\w.-]+/g, '-')}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /** Runs `body`; on failure saves a screenshot named after `name` and says where, then rethrows. */
  async capture<T>(name: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const shot = await this.screenshot(`FAILED-${name}`).catch(() => undefined);
      if (error instanceof Error) error.message += `${shot ? `\n  screenshot: ${shot}` : ''}\n  workbench log: ${this.logFile}`;
      throw error;
    }
  }

  // ── command palette and quick input ──

  get quickInput(): Locator {
    return this.page.locator(QUICK_INPUT_BOX);
  }

  /** Runs a command by its palette title (e.g. "Agent Tasks: New Task") through F1, reopening the palette until the
   *  command shows (the palette snapshots the command list when it opens). */
  async runCommand(title: string, timeoutMs = 20_000): Promise<void> {
    const exact = new RegExp(`^${escapeRegExp(title)}$`);
    const row = this.page.locator(QUICK_ROWS).filter({ has: this.page.locator('.label-name', { hasText: exact }) }).first();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.page.keyboard.press('Escape');
      await this.page.keyboard.press('F1');
      try {
        // A quick pick still closing (the previous step's) can be the visible input for a moment: every wait here is
        // short, and the loop reopens the palette.
        await this.quickInput.waitFor({ state: 'visible', timeout: 5_000 });
        await this.quickInput.fill(`>${title}`, { timeout: 3_000 });
        await row.waitFor({ state: 'visible', timeout: 3_000 });
        // The row can be found in the list as it was before the filter applied and be re-rendered away under the
        // pointer: a short click timeout lets the loop reopen the palette instead of waiting on a row that is gone.
        await row.click({ timeout: 3_000 });
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          const shown = await this.page.locator(QUICK_ROWS).allInnerTexts().catch(() => []);
          throw new Error(`command "${title}" is not in the palette (rows: ${JSON.stringify(shown)}): ${String(error)}`);
        }
      }
    }
  }

  /**
   * Runs a palette command that asks for an item, and picks it. Under load the palette can swallow the command (its
   * picker never opens, no rows at all): then the command is run once more — never a blind pick.
   */
  async runCommandAndPick(title: string, match: string | RegExp): Promise<QuickPickRow> {
    for (let attempt = 1; ; attempt++) {
      await this.runCommand(title);
      try {
        return await this.pickQuickItem(match, attempt < 3 ? 6_000 : 10_000);
      } catch (error) {
        if (attempt >= 3 || (await this.quickPickRows().catch(() => [])).length > 0) throw error;
      }
    }
  }

  /** Waits until the quick input shows a step that is not the command palette (its value no longer starts with ">"). */
  async waitForQuickInputStep(timeoutMs = 10_000): Promise<void> {
    await this.quickInput.waitFor({ state: 'visible', timeout: timeoutMs });
    await waitUntil(() => this.quickInput.inputValue(), (value) => !value.startsWith('>'), 'the quick input to leave the palette', timeoutMs);
  }

  /** The quick input's prompt / placeholder / title text, for asserting which step is shown. */
  async quickInputText(): Promise<{ placeholder: string; title: string; message: string }> {
    const widget = this.page.locator(QUICK_INPUT);
    return {
      placeholder: (await this.quickInput.getAttribute('placeholder')) ?? '',
      title: (await widget.locator('.quick-input-title').textContent().catch(() => null)) ?? '',
      message: (await widget.locator('.quick-input-message').textContent().catch(() => null)) ?? '',
    };
  }

  /** Types into the input box step that is showing and accepts it with Enter. */
  async submitInputBox(text: string): Promise<void> {
    await this.waitForQuickInputStep();
    await this.quickInput.fill(text);
    await this.page.keyboard.press('Enter');
  }

  /** The rows of the quick pick that is showing; none while the quick input is hidden or still the command palette
   *  (a hidden widget keeps its last rows in the DOM). */
  async quickPickRows(): Promise<QuickPickRow[]> {
    if (!(await this.page.locator(QUICK_INPUT).isVisible())) return [];
    if ((await this.quickInput.inputValue().catch(() => '>')).startsWith('>')) return [];
    return this.page.locator(QUICK_ROWS).evaluateAll((rows) => rows.map((row) => ({
      label: row.querySelector('.label-name')?.textContent?.trim() ?? '',
      description: row.querySelector('.label-description')?.textContent?.trim() ?? '',
      ariaLabel: row.getAttribute('aria-label') ?? '',
    })));
  }

  /** Waits for a quick pick row whose label, description or aria-label matches, and picks it. */
  async pickQuickItem(match: string | RegExp, timeoutMs = 10_000): Promise<QuickPickRow> {
    const test = (row: QuickPickRow): boolean => [row.label, row.description, row.ariaLabel].some((text) =>
      typeof match === 'string' ? text.toLowerCase().includes(match.toLowerCase()) : match.test(text));
    const deadline = Date.now() + timeoutMs;
    let seen: QuickPickRow[] = [];
    for (;;) {
      seen = await this.quickPickRows().catch(() => []);
      const index = seen.findIndex(test);
      if (index >= 0) {
        try {
          // By its aria-label, not its index: a list that re-rendered since it was read must not get another row clicked.
          const label = seen[index].ariaLabel;
          const row = label ? this.page.locator(QUICK_ROWS).and(this.page.locator(`[aria-label="${label.replace(/["\\]/g, '\\$&')}"]`)).first() : this.page.locator(QUICK_ROWS).nth(index);
          await row.click({ timeout: 2_000 });
          return seen[index];
        } catch {
          // the list re-rendered between reading and clicking: read it again
        }
      }
      if (Date.now() > deadline) throw new Error(`no quick pick row matching ${match} within ${timeoutMs} ms; rows: ${JSON.stringify(seen)}`);
      await delay(150);
    }
  }

  /** Waits for the quick input to close. */
  async waitForQuickInputClosed(timeoutMs = 10_000): Promise<void> {
    await this.page.locator(QUICK_INPUT).waitFor({ state: 'hidden', timeout: timeoutMs });
  }

  // ── the Agent Tasks view ──

  /** Shows the Agent Tasks container in the side bar (clicking its activity bar item only when it is not active). */
  async openAgentTasks(): Promise<void> {
    const item = this.page.locator(ACTIVITY_ITEM).first();
    await item.waitFor({ state: 'visible', timeout: 15_000 });
    const active = await item.evaluate((el) => el.closest('.action-item')?.classList.contains('checked') ?? false);
    if (!active) await item.click();
    await this.page.locator('.part.sidebar .composite.title', { hasText: /agent tasks/i }).first().waitFor({ state: 'visible', timeout: 10_000 });
  }

  /** The welcome view's button (shown while there are no tasks). */
  welcomeButton(label: string | RegExp): Locator {
    return this.page.locator('.part.sidebar .welcome-view-content .monaco-button', { hasText: label });
  }

  /** The tree rows now in the DOM (the list is virtualized: only visible rows exist). */
  async treeRows(): Promise<TreeRow[]> {
    const rows = await this.page.locator(SIDEBAR_ROWS).evaluateAll((elements) => elements.map((row) => {
      const expanded = row.getAttribute('aria-expanded');
      return {
        label: row.querySelector('.label-name')?.textContent?.trim() ?? '',
        description: row.querySelector('.label-description')?.textContent?.trim() ?? '',
        ariaLabel: row.getAttribute('aria-label') ?? '',
        level: Number(row.getAttribute('aria-level') ?? '0'),
        expanded: expanded === null ? undefined : expanded === 'true',
      };
    }));
    return rows.map((row) => ({ ...row, taskId: row.level > 1 ? taskIdOfAriaLabel(row.ariaLabel) : undefined }));
  }

  /** Waits for a tree row for which `accept` holds (expanding collapsed groups meanwhile). */
  async waitForTreeRow(accept: (row: TreeRow) => boolean, what: string, timeoutMs = 20_000): Promise<TreeRow> {
    const rows = await waitUntil(async () => {
      await this.expandGroups();
      return this.treeRows();
    }, (all) => all.some(accept), what, timeoutMs);
    return rows.find(accept)!;
  }

  /** The group a task row sits under (the nearest level-1 row above it), or undefined when the task is not shown. */
  async groupOfTask(taskId: string): Promise<TreeRow | undefined> {
    const rows = await this.treeRows();
    const index = rows.findIndex((row) => row.taskId === taskId);
    if (index < 0) return undefined;
    for (let i = index - 1; i >= 0; i--) if (rows[i].level === 1) return rows[i];
    return undefined;
  }

  /** Waits until the task's row is shown under the group whose label matches (expanding collapsed groups). */
  async waitForTaskInGroup(taskId: string, group: string | RegExp, timeoutMs = 30_000): Promise<TreeRow> {
    const matches = (label: string): boolean => (typeof group === 'string' ? label === group : group.test(label));
    return waitUntil(async () => {
      await this.expandGroups();
      return (await this.groupOfTask(taskId)) ?? null;
    }, (row) => row !== null && matches(row.label), `task ${taskId} in group ${group}`, timeoutMs) as Promise<TreeRow>;
  }

  /** Expands every collapsed group row. */
  async expandGroups(): Promise<void> {
    const collapsed = this.page.locator(`${SIDEBAR_ROWS}[aria-level="1"][aria-expanded="false"]`);
    for (let i = await collapsed.count(); i > 0; i--) {
      await collapsed.first().click().catch(() => {});
    }
  }

  /** The row element for a tree row with that label. */
  treeRow(label: string): Locator {
    return this.page.locator(SIDEBAR_ROWS).filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(label)}$`) }) }).first();
  }

  /** The row element of a task (found by the id its aria label ends with). */
  taskRow(taskId: string): Locator {
    return this.page.locator(`${SIDEBAR_ROWS}[aria-label$=${JSON.stringify(`, task ${taskId}`)}]`).first();
  }

  /** Clicks an inline action (e.g. aria-label "Cancel Task") of a task's row; inline actions show on hover. */
  async clickInlineAction(taskId: string, actionLabel: string): Promise<void> {
    const row = this.taskRow(taskId);
    await row.hover();
    const action = row.locator(`.actions .action-label[aria-label*="${actionLabel}"]`).first();
    await action.waitFor({ state: 'visible', timeout: 5_000 });
    await action.click();
  }

  // ── webviews ──

  /** The content frame of the visible webview panel (outer iframe.webview.ready → inner #active-frame). */
  async webviewFrame(timeoutMs = 20_000): Promise<Frame> {
    return waitUntil(async () => {
      for (const outer of await this.page.locator('iframe.webview.ready').all()) {
        if (!(await outer.isVisible())) continue;
        const outerFrame = await (await outer.elementHandle())?.contentFrame();
        const inner = await (await outerFrame?.$('#active-frame'))?.contentFrame();
        if (inner) return inner;
      }
      return null;
    }, (frame) => frame !== null, 'a visible webview', timeoutMs) as Promise<Frame>;
  }

  /** Notification toasts now showing (their messages). */
  async notifications(): Promise<string[]> {
    return this.page.locator('.notifications-toasts .notification-list-item-message').allInnerTexts();
  }
}
