// The esbuild options of our bundles, shared by esbuild.mjs and the tests that bundle the MCP server themselves.
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The MCP SDK's Server imports its Ajv validator (with ajv-formats and fast-uri, ~130 KB minified) only as the default
 * for the jsonSchemaValidator option, which src/mcp/server.ts always sets: resolve that import to our stand-in.
 * @param {string} root
 * @returns {import('esbuild').Plugin}
 */
export function mcpSdkValidatorPlugin(root) {
  const standIn = path.join(root, 'src', 'mcp', 'sdk-ajv-stand-in.ts');
  const sdk = `${path.sep}@modelcontextprotocol${path.sep}sdk${path.sep}`;
  return {
    name: 'mcp-sdk-validator',
    setup(build) {
      build.onResolve({ filter: /\/validation\/ajv-provider\.js$/ }, (args) => (args.importer.includes(sdk) ? { path: standIn } : undefined));
    },
  };
}

/**
 * Every bundle: the extension (Node, CommonJS), the webviews (browser, IIFE; esbuild.mjs adds the plugin that writes
 * the codicons they use), and those that later layers add when their entry exists: the MCP server (launched by
 * MCP clients) and the keeper (holds stdio agents).
 * @param {string} root
 * @param {{ production: boolean; webviewPlugins?: import('esbuild').Plugin[] }} options
 * @returns {import('esbuild').BuildOptions[]}
 */
export function bundles(root, { production, webviewPlugins = [] }) {
  /** @type {import('esbuild').BuildOptions} */
  const extension = {
    absWorkingDir: root,
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
  };
  /** @type {import('esbuild').BuildOptions} */
  const webviews = {
    absWorkingDir: root,
    entryPoints: { webview: 'webview/main.ts', compare: 'webview/compare.ts' },
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    outdir: 'dist',
    sourcemap: production ? false : 'inline',
    minify: production,
    logLevel: 'warning',
    plugins: webviewPlugins,
  };
  const all = [extension, webviews];
  if (fs.existsSync(path.join(root, 'src/mcp/server.ts'))) {
    all.push({ ...extension, entryPoints: { 'mcp-server': 'src/mcp/server.ts' }, external: [], plugins: [mcpSdkValidatorPlugin(root)] });
  }
  if (fs.existsSync(path.join(root, 'src/keeper/daemon/main.ts'))) {
    all.push({ ...extension, entryPoints: { keeper: 'src/keeper/daemon/main.ts' }, external: [] });
  }
  return all;
}

/**
 * The MCP server's bundle options, for a test that builds it into a folder of its own.
 * @param {string} root
 * @param {string} outfile
 * @returns {import('esbuild').BuildOptions}
 */
export function mcpServerBundle(root, outfile) {
  const options = bundles(root, { production: false }).find((bundle) => 'mcp-server' in /** @type {object} */ (bundle.entryPoints));
  if (!options) throw new Error('src/mcp/server.ts is missing');
  return { ...options, entryPoints: [path.join(root, 'src/mcp/server.ts')], outdir: undefined, outfile, sourcemap: false };
}
