import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, describe, test } from 'node:test';
import type { TaskError } from '../../../src/core/task-manager';
import type { Answer } from '../../../src/core/task-state';
import { QuestionWithdrawnError, type TaskWorkspaces } from '../../../src/core/ports';
import type { TaskSnapshot } from '../../../src/core/task-state';
import { Harness, ProgrammableProvider, readStateJson, removeTempDirs, settle, untilAborted } from '../../support/core-harness';

after(removeTempDirs);

const decisionOf = (answer: Answer | undefined): string | undefined => (answer && 'decision' in answer ? answer.decision : undefined);

/** Runs a test body with a fresh harness and always disposes it. */
async function withHarness(body: (h: Harness) => Promise<void>, options: ConstructorParameters<typeof Harness>[0] = {}): Promise<void> {
  const h = new Harness(options);
  try {
    await body(h);
  } finally {
    await h.dispose();
  }
}

describe('task ids', () => {
  test('are adjective-animal-NNN and unique in the store', () =>
    withHarness(async (h) => {
      const ids = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const task = await h.manager.createTask({ prompt: 'done: ok' });
        assert.match(task.id, /^[a-z]+-[a-z]+-\d{3}$/);
        ids.add(task.id);
      }
      assert.equal(ids.size, 200);
    }));
});

describe('a plain run', () => {
  test('goes pending → running → completed with the result, and the transcript tells the story', () =>
    withHarness(async (h) => {
      const task = await h.create('say: hi; think: hmm; run: ls; usage: 10|20|0.5; done: all good');
      const done = await h.waitForStatus(task.id, 'completed');
      assert.equal(done.result, 'all good');
      assert.equal(done.error, undefined);
      assert.deepEqual(done.usage, { inputTokens: 10, outputTokens: 20, costUsd: 0.5 });
      assert.equal(done.sessionId, `scripted-session-${task.id}`);
      assert.deepEqual(h.statusesOf(task.id), ['pending', 'running', 'completed']);
      assert.ok(done.timestamps.started !== undefined && done.timestamps.completed !== undefined);
      const entries = h.entries(task.id).map((entry) => `${entry.kind}: ${entry.text}`);
      assert.deepEqual(entries, ['user: say: hi; think: hmm; run: ls; usage: 10|20|0.5; done: all good', 'agent: hi', 'reasoning: hmm', 'command: ls', 'status: Completed']);
    }));

  test('without done: the result is the last agent message', () =>
    withHarness(async (h) => {
      const task = await h.create('say: first; say: last words');
      assert.equal((await h.waitForStatus(task.id, 'completed')).result, 'last words');
    }));

  test('snapshots handed out are copies; onDidChangeTask fires with snapshots', () =>
    withHarness(async (h) => {
      const seen: string[] = [];
      h.manager.onDidChangeTask((snapshot) => seen.push(snapshot.status));
      const task = await h.create('done: ok');
      await h.waitForStatus(task.id, 'completed');
      const snapshot = h.manager.getTask(task.id)!;
      snapshot.status = 'failed';
      assert.equal(h.manager.getTask(task.id)!.status, 'completed');
      assert.deepEqual(seen.filter((status, i) => status !== seen[i - 1]), ['pending', 'running', 'completed']);
      assert.ok(seen.length > 3, 'every change is announced, not only status changes (session id, usage…)');
      assert.deepEqual(h.manager.listTasks().map((t) => t.id), [task.id]);
    }));
});

describe('questions and answers', () => {
  test('ask-command → waiting_answer with the question → approve → running → completed', () =>
    withHarness(async (h) => {
      const asked: string[] = [];
      h.manager.onDidAskQuestion(({ taskId, question }) => asked.push(`${taskId} ${question.type}`));
      const task = await h.create('ask-command: touch x; done: ok');
      const waiting = await h.waitForStatus(task.id, 'waiting_answer');
      assert.equal(waiting.pendingQuestions.length, 1);
      const question = waiting.pendingQuestions[0];
      assert.equal(question.type, 'command_approval');
      assert.ok(question.type === 'command_approval' && question.command === 'touch x');
      assert.equal(question.askedAt, h.clock.now());
      assert.deepEqual(asked, [`${task.id} command_approval`]);

      await h.manager.answer(task.id, question.requestId, { decision: 'approve' });
      const done = await h.waitForStatus(task.id, 'completed');
      assert.deepEqual(h.statusesOf(task.id), ['pending', 'running', 'waiting_answer', 'running', 'completed']);
      assert.deepEqual(done.pendingQuestions, []);
      assert.deepEqual(h.scripted!.asksOf(task.id).map((ask) => [ask.state, ask.answer]), [['answered', { decision: 'approve' }]]);
      const texts = h.texts(task.id);
      assert.ok(texts.includes('Approved: run touch x'), texts.join('\n'));
      assert.ok(h.entries(task.id).some((entry) => entry.kind === 'command' && entry.detail === 'approved'));
    }));

  test('deny is passed to the agent, which goes on', () =>
    withHarness(async (h) => {
      const task = await h.create('ask-command: rm -rf /; done: ok');
      await h.waitForStatus(task.id, 'waiting_answer');
      await h.manager.answer(task.id, h.question(task.id).requestId, { decision: 'deny', message: 'no way' });
      await h.waitForStatus(task.id, 'completed');
      assert.ok(h.texts(task.id).includes('Denied: run rm -rf / — no way'));
      assert.ok(h.entries(task.id).some((entry) => entry.kind === 'command' && entry.detail === 'declined'));
    }));

  test('each kind of question takes its kind of answer', () =>
    withHarness(async (h) => {
      const task = await h.create('ask-input: Which?|red|blue; ask-elicit: Your name; ask-tool: lookup|{"q":1}; ask-file: out.txt|hello; done: ok');
      await h.waitForStatus(task.id, 'waiting_answer');
      await h.manager.answer(task.id, h.question(task.id).requestId, { answers: { q1: ['blue'] } });
      await h.until(() => h.task(task.id).pendingQuestions[0]?.type === 'elicitation', 'the elicitation');
      await h.manager.answer(task.id, h.question(task.id).requestId, { action: 'accept', content: { name: 'Ada', count: 2 } });
      await h.until(() => h.task(task.id).pendingQuestions[0]?.type === 'dynamic_tool', 'the tool call');
      await h.manager.answer(task.id, h.question(task.id).requestId, { text: '42', success: true });
      await h.until(() => h.task(task.id).pendingQuestions[0]?.type === 'file_approval', 'the file approval');
      await h.manager.answer(task.id, h.question(task.id).requestId, { decision: 'approve' });
      await h.waitForStatus(task.id, 'completed');
      assert.equal(fs.readFileSync(`${h.dir}/out.txt`, 'utf8'), 'hello');
      const texts = h.texts(task.id);
      for (const line of ['You chose: blue', 'elicitation accept {"name":"Ada","count":2}', 'lookup → 42 (ok)', 'Added out.txt']) assert.ok(texts.includes(line), `${line} in\n${texts.join('\n')}`);
    }));

  test('an answer to a request that is not pending is rejected, and so is a second answer to the same request', () =>
    withHarness(async (h) => {
      const task = await h.create('ask-command: touch x; sleep: 10000');
      await h.waitForStatus(task.id, 'waiting_answer');
      const { requestId } = h.question(task.id);
      await assert.rejects(h.manager.answer(task.id, 'req-does-not-exist', { decision: 'approve' }), /not waiting on request req-does-not-exist/);
      await assert.rejects(h.manager.answer('ghost-gnu-999', requestId, { decision: 'approve' }), /Unknown task ghost-gnu-999/);
      await h.manager.answer(task.id, requestId, { decision: 'approve' });
      await assert.rejects(h.manager.answer(task.id, requestId, { decision: 'deny' }), /not waiting on request/);
      assert.equal(decisionOf(h.scripted!.asksOf(task.id)[0].answer), 'approve', 'the first answer stands');
    }));

  test('an answer of the wrong kind is rejected and the question stays pending', () =>
    withHarness(async (h) => {
      const task = await h.create('ask-command: touch x; done: ok');
      await h.waitForStatus(task.id, 'waiting_answer');
      const { requestId } = h.question(task.id);
      await assert.rejects(h.manager.answer(task.id, requestId, { answers: { q1: ['yes'] } }), /decision "approve", "approveForSession" or "deny"/);
      await assert.rejects(h.manager.answer(task.id, requestId, { action: 'accept' }), /decision/);
      await assert.rejects(h.manager.answer(task.id, requestId, { decision: 'maybe' } as never), /decision/);
      assert.equal(h.status(task.id), 'waiting_answer');
      assert.equal(h.question(task.id).requestId, requestId);
      assert.equal(h.scripted!.asksOf(task.id)[0].state, 'pending');
      await h.manager.answer(task.id, requestId, { decision: 'approveForSession' });
      await h.waitForStatus(task.id, 'completed');
    }));

  test('an elicitation answer must fit its schema', () =>
    withHarness(async (h) => {
      const task = await h.create('ask-elicit: Who are you?');
      await h.waitForStatus(task.id, 'waiting_answer');
      const { requestId } = h.question(task.id);
      await assert.rejects(h.manager.answer(task.id, requestId, { action: 'accept', content: {} }), /"name" is required/);
      await assert.rejects(h.manager.answer(task.id, requestId, { action: 'accept', content: { name: 'x', count: 1.5 } }), /whole number/);
      await h.manager.answer(task.id, requestId, { action: 'decline' });
      await h.waitForStatus(task.id, 'completed');
    }));
});

describe('cancel', () => {
  test('while running → cancelled, the agent is aborted', () =>
    withHarness(async (h) => {
      const task = await h.create('say: working; sleep: 60000; done: never');
      await h.waitForStatus(task.id, 'running');
      await h.manager.cancelTask(task.id);
      const cancelled = h.task(task.id);
      assert.equal(cancelled.status, 'cancelled');
      assert.equal(cancelled.result, undefined);
      assert.deepEqual(h.statusesOf(task.id), ['pending', 'running', 'cancelled']);
      assert.ok(h.texts(task.id).includes('Cancelled'));
    }));

  test('while waiting_answer → cancelled, and the pending question promise is rejected', () =>
    withHarness(async (h) => {
      const task = await h.create('ask-command: touch x; done: never');
      await h.waitForStatus(task.id, 'waiting_answer');
      const { requestId } = h.question(task.id);
      await h.manager.cancelTask(task.id);
      assert.equal(h.status(task.id), 'cancelled');
      assert.deepEqual(h.task(task.id).pendingQuestions, []);
      const ask = h.scripted!.asksOf(task.id)[0];
      assert.equal(ask.state, 'rejected');
      assert.ok(ask.error instanceof QuestionWithdrawnError);
      assert.equal(ask.answer, undefined, 'a cancel never answers');
      await assert.rejects(h.manager.answer(task.id, requestId, { decision: 'approve' }), /not waiting on request/);
    }));

  test('a pending (queued) or waiting task is cancelled without ever running', () =>
    withHarness(
      async (h) => {
        const blocker = await h.create('ask-command: hold');
        await h.waitForStatus(blocker.id, 'waiting_answer');
        const queued = await h.create('done: ok');
        const dependent = await h.create('done: ok', { dependsOn: [blocker.id] });
        assert.equal(h.status(queued.id), 'pending');
        assert.equal(h.status(dependent.id), 'waiting');
        await h.manager.cancelTask(queued.id);
        await h.manager.cancelTask(dependent.id);
        assert.deepEqual(h.statusesOf(queued.id), ['pending', 'cancelled']);
        assert.deepEqual(h.statusesOf(dependent.id), ['waiting', 'cancelled']);
        assert.deepEqual(h.scripted!.runsOf(queued.id), []);
      },
      { settings: { maxConcurrentTasks: 1 } },
    ));

  test('cancelling a finished task does nothing; an unknown task is an error', () =>
    withHarness(async (h) => {
      const task = await h.create('done: ok');
      await h.waitForStatus(task.id, 'completed');
      await h.manager.cancelTask(task.id);
      assert.equal(h.status(task.id), 'completed');
      await assert.rejects(h.manager.cancelTask('ghost-gnu-999'), /Unknown task/);
    }));

  test('an agent that ignores the abort is marked cancelled after the grace period', () => {
    const stubborn = new ProgrammableProvider('stubborn', () => new Promise(() => undefined));
    return withHarness(
      async (h) => {
        const task = await h.create('anything', { provider: 'stubborn' });
        await h.waitForStatus(task.id, 'running');
        const cancelling = h.manager.cancelTask(task.id);
        await settle();
        assert.equal(h.status(task.id), 'running', 'waits for the agent first');
        await h.clock.advance(5_000);
        await cancelling;
        assert.equal(h.status(task.id), 'cancelled');
        assert.ok(h.texts(task.id).some((text) => /did not stop in time/.test(text)));
      },
      { providers: [stubborn] },
    );
  });
});

describe('timeouts', () => {
  test('a task that runs past its timeout → timed_out, with the reason', () =>
    withHarness(async (h) => {
      const task = await h.create('sleep: 600000', { timeoutMinutes: 1 });
      await h.waitForStatus(task.id, 'running');
      await h.clock.advance(59_999);
      assert.equal(h.status(task.id), 'running');
      await h.clock.advance(1);
      const timedOut = await h.waitForStatus(task.id, 'timed_out');
      assert.equal(timedOut.error, 'Timed out after 1 min');
      assert.deepEqual(h.statusesOf(task.id), ['pending', 'running', 'timed_out']);
    }));

  test('defaultTimeoutMinutes applies when the input names none; 0 means no timeout', () =>
    withHarness(
      async (h) => {
        const task = await h.create('sleep: 600000');
        const forever = await h.create('sleep: 600000', { timeoutMinutes: 0 });
        assert.equal(h.task(task.id).timeoutMs, 120_000);
        assert.equal(h.task(forever.id).timeoutMs, undefined);
        await h.clock.advance(120_000);
        await h.waitForStatus(task.id, 'timed_out');
        await h.clock.advance(24 * 3_600_000);
        assert.equal(h.status(forever.id), 'running');
        await h.manager.cancelTask(forever.id);
      },
      { settings: { defaultTimeoutMinutes: 2 } },
    ));

  test('a question that nobody answers is DECLINED on questionTimeoutMinutes, never approved', () =>
    withHarness(
      async (h) => {
        const task = await h.create('ask-command: rm -rf build; done: finished');
        await h.waitForStatus(task.id, 'waiting_answer');
        await h.clock.advance(59_000);
        assert.equal(h.status(task.id), 'waiting_answer');
        await h.clock.advance(1_000);
        await h.waitForStatus(task.id, 'completed');
        const ask = h.scripted!.asksOf(task.id)[0];
        assert.equal(ask.state, 'answered');
        assert.equal(decisionOf(ask.answer), 'deny');
        const texts = h.texts(task.id);
        assert.ok(texts.some((text) => text.startsWith('[timeout] No answer after 1 min') && text.includes('was declined')), texts.join('\n'));
        assert.ok(h.entries(task.id).some((entry) => entry.kind === 'command' && entry.detail === 'declined'));
        assert.ok(!texts.some((text) => /^Approved/.test(text)));
      },
      { settings: { questionTimeoutMinutes: 1 } },
    ));

  const declines: [string, string, (answer: unknown) => boolean][] = [
    ['file approval', 'ask-file: a.txt|x', (a) => (a as { decision: string }).decision === 'deny'],
    ['user input', 'ask-input: Go?|yes|no', (a) => JSON.stringify(a) === JSON.stringify({ answers: {} })],
    ['elicitation', 'ask-elicit: Name?', (a) => (a as { action: string }).action === 'decline'],
    ['tool call', 'ask-tool: t|{}', (a) => (a as { success: boolean }).success === false],
  ];
  for (const [kind, script, isRefusal] of declines) {
    test(`an unanswered ${kind} is refused on timeout`, () =>
      withHarness(
        async (h) => {
          const task = await h.create(`${script}; done: ok`);
          await h.waitForStatus(task.id, 'waiting_answer');
          await h.clock.advance(30_000);
          await h.waitForStatus(task.id, 'completed');
          const ask = h.scripted!.asksOf(task.id)[0];
          assert.ok(ask.answer && isRefusal(ask.answer), JSON.stringify(ask.answer));
          assert.equal(fs.existsSync(`${h.dir}/a.txt`), false, 'no file was written');
        },
        { settings: { questionTimeoutMinutes: 0.5 } },
      ));
  }

  test('an answer in time clears the question timer', () =>
    withHarness(
      async (h) => {
        const task = await h.create('ask-command: ok; ask-command: second');
        await h.waitForStatus(task.id, 'waiting_answer');
        await h.clock.advance(30_000);
        await h.manager.answer(task.id, h.question(task.id).requestId, { decision: 'approve' });
        await h.until(() => h.scripted!.asksOf(task.id).length === 2 && h.status(task.id) === 'waiting_answer', 'the second question');
        await h.clock.advance(45_000);
        assert.equal(h.scripted!.asksOf(task.id)[1].state, 'pending', 'the second question has its own full minute');
        assert.equal(decisionOf(h.scripted!.asksOf(task.id)[0].answer), 'approve');
        await h.clock.advance(15_000);
        await h.waitForStatus(task.id, 'completed');
        assert.equal(decisionOf(h.scripted!.asksOf(task.id)[1].answer), 'deny');
      },
      { settings: { questionTimeoutMinutes: 1 } },
    ));
});

describe('failures', () => {
  test('a failed outcome → failed with the error, announced on onDidFail', () =>
    withHarness(async (h) => {
      const failures: TaskError[] = [];
      h.manager.onDidFail((error) => failures.push(error));
      const task = await h.create('say: trying; fail: the build is broken');
      const failed = await h.waitForStatus(task.id, 'failed');
      assert.equal(failed.error, 'the build is broken');
      assert.deepEqual(failures, [{ taskId: task.id, message: 'the build is broken', action: undefined }]);
      assert.ok(h.texts(task.id).includes('Failed: the build is broken'));
    }));

  test('an adapter that throws → failed with its message, logged, and the host goes on', () => {
    const throwing = new ProgrammableProvider('throwing', async () => {
      throw new Error('kaput: socket closed');
    });
    return withHarness(
      async (h) => {
        const task = await h.create('anything', { provider: 'throwing' });
        const failed = await h.waitForStatus(task.id, 'failed');
        assert.equal(failed.error, 'kaput: socket closed');
        assert.ok(h.log.lines.some((line) => line.level === 'error' && line.message.includes('kaput')));
        const next = await h.create('done: still fine');
        await h.waitForStatus(next.id, 'completed');
      },
      { providers: [throwing] },
    );
  });

  test('an adapter that returns aborted without being aborted → failed', () => {
    const quitter = new ProgrammableProvider('quitter', async () => ({ status: 'aborted' }));
    return withHarness(
      async (h) => {
        const task = await h.create('x', { provider: 'quitter' });
        assert.equal((await h.waitForStatus(task.id, 'failed')).error, 'The agent stopped without a result');
      },
      { providers: [quitter] },
    );
  });
});

describe('createTask validation', () => {
  test('an untrusted workspace refuses with a message about trust', () =>
    withHarness(
      async (h) => {
        await assert.rejects(h.manager.createTask({ prompt: 'done: ok' }), /not trusted.*Trust the workspace/s);
        assert.equal(h.store.size, 0);
      },
      { trusted: false },
    ));

  test('an unknown provider is refused, naming the available ones', () =>
    withHarness(async (h) => {
      await assert.rejects(h.manager.createTask({ prompt: 'x', provider: 'nope' }), /Unknown provider "nope"\. Available providers: scripted/);
    }));

  test('an unknown profile, or one of another provider, is refused', () =>
    withHarness(
      async (h) => {
        await assert.rejects(h.manager.createTask({ prompt: 'x', profile: 'ghost' }), /Unknown profile "ghost": add it to the agentTasks\.profiles setting/);
        await assert.rejects(h.manager.createTask({ prompt: 'x', profile: 'work' }), /Profile "work" belongs to codex, not scripted/);
      },
      { profiles: [{ id: 'work', provider: 'codex' }] },
    ));

  test('a bad task type is refused, listing the valid ones', () =>
    withHarness(async (h) => {
      await assert.rejects(h.manager.createTask({ prompt: 'x', taskType: 'wizard' as never }), /Unknown task type "wizard"; use one of coder, planner, tester, researcher, general/);
    }));

  test('an empty prompt, a bad timeout, bad dependsOn and no folder are refused', () =>
    withHarness(async (h) => {
      await assert.rejects(h.manager.createTask({ prompt: '   ' }), /needs a prompt/);
      await assert.rejects(h.manager.createTask(null as never), /needs an object with a prompt/);
      await assert.rejects(h.manager.createTask({ prompt: 'x', timeoutMinutes: -1 }), /timeoutMinutes must be a number ≥ 0/);
      await assert.rejects(h.manager.createTask({ prompt: 'x', dependsOn: 'abc' as never }), /dependsOn must be a list of task ids/);
      await assert.rejects(h.manager.createTask({ prompt: 'x', dependsOn: ['ghost-gnu-999'] }), /Unknown dependency "ghost-gnu-999"/);
      assert.equal(h.store.size, 0, 'nothing was created');
    }));
});

describe('follow-up and retry', () => {
  test('sendFollowUp creates a new task that continues the parent\'s session', () =>
    withHarness(async (h) => {
      const parent = await h.create('say: first answer');
      const done = await h.waitForStatus(parent.id, 'completed');
      const followUp = await h.manager.sendFollowUp(parent.id, 'say: and more');
      assert.notEqual(followUp.id, parent.id);
      assert.equal(followUp.parentId, parent.id);
      assert.equal(followUp.continueSession, true);
      assert.equal(followUp.sessionId, done.sessionId);
      assert.equal(followUp.prompt, 'say: and more');
      await h.waitForStatus(followUp.id, 'completed');
      const run = h.scripted!.runsOf(followUp.id)[0];
      assert.equal(run.sessionId, done.sessionId);
      assert.equal(run.continueSession, true);
      assert.deepEqual(h.store.findBySession(done.sessionId!).map((t) => t.id).sort(), [parent.id, followUp.id].sort());
      assert.equal(h.status(parent.id), 'completed', 'the parent is untouched');
    }));

  test('a follow-up to a live task, an empty follow-up, or one a provider cannot continue is refused', () => {
    const noFollowUps = new ProgrammableProvider('oneshot', async () => ({ status: 'completed', result: 'x' }));
    return withHarness(
      async (h) => {
        const live = await h.create('ask-command: hold');
        await h.waitForStatus(live.id, 'waiting_answer');
        await assert.rejects(h.manager.sendFollowUp(live.id, 'more'), /still waiting answer; send a follow-up once it has finished/);
        const done = await h.create('done: ok');
        await h.waitForStatus(done.id, 'completed');
        await assert.rejects(h.manager.sendFollowUp(done.id, '  '), /needs a message/);
        const oneshot = await h.create('x', { provider: 'oneshot' });
        await h.waitForStatus(oneshot.id, 'completed');
        await assert.rejects(h.manager.sendFollowUp(oneshot.id, 'more'), /cannot continue this conversation; use Retry/);
      },
      { providers: [noFollowUps] },
    );
  });

  test('retryTask creates a new task linked to the old one, with the same prompt and settings', () =>
    withHarness(async (h) => {
      const failed = await h.create('fail: flaky', { labels: ['ci'], timeoutMinutes: 5, taskType: 'tester' });
      await h.waitForStatus(failed.id, 'failed');
      const retry = await h.manager.retryTask(failed.id);
      assert.notEqual(retry.id, failed.id);
      assert.equal(retry.parentId, failed.id);
      assert.equal(retry.prompt, 'fail: flaky');
      assert.equal(retry.taskType, 'tester');
      assert.deepEqual(retry.labels, ['ci']);
      assert.equal(retry.timeoutMs, 300_000);
      assert.equal(retry.continueSession, undefined);
      assert.equal(h.status(failed.id), 'failed', 'the old task stays as it was');
      await h.waitForStatus(retry.id, 'failed');
    }));

  test('retrying a live task is refused', () =>
    withHarness(async (h) => {
      const live = await h.create('sleep: 60000');
      await h.waitForStatus(live.id, 'running');
      await assert.rejects(h.manager.retryTask(live.id), /still running; cancel it before retrying/);
      await h.manager.cancelTask(live.id);
    }));
});

describe('clearFinished', () => {
  test('removes terminal tasks and their transcripts, keeps live tasks and the finished tasks a live task depends on', () =>
    withHarness(async (h) => {
      const kept = await h.create('done: needed');
      const gone = await h.create('fail: not needed');
      await h.waitForStatus(kept.id, 'completed');
      await h.waitForStatus(gone.id, 'failed');
      const blocker = await h.create('ask-command: hold');
      await h.waitForStatus(blocker.id, 'waiting_answer');
      const dependent = await h.create('done: later', { dependsOn: [kept.id, blocker.id] });
      assert.equal(h.status(dependent.id), 'waiting');
      await h.flush();
      assert.ok(fs.existsSync(h.manager.transcriptPath(gone.id)!));
      const removed: string[] = [];
      h.manager.onDidRemoveTask((id) => removed.push(id));

      assert.equal(await h.manager.clearFinished(), 1);
      assert.deepEqual(removed, [gone.id]);
      assert.equal(h.manager.getTask(gone.id), undefined);
      assert.equal(fs.existsSync(h.manager.transcriptPath(gone.id)!), false);
      assert.deepEqual(h.manager.listTasks().map((t) => t.id).sort(), [kept.id, blocker.id, dependent.id].sort());

      await h.manager.answer(blocker.id, h.question(blocker.id).requestId, { decision: 'approve' });
      await h.waitForStatus(dependent.id, 'completed');
      assert.equal(await h.manager.clearFinished(), 3);
      assert.equal(h.store.size, 0);
    }));
});

describe('restore after a reload', () => {
  test('terminal tasks come back as they were, with their transcripts', async () => {
    const first = new Harness();
    const done = await first.create('say: hello; done: ok');
    const failed = await first.create('fail: nope');
    await first.waitForStatus(done.id, 'completed');
    await first.waitForStatus(failed.id, 'failed');
    const second = await first.reload();
    try {
      assert.deepEqual(second.restoreWarnings, []);
      const restored = second.manager.getTask(done.id)!;
      assert.equal(restored.status, 'completed');
      assert.equal(restored.result, 'ok');
      assert.deepEqual(restored.output.map((entry) => entry.text), ['say: hello; done: ok', 'hello', 'Completed']);
      assert.equal(second.manager.getTask(failed.id)!.error, 'nope');
      assert.deepEqual(second.scripted!.runs, [], 'nothing re-ran');
      assert.ok(!second.texts(done.id).some((text) => text.startsWith('[recovery]')));
    } finally {
      await second.dispose();
    }
  });

  test('a running task is resumed by a provider that can resume, with a [recovery] entry', async () => {
    const first = new Harness();
    const task = await first.create('say: started; sleep: 600000');
    await first.waitForStatus(task.id, 'running');
    const second = await first.reload();
    try {
      const resumed = await second.waitForStatus(task.id, 'completed');
      assert.equal(resumed.result, 'resumed');
      assert.equal(resumed.recovered, true);
      assert.deepEqual(second.scripted!.runs.map((run) => [run.mode, run.taskId]), [['resume', task.id]]);
      const texts = second.texts(task.id);
      assert.ok(texts.includes('started'), 'the old transcript is there');
      assert.ok(texts.some((text) => text.startsWith('[recovery] Reconnecting to Scripted (tests)')), texts.join('\n'));
      assert.ok(texts.includes('Scripted provider resumed the session'));
    } finally {
      await second.dispose();
    }
  });

  test('a task waiting on an answer is resumed too (its question is the agent\'s to re-ask)', async () => {
    const first = new Harness();
    const task = await first.create('ask-command: touch x');
    await first.waitForStatus(task.id, 'waiting_answer');
    const second = await first.reload();
    try {
      await second.waitForStatus(task.id, 'completed');
      assert.deepEqual(second.statusesOf(task.id), ['waiting_answer', 'running', 'completed']);
      assert.deepEqual(second.task(task.id).pendingQuestions, []);
    } finally {
      await second.dispose();
    }
  });

  test('a rate-limited task whose retry time has passed goes back to pending', async () => {
    const first = new Harness();
    const task = await first.create('rate-limit: slow down');
    await first.waitForStatus(task.id, 'rate_limited');
    // The window stays closed past the retry time (50 ms in the scripted provider).
    await first.dispose();
    await first.clock.advance(60_000);
    const second = await first.reload({ settings: { maxConcurrentTasks: 1 } });
    try {
      assert.deepEqual(second.statusesOf(task.id).slice(0, 2), ['rate_limited', 'pending']);
      assert.ok(second.texts(task.id).some((text) => text.startsWith('[recovery] Re-queued') && text.includes('rate limited')));
      assert.equal(second.task(task.id).rateLimitAttempts! >= 1, true, 'attempts are remembered');
    } finally {
      await second.dispose();
    }
  });

  test('a rate-limited task still before its retry time keeps waiting after a reload, then retries', async () => {
    const first = new Harness();
    const task = await first.create('rate-limit: slow down');
    const waiting = await first.waitForStatus(task.id, 'rate_limited');
    const retryAt = waiting.retryAt!;
    const second = await first.reload({ settings: { maxConcurrentTasks: 1 } });
    try {
      assert.equal(second.status(task.id), 'rate_limited');
      assert.equal(second.task(task.id).retryAt, retryAt, 'the wait is the one saved');
      assert.ok(second.texts(task.id).some((text) => text.startsWith('[recovery] Still rate limited after the window reloaded; resumes at')));
      await second.clock.advance(retryAt - second.clock.now());
      assert.deepEqual(second.statusesOf(task.id).slice(0, 3), ['rate_limited', 'pending', 'running']);
    } finally {
      await second.dispose();
    }
  });

  test('waiting and pending tasks are re-queued and run', async () => {
    const first = new Harness({ settings: { maxConcurrentTasks: 1 } });
    const blocker = await first.create('ask-command: hold');
    await first.waitForStatus(blocker.id, 'waiting_answer');
    const queued = await first.create('done: queued ran');
    const dependent = await first.create('done: dependent ran', { dependsOn: [queued.id] });
    const second = await first.reload({ settings: { maxConcurrentTasks: 1 } });
    try {
      await second.waitForStatus(queued.id, 'completed');
      await second.waitForStatus(dependent.id, 'completed');
      assert.ok(second.texts(queued.id).includes('[recovery] Re-queued after the window reloaded'));
      assert.ok(second.texts(dependent.id).includes('[recovery] Re-queued after the window reloaded'));
    } finally {
      await second.dispose();
    }
  });

  test('a provider without resume → unknown, with a [recovery] entry', async () => {
    const runner = new ProgrammableProvider('noresume', (context) => untilAborted(context.signal));
    const first = new Harness({ providers: [runner] });
    const task = await first.create('work', { provider: 'noresume' });
    await first.waitForStatus(task.id, 'running');
    const second = await first.reload({ providers: [new ProgrammableProvider('noresume', (context) => untilAborted(context.signal))] });
    try {
      const lost = await second.waitForStatus(task.id, 'unknown');
      assert.match(lost.error ?? '', /Lost when the window reloaded: Programmable \(noresume\) cannot resume/);
      assert.ok(second.texts(task.id).some((text) => text.startsWith('[recovery] The agent process was lost')));
    } finally {
      await second.dispose();
    }
  });

  test('a provider that never registers again → unknown after the wait', async () => {
    const first = new Harness({ providers: [new ProgrammableProvider('vanishing', (context) => untilAborted(context.signal))] });
    const task = await first.create('work', { provider: 'vanishing' });
    await first.waitForStatus(task.id, 'running');
    const second = await first.reload();
    try {
      assert.equal(second.status(task.id), 'running', 'waits for the provider to register');
      await second.clock.advance(15_000);
      const lost = await second.waitForStatus(task.id, 'unknown');
      assert.match(lost.error ?? '', /provider vanishing is not available/);
    } finally {
      await second.dispose();
    }
  });

  test('a task the user cancelled stays cancelled even when the window closes before the agent stopped', async () => {
    const slow = (): ProgrammableProvider => new ProgrammableProvider('slowstop', () => new Promise(() => undefined));
    const first = new Harness({ providers: [slow()] });
    const task = await first.create('work', { provider: 'slowstop' });
    await first.waitForStatus(task.id, 'running');
    void first.manager.cancelTask(task.id);
    await settle();
    assert.equal(first.status(task.id), 'running', 'still waiting for the agent to stop');
    const second = await first.reload({ providers: [slow()] });
    try {
      assert.equal(second.status(task.id), 'cancelled');
      assert.equal((second.registry.get('slowstop') as ProgrammableProvider).runs.length, 0, 'not resumed or restarted');
    } finally {
      await second.dispose();
    }
  });

  test('a provider that registers late resumes its tasks', async () => {
    const first = new Harness();
    const task = await first.create('sleep: 600000');
    await first.waitForStatus(task.id, 'running');
    const second = await first.reload({ scripted: false });
    try {
      assert.equal(second.status(task.id), 'running');
      const late = new ProgrammableProvider('scripted', async () => ({ status: 'completed' }));
      Object.assign(late, { resume: async () => ({ status: 'completed', result: 'late resume' }) });
      second.registry.register(late);
      assert.equal((await second.waitForStatus(task.id, 'completed')).result, 'late resume');
    } finally {
      await second.dispose();
    }
  });
});

describe('saving', () => {
  test('a task entering a terminal state is written at once, even when it is the only change', () =>
    withHarness(async (h) => {
      const task = await h.create('sleep: 600000', { timeoutMinutes: 1 });
      await h.waitForStatus(task.id, 'running');
      await h.flush();
      const saves = h.stateFile!.saveCount;
      await h.clock.advance(60_000);
      await h.waitForStatus(task.id, 'timed_out');
      await h.until(() => h.stateFile!.saveCount > saves, 'the urgent save');
      assert.equal(readStateJson(h.dir).tasks.find((t) => t.id === task.id)?.status, 'timed_out');
    }));

  test('a task entering waiting_answer is written at once, without waiting for the debounce', () =>
    withHarness(async (h) => {
      const task = await h.create('ask-command: x');
      await h.waitForStatus(task.id, 'waiting_answer');
      await h.until(() => h.stateFile!.saveCount > 0, 'the urgent save');
      await settle();
      const saved = readStateJson(h.dir).tasks.find((t) => t.id === task.id);
      assert.equal(saved?.status, 'waiting_answer');
      assert.equal(saved?.pendingQuestions.length, 1);
    }));

  test('ordinary changes are debounced into one write', () =>
    withHarness(async (h) => {
      const task = await h.create('say: a; usage: 1|2|0; say: b; sleep: 600000');
      await h.waitForStatus(task.id, 'running');
      await settle();
      assert.equal(h.stateFile!.saveCount, 0);
      await h.clock.advance(500);
      await h.until(() => h.stateFile!.saveCount === 1, 'the debounced save');
      assert.deepEqual(readStateJson(h.dir).tasks[0].usage, { inputTokens: 1, outputTokens: 2, costUsd: 0 });
      await h.manager.cancelTask(task.id);
    }));

  test('after dispose, a question timer never answers the agent (the next window owns the question)', async () => {
    const first = new Harness({ settings: { questionTimeoutMinutes: 1 } });
    const task = await first.create('ask-command: deploy');
    await first.waitForStatus(task.id, 'waiting_answer');
    const ask = first.scripted!.asksOf(task.id)[0];
    let changesAfterDispose = 0;
    await first.dispose();
    first.store.onDidChange(() => changesAfterDispose++);
    await first.clock.advance(10 * 60_000);
    assert.equal(ask.state, 'pending', 'neither approved nor declined by the closed window');
    assert.equal(changesAfterDispose, 0);
  });
});

describe('the agent\'s title (TaskHandle.setTitle)', () => {
  test('is kept on the task as one plain line, and the snapshot carries it', () =>
    withHarness(async (h) => {
      const task = await h.create('say: hi; title:   Add a \u202e--verbose\u200b   flag  ; done: ok');
      const done = await h.waitForStatus(task.id, 'completed');
      assert.equal(done.title, 'Add a --verbose flag');
      assert.equal(h.manager.getTask(task.id)?.title, 'Add a --verbose flag');
    }));

  test('a later title replaces the earlier one; a blank one is ignored', () =>
    withHarness(async (h) => {
      const task = await h.create('title: First name; title: Second name; title:    ; done: ok');
      assert.equal((await h.waitForStatus(task.id, 'completed')).title, 'Second name');
    }));

  test('is capped in length', () =>
    withHarness(async (h) => {
      const task = await h.create(`title: ${'long words '.repeat(100)}; done: ok`);
      const title = (await h.waitForStatus(task.id, 'completed')).title!;
      assert.ok(title.length <= 120, `${title.length} chars`);
      assert.ok(title.startsWith('long words long words'));
    }));

  test('a task without one has no title field (the UI derives it from the prompt)', () =>
    withHarness(async (h) => {
      const task = await h.create('done: ok');
      assert.equal((await h.waitForStatus(task.id, 'completed')).title, undefined);
    }));

  test('is persisted and restored after a reload', async () => {
    const first = new Harness();
    const task = await first.create('title: Rename the module; done: ok');
    await first.waitForStatus(task.id, 'completed');
    await first.flush();
    assert.equal(readStateJson(first.dir).tasks.find((t) => t.id === task.id)?.title, 'Rename the module');
    const second = await first.reload();
    try {
      assert.equal(second.task(task.id).title, 'Rename the module');
    } finally {
      await second.dispose();
    }
  });
});

describe('a rate-limited task', () => {
  test('records when it is retried (the tree shows the wait)', () =>
    withHarness(async (h) => {
      const task = await h.create('rate-limit: slow down');
      await h.waitForStatus(task.id, 'rate_limited');
      const retryAt = h.task(task.id).retryAt;
      assert.ok(retryAt !== undefined && retryAt > h.clock.now(), `retryAt ${retryAt} after now ${h.clock.now()}`);
      await h.manager.cancelTask(task.id);
    }));
});
describe('the prepare phase (TaskWorkspaces.prepare)', () => {
  /** A prepare hook the test finishes by hand; it rejects when its signal aborts, as a well-behaved one does. */
  function manualPrepare(options: { ignoreAbort?: boolean } = {}) {
    const calls: { task: TaskSnapshot; signal: AbortSignal }[] = [];
    let finish!: (error?: Error) => void;
    const workspaces: TaskWorkspaces = {
      prepare: (task, signal) =>
        new Promise<void>((resolve, reject) => {
          calls.push({ task, signal });
          finish = (error) => (error ? reject(error) : resolve());
          if (!options.ignoreAbort) signal.addEventListener('abort', () => reject(new Error('prepare aborted')), { once: true });
        }),
    };
    return { workspaces, calls, finish: (error?: Error) => finish(error) };
  }

  test('runs inside the slot, after running and before adapter.start, which waits for it', async () => {
    const prepare = manualPrepare();
    await withHarness(async (h) => {
      const task = await h.create('done: prepared');
      assert.equal(h.status(task.id), 'running');
      assert.equal(prepare.calls.length, 1);
      assert.equal(prepare.calls[0].task.id, task.id);
      assert.equal(prepare.calls[0].signal.aborted, false);
      await settle();
      assert.equal(h.scripted?.runsOf(task.id).length, 0, 'the adapter has not started yet');
      prepare.finish();
      assert.equal((await h.waitForStatus(task.id, 'completed')).result, 'prepared');
      assert.equal(h.scripted?.runsOf(task.id).length, 1);
      assert.deepEqual(h.statusesOf(task.id), ['pending', 'running', 'completed']);
    }, { workspaces: prepare.workspaces });
  });

  test('a cancel during prepare aborts its signal and ends the task cancelled, without starting the adapter', async () => {
    const prepare = manualPrepare();
    await withHarness(async (h) => {
      const task = await h.create('done: never');
      await h.manager.cancelTask(task.id);
      assert.equal(prepare.calls[0].signal.aborted, true);
      assert.equal(prepare.calls[0].signal.reason, 'cancelled');
      assert.equal(h.status(task.id), 'cancelled');
      assert.deepEqual(h.statusesOf(task.id), ['pending', 'running', 'cancelled']);
      assert.equal(h.scripted?.runsOf(task.id).length, 0);
      assert.equal(h.texts(task.id).at(-1), 'Cancelled');
    }, { workspaces: prepare.workspaces });
  });

  test('a prepare that ignores the abort still keeps the adapter from starting', async () => {
    const prepare = manualPrepare({ ignoreAbort: true });
    await withHarness(async (h) => {
      const task = await h.create('done: never');
      const cancelled = h.manager.cancelTask(task.id);
      await settle();
      prepare.finish();
      await cancelled;
      assert.equal(h.status(task.id), 'cancelled');
      assert.equal(h.scripted?.runsOf(task.id).length, 0);
    }, { workspaces: prepare.workspaces });
  });

  test('a failed prepare fails the task with its message', async () => {
    const prepare = manualPrepare();
    await withHarness(async (h) => {
      const task = await h.create('done: never');
      prepare.finish(new Error('could not create the worktree'));
      const failed = await h.waitForStatus(task.id, 'failed');
      assert.equal(failed.error, 'could not create the worktree');
      assert.equal(h.scripted?.runsOf(task.id).length, 0);
    }, { workspaces: prepare.workspaces });
  });
});
