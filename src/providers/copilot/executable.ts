import * as path from 'node:path';
import { findExecutable, firstFile, isMuslLinux, isNodeScript } from '../../platform/executable';

/**
 * Finds Copilot CLI from the `agentTasks.copilot.path` setting (empty: `copilot` on PATH). The npm package's
 * `copilot` is a Node loader (`npm-loader.js`) that runs the native binary of `@github/copilot-<platform>-<arch>`
 * as a child; that binary is spawned directly when it is installed, saving a Node process and keeping cancel and
 * kill on the real agent. Undefined when nothing is found.
 */
export function resolveCopilotExecutable(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const found = findExecutable(configured?.trim() || 'copilot', env);
  if (!found) return undefined;
  return isNodeScript(found) ? (nativeBinaryBesideLoader(found) ?? found) : found;
}

function nativeBinaryBesideLoader(loader: string): string | undefined {
  // <scope>/copilot/npm-loader.js → <scope>/copilot
  const packageRoot = path.dirname(loader);
  const platform = process.platform === 'linux' && isMuslLinux() ? 'linuxmusl' : process.platform;
  const platformPackage = `copilot-${platform}-${process.arch}`;
  const binary = process.platform === 'win32' ? 'copilot.exe' : 'copilot';
  return firstFile([
    path.join(path.dirname(packageRoot), platformPackage, binary),
    path.join(packageRoot, 'node_modules', '@github', platformPackage, binary),
  ]);
}
