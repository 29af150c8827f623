// The e2e suites' demo agent and git workspace: the `npm start` demo model (a mock Responses server and a Codex
// profile using it) and the workbench's folder made a git repository, so tasks run in worktrees of it.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { Workbench } from './harness';
import { codexProcessesOf, stopCodexAppServers } from './support-codex';

/** Starts test/fixtures/demo/start-demo-model.ts with its caches under `root`; resolves with the settings it prints. */
export async function startDemoModel(root: string): Promise<{ process: ChildProcess; settings: Record<string, unknown> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../fixtures/demo/start-demo-model.ts')], {
    env: { ...process.env, XDG_CACHE_HOME: path.join(root, 'cache') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (buffer.includes('\n')) resolve(buffer.slice(0, buffer.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`the demo model exited with ${code}`)));
  });
  return { process: child, settings: (JSON.parse(line) as { settings: Record<string, unknown> }).settings };
}

/** Makes the workbench's folder a git repository with one commit (its own identity: the merge commits there). */
export function makeGitWorkspace(folder: string): (...args: string[]) => string {
  fs.mkdirSync(path.join(folder, 'docs'), { recursive: true });
  fs.writeFileSync(path.join(folder, 'docs', 'old-usage.md'), '# Usage\n\nnode hello.js [name]\n');
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: folder, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  git('init', '--quiet', '--initial-branch=main');
  git('config', 'user.name', 'E2E Test');
  git('config', 'user.email', 'e2e@example.invalid');
  git('add', '--all');
  git('commit', '--quiet', '-m', 'initial');
  return git;
}

/** Drags the side bar's sash to the right, so that tree rows show their descriptions whole (for screenshots). */
export async function widenSideBar(page: Page, by: number): Promise<void> {
  const sidebar = await page.locator('.part.sidebar').first().boundingBox();
  if (!sidebar) return;
  const edge = sidebar.x + sidebar.width;
  // The sash on the side bar's right edge (VS Code's own resize handle).
  const sashes = await page.locator('.monaco-sash.vertical').evaluateAll((els) => els.map((el) => {
    const box = el.getBoundingClientRect();
    return { x: box.x + box.width / 2, y: box.y + box.height / 2, height: box.height };
  }));
  const sash = sashes.filter((box) => Math.abs(box.x - edge) <= 4 && box.height > 100).sort((a, b) => b.height - a.height)[0];
  const x = sash?.x ?? edge;
  const y = sash?.y ?? sidebar.y + sidebar.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + by / 2, y, { steps: 4 });
  await page.mouse.move(x + by, y, { steps: 4 });
  await page.mouse.up();
}

/** What a suite on the demo model runs with (startDemoSuite). */
export interface DemoSuite {
  root: string;
  demo: ChildProcess;
  workbench: Workbench;
  /** The workbench's folder, a git repository with one commit. */
  workspace: string;
  git: (...args: string[]) => string;
}

/** Starts a suite on the demo model: the model, a workbench with its settings (and `settings`), a git workspace. */
export async function startDemoSuite(prefix: string, settings: Record<string, unknown> = {}): Promise<DemoSuite> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  let demo: ChildProcess | undefined;
  let workbench: Workbench | undefined;
  try {
    const started = await startDemoModel(root);
    demo = started.process;
    workbench = await Workbench.start({ settings: { ...started.settings, ...settings } });
    return { root, demo, workbench, workspace: workbench.workspace, git: makeGitWorkspace(workbench.workspace) };
  } catch (error) {
    await stopDemoSuite({ workspace: workbench?.workspace ?? '', workbench, demo, root });
    throw error;
  }
}

/**
 * Ends a suite on the demo model: its Codex app-servers, the workbench, the demo model, the workspace's worktrees and
 * the temp folder — and fails when a Codex process outlives it.
 */
export async function stopDemoSuite(parts: { workspace: string; workbench?: { stop(): Promise<void> }; demo?: ChildProcess; root: string }): Promise<void> {
  const { workspace, workbench, demo, root } = parts;
  const stopped = workspace ? await stopCodexAppServers(workspace).catch((error: Error) => [error.message]) : [];
  await workbench?.stop();
  const left = workspace ? codexProcessesOf(workspace) : [];
  if (demo && demo.exitCode === null) {
    demo.kill('SIGTERM');
    await new Promise((resolve) => demo.once('exit', resolve));
  }
  if (workspace) fs.rmSync(`${workspace}.worktrees`, { recursive: true, force: true });
  fs.rmSync(root, { recursive: true, force: true });
  assert.deepEqual(left, [], `no Codex process outlives the suite (stopped: ${stopped.join('; ')})`);
}
