/**
 * DESIGN §9 worktree setup and checks around a real Codex task: the copy globs and setup commands prepare a new
 * worktree before Codex starts (Codex then reads what they left there), a failing setup fails the task before the
 * agent runs, and the check judges the finished worktree.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { createAgentsBed, type AgentsBed, type AgentsBedOptions } from '../support/agents-bed';

const TEST_TIMEOUT = 120_000;
const FILES = { 'README.md': '# demo\n', '.gitignore': '.env*\nnode_modules/\n' };

describe('worktree setup and check around a real Codex task (DESIGN §9)', { timeout: 10 * 60_000 }, () => {
  let bed: AgentsBed | undefined;
  afterEach(async () => {
    await bed?.cleanup();
    bed = undefined;
  });

  async function makeBed(options: AgentsBedOptions): Promise<AgentsBed> {
    bed = await createAgentsBed({ files: FILES, ...options });
    bed.repo.write('.env.local', 'API_KEY=from-main\n');
    bed.repo.write('node_modules/left-pad/index.js', 'module.exports = 1;\n');
    return bed;
  }

  it('copies the matching untracked files and runs the setup before Codex starts; Codex sees what they left', { timeout: TEST_TIMEOUT }, async () => {
    const { h, repo, responses } = await makeBed({
      settings: { worktreeCopy: ['.env*'], worktreeSetup: ['echo installing && printf "ready\\n" > setup-done.txt'] },
      responses: { command: 'cat .env.local setup-done.txt' },
    });
    const task = await h.manager.createTask({ prompt: 'Please run-approval', provider: 'codex' });
    const { task: done, approvals } = await bed!.approvedToEnd(task.id);
    assert.equal(done.status, 'completed', done.error);
    assert.equal(approvals, 1);
    const worktree = done.worktree!;
    assert.equal(fs.readFileSync(path.join(worktree.path, '.env.local'), 'utf8'), 'API_KEY=from-main\n');
    assert.equal(fs.existsSync(path.join(worktree.path, 'node_modules')), false, 'only what the globs name is copied');
    assert.equal(fs.existsSync(path.join(repo.root, 'setup-done.txt')), false, 'the setup never runs in the main checkout');
    assert.match(done.result ?? '', /Process exited with code 0\n(?:.*\n)*Output:\nAPI_KEY=from-main\nready\n$/, "Codex's command read the copied file and the setup's output");

    const entries = h.entries(task.id);
    const copied = entries.findIndex((entry) => entry.text === 'Copied 1 untracked file into the worktree: .env.local');
    const setup = entries.findIndex((entry) => entry.kind === 'command' && entry.text === 'Setup: echo installing && printf "ready\\n" > setup-done.txt');
    const firstAgentEntry = entries.findIndex((entry) => entry.kind === 'command' && entry.text !== entries[setup]?.text);
    assert.ok(copied >= 0 && setup > copied && firstAgentEntry > setup, `copy, then setup, then the agent: ${entries.map((entry) => entry.text).join(' | ')}`);
    assert.equal(entries[setup].exitCode, 0);
    assert.match(entries[setup].detail ?? '', /installing/);
    assert.equal(responses.requests[0]?.userText, 'Please run-approval');
  });

  it('a failing setup fails the task with the command and its last lines before Codex is asked anything', { timeout: TEST_TIMEOUT }, async () => {
    const command = 'echo installing; echo "npm ERR! missing script: ci" >&2; exit 3';
    const { h, responses } = await makeBed({ settings: { worktreeCopy: ['.env*'], worktreeSetup: [command, 'touch never.txt'] } });
    const task = await h.manager.createTask({ prompt: 'Please file-approval', provider: 'codex' });
    const done = await bed!.finished(task.id);
    assert.equal(done.status, 'failed');
    assert.ok(done.error?.includes(`Setup command \`${command}\` exited with 3`), done.error);
    assert.match(done.error ?? '', /installing\nnpm ERR! missing script: ci$/);
    const worktree = done.worktree!;
    assert.ok(fs.existsSync(path.join(worktree.path, '.env.local')), 'the worktree is left for inspection');
    assert.equal(fs.existsSync(path.join(worktree.path, 'never.txt')), false, 'later setup commands do not run');
    assert.equal(responses.requests.length, 0, 'Codex never sent a model request');
  });

  it("the check runs in the finished Codex worktree and on demand; it never changes the task's status", { timeout: TEST_TIMEOUT }, async () => {
    const { h, repo } = await makeBed({ settings: { check: 'grep -qx "hello world" hello.txt && echo greeting ok' } });
    const task = await h.manager.createTask({ prompt: 'Please file-approval', provider: 'codex' });
    const { task: done } = await bed!.approvedToEnd(task.id);
    assert.equal(done.status, 'completed', done.error);
    await bed!.waitFor(() => h.task(task.id).check?.state === 'passed', 'the check on completion to pass');
    assert.equal(h.task(task.id).check?.command, 'grep -qx "hello world" hello.txt && echo greeting ok');
    assert.equal(h.task(task.id).check?.tail, 'greeting ok');

    fs.writeFileSync(path.join(done.worktree!.path, 'hello.txt'), 'goodbye\n');
    h.settings.check = 'grep -qx "hello world" hello.txt || { echo "hello.txt says: $(cat hello.txt)"; exit 1; }';
    const checked = await h.manager.worktrees.jobs.runCheck(task.id);
    assert.equal(checked.check?.state, 'failed');
    assert.equal(checked.check?.exitCode, 1);
    assert.equal(checked.check?.tail, 'hello.txt says: goodbye');
    assert.equal(checked.status, 'completed');
    assert.equal(fs.existsSync(path.join(repo.root, 'hello.txt')), false);
  });
});
