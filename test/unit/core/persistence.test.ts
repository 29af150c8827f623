import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { emptyState, NewerStateVersionError, StateFile, STATE_VERSION, type PersistedState } from '../../../src/core/persistence';
import { TASK_STATUSES, type OutputEntry, type TaskState } from '../../../src/core/task-state';
import { foldEntries, TranscriptStore } from '../../../src/core/transcript';
import { FakeClock, Harness, makeTempDir, removeTempDirs, settle } from '../../support/core-harness';

after(removeTempDirs);

export function makeTasks(count: number, start = 1_700_000_000_000): TaskState[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `task-number-${String(i).padStart(5, '0')}`,
    status: TASK_STATUSES[i % TASK_STATUSES.length],
    provider: i % 3 === 0 ? 'codex' : 'claude-cli',
    profile: i % 7 === 0 ? 'work' : undefined,
    taskType: 'coder',
    prompt: `Fix issue #${i}: make the ${i % 2 ? 'parser' : 'scheduler'} handle “unicode” ✓ and "quotes"`,
    cwd: '/home/user/project',
    model: 'gpt-5',
    sessionId: `session-${i}`,
    timestamps: { created: start + i, updated: start + i + 5, started: start + i + 1 },
    timeoutMs: 1_800_000,
    output: [],
    dependsOn: i > 0 && i % 10 === 0 ? [`task-number-${String(i - 1).padStart(5, '0')}`] : [],
    labels: ['bench', `batch-${i % 4}`],
    pendingQuestions: i % 50 === 0 ? [{ type: 'command_approval', requestId: `r${i}`, askedAt: start, command: 'npm test' }] : [],
    usage: { inputTokens: i * 10, outputTokens: i, costUsd: i / 1000 },
    providerState: { threadId: `thread-${i}` },
  }));
}

function stateOf(tasks: TaskState[], profiles: PersistedState['profiles'] = {}): PersistedState {
  return { version: STATE_VERSION, tasks, profiles, lastSavedAt: 123 };
}

/** A StateFile over `dir` whose collected state the test swaps at will. */
function stateFileIn(dir: string, clock = new FakeClock()): { file: StateFile; set(state: PersistedState): void; clock: FakeClock } {
  let current = emptyState();
  const file = new StateFile(dir, () => current, clock, 500);
  return { file, clock, set: (state) => (current = state) };
}

const read = (file: string): string => fs.readFileSync(file, 'utf8');

describe('round trip', () => {
  test('10,000 tasks saved and loaded come back equal (output is not part of state.json)', async () => {
    const dir = makeTempDir();
    const tasks = makeTasks(10_000);
    tasks[1].output = [{ at: 1, kind: 'agent', text: 'kept in the transcript, not in state.json' }];
    const { file, set } = stateFileIn(dir);
    set(stateOf(tasks, { work: { failureCount: 2, cooldownUntil: 99 } }));
    await file.flush(true);
    assert.equal(file.saveCount, 1);

    const loaded = new StateFile(dir, () => emptyState(), new FakeClock()).load();
    assert.equal(loaded.source, 'state');
    assert.deepEqual(loaded.warnings, []);
    assert.equal(loaded.state.tasks.length, 10_000);
    const expected = tasks.map((task) => ({ ...task, output: [] }));
    assert.deepEqual(loaded.state.tasks, JSON.parse(JSON.stringify(expected)));
    assert.deepEqual(loaded.state.profiles, { work: { failureCount: 2, cooldownUntil: 99 } });
  });

  test('a missing state file loads as empty, without warnings', () => {
    const loaded = new StateFile(makeTempDir(), () => emptyState(), new FakeClock()).load();
    assert.equal(loaded.source, 'empty');
    assert.deepEqual(loaded.warnings, []);
    assert.deepEqual(loaded.state.tasks, []);
  });

  test('each save keeps the previous good copy as state.json.bak; files are private (0600)', async () => {
    const dir = makeTempDir();
    const { file, set } = stateFileIn(dir);
    set(stateOf(makeTasks(1)));
    await file.flush(true);
    set(stateOf(makeTasks(2)));
    await file.flush(true);
    assert.equal(JSON.parse(read(file.file)).tasks.length, 2);
    assert.equal(JSON.parse(read(file.backup)).tasks.length, 1);
    assert.equal(fs.statSync(file.file).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['state.json', 'state.json.bak']);
  });
});

describe('a corrupt state file', () => {
  test('is moved to state.json.corrupt-<time>, the .bak is loaded, and a warning says so', async () => {
    const dir = makeTempDir();
    const clock = new FakeClock(Date.UTC(2025, 4, 6, 7, 8, 9, 10));
    const { file, set } = stateFileIn(dir, clock);
    set(stateOf(makeTasks(3)));
    await file.flush(true);
    set(stateOf(makeTasks(4)));
    await file.flush(true);
    fs.writeFileSync(file.file, '{"version":1,"tasks":[{"id":"half-writ');

    const reader = new StateFile(dir, () => emptyState(), clock);
    const loaded = reader.load();
    assert.equal(loaded.source, 'backup');
    assert.equal(loaded.state.tasks.length, 3, 'the last good copy');
    const aside = path.join(dir, 'state.json.corrupt-2025-05-06T07-08-09-010Z');
    assert.equal(read(aside), '{"version":1,"tasks":[{"id":"half-writ', 'the corrupt copy is kept byte for byte');
    assert.equal(fs.existsSync(file.file), false);
    assert.equal(loaded.warnings.length, 2);
    assert.match(loaded.warnings[0], /unreadable \(invalid JSON.*kept as state\.json\.corrupt-2025-05-06T07-08-09-010Z/);
    assert.match(loaded.warnings[1], /restored from the last good backup/);
  });

  test('valid JSON of the wrong shape counts as corrupt too', () => {
    for (const [content, reason] of [
      ['[]', 'not an object'],
      ['{"tasks":[]}', 'no version'],
      ['{"version":1}', 'no task list'],
      ['{"version":1,"tasks":[{"id":"a","status":"dancing","timestamps":{}}]}', 'no valid id or status'],
      ['{"version":1,"tasks":[{"id":"a","status":"running"}]}', 'no timestamps'],
      ['{"version":1,"tasks":[],"profiles":null}', 'bad profiles'],
    ]) {
      const dir = makeTempDir();
      fs.writeFileSync(path.join(dir, 'state.json'), content);
      const loaded = new StateFile(dir, () => emptyState(), new FakeClock()).load();
      assert.equal(loaded.source, 'empty', content);
      assert.ok(loaded.warnings[0].includes(reason), `${content}: ${loaded.warnings[0]}`);
      assert.match(loaded.warnings[1], /No usable backup was found; the task list starts empty/);
      assert.equal(fs.readdirSync(dir).filter((name) => name.startsWith('state.json.corrupt-')).length, 1);
    }
  });

  test('the next save does not overwrite the backup with nothing, and the corrupt copy stays', async () => {
    const dir = makeTempDir();
    const { file, set } = stateFileIn(dir);
    set(stateOf(makeTasks(2)));
    await file.flush(true);
    await file.flush(true);
    fs.writeFileSync(file.file, 'garbage');
    const loaded = file.load();
    set(loaded.state);
    await file.flush(true);
    assert.equal(JSON.parse(read(file.file)).tasks.length, 2);
    assert.equal(fs.readdirSync(dir).filter((name) => name.startsWith('state.json.corrupt-')).length, 1);
  });
});

describe('leftovers and versions', () => {
  test('a leftover state.json.tmp-* from a crash is ignored and removed', async () => {
    const dir = makeTempDir();
    const { file, set } = stateFileIn(dir);
    set(stateOf(makeTasks(2)));
    await file.flush(true);
    fs.writeFileSync(path.join(dir, 'state.json.tmp-4242'), '{"version":1,"tasks":[]} but torn');
    fs.writeFileSync(path.join(dir, 'state.json.tmp-99-7'), '');
    const loaded = new StateFile(dir, () => emptyState(), new FakeClock()).load();
    assert.equal(loaded.state.tasks.length, 2);
    assert.deepEqual(loaded.warnings, []);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['state.json']);
  });

  test('L5 a crash between the two renames loses nothing: the complete newest temp file is used, not the older .bak', async () => {
    const dir = makeTempDir();
    const { file, set } = stateFileIn(dir);
    set({ ...stateOf(makeTasks(2)), lastSavedAt: 100 });
    await file.flush(true);
    // The next save of 3 tasks got as far as: temp written and fsynced, state.json moved to .bak — then the crash.
    const newest = { ...stateOf(makeTasks(3)), lastSavedAt: 200 };
    fs.writeFileSync(path.join(dir, `state.json.tmp-${process.pid}-2`), JSON.stringify(newest));
    fs.renameSync(path.join(dir, 'state.json'), path.join(dir, 'state.json.bak'));
    // And a torn temp file of a save that never finished.
    fs.writeFileSync(path.join(dir, `state.json.tmp-${process.pid}-3`), JSON.stringify(newest).slice(0, 40));

    const loaded = new StateFile(dir, () => emptyState(), new FakeClock()).load();
    assert.equal(loaded.source, 'state');
    assert.equal(loaded.state.tasks.length, 3, 'the newest state, not the older backup');
    assert.equal(loaded.state.lastSavedAt, 200);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['state.json', 'state.json.bak']);
  });

  test('L5 after such a crash a temp file older than the backup, or a torn one, is not used', () => {
    const dir = makeTempDir();
    fs.writeFileSync(path.join(dir, 'state.json.bak'), JSON.stringify({ ...stateOf(makeTasks(2)), lastSavedAt: 300 }));
    fs.writeFileSync(path.join(dir, 'state.json.tmp-1-1'), JSON.stringify({ ...stateOf(makeTasks(5)), lastSavedAt: 100 }));
    fs.writeFileSync(path.join(dir, 'state.json.tmp-1-2'), '{"version":1,"tasks":[');
    const loaded = new StateFile(dir, () => emptyState(), new FakeClock()).load();
    assert.equal(loaded.source, 'backup');
    assert.equal(loaded.state.tasks.length, 2);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['state.json.bak']);
  });

  test('L5 every save fsyncs the directory after its renames (async and sync saves)', async () => {
    const dir = makeTempDir();
    const { file, set } = stateFileIn(dir);
    const events: string[] = [];
    // The fs module object the code under test calls into (an ES namespace import cannot be patched).
    const nodeFs = createRequire(__filename)('node:fs') as typeof fs;
    const { renameSync, fsyncSync } = nodeFs;
    nodeFs.renameSync = (from: fs.PathLike, to: fs.PathLike) => {
      events.push(`rename ${path.basename(String(to))}`);
      renameSync(from, to);
    };
    nodeFs.fsyncSync = (fd: number) => {
      events.push(fs.fstatSync(fd).isDirectory() ? 'fsync directory' : 'fsync file');
      fsyncSync(fd);
    };
    try {
      set(stateOf(makeTasks(1)));
      await file.flush(true);
      set(stateOf(makeTasks(2)));
      file.scheduleSave();
      file.flushSync();
    } finally {
      nodeFs.renameSync = renameSync;
      nodeFs.fsyncSync = fsyncSync;
    }
    const saves = events.join(', ');
    // The first save has no state.json to move aside; the second one has.
    assert.match(saves, /rename state\.json, fsync directory.*rename state\.json\.bak, rename state\.json, fsync directory/, saves);
    assert.equal(events.at(-1), 'fsync directory');
  });

  test('a newer version is refused (NewerStateVersionError) and the file is never overwritten', async () => {
    const dir = makeTempDir();
    const newer = JSON.stringify({ version: STATE_VERSION + 1, tasks: [{ future: true }], profiles: {}, lastSavedAt: 1 });
    fs.writeFileSync(path.join(dir, 'state.json'), newer);
    const before = fs.statSync(path.join(dir, 'state.json'));
    const { file, set, clock } = stateFileIn(dir);
    assert.throws(
      () => file.load(),
      (error: unknown) => error instanceof NewerStateVersionError && error.found === STATE_VERSION + 1 && /newer version.*left untouched/.test(error.message),
    );
    assert.ok(file.isReadOnly);
    set(stateOf(makeTasks(5)));
    file.scheduleSave();
    await clock.advance(1_000);
    await file.flush(true);
    file.flushSync();
    assert.equal(read(file.file), newer);
    assert.equal(fs.statSync(file.file).mtimeMs, before.mtimeMs);
    assert.equal(file.saveCount, 0);
    assert.deepEqual(fs.readdirSync(dir), ['state.json']);
  });

  test('the manager reports a newer state as a warning and does not touch it', async () => {
    const dir = makeTempDir();
    const newer = JSON.stringify({ version: 99, tasks: [], profiles: {}, lastSavedAt: 1 });
    fs.writeFileSync(path.join(dir, 'state.json'), newer);
    const h = new Harness({ dir, restore: true });
    try {
      assert.equal(h.restoreWarnings.length, 1);
      assert.match(h.restoreWarnings[0], /format 99/);
      const task = await h.create('done: ok');
      await h.waitForStatus(task.id, 'completed');
      await h.flush();
    } finally {
      await h.dispose();
    }
    assert.equal(read(path.join(dir, 'state.json')), newer);
  });
});

describe('debounced saving', () => {
  test('a burst of scheduleSave() becomes one write after the debounce', async () => {
    const dir = makeTempDir();
    const { file, set, clock } = stateFileIn(dir);
    for (let i = 1; i <= 100; i++) {
      set(stateOf(makeTasks(i)));
      file.scheduleSave();
    }
    await clock.advance(499);
    assert.equal(file.saveCount, 0);
    assert.equal(fs.existsSync(file.file), false);
    await clock.advance(1);
    await file.flush();
    assert.equal(file.saveCount, 1);
    assert.equal(JSON.parse(read(file.file)).tasks.length, 100, 'the latest state was written');
    await clock.advance(10_000);
    await file.flush();
    assert.equal(file.saveCount, 1, 'nothing more to write');
  });

  test('flush() writes at once and cancels the pending debounce', async () => {
    const dir = makeTempDir();
    const { file, set, clock } = stateFileIn(dir);
    set(stateOf(makeTasks(1)));
    file.scheduleSave();
    await file.flush();
    assert.equal(file.saveCount, 1);
    await clock.advance(1_000);
    await file.flush();
    assert.equal(file.saveCount, 1);
  });

  test('flushSync() writes synchronously (for deactivate)', () => {
    const dir = makeTempDir();
    const { file, set } = stateFileIn(dir);
    set(stateOf(makeTasks(3)));
    file.scheduleSave();
    file.flushSync();
    assert.equal(file.saveCount, 1);
    assert.equal(JSON.parse(read(file.file)).tasks.length, 3);
    file.flushSync();
    assert.equal(file.saveCount, 1, 'nothing dirty, nothing written');
  });

  test('flushSync() while an async save is in flight: the newest state wins', async () => {
    const dir = makeTempDir();
    const { file, set } = stateFileIn(dir);
    set(stateOf(makeTasks(1)));
    file.scheduleSave();
    const inFlight = file.flush();
    set(stateOf(makeTasks(2)));
    file.scheduleSave();
    file.flushSync();
    await inFlight;
    await settle();
    assert.equal(JSON.parse(read(file.file)).tasks.length, 2, 'the older async write must not replace the newer sync one');
    assert.deepEqual(fs.readdirSync(dir).filter((name) => name.includes('.tmp-')), []);
    const loaded = new StateFile(dir, () => emptyState(), new FakeClock()).load();
    assert.equal(loaded.state.tasks.length, 2);
  });

  test('flushSync() with a save still in flight writes at once (the host may exit before the async save lands)', async () => {
    const dir = makeTempDir();
    const { file, set } = stateFileIn(dir);
    set(stateOf(makeTasks(3)));
    file.scheduleSave();
    const inFlight = file.flush();
    file.flushSync();
    assert.equal(JSON.parse(read(file.file)).tasks.length, 3, 'on disk before any await');
    await inFlight;
    assert.equal(JSON.parse(read(file.file)).tasks.length, 3);
  });

  test('saves queued one after another land in order', async () => {
    const dir = makeTempDir();
    const { file, set } = stateFileIn(dir);
    const writes: Promise<void>[] = [];
    for (let i = 1; i <= 5; i++) {
      set(stateOf(makeTasks(i)));
      file.scheduleSave();
      writes.push(file.flush());
    }
    await Promise.all(writes);
    assert.equal(JSON.parse(read(file.file)).tasks.length, 5);
    assert.equal(file.saveCount, 5);
  });
});

describe('TranscriptStore', () => {
  const entry = (text: string, extra: Partial<OutputEntry> = {}): OutputEntry => ({ at: 1, kind: 'agent', text, ...extra });

  test('appends JSONL lines per task; readAll folds streaming entries by id', async () => {
    const transcripts = new TranscriptStore(path.join(makeTempDir(), 'tasks'), 200);
    transcripts.append('amber-ant-101', entry('one'));
    transcripts.append('amber-ant-101', entry('Hel', { id: 'm1' }));
    transcripts.append('amber-ant-101', entry('Hello', { id: 'm1' }));
    transcripts.append('bold-bee-102', entry('other task'));
    await transcripts.flush();
    const lines = read(transcripts.pathFor('amber-ant-101')).trim().split('\n');
    assert.equal(lines.length, 2, 'an entry updated before its batch is flushed is written once');
    transcripts.append('amber-ant-101', entry('Hello world', { id: 'm1' }));
    transcripts.append('amber-ant-101', entry('two'));
    await transcripts.flush();
    assert.equal(read(transcripts.pathFor('amber-ant-101')).trim().split('\n').length, 4, 'append-only on disk');
    assert.deepEqual((await transcripts.readAll('amber-ant-101')).map((e) => e.text), ['one', 'Hello world', 'two']);
    assert.deepEqual((await transcripts.readAll('bold-bee-102')).map((e) => e.text), ['other task']);
    assert.equal(fs.statSync(transcripts.pathFor('amber-ant-101')).mode & 0o777, 0o600);
  });

  test('readTail returns the last N folded entries, including lines not flushed yet', async () => {
    const transcripts = new TranscriptStore(path.join(makeTempDir(), 'tasks'), 200);
    for (let i = 0; i < 50; i++) transcripts.append('tidy-tern-101', entry(`line ${i}`));
    await transcripts.flush();
    transcripts.append('tidy-tern-101', entry('streaming', { id: 's' }));
    transcripts.append('tidy-tern-101', entry('streaming, longer', { id: 's' }));
    const tail = transcripts.readTail('tidy-tern-101', 3);
    assert.deepEqual(tail.map((e) => e.text), ['line 48', 'line 49', 'streaming, longer']);
    assert.deepEqual(transcripts.readTail('never-written-103', 10), []);
    transcripts.flushSync();
  });

  test('readTail of a transcript larger than the tail it reads drops the torn first line', async () => {
    const transcripts = new TranscriptStore(path.join(makeTempDir(), 'tasks'), 200);
    for (let i = 0; i < 20_000; i++) transcripts.append('big-bear-102', entry(`line ${i} ${'·'.repeat(60)}`));
    await transcripts.flush();
    assert.ok(fs.statSync(transcripts.pathFor('big-bear-102')).size > 2 * 1024 * 1024, 'bigger than the 1 MB tail');
    const tail = transcripts.readTail('big-bear-102', 500);
    assert.equal(tail.length, 500);
    assert.equal(tail[0].text, `line 19500 ${'·'.repeat(60)}`);
    assert.equal(tail[499].text, `line 19999 ${'·'.repeat(60)}`);
  });

  test('unreadable lines are skipped, not fatal', async () => {
    const dir = path.join(makeTempDir(), 'tasks');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'tidy-tern-101.jsonl'), `${JSON.stringify(entry('good'))}\n{"torn":\n\n42\n${JSON.stringify(entry('also good'))}\n`);
    const transcripts = new TranscriptStore(dir, 200);
    assert.deepEqual(transcripts.readTail('tidy-tern-101', 10).map((e) => e.text), ['good', 'also good']);
    assert.deepEqual((await transcripts.readAll('tidy-tern-101')).map((e) => e.text), ['good', 'also good']);
  });

  test('flushSync writes synchronously; remove deletes the file and drops buffered lines', async () => {
    const transcripts = new TranscriptStore(path.join(makeTempDir(), 'tasks'), 200);
    transcripts.append('tidy-tern-101', entry('a'));
    transcripts.flushSync();
    assert.equal(read(transcripts.pathFor('tidy-tern-101')), `${JSON.stringify(entry('a'))}\n`);
    transcripts.append('tidy-tern-101', entry('b'));
    await transcripts.remove('tidy-tern-101');
    await transcripts.flush();
    assert.equal(fs.existsSync(transcripts.pathFor('tidy-tern-101')), false);
  });

  test('L4 pathFor refuses anything that is not a task id; append drops it', async () => {
    const root = makeTempDir();
    const transcripts = new TranscriptStore(path.join(root, 'tasks'), 200);
    assert.equal(transcripts.pathFor('brave-otter-101'), path.join(root, 'tasks', 'brave-otter-101.jsonl'));
    for (const id of ['../state', '../../etc/passwd', 'a/b-c-101', 'brave-otter-101/../../x', 'x\\y-z-101', '..', '', 'UPPER-case-101', 'brave-otter', 'brave otter 101']) {
      assert.throws(() => transcripts.pathFor(id), /Not a task id/, id);
    }
    transcripts.append('../escaped-file-101', entry('outside'));
    await transcripts.flush();
    assert.deepEqual(fs.readdirSync(root), [], 'nothing written');
    assert.deepEqual(await transcripts.readAll('../state'), []);
  });

  test('foldEntries replaces an entry by id in its original place', () => {
    const lines = [entry('a'), entry('b1', { id: 'b' }), entry('c'), entry('b2', { id: 'b' })].map((e) => JSON.stringify(e));
    assert.deepEqual(foldEntries(lines).map((e) => e.text), ['a', 'b2', 'c']);
  });
});
