#!/usr/bin/env node
// Installs what `npm test` and `npm start` need, and does nothing when it is all there:
//   1. node_modules (npm ci / npm install) when missing or not matching package.json;
//   2. Debian packages (chromium, ripgrep, bubblewrap, build tools, libkrb5-dev) — apt-get as root, else instructions;
//   3. code-server 4.100.3 into the cache folder (see scripts/paths.mjs), exactly as shared HOSTING.md §1 does it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CODE_SERVER_VERSION, chromiumPath, codeServerBin, codeServerDir, codeServerMarker, isCodeServerInstalled, repoRoot, which,
} from './paths.mjs';

const APT_PACKAGES = ['chromium', 'ripgrep', 'bubblewrap', 'g++', 'make', 'python3', 'pkg-config', 'libkrb5-dev'];
/** A command (or header) that shows each package's tool is there, however it was installed. */
const PACKAGE_PROBES = {
  chromium: () => Boolean(chromiumPath()),
  ripgrep: () => Boolean(which('rg')),
  bubblewrap: () => Boolean(which('bwrap')),
  'g++': () => Boolean(which('g++')),
  make: () => Boolean(which('make')),
  python3: () => Boolean(which('python3')),
  'pkg-config': () => Boolean(which('pkg-config')),
  'libkrb5-dev': () => existsSync('/usr/include/gssapi/gssapi.h') || existsSync('/usr/include/krb5.h'),
};
const NATIVE_MODULES = ['kerberos', 'node-pty', '@vscode/spdlog', 'native-watchdog', '@parcel/watcher', '@vscode/deviceid'];

const log = (message) => console.log(`[setup] ${message}`);

function run(command, args, options = {}) {
  log(`$ ${[command, ...args].join(' ')}${options.cwd ? `   (in ${options.cwd})` : ''}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw new Error(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
}

/** The names in package.json whose installed version is missing or differs from an exact pin. */
function staleDependencies(root) {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const wanted = { ...pkg.dependencies, ...pkg.devDependencies };
  const stale = [];
  for (const [name, spec] of Object.entries(wanted)) {
    const manifest = path.join(root, 'node_modules', name, 'package.json');
    if (!existsSync(manifest)) { stale.push(name); continue; }
    const exact = /^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec);
    if (exact && JSON.parse(readFileSync(manifest, 'utf8')).version !== spec) stale.push(`${name}@${spec}`);
  }
  return stale;
}

export function ensureNodeModules(root = repoRoot()) {
  if (!existsSync(path.join(root, 'node_modules'))) {
    const hasLock = existsSync(path.join(root, 'package-lock.json'));
    log('node_modules is missing');
    run('npm', [hasLock ? 'ci' : 'install', '--no-audit', '--no-fund'], { cwd: root });
    return;
  }
  const stale = staleDependencies(root);
  if (stale.length === 0) return;
  log(`node_modules is stale (${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ', …' : ''})`);
  run('npm', ['install', '--no-audit', '--no-fund'], { cwd: root });
}

function isPackageInstalled(name) {
  if (PACKAGE_PROBES[name]()) return true;
  if (!which('dpkg-query')) return false;
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return result.status === 0 && /install ok installed/.test(result.stdout);
}

export function ensureSystemPackages() {
  const missing = APT_PACKAGES.filter((name) => !isPackageInstalled(name));
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && which('apt-get')) {
    log(`installing Debian packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    run('apt-get', ['update'], { env });
    run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
    return;
  }
  console.error(`[setup] missing system packages: ${missing.join(' ')}`);
  console.error('[setup] install them, then run this again. On Debian/Ubuntu:');
  console.error(`[setup]   sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`);
  console.error('[setup] (chromium drives the UI tests, ripgrep is VS Code\'s search, bubblewrap sandboxes agents,');
  console.error('[setup]  g++ make python3 pkg-config libkrb5-dev build code-server\'s native modules)');
  process.exit(1);
}

/** code-server from npm, its VS Code dependencies and native modules built here (HOSTING.md §1). */
export function ensureCodeServer() {
  if (isCodeServerInstalled()) return;
  const dir = codeServerDir();
  log(`installing code-server ${CODE_SERVER_VERSION} into ${dir} (about a minute)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), '{"private":true}\n');
  const quiet = ['--no-audit', '--no-fund'];
  run('npm', ['install', '--ignore-scripts', ...quiet, `code-server@${CODE_SERVER_VERSION}`], { cwd: dir });
  run('npm', ['rebuild', 'argon2'], { cwd: dir });
  const vscodeDir = path.join(dir, 'node_modules', 'code-server', 'lib', 'vscode');
  run('npm', ['install', '--omit=dev', '--ignore-scripts', ...quiet], { cwd: vscodeDir });
  run('npm', ['rebuild', ...NATIVE_MODULES], { cwd: vscodeDir, env: { ...process.env, npm_config_yes: 'true' } });
  const rg = which('rg');
  if (!rg) throw new Error('ripgrep (rg) is not on PATH');
  const rgDir = path.join(vscodeDir, 'node_modules', '@vscode', 'ripgrep', 'bin');
  mkdirSync(rgDir, { recursive: true });
  rmSync(path.join(rgDir, 'rg'), { force: true });
  symlinkSync(rg, path.join(rgDir, 'rg'));
  if (!existsSync(path.join(vscodeDir, 'node_modules.asar'))) symlinkSync('node_modules', path.join(vscodeDir, 'node_modules.asar'));
  run('npm', ['install', '--omit=dev', ...quiet], { cwd: path.join(vscodeDir, 'extensions') });
  const version = spawnSync(codeServerBin(), ['--version'], { encoding: 'utf8' });
  if (version.status !== 0 || !version.stdout.includes(CODE_SERVER_VERSION)) {
    throw new Error(`code-server --version did not report ${CODE_SERVER_VERSION}: ${version.stdout}${version.stderr}`);
  }
  const versionLine = version.stdout.trim().split('\n').pop();
  writeFileSync(codeServerMarker(), `${versionLine}\n`);
  log(`code-server ready: ${versionLine}`);
}

export function setup() {
  const started = Date.now();
  ensureSystemPackages();
  ensureNodeModules();
  ensureCodeServer();
  log(`ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    setup();
  } catch (error) {
    console.error(`[setup] failed: ${error.message}`);
    process.exit(1);
  }
}
