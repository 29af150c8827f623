// DESIGN §9 attempts and reviews through the TaskManager, with real git worktrees. The agents are small in-process
// adapters (the core's own tests); the real CLIs run these flows in test/cli.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { ProviderAdapter, ReviewRequest, RunContext, RunOutcome, TaskHandle } from '../../../src/core/ports';
import type { Finding } from '../../../src/core/task-state';
import { parseFindings } from '../../../src/core/second-opinions';
import { TaskWorktrees } from '../../../src/worktrees/task-worktrees';
import { Harness } from '../../support/core-harness';
import { fingerprint, makeRepo, TEST_GIT_ENV, type TestRepo } from '../../support/git-repo';

const CAPABILITIES = {
  pauseKinds: ['file_approval'] as const,
  resumeAfterCrash: false,
  survivesReload: false,
  followUps: true,
  sessionsPerProcess: 'many' as const,
  reportsCost: false,
  rateLimitSignals: false,
  nativeReview: false,
};

/** An author: writes `answer.txt` (its id, or the prompt's `write:` text) in its cwd and completes. */
class Writer implements ProviderAdapter {
  readonly displayName: string;
  readonly capabilities = CAPABILITIES;
  readonly prompts: { cwd: string; prompt: string }[] = [];
  constructor(readonly id: string) {
    this.displayName = `Writer ${id}`;
  }
  async start(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    this.prompts.push({ cwd: context.task.cwd, prompt: context.task.prompt });
    handle.setSessionId(context.task.sessionId ?? `${this.id}-${context.task.id}`);
    const content = /write: (.*)/.exec(context.task.prompt)?.[1] ?? this.id;
    fs.writeFileSync(path.join(context.task.cwd, 'answer.txt'), `${content}\n`);
    handle.appendOutput({ kind: 'file', text: 'Wrote answer.txt' });
    return { status: 'completed', result: `wrote ${content}` };
  }
}

/** A reviewer: answers what the test sets, after trying to write a file when asked to. */
class Reviewer implements ProviderAdapter {
  readonly id = 'reviewer';
  readonly displayName = 'Reviewer';
  readonly capabilities = CAPABILITIES;
  answer = '{"findings": []}';
  tryWrite = false;
  seen: { cwd: string; prompt: string; reviewOf?: string } | undefined;
  async start(context: RunContext, handle: TaskHandle): Promise<RunOutcome> {
    this.seen = { cwd: context.task.cwd, prompt: context.task.prompt, reviewOf: context.task.reviewOf };
    if (this.tryWrite) {
      const answer = await handle.ask({ type: 'file_approval', requestId: 'w1', fileChanges: [{ path: 'answer.txt', kind: 'update', patch: '-x\n+reviewer was here\n' }] });
      if ('decision' in answer && answer.decision !== 'deny') fs.writeFileSync(path.join(context.task.cwd, 'answer.txt'), 'reviewer was here\n');
    }
    return { status: 'completed', result: this.answer };
  }
}

/** A reviewer with a review mode of its own (like Codex's): it reports findings in its outcome. */
class NativeReviewer implements ProviderAdapter {
  readonly id = 'native';
  readonly displayName = 'Native reviewer';
  readonly capabilities = { ...CAPABILITIES, nativeReview: true };
  findings: Finding[] | undefined = [{ id: 'f1', path: 'answer.txt', line: 1, severity: 'high', title: 'Wrong answer', body: 'It should be 42.' }];
  readonly runs: { prompt: string; review?: ReviewRequest }[] = [];
  async start(context: RunContext): Promise<RunOutcome> {
    this.runs.push({ prompt: context.task.prompt, review: context.review });
    return { status: 'completed', result: 'Not the findings format', findings: this.findings };
  }
}

let repo: TestRepo;
let h: Harness;
let reviewer: Reviewer;
let native: NativeReviewer;

beforeEach(() => {
  repo = makeRepo({ 'README.md': '# test\n' });
  repo.commit('initial');
  reviewer = new Reviewer();
  native = new NativeReviewer();
  h = new Harness({ cwd: repo.root, worktrees: new TaskWorktrees({ env: TEST_GIT_ENV }), providers: [new Writer('writer-a'), new Writer('writer-b'), new Writer('writer-c'), reviewer, native] });
});

afterEach(async () => {
  await h.dispose();
  repo.remove();
});

async function allCompleted(ids: string[]): Promise<void> {
  for (const id of ids) await h.waitForStatus(id, 'completed', 20_000);
  for (const id of ids) await h.manager.worktrees.settled(id);
}

describe('attempts (DESIGN §9)', () => {
  test('one isolated task per agent on one prompt; picking one merges it and only then discards the others', async () => {
    const before = fingerprint(repo);
    const attempts = await h.manager.secondOpinions.createAttempts({ prompt: 'answer the question' }, [{ provider: 'writer-a' }, { provider: 'writer-b' }, { provider: 'writer-c' }]);
    assert.equal(attempts.length, 3);
    const group = attempts[0].attemptGroup;
    assert.ok(group && attempts.every((task) => task.attemptGroup === group && task.prompt === 'answer the question'));
    await allCompleted(attempts.map((task) => task.id));
    const paths = attempts.map((task) => h.task(task.id).worktree!.path);
    assert.equal(new Set(paths).size, 3, 'each attempt has its own worktree');
    assert.deepEqual(fingerprint(repo), before, 'no attempt touched the main checkout');
    assert.deepEqual(h.manager.secondOpinions.attempts(group!).map((task) => task.id), attempts.map((task) => task.id));

    const picked = await h.manager.secondOpinions.pickAttempt(attempts[1].id);
    assert.equal(picked.worktree?.state, 'merged');
    assert.equal(repo.read('answer.txt'), 'writer-b\n');
    for (const other of [attempts[0], attempts[2]]) {
      assert.equal(h.task(other.id).worktree?.state, 'discarded');
      assert.equal(fs.existsSync(h.task(other.id).worktree!.path), false);
    }
    assert.match(h.texts(attempts[1].id).join('\n'), /Picked this attempt; discarded .*, .*/);
  });

  test('a pick refused by a dirty main discards nothing', async () => {
    const attempts = await h.manager.secondOpinions.createAttempts({ prompt: 'answer' }, [{ provider: 'writer-a' }, { provider: 'writer-b' }]);
    await allCompleted(attempts.map((task) => task.id));
    repo.write('answer.txt', 'my own uncommitted answer\n');
    await assert.rejects(h.manager.secondOpinions.pickAttempt(attempts[0].id), /answer\.txt/);
    assert.equal(repo.read('answer.txt'), 'my own uncommitted answer\n');
    for (const task of attempts) {
      assert.equal(h.task(task.id).worktree?.state, 'active');
      assert.ok(fs.existsSync(h.task(task.id).worktree!.path));
    }
  });

  test('an unknown provider creates no attempt at all', async () => {
    await assert.rejects(h.manager.secondOpinions.createAttempts({ prompt: 'x' }, [{ provider: 'writer-a' }, { provider: 'nobody' }]), /Unknown provider "nobody"/);
    assert.equal(h.manager.listTasks().length, 0);
    await assert.rejects(h.manager.secondOpinions.createAttempts({ prompt: 'x' }, []), /at least one agent/);
  });
});

describe('review by another agent (DESIGN §9)', () => {
  async function authored(): Promise<string> {
    const task = await h.create('write: forty-one', { provider: 'writer-a' });
    await allCompleted([task.id]);
    return task.id;
  }

  test('runs in the reviewed worktree with the diff in its prompt; its JSON answer becomes findings', async () => {
    const id = await authored();
    reviewer.answer = 'Here is my review:\n```json\n{"findings": [{"path": "answer.txt", "line": 1, "severity": "high", "title": "Wrong answer", "body": "It should be {42}."}, {"severity": "nonsense", "title": "Style"}]}\n```';
    const review = await h.manager.secondOpinions.reviewTask(id, { provider: 'reviewer' });
    assert.equal(review.reviewOf, id);
    const done = await h.waitForStatus(review.id, 'completed', 20_000);
    assert.equal(reviewer.seen?.cwd, h.task(id).worktree!.cwd);
    assert.match(reviewer.seen?.prompt ?? '', /\+forty-one/);
    assert.deepEqual(h.task(review.id).findings, [
      { id: 'f1', path: 'answer.txt', line: 1, severity: 'high', title: 'Wrong answer', body: 'It should be {42}.' },
      { id: 'f2', severity: 'info', title: 'Style', body: '' },
    ]);
    assert.equal(done.status, 'completed');
    assert.ok(h.texts(review.id).includes('Findings: 1 high, 1 info'));
  });

  test('an agent with its own review mode is told the base commit, the worktree and the task; the findings it reports are taken as they are', async () => {
    const id = await authored();
    const worktree = h.task(id).worktree!;
    const review = await h.manager.secondOpinions.reviewTask(id, { provider: 'native' });
    await h.waitForStatus(review.id, 'completed', 20_000);
    const [run] = native.runs;
    assert.doesNotMatch(run.prompt, /\+forty-one|```diff/, 'no diff in the prompt: the review mode reads the change itself');
    assert.match(run.prompt, new RegExp(`against its base commit ${worktree.baseCommit} in its own review mode`), 'the prompt says how the change is reviewed');
    assert.equal(run.review?.baseCommit, worktree.baseCommit);
    assert.equal(run.review?.root, worktree.path);
    assert.match(run.review?.about ?? '', /^Review the change another coding agent made for this task: ".+"\.\n\nThe task's prompt was:\nwrite: forty-one\n\n/);
    assert.match(run.review?.about ?? '', /The files it changed against [0-9a-f]{40}: answer\.txt \(added\)\./);
    assert.match(run.review?.about ?? '', /read-only: do not change any file/);
    assert.deepEqual(h.task(review.id).findings, native.findings, 'not parsed from the result');
    assert.ok(h.texts(review.id).includes('Findings: 1 high'));
    assert.equal(reviewer.seen, undefined);

    native.findings = undefined;
    const again = await h.manager.secondOpinions.reviewTask(id, { provider: 'native' });
    await h.waitForStatus(again.id, 'completed', 20_000);
    assert.deepEqual(h.task(again.id).findings, [{ id: 'f1', severity: 'info', title: 'The reviewer did not answer in the findings format', body: 'Not the findings format' }], 'without findings the result is parsed');
  });

  test('a task that is no review gets no review request, and findings in its outcome are dropped', async () => {
    const task = await h.create('write: x', { provider: 'native' });
    await allCompleted([task.id]);
    assert.equal(native.runs[0].review, undefined);
    assert.equal(h.task(task.id).findings, undefined);
  });

  test('a reviewer that tries to write is declined, never approved, and the worktree is unchanged', async () => {
    const id = await authored();
    const worktree = h.task(id).worktree!;
    const content = fs.readFileSync(path.join(worktree.path, 'answer.txt'), 'utf8');
    reviewer.tryWrite = true;
    const review = await h.manager.secondOpinions.reviewTask(id, { provider: 'reviewer' });
    await h.waitForStatus(review.id, 'completed', 20_000);
    assert.equal(fs.readFileSync(path.join(worktree.path, 'answer.txt'), 'utf8'), content);
    assert.ok(h.texts(review.id).some((text) => text.startsWith('Declined a file change (answer.txt): a review task is read-only')));
    assert.equal(h.task(review.id).pendingQuestions.length, 0, 'nobody was asked');
  });

  test('output that is not the JSON shape becomes one info finding with its text', async () => {
    const id = await authored();
    reviewer.answer = 'Looks fine to me, nothing to add.';
    const review = await h.manager.secondOpinions.reviewTask(id, { provider: 'reviewer' });
    await h.waitForStatus(review.id, 'completed', 20_000);
    assert.deepEqual(h.task(review.id).findings, [{ id: 'f1', severity: 'info', title: 'The reviewer did not answer in the findings format', body: 'Looks fine to me, nothing to add.' }]);
  });

  test('Send Findings continues the reviewed task in its own worktree with the chosen findings', async () => {
    const id = await authored();
    reviewer.answer = '{"findings": [{"severity": "medium", "title": "Off by one", "body": "Use 42", "path": "answer.txt", "line": 1}, {"severity": "low", "title": "Not this one", "body": "skip"}]}';
    const review = await h.manager.secondOpinions.reviewTask(id, { provider: 'reviewer' });
    await h.waitForStatus(review.id, 'completed', 20_000);
    const worktreePath = h.task(id).worktree!.path;
    const followUp = await h.manager.secondOpinions.sendFindings(review.id, ['f1']);
    assert.equal(followUp.parentId, id);
    assert.match(followUp.prompt, /\[medium\] Off by one \(answer\.txt:1\)\nUse 42/);
    assert.doesNotMatch(followUp.prompt, /Not this one/);
    await h.waitForStatus(followUp.id, 'completed', 20_000);
    assert.equal(h.task(followUp.id).worktree?.path, worktreePath, 'the follow-up continues in the same worktree');
    assert.equal(h.task(id).worktree, undefined, 'the reviewed task handed its worktree over');
    const again = await h.manager.retryTask(review.id);
    assert.equal(again.reviewOf, id, 'a retried review is a review too (read-only)');
  });

  test('the default reviewer is the first provider other than the author\'s; a task without a worktree cannot be reviewed', async () => {
    assert.deepEqual(h.manager.secondOpinions.defaultReviewer('scripted'), { provider: 'writer-a' });
    assert.deepEqual(h.manager.secondOpinions.defaultReviewer('writer-a'), { provider: 'scripted' });
    const inPlace = await h.create('done: ok', { isolation: 'none' });
    await h.waitForStatus(inPlace.id, 'completed', 20_000);
    await assert.rejects(h.manager.secondOpinions.reviewTask(inPlace.id), /no unmerged worktree to review/);
  });
});

describe('parseFindings', () => {
  test('takes the first object with a findings list, tolerating text and braces in strings around it', () => {
    assert.deepEqual(parseFindings('{"note": "a { brace"} then {"findings": [{"severity": "low", "title": "t", "body": "b }"}]} bye'), [{ id: 'f1', severity: 'low', title: 't', body: 'b }' }]);
    assert.deepEqual(parseFindings('{"findings": []}'), []);
    assert.deepEqual(parseFindings('   '), []);
    assert.equal(parseFindings('{"findings": "not a list"}')[0].severity, 'info');
  });
});
