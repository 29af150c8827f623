import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OUTPUT_RING_SIZE, snapshotOf, TaskStore, type TaskChange } from '../../../src/core/task-store';
import type { TaskState, TaskStatus } from '../../../src/core/task-state';

let clockNow = 1_000;
const now = (): number => clockNow;

function makeTask(id: string, status: TaskStatus = 'pending', extra: Partial<TaskState> = {}): TaskState {
  return {
    id,
    status,
    provider: 'scripted',
    taskType: 'general',
    prompt: `prompt of ${id}`,
    cwd: '/work',
    timestamps: { created: clockNow, updated: clockNow },
    output: [],
    dependsOn: [],
    labels: [],
    pendingQuestions: [],
    ...extra,
  };
}

function recordChanges(store: TaskStore): TaskChange[] {
  const changes: TaskChange[] = [];
  store.onDidChange((change) => changes.push(change));
  return changes;
}

describe('TaskStore basics', () => {
  test('add, get, has, all, size', () => {
    const store = new TaskStore(now);
    const a = store.add(makeTask('amber-ant-101'));
    store.add(makeTask('bold-bee-102'));
    assert.equal(store.get('amber-ant-101'), a);
    assert.ok(store.has('bold-bee-102'));
    assert.equal(store.has('cold-cat-103'), false);
    assert.equal(store.get('cold-cat-103'), undefined);
    assert.deepEqual(store.all().map((task) => task.id), ['amber-ant-101', 'bold-bee-102']);
    assert.equal(store.size, 2);
  });

  test('adding a second task with the same id is refused', () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101'));
    assert.throws(() => store.add(makeTask('amber-ant-101')), /already exists/);
  });

  test('update patches fields, merges timestamps and stamps updated', () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101'));
    clockNow = 5_000;
    store.update('amber-ant-101', { status: 'running', model: 'gpt', timestamps: { started: 4_000 } });
    const task = store.get('amber-ant-101')!;
    assert.equal(task.status, 'running');
    assert.equal(task.model, 'gpt');
    assert.deepEqual(task.timestamps, { created: 1_000, updated: 5_000, started: 4_000 });
  });

  test('update and appendOutput of an unknown task throw', () => {
    const store = new TaskStore(now);
    assert.throws(() => store.update('ghost-gnu-999', { status: 'running' }), /Unknown task ghost-gnu-999/);
    assert.throws(() => store.appendOutput('ghost-gnu-999', { at: 1, kind: 'agent', text: 'x' }), /Unknown task/);
  });

  test('delete removes the task and returns it; deleting twice is harmless', () => {
    const store = new TaskStore(now);
    const task = store.add(makeTask('amber-ant-101'));
    assert.equal(store.delete('amber-ant-101'), task);
    assert.equal(store.has('amber-ant-101'), false);
    assert.equal(store.delete('amber-ant-101'), undefined);
  });

  test('created, updated (with the previous status) and deleted are announced', () => {
    const store = new TaskStore(now);
    const changes = recordChanges(store);
    store.add(makeTask('amber-ant-101'));
    store.update('amber-ant-101', { status: 'running' });
    store.update('amber-ant-101', { labels: ['x'] });
    store.delete('amber-ant-101');
    assert.deepEqual(
      changes.map((change) => [change.kind, change.kind === 'updated' ? change.previousStatus : undefined, change.task.id]),
      [
        ['created', undefined, 'amber-ant-101'],
        ['updated', 'pending', 'amber-ant-101'],
        ['updated', 'running', 'amber-ant-101'],
        ['deleted', undefined, 'amber-ant-101'],
      ],
    );
  });
});

describe('the session index', () => {
  test('findBySession finds a task by the session it was added with or given later', () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101', 'running', { sessionId: 's-1' }));
    store.add(makeTask('bold-bee-102', 'running'));
    store.update('bold-bee-102', { sessionId: 's-2' });
    assert.deepEqual(store.findBySession('s-1').map((task) => task.id), ['amber-ant-101']);
    assert.deepEqual(store.findBySession('s-2').map((task) => task.id), ['bold-bee-102']);
    assert.deepEqual(store.findBySession('s-3'), []);
  });

  test('a follow-up shares its parent\'s session: both are found, newest first', () => {
    const store = new TaskStore(now);
    clockNow = 1_000;
    store.add(makeTask('amber-ant-101', 'completed', { sessionId: 'shared' }));
    clockNow = 2_000;
    store.add(makeTask('bold-bee-102', 'pending', { sessionId: 'shared', parentId: 'amber-ant-101' }));
    assert.deepEqual(store.findBySession('shared').map((task) => task.id), ['bold-bee-102', 'amber-ant-101']);
  });

  test('deleting one task of a shared session keeps the others findable', () => {
    const store = new TaskStore(now);
    clockNow = 1_000;
    store.add(makeTask('amber-ant-101', 'completed', { sessionId: 'shared' }));
    clockNow = 2_000;
    store.add(makeTask('bold-bee-102', 'completed', { sessionId: 'shared' }));
    store.delete('bold-bee-102');
    assert.deepEqual(store.findBySession('shared').map((task) => task.id), ['amber-ant-101']);
    store.delete('amber-ant-101');
    assert.deepEqual(store.findBySession('shared'), []);
  });

  test('a task that moved to another session is no longer found under the old one', () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101', 'running', { sessionId: 'old' }));
    store.update('amber-ant-101', { sessionId: 'new' });
    assert.deepEqual(store.findBySession('old'), []);
    assert.deepEqual(store.findBySession('new').map((task) => task.id), ['amber-ant-101']);
  });
});

describe('the output ring', () => {
  test(`keeps the last ${OUTPUT_RING_SIZE} entries in what snapshotOf hands out`, () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101', 'running'));
    for (let i = 0; i < 1_234; i++) store.appendOutput('amber-ant-101', { at: i, kind: 'agent', text: `line ${i}` });
    const snapshot = snapshotOf(store.get('amber-ant-101')!);
    assert.equal(snapshot.output.length, OUTPUT_RING_SIZE);
    assert.equal(snapshot.output[0].text, `line ${1_234 - OUTPUT_RING_SIZE}`);
    assert.equal(snapshot.output.at(-1)?.text, 'line 1233');
    assert.ok(store.get('amber-ant-101')!.output.length <= 2 * OUTPUT_RING_SIZE, 'memory stays bounded');
    assert.equal(store.get('amber-ant-101')!.timestamps.lastOutput, 1_233);
  });

  test('a snapshot is a plain copy: changing it does not touch the store', () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101', 'running', { labels: ['a'] }));
    store.appendOutput('amber-ant-101', { at: 1, kind: 'agent', text: 'hello' });
    const snapshot = snapshotOf(store.get('amber-ant-101')!);
    snapshot.labels.push('b');
    snapshot.output[0].text = 'changed';
    assert.deepEqual(store.get('amber-ant-101')!.labels, ['a']);
    assert.equal(store.get('amber-ant-101')!.output[0].text, 'hello');
  });

  test('a streaming entry with the same id is replaced in place, not appended', () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101', 'running'));
    store.appendOutput('amber-ant-101', { at: 1, kind: 'agent', text: 'before' });
    store.appendOutput('amber-ant-101', { at: 2, kind: 'agent', text: 'Hel', id: 'msg-1' });
    store.appendOutput('amber-ant-101', { at: 3, kind: 'command', text: 'ls', id: 'cmd-1' });
    const stored = store.appendOutput('amber-ant-101', { at: 4, kind: 'agent', text: 'Hello world', id: 'msg-1' });
    const output = store.get('amber-ant-101')!.output;
    assert.deepEqual(output.map((entry) => entry.text), ['before', 'Hello world', 'ls']);
    assert.equal(output[1], stored);
    assert.equal(output[1].at, 4);
  });

  test('streaming ids are per task', () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101', 'running'));
    store.add(makeTask('bold-bee-102', 'running'));
    store.appendOutput('amber-ant-101', { at: 1, kind: 'agent', text: 'a', id: 'm' });
    store.appendOutput('bold-bee-102', { at: 1, kind: 'agent', text: 'b', id: 'm' });
    assert.deepEqual(store.get('amber-ant-101')!.output.map((entry) => entry.text), ['a']);
    assert.deepEqual(store.get('bold-bee-102')!.output.map((entry) => entry.text), ['b']);
  });

  test('a streaming entry that fell out of the ring starts a new entry', () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101', 'running'));
    store.appendOutput('amber-ant-101', { at: 0, kind: 'agent', text: 'old', id: 'm' });
    for (let i = 1; i <= 2 * OUTPUT_RING_SIZE + 1; i++) store.appendOutput('amber-ant-101', { at: i, kind: 'agent', text: `${i}` });
    store.appendOutput('amber-ant-101', { at: 9_999, kind: 'agent', text: 'new', id: 'm' });
    const output = snapshotOf(store.get('amber-ant-101')!).output;
    assert.equal(output.at(-1)?.text, 'new');
    assert.equal(output.filter((entry) => entry.id === 'm').length, 1);
  });

  test('setOutput replaces the ring (keeping the last entries) and re-opens streaming ids', () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101', 'running'));
    const entries = Array.from({ length: 600 }, (_, i) => ({ at: i, kind: 'agent' as const, text: `${i}`, ...(i === 599 ? { id: 'tail' } : {}) }));
    store.setOutput('amber-ant-101', entries);
    assert.equal(store.get('amber-ant-101')!.output.length, OUTPUT_RING_SIZE);
    store.appendOutput('amber-ant-101', { at: 700, kind: 'agent', text: 'tail, grown', id: 'tail' });
    assert.equal(store.get('amber-ant-101')!.output.length, OUTPUT_RING_SIZE);
    assert.equal(store.get('amber-ant-101')!.output.at(-1)?.text, 'tail, grown');
  });

  test('appending output is not a task change event (views get output separately)', () => {
    const store = new TaskStore(now);
    store.add(makeTask('amber-ant-101', 'running'));
    const changes = recordChanges(store);
    store.appendOutput('amber-ant-101', { at: 1, kind: 'agent', text: 'x' });
    assert.equal(changes.length, 0);
  });
});

describe('evictFinished', () => {
  function storeWithFinished(count: number): TaskStore {
    const store = new TaskStore(now);
    for (let i = 0; i < count; i++) {
      clockNow = 10_000 + i * 1_000;
      store.add(makeTask(`done-task-${100 + i}`, 'running'));
      store.update(`done-task-${100 + i}`, { status: 'completed' });
    }
    return store;
  }

  test('keeps the N newest finished tasks and removes (and announces) the rest, oldest first', () => {
    const store = storeWithFinished(5);
    store.add(makeTask('live-task-900', 'running'));
    const changes = recordChanges(store);
    const removed = store.evictFinished(2);
    assert.deepEqual(removed.map((task) => task.id), ['done-task-100', 'done-task-101', 'done-task-102']);
    assert.deepEqual(store.all().map((task) => task.id).sort(), ['done-task-103', 'done-task-104', 'live-task-900']);
    assert.deepEqual(changes.map((change) => `${change.kind} ${change.task.id}`), ['deleted done-task-100', 'deleted done-task-101', 'deleted done-task-102']);
  });

  test('does nothing while there are at most N finished tasks, and never touches live ones', () => {
    const store = storeWithFinished(3);
    store.add(makeTask('live-task-900', 'pending'));
    assert.deepEqual(store.evictFinished(3), []);
    assert.equal(store.size, 4);
    assert.equal(store.evictFinished(0).length, 3);
    assert.deepEqual(store.all().map((task) => task.id), ['live-task-900']);
  });

  test('never evicts a finished task a live task depends on, and still keeps the N newest', () => {
    const store = storeWithFinished(5);
    store.add(makeTask('live-task-900', 'waiting', { dependsOn: ['done-task-100', 'done-task-102'] }));
    const removed = store.evictFinished(2);
    assert.deepEqual(removed.map((task) => task.id), ['done-task-101']);
    assert.deepEqual(
      store.all().map((task) => task.id).sort(),
      ['done-task-100', 'done-task-102', 'done-task-103', 'done-task-104', 'live-task-900'],
    );
  });

  test('a finished task that only finished tasks depend on can go', () => {
    const store = storeWithFinished(3);
    clockNow = 99_000;
    store.add(makeTask('done-child-200', 'running', { dependsOn: ['done-task-100'] }));
    store.update('done-child-200', { status: 'failed' });
    const removed = store.evictFinished(1);
    assert.deepEqual(removed.map((task) => task.id), ['done-task-100', 'done-task-101', 'done-task-102']);
  });
});
