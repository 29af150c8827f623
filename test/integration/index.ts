// The test runner the extension host loads (extensionTestsPath): runs the mocha suites of one phase.
// Phases are separate host launches (scripts/run-integration.mjs); ATW_PHASE picks one.
import * as path from 'node:path';
import Mocha from 'mocha';

const PHASES: Record<string, string[]> = {
  main: ['activation.test.js', 'host.test.js', 'lifecycle.test.js', 'tree.test.js', 'security.test.js', 'worktrees.test.js', 'opinions.test.js', 'approvals.test.js'],
  'restart-1': ['restart-1.test.js'],
  'restart-2': ['restart-2.test.js'],
  untrusted: ['untrusted.test.js'],
  agents: ['agents.test.js'],
  mcp: ['mcp.test.js', 'mcp-codex.test.js', 'mcp-worktrees.test.js'],
  codex: ['codex.test.js'],
  bench: ['bench-activation.test.js'],
};

export function run(): Promise<void> {
  const phase = process.env.ATW_PHASE ?? 'main';
  const files = PHASES[phase];
  if (!files) return Promise.reject(new Error(`unknown ATW_PHASE "${phase}" (known: ${Object.keys(PHASES).join(', ')})`));
  const mocha = new Mocha({ ui: 'tdd', timeout: 60_000, color: false, reporter: 'spec' });
  const grep = process.env.ATW_GREP;
  if (grep) mocha.grep(grep);
  for (const file of files) mocha.addFile(path.join(__dirname, file));
  console.log(`[integration] phase ${phase}: ${files.join(', ')}`);
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} test(s) failed in phase ${phase}`)) : resolve()));
  });
}
