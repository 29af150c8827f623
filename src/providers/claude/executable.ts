import * as path from 'node:path';
import { findExecutable, firstFile, isMuslLinux, isNodeScript } from '../../platform/executable';
import { fileSize } from '../../platform/process';

/** Below this size `bin/claude.exe` is the npm package's placeholder, left when its postinstall did not run. */
const PLACEHOLDER_MAX_BYTES = 1024 * 1024;

/**
 * Finds Claude Code from the `agentTasks.claude.path` setting (empty: `claude` on PATH). The npm package
 * `@anthropic-ai/claude-code` ships a native binary as `bin/claude.exe`; when that is still the small placeholder
 * (postinstall skipped), the binary of the platform package beside it is used instead. Undefined when not found.
 */
export function resolveClaudeExecutable(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const found = findExecutable(configured?.trim() || 'claude', env);
  if (!found) return undefined;
  if (!isNodeScript(found) && fileSize(found) > PLACEHOLDER_MAX_BYTES) return found;
  return nativeBinaryBesidePackage(found) ?? found;
}

function nativeBinaryBesidePackage(entry: string): string | undefined {
  // <scope>/claude-code/bin/claude.exe or <scope>/claude-code/cli.js → <scope>/claude-code
  const packageRoot = path.basename(path.dirname(entry)) === 'bin' ? path.dirname(path.dirname(entry)) : path.dirname(entry);
  const flavour = `${process.platform}-${process.arch}${isMuslLinux() ? '-musl' : ''}`;
  const platformPackage = `claude-code-${flavour}`;
  const binary = process.platform === 'win32' ? 'claude.exe' : 'claude';
  return firstFile([
    path.join(path.dirname(packageRoot), platformPackage, binary),
    path.join(packageRoot, 'node_modules', '@anthropic-ai', platformPackage, binary),
  ]);
}
