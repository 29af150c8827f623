#!/usr/bin/env node
// Installs what `npm test` and `npm start` need, and does nothing when it is all there:
//   1. node_modules (npm ci / npm install) when missing or not matching package.json;
//   2. Debian packages (chromium, ripgrep, bubblewrap, build tools, libkrb5-dev) — apt-get as root, else instructions;
//   3. both VS Code hosts into the cache folder (see scripts/paths.mjs): code-server 4.139.1 on Node 24 from npm
//      (`current`, shared HOSTING.md §6) and code-server 4.100.3 on the machine's Node 20 (`floor`, HOSTING.md §1).
//      Each install ends by writing a marker file; a host whose marker is there is left alone.
//   node scripts/setup.mjs [--host current|floor]   (default: both)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  HOSTS, chromiumPath, codeServerCommand, codeServerDir, codeServerMarker, hostNodeBin, isCodeServerInstalled, repoRoot, which,
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

/**
 * A host's code-server from npm, its VS Code dependencies and native modules built here (HOSTING.md §1; for a host
 * with its own Node, §6: that Node first on PATH and npm_config_nodedir at its headers, so node-gyp builds for it).
 */
export function ensureCodeServer(host) {
  if (isCodeServerInstalled(host)) return;
  const dir = codeServerDir(host);
  const version = host.codeServerVersion;
  log(`installing code-server ${version} (VS Code ${host.vscodeVersion}, host "${host.name}") into ${dir} (a few minutes)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), '{"private":true}\n');
  const quiet = ['--no-audit', '--no-fund'];
  const packages = [`code-server@${version}`];
  if (host.nodePackage) packages.unshift(`${host.nodePackage}@${host.nodeVersion}`);
  run('npm', ['install', '--ignore-scripts', ...quiet, ...packages], { cwd: dir });
  let env = { ...process.env, npm_config_yes: 'true' };
  const codeServerPackage = path.join(dir, 'node_modules', 'code-server');
  if (host.nodePackage) {
    const nodeDir = path.dirname(path.dirname(hostNodeBin(host)));
    env = { ...env, PATH: [path.join(nodeDir, 'bin'), process.env.PATH].join(path.delimiter), npm_config_nodedir: nodeDir };
    run('npm', ['rebuild', 'argon2'], { cwd: codeServerPackage, env });
  } else {
    run('npm', ['rebuild', 'argon2'], { cwd: dir, env });
  }
  const vscodeDir = path.join(codeServerPackage, 'lib', 'vscode');
  run('npm', ['install', '--omit=dev', '--ignore-scripts', ...quiet], { cwd: vscodeDir, env });
  run('npm', ['rebuild', ...host.nativeModules], { cwd: vscodeDir, env });
  const rg = which('rg');
  if (!rg) throw new Error('ripgrep (rg) is not on PATH');
  const rgDir = path.join(vscodeDir, 'node_modules', '@vscode', 'ripgrep', 'bin');
  mkdirSync(rgDir, { recursive: true });
  rmSync(path.join(rgDir, 'rg'), { force: true });
  symlinkSync(rg, path.join(rgDir, 'rg'));
  if (!existsSync(path.join(vscodeDir, 'node_modules.asar'))) symlinkSync('node_modules', path.join(vscodeDir, 'node_modules.asar'));
  run('npm', ['install', '--omit=dev', ...quiet], { cwd: path.join(vscodeDir, 'extensions'), env });
  const { command, args } = codeServerCommand(host);
  const reported = spawnSync(command, [...args, '--version'], { encoding: 'utf8', env });
  if (reported.status !== 0 || !reported.stdout.includes(version) || !reported.stdout.includes(host.vscodeVersion)) {
    throw new Error(`code-server --version did not report ${version} with Code ${host.vscodeVersion}: ${reported.stdout}${reported.stderr}`);
  }
  const versionLine = reported.stdout.trim().split('\n').pop();
  writeFileSync(codeServerMarker(host), `${versionLine}\n`);
  log(`code-server ready (host "${host.name}"): ${versionLine}`);
}

/** --host current|floor: install only that host. */
function hostOption() {
  const index = process.argv.indexOf('--host');
  const value = index >= 0 ? process.argv[index + 1] : process.argv.find((arg) => arg.startsWith('--host='))?.slice(7);
  if (value && !HOSTS[value]) throw new Error(`unknown host "${value}" (known: ${Object.keys(HOSTS).join(', ')})`);
  return value;
}

export function setup() {
  const started = Date.now();
  ensureSystemPackages();
  ensureNodeModules();
  const only = hostOption();
  for (const host of Object.values(HOSTS)) if (!only || only === host.name) ensureCodeServer(host);
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
