// Builds every bundle of scripts/bundles.mjs: the extension, the webviews, the MCP server and the keeper.
// Usage: node esbuild.mjs [--production] [--watch]
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundles } from './scripts/bundles.mjs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const root = path.dirname(new URL(import.meta.url).pathname);
const builds = bundles(root, { production });

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
  const sizes = ['extension.js', 'mcp-server.js', 'webview.js', 'codicons/codicon.ttf'].filter((file) => fs.existsSync(path.join(root, 'dist', file)));
  console.log(`esbuild: ${sizes.map((file) => `dist/${file} ${size(file)} KB`).join(', ')} in ${Date.now() - started} ms${production ? ' (production)' : ''}`);
}
