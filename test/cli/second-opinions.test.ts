/**
 * DESIGN §9 reviews with the real agents: a Codex task's change in its worktree, reviewed by Claude Code (the diff in
 * its prompt), and Codex reviewing Claude Code's change in Codex's own review mode (`review/start` against the base
 * commit), the reviewers' answers coming from the mock models' review scenarios (test/fixtures/review-answers.ts). A
 * review is read-only; its findings can be sent back to the author as a follow-up.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { chooseTestScenario } from '../fixtures/mock-responses/server';
import { MALFORMED_REVIEW, REVIEW_WRITE_FILE } from '../fixtures/review-answers';
import { createAgentsBed, treeHashes, type AgentsBed } from '../support/agents-bed';

const TEST_TIMEOUT = 120_000;
const READ_ONLY_REFUSAL = 'This is a read-only review: do not change any file. Report what you found as findings instead.';

describe('review by another agent, real CLIs (DESIGN §9)', { timeout: 10 * 60_000 }, () => {
  let bed: AgentsBed;
  beforeEach(async () => {
    // The author's follow-up with findings ("Address these findings …") adds two files in the same worktree.
    bed = await createAgentsBed({ responses: { chooseScenario: (text) => (text.includes('Address these findings') ? 'two-files' : chooseTestScenario(text)) } });
  });
  afterEach(async () => {
    await bed.cleanup();
  });

  /** A completed Codex task that added hello.txt in its worktree. */
  async function codexAuthor(prompt: string): Promise<string> {
    const task = await bed.h.manager.createTask({ prompt, provider: 'codex' });
    const { task: done } = await bed.approvedToEnd(task.id);
    assert.equal(done.status, 'completed', done.error);
    assert.equal(fs.readFileSync(path.join(done.worktree!.path, 'hello.txt'), 'utf8'), 'hello world\n');
    assert.equal(fs.existsSync(path.join(bed.repo.root, 'hello.txt')), false, 'the author worked in its worktree');
    return task.id;
  }

  it('Claude Code reviews a Codex change in the Codex worktree; its JSON answer becomes findings', { timeout: TEST_TIMEOUT }, async () => {
    const { h, anthropic } = bed;
    const authorId = await codexAuthor('Add a greeting file: file-approval');
    const worktree = h.task(authorId).worktree!;
    const before = treeHashes(worktree.path);

    const review = await h.manager.secondOpinions.reviewTask(authorId);
    assert.equal(review.provider, 'claude-cli', 'the default reviewer is another vendor than the author');
    assert.equal(review.reviewOf, authorId);
    assert.equal(review.cwd, worktree.cwd);
    const done = await bed.finished(review.id);
    assert.equal(done.status, 'completed', done.error);
    assert.equal(done.worktree, undefined, 'a review gets no worktree of its own');

    const asked = anthropic.requests.find((request) => request.scenario === 'review-findings');
    assert.ok(asked, 'Claude Code sent the review prompt to the model');
    assert.match(asked.userText, /^\+hello world$/m, 'the prompt carries the diff');
    assert.equal(/Primary working directory: ([^\s"\\]+)/.exec(JSON.stringify(asked.body))?.[1], worktree.cwd, 'Claude Code ran in the Codex worktree');
    assert.deepEqual(done.findings, [
      { id: 'f1', path: 'hello.txt', line: 1, severity: 'medium', title: 'The greeting has no trailing punctuation', body: 'End the greeting with an exclamation mark so it reads as one.' },
      { id: 'f2', severity: 'low', title: 'No test covers the new file', body: 'Add a test that reads the file and checks its first line.' },
    ]);
    assert.ok(h.texts(review.id).includes('Findings: 1 medium, 1 low'));
    assert.deepEqual(treeHashes(worktree.path), before, 'the review changed nothing');
    assert.equal(h.task(authorId).worktree?.state, 'active');
  });

  it("a Claude Code reviewer's Write is declined with a status entry and the worktree stays byte-identical", { timeout: TEST_TIMEOUT }, async () => {
    const { h, anthropic } = bed;
    const authorId = await codexAuthor('Add a greeting file: file-approval (reviewers: review-write)');
    const worktree = h.task(authorId).worktree!;
    const before = treeHashes(worktree.path);
    const status = bed.repo.git(['status', '--porcelain=v1', '--untracked-files=all'], worktree.path);

    const review = await h.manager.secondOpinions.reviewTask(authorId, { provider: 'claude-cli' });
    const done = await bed.finished(review.id);
    assert.equal(done.status, 'completed', done.error);
    assert.ok(h.texts(review.id).includes(`Declined a file change (${REVIEW_WRITE_FILE}): a review task is read-only`));
    assert.equal(h.statusesOf(review.id).includes('waiting_answer'), false, 'nobody was asked');
    const refused = anthropic.requests.find((request) => request.scenario === 'review-write' && request.toolResult);
    assert.deepEqual(refused && { text: refused.toolResult!.text, isError: refused.toolResult!.isError, tool: refused.toolResult!.toolName }, { text: READ_ONLY_REFUSAL, isError: true, tool: 'Write' });
    assert.equal(fs.existsSync(path.join(worktree.path, REVIEW_WRITE_FILE)), false);
    assert.deepEqual(treeHashes(worktree.path), before);
    assert.equal(bed.repo.git(['status', '--porcelain=v1', '--untracked-files=all'], worktree.path), status);
    assert.deepEqual(
      done.findings?.map((finding) => [finding.severity, finding.title]),
      [
        ['medium', 'The greeting has no trailing punctuation'],
        ['low', 'No test covers the new file'],
        ['info', 'Could not write review notes'],
      ],
    );
    assert.equal(done.findings?.[2].body, `The edit was refused: ${READ_ONLY_REFUSAL}`);
  });

  it('Send Findings continues the Codex task in the same worktree, and the change can be reviewed again', { timeout: TEST_TIMEOUT }, async () => {
    const { h, responses } = bed;
    const authorId = await codexAuthor('Add a greeting file: file-approval');
    const author = structuredClone(h.task(authorId));
    const review = await h.manager.secondOpinions.reviewTask(authorId);
    assert.equal((await bed.finished(review.id)).status, 'completed');

    const followUp = await h.manager.secondOpinions.sendFindings(review.id, ['f1']);
    assert.notEqual(followUp.id, review.id);
    assert.equal(followUp.provider, 'codex');
    assert.match(followUp.prompt, /^A reviewer \(claude-cli\) looked at your change and found:/);
    assert.match(followUp.prompt, /1\. \[medium\] The greeting has no trailing punctuation \(hello\.txt:1\)/);
    assert.doesNotMatch(followUp.prompt, /No test covers/, 'only the chosen finding is sent');
    const { task: done } = await bed.approvedToEnd(followUp.id);
    assert.equal(done.status, 'completed', done.error);
    assert.equal(done.worktree?.path, author.worktree!.path, 'the follow-up ran in the same worktree');
    assert.equal(done.worktree?.branch, author.worktree!.branch);
    assert.equal(done.sessionId, author.sessionId, 'the same Codex conversation');

    const sent = responses.requests.filter((request) => request.userText.includes('Address these findings'));
    assert.ok(sent.length > 0 && sent.every((request) => request.threadKey === author.sessionId));
    for (const file of ['hello.txt', 'first.txt', 'second.txt']) assert.ok(fs.existsSync(path.join(author.worktree!.path, file)), `${file} in the worktree`);
    assert.equal(fs.existsSync(path.join(bed.repo.root, 'first.txt')), false);
    assert.deepEqual(done.worktree?.changes.files.map((file) => [file.path, file.status]).sort(), [
      ['first.txt', 'added'],
      ['hello.txt', 'added'],
      ['second.txt', 'added'],
    ]);

    const again = await h.manager.secondOpinions.reviewTask(followUp.id);
    assert.equal((await bed.finished(again.id)).status, 'completed');
    assert.equal(h.task(again.id).findings?.length, 2);
    assert.match(h.task(again.id).prompt, /^\+second file$/m, 'the second review sees the follow-up work');
  });

  it("a Copilot reviewer's file creation is declined; Copilot then ends its turn, which becomes one info finding", { timeout: TEST_TIMEOUT }, async () => {
    const { h, chat } = bed;
    const authorId = await codexAuthor('Add a greeting file: file-approval (reviewers: review-write)');
    const worktree = h.task(authorId).worktree!;
    const before = treeHashes(worktree.path);

    const review = await h.manager.secondOpinions.reviewTask(authorId, { provider: 'copilot' });
    const done = await bed.finished(review.id);
    assert.equal(done.status, 'completed', done.error);
    assert.ok(h.texts(review.id).includes(`Declined a file change (${REVIEW_WRITE_FILE}): a review task is read-only`), h.texts(review.id).join(' | '));
    assert.equal(h.statusesOf(review.id).includes('waiting_answer'), false);
    assert.deepEqual(chat.requests.map((request) => request.scenario), ['review-write'], 'a rejected permission ends the Copilot turn (see copilot.test.ts)');
    assert.equal(fs.existsSync(path.join(worktree.path, REVIEW_WRITE_FILE)), false);
    assert.deepEqual(treeHashes(worktree.path), before);
    assert.deepEqual(done.findings, [{ id: 'f1', severity: 'info', title: 'The reviewer did not answer in the findings format', body: done.result }]);
    assert.ok(done.result);
  });

  /** A completed Claude Code task that added hello.txt in its worktree; `reviewers` words go into its prompt. */
  async function claudeAuthor(reviewers = ''): Promise<string> {
    const author = await bed.h.manager.createTask({ prompt: `Please write-file now${reviewers ? ` (reviewers: ${reviewers})` : ''}`, provider: 'claude-cli' });
    assert.equal(await bed.answerNext(author.id, { decision: 'approve' }), 'file_approval');
    assert.equal((await bed.finished(author.id)).status, 'completed');
    assert.equal(fs.readFileSync(path.join(bed.h.task(author.id).worktree!.path, 'hello.txt'), 'utf8'), 'hello world\n');
    return author.id;
  }

  /** The model requests of Codex's review mode (its rubric asks for Codex's review JSON). */
  const reviewModeRequests = () => bed.responses.requests.filter((request) => request.codexReview);

  it("Codex reviews a Claude Code change in its own review mode (review/start against the base commit); Codex's findings land with path, line and severity", { timeout: TEST_TIMEOUT }, async () => {
    const { h } = bed;
    const authorId = await claudeAuthor();
    const worktree = h.task(authorId).worktree!;
    const before = treeHashes(worktree.path);
    const status = bed.repo.git(['status', '--porcelain=v1', '--untracked-files=all'], worktree.path);

    const review = await h.manager.secondOpinions.reviewTask(authorId);
    assert.equal(review.provider, 'codex', 'the default reviewer of a Claude Code task is Codex');
    const done = await bed.finished(review.id);
    assert.equal(done.status, 'completed', done.error);

    const [asked, ...more] = reviewModeRequests();
    assert.ok(asked, 'the model saw a request of Codex review mode');
    assert.equal(more.length, 0);
    assert.equal(asked.scenario, 'review-findings');
    assert.equal(asked.cwd, worktree.cwd, 'Codex reviewed in the reviewed worktree');
    assert.match(asked.userText, new RegExp(`^Review the code changes against the base branch '${worktree.baseCommit}'\\. The merge base commit for this comparison is ${worktree.baseCommit}\\.`));
    const body = JSON.stringify(asked.body);
    assert.match(body, /The task's prompt was:\\nPlease write-file now/, "the reviewed task's prompt went along as developer instructions");
    assert.match(body, /The files it changed against [0-9a-f]{40}: hello\.txt \(added\)/);
    assert.doesNotMatch(body, /\+hello world/, 'the diff of the prompt was not sent');
    assert.match(body, /`sandbox_mode` is `read-only`/);

    assert.deepEqual(done.findings, [
      { id: 'f1', path: 'hello.txt', line: 1, severity: 'high', title: 'The greeting has no trailing punctuation', body: 'End the greeting with an exclamation mark so it reads as one.' },
      { id: 'f2', path: 'hello.txt', line: 1, severity: 'low', title: 'No test covers the new file', body: 'Add a test that reads the file and checks its first line.' },
    ]);
    const texts = h.texts(review.id);
    assert.ok(texts.includes(`Codex entered review mode: changes against '${worktree.baseCommit.slice(0, 7)}'`), texts.join(' | '));
    assert.ok(texts.includes('Codex left review mode: 2 findings — The greeting file works, but it reads unfinished.'), texts.join(' | '));
    assert.ok(texts.includes('Findings: 1 high, 1 low'));
    assert.match(done.result ?? '', /^Full review comments:$/m, "the result is Codex's review as it rendered it");
    assert.equal(h.statusesOf(review.id).includes('waiting_answer'), false);
    assert.deepEqual(treeHashes(worktree.path), before, 'the review changed nothing');
    assert.equal(bed.repo.git(['status', '--porcelain=v1', '--untracked-files=all'], worktree.path), status);
  });

  it('Codex reviewing a Claude Code change: a malformed review becomes one info finding with its text', { timeout: TEST_TIMEOUT }, async () => {
    const { h } = bed;
    const authorId = await claudeAuthor('review-malformed');
    const worktree = h.task(authorId).worktree!;
    const before = treeHashes(worktree.path);

    const review = await h.manager.secondOpinions.reviewTask(authorId);
    assert.equal(review.provider, 'codex');
    const done = await bed.finished(review.id);
    assert.equal(done.status, 'completed', done.error);
    assert.deepEqual(
      reviewModeRequests().map((request) => request.scenario),
      ['review-malformed'],
      'Codex asked in review mode; the reviewed task named the scenario',
    );
    assert.deepEqual(done.findings, [{ id: 'f1', severity: 'info', title: 'The reviewer did not answer in the findings format', body: MALFORMED_REVIEW }]);
    assert.ok(h.texts(review.id).includes('Codex left review mode; its answer is not in the review format'));
    assert.ok(h.texts(review.id).includes('Findings: 1 info'));
    assert.deepEqual(treeHashes(worktree.path), before);
  });

  it("a Codex reviewer's apply_patch is refused by Codex's read-only review mode: nobody is asked and the worktree stays byte-identical", { timeout: TEST_TIMEOUT }, async () => {
    const { h } = bed;
    const authorId = await claudeAuthor('review-write');
    const worktree = h.task(authorId).worktree!;
    const before = treeHashes(worktree.path);

    const review = await h.manager.secondOpinions.reviewTask(authorId, { provider: 'codex' });
    const done = await bed.finished(review.id);
    assert.equal(done.status, 'completed', done.error);
    const requests = reviewModeRequests();
    assert.deepEqual(
      requests.map((request) => [request.scenario, request.lastItemType]),
      [
        ['review-write', 'message'],
        ['review-write', 'custom_tool_call_output'],
      ],
    );
    assert.match(JSON.stringify(requests[0].body), /`sandbox_mode` is `read-only`/, 'the review thread runs read-only although the profile says workspace-write');
    assert.equal(h.statusesOf(review.id).includes('waiting_answer'), false, "Codex's review mode never asks: it refuses the edit itself");
    assert.equal(fs.existsSync(path.join(worktree.path, REVIEW_WRITE_FILE)), false);
    assert.deepEqual(treeHashes(worktree.path), before);
    assert.deepEqual(
      done.findings?.map((finding) => [finding.severity, finding.title]),
      [
        ['high', 'The greeting has no trailing punctuation'],
        ['low', 'No test covers the new file'],
        ['info', 'Could not write review notes'],
      ],
    );
    assert.match(done.findings?.at(-1)?.body ?? '', /^The edit was refused: .*read-only/);
  });
});
