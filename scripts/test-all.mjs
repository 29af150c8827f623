#!/usr/bin/env node
// `npm test`: every stage in order — setup, typecheck, lint, build, unit, cli (real agent CLIs), then the extension in
// real VS Code hosts (scripts/paths.mjs): integration and e2e on the current host (VS Code 1.139.1), and smoke-1.100,
// the smoke set of scripts/smoke.mjs on the floor host (VS Code 1.100.3) — each run even when an earlier one failed.
// Streams their output, counts their tests, and ends with one line
// `N passed, N failed` (a stage that failed without reporting a failed test counts as 1 failed).
//
//   node scripts/test-all.mjs [--only unit,integration] [--list]
// Env: ATW_STAGE_TIMEOUT_MS (per stage, default 25 min).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HOSTS, repoRoot } from './paths.mjs';

const root = repoRoot();
const node = process.execPath;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Test files in `dir` and its subfolders (relative to the repo), sorted. */
export function testFiles(dir) {
  const full = path.join(root, dir);
  if (!existsSync(full)) return [];
  return readdirSync(full, { recursive: true })
    .map((name) => String(name).split(path.sep).join('/'))
    .filter((name) => name.endsWith('.test.ts'))
    .sort()
    .map((name) => path.posix.join(dir, name));
}

/** node:test over `files`, or undefined when there are none. */
const nodeTest = (files, extra = []) => (files.length ? [node, ['--import', 'tsx', '--test', '--test-reporter=spec', ...extra, ...files]] : undefined);

const STAGES = [
  { name: 'setup', command: () => [node, ['scripts/setup.mjs']] },
  { name: 'typecheck', command: () => [npm, ['run', '--silent', 'typecheck']] },
  { name: 'lint', command: () => [npm, ['run', '--silent', 'lint']] },
  { name: 'build', command: () => [node, ['-e', BUILD_ALL]] },
  // test/unit mirrors src/; test/cli runs the real agent CLIs (and the keeper) against mock model servers.
  { name: 'unit', command: () => nodeTest(testFiles('test/unit')) },
  { name: 'cli', command: () => nodeTest(testFiles('test/cli')) },
  { name: 'integration', env: { ATW_HOST: 'current' }, command: () => [node, ['scripts/run-integration.mjs', '--no-build', '--host', 'current']] },
  {
    name: 'e2e',
    env: { ATW_HOST: 'current' },
    command: () => nodeTest(testFiles('test/e2e'), ['--test-concurrency=1']),
  },
  {
    name: `smoke-${HOSTS.floor.vscodeVersion.split('.').slice(0, 2).join('.')}`,
    env: { ATW_HOST: 'floor' },
    command: () => [node, ['scripts/smoke.mjs', '--host', 'floor']],
  },
];

/** The extension (the lead's esbuild.mjs) and the test bundles, in one child so the stage has one exit code. */
const BUILD_ALL = `
const { spawnSync } = require('node:child_process');
const main = spawnSync(process.execPath, ['esbuild.mjs'], { stdio: 'inherit' });
if (main.status !== 0) process.exit(main.status ?? 1);
import('./scripts/build-tests.mjs').then((m) => m.buildTests()).catch((e) => { console.error(e.message); process.exit(1); });
`;

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Sums the test counts a stage's output reports: node:test (spec `ℹ pass N` or TAP `# pass N`) and mocha. */
export function countTests(output) {
  const text = output.replace(ANSI, '');
  let passed = 0;
  let failed = 0;
  let found = false;
  const add = (regex, into) => {
    for (const match of text.matchAll(regex)) {
      found = true;
      if (into === 'passed') passed += Number(match[1]);
      else failed += Number(match[1]);
    }
  };
  add(/^[ℹ#] pass (\d+)\s*$/gmu, 'passed');
  add(/^[ℹ#] (?:fail|cancelled) (\d+)\s*$/gmu, 'failed');
  add(/^\s*(\d+) passing\b/gm, 'passed');
  add(/^\s*(\d+) failing\s*$/gm, 'failed');
  return found ? { passed, failed } : undefined;
}

function runStage(stage) {
  const command = stage.command();
  if (!command) {
    console.log(`[test-all] ${stage.name}: no test files, skipped`);
    return Promise.resolve({ name: stage.name, code: 0, counts: undefined, seconds: 0, skipped: true });
  }
  const [bin, args] = command;
  const timeoutMs = Number(process.env.ATW_STAGE_TIMEOUT_MS) || 25 * 60_000;
  const started = Date.now();
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(bin, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...stage.env } });
    const tee = (stream) => (chunk) => {
      output += chunk.toString();
      stream.write(chunk);
    };
    child.stdout.on('data', tee(process.stdout));
    child.stderr.on('data', tee(process.stderr));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`[test-all] ${stage.name}: timed out after ${timeoutMs} ms, stopping it`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    const finish = (code) => {
      clearTimeout(timer);
      resolve({ name: stage.name, host: stage.env?.ATW_HOST, code: timedOut ? 124 : code, counts: countTests(output), seconds: (Date.now() - started) / 1000 });
    };
    child.on('error', (error) => {
      output += String(error);
      console.error(`[test-all] ${stage.name}: ${error.message}`);
      finish(127);
    });
    child.on('close', (code, signal) => finish(code ?? (signal ? 128 : 1)));
  });
}

/**
 * The agents run their commands in login shells. Where pyenv is set up in the shell profile, a login shell killed
 * while pyenv rehashes (a cancel or timeout test kills whole process groups) leaves pyenv's lock file behind, and
 * every later login shell waits 60 s for it. No rehash holds the lock for long, so one older than 30 s is removed.
 */
function clearStaleShellLocks() {
  const lock = path.join(process.env.PYENV_ROOT || path.join(os.homedir(), '.pyenv'), 'shims', '.pyenv-shim');
  try {
    if (Date.now() - statSync(lock).mtimeMs < 30_000) return;
    rmSync(lock, { force: true });
    console.log(`[test-all] removed a stale pyenv lock (${lock}) that would stall every login shell for 60 s`);
  } catch {
    // no lock
  }
}

async function main() {
  const onlyArg = process.argv.find((arg) => arg.startsWith('--only'));
  const onlyValue = onlyArg?.includes('=') ? onlyArg.split('=')[1] : onlyArg && process.argv[process.argv.indexOf(onlyArg) + 1];
  const only = onlyValue ? onlyValue.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  if (process.argv.includes('--list')) {
    console.log(STAGES.map((s) => s.name).join('\n'));
    return 0;
  }
  const unknown = (only ?? []).filter((name) => !STAGES.some((s) => s.name === name));
  if (unknown.length) {
    console.error(`[test-all] unknown stage(s): ${unknown.join(', ')} (stages: ${STAGES.map((s) => s.name).join(', ')})`);
    return 2;
  }
  const selected = STAGES.filter((stage) => !only || only.includes(stage.name));
  const results = [];
  const lockSweep = setInterval(clearStaleShellLocks, 10_000);
  lockSweep.unref();
  for (const stage of selected) {
    clearStaleShellLocks();
    console.log(`\n[test-all] ━━ ${stage.name} ━━`);
    results.push(await runStage(stage));
  }

  let passed = 0;
  let failed = 0;
  console.log('\n[test-all] summary');
  for (const result of results) {
    const counts = result.counts ?? { passed: 0, failed: 0 };
    // A stage that failed without naming a failed test (a crash, a timeout, a type error) is one failure.
    const stageFailed = result.code !== 0 ? Math.max(counts.failed, 1) : counts.failed;
    passed += counts.passed;
    failed += stageFailed;
    const status = result.skipped ? 'skipped' : result.code === 0 && stageFailed === 0 ? 'ok' : `FAILED (exit ${result.code})`;
    const tally = result.counts ? `  (pass ${counts.passed}, fail ${stageFailed})` : '';
    const where = result.host ? `  on VS Code ${HOSTS[result.host].vscodeVersion}` : '';
    console.log(`[test-all]   ${result.name.padEnd(14)} ${status.padEnd(18)} ${result.seconds.toFixed(1).padStart(6)} s${tally}${where}`);
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main();
