// Builds every bundle of scripts/bundles.mjs: the extension, the webviews (with the codicons they use), the MCP server
// and the keeper.
// Usage: node esbuild.mjs [--production] [--watch]
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundles } from './scripts/bundles.mjs';
import { codiconSubsetPlugin } from './scripts/codicons.mjs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const root = path.dirname(new URL(import.meta.url).pathname);
const builds = bundles(root, { production, webviewPlugins: [codiconSubsetPlugin(root, path.join(root, 'dist', 'codicons'))] });

const started = Date.now();
if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
  console.log('esbuild: watching…');
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
  const size = (file) => (fs.statSync(path.join(root, 'dist', file)).size / 1024).toFixed(1);
  const sizes = ['extension.js', 'mcp-server.js', 'webview.js', 'codicons/codicon.ttf'].filter((file) => fs.existsSync(path.join(root, 'dist', file)));
  console.log(`esbuild: ${sizes.map((file) => `dist/${file} ${size(file)} KB`).join(', ')} in ${Date.now() - started} ms${production ? ' (production)' : ''}`);
}
