// DESIGN §9 over MCP, end to end in plain Node: the SDK's Client runs the real server bundle over stdio, which reaches
// the real host server over its socket, over a TaskManager with real TaskWorktrees on a real git repository in a temp
// dir. Writers are in-process agents that write files in their worktrees; the reviewer answers what the test sets.
// review_task starts a review the client owns and get_task shows its findings; spawn_task with attempts starts one
// task per agent in one attempt group, the client's and nobody else's; get_task shows the check; bad input is refused.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Finding, TaskCheck, TaskState } from '../../../src/core/task-state';
import { MAX_ATTEMPTS, MAX_CHECK_TAIL_CHARS, MAX_FINDING_TEXT_CHARS, MAX_WIRE_FINDINGS } from '../../../src/mcp/protocol';
import { ProgrammableProvider, untilAborted, type Harness } from '../../support/core-harness';
import { fingerprint, type TestRepo } from '../../support/git-repo';
import { startClient, type TestClient } from '../../support/mcp-client';
import { startMcpWorktreeBed, type McpWorktreeBed } from '../../support/mcp-worktree-bed';
import { connectRaw, startTestHost, type TestHost } from '../../support/mcp-host';

/** Writes the files its prompt names (JSON: path → content; `{agent}` becomes its id) in its task's folder. */
function writer(id: string): ProgrammableProvider {
  return new ProgrammableProvider(id, async (context, handle) => {
    const files = JSON.parse(context.task.prompt) as Record<string, string>;
    for (const [file, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(context.task.cwd, file)), { recursive: true });
      fs.writeFileSync(path.join(context.task.cwd, file), content.replaceAll('{agent}', id));
      handle.appendOutput({ kind: 'file', text: `Wrote ${file}` });
    }
    return { status: 'completed', result: `${id} wrote ${Object.keys(files).length} file(s)` };
  });
}

/** The reviewer: answers `answer` (or runs until cancelled when `hold`), and records where it ran and what it was asked. */
const reviewing = { answer: '{"findings": []}', hold: false, seen: [] as { taskId: string; cwd: string; prompt: string }[] };
const reviewer = new ProgrammableProvider('reviewer', async (context) => {
  reviewing.seen.push({ taskId: context.task.id, cwd: context.task.cwd, prompt: context.task.prompt });
  if (reviewing.hold) return untilAborted(context.signal);
  return { status: 'completed', result: reviewing.answer };
});

let bed: McpWorktreeBed | undefined;
let serverPath: string;
let repo: TestRepo;
let h: Harness;
let host: TestHost;
let client: TestClient;

before(async () => {
  // The reviewer comes first, so it is the default reviewer ("the first available provider other than the author's").
  bed = await startMcpWorktreeBed({
    scripted: false,
    providers: [reviewer, writer('writer-a'), writer('writer-b'), writer('writer-c')],
    profiles: [
      { id: 'c-account', provider: 'writer-c' },
      { id: 'review-account', provider: 'reviewer' },
    ],
    settings: { maxConcurrentTasks: 4 },
  });
  ({ serverPath, repo, h, host, client } = bed);
});
after(() => bed?.stop());

/** Waits until the task completed and its change summary is current. */
async function completed(id: string): Promise<TaskState> {
  await h.waitForStatus(id, 'completed', 15_000);
  if (h.task(id).worktree) await h.manager.worktrees.settled(id);
  return h.task(id);
}

/** Delegates a writer task over MCP and waits until it completed. */
async function delegate(files: Record<string, string>, extra: Record<string, unknown> = {}): Promise<TaskState> {
  const spawned = await client.call('spawn_task', { prompt: JSON.stringify(files), provider: 'writer-a', ...extra });
  assert.equal(spawned.isError, false, spawned.text);
  return completed(spawned.structured.taskId as string);
}

/** Starts a review over MCP; returns the review task's id. */
async function review(taskId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const started = await client.call('review_task', { taskId, ...extra });
  assert.equal(started.isError, false, started.text);
  return started.structured.taskId as string;
}

describe('review_task', () => {
  test('starts a read-only review by another agent in the task\'s worktree; the review is the client\'s and get_task shows its findings', async () => {
    const task = await delegate({ 'src/app.ts': 'export const answer = 42;\n' });
    const findings = [
      { path: 'src/app.ts', line: 1, severity: 'high', title: 'The answer changed', body: 'Callers expect 41.' },
      { severity: 'low', title: 'No test', body: 'Add a test for the new value.' },
    ];
    reviewing.answer = `Here is my review.\n${JSON.stringify({ findings })}\nThanks.`;
    const started = await client.call('review_task', { taskId: task.id });
    assert.equal(started.isError, false, started.text);
    const reviewId = started.structured.taskId as string;
    assert.equal(started.structured.reviewOf, task.id);
    assert.equal(started.structured.provider, 'reviewer', 'the default reviewer is the first provider other than the author\'s');
    assert.match(started.text, new RegExp(`Started review task ${reviewId}: reviewer reviews the change of ${task.id}, read-only`));

    const waited = await client.call('wait_for_task', { taskId: reviewId, timeoutSeconds: 20 }, 30_000);
    assert.equal(waited.structured.reason, 'finished', waited.text);
    const seen = reviewing.seen.find((run) => run.taskId === reviewId);
    assert.equal(seen?.cwd, task.worktree?.cwd, 'the reviewer ran in the reviewed task\'s worktree');
    assert.match(seen?.prompt ?? '', /^\+export const answer = 42;$/m, 'its prompt carries the change');

    const got = await client.call('get_task', { taskId: reviewId });
    assert.equal(got.isError, false, got.text);
    assert.equal(got.structured.reviewOf, task.id);
    assert.deepEqual(got.structured.findings, [
      { id: 'f1', path: 'src/app.ts', line: 1, severity: 'high', title: 'The answer changed', body: 'Callers expect 41.' },
      { id: 'f2', severity: 'low', title: 'No test', body: 'Add a test for the new value.' },
    ] satisfies Finding[]);
    assert.equal(got.structured.findingCount, 2);
    assert.match(got.text, new RegExp(`\\*\\*Review of\\*\\*: ${task.id} — read-only`));
    assert.match(got.text, /## Findings \(2 findings: 1 high, 1 low\)/);
    assert.match(got.text, /- \*\*f1\*\* \[high\] The answer changed — `src\/app\.ts:1`\n {2}Callers expect 41\./);
    assert.match(got.text, new RegExp(`send the ones you agree with to ${task.id} with send_message`));
    assert.match(waited.text, /## Findings \(2 findings/, 'wait_for_task shows them too');

    const listed = await client.call('list_tasks', { label: 'review' });
    assert.ok(listed.text.includes(`${reviewId} · completed · reviewer`) && listed.text.includes(`review of ${task.id}, 2 findings: 1 high, 1 low`), listed.text);
    assert.deepEqual((listed.structured.tasks as Record<string, unknown>[]).map((each) => [each.taskId, each.reviewOf, each.findingCount]), [[reviewId, task.id, 2]]);
    const resource = await client.client.readResource({ uri: `task://${reviewId}` });
    assert.match((resource.contents[0] as { text: string }).text, /## Findings \(2 findings/);
    const { resources } = await client.client.listResources();
    assert.match(resources.find((each) => each.uri === `task://${reviewId}`)?.description ?? '', new RegExp(`review of ${task.id}, 2 findings`));

    assert.ok(h.texts(reviewId).includes(`[mcp] Review of ${task.id} asked for over MCP by unit-client`));
    assert.ok(h.texts(task.id).includes(`[mcp] The delegating agent asked reviewer to review this change (review task ${reviewId})`));
    assert.equal(h.task(task.id).worktree?.state, 'active', 'the reviewed work is untouched');

    // Another client does not see the review, or the task it reviews.
    const other = await connectRaw(host.socketPath, host.token);
    try {
      await assert.rejects(other.request('get', { taskId: reviewId }), /Unknown task .*sees only the tasks it delegated/);
      await assert.rejects(other.request('review', { taskId: task.id }), /Unknown task .*sees only the tasks it delegated/);
      assert.deepEqual(await other.request('list', {}), []);
    } finally {
      other.close();
    }
  });

  test('a named reviewer with its profile and model; a review the client asked for is its to cancel, not to follow up', async () => {
    const task = await delegate({ 'notes.md': 'notes\n' });
    reviewing.answer = 'Looks fine to me.';
    const reviewId = await review(task.id, { provider: 'reviewer', profile: 'review-account', model: 'm-review' });
    assert.deepEqual([h.task(reviewId).provider, h.task(reviewId).profile, h.task(reviewId).model, h.task(reviewId).reviewOf], ['reviewer', 'review-account', 'm-review', task.id]);
    await h.waitForStatus(reviewId, 'completed', 15_000);
    // An answer not in the findings format becomes one info finding with its text.
    const got = await client.call('get_task', { taskId: reviewId });
    assert.deepEqual((got.structured.findings as Finding[]).map((each) => [each.severity, each.title, each.body]), [
      ['info', 'The reviewer did not answer in the findings format', 'Looks fine to me.'],
    ]);
    reviewing.answer = '{"findings": []}';

    reviewing.hold = true;
    try {
      const held = await review(task.id, { model: 'm-default' });
      assert.deepEqual([h.task(held).provider, h.task(held).model], ['reviewer', 'm-default'], 'a model alone goes to the default reviewer');
      await h.waitForStatus(held, 'running', 5_000);
      const before = await client.call('get_task', { taskId: held });
      assert.match(before.text, /The findings appear here when the review completes\./);
      const followUp = await client.call('send_message', { taskId: held, message: 'write it anyway' });
      assert.equal(followUp.isError, true);
      assert.match(followUp.text, new RegExp(`is a read-only review: to have its findings addressed, send them to ${task.id} with send_message`));
      const cancelled = await client.call('cancel_task', { taskId: held });
      assert.equal(cancelled.isError, false, cancelled.text);
      assert.equal(h.status(held), 'cancelled');
      const after = await client.call('get_task', { taskId: held });
      assert.match(after.text, /The review ended cancelled, so it has no findings\./);
    } finally {
      reviewing.hold = false;
    }
  });

  test('findings are bounded like the change summary: the first ones, each cut, with the count', async () => {
    const task = await delegate({ 'many.txt': 'many\n' });
    const long = 'x'.repeat(MAX_FINDING_TEXT_CHARS + 500);
    reviewing.answer = JSON.stringify({ findings: Array.from({ length: MAX_WIRE_FINDINGS + 10 }, (_, i) => ({ severity: 'medium', title: `Finding ${i + 1}`, body: i === 0 ? long : 'short' })) });
    const reviewId = await review(task.id);
    await h.waitForStatus(reviewId, 'completed', 15_000);
    assert.equal(h.task(reviewId).findings?.length, MAX_WIRE_FINDINGS + 10, 'the task keeps them all');
    const got = await client.call('get_task', { taskId: reviewId });
    const findings = got.structured.findings as Finding[];
    assert.equal(findings.length, MAX_WIRE_FINDINGS);
    assert.equal(got.structured.findingCount, MAX_WIRE_FINDINGS + 10);
    assert.equal(findings[0].body, `${'x'.repeat(MAX_FINDING_TEXT_CHARS)} … [500 more characters not shown]`);
    assert.match(got.text, new RegExp(`- … and 10 more findings \\(${MAX_WIRE_FINDINGS + 10} in all\\)`));
    assert.match(got.text, new RegExp(`## Findings \\(${MAX_WIRE_FINDINGS + 10} findings: ${MAX_WIRE_FINDINGS} medium \\(of the first ${MAX_WIRE_FINDINGS}\\)\\)`));
    assert.ok(got.text.length < 40_000, `get_task stays small: ${got.text.length} characters`);
    reviewing.answer = '{"findings": []}';
  });

  test('refuses clearly, starting nothing: another\'s task, a task without a worktree, a running task, a review, a bad reviewer', async () => {
    const done = await delegate({ 'r.txt': 'r\n' });
    const inPlace = await delegate({ 'in-place.txt': 'here\n' }, { isolation: 'none' });
    fs.rmSync(path.join(repo.root, 'in-place.txt'));
    const reviewId = await review(done.id);
    await h.waitForStatus(reviewId, 'completed', 15_000);
    const mine = await h.manager.createTask({ prompt: JSON.stringify({ 'mine.txt': 'mine\n' }), provider: 'writer-a' });
    await completed(mine.id);
    const count = h.manager.allTasks().length;
    for (const [args, message] of [
      [{ taskId: mine.id }, /Unknown task .*: an MCP client sees only the tasks it delegated/],
      [{ taskId: inPlace.id }, new RegExp(`Task ${inPlace.id} has no unmerged worktree to review`)],
      [{ taskId: reviewId }, new RegExp(`Task ${reviewId} is itself a review`)],
      [{ taskId: done.id, provider: 'nope' }, /Unknown provider "nope"\. Available providers: reviewer, writer-a, writer-b, writer-c/],
      [{ taskId: done.id, profile: 'c-account' }, /profile is an account of one provider: name the provider too/],
      [{ taskId: done.id, provider: 'reviewer', profile: 'c-account' }, /Profile "c-account" belongs to writer-c, not reviewer/],
      [{ taskId: done.id, provider: '' }, /Invalid arguments for review_task/],
    ] as const) {
      const refused = await client.call('review_task', args);
      assert.equal(refused.isError, true, JSON.stringify(args));
      assert.match(refused.text, message);
    }
    reviewing.hold = true;
    try {
      const running = await client.call('spawn_task', { prompt: 'anything', provider: 'reviewer' });
      const id = running.structured.taskId as string;
      await h.until(() => h.status(id) === 'running' && h.task(id).worktree !== undefined, `${id} running in its worktree`, 5_000);
      const refused = await client.call('review_task', { taskId: id });
      assert.match(refused.text, new RegExp(`Task ${id} is still running; review it once it has finished`));
      await client.call('cancel_task', { taskId: id });
    } finally {
      reviewing.hold = false;
    }
    assert.equal(h.manager.allTasks().length, count + 1, 'no review task was started (only the running task)');
  });
});

describe('spawn_task with attempts', () => {
  test('starts one isolated task per agent on the same prompt, in one attempt group, all the client\'s and nobody else\'s', async () => {
    const prompt = JSON.stringify({ 'answer.txt': 'written by {agent}\n' });
    const spawned = await client.call('spawn_task', {
      prompt,
      model: 'm-shared',
      labels: ['race'],
      attempts: [{ provider: 'writer-a' }, { provider: 'writer-b', model: 'm-b' }, { provider: 'writer-c', profile: 'c-account' }],
    });
    assert.equal(spawned.isError, false, spawned.text);
    const group = spawned.structured.attemptGroup as string;
    const ids = spawned.structured.taskIds as string[];
    assert.match(group, /^attempts-/);
    assert.equal(ids.length, 3);
    assert.deepEqual((spawned.structured.tasks as Record<string, unknown>[]).map((each) => [each.taskId, each.provider, each.attemptGroup]), [
      [ids[0], 'writer-a', group],
      [ids[1], 'writer-b', group],
      [ids[2], 'writer-c', group],
    ]);
    assert.match(spawned.text, new RegExp(`Started 3 attempts on the same prompt \\(attempt group ${group}\\)`));
    assert.match(spawned.text, new RegExp(`- ${ids[1]} \\(writer-b, model m-b\\)`));

    const tasks = await Promise.all(ids.map((id) => completed(id)));
    assert.deepEqual(tasks.map((task) => [task.provider, task.model, task.profile, task.isolation, task.attemptGroup, task.prompt]), [
      ['writer-a', 'm-shared', undefined, 'worktree', group, prompt],
      ['writer-b', 'm-b', undefined, 'worktree', group, prompt],
      ['writer-c', 'm-shared', 'c-account', 'worktree', group, prompt],
    ]);
    for (const task of tasks) {
      assert.ok(task.labels.includes('delegated') && task.labels.includes('race'), task.labels.join());
      assert.equal(fs.readFileSync(path.join(task.worktree?.path ?? '', 'answer.txt'), 'utf8'), `written by ${task.provider}\n`);
    }
    assert.equal(new Set(tasks.map((task) => task.worktree?.path)).size, 3, 'a worktree each');
    assert.ok(!fs.existsSync(path.join(repo.root, 'answer.txt')), 'the main checkout is untouched');
    assert.ok(h.texts(ids[1]).includes(`[mcp] Delegated over MCP by unit-client: attempt 2 of 3 on one prompt (${group})`));

    for (const id of ids) {
      const got = await client.call('get_task', { taskId: id });
      assert.equal(got.structured.attemptGroup, group);
      assert.match(got.text, new RegExp(`\\*\\*Attempt group\\*\\*: ${group} — one of several agents on the same prompt`));
    }
    const listed = await client.call('list_tasks', { label: 'race' });
    assert.deepEqual((listed.structured.tasks as Record<string, unknown>[]).map((each) => each.attemptGroup), [group, group, group]);
    assert.equal(listed.text.split('\n').filter((line) => line.includes(`attempt in ${group}`)).length, 3, listed.text);

    // Another MCP client session sees none of them.
    const second = await startClient(serverPath, { AGENT_TASKS_SOCKET: host.socketPath, AGENT_TASKS_TOKEN: host.token }, { name: 'other-client' });
    try {
      const theirs = await second.call('list_tasks', {});
      assert.equal(theirs.text, 'No tasks match.');
      for (const id of ids) assert.match((await second.call('get_task', { taskId: id })).text, /Unknown task .*sees only the tasks it delegated/);
    } finally {
      await second.close();
    }

    // Keeping one is a merge: the user's, unless they allowed agents to merge; there is no pick tool.
    const { tools } = await client.client.listTools();
    assert.deepEqual(tools.filter((tool) => /attempt|pick/i.test(tool.name)), []);
    const before = fingerprint(repo);
    const merge = await client.call('merge_task_changes', { taskId: ids[0] });
    assert.equal(merge.isError, true);
    assert.match(merge.text, /agentTasks\.mcp\.allowAgentMerge/);
    assert.deepEqual(fingerprint(repo), before);
  });

  test('bad attempts are refused clearly, and none of them starts', async () => {
    const count = h.manager.allTasks().length;
    const prompt = '{}';
    for (const [attempts, message] of [
      [[], /Invalid arguments for spawn_task: .*attempts.*(fewer than 1|at least 1)/],
      [[{ model: 'm' }], /Invalid arguments for spawn_task: .*provider/],
      [[{ provider: 'writer-a', cwd: 'elsewhere' }], /Invalid arguments for spawn_task: .*additional properties/],
      [Array.from({ length: MAX_ATTEMPTS + 1 }, () => ({ provider: 'writer-a' })), /Invalid arguments for spawn_task: .*attempts.*(more than 8|at most 8)/],
      [[{ provider: 'writer-a' }, { provider: 'nope' }], /Unknown provider "nope" for an attempt\. Available providers: reviewer, writer-a, writer-b, writer-c/],
      [[{ provider: 'writer-a', profile: 'c-account' }], /Profile "c-account" belongs to writer-c, not writer-a/],
    ] as const) {
      const refused = await client.call('spawn_task', { prompt, attempts });
      assert.equal(refused.isError, true, JSON.stringify(attempts));
      assert.match(refused.text, message);
    }
    const both = await client.call('spawn_task', { prompt, provider: 'writer-a', attempts: [{ provider: 'writer-b' }] });
    assert.match(both.text, /With attempts, name the provider in each attempt, not beside them/);
    const inPlace = await client.call('spawn_task', { prompt, isolation: 'none', attempts: [{ provider: 'writer-b' }] });
    assert.match(inPlace.text, /isolation "none" is not possible with attempts/);
    await assert.rejects(
      client.client.request({ method: 'tools/call', params: { name: 'spawn_task', arguments: { prompt, attempts: [{ provider: 'writer-a' }] }, task: {} } }, CreateTaskResultSchema),
      /spawn_task with attempts starts several tasks, and one MCP task stands for one: call it without task augmentation/,
    );
    // The host checks for itself what a client other than the bundle sends.
    const raw = await connectRaw(host.socketPath, host.token);
    try {
      for (const [attempts, message] of [
        ['writer-a', /attempts must be a list of \{provider, profile\?, model\?\}, one per agent/],
        [[], /attempts must be a list .*: it is empty/],
        [['writer-a'], /attempts\[0\] must be an object/],
        [[{ provider: 'writer-a' }, { provider: 7 }], /attempts\[1\] needs a provider/],
        [[{ provider: 'writer-a', profile: 5 }], /attempts\[0\]: profile must be a string/],
        [[{ provider: 'writer-a', isolation: 'none' }], /attempts\[0\] has isolation: an attempt takes only provider, profile and model/],
        [Array.from({ length: MAX_ATTEMPTS + 1 }, () => ({ provider: 'writer-a' })), new RegExp(`At most ${MAX_ATTEMPTS} attempts at once \\(${MAX_ATTEMPTS + 1} were asked for\\)`)],
      ] as const) {
        await assert.rejects(raw.request('attempts', { prompt, attempts: attempts as never }), message);
      }
      await assert.rejects(raw.request('attempts', { prompt, dependsOn: ['not-mine-1'], attempts: [{ provider: 'writer-a' }] }), /Unknown task not-mine-1/);
    } finally {
      raw.close();
    }
    assert.equal(h.manager.allTasks().length, count, 'nothing was started');
  });

  test('attempts count against the spawn limit together: all start, or none does', async () => {
    const limited = await startTestHost(h, { spawnLimit: { count: 4, windowMs: 60_000 } });
    const raw = await connectRaw(limited.socketPath, limited.token);
    try {
      const prompt = JSON.stringify({ 'limit.txt': '{agent}\n' });
      const first = await raw.request('attempts', { prompt, attempts: [{ provider: 'writer-a' }, { provider: 'writer-b' }, { provider: 'writer-c' }] });
      assert.equal(first.tasks.length, 3);
      const count = h.manager.allTasks().length;
      await assert.rejects(
        raw.request('attempts', { prompt, attempts: [{ provider: 'writer-a' }, { provider: 'writer-b' }] }),
        /Refused: MCP clients started 3 tasks in the last 60 s, and 2 more would pass the 4 Agent Tasks accepts; try again in \d+ s/,
      );
      await assert.rejects(raw.request('attempts', { prompt, attempts: Array.from({ length: 5 }, () => ({ provider: 'writer-a' })) }), /Refused: 5 tasks at once are more than the 4 MCP clients may start in 60 s/);
      assert.equal(h.manager.allTasks().length, count, 'no attempt of a refused group started');
      const fourth = await raw.request('spawn', { prompt, provider: 'writer-a' });
      await Promise.all([...first.tasks.map((task) => task.id), fourth.id].map((id) => completed(id)));
    } finally {
      raw.close();
      limited.close();
    }
  });
});

describe('get_task and the check', () => {
  test('shows the check after it ran: passed, or failed with its exit code and tail; a long tail is bounded', async () => {
    h.settings.check = 'echo checking-in-the-worktree; test -f answer.txt';
    try {
      const passing = await delegate({ 'answer.txt': 'yes\n' });
      await h.manager.worktrees.jobs.runCheck(passing.id);
      const passed = await client.call('get_task', { taskId: passing.id });
      const check = passed.structured.check as TaskCheck;
      assert.deepEqual([check.command, check.state, check.exitCode], ['echo checking-in-the-worktree; test -f answer.txt', 'passed', 0]);
      assert.match(check.tail ?? '', /checking-in-the-worktree/);
      assert.match(passed.text, /## Check\n\n`echo checking-in-the-worktree; test -f answer\.txt` passed in \d+\.\d s\./);
      assert.equal(passed.structured.status, 'completed', 'a check never changes the task status');

      h.settings.check = `"${process.execPath}" -e "process.stdout.write('y'.repeat(${MAX_CHECK_TAIL_CHARS * 3}) + '\\nthe-end\\n'); process.exit(3)"`;
      const failing = await delegate({ 'other.txt': 'no answer\n' });
      await h.manager.worktrees.jobs.runCheck(failing.id);
      const failed = await client.call('get_task', { taskId: failing.id });
      const bad = failed.structured.check as TaskCheck;
      assert.deepEqual([bad.state, bad.exitCode], ['failed', 3]);
      assert.ok((bad.tail ?? '').length <= MAX_CHECK_TAIL_CHARS + 60, `the tail is bounded: ${bad.tail?.length}`);
      assert.match(bad.tail ?? '', /^\[… \d+ earlier characters not shown\]\n/);
      assert.match(bad.tail ?? '', /the-end$/);
      assert.match(failed.text, /failed \(exit 3\) in \d+\.\d s\.\n\nIts last lines:\n\n```\n\[… \d+ earlier characters/);
      const listed = await client.call('list_tasks', {});
      assert.ok(listed.text.includes(`${failing.id} · completed · writer-a`) && listed.text.split('\n').some((line) => line.startsWith(`- ${failing.id}`) && line.endsWith('check failed')), listed.text);
      assert.equal((listed.structured.tasks as Record<string, unknown>[]).find((each) => each.taskId === passing.id)?.check, 'passed');
    } finally {
      h.settings.check = undefined;
    }
  });
});
