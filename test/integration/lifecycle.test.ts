// Tasks created through the public API with the scripted provider go through every state of DESIGN §3;
// onDidChangeTask reports each transition.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { TaskStatus } from '../../src/core/task-state';
import { type AgentTasksApi, StatusRecorder, agentTasks, cancelUnfinished, script } from './support/agent-tasks';

suite('Task lifecycle', () => {
  let api: AgentTasksApi;
  let recorder: StatusRecorder;

  suiteSetup(async () => {
    api = await agentTasks();
  });
  setup(() => {
    recorder = new StatusRecorder(api);
  });
  teardown(async () => {
    recorder.dispose();
    await cancelUnfinished(api);
  });

  const count = (statuses: TaskStatus[], status: TaskStatus): number => statuses.filter((s) => s === status).length;

  test('running → completed, with the transcript and result', async () => {
    const task = await recorder.create({ prompt: script('say: hello from the script', 'think: pondering', 'run: ls', 'done: all good'), provider: 'scripted' });
    assert.ok(['pending', 'running', 'completed'].includes(task.status), `a new task starts pending or running, not ${task.status}`);
    assert.equal(task.taskType, 'general', 'taskType defaults to general');
    const done = await recorder.waitForStatus(task.id, 'completed');
    assert.deepEqual(recorder.statusesAfterStart(task.id), ['running', 'completed']);
    assert.equal(done.result, 'all good');
    const texts = done.output.map((entry) => `${entry.kind}:${entry.text}`);
    for (const expected of ['agent:hello from the script', 'reasoning:pondering', 'command:ls']) {
      assert.ok(texts.includes(expected), `transcript lacks ${expected}: ${JSON.stringify(texts)}`);
    }
    assert.ok(done.timestamps.completed, 'completed timestamp set');
    assert.deepEqual(api.getTask(task.id)?.status, 'completed');
    assert.ok(api.listTasks().some((t) => t.id === task.id), 'listTasks includes the task');
  });

  test('running → waiting_answer → (approve) → running → completed', async () => {
    const task = await recorder.create({ prompt: script('say: about to ask', 'ask-command: touch x', 'done: approved and done'), provider: 'scripted' });
    const waiting = await recorder.waitForStatus(task.id, 'waiting_answer');
    assert.equal(waiting.pendingQuestions.length, 1);
    const question = waiting.pendingQuestions[0];
    assert.equal(question.type, 'command_approval');
    assert.equal(question.type === 'command_approval' && question.command, 'touch x');

    await assert.rejects(api.answer(task.id, 'no-such-request', { decision: 'approve' }), 'an answer to a request that is not pending is rejected');
    await api.answer(task.id, question.requestId, { decision: 'approve' });
    const done = await recorder.waitForStatus(task.id, 'completed');
    assert.deepEqual(recorder.statusesAfterStart(task.id), ['running', 'waiting_answer', 'running', 'completed']);
    assert.deepEqual(done.pendingQuestions, []);
    assert.ok(done.output.some((e) => e.kind === 'command' && e.text === 'touch x' && e.detail === 'approved'), 'the approval reached the agent');
    await assert.rejects(api.answer(task.id, question.requestId, { decision: 'approve' }), 'answering the same request twice is rejected');
  });

  test('a denied approval goes back to the agent, which goes on', async () => {
    const task = await recorder.create({ prompt: script('ask-command: rm -rf build', 'done: went on'), provider: 'scripted' });
    const waiting = await recorder.waitForStatus(task.id, 'waiting_answer');
    await api.answer(task.id, waiting.pendingQuestions[0].requestId, { decision: 'deny' });
    const done = await recorder.waitForStatus(task.id, 'completed');
    assert.ok(done.output.some((e) => e.kind === 'command' && e.detail === 'declined'), 'the denial reached the agent');
  });

  test('running → failed, with the reason', async () => {
    const task = await recorder.create({ prompt: script('say: trying', 'fail: the script broke'), provider: 'scripted' });
    const failed = await recorder.waitForStatus(task.id, 'failed');
    assert.deepEqual(recorder.statusesAfterStart(task.id), ['running', 'failed']);
    assert.match(failed.error ?? '', /the script broke/);
  });

  test('running → cancelled, promptly', async () => {
    const task = await recorder.create({ prompt: script('say: long job', 'sleep: 60000', 'done: never'), provider: 'scripted' });
    await recorder.waitForStatus(task.id, 'running');
    const started = Date.now();
    await api.cancelTask(task.id);
    await recorder.waitForStatus(task.id, 'cancelled', 5_000);
    assert.ok(Date.now() - started < 5_000, 'cancel took too long');
    assert.deepEqual(recorder.statusesAfterStart(task.id), ['running', 'cancelled']);
  });

  test('a pending question is cancelled with its task', async () => {
    const task = await recorder.create({ prompt: script('ask-command: make', 'done: never'), provider: 'scripted' });
    await recorder.waitForStatus(task.id, 'waiting_answer');
    await api.cancelTask(task.id);
    const cancelled = await recorder.waitForStatus(task.id, 'cancelled', 5_000);
    assert.deepEqual(recorder.statusesAfterStart(task.id), ['running', 'waiting_answer', 'cancelled']);
    assert.deepEqual(cancelled.pendingQuestions, [], 'no question stays pending on a cancelled task');
  });

  test('waiting (dependsOn an unfinished task) → pending → running → completed', async () => {
    const first = await recorder.create({ prompt: script('sleep: 1500', 'done: first'), provider: 'scripted' });
    const second = await recorder.create({ prompt: script('say: after first', 'done: second'), provider: 'scripted', dependsOn: [first.id] });
    assert.equal(second.status, 'waiting', 'a task with an unfinished dependency starts waiting');
    assert.deepEqual(second.dependsOn, [first.id]);
    await recorder.waitForStatus(second.id, 'completed', 20_000);
    assert.equal(api.getTask(first.id)?.status, 'completed');
    assert.deepEqual(recorder.statuses(second.id), ['waiting', 'pending', 'running', 'completed']);
    const firstDone = api.getTask(first.id)?.timestamps.completed ?? Infinity;
    const secondStarted = api.getTask(second.id)?.timestamps.started ?? -Infinity;
    assert.ok(secondStarted >= firstDone, 'the dependent task started only after its dependency completed');
  });

  test('waiting → failed when a dependency does not complete', async () => {
    const first = await recorder.create({ prompt: script('sleep: 60000'), provider: 'scripted' });
    const second = await recorder.create({ prompt: 'say: never runs', provider: 'scripted', dependsOn: [first.id] });
    assert.equal(second.status, 'waiting');
    await recorder.waitForStatus(first.id, 'running');
    await api.cancelTask(first.id);
    const failed = await recorder.waitForStatus(second.id, 'failed', 10_000);
    assert.deepEqual(recorder.statuses(second.id), ['waiting', 'failed']);
    assert.ok(failed.error, 'the failed dependent says why');
  });

  test('createTask rejects an unknown dependency and an unknown provider', async () => {
    await assert.rejects(api.createTask({ prompt: 'say: x', provider: 'scripted', dependsOn: ['no-such-task-000'] }), /no-such-task-000|depend/i);
    await assert.rejects(api.createTask({ prompt: 'say: x', provider: 'no-such-provider' }), /no-such-provider|provider/i);
  });

  test('running → timed_out (timeoutMinutes)', async () => {
    const task = await recorder.create({ prompt: script('say: slow', 'sleep: 5000', 'done: too late'), provider: 'scripted', timeoutMinutes: 0.01 });
    const timedOut = await recorder.waitForStatus(task.id, 'timed_out', 10_000);
    assert.deepEqual(recorder.statusesAfterStart(task.id), ['running', 'timed_out']);
    const started = timedOut.timestamps.started ?? timedOut.timestamps.created;
    const ended = timedOut.timestamps.completed ?? timedOut.timestamps.updated;
    assert.ok(ended - started < 4_000, `timed out after ${ended - started} ms, expected about 600 ms`);
  });

  test('rate_limited → retried, at most 3 attempts in all → failed', async () => {
    const task = await recorder.create({ prompt: script('say: calling the model', 'rate-limit: 429 Too Many Requests'), provider: 'scripted' });
    const failed = await recorder.waitForStatus(task.id, 'failed', 45_000);
    const seen = recorder.statuses(task.id);
    assert.ok(seen.includes('rate_limited'), `went ${seen.join(' → ')}`);
    assert.equal(count(seen, 'running'), 3, `3 attempts expected, went ${seen.join(' → ')}`);
    assert.ok(count(seen, 'rate_limited') >= 2, `went ${seen.join(' → ')}`);
    for (let i = 1; i < seen.length; i++) {
      if (seen[i - 1] === 'rate_limited') assert.ok(['pending', 'running', 'failed'].includes(seen[i]), `rate_limited → ${seen[i]}`);
    }
    assert.match(failed.error ?? '', /rate|429|limit/i);
    if (failed.rateLimitAttempts !== undefined) assert.equal(failed.rateLimitAttempts, 3);
  });

  test('agentTasks.newTask with an args object returns the new task id, no UI', async () => {
    const id = await vscode.commands.executeCommand<string>('agentTasks.newTask', { prompt: script('say: from the command', 'done: ok'), provider: 'scripted', labels: ['cmd'] });
    assert.equal(typeof id, 'string', `newTask returned ${JSON.stringify(id)}`);
    const done = await recorder.waitForStatus(id, 'completed');
    assert.equal(done.provider, 'scripted');
    assert.deepEqual(done.labels, ['cmd']);
  });

  test('usage is reported on the task', async () => {
    const task = await recorder.create({ prompt: script('usage: 120|45|0.01', 'done: counted'), provider: 'scripted' });
    const done = await recorder.waitForStatus(task.id, 'completed');
    assert.equal(done.usage?.inputTokens, 120);
    assert.equal(done.usage?.outputTokens, 45);
  });
});
