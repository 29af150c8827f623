import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import type { TaskStatus } from '../../../src/core/task-state';
import { Harness, removeTempDirs, settle, type HarnessOptions } from '../../support/core-harness';

after(removeTempDirs);

/** DESIGN §3 again, so the property checks the code against the design rather than against itself. */
const ALLOWED: Record<TaskStatus, readonly TaskStatus[]> = {
  waiting: ['pending', 'failed', 'cancelled', 'unknown'],
  pending: ['running', 'failed', 'cancelled', 'unknown'],
  running: ['waiting_answer', 'rate_limited', 'completed', 'failed', 'timed_out', 'cancelled', 'unknown'],
  waiting_answer: ['running', 'failed', 'timed_out', 'cancelled', 'unknown'],
  rate_limited: ['pending', 'running', 'failed', 'timed_out', 'cancelled', 'unknown'],
  completed: [],
  failed: [],
  timed_out: [],
  cancelled: [],
  unknown: [],
};
const TERMINAL = new Set<TaskStatus>(['completed', 'failed', 'timed_out', 'cancelled', 'unknown']);

const STEPS = [
  'say: hello',
  'think: hmm',
  'run: make',
  'ask-command: npm test',
  'ask-input: Which?|a|b',
  'ask-tool: lookup|{}',
  'fail: broken',
  'rate-limit: 429',
  'rate-limit-once: 429 once',
  'sleep: 600000',
  'usage: 1|2|0.1',
  'done: finished',
];

type Op =
  | { kind: 'create'; steps: string[]; deps: number[]; timeoutMinutes: number; pin: boolean }
  | { kind: 'answer'; task: number; how: 'approve' | 'deny' | 'wrong-kind' | 'wrong-request' }
  | { kind: 'cancel'; task: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'retry'; task: number }
  | { kind: 'followUp'; task: number; steps: string[] }
  | { kind: 'clearFinished' }
  | { kind: 'restore' };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      steps: fc.array(fc.constantFrom(...STEPS), { minLength: 1, maxLength: 4 }),
      deps: fc.array(fc.nat(30), { maxLength: 2 }),
      timeoutMinutes: fc.constantFrom(0, 0, 1, 5),
      pin: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('answer' as const), task: fc.nat(30), how: fc.constantFrom('approve' as const, 'deny' as const, 'wrong-kind' as const, 'wrong-request' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), task: fc.nat(30) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(1_000, 30_000, 60_000, 61_000, 300_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const), task: fc.nat(30) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('followUp' as const), task: fc.nat(30), steps: fc.array(fc.constantFrom(...STEPS), { minLength: 1, maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clearFinished' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restore' as const }) },
);

const OPTIONS: Omit<HarnessOptions, 'dir' | 'clock'> = {
  settings: { maxConcurrentTasks: 2, questionTimeoutMinutes: 2 },
  profiles: [
    { id: 'A', provider: 'scripted' },
    { id: 'B', provider: 'scripted' },
  ],
};

/** Watches every store the run goes through and collects every violation of the FSM and its promises. */
class Invariants {
  readonly violations: string[] = [];
  /** The last status seen per task id, across reloads. */
  readonly lastStatus = new Map<string, TaskStatus>();
  /** Tasks removed on purpose (clearFinished). */
  readonly deleted = new Set<string>();
  private current: Harness | undefined;

  watch(h: Harness): void {
    this.current = h;
    h.store.onDidChange((change) => {
      const { id, status } = change.task;
      if (h !== this.current) {
        this.violations.push(`${change.kind} of ${id} (${status}) on a store whose manager was disposed`);
        return;
      }
      if (change.kind === 'created') {
        const before = this.lastStatus.get(id);
        if (before !== undefined && before !== status) this.violations.push(`${id} was ${before} before the reload but restored as ${status}`);
        this.lastStatus.set(id, status);
        return;
      }
      if (change.kind === 'deleted') {
        if (!TERMINAL.has(status)) this.violations.push(`${id} was removed while ${status}`);
        this.deleted.add(id);
        return;
      }
      const from = change.previousStatus;
      if (from !== this.lastStatus.get(id)) this.violations.push(`${id}: event says from ${from}, last seen ${this.lastStatus.get(id)}`);
      if (TERMINAL.has(from)) this.violations.push(`${id}: a ${from} task was updated again (to ${status})`);
      else if (from !== status) {
        if (!ALLOWED[from].includes(status)) this.violations.push(`${id}: ${from} → ${status} is not in the FSM table`);
      }
      this.lastStatus.set(id, status);
      const active = h.store.all().filter((task) => task.status === 'running' || task.status === 'waiting_answer').length;
      if (active > h.settings.maxConcurrentTasks) this.violations.push(`${active} tasks active with a limit of ${h.settings.maxConcurrentTasks}`);
      if ((change.task.rateLimitAttempts ?? 0) > 3) this.violations.push(`${id}: ${change.task.rateLimitAttempts} rate-limited attempts`);
    });
  }

  /** Checks that hold whenever nothing is in flight. */
  checkQuiet(h: Harness): void {
    for (const task of h.store.all()) {
      const asking = task.pendingQuestions.length > 0;
      if ((task.status === 'waiting_answer') !== asking) this.violations.push(`${task.id}: status ${task.status} with ${task.pendingQuestions.length} pending question(s)`);
      if (TERMINAL.has(task.status) && asking) this.violations.push(`${task.id}: terminal with questions`);
    }
  }
}

async function runOps(ops: Op[]): Promise<string[]> {
  const invariants = new Invariants();
  let h = new Harness(OPTIONS);
  invariants.watch(h);
  const ids: string[] = [];
  const pick = (n: number): string | undefined => (ids.length ? ids[n % ids.length] : undefined);
  try {
    for (const op of ops) {
      switch (op.kind) {
        case 'create': {
          const dependsOn = [...new Set(op.deps.map(pick).filter((id): id is string => id !== undefined && h.store.has(id)))];
          const task = await h.manager.createTask({ prompt: op.steps.join('; '), dependsOn, timeoutMinutes: op.timeoutMinutes, profile: op.pin ? 'B' : undefined });
          ids.push(task.id);
          break;
        }
        case 'answer': {
          const id = pick(op.task);
          const task = id ? h.store.get(id) : undefined;
          if (!id || !task) break;
          const question = task.pendingQuestions[0];
          if (op.how === 'wrong-request' || !question) {
            await assert.rejects(h.manager.answer(id, 'req-nobody-asked', { decision: 'approve' }), /not waiting on request/);
          } else if (op.how === 'wrong-kind') {
            await assert.rejects(h.manager.answer(id, question.requestId, { text: 'x', success: true, answers: 'nope' } as never));
          } else {
            const answer =
              question.type === 'user_input' ? { answers: { q1: ['a'] } } : question.type === 'dynamic_tool' ? { text: 'ok', success: op.how === 'approve' } : { decision: op.how };
            await h.manager.answer(id, question.requestId, answer as never);
          }
          break;
        }
        case 'cancel': {
          const id = pick(op.task);
          if (!id || !h.store.has(id)) break;
          let done = false;
          const cancelling = h.manager.cancelTask(id).then(() => (done = true));
          await settle();
          if (!done) await h.clock.advance(5_000);
          await cancelling;
          if (!TERMINAL.has(h.store.get(id)!.status)) invariants.violations.push(`${id} is ${h.store.get(id)!.status} after cancel`);
          break;
        }
        case 'advance':
          await h.clock.advance(op.ms);
          break;
        case 'retry':
        case 'followUp': {
          const id = pick(op.task);
          const task = id ? h.store.get(id) : undefined;
          if (!id || !task) break;
          const make = (): Promise<{ id: string; parentId?: string }> =>
            op.kind === 'retry' ? h.manager.retryTask(id) : h.manager.sendFollowUp(id, op.steps.join('; '));
          if (!TERMINAL.has(task.status) || (op.kind === 'followUp' && !task.sessionId)) {
            await assert.rejects(make());
            break;
          }
          const linked = await make();
          if (linked.parentId !== id) invariants.violations.push(`${linked.id} does not link to ${id}`);
          ids.push(linked.id);
          break;
        }
        case 'clearFinished':
          await h.manager.clearFinished();
          break;
        case 'restore':
          h = await h.reload({ ...OPTIONS, restore: false });
          invariants.watch(h);
          assert.deepEqual(h.manager.restore(), []);
          for (const id of invariants.lastStatus.keys()) {
            if (!h.store.has(id) && !invariants.deleted.has(id)) invariants.violations.push(`${id} was lost by the reload`);
          }
          break;
      }
      await settle(10);
      invariants.checkQuiet(h);
    }
  } finally {
    await h.dispose();
  }
  return invariants.violations;
}

test('no sequence of operations leaves a task in a state the FSM forbids; terminal tasks never change', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArbitrary, { minLength: 1, maxLength: 25 }), async (ops) => {
      const violations = await runOps(ops);
      assert.deepEqual(violations, []);
    }),
    { numRuns: Number(process.env.FC_RUNS ?? 60), seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31), path: process.env.FC_PATH },
  );
});

test('a hand-written busy sequence (failover, questions, timeouts, reloads) keeps the invariants', async () => {
  const violations = await runOps([
    { kind: 'create', steps: ['ask-command: npm test', 'rate-limit-once: 429 once', 'done: finished'], deps: [], timeoutMinutes: 5, pin: false },
    { kind: 'create', steps: ['sleep: 600000'], deps: [0], timeoutMinutes: 1, pin: false },
    { kind: 'create', steps: ['rate-limit: 429'], deps: [], timeoutMinutes: 0, pin: true },
    { kind: 'answer', task: 0, how: 'wrong-kind' },
    { kind: 'answer', task: 0, how: 'approve' },
    { kind: 'restore' },
    { kind: 'advance', ms: 61_000 },
    { kind: 'create', steps: ['ask-input: Which?|a|b'], deps: [1], timeoutMinutes: 0, pin: false },
    { kind: 'advance', ms: 300_000 },
    { kind: 'restore' },
    { kind: 'cancel', task: 2 },
  ]);
  assert.deepEqual(violations, []);
});
