#!/usr/bin/env node
// The smoke set for a second VS Code host (by default `floor`, code-server 4.100.3 = VS Code 1.100.3, the oldest
// engines.vscode we promise): activation, New Task → Completed from the palette, approvals, a restart of the extension
// host and a window reload with an approval still answerable. Everything else runs on the current host.
//   integration phases main, restart-1, restart-2   activation, the host's version, lifecycle with approvals, tree,
//                                                  tasks surviving a new extension host
//   e2e test/e2e/tasks.test.ts                      the palette's New Task → Completed, an approval in the panel
//   e2e test/e2e/codex.test.ts                      real Codex from the palette, its approval after Reload Window
//
//   node scripts/smoke.mjs [--host floor|current]   (expects the build: node esbuild.mjs && node scripts/build-tests.mjs)
import { spawnSync } from 'node:child_process';
import { host, repoRoot } from './paths.mjs';

const SMOKE_PHASES = ['main', 'restart-1', 'restart-2'];
const SMOKE_E2E = ['test/e2e/tasks.test.ts', 'test/e2e/codex.test.ts'];

const index = process.argv.indexOf('--host');
const vscodeHost = host(index >= 0 ? process.argv[index + 1] : 'floor');
const env = { ...process.env, ATW_HOST: vscodeHost.name };
console.log(`[smoke] VS Code ${vscodeHost.vscodeVersion} (host "${vscodeHost.name}")`);

const steps = [
  ['integration', [process.execPath, ['scripts/run-integration.mjs', '--no-build', '--host', vscodeHost.name, '--phase', SMOKE_PHASES.join(',')]]],
  ['e2e', [process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...SMOKE_E2E]]],
];
const failed = [];
for (const [name, [command, args]] of steps) {
  console.log(`\n[smoke] ── ${name} on VS Code ${vscodeHost.vscodeVersion} ──`);
  const result = spawnSync(command, args, { cwd: repoRoot(), env, stdio: 'inherit' });
  if (result.status !== 0) failed.push(`${name} (exit ${result.status ?? result.signal})`);
}
console.log(`[smoke] VS Code ${vscodeHost.vscodeVersion}: ${failed.length ? `FAILED: ${failed.join(', ')}` : 'ok'}`);
process.exit(failed.length ? 1 : 0);
