// Builds the extension bundle (Node, CommonJS) and the task panel's webview bundle (browser, IIFE).
// Usage: node esbuild.mjs [--production] [--watch]
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const root = path.dirname(new URL(import.meta.url).pathname);

/** @type {esbuild.BuildOptions[]} */
const builds = [
  {
    entryPoints: { extension: 'src/extension.ts' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['vscode'],
    // ES module builds first where a package has no `exports` map: unique-names-generator's then tree-shakes to the
    // two dictionaries the task ids use (its CommonJS build carries all of them, 50 KB).
    mainFields: ['module', 'main'],
    outdir: 'dist',
    sourcemap: true,
    minify: production,
    logLevel: 'warning',
  },
  {
    entryPoints: { webview: 'webview/main.ts', compare: 'webview/compare.ts' },
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    outdir: 'dist',
    sourcemap: production ? false : 'inline',
    minify: production,
    logLevel: 'warning',
  },
];

// Bundles that later layers add: the MCP server (launched by MCP clients) and the keeper (holds stdio agents).
for (const [name, entry] of [['mcp-server', 'src/mcp/server.ts'], ['keeper', 'src/keeper/daemon/main.ts']]) {
  if (fs.existsSync(path.join(root, entry))) {
    builds.push({ ...builds[0], entryPoints: { [name]: entry }, external: [] });
  }
}

/** Codicons ship with the extension so the webview can use them under its CSP. */
function copyCodicons() {
  const from = path.join(root, 'node_modules', '@vscode', 'codicons', 'dist');
  const to = path.join(root, 'dist', 'codicons');
  fs.mkdirSync(to, { recursive: true });
  for (const file of ['codicon.css', 'codicon.ttf']) fs.copyFileSync(path.join(from, file), path.join(to, file));
}

const started = Date.now();
if (watch) {
  copyCodicons();
  for (const options of builds) await (await esbuild.context(options)).watch();
  console.log('esbuild: watching…');
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
  copyCodicons();
  const size = (file) => (fs.statSync(path.join(root, 'dist', file)).size / 1024).toFixed(1);
  console.log(`esbuild: dist/extension.js ${size('extension.js')} KB, dist/webview.js ${size('webview.js')} KB in ${Date.now() - started} ms${production ? ' (production)' : ''}`);
}
