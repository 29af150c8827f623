import * as path from 'node:path';
import { expandHome, findOnPath, isDirectory, isFile, isNodeScript, safeRealpath } from '../../platform/executable';

/** How to spawn Codex: the native binary when it can be found, with the environment its npm wrapper would set. */
export interface CodexExecutable {
  command: string;
  /** Extra environment (CODEX_MANAGED_BY_NPM, PATH with the bundled ripgrep). */
  env: Record<string, string>;
  /** The path the user configured or PATH gave, before resolving the npm wrapper. */
  configured: string;
}

const TARGET_TRIPLES: Record<string, string> = {
  'linux-x64': 'x86_64-unknown-linux-musl',
  'linux-arm64': 'aarch64-unknown-linux-musl',
  'darwin-x64': 'x86_64-apple-darwin',
  'darwin-arm64': 'aarch64-apple-darwin',
  'win32-x64': 'x86_64-pc-windows-msvc',
  'win32-arm64': 'aarch64-pc-windows-msvc',
};

/**
 * Finds Codex from the `agentTasks.codex.path` setting (empty: PATH). The npm package's `codex` is a Node wrapper
 * that stays alive as the parent of the native binary on Node < 22.15 (PROTOCOLS.md §1), so it is resolved to the
 * native binary when the platform package is installed next to it. Returns undefined when nothing is found.
 */
export function resolveCodexExecutable(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): CodexExecutable | undefined {
  const wanted = configured?.trim();
  const found = wanted ? expandHome(wanted) : findOnPath('codex', env);
  if (!found || !isFile(found)) return undefined;
  const real = safeRealpath(found);
  const native = isNodeScript(real) ? nativeBinaryBesideWrapper(real) : real;
  const command = native ?? real;
  return { command, env: npmWrapperEnv(command, env), configured: found };
}

/** The environment `bin/codex.js` gives the native binary: its bundled tools first on PATH. */
function npmWrapperEnv(binary: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const binDir = path.dirname(binary);
  if (path.basename(binDir) !== 'bin') return {};
  const toolsDir = path.join(path.dirname(binDir), 'codex-path');
  if (!isDirectory(toolsDir)) return {};
  const pathKey = Object.keys(env).find((key) => key.toUpperCase() === 'PATH') ?? 'PATH';
  return { CODEX_MANAGED_BY_NPM: '1', [pathKey]: [toolsDir, env[pathKey]].filter(Boolean).join(path.delimiter) };
}

function nativeBinaryBesideWrapper(wrapper: string): string | undefined {
  const triple = TARGET_TRIPLES[`${process.platform}-${process.arch}`];
  if (!triple) return undefined;
  // <pkg>/bin/codex.js → <pkg> is @openai/codex
  const packageRoot = path.dirname(path.dirname(wrapper));
  const platformPackage = `codex-${process.platform}-${process.arch}`;
  const exe = process.platform === 'win32' ? 'codex.exe' : 'codex';
  const candidates = [
    path.join(packageRoot, 'node_modules', '@openai', platformPackage, 'vendor', triple, 'bin', exe),
    path.join(path.dirname(packageRoot), platformPackage, 'vendor', triple, 'bin', exe),
    path.join(packageRoot, 'vendor', triple, 'bin', exe),
  ];
  return candidates.find(isFile);
}
