#!/usr/bin/env node
// Stands in for the `code` executable that @vscode/test-electron (or test-cli) launches: runs the extension tests in
// the real extension host of code-server, with the workbench in headless Chromium (shared HOSTING.md §3).
//
//   code-shim.mjs --extensionDevelopmentPath=<dir> [...] --extensionTestsPath=<runner.js>
//                 (the first development path is loaded as such; further ones are installed into the extensions dir)
//                 [--user-data-dir=<dir>] [--extensions-dir=<dir>] [<folder>]
//
// Exit code: what the test runner passed to codeAutomationExit; 124 after SHIM_TIMEOUT_MS (default 10 min).
// Environment: ATW_HOST=current|floor picks the VS Code (scripts/paths.mjs; default current);
// ATW_TRUST=untrusted opens the folder in restricted mode (workspace trust on, never trusted);
// SHIM_PORT=<n> listens on that port: code-server's workspace storage id depends on the port (the folder's
// vscode-remote URI has it), so launches that must share workspace storage need the same port.
// Every other variable is passed on to code-server, whose extension host inherits it. SHIM_VERBOSE=1 also prints
// code-server's own log and the browser's errors.
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  declineWorkspaceTrust, forwardExtensionHostConsole, installExtensionFolder, launchChromium, startCodeServer, workbenchUrl,
  writeUserSettings,
} from './code-server.mjs';

const VALUE_FLAGS = new Set(['extensionDevelopmentPath', 'extensionTestsPath', 'user-data-dir', 'extensions-dir']);

function parseArgs(argv) {
  const parsed = { extensionDevelopmentPath: [], folders: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const flag = /^--([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!flag) {
      parsed.folders.push(path.resolve(arg));
      continue;
    }
    const [, name, inline] = flag;
    if (!VALUE_FLAGS.has(name)) continue; // e.g. --no-sandbox, --disable-updates: not meaningful here
    const value = path.resolve(inline ?? argv[++i]);
    if (name === 'extensionDevelopmentPath') parsed.extensionDevelopmentPath.push(value);
    else parsed[name] = value;
  }
  return parsed;
}

const args = parseArgs(process.argv.slice(2));
const verbose = process.env.SHIM_VERBOSE === '1';
const trusted = process.env.ATW_TRUST !== 'untrusted';
const timeoutMs = Number(process.env.SHIM_TIMEOUT_MS) || 10 * 60_000;
const temp = mkdtempSync(path.join(os.tmpdir(), 'atw-shim-'));
const userDataDir = args['user-data-dir'] ?? path.join(temp, 'user-data');
const extensionsDir = args['extensions-dir'] ?? path.join(temp, 'extensions');
const say = (text) => process.stdout.write(`[code-shim] ${text}\n`);

let server;
let browser;
let finishing = false;

async function finish(code) {
  if (finishing) return;
  finishing = true;
  clearTimeout(timer);
  await browser?.close().catch(() => {});
  await server?.stop();
  rmSync(temp, { recursive: true, force: true });
  process.exit(code);
}

const timer = setTimeout(() => {
  say(`timed out after ${timeoutMs} ms (no codeAutomationExit: did the test runner fail to load?)`);
  void finish(124);
}, timeoutMs);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => void finish(130));

try {
  writeUserSettings(userDataDir, {
    'workbench.startupEditor': 'none',
    'security.workspace.trust.enabled': !trusted,
    ...(trusted ? {} : { 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'never' }),
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'telemetry.telemetryLevel': 'off',
  });
  // The workbench payload carries one development extension; the others are installed into the extensions dir.
  for (const extra of args.extensionDevelopmentPath.slice(1)) say(`installed ${installExtensionFolder(extra, extensionsDir)} from ${extra}`);
  server = await startCodeServer({
    userDataDir, extensionsDir, folder: args.folders[0], trusted, port: Number(process.env.SHIM_PORT) || undefined, log: verbose ? (line) => say(line) : () => {},
  });
  say(`code-server ${server.host.codeServerVersion} = VS Code ${server.host.vscodeVersion} (host "${server.host.name}") on port ${server.port}`);
  const started = Date.now();
  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.exposeFunction('codeAutomationExit', (code) => {
    say(`codeAutomationExit(${code}) after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    void finish(Number(code) || 0);
  });
  forwardExtensionHostConsole(page, (text, level) => (level === 'ERR' ? process.stderr : process.stdout).write(`${text}\n`),
    { keepNoise: verbose });
  if (verbose) page.on('pageerror', (error) => say(`page error: ${error.message}`));
  if (!trusted) declineWorkspaceTrust(page);
  await page.goto(workbenchUrl({
    port: server.port,
    folder: args.folders[0],
    extensionDevelopmentPath: args.extensionDevelopmentPath[0],
    extensionTestsPath: args.extensionTestsPath,
  }));
} catch (error) {
  say(`failed: ${error.stack ?? error}`);
  await finish(1);
}
