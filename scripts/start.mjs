#!/usr/bin/env node
// `npm start`: package the extension, then open a demo workspace with it installed —
//   • in VS Code, when a `code` CLI is on PATH (installs the .vsix, opens the workspace, waits for the window);
//   • otherwise in code-server (from scripts/setup.mjs) on 127.0.0.1, in your browser, until Ctrl-C: the current host,
//     code-server 4.139.1 = VS Code 1.139.1 on Node 24 (ATW_HOST=floor: code-server 4.100.3 = VS Code 1.100.3).
// When test/fixtures/demo/start-demo-model.ts exists it runs alongside: its first stdout line
// `{"settings": {...}}` is merged into the editor's settings, and it keeps running while the editor does.
//
//   node scripts/start.mjs [--check] [--code-server]
//   --check        start everything, verify the server answers /healthz and the extension is installed (and shows
//                  in the workbench), then stop and exit 0. CI runs this.
//   --code-server  use code-server even when `code` is on PATH.
//   --no-package   reuse the .vsix already built (faster when iterating on this script).
// Env: PORT (default: the port of the last run if free, else a free one — code-server keys workspace storage by
// it, so the same port keeps your tasks), ATW_CACHE_DIR (where code-server, the demo workspace and its editor data live).
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as readline from 'node:readline';
import {
  codeServerSync, freePort, launchChromium, startCodeServer, waitForHealthz, workbenchUrl, writeUserSettings,
} from './code-server.mjs';
import { cacheDir, demoWorkspaceDir, host, isCodeServerInstalled, repoRoot, vsixPath, which } from './paths.mjs';

const EXTENSION_ID = 'agenttasks.agent-task-worker';
const root = repoRoot();
const check = process.argv.includes('--check');
const forceCodeServer = process.argv.includes('--code-server');
const say = (text) => console.log(`[start] ${text}`);
const startedAt = Date.now();

/** Everything to stop on the way out. */
const cleanups = [];
let stopping = false;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  process.exit(code);
}
process.on('SIGINT', () => { say('stopping…'); void stopAll(0); });
process.on('SIGTERM', () => void stopAll(0));

function fail(message) {
  console.error(`[start] ${message}`);
  return stopAll(1);
}

function run(command, args, options = {}) {
  say(`$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
}

/**
 * The demo workspace in the cache: copied from test/fixtures/workspace once, then kept with your changes. It is a git
 * repository with one commit, so demo tasks run in their own worktrees and end with Review Changes and Merge.
 */
function ensureDemoWorkspace() {
  const dir = demoWorkspaceDir();
  if (!existsSync(dir)) {
    cpSync(path.join(root, 'test', 'fixtures', 'workspace'), dir, { recursive: true });
    say(`demo workspace created: ${dir}`);
  }
  if (!existsSync(path.join(dir, '.git')) && which('git')) {
    const git = (...args) => spawnSync('git', ['-c', 'user.name=Agent Tasks demo', '-c', 'user.email=demo@agent-tasks.invalid', ...args], { cwd: dir, stdio: 'ignore' });
    if (git('init', '--quiet').status === 0 && git('add', '--all').status === 0 && git('commit', '--quiet', '-m', 'The demo workspace').status === 0) {
      say('demo workspace is a git repository: each task runs in its own worktree');
    }
  }
  return dir;
}

/** Runs test/fixtures/demo/start-demo-model.ts (told the workspace) if present; resolves with the settings it prints
 *  (or {}). */
async function startDemoModel(workspace) {
  const script = path.join(root, 'test', 'fixtures', 'demo', 'start-demo-model.ts');
  if (!existsSync(script)) return {};
  say('starting the demo model (test/fixtures/demo/start-demo-model.ts)');
  const codexHome = path.join(cacheDir(), 'demo-codex-home');
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--workspace', workspace, '--codex-home', codexHome], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  cleanups.push(async () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  });
  child.stderr.on('data', (chunk) => process.stderr.write(prefixLines('[demo-model] ', chunk)));
  const lines = readline.createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the demo model printed no settings line within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the demo model exited (${code}) before printing its settings`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
  lines.on('line', (line) => console.log(`[demo-model] ${line}`));
  let parsed;
  try {
    parsed = JSON.parse(first);
  } catch {
    throw new Error(`the demo model's first line is not JSON: ${first}`);
  }
  const settings = parsed?.settings;
  if (!settings || typeof settings !== 'object') throw new Error(`the demo model's first line has no "settings" object: ${first}`);
  say(`demo model settings: ${Object.keys(settings).join(', ') || '(none)'}`);
  child.once('exit', (code) => {
    if (!stopping) void fail(`the demo model stopped (exit ${code})`);
  });
  return settings;
}

function prefixLines(prefix, chunk) {
  return chunk.toString().split(/(?<=\n)/).map((line) => (line.trim() ? prefix + line : line)).join('');
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** PORT, else the port of the last run when it is free (same port = same workspace storage), else a free one. */
async function choosePort(stateDir) {
  if (process.env.PORT) return Number(process.env.PORT);
  const remembered = path.join(stateDir, 'port');
  const last = existsSync(remembered) ? Number(readFileSync(remembered, 'utf8')) : NaN;
  const port = Number.isInteger(last) && last > 0 && (await portIsFree(last)) ? last : await freePort();
  writeFileSync(remembered, String(port));
  return port;
}

/** VS Code desktop: install the .vsix, write the demo settings into the workspace, open it and wait for the window. */
async function runWithCode(code, workspace, settings) {
  run(code, ['--install-extension', vsixPath(), '--force']);
  const listed = spawnSync(code, ['--list-extensions'], { encoding: 'utf8' });
  if (!listed.stdout.toLowerCase().split('\n').includes(EXTENSION_ID)) throw new Error(`${EXTENSION_ID} is not listed by \`code --list-extensions\``);
  say(`${EXTENSION_ID} is installed in VS Code`);
  if (Object.keys(settings).length) {
    // Workspace settings, so the demo never changes your own VS Code user settings.
    const file = path.join(workspace, '.vscode', 'settings.json');
    mkdirSync(path.dirname(file), { recursive: true });
    const current = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    writeFileSync(file, `${JSON.stringify({ ...current, ...settings }, null, 2)}\n`);
  }
  if (check) return stopAll(0);
  say(`opening ${workspace} in VS Code (close the window or press Ctrl-C to stop)`);
  for (const line of NEXT_STEPS) say(line);
  const editor = spawn(code, ['--new-window', '--wait', workspace], { stdio: 'inherit' });
  editor.on('exit', () => void stopAll(0));
}

/** code-server in the browser: install the .vsix into the cache's extensions dir and serve the demo workspace. */
async function runWithCodeServer(workspace, settings) {
  const vscodeHost = host();
  if (!isCodeServerInstalled(vscodeHost)) throw new Error(`code-server ${vscodeHost.codeServerVersion} is not installed: run \`node scripts/setup.mjs\``);
  say(`code-server ${vscodeHost.codeServerVersion} = VS Code ${vscodeHost.vscodeVersion} (host "${vscodeHost.name}")`);
  // Each host keeps its own editor data: a newer VS Code migrates state an older one cannot read back.
  const stateDir = path.join(cacheDir(), vscodeHost.name === 'current' ? 'demo' : `demo-${vscodeHost.name}`);
  const userDataDir = path.join(stateDir, 'user-data');
  const extensionsDir = path.join(stateDir, 'extensions');
  mkdirSync(userDataDir, { recursive: true });
  mkdirSync(extensionsDir, { recursive: true });
  const dirs = ['--extensions-dir', extensionsDir, '--user-data-dir', userDataDir];
  say(`$ code-server --install-extension ${path.basename(vsixPath())} --force`);
  const installed = codeServerSync(['--install-extension', vsixPath(), '--force', ...dirs], { stdio: 'inherit' }, vscodeHost);
  if (installed.status !== 0) throw new Error(`code-server --install-extension exited with ${installed.status ?? installed.signal}`);
  const listed = codeServerSync(['--list-extensions', ...dirs], { encoding: 'utf8' }, vscodeHost);
  if (!listed.stdout.toLowerCase().split('\n').map((l) => l.trim()).includes(EXTENSION_ID)) {
    throw new Error(`${EXTENSION_ID} is not listed by code-server --list-extensions:\n${listed.stdout}${listed.stderr}`);
  }
  writeUserSettings(userDataDir, {
    'workbench.startupEditor': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'telemetry.telemetryLevel': 'off',
    ...settings,
  });
  const port = await choosePort(stateDir);
  const server = await startCodeServer({
    userDataDir, extensionsDir, folder: workspace, port, vscodeHost, extensionDevelopment: false,
    log: (line) => { if (check || process.env.ATW_VERBOSE === '1') console.log(`[code-server] ${line}`); },
  });
  cleanups.push(() => server.stop());
  server.child.once('exit', (code) => {
    if (!stopping) void fail(`code-server exited (${code})`);
  });
  const url = `http://127.0.0.1:${server.port}/?folder=${encodeURIComponent(workspace)}`;
  if (check) {
    await waitForHealthz(server.port, { timeoutMs: 5_000 });
    say(`/healthz answers on port ${server.port}; ${EXTENSION_ID} is installed`);
    await checkWorkbench(server.port, workspace);
    say('check passed');
    return stopAll(0);
  }
  say(`ready after ${Math.round((Date.now() - startedAt) / 1000)} s`);
  const lines = ['Agent Task Worker demo is running. Open this in your browser:', url];
  const width = Math.max(...lines.map((line) => line.length));
  console.log(`\n╔${'═'.repeat(width + 4)}╗`);
  for (const line of lines) console.log(`║  ${line.padEnd(width)}  ║`);
  console.log(`╚${'═'.repeat(width + 4)}╝`);
  console.log(`${NEXT_STEPS.join('\n')}\n`);
  console.log(`Press Ctrl-C to stop. Your tasks and the demo workspace (${workspace}) are kept for the next npm start on the same port (${server.port}).\n`);
}

/** What to do in the window, printed with its URL (README, Quick start). */
const NEXT_STEPS = [
  'In the window: click Agent Tasks in the activity bar, then New Task; pick Codex (it talks to the demo model).',
  'A word in the prompt picks what the demo model does:',
  '  approve  asks to run a command',
  '  edit     proposes a file (the task works in its own git worktree: Review Changes, then Merge Changes)',
  '  ask      asks a question (a form; with the "planner" task type, a multiple-choice question)',
  'Any other prompt gets a plain reply.',
];

/** Loads the workbench in headless Chromium and waits for the installed extension's view to show. */
async function checkWorkbench(port, workspace) {
  let browser;
  try {
    browser = await launchChromium();
  } catch (error) {
    say(`skipping the workbench check: ${error.message}`);
    return;
  }
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(workbenchUrl({ port, folder: workspace }));
    const item = page.locator('.part.activitybar a.action-label[aria-label^="Agent Tasks"]').first();
    await item.waitFor({ state: 'visible', timeout: 30_000 });
    const active = await item.evaluate((el) => el.closest('.action-item')?.classList.contains('checked') ?? false);
    if (!active) await item.click();
    // Either the welcome view's button (no tasks yet) or task rows: both need the extension's tree to be live.
    await page.locator('.part.sidebar .welcome-view-content .monaco-button, .part.sidebar .monaco-list-row').first()
      .waitFor({ state: 'visible', timeout: 30_000 });
    say('the workbench shows the Agent Tasks view');
    // Running a command proves the extension activated: "New Task" must open its prompt box.
    const input = page.locator('.quick-input-widget input.input');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Agent Tasks: New Task' }).first();
    const deadline = Date.now() + 30_000;
    for (;;) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      await input.fill('>Agent Tasks: New Task');
      if (await row.waitFor({ state: 'visible', timeout: 3_000 }).then(() => true, () => false)) break;
      if (Date.now() > deadline) throw new Error('"Agent Tasks: New Task" is not in the command palette');
    }
    await row.click();
    const opened = Date.now();
    while (!(await input.isVisible()) || (await input.inputValue()).startsWith('>')) {
      if (Date.now() - opened > 15_000) throw new Error('"Agent Tasks: New Task" did not open its prompt box (did the extension activate?)');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    say('"Agent Tasks: New Task" runs (the extension is active)');
    // A real demo task: the pinned Codex CLI against the bundled demo model, start to Completed.
    await input.fill('Say hello to the demo');
    await page.keyboard.press('Enter');
    await pickRow(page, 'Codex');
    await pickRow(page, 'general');
    await page.locator('.part.sidebar .monaco-list-row[aria-label*="Completed, codex"]').first()
      .waitFor({ state: 'visible', timeout: 90_000 });
    say('a demo task ran on Codex with the demo model and completed');
  } finally {
    await browser.close().catch(() => {});
  }
}

/** Picks the quick-pick row that contains `text` once the list shows it. */
async function pickRow(page, text) {
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();
  await row.waitFor({ state: 'visible', timeout: 15_000 });
  await row.click();
}

try {
  if (!process.argv.includes('--no-package')) run('npm', ['run', '--silent', 'package']);
  if (!existsSync(vsixPath())) throw new Error(`npm run package did not produce ${path.basename(vsixPath())}`);
  const workspace = ensureDemoWorkspace();
  const settings = await startDemoModel(workspace);
  const code = forceCodeServer ? undefined : which('code');
  if (code) await runWithCode(code, workspace, settings);
  else await runWithCodeServer(workspace, settings);
} catch (error) {
  await fail(error.message);
}
