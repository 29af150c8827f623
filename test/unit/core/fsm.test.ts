import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canTransition, IllegalTransitionError } from '../../../src/core/fsm';
import { TaskStore } from '../../../src/core/task-store';
import { isTerminal, TASK_STATUSES, type TaskState, type TaskStatus } from '../../../src/core/task-state';

/**
 * DESIGN §3, written out again (deliberately not imported from src):
 *
 * | from           | allowed next                                                        |
 * |----------------|---------------------------------------------------------------------|
 * | waiting        | pending, failed, cancelled, unknown                                 |
 * | pending        | running, failed, cancelled, unknown                                 |
 * | running        | waiting_answer, rate_limited, completed, failed, timed_out, cancelled, unknown |
 * | waiting_answer | running, failed, timed_out, cancelled, unknown                      |
 * | rate_limited   | pending, running, failed, timed_out, cancelled, unknown             |
 * | terminal       | none                                                                |
 */
const ALLOWED: Record<TaskStatus, TaskStatus[]> = {
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

const STATUSES: TaskStatus[] = ['waiting', 'pending', 'running', 'rate_limited', 'waiting_answer', 'completed', 'failed', 'timed_out', 'cancelled', 'unknown'];
const TERMINAL: TaskStatus[] = ['completed', 'failed', 'timed_out', 'cancelled', 'unknown'];

function taskIn(status: TaskStatus): TaskState {
  return {
    id: 'brave-otter-123',
    status,
    provider: 'scripted',
    taskType: 'general',
    prompt: 'say: hi',
    cwd: '/tmp',
    timestamps: { created: 1000, updated: 1000, started: 1000 },
    output: [{ at: 1000, kind: 'user', text: 'say: hi' }],
    dependsOn: ['calm-heron-456'],
    labels: ['one'],
    pendingQuestions: [{ type: 'command_approval', requestId: 'r1', askedAt: 1000, command: 'ls' }],
  };
}

describe('the status list', () => {
  test('has exactly the ten statuses of DESIGN §2', () => {
    assert.deepEqual([...TASK_STATUSES].sort(), [...STATUSES].sort());
  });

  test('terminal statuses are completed, failed, timed_out, cancelled and unknown', () => {
    for (const status of STATUSES) assert.equal(isTerminal(status), TERMINAL.includes(status), status);
  });
});

describe('canTransition, every (from, to) pair', () => {
  for (const from of STATUSES) {
    for (const to of STATUSES) {
      const allowed = ALLOWED[from].includes(to);
      test(`${from} → ${to} is ${allowed ? 'allowed' : 'refused'}`, () => {
        assert.equal(canTransition(from, to), allowed);
      });
    }
  }
});

describe('TaskStore.update enforces the FSM', () => {
  for (const from of STATUSES) {
    for (const to of STATUSES) {
      if (from === to) continue;
      if (ALLOWED[from].includes(to)) {
        test(`${from} → ${to} is applied and announced`, () => {
          const store = new TaskStore(() => 2000);
          store.add(taskIn(from));
          const events: { previousStatus: TaskStatus; status: TaskStatus }[] = [];
          store.onDidChange((change) => {
            if (change.kind === 'updated') events.push({ previousStatus: change.previousStatus, status: change.task.status });
          });
          store.update('brave-otter-123', { status: to });
          assert.equal(store.get('brave-otter-123')?.status, to);
          assert.deepEqual(events, [{ previousStatus: from, status: to }]);
        });
      } else {
        test(`${from} → ${to} is rejected before any mutation`, () => {
          const store = new TaskStore(() => 2000);
          store.add(taskIn(from));
          const before = structuredClone(store.get('brave-otter-123'));
          let events = 0;
          store.onDidChange(() => events++);
          assert.throws(
            () => store.update('brave-otter-123', { status: to, error: 'changed', labels: ['two'], pendingQuestions: [], sessionId: 'new-session', timestamps: { started: 5 } }),
            (error: unknown) => error instanceof IllegalTransitionError && error.from === from && error.to === to && error.taskId === 'brave-otter-123',
          );
          assert.deepEqual(store.get('brave-otter-123'), before);
          assert.equal(events, 0, 'no change event');
          assert.deepEqual(store.findBySession('new-session'), [], 'the session index is untouched too');
        });
      }
    }
  }

  test('a patch that keeps the status is not a transition (even for a terminal task)', () => {
    const store = new TaskStore(() => 2000);
    store.add(taskIn('completed'));
    store.update('brave-otter-123', { status: 'completed', result: 'done' });
    assert.equal(store.get('brave-otter-123')?.result, 'done');
  });

  test('entering a terminal status stamps timestamps.completed once', () => {
    let now = 2000;
    const store = new TaskStore(() => now);
    store.add(taskIn('running'));
    store.update('brave-otter-123', { status: 'completed' });
    assert.equal(store.get('brave-otter-123')?.timestamps.completed, 2000);
    now = 3000;
    store.update('brave-otter-123', { result: 'later' });
    assert.equal(store.get('brave-otter-123')?.timestamps.completed, 2000);
    assert.equal(store.get('brave-otter-123')?.timestamps.updated, 3000);
  });
});
