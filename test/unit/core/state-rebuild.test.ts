import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import type { TaskState, TaskStatus } from '../../../src/core/task-state';
import { TranscriptStore } from '../../../src/core/transcript';
import { Harness, makeTempDir, readStateJson, removeTempDirs } from '../../support/core-harness';

after(removeTempDirs);

const GARBAGE = '{"version":1,"tasks":[{"id":"half-writ\u0000\u0000';

/** Five tasks that end in different states, each followed by a save, so state.json.bak is one save behind. */
async function fiveSavedTasks(h: Harness): Promise<Map<string, TaskStatus>> {
  const expected = new Map<string, TaskStatus>();
  const plans: [string, TaskStatus][] = [
    ['say: one; done: first', 'completed'],
    ['fail: second went wrong', 'failed'],
    ['say: three; done: third', 'completed'],
    ['ask-command: touch approved.txt', 'waiting_answer'],
    ['say: five; done: last', 'completed'],
  ];
  for (const [prompt, status] of plans) {
    const task = await h.create(prompt);
    await h.waitForStatus(task.id, status);
    await h.flush();
    expected.set(task.id, status);
  }
  return expected;
}

function statusesIn(h: Harness): Map<string, TaskStatus> {
  return new Map(h.manager.listTasks().map((task) => [task.id, task.status]));
}

/** Statuses after a reload, before any recovered task moves on: the restore itself, as the store saw it first. */
function restoredStatuses(h: Harness): Map<string, TaskStatus> {
  const first = new Map<string, TaskStatus>();
  for (const change of h.changes) if (change.from === undefined && !first.has(change.id)) first.set(change.id, change.to);
  return first;
}

describe('a corrupt state.json loses no task', () => {
  test('after any number of saves, every task comes back with its last status, and the user is told which were rebuilt', async () => {
    const first = new Harness();
    const expected = await fiveSavedTasks(first);
    // A sixth task is saved running, then cancelled: state.json.bak, one save behind, still has it running.
    const last = await first.create('say: six; sleep: 600000');
    await first.waitForStatus(last.id, 'running');
    await first.flush();
    await first.manager.cancelTask(last.id);
    await first.waitForStatus(last.id, 'cancelled');
    await first.dispose();
    expected.set(last.id, 'cancelled');
    const backup = JSON.parse(fs.readFileSync(path.join(first.dir, 'state.json.bak'), 'utf8')) as { tasks: { id: string; status: string }[] };
    assert.notEqual(backup.tasks.find((task) => task.id === last.id)?.status ?? 'missing', 'cancelled', 'the backup is a save behind');
    fs.writeFileSync(path.join(first.dir, 'state.json'), GARBAGE);

    const second = new Harness({ dir: first.dir, clock: first.clock, restore: true });
    try {
      assert.deepEqual(restoredStatuses(second), expected);
      const warnings = second.restoreWarnings.join('\n');
      assert.match(warnings, /unreadable \(invalid JSON/);
      assert.match(warnings, new RegExp(`1 task was rebuilt from its transcript: ${last.id} \\(cancelled\\)`));
      assert.ok(!second.scripted!.runs.some((run) => run.taskId === last.id), 'the cancelled task is not resumed');
      const done = [...expected].find(([, status]) => status === 'completed')![0];
      assert.deepEqual(second.manager.getTask(done)!.output.map((entry) => entry.text), ['say: one; done: first', 'one', 'Completed'], 'records never show as output');
      await second.flush();
      assert.equal(readStateJson(second.dir).tasks.find((task) => task.id === last.id)?.status, 'cancelled', 'what was rebuilt is saved');
    } finally {
      await second.dispose();
    }
  });

  test('with state.json and state.json.bak both corrupt, every task is rebuilt from the transcripts alone', async () => {
    const first = new Harness();
    const expected = await fiveSavedTasks(first);
    await first.dispose();
    fs.writeFileSync(path.join(first.dir, 'state.json'), GARBAGE);
    fs.writeFileSync(path.join(first.dir, 'state.json.bak'), 'not json at all');

    const second = new Harness({ dir: first.dir, clock: first.clock, restore: true });
    try {
      assert.deepEqual(restoredStatuses(second), expected);
      const warnings = second.restoreWarnings.join('\n');
      assert.match(warnings, /5 tasks were rebuilt from their transcripts/);
      const failed = [...expected].find(([, status]) => status === 'failed')![0];
      assert.equal(second.manager.getTask(failed)!.error, 'second went wrong');
      // The waiting task's agent is asked to resume, as after any reload (its question is the agent's to re-ask).
      const waiting = [...expected].find(([, status]) => status === 'waiting_answer')![0];
      await second.waitForStatus(waiting, 'completed');
      assert.deepEqual(second.scripted!.runs.map((run) => [run.mode, run.taskId]), [['resume', waiting]]);
    } finally {
      await second.dispose();
    }
  });

  test('with only state.json.bak corrupt, state.json is used as it is and nothing needs rebuilding', async () => {
    const first = new Harness();
    const expected = await fiveSavedTasks(first);
    await first.dispose();
    fs.writeFileSync(path.join(first.dir, 'state.json.bak'), GARBAGE);

    const second = new Harness({ dir: first.dir, clock: first.clock, restore: true });
    try {
      assert.deepEqual(restoredStatuses(second), expected);
      assert.deepEqual(second.restoreWarnings, []);
    } finally {
      await second.dispose();
    }
  });

  test('a task created and finished just before a crash (no save yet) is found in its transcript', async () => {
    const first = new Harness();
    const saved = await first.create('say: saved; done: saved');
    await first.waitForStatus(saved.id, 'completed');
    await first.flush();
    const unsaved = await first.create('say: quick; done: quick');
    await first.waitForStatus(unsaved.id, 'completed');
    // The process dies here: no dispose, no flush; the debounced and urgent saves never ran (fake clock, not awaited).
    fs.writeFileSync(path.join(first.dir, 'state.json'), JSON.stringify({ ...readStateJson(first.dir), tasks: readStateJson(first.dir).tasks.filter((t) => t.id === saved.id) }));

    const second = new Harness({ dir: first.dir, clock: first.clock, restore: true });
    try {
      assert.deepEqual(statusesIn(second), new Map([[saved.id, 'completed'], [unsaved.id, 'completed']]));
      assert.equal(second.manager.getTask(unsaved.id)!.result, 'quick');
      assert.match(second.restoreWarnings.join('\n'), new RegExp(`1 task was rebuilt from its transcript: ${unsaved.id} \\(completed\\)`));
    } finally {
      await second.dispose();
      await first.dispose();
    }
  });

  test('a cleared task stays cleared', async () => {
    const first = new Harness();
    const task = await first.create('say: bye; done: bye');
    await first.waitForStatus(task.id, 'completed');
    assert.equal(await first.manager.clearFinished(), 1);
    await first.dispose();
    fs.writeFileSync(path.join(first.dir, 'state.json'), GARBAGE);
    fs.writeFileSync(path.join(first.dir, 'state.json.bak'), GARBAGE);
    const second = new Harness({ dir: first.dir, clock: first.clock, restore: true });
    try {
      assert.equal(second.manager.listTasks().length, 0);
    } finally {
      await second.dispose();
    }
  });
});

describe('restore after 1, 2 and 50 saves with state.json, the backup or both corrupt', () => {
  const statuses: [string, TaskStatus][] = [
    ['say: ok; done: ok', 'completed'],
    ['fail: broke', 'failed'],
    ['ask-input: which one?|a|b', 'waiting_answer'],
    ['say: done too; done: yes', 'completed'],
  ];
  for (const saves of [1, 2, 50]) {
    for (const corrupt of [['state.json'], ['state.json.bak'], ['state.json', 'state.json.bak']]) {
      test(`${saves} save${saves === 1 ? '' : 's'}, ${corrupt.join(' and ')} corrupt: every task is back with its status, none twice`, async () => {
        // Enough slots that the tasks waiting on an answer never hold up the next one.
        const settings = { maxConcurrentTasks: 32 };
        const first = new Harness({ settings });
        const expected = new Map<string, TaskStatus>();
        for (let i = 0; i < saves; i++) {
          const [prompt, status] = statuses[i % statuses.length];
          const task = await first.create(prompt);
          await first.waitForStatus(task.id, status);
          await first.flush();
          expected.set(task.id, status);
        }
        await first.dispose();
        for (const name of corrupt) fs.writeFileSync(path.join(first.dir, name), GARBAGE);
        const second = new Harness({ dir: first.dir, clock: first.clock, restore: true, settings });
        try {
          assert.deepEqual(restoredStatuses(second), expected);
          assert.equal(second.manager.listTasks().length, saves, 'nothing duplicated');
          assert.equal(second.changes.filter((change) => change.from === undefined).length, saves, 'each task added once');
        } finally {
          await second.dispose();
        }
      });
    }
  }
});

describe('task records in a transcript', () => {
  test('the newest record is found past large output, split lines and a torn last line', () => {
    const dir = makeTempDir();
    const store = new TranscriptStore(dir, 10_000);
    const base: Omit<TaskState, 'status' | 'timestamps'> = {
      id: 'brave-otter-101', provider: 'scripted', taskType: 'general', prompt: 'naïve ✓', cwd: dir, output: [], dependsOn: [], labels: [], pendingQuestions: [],
    };
    store.appendRecord({ ...base, status: 'pending', timestamps: { created: 1, updated: 1 } }, 1);
    for (let i = 0; i < 3000; i++) store.append(base.id, { at: i, kind: 'agent', text: `line ${i} ${'é'.repeat(40)}` });
    store.appendRecord({ ...base, status: 'running', timestamps: { created: 1, updated: 2 } }, 2);
    for (let i = 0; i < 3000; i++) store.append(base.id, { at: i, kind: 'agent', text: `more ${i} ${'✓'.repeat(40)}` });
    store.flushSync();
    fs.appendFileSync(store.pathFor(base.id), '{"record":"task","at":3,"task":{"id":"brave-ot');
    const record = store.readLastRecord(base.id)!;
    assert.equal(record.task.status, 'running');
    assert.equal(record.task.prompt, 'naïve ✓', 'multi-byte text survives the chunked read');
    assert.ok(fs.statSync(store.pathFor(base.id)).size > 300_000, 'the record is several chunks from the end');
    assert.equal(store.readTail(base.id, 10_000).length, 6000, 'records are not output entries');
    assert.deepEqual(store.listTaskIds(), [base.id]);
  });

  test('a record never carries the output or the open questions (file contents stay out of it)', async () => {
    const h = new Harness();
    try {
      const task = await h.create('ask-file: notes.txt|secret file body');
      await h.waitForStatus(task.id, 'waiting_answer');
      await h.flush();
      const text = fs.readFileSync(h.transcripts!.pathFor(task.id), 'utf8');
      const records = text.split('\n').filter((line) => line.startsWith('{"record":"task"')).map((line) => JSON.parse(line));
      const statuses = records.map((r) => r.task.status as string).filter((status, i, all) => status !== all[i - 1]);
      assert.deepEqual(statuses, ['pending', 'running', 'waiting_answer'], 'a record at every status change');
      for (const record of records) {
        assert.deepEqual(record.task.pendingQuestions, []);
        assert.deepEqual(record.task.output, []);
      }
      assert.ok(!records.some((r) => JSON.stringify({ ...r.task, prompt: '' }).includes('secret file body')), 'only the prompt holds it');
    } finally {
      await h.dispose();
    }
  });
});
