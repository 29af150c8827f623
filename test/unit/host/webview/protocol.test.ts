import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { answerProblem, declineAnswer, describeAnswer, relativeToRoot, schemaProblem, summarizeQuestion } from '../../../../src/core/answers';
import { applyUnifiedDiff, contentOfAddPatch } from '../../../../src/core/patch';
import { PENDING_QUESTION_TYPES, type PendingQuestion } from '../../../../src/core/task-state';
import { toMcpTaskStatus } from '../../../../src/core/wire-state';
import { parseAnswer, parseWebviewMessage } from '../../../../src/host/webview/protocol';

describe('parseWebviewMessage accepts every valid message', () => {
  const valid: [string, unknown][] = [
    ['ready', { type: 'ready' }],
    ['cancel', { type: 'cancel' }],
    ['retry', { type: 'retry' }],
    ['showLog', { type: 'showLog' }],
    ['followUp', { type: 'followUp', text: 'now add tests' }],
    ['openDiff', { type: 'openDiff', requestId: 'req-1', path: 'src/a.ts' }],
    ['openChange', { type: 'openChange', path: 'src/a.ts' }],
    ...(['review', 'merge', 'apply', 'discard', 'resolve', 'openWorktree'] as const).map((action): [string, unknown] => [`worktree ${action}`, { type: 'worktree', action }]),
    ['answer (approval)', { type: 'answer', requestId: 'req-1', payloadHash: 'abc', answer: { decision: 'approve' } }],
    ['answer (approval with message)', { type: 'answer', requestId: 'req-1', payloadHash: 'abc', answer: { decision: 'deny', message: 'not now' } }],
    ['answer (user input)', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { answers: { q1: ['a', 'b'], q2: [] } } }],
    ['answer (elicitation)', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { action: 'accept', content: { name: 'x' } } }],
    ['answer (tool)', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { text: 'result', success: false } }],
  ];
  for (const [name, message] of valid) {
    test(name, () => assert.deepEqual(parseWebviewMessage(message), message));
  }

  test('extra fields are dropped, not passed on', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'cancel', taskId: 'someone-else-123', __proto__: { polluted: true } }), { type: 'cancel' });
    assert.deepEqual(parseWebviewMessage({ type: 'answer', requestId: 'r', payloadHash: 'h', answer: { decision: 'approve', extra: 'x' } }), {
      type: 'answer',
      requestId: 'r',
      payloadHash: 'h',
      answer: { decision: 'approve' },
    });
  });
});

describe('parseWebviewMessage rejects malformed messages of every kind', () => {
  const long = 'x'.repeat(100_001);
  const invalid: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['a string', 'ready'],
    ['a number', 42],
    ['an array', [{ type: 'ready' }]],
    ['no type', {}],
    ['an unknown type', { type: 'deleteEverything' }],
    ['a non-string type', { type: 1 }],
    ['followUp without text', { type: 'followUp' }],
    ['followUp with blank text', { type: 'followUp', text: '   ' }],
    ['followUp with non-string text', { type: 'followUp', text: { toString: 'x' } }],
    ['followUp with text over 100,000 characters', { type: 'followUp', text: long }],
    ['openDiff without requestId', { type: 'openDiff', path: 'a' }],
    ['openDiff with an empty requestId', { type: 'openDiff', requestId: '', path: 'a' }],
    ['openDiff with a 201-character requestId', { type: 'openDiff', requestId: 'r'.repeat(201), path: 'a' }],
    ['openDiff without path', { type: 'openDiff', requestId: 'r' }],
    ['openChange without path', { type: 'openChange' }],
    ['openChange with an empty path', { type: 'openChange', path: '' }],
    ['openChange with a non-string path', { type: 'openChange', path: ['a'] }],
    ['worktree without action', { type: 'worktree' }],
    ['worktree with an unknown action', { type: 'worktree', action: 'push' }],
    ['worktree with an inherited action name', { type: 'worktree', action: 'constructor' }],
    ['answer without requestId', { type: 'answer', payloadHash: 'h', answer: { decision: 'approve' } }],
    ['answer without payloadHash', { type: 'answer', requestId: 'r', answer: { decision: 'approve' } }],
    ['answer without answer', { type: 'answer', requestId: 'r', payloadHash: 'h' }],
    ['answer with a null answer', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: null }],
    ['answer with an unknown decision', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { decision: 'yolo' } }],
    ['answer with a non-string message', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { decision: 'deny', message: 5 } }],
    ['answer with answers as an array', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { answers: [['a']] } }],
    ['answer with a non-list answer', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { answers: { q1: 'a' } } }],
    ['answer with a non-string choice', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { answers: { q1: [1] } } }],
    ['answer with an unknown action', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { action: 'approve' } }],
    ['answer with array content', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { action: 'accept', content: [] } }],
    ['answer with a tool result without success', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { text: 'x' } }],
    ['answer with a string success', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { text: 'x', success: 'true' } }],
    ['answer of no known shape', { type: 'answer', requestId: 'r', payloadHash: 'h', answer: { approve: true } }],
  ];
  for (const [name, message] of invalid) {
    test(name, () => assert.equal(parseWebviewMessage(message), undefined));
  }

  test('parseAnswer alone rejects non-objects', () => {
    for (const value of [undefined, null, 'approve', 1, true]) assert.equal(parseAnswer(value), undefined);
  });
});

const ask = {
  command: { type: 'command_approval', requestId: 'r1', askedAt: 0, command: 'rm -rf build' },
  commandNoSession: { type: 'command_approval', requestId: 'r1', askedAt: 0, command: 'ls', canApproveForSession: false },
  file: { type: 'file_approval', requestId: 'r2', askedAt: 0, fileChanges: [{ path: 'a.ts', kind: 'update', patch: '' }] },
  files: { type: 'file_approval', requestId: 'r2', askedAt: 0, fileChanges: [{ path: 'a.ts', kind: 'update', patch: '' }, { path: 'b.ts', kind: 'add', patch: '' }] },
  input: { type: 'user_input', requestId: 'r3', askedAt: 0, questions: [{ id: 'q1', text: 'Which?' }, { id: 'q2', text: 'Why?' }] },
  elicit: {
    type: 'elicitation',
    requestId: 'r4',
    askedAt: 0,
    message: 'Config',
    schema: { type: 'object', properties: { name: { type: 'string' }, count: { type: 'integer' }, ratio: { type: 'number' }, on: { type: 'boolean' }, mode: { type: 'string', enum: ['a', 'b'] } }, required: ['name'] },
  },
  tool: { type: 'dynamic_tool', requestId: 'r5', askedAt: 0, toolName: 'lookup', arguments: {} },
} satisfies Record<string, PendingQuestion>;

describe('answerProblem: an answer must fit its question', () => {
  const cases: [string, PendingQuestion, unknown, RegExp | undefined][] = [
    ['approve a command', ask.command, { decision: 'approve' }, undefined],
    ['approve a command for the session', ask.command, { decision: 'approveForSession' }, undefined],
    ['deny a file change with a message', ask.file, { decision: 'deny', message: 'no' }, undefined],
    ['answer a command with text', ask.command, { text: 'yes', success: true }, /decision "approve", "approveForSession" or "deny"/],
    ['approve for the session where that is not offered', ask.commandNoSession, { decision: 'approveForSession' }, /cannot be approved for the whole session/],
    ['a non-string message', ask.command, { decision: 'deny', message: 1 }, /message must be a string/],
    ['not an object', ask.command, 'approve', /must be an object/],
    ['answer user input', ask.input, { answers: { q1: ['a'], q2: ['because'] } }, undefined],
    ['answer user input with a question that was not asked', ask.input, { answers: { q9: ['a'] } }, /There is no question "q9"/],
    ['answer user input with a non-list', ask.input, { answers: { q1: 'a' } }, /must be a list of strings/],
    ['answer user input with a decision', ask.input, { decision: 'approve' }, /\{answers: \{questionId: \[text\]\}\}/],
    ['accept an elicitation with valid content', ask.elicit, { action: 'accept', content: { name: 'n', count: 2, ratio: 0.5, on: true, mode: 'a' } }, undefined],
    ['decline an elicitation without content', ask.elicit, { action: 'decline' }, undefined],
    ['accept an elicitation without the required field', ask.elicit, { action: 'accept', content: { count: 1 } }, /"name" is required/],
    ['accept an elicitation with a wrong type', ask.elicit, { action: 'accept', content: { name: 'n', on: 'yes' } }, /"on" must be true or false/],
    ['answer an elicitation with a decision', ask.elicit, { decision: 'approve' }, /action "accept", "decline" or "cancel"/],
    ['answer a tool call', ask.tool, { text: '42', success: true }, undefined],
    ['answer a tool call with a decision', ask.tool, { decision: 'approve' }, /\{text, success\}/],
  ];
  for (const [name, question, answer, problem] of cases) {
    test(name, () => {
      const found = answerProblem(question, answer);
      if (problem) assert.match(found ?? '', problem);
      else assert.equal(found, undefined);
    });
  }
});

describe('schemaProblem', () => {
  const schema = ask.elicit.schema;
  test('no schema accepts anything', () => assert.equal(schemaProblem(undefined, { anything: 1 }), undefined));
  test('an empty string does not satisfy required', () => assert.match(schemaProblem(schema, { name: '' })!, /"name" is required/));
  test('types are checked', () => {
    assert.match(schemaProblem(schema, { name: 1 })!, /"name" must be text/);
    assert.match(schemaProblem(schema, { name: 'n', count: 1.5 })!, /"count" must be a whole number/);
    assert.match(schemaProblem(schema, { name: 'n', ratio: Number.NaN })!, /"ratio" must be a number/);
  });
  test('enums are checked', () => assert.match(schemaProblem(schema, { name: 'n', mode: 'c' })!, /"mode" must be one of a, b/));
  test('fields the schema does not name are let through', () => assert.equal(schemaProblem(schema, { name: 'n', other: {} }), undefined));
});

describe('declineAnswer never approves', () => {
  for (const question of Object.values(ask) as PendingQuestion[]) {
    test(`${question.type}${'canApproveForSession' in question ? ' (no session approval)' : ''}`, () => {
      const answer = declineAnswer(question);
      assert.equal(answerProblem(question, answer), undefined, 'the refusal is itself a valid answer');
      if ('decision' in answer) assert.equal(answer.decision, 'deny');
      if ('action' in answer) assert.equal(answer.action, 'decline');
      if ('success' in answer) assert.equal(answer.success, false);
      if ('answers' in answer) assert.deepEqual(answer.answers, {});
      assert.ok(!JSON.stringify(answer).includes('approve'), JSON.stringify(answer));
    });
  }

  test('every question type has a refusal', () => {
    const covered = new Set((Object.values(ask) as PendingQuestion[]).map((question) => question.type));
    assert.deepEqual([...covered].sort(), [...PENDING_QUESTION_TYPES].sort());
  });
});

describe('how questions and answers read', () => {
  test('summarizeQuestion', () => {
    assert.equal(summarizeQuestion(ask.command), 'run rm -rf build');
    assert.equal(summarizeQuestion(ask.file), 'change a.ts');
    assert.equal(summarizeQuestion(ask.files), 'change 2 files');
    assert.equal(summarizeQuestion(ask.input), 'Which? / Why?');
    assert.equal(summarizeQuestion(ask.elicit), 'Config');
    assert.equal(summarizeQuestion(ask.tool), 'tool lookup');
  });

  test('files are named relative to the root given (the task worktree), else as given', () => {
    const file = { ...ask.file, fileChanges: [{ path: '/r.worktrees/t-1/src/a.ts', kind: 'update' as const, patch: '' }] };
    assert.equal(summarizeQuestion(file, '/r.worktrees/t-1'), 'change src/a.ts');
    assert.equal(summarizeQuestion(file, '/r.worktrees/t-1/'), 'change src/a.ts');
    assert.equal(summarizeQuestion(file, '/r.worktrees/t'), 'change /r.worktrees/t-1/src/a.ts', 'a sibling folder is not a root');
    assert.equal(summarizeQuestion(file), 'change /r.worktrees/t-1/src/a.ts');
    assert.equal(describeAnswer(file, { decision: 'approve' }, '/r.worktrees/t-1'), 'Approved: change src/a.ts');
    assert.equal(relativeToRoot('C:\\r\\src\\a.ts', 'C:\\r'), 'src\\a.ts');
    assert.equal(relativeToRoot('/r', '/r'), '/r');
    assert.equal(relativeToRoot('/r/a', '/'), '/r/a');
  });

  test('describeAnswer', () => {
    assert.equal(describeAnswer(ask.command, { decision: 'approveForSession' }), 'Approved for this session: run rm -rf build');
    assert.equal(describeAnswer(ask.input, { answers: { q1: ['a', 'b'] } }), 'Answered q1: a, b');
    assert.equal(describeAnswer(ask.input, { answers: {} }), 'Answered nothing');
    assert.equal(describeAnswer(ask.elicit, { action: 'cancel' }), 'Cancelled: Config');
    assert.equal(describeAnswer(ask.tool, { text: 'r'.repeat(300), success: true }), `Tool result sent: ${'r'.repeat(200)}`);
  });
});

describe('applyUnifiedDiff', () => {
  const original = ['line 1', 'line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8'].join('\n');

  test('applies hunks with line numbers, keeping the rest', () => {
    const patch = [
      '--- a/file.txt',
      '+++ b/file.txt',
      '@@ -2,2 +2,2 @@',
      ' line 2',
      '-line 3',
      '+line three',
      '@@ -6,2 +6,3 @@',
      ' line 6',
      '+line 6.5',
      ' line 7',
      '',
    ].join('\n');
    assert.equal(applyUnifiedDiff(original, patch), ['line 1', 'line 2', 'line three', 'line 4', 'line 5', 'line 6', 'line 6.5', 'line 7', 'line 8'].join('\n'));
  });

  test('applies bare "@@" hunks (Codex style) by their context', () => {
    const patch = ['@@', ' line 4', '-line 5', '+line five', '+line five and a half', ' line 6', '@@', '-line 8', '+the end'].join('\n');
    assert.equal(
      applyUnifiedDiff(original, patch),
      ['line 1', 'line 2', 'line 3', 'line 4', 'line five', 'line five and a half', 'line 6', 'line 7', 'the end'].join('\n'),
    );
  });

  test('a hunk that does not match gives undefined, never a wrong result', () => {
    assert.equal(applyUnifiedDiff(original, ['@@ -2,1 +2,1 @@', '-line 99', '+x'].join('\n')), undefined);
    assert.equal(applyUnifiedDiff(original, ['@@ -3,1 +3,1 @@', ' line 2'].join('\n')), undefined);
    assert.equal(applyUnifiedDiff(original, ['@@', ' nowhere', '-line 1'].join('\n')), undefined);
  });

  test('hunks out of order are refused', () => {
    assert.equal(applyUnifiedDiff(original, ['@@ -5,1 +5,1 @@', '-line 5', '+five', '@@ -2,1 +2,1 @@', '-line 2', '+two'].join('\n')), undefined);
  });

  test('text without any hunk is not a patch', () => {
    assert.equal(applyUnifiedDiff(original, 'just some text'), undefined);
  });

  test('contentOfAddPatch takes the + lines of a diff, or the text itself', () => {
    assert.equal(contentOfAddPatch(['--- /dev/null', '+++ b/new.txt', '@@ -0,0 +1,2 @@', '+hello', '+world'].join('\n')), 'hello\nworld');
    assert.equal(contentOfAddPatch('plain content\nsecond line'), 'plain content\nsecond line');
  });
});

describe('wire state (MCP tasks, DESIGN §3)', () => {
  const table = {
    waiting: 'working',
    pending: 'working',
    running: 'working',
    rate_limited: 'working',
    waiting_answer: 'input_required',
    completed: 'completed',
    failed: 'failed',
    timed_out: 'failed',
    unknown: 'failed',
    cancelled: 'cancelled',
  } as const;
  for (const [status, wire] of Object.entries(table)) {
    test(`${status} → ${wire}`, () => assert.equal(toMcpTaskStatus(status as keyof typeof table), wire));
  }
});
