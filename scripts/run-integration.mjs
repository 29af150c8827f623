#!/usr/bin/env node
// Runs test/integration in the real extension host (code-server's, through scripts/code-shim.mjs and
// @vscode/test-electron), one host launch per phase:
//   main        most suites
//   restart-1   makes tasks …
//   restart-2   … and a second host on the same user data and workspace checks they survived
//   untrusted   the restart workspace reopens in restricted mode: what restart-2 left running or queued waits for trust
//   mcp         MCP delegation: the SDK client runs dist/mcp-server.js against this window's socket
//   codex       the real pinned Codex binary against the mock Responses server the suite starts in the host
//   agents      Claude Code, Copilot CLI and a generic ACP agent against mock model servers the suite starts
//   bench       (only when asked for; npm run bench does) activation of the extension and of an empty one, timed
//
//   node scripts/run-integration.mjs [--host current|floor] [--phase main,untrusted] [--no-build] [--grep <mocha grep>]
// --host (or ATW_HOST): the VS Code to run in (scripts/paths.mjs): current = code-server 4.139.1 / VS Code 1.139.1
// (default), floor = code-server 4.100.3 / VS Code 1.100.3.
// Env: SHIM_TIMEOUT_MS (per phase, default 5 min), SHIM_VERBOSE=1, ATW_KEEP_TMP=1 (keep the temp folders).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { buildTests } from './build-tests.mjs';
import { freePort, writeUserSettings } from './code-server.mjs';
import { host, repoRoot } from './paths.mjs';

const ALL_PHASES = ['main', 'restart-1', 'restart-2', 'untrusted', 'mcp', 'codex', 'agents'];
const ON_REQUEST_PHASES = ['bench'];
const root = repoRoot();

function option(name) {
  const index = process.argv.indexOf(`--${name}`);
  if (index >= 0) return process.argv[index + 1];
  const inline = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  return inline?.slice(name.length + 3);
}

let vscodeHost;
try {
  vscodeHost = host(option('host') ?? process.env.ATW_HOST);
} catch (error) {
  console.error(`[integration] ${error.message}`);
  process.exit(2);
}
// The shim (and so code-server) picks the host from the environment.
process.env.ATW_HOST = vscodeHost.name;
console.log(`[integration] host ${vscodeHost.name}: code-server ${vscodeHost.codeServerVersion} = VS Code ${vscodeHost.vscodeVersion}`);

const phases = (option('phase') ?? ALL_PHASES.join(',')).split(',').map((p) => p.trim()).filter(Boolean);
for (const phase of phases) {
  if (!ALL_PHASES.includes(phase) && !ON_REQUEST_PHASES.includes(phase)) {
    console.error(`[integration] unknown phase "${phase}" (known: ${[...ALL_PHASES, ...ON_REQUEST_PHASES].join(', ')})`);
    process.exit(2);
  }
}

if (!process.argv.includes('--no-build')) {
  if (!existsSync(path.join(root, 'esbuild.mjs'))) {
    console.error('[integration] esbuild.mjs is missing: the extension cannot be built');
    process.exit(1);
  }
  const build = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
await buildTests(root);
if (!existsSync(path.join(root, 'dist', 'extension.js'))) {
  console.error('[integration] dist/extension.js is missing after the build');
  process.exit(1);
}

const temp = mkdtempSync(path.join(os.tmpdir(), 'atw-integration-'));
/** One workspace copy, user data dir and port per group of phases that must share them (workspace storage is keyed
 *  by the folder's vscode-remote URI, which includes the port). */
const homes = new Map();
async function homeFor(phase) {
  // untrusted reopens the restart phases' workspace (M3: tasks persisted while trusted wait for trust after a reload).
  const group = phase.startsWith('restart-') || phase === 'untrusted' ? 'restart' : phase;
  if (!homes.has(group)) {
    const dir = path.join(temp, group);
    const workspace = path.join(dir, 'workspace');
    cpSync(path.join(root, 'test', 'fixtures', 'workspace'), workspace, { recursive: true });
    homes.set(group, {
      workspace,
      userDataDir: path.join(dir, 'user-data'),
      extensionsDir: path.join(dir, 'extensions'),
      stateFile: path.join(dir, 'remembered-tasks.json'),
      port: await freePort(),
    });
  }
  return homes.get(group);
}

/**
 * Phase codex: user settings point agentTasks.codex.path at the pinned native binary and add a Codex profile whose
 * CODEX_HOME the suite writes (test/fixtures/mock-responses/codex-home.ts) once its mock server listens.
 */
function prepareCodexPhase(home) {
  const codexHome = path.join(path.dirname(home.workspace), 'codex-home');
  const pkg = createRequire(import.meta.url).resolve(`@openai/codex-${process.platform}-${process.arch}/package.json`);
  const vendor = path.join(path.dirname(pkg), 'vendor');
  writeUserSettings(home.userDataDir, {
    'agentTasks.codex.path': path.join(vendor, readdirSync(vendor)[0], 'bin', 'codex'),
    // MOCK_API_KEY: the env_key of the mock model provider in that CODEX_HOME.
    'agentTasks.profiles': [{ id: 'mock', provider: 'codex', configDir: codexHome, env: { MOCK_API_KEY: 'test-key' } }],
  });
  return { ATW_CODEX_HOME: codexHome };
}

/**
 * Phase bench: the extension as a copy whose manifest has no activation events (so it waits to be activated on
 * demand, like the empty extension next to it) instead of the checkout with its helper.
 */
function benchExtensions(home) {
  const copy = path.join(path.dirname(home.workspace), 'agent-task-worker');
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  mkdirSync(copy, { recursive: true });
  writeFileSync(path.join(copy, 'package.json'), JSON.stringify({ ...manifest, activationEvents: [] }, null, 2));
  for (const folder of ['dist', 'media']) cpSync(path.join(root, folder), path.join(copy, folder), { recursive: true });
  return [copy, path.join(root, 'test', 'fixtures', 'empty-extension')];
}

const results = [];
for (const phase of phases) {
  const home = await homeFor(phase);
  const started = Date.now();
  console.log(`\n[integration] ── phase ${phase} (VS Code ${vscodeHost.vscodeVersion}) ──`);
  let code = 0;
  try {
    await runTests({
      vscodeExecutablePath: path.join(root, 'scripts', 'code-shim.mjs'),
      extensionDevelopmentPath: phase === 'bench' ? benchExtensions(home) : [root, path.join(root, 'test', 'fixtures', 'helper-extension')],
      extensionTestsPath: path.join(root, 'out', 'integration', 'index.js'),
      launchArgs: [home.workspace, `--user-data-dir=${home.userDataDir}`, `--extensions-dir=${home.extensionsDir}`],
      extensionTestsEnv: {
        ATW_PHASE: phase,
        ATW_HOST: vscodeHost.name,
        ATW_EXPECT_VSCODE: vscodeHost.vscodeVersion,
        ATW_EXPECT_NODE_MAJOR: vscodeHost.nodeVersion ?? process.versions.node.split('.')[0],
        ATW_STATE_FILE: home.stateFile,
        ATW_USER_DATA_DIR: home.userDataDir,
        SHIM_PORT: String(home.port),
        SHIM_TIMEOUT_MS: process.env.SHIM_TIMEOUT_MS ?? String(5 * 60_000),
        ...(option('grep') ? { ATW_GREP: option('grep') } : {}),
        ...(phase === 'untrusted' ? { ATW_TRUST: 'untrusted' } : {}),
        ...(phase === 'codex' ? prepareCodexPhase(home) : {}),
        ...(phase === 'bench'
          ? {
              ATW_BENCH_ACTIVATION_OUT: process.env.ATW_BENCH_ACTIVATION_OUT ?? path.join(temp, 'bench-activation.json'),
              ATW_BENCH_ACTIVATION_FIRST: process.env.ATW_BENCH_ACTIVATION_FIRST ?? 'empty',
            }
          : {}),
      },
    });
  } catch (error) {
    code = error.code ?? 1;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  results.push({ phase, code, seconds });
  console.log(`[integration] phase ${phase} ${code === 0 ? 'ok' : `FAILED (exit ${code}${code === 124 ? ': timed out' : ''})`} in ${seconds} s`);
}

if (process.env.ATW_KEEP_TMP === '1') console.log(`[integration] temp folders kept in ${temp}`);
else rmSync(temp, { recursive: true, force: true });
console.log(`[integration] VS Code ${vscodeHost.vscodeVersion} phases: ${results.map((r) => `${r.phase} ${r.code === 0 ? 'ok' : 'FAILED'} (${r.seconds} s)`).join(', ')}`);
process.exit(results.some((r) => r.code !== 0) ? 1 : 0);
