#!/usr/bin/env node
// Bundles what the extension host loads for the tests:
//   test/integration/*.ts                       → out/integration/*.js (the mocha runner index.js and the suites)
//   test/fixtures/helper-extension/src/*.ts     → test/fixtures/helper-extension/dist/extension.js
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { repoRoot } from './paths.mjs';

export async function buildTests(root = repoRoot()) {
  const started = Date.now();
  const integrationDir = path.join(root, 'test', 'integration');
  const suites = readdirSync(integrationDir).filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'));
  const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: 'inline', logLevel: 'warning' };
  await Promise.all([
    esbuild.build({
      ...common,
      entryPoints: suites.map((name) => path.join(integrationDir, name)),
      outdir: path.join(root, 'out', 'integration'),
      // esbuild itself (the MCP suite builds the server bundle) runs from node_modules, as it must.
      external: ['vscode', 'mocha', 'esbuild'],
    }),
    esbuild.build({
      ...common,
      entryPoints: [path.join(root, 'test', 'fixtures', 'helper-extension', 'src', 'extension.ts')],
      outfile: path.join(root, 'test', 'fixtures', 'helper-extension', 'dist', 'extension.js'),
      external: ['vscode'],
    }),
  ]);
  console.log(`[build-tests] ${suites.length} integration files and the helper extension built in ${Date.now() - started} ms`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  buildTests().catch((error) => {
    console.error(`[build-tests] ${error.message}`);
    process.exit(1);
  });
}
