/**
 * DESIGN §9 attempts with the real agents: Codex, Claude Code and the ACP test agent each attempt one prompt in their
 * own worktree; picking one merges it into main and only then discards the others. The prompt carries a word for
 * each agent's mock: Codex adds hello.txt ("hello from codex"), Claude Code writes hello.txt ("hello world"), the ACP
 * agent edits README.md.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import type { TaskSnapshot } from '../../src/core/task-state';
import { ACP_PROVIDER, createAgentsBed, treeHashes, type AgentsBed, type AgentsBedOptions } from '../support/agents-bed';
import { fingerprint } from '../support/git-repo';

const TEST_TIMEOUT = 120_000;
const PROMPT = 'Greet the reader: file-approval write-file edit-file';
const AGENTS = [{ provider: 'codex' }, { provider: 'claude-cli' }, { provider: ACP_PROVIDER }];
const CODEX_GREETING = { path: 'hello.txt', content: 'hello from codex\n' };

describe('attempts, real CLIs (DESIGN §9)', { timeout: 10 * 60_000 }, () => {
  let bed: AgentsBed | undefined;
  afterEach(async () => {
    await bed?.cleanup();
    bed = undefined;
  });

  async function start(options: AgentsBedOptions = {}): Promise<{ bed: AgentsBed; attempts: TaskSnapshot[] }> {
    bed = await createAgentsBed({ responses: { newFile: CODEX_GREETING }, ...options });
    const attempts = await bed.h.manager.secondOpinions.createAttempts({ prompt: PROMPT }, AGENTS);
    return { bed, attempts };
  }

  /** Runs every attempt to its end, approving their file changes; returns them by provider. */
  async function finishAll(current: AgentsBed, attempts: TaskSnapshot[]): Promise<Record<string, string>> {
    const byProvider: Record<string, string> = {};
    for (const attempt of attempts) {
      const { task } = await current.approvedToEnd(attempt.id);
      assert.equal(task.status, 'completed', `${task.provider}: ${task.error}`);
      byProvider[task.provider] = task.id;
    }
    return byProvider;
  }

  it('three agents attempt one prompt side by side; picking one merges it into main and discards the other two', { timeout: TEST_TIMEOUT }, async () => {
    const { bed: current, attempts } = await start();
    const { h, repo } = current;
    const before = fingerprint(repo);
    assert.deepEqual(attempts.map((task) => task.provider), ['codex', 'claude-cli', ACP_PROVIDER]);
    const group = attempts[0].attemptGroup;
    assert.ok(group && attempts.every((task) => task.attemptGroup === group && task.prompt === PROMPT));

    const ids = await finishAll(current, attempts);
    const worktreeOf = (provider: string) => h.task(ids[provider]).worktree!;
    assert.equal(new Set(attempts.map((task) => h.task(task.id).worktree?.path)).size, 3, 'one worktree each');
    assert.equal(fs.readFileSync(path.join(worktreeOf('codex').path, 'hello.txt'), 'utf8'), CODEX_GREETING.content);
    assert.equal(fs.readFileSync(path.join(worktreeOf('claude-cli').path, 'hello.txt'), 'utf8'), 'hello world\n');
    assert.match(fs.readFileSync(path.join(worktreeOf(ACP_PROVIDER).path, 'README.md'), 'utf8'), /^# demo \(edited\)$/m);
    assert.deepEqual(fingerprint(repo), before, 'no attempt touched the main checkout');
    assert.deepEqual(h.manager.secondOpinions.attempts(group).map((task) => task.id), attempts.map((task) => task.id));

    const others = [worktreeOf('codex'), worktreeOf(ACP_PROVIDER)];
    const picked = await h.manager.secondOpinions.pickAttempt(ids['claude-cli']);
    assert.equal(picked.worktree?.state, 'merged');
    assert.equal(repo.read('hello.txt'), 'hello world\n', "main has Claude Code's file");
    assert.equal(repo.read('README.md'), '# demo\n\nSome text.\n', "and not the ACP agent's edit");
    assert.equal(repo.git(['status', '--porcelain']), '', 'merged as a commit, nothing left uncommitted');
    assert.match(repo.git(['log', '-1', '--format=%s']), /Greet the reader/);
    for (const provider of ['codex', ACP_PROVIDER]) {
      const task = h.task(ids[provider]);
      assert.equal(task.worktree?.state, 'discarded', provider);
    }
    for (const worktree of others) {
      assert.equal(fs.existsSync(worktree.path), false, `${worktree.path} removed`);
      assert.equal(repo.git(['branch', '--list', worktree.branch]), '', `${worktree.branch} deleted`);
    }
    assert.match(h.texts(ids['claude-cli']).join('\n'), new RegExp(`Picked this attempt; discarded ${ids.codex}, ${ids[ACP_PROVIDER]}`));
  });

  it('a pick refused by a dirty main discards nothing; once main is clean the pick goes through', { timeout: TEST_TIMEOUT }, async () => {
    const { bed: current, attempts } = await start();
    const { h, repo } = current;
    const ids = await finishAll(current, attempts);
    // Intact: still active on its branch, every file byte-identical (a refused merge may have committed the attempt's
    // own work on its branch first, as Merge Changes does; the files and so the change against the base stay the same).
    const snapshot = () =>
      attempts.map((task) => {
        const worktree = h.task(task.id).worktree!;
        return { id: task.id, state: worktree.state, base: worktree.baseCommit, files: treeHashes(worktree.path), branch: repo.git(['branch', '--list', worktree.branch]).trim() };
      });
    const intact = snapshot();
    repo.write('hello.txt', 'my own uncommitted greeting\n');
    const dirty = fingerprint(repo);

    await assert.rejects(h.manager.secondOpinions.pickAttempt(ids.codex), /hello\.txt/);
    assert.deepEqual(fingerprint(repo), dirty, 'main exactly as the user left it');
    assert.equal(repo.read('hello.txt'), 'my own uncommitted greeting\n');
    assert.deepEqual(snapshot(), intact, 'all three attempts intact');
    assert.ok(intact.every((attempt) => attempt.state === 'active'));

    fs.rmSync(path.join(repo.root, 'hello.txt'));
    const picked = await h.manager.secondOpinions.pickAttempt(ids.codex);
    assert.equal(picked.worktree?.state, 'merged');
    assert.equal(repo.read('hello.txt'), CODEX_GREETING.content);
    assert.deepEqual([h.task(ids['claude-cli']).worktree?.state, h.task(ids[ACP_PROVIDER]).worktree?.state], ['discarded', 'discarded']);
  });

  it("an agent whose CLI is missing fails with the path message; the other attempts complete and can be picked", { timeout: TEST_TIMEOUT }, async () => {
    const missing = path.join(os.tmpdir(), 'atw-no-such-dir', 'claude');
    const { bed: current, attempts } = await start({ claudePath: missing });
    const { h, repo } = current;
    const claude = attempts.find((task) => task.provider === 'claude-cli')!;
    const failed = await current.finished(claude.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error, `Claude Code was not found at "${missing}". Fix the agentTasks.claude.path setting.`);
    for (const attempt of attempts.filter((task) => task.id !== claude.id)) {
      const { task } = await current.approvedToEnd(attempt.id);
      assert.equal(task.status, 'completed', `${task.provider}: ${task.error}`);
    }
    const acp = attempts.find((task) => task.provider === ACP_PROVIDER)!;
    await h.manager.secondOpinions.pickAttempt(acp.id);
    assert.match(repo.read('README.md'), /^# demo \(edited\)$/m);
    assert.equal(fs.existsSync(path.join(repo.root, 'hello.txt')), false);
    for (const other of attempts.filter((task) => task.id !== acp.id)) {
      const worktree = h.task(other.id).worktree;
      assert.ok(worktree === undefined || worktree.state === 'discarded', `${other.provider}: ${worktree?.state}`);
      if (worktree) assert.equal(fs.existsSync(worktree.path), false);
    }
  });
});
