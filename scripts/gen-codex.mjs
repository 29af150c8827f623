#!/usr/bin/env node
// Regenerates the Codex app-server protocol types from the pinned @openai/codex binary (npm run gen:codex).
// The output is checked in: rerun this whenever the pinned Codex version changes.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'src', 'providers', 'codex', 'protocol');
const require = createRequire(path.join(root, 'package.json'));

const TARGETS = {
  'linux-x64': ['x86_64-unknown-linux-musl', '@openai/codex-linux-x64'],
  'linux-arm64': ['aarch64-unknown-linux-musl', '@openai/codex-linux-arm64'],
  'darwin-x64': ['x86_64-apple-darwin', '@openai/codex-darwin-x64'],
  'darwin-arm64': ['aarch64-apple-darwin', '@openai/codex-darwin-arm64'],
  'win32-x64': ['x86_64-pc-windows-msvc', '@openai/codex-win32-x64'],
  'win32-arm64': ['aarch64-pc-windows-msvc', '@openai/codex-win32-arm64'],
};

function pinnedBinary() {
  const target = TARGETS[`${process.platform}-${process.arch}`];
  if (!target) throw new Error(`No @openai/codex binary for ${process.platform}-${process.arch}`);
  const [triple, pkg] = target;
  const pkgDir = path.dirname(require.resolve(`${pkg}/package.json`));
  const binary = path.join(pkgDir, 'vendor', triple, 'bin', process.platform === 'win32' ? 'codex.exe' : 'codex');
  if (!existsSync(binary)) throw new Error(`The pinned Codex binary is missing: ${binary} (run npm install)`);
  return binary;
}

function countFiles(dir) {
  let count = 0;
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    count += statSync(full).isDirectory() ? countFiles(full) : 1;
  }
  return count;
}

const binary = pinnedBinary();
const version = JSON.parse(readFileSync(require.resolve('@openai/codex/package.json'), 'utf8')).version;
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
execFileSync(binary, ['app-server', 'generate-ts', '--experimental', '--out', outDir], {
  stdio: 'inherit',
  env: { ...process.env, CODEX_MANAGED_BY_NPM: '1' },
});
console.log(`Generated ${countFiles(outDir)} files for codex ${version} in ${path.relative(root, outDir)}`);
