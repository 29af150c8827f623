// Starting and stopping code-server and headless Chromium (shared HOSTING.md §2–§4), for the shim, the e2e
// harness and `npm start`.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as util from 'node:util';
import { CHROMIUM_ARGS, DEAD_GALLERY, chromiumPath, codeServerCommand, host as selectHost, isCodeServerInstalled } from './paths.mjs';

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls GET /healthz until it answers 200; rejects after timeoutMs or when `isDead()` says the server exited. */
export async function waitForHealthz(port, { timeoutMs = 30_000, isDead = () => false } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isDead()) throw new Error('code-server exited before it answered /healthz');
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await delay(250);
  }
  throw new Error(`code-server did not answer /healthz on port ${port} within ${timeoutMs} ms`);
}

/** Merges `settings` into <userDataDir>/User/settings.json (created when missing). */
export function writeUserSettings(userDataDir, settings) {
  const file = path.join(userDataDir, 'User', 'settings.json');
  mkdirSync(path.dirname(file), { recursive: true });
  let current = {};
  if (existsSync(file)) {
    try {
      current = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      current = {};
    }
  }
  writeFileSync(file, `${JSON.stringify({ ...current, ...settings }, null, 2)}\n`);
}

/**
 * Adds a host's own user settings (HOSTING.md §6: no Chat view or secondary side bar on 1.139) to
 * <userDataDir>/User/settings.json, keeping whatever is already set there.
 */
export function writeHostSettings(userDataDir, host = selectHost()) {
  if (Object.keys(host.settings).length === 0) return;
  const file = path.join(userDataDir, 'User', 'settings.json');
  let current = {};
  try {
    current = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    current = {};
  }
  writeUserSettings(userDataDir, { ...host.settings, ...current });
}

/** Runs a host's code-server with `args` synchronously (e.g. --install-extension), as spawnSync does. */
export function codeServerSync(args, options = {}, host = selectHost()) {
  const { command, args: prefix } = codeServerCommand(host);
  return spawnSync(command, [...prefix, ...args], { ...options, env: serverEnv(options.env ?? {}) });
}

/** Environment for code-server: the caller's, minus what would make it hand off to another VS Code instance. */
function serverEnv(extraEnv) {
  const env = { ...process.env, EXTENSIONS_GALLERY: DEAD_GALLERY, ...extraEnv };
  delete env.VSCODE_IPC_HOOK_CLI;
  delete env.ELECTRON_RUN_AS_NODE;
  return env;
}

/** Sends `signal` to a whole process group; ignores groups that are already gone. */
export function killGroup(pid, signal = 'SIGTERM') {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Whether any process of that group is still alive. */
function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The environment variable every process started under code-server inherits, so teardown can find them all. */
export const PROCESS_MARKER = 'ATW_PROCESS_MARKER';

/**
 * Kills every process whose environment holds `name=value` (Linux /proc): how teardown finds what the extension
 * spawned detached in its own process group. Returns how many it signalled.
 */
export function killProcessesWithEnv(name, value, signal = 'SIGKILL') {
  if (process.platform !== 'linux') return 0;
  const needle = `${name}=${value}`;
  let signalled = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue; // gone, or not ours to read
    }
    if (!environ.split('\0').includes(needle)) continue;
    try {
      process.kill(Number(entry), signal);
      signalled++;
    } catch {
      // exited meanwhile
    }
  }
  return signalled;
}

/**
 * Starts code-server detached (its own process group, so the extension host and what it spawns die with it).
 * `trusted: false` keeps workspace trust on, so the folder opens in restricted mode.
 * `vscodeHost` (default: ATW_HOST, else current; see scripts/paths.mjs) picks the code-server and the Node it runs
 * on and adds its user settings; `extensionDevelopment` (default true) adds the flags it needs to load an extension
 * from the workbench URL's payload (on 1.139 the smoke-test driver, which also hides notification toasts).
 * Returns { port, pid, child, marker, host, stop() }: stop() ends the process group (SIGTERM, then SIGKILL after graceMs)
 * and, unless keepSpawned, every process that inherited the marker (agents the extension started detached).
 */
export async function startCodeServer({
  userDataDir, extensionsDir, folder, port, trusted = true, env = {}, extraArgs = [], log = () => {},
  host = '127.0.0.1', timeoutMs = 30_000, vscodeHost = selectHost(), extensionDevelopment = true,
}) {
  if (!isCodeServerInstalled(vscodeHost)) {
    throw new Error(`code-server ${vscodeHost.codeServerVersion} (host "${vscodeHost.name}") is not installed: run \`node scripts/setup.mjs\``);
  }
  mkdirSync(userDataDir, { recursive: true });
  writeHostSettings(userDataDir, vscodeHost);
  mkdirSync(extensionsDir, { recursive: true });
  const listenPort = port ?? (await freePort());
  const args = [
    '--auth', 'none', '--bind-addr', `${host}:${listenPort}`,
    '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
    // Its own config file, so a personal ~/.config/code-server/config.yaml neither applies nor gets written.
    '--config', path.join(userDataDir, 'code-server.yaml'),
    '--disable-telemetry', '--disable-update-check',
    ...(trusted ? ['--disable-workspace-trust'] : []),
    ...(extensionDevelopment ? vscodeHost.developmentArgs : []),
    ...extraArgs,
    ...(folder ? [folder] : []),
  ];
  const marker = randomUUID();
  const launcher = codeServerCommand(vscodeHost);
  const child = spawn(launcher.command, [...launcher.args, ...args], {
    detached: true, env: { ...serverEnv(env), [PROCESS_MARKER]: marker }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exited = false;
  child.on('exit', () => { exited = true; });
  child.on('error', (error) => { exited = true; log(`code-server could not start: ${error.message}`); });
  const forward = (chunk) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) log(line);
  };
  child.stdout.on('data', forward);
  child.stderr.on('data', forward);
  const stop = async ({ graceMs = 2_000, keepSpawned = false } = {}) => {
    killGroup(child.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (child.pid && groupAlive(child.pid) && Date.now() < deadline) await delay(100);
    killGroup(child.pid, 'SIGKILL');
    if (!keepSpawned) killProcessesWithEnv(PROCESS_MARKER, marker, 'SIGKILL');
  };
  try {
    await waitForHealthz(listenPort, { timeoutMs, isDead: () => exited });
  } catch (error) {
    await stop({ graceMs: 0 });
    throw error;
  }
  return { port: listenPort, pid: child.pid, child, marker, stop, hasExited: () => exited, host: vscodeHost };
}

/**
 * Copies an unpacked extension folder into the extensions dir as `<publisher>.<name>-<version>` (what an install
 * leaves), so code-server loads it like an installed extension. The workbench payload is a Map, so it carries only
 * one extensionDevelopmentPath: further development extensions go in this way. Returns the extension id.
 * Copy before the first start of that extensions dir: code-server lists a fresh dir's folders in extensions.json.
 */
export function installExtensionFolder(extensionDir, extensionsDir) {
  const manifest = JSON.parse(readFileSync(path.join(extensionDir, 'package.json'), 'utf8'));
  const id = `${manifest.publisher}.${manifest.name}`;
  const target = path.join(extensionsDir, `${id}-${manifest.version}`);
  mkdirSync(extensionsDir, { recursive: true });
  rmSync(target, { recursive: true, force: true });
  cpSync(extensionDir, target, { recursive: true, filter: (source) => !/[\\/](node_modules|src)$/.test(source) });
  const installedList = path.join(extensionsDir, 'extensions.json');
  if (existsSync(installedList)) {
    const entries = JSON.parse(readFileSync(installedList, 'utf8'));
    if (!entries.some((entry) => entry.identifier?.id?.toLowerCase() === id.toLowerCase())) {
      entries.push({
        identifier: { id },
        version: manifest.version,
        location: { $mid: 1, path: target, scheme: 'file' },
        relativeLocation: path.basename(target),
        metadata: { installedTimestamp: Date.now(), source: 'vsix' },
      });
      writeFileSync(installedList, JSON.stringify(entries));
    }
  }
  return id;
}

/** A vscode-remote URI for a path on the code-server machine. */
function remoteUri(port, absolutePath) {
  return `vscode-remote://127.0.0.1:${port}${path.resolve(absolutePath)}`;
}

/** The workbench URL carrying VS Code's launch payload (one extension development path, the test runner). */
export function workbenchUrl({ port, folder, extensionDevelopmentPath, extensionTestsPath }) {
  const payload = [];
  if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remoteUri(port, extensionDevelopmentPath)]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', remoteUri(port, extensionTestsPath)]);
  payload.push(['skipWelcome', 'true']);
  const where = folder ? `folder=${encodeURIComponent(path.resolve(folder))}` : 'ew=true';
  return `http://127.0.0.1:${port}/?${where}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** Headless Chromium through playwright-core (which never downloads a browser). */
export async function launchChromium() {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('Chromium not found: run `node scripts/setup.mjs` (or set CHROMIUM_PATH)');
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

const HOST_CONSOLE = /^%c +(INFO|WARN|ERR)/;
/** The workbench's own log lines share that format; these are known to be harmless (HOSTING.md §6). */
const WORKBENCH_NOISE = [
  /^Resolv(ing|ed) connection token/, /^Creating a socket \(renderer-/, /^Updating additional builtin extensions cache/,
  /^\[Service Worker\]/, /^ChatSessionStore: /, /ECONNREFUSED 127\.0\.0\.1:9\b/, /^Started local extension host/,
];

/**
 * Calls `write(text, level)` for every console line of the extension host, which the workbench relays as
 * `["%c INFO", "color: …", fmt, …args]` messages (the workbench's own known noise is dropped unless keepNoise).
 */
export function forwardExtensionHostConsole(page, write, { keepNoise = false } = {}) {
  page.on('console', async (message) => {
    if (!(message.location()?.url ?? '').includes('workbench')) return;
    let args;
    try {
      args = await Promise.all(message.args().map((arg) => arg.jsonValue()));
    } catch {
      return; // the page went away
    }
    const head = typeof args[0] === 'string' ? HOST_CONSOLE.exec(args[0]) : null;
    if (!head) return;
    const text = util.format(...args.slice(2));
    if (!keepNoise && WORKBENCH_NOISE.some((noise) => noise.test(text))) return;
    write(text, head[1]);
  });
}

/**
 * Declines a workspace trust dialog whenever one shows (restricted mode), until `page` closes.
 * Returns a function that stops watching.
 */
export function declineWorkspaceTrust(page) {
  let active = true;
  (async () => {
    while (active && !page.isClosed()) {
      try {
        const button = page.locator('.monaco-dialog-box .monaco-button', { hasText: /don.t trust/i }).first();
        await button.waitFor({ state: 'visible', timeout: 1_000 });
        await button.click();
      } catch {
        // no dialog right now
      }
    }
  })();
  return () => { active = false; };
}
