// What a task row says about its state (src/host/presentation.ts stateDetail): the detail that follows the provider in
// the row's description, while the label keeps the task's title.
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PendingQuestion, TaskState, TaskStatus, TaskWorktree } from '../../../src/core/task-state';
import { changeSummary, formatMinutes, limitsText, resumesAt, shownWhole, stateDetail, statusLabel, worktreeDetail, worktreeLines } from '../../../src/host/presentation';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

function task(status: TaskStatus, extra: Partial<TaskState> = {}): TaskState {
  return {
    id: 'manual-catshark-318', status, provider: 'codex', taskType: 'general', prompt: 'Add a --verbose flag', cwd: '/w',
    timestamps: { created: NOW - 600_000, updated: NOW }, output: [], dependsOn: [], labels: [], pendingQuestions: [], ...extra,
  };
}

const approval: PendingQuestion = { type: 'command_approval', requestId: 'r1', askedAt: NOW, command: 'touch approved.txt' };

describe('limitsText (tooltips and Show Accounts)', () => {
  test('each window with its use and reset; an exhausted one says so', () => {
    const resets = NOW + 3_600_000;
    const clock = `${String(new Date(resets).getHours()).padStart(2, '0')}:${String(new Date(resets).getMinutes()).padStart(2, '0')}`;
    assert.equal(
      limitsText({ at: NOW, windows: [{ id: 'primary', usedPercent: 100, windowMinutes: 300, resetsAt: resets, status: 'rejected' }, { id: 'secondary', usedPercent: 7.4, windowMinutes: 10_080 }] }, NOW),
      `5h 100% used — limit reached (resets ${clock}) · weekly 7% used`,
    );
    assert.equal(limitsText({ at: NOW, windows: [{ id: 'five_hour', status: 'allowed' }] }, NOW), 'five hour');
    assert.equal(limitsText(undefined, NOW), undefined);
    assert.equal(limitsText({ at: NOW, windows: [] }, NOW), undefined);
  });
});

describe('stateDetail', () => {
  test('needs you: what the agent waits on, and how many more', () => {
    assert.equal(stateDetail(task('waiting_answer', { pendingQuestions: [approval] }), NOW), 'needs you: run touch approved.txt');
    assert.equal(stateDetail(task('waiting_answer', { pendingQuestions: [approval, { ...approval, requestId: 'r2' }] }), NOW), 'needs you: run touch approved.txt (+1 more)');
  });

  test('running: whole minutes since it started', () => {
    assert.equal(stateDetail(task('running'), NOW), 'starting');
    assert.equal(stateDetail(task('running', { timestamps: { created: NOW, updated: NOW, started: NOW - 20_000 } }), NOW), 'running <1m');
    assert.equal(stateDetail(task('running', { timestamps: { created: NOW, updated: NOW, started: NOW - 185_000 } }), NOW), 'running 3m');
  });

  test('rate limited: when it resumes, as a local clock time (so it never goes stale)', () => {
    const at = NOW + 2 * 3_600_000 + 5 * 60_000;
    const clock = `${String(new Date(at).getHours()).padStart(2, '0')}:${String(new Date(at).getMinutes()).padStart(2, '0')}`;
    assert.equal(stateDetail(task('rate_limited', { retryAt: at }), NOW), `rate limited · resumes ${clock}`);
    assert.equal(statusLabel(task('rate_limited', { retryAt: at }), NOW), `Rate limited · resumes ${clock}`);
    assert.equal(statusLabel(task('rate_limited'), NOW), 'Rate limited');
    assert.equal(statusLabel(task('running', { retryAt: at }), NOW), 'Running');
    const nextWeek = NOW + 5 * 24 * 3_600_000;
    assert.match(resumesAt(nextWeek, NOW), /^resumes (Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d:\d\d$/, 'a day away or more: with the weekday');
    assert.equal(stateDetail(task('rate_limited', { retryAt: NOW - 1 }), NOW), 'rate limited, retrying');
    assert.equal(stateDetail(task('rate_limited'), NOW), 'rate limited, retrying');
  });

  test('waiting: the dependencies by title when known, else by id', () => {
    const titles: Record<string, string> = { 'brave-otter-101': 'Write the migration for the new accounts table' };
    assert.equal(
      stateDetail(task('waiting', { dependsOn: ['brave-otter-101', 'gone-yak-999'] }), NOW, (id) => titles[id]),
      'waits for “Write the migration for…”, gone-yak-999',
    );
  });

  test('finished states say how they ended', () => {
    const ran = { timestamps: { created: NOW - 100_000, updated: NOW, started: NOW - 95_000, completed: NOW - 3_000 } };
    assert.equal(stateDetail(task('completed', ran), NOW), 'done in 1m 32s');
    assert.equal(stateDetail(task('failed', { ...ran, error: 'codex exited with code 1\nstack…' }), NOW), 'failed: codex exited with code 1');
    assert.equal(stateDetail(task('timed_out', ran), NOW), 'timed out after 1m');
    assert.equal(stateDetail(task('cancelled', ran), NOW), 'cancelled');
    assert.equal(stateDetail(task('unknown'), NOW), 'state unknown');
    assert.equal(stateDetail(task('pending'), NOW), 'queued');
  });
});

describe('formatMinutes', () => {
  test('whole minutes, hours past 60, rounding up on request', () => {
    assert.equal(formatMinutes(59_999), '<1m');
    assert.equal(formatMinutes(60_000), '1m');
    assert.equal(formatMinutes(3_900_000), '1h 5m');
    assert.equal(formatMinutes(61_000, true), '2m');
  });
});

describe('worktrees in the tree (DESIGN §8)', () => {
  const worktree = (extra: Partial<TaskWorktree> = {}): TaskWorktree => ({
    path: '/w.worktrees/manual-catshark-318', branch: 'agent-tasks/manual-catshark-318', baseCommit: 'abc1234', repository: '/w', cwd: '/w.worktrees/manual-catshark-318',
    state: 'active',
    changes: {
      files: [
        { path: 'src/a.ts', status: 'modified', insertions: 10, deletions: 3 },
        { path: 'b.png', status: 'added', insertions: 0, deletions: 0, binary: true },
        { path: 'new.ts', oldPath: 'old.ts', status: 'renamed', insertions: 2, deletions: 0 },
        { path: 'gone.ts', status: 'deleted', insertions: 0, deletions: 0 },
      ],
      insertions: 12, deletions: 3,
    },
    ...extra,
  });

  test("a file change names the file inside the task's worktree, not the worktree's path", () => {
    const root = '/home/me/a-rather-long-folder/project.worktrees/manual-catshark-318';
    const change: PendingQuestion = {
      type: 'file_approval', requestId: 'r1', askedAt: NOW, fileChanges: [{ path: `${root}/docs/hello-from-agent-tasks.md`, kind: 'add', patch: '' }],
    };
    const isolated = task('waiting_answer', { pendingQuestions: [change], worktree: worktree({ path: root, cwd: root }) });
    assert.equal(stateDetail(isolated, NOW), 'needs you: change docs/hello-from-agent-tasks.md');
    const inFolder = task('waiting_answer', { cwd: root, pendingQuestions: [change] });
    assert.equal(stateDetail(inFolder, NOW), 'needs you: change docs/hello-from-agent-tasks.md', 'no worktree: relative to the folder');
    const elsewhere = task('waiting_answer', { pendingQuestions: [change] });
    assert.match(stateDetail(elsewhere, NOW), /^needs you: change \/home\/me\//, 'outside the folder: the path as given');
  });

  test('the summary reads +ins −del · N files', () => {
    assert.equal(changeSummary(worktree()), '+12 −3 · 4 files');
    assert.equal(changeSummary({ changes: { files: [{ path: 'a', status: 'added', insertions: 1, deletions: 0 }], insertions: 1, deletions: 0 } }), '+1 −0 · 1 file');
  });

  test('the row shows it only while the work is unmerged (and says conflict)', () => {
    assert.equal(worktreeDetail(task('completed', { worktree: worktree() })), '+12 −3 · 4 files');
    assert.equal(worktreeDetail(task('completed', { worktree: worktree({ state: 'conflict', conflicts: ['src/a.ts'] }) })), '+12 −3 · 4 files · conflict');
    for (const state of ['merged', 'applied', 'discarded'] as const) assert.equal(worktreeDetail(task('completed', { worktree: worktree({ state }) })), undefined, state);
    assert.equal(worktreeDetail(task('running', { worktree: worktree({ changes: { files: [], insertions: 0, deletions: 0 } }) })), undefined, 'nothing changed yet');
    assert.equal(worktreeDetail(task('completed')), undefined, 'no worktree');
  });

  test('a worktree without changed files shows no "+0 −0 · 0 files": the row says nothing, the tooltip and the picks "no changes"', () => {
    const none = { files: [], insertions: 0, deletions: 0 };
    for (const status of ['running', 'waiting_answer', 'completed', 'failed'] as const) {
      const empty = task(status, { worktree: worktree({ changes: none }) });
      assert.equal(worktreeDetail(empty), undefined, `the row of a ${status} task`);
      const lines = worktreeLines(empty.worktree!);
      assert.deepEqual(lines, ['Worktree: /w.worktrees/manual-catshark-318 (branch agent-tasks/manual-catshark-318)', 'No changes yet'], `the tooltip of a ${status} task`);
    }
    assert.equal(worktreeDetail(task('completed', { worktree: worktree({ state: 'conflict', conflicts: ['src/a.ts'], changes: none }) })), 'conflict');
    assert.doesNotMatch(worktreeLines(worktree({ state: 'conflict', conflicts: ['src/a.ts'], changes: none })).join('\n'), /[+−]0|0 files/);
    assert.equal(changeSummary(worktree({ changes: none })), 'no changes', 'quick picks and modals');
    // A changed file whose lines did not change (binary, mode, empty file) still counts: the summary shows.
    const binary = { files: [{ path: 'b.png', status: 'added' as const, insertions: 0, deletions: 0, binary: true }], insertions: 0, deletions: 0 };
    assert.equal(worktreeDetail(task('completed', { worktree: worktree({ changes: binary }) })), '+0 −0 · 1 file');
  });

  test('the tooltip names the worktree, the branch and each file; later states say what happened', () => {
    assert.deepEqual(worktreeLines(worktree()), [
      'Worktree: /w.worktrees/manual-catshark-318 (branch agent-tasks/manual-catshark-318)',
      'Changes: +12 −3 · 4 files',
      '  M src/a.ts +10 −3',
      '  A b.png (binary)',
      '  R old.ts → new.ts +2 −0',
      '  D gone.ts +0 −0',
    ]);
    assert.deepEqual(worktreeLines(worktree(), 2).slice(-1), ['  and 2 more']);
    assert.match(worktreeLines(worktree({ state: 'conflict', conflicts: ['src/a.ts', 'b.png'] }))[1], /^Conflicts with the main checkout in: src\/a\.ts, b\.png$/);
    assert.deepEqual(worktreeLines(worktree({ state: 'merged' })), ['Changes merged into the main checkout (branch agent-tasks/manual-catshark-318)']);
    assert.deepEqual(worktreeLines(worktree({ state: 'applied' })), ['Changes applied to the main checkout as uncommitted changes']);
    assert.match(worktreeLines(worktree({ state: 'discarded' }))[0], /^Changes discarded/);
  });
});

describe('L2 shownWhole: did a one-line surface show the whole request?', () => {
  test('a short one-line command: yes; a long or multi-line one: no (Approve then shows it whole first)', () => {
    assert.equal(shownWhole(approval), true);
    assert.equal(shownWhole({ ...approval, command: `npm run build && ${'x'.repeat(60)}` }), false);
    assert.equal(shownWhole({ ...approval, command: 'echo safe\nrm -rf ~' }), false);
  });
});
