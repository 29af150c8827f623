// Where the test and demo tooling lives on this machine. Imported by the scripts and by test/e2e.
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';
export const VSCODE_VERSION = '1.100.3';

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

export function codeServerDir() {
  return path.join(cacheDir(), `code-server-${CODE_SERVER_VERSION}`);
}

/** Written last by setup: its absence means the install is missing or half done. */
export function codeServerMarker() {
  return path.join(codeServerDir(), '.installed');
}

/** The code-server launcher: $CODE_SERVER_BIN, else the one setup installed into the cache. */
export function codeServerBin() {
  return process.env.CODE_SERVER_BIN || path.join(codeServerDir(), 'node_modules', '.bin', 'code-server');
}

export function isCodeServerInstalled() {
  return existsSync(codeServerMarker()) && existsSync(codeServerBin());
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
