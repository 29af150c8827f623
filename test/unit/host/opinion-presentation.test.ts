// DESIGN §9 as the tree, quick picks and comments say it (src/host/opinion-presentation.ts): a check's verdict, a
// review's findings, a finding's text as Markdown, and the attempts of one prompt gathered under one row.
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TaskState, TaskStatus } from '../../../src/core/task-state';
import { arrangeRows, asText, attemptGroupLabel, attemptLabel, checkBadge, checkLine, findingLine, findingsSummary } from '../../../src/host/opinion-presentation';
import { groupTasks } from '../../../src/host/presentation';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
let created = 0;

function task(id: string, status: TaskStatus, extra: Partial<TaskState> = {}): TaskState {
  return {
    id, status, provider: 'codex', taskType: 'general', prompt: 'Add a --verbose flag', cwd: '/w',
    timestamps: { created: NOW + ++created, updated: NOW }, output: [], dependsOn: [], labels: [], pendingQuestions: [], ...extra,
  };
}

describe('checks', () => {
  test('the row badge per state', () => {
    const check = { command: 'npm test' };
    assert.deepEqual((['passed', 'failed', 'running', 'cancelled'] as const).map((state) => checkBadge({ ...check, state })), ['✓ check', '✗ check', 'check running…', 'check cancelled']);
  });

  test('one line with the command, duration and exit code', () => {
    assert.equal(checkLine({ command: 'npm test', state: 'failed', exitCode: 2, durationMs: 3_400 }), 'Check: npm test — failed in 3s (exit 2)');
    assert.equal(checkLine({ command: 'npm test', state: 'running' }), 'Check: npm test — running');
  });
});

describe('findings', () => {
  test('counted by severity, most severe first; none; not answered yet', () => {
    const findings = [
      { id: 'f1', severity: 'low', title: 'a', body: '' },
      { id: 'f2', severity: 'high', title: 'b', body: '' },
      { id: 'f3', severity: 'low', title: 'c', body: '' },
    ] as const;
    assert.equal(findingsSummary([...findings]), '3 findings (1 high, 2 low)');
    assert.equal(findingsSummary([]), 'no findings');
    assert.equal(findingsSummary(undefined), undefined);
  });

  test('one line with where it points', () => {
    assert.equal(findingLine({ id: 'f1', severity: 'medium', title: 'Off by one', body: '', path: 'src/a.ts', line: 12 }), '[medium] Off by one — src/a.ts:12');
    assert.equal(findingLine({ id: 'f2', severity: 'info', title: 'No tests', body: '' }), '[info] No tests');
  });

  test('a finding as Markdown shows its text as written: no formatting, links, HTML or icons; line breaks kept', () => {
    assert.equal(asText('Use *this* [link](x) <b>$(bug)</b>'), 'Use \\*this\\* \\[link\\](x) \\<b\\>\\$(bug)\\</b\\>');
    assert.equal(asText('- one\n2. two\nplain.'), '\\- one  \n2\\. two  \nplain.');
  });
});

describe('attempts', () => {
  test('named by their agent, and by the first title an agent gave (else the prompt)', () => {
    assert.equal(attemptLabel({ provider: 'codex', profile: 'work', model: 'gpt-5' }, 'Codex'), 'Codex (profile work, gpt-5)');
    const a = task('a', 'completed', { attemptGroup: 'g', prompt: 'Write it\nin detail' });
    const b = task('b', 'completed', { attemptGroup: 'g', prompt: 'Write it\nin detail', title: 'Writes the file' });
    assert.equal(attemptGroupLabel([a, b]), '2 attempts: Writes the file');
    assert.equal(attemptGroupLabel([a, { ...a, id: 'c' }]), '2 attempts: Write it');
  });

  test('the attempts of one prompt sit together under their most urgent member’s group; the rest by status', () => {
    const solo = task('solo', 'completed');
    const done = task('done', 'completed', { attemptGroup: 'g' });
    const asking = task('asking', 'waiting_answer', { attemptGroup: 'g' });
    const lone = task('lone', 'failed', { attemptGroup: 'h' });
    const all = [solo, done, asking, lone];
    const shown = arrangeRows(groupTasks(all), all);
    assert.deepEqual(shown.map((group) => [group.status, group.rows.map((row) => (row.kind === 'task' ? row.task.id : `${row.group}: ${row.tasks.map((t) => t.id).join(',')}`))]), [
      ['waiting_answer', ['g: done,asking']],
      ['completed', ['solo']],
      ['failed', ['lone']],
    ]);
    assert.deepEqual(shown[0].tasks.map((t) => t.id), ['done', 'asking'], 'the group lists every task shown in it');
  });
});
