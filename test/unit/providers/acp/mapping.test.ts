/**
 * The ACP client's pure mappings: permission requests → questions, answers → the agent's options, session updates
 * → transcript entries, and the unified diffs shown for file changes.
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type * as acp from '@agentclientprotocol/sdk/unstable';
import fc from 'fast-check';
import type { OutputEntry } from '../../../../src/core/task-state';
import { permissionOutcome, permissionQuestion } from '../../../../src/providers/acp/permissions';
import { defaultTurnOutcome } from '../../../../src/providers/acp/run';
import { StreamingOutput } from '../../../../src/providers/stdio/streaming-output';
import { AcpTranscript } from '../../../../src/providers/acp/transcript';
import { createUnifiedDiff } from '../../../../src/providers/stdio/unified-diff';

const CWD = '/ws/project';
const OPTIONS: acp.PermissionOption[] = [
  { optionId: 'a1', name: 'Allow once', kind: 'allow_once' },
  { optionId: 'a2', name: 'Always allow', kind: 'allow_always' },
  { optionId: 'r1', name: 'Deny', kind: 'reject_once' },
  { optionId: 'r2', name: 'Never', kind: 'reject_always' },
];

function request(toolCall: acp.ToolCallUpdate, options = OPTIONS): acp.RequestPermissionRequest {
  return { sessionId: 's', toolCall, options };
}

describe('ACP permission requests become questions', async () => {
  it('execute → command approval with the command, its description as the reason, and approve-for-session when offered', async () => {
    const question = await permissionQuestion('p1', request({ toolCallId: 't', kind: 'execute', title: 'Run tests', rawInput: { command: 'npm test', description: 'Run the tests' } }), undefined, { cwd: CWD });
    assert.deepEqual(question, { type: 'command_approval', requestId: 'p1', command: 'npm test', cwd: CWD, reason: 'Run the tests', canApproveForSession: true });
  });

  it('execute without a command shows the joined commands, else the title', async () => {
    const commands = await permissionQuestion('p', request({ toolCallId: 't', kind: 'execute', title: 'x', rawInput: { commands: ['a', 'b'] } }), undefined, { cwd: CWD });
    assert.equal(commands.type === 'command_approval' && commands.command, 'a\nb');
    const titled = await permissionQuestion('p', request({ toolCallId: 't', kind: 'execute', title: 'Do it' }, OPTIONS.slice(0, 1)), undefined, { cwd: CWD });
    assert.equal(titled.type === 'command_approval' && titled.command, 'Do it');
    assert.equal(titled.type === 'command_approval' && titled.canApproveForSession, false);
  });

  it('the kind may come from the earlier tool_call when the request leaves it out', async () => {
    const known: acp.ToolCallUpdate = { toolCallId: 't', kind: 'execute', title: 'Touch', rawInput: { command: 'touch x' } };
    const question = await permissionQuestion('p', request({ toolCallId: 't', title: 'Touch' }), known, { cwd: CWD });
    assert.equal(question.type, 'command_approval');
    assert.equal(question.type === 'command_approval' && question.command, 'touch x');
  });

  it('edit with rawInput.diff (Copilot) → file approval carrying that diff; a create is an add', async () => {
    const diff = '\ndiff --git a/ws/project/new.txt b/ws/project/new.txt\ncreate file mode 100644\n--- a/dev/null\n+++ b/ws/project/new.txt\n@@ -1,0 +1,1 @@\n+hi\n';
    const question = await permissionQuestion('p', request({ toolCallId: 't', kind: 'edit', title: 'Create file', rawInput: { fileName: `${CWD}/new.txt`, diff } }), undefined, {
      cwd: CWD,
      readFile: () => undefined,
    });
    assert.deepEqual(question.type === 'file_approval' && question.fileChanges, [{ path: 'new.txt', kind: 'add', patch: diff.slice(1) }]);
  });

  it('edit with a diff block (oldText fragment) → the whole-file diff and new content from the file on disk', async () => {
    const files: Record<string, string> = { [`${CWD}/src/a.ts`]: 'one\ntwo\nthree\n' };
    const question = await permissionQuestion(
      'p',
      request({ toolCallId: 't', kind: 'edit', title: 'Edit', content: [{ type: 'diff', path: `${CWD}/src/a.ts`, oldText: 'two', newText: 'TWO' }] }),
      undefined,
      { cwd: CWD, readFile: (file) => files[file] },
    );
    assert.deepEqual(question.type === 'file_approval' && question.fileChanges, [
      { path: 'src/a.ts', kind: 'update', patch: '--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n', newContent: 'one\nTWO\nthree\n' },
    ]);
  });

  it('a file outside the workspace keeps its absolute path; a fragment not found on disk is shown as sent', async () => {
    const question = await permissionQuestion(
      'p',
      request({ toolCallId: 't', kind: 'edit', title: 'Edit', content: [{ type: 'diff', path: '/etc/hosts', oldText: 'x', newText: 'y' }] }),
      undefined,
      { cwd: CWD, readFile: () => 'nothing here\n' },
    );
    assert.deepEqual(question.type === 'file_approval' && question.fileChanges, [
      { path: '/etc/hosts', kind: 'update', patch: '--- a/etc/hosts\n+++ b/etc/hosts\n@@ -1,1 +1,1 @@\n-x\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n' },
    ]);
  });

  it('any other kind → a command approval that names the tool and shows its input', async () => {
    const question = await permissionQuestion('p', request({ toolCallId: 't', kind: 'fetch', title: 'Fetch', rawInput: { url: 'https://x' } }), undefined, { cwd: CWD });
    assert.deepEqual(question, { type: 'command_approval', requestId: 'p', command: 'Fetch {"url":"https://x"}', cwd: CWD, reason: 'Tool kind: fetch', canApproveForSession: true });
  });
});

describe('answers select the option the agent offered', () => {
  const cases: [string, Parameters<typeof permissionOutcome>[0], acp.PermissionOption[], acp.RequestPermissionOutcome][] = [
    ['approve → allow_once', { decision: 'approve' }, OPTIONS, { outcome: 'selected', optionId: 'a1' }],
    ['approve for session → allow_always', { decision: 'approveForSession' }, OPTIONS, { outcome: 'selected', optionId: 'a2' }],
    ['deny → reject_once', { decision: 'deny', message: 'no' }, OPTIONS, { outcome: 'selected', optionId: 'r1' }],
    ['approve falls back to allow_always', { decision: 'approve' }, [OPTIONS[1], OPTIONS[2]], { outcome: 'selected', optionId: 'a2' }],
    ['approve for session falls back to allow_once', { decision: 'approveForSession' }, [OPTIONS[0]], { outcome: 'selected', optionId: 'a1' }],
    ['deny falls back to reject_always', { decision: 'deny' }, [OPTIONS[0], OPTIONS[3]], { outcome: 'selected', optionId: 'r2' }],
    ['deny with no reject option → cancelled (never allowed)', { decision: 'deny' }, [OPTIONS[0]], { outcome: 'cancelled' }],
    ['no answer (withdrawn) → cancelled', undefined, OPTIONS, { outcome: 'cancelled' }],
    ['an answer of another shape → cancelled', { answers: {} }, OPTIONS, { outcome: 'cancelled' }],
  ];
  for (const [name, answer, options, expected] of cases) {
    it(name, () => assert.deepEqual(permissionOutcome(answer, options), expected));
  }
});

describe('session updates become transcript entries', () => {
  it('a session update kind this client does not know is logged once per kind and writes nothing', () => {
    const appended: Omit<OutputEntry, 'at'>[] = [];
    const lines: string[] = [];
    const output = new StreamingOutput({ appendOutput: (entry) => void appended.push(entry) }, 0);
    const mapper = new AcpTranscript(output, 'run', CWD, undefined, { info: (message: string) => void lines.push(message) });
    mapper.onUpdate({ sessionUpdate: 'hologram_update', frames: 3 } as never);
    mapper.onUpdate({ sessionUpdate: 'hologram_update', frames: 4 } as never);
    mapper.onUpdate({ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: 'still fine' } });
    output.flush();
    assert.equal(lines.filter((line) => line.includes('hologram_update')).length, 1);
    assert.deepEqual(appended.map((entry) => entry.text), ['still fine']);
  });

  function transcript() {
    const appended: Omit<OutputEntry, 'at'>[] = [];
    const output = new StreamingOutput({ appendOutput: (entry) => void appended.push(entry) }, 0);
    const titles: string[] = [];
    const mapper = new AcpTranscript(output, 'run', CWD, (title) => void titles.push(title));
    const shown = () => {
      const byId = new Map<string, number>();
      const list: Omit<OutputEntry, 'at'>[] = [];
      for (const entry of appended) {
        if (entry.id && byId.has(entry.id)) list[byId.get(entry.id)!] = entry;
        else {
          if (entry.id) byId.set(entry.id, list.length);
          list.push(entry);
        }
      }
      return list;
    };
    return { mapper, shown, titles };
  }
  const text = (value: string): acp.ContentBlock => ({ type: 'text', text: value });

  it('chunks coalesce per message; thoughts are reasoning; another update ends the message', () => {
    const { mapper, shown } = transcript();
    mapper.onUpdate({ sessionUpdate: 'agent_thought_chunk', content: text('Hm') });
    mapper.onUpdate({ sessionUpdate: 'agent_message_chunk', content: text('Hel') });
    mapper.onUpdate({ sessionUpdate: 'agent_message_chunk', content: text('lo') });
    mapper.onUpdate({ sessionUpdate: 'usage_update', used: 1, size: 2 });
    mapper.onUpdate({ sessionUpdate: 'agent_message_chunk', content: text('Again') });
    assert.deepEqual(shown().map((entry) => [entry.kind, entry.text]), [
      ['reasoning', 'Hm'],
      ['agent', 'Hello'],
      ['agent', 'Again'],
    ]);
    assert.equal(mapper.lastText, 'Again');
  });

  it('message ids, when the agent sends them, split messages', () => {
    const { mapper, shown } = transcript();
    mapper.onUpdate({ sessionUpdate: 'agent_message_chunk', content: text('A'), messageId: 'm1' });
    mapper.onUpdate({ sessionUpdate: 'agent_message_chunk', content: text('B'), messageId: 'm2' });
    assert.deepEqual(shown().map((entry) => entry.text), ['A', 'B']);
  });

  it('non-text content is shown as a placeholder or link', () => {
    const { mapper, shown } = transcript();
    mapper.onUpdate({ sessionUpdate: 'agent_message_chunk', content: { type: 'resource_link', name: 'spec', uri: 'file:///spec.md' } });
    mapper.onUpdate({ sessionUpdate: 'agent_message_chunk', content: { type: 'image', data: '', mimeType: 'image/png' } });
    assert.deepEqual(shown().map((entry) => entry.text), ['[spec](file:///spec.md)[image]']);
  });

  it('tool calls: execute → command (output, exit code), edit → file (diff), others → tool; updates replace the entry', () => {
    const { mapper, shown } = transcript();
    mapper.onUpdate({ sessionUpdate: 'tool_call', toolCallId: 'c', title: 'List', kind: 'execute', status: 'pending', rawInput: { command: 'ls' } });
    mapper.onUpdate({ sessionUpdate: 'tool_call_update', toolCallId: 'c', status: 'completed', content: [{ type: 'content', content: text('a\nb') }], rawOutput: { contents: [{ type: 'shell_exit', exitCode: 2 }] } });
    mapper.onUpdate({ sessionUpdate: 'tool_call', toolCallId: 'e', title: 'Editing', kind: 'edit', status: 'pending', locations: [{ path: `${CWD}/x.txt` }], content: [{ type: 'diff', path: `${CWD}/x.txt`, oldText: 'a', newText: 'b' }] });
    mapper.onUpdate({ sessionUpdate: 'tool_call', toolCallId: 'r', title: 'Read x.txt', kind: 'read', status: 'completed', rawOutput: { content: 'file body' } });
    mapper.onUpdate({ sessionUpdate: 'tool_call_update', toolCallId: 'e', status: 'failed', rawOutput: { message: 'The user rejected this tool call.', code: 'rejected' } });
    assert.deepEqual(shown(), [
      { id: 'run:tool:c', kind: 'command', text: '$ ls', detail: 'a\nb', exitCode: 2 },
      { id: 'run:tool:e', kind: 'file', text: 'Edit x.txt (denied)', detail: 'The user rejected this tool call.' },
      { id: 'run:tool:r', kind: 'tool', text: 'Read x.txt', detail: 'file body' },
    ]);
  });

  it('plans and notices are status lines; session bookkeeping updates are skipped', () => {
    const { mapper, shown } = transcript();
    mapper.onUpdate({ sessionUpdate: 'plan', entries: [{ content: 'Look', priority: 'high', status: 'completed' }, { content: 'Fix', priority: 'low', status: 'in_progress' }] });
    mapper.onUpdate({ sessionUpdate: 'notice', severity: 'warning', title: 'Slow model', description: 'retrying' });
    mapper.onUpdate({ sessionUpdate: 'session_info_update', title: 'x' });
    mapper.onUpdate({ sessionUpdate: 'available_commands_update', availableCommands: [] });
    mapper.onUpdate({ sessionUpdate: 'user_message_chunk', content: text('echo of the prompt') });
    assert.deepEqual(shown().map((entry) => [entry.kind, entry.text]), [
      ['status', 'Plan:\n[x] Look\n[~] Fix'],
      ['status', 'Slow model: retrying'],
    ]);
  });

  it('session_info_update with a title names the task (also when replayed by session/load); without one it is ignored', () => {
    const { mapper, shown, titles } = transcript();
    mapper.onUpdate({ sessionUpdate: 'session_info_update', title: 'Add a --verbose flag' });
    mapper.onUpdate({ sessionUpdate: 'session_info_update', updatedAt: '2026-01-01T00:00:00Z' });
    mapper.onUpdate({ sessionUpdate: 'session_info_update', title: null });
    mapper.onUpdate({ sessionUpdate: 'session_info_update', title: '   ' });
    mapper.onReplayedUpdate({ sessionUpdate: 'session_info_update', title: 'Renamed later' });
    assert.deepEqual(titles, ['Add a --verbose flag', 'Renamed later']);
    assert.deepEqual(shown(), [], 'a title is not a transcript entry');
  });

  it('stop reasons other than end_turn fail the task', () => {
    assert.deepEqual(defaultTurnOutcome({ stopReason: 'end_turn', lastText: 'done' }, 'A'), { status: 'completed', result: 'done' });
    for (const stopReason of ['max_tokens', 'max_turn_requests', 'refusal', 'cancelled'] as const) {
      assert.equal(defaultTurnOutcome({ stopReason, lastText: '' }, 'A').status, 'failed', stopReason);
    }
  });
});

describe('createUnifiedDiff', () => {
  it('writes git-style headers, /dev/null for a new or deleted file, and nothing for no change', () => {
    assert.equal(createUnifiedDiff('a.txt', undefined, 'x\n'), '--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1,1 @@\n+x\n');
    assert.equal(createUnifiedDiff('a.txt', 'x\n', undefined), '--- a/a.txt\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n');
    assert.equal(createUnifiedDiff('a.txt', 'same\n', 'same\n'), '');
  });

  it('marks a missing final newline', () => {
    assert.equal(createUnifiedDiff('a', 'x', 'x\n'), '--- a/a\n+++ b/a\n@@ -1,1 +1,1 @@\n-x\n\\ No newline at end of file\n+x\n');
  });

  it('keeps three lines of context and splits distant changes into hunks', () => {
    const before = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
    const after = before.replace('line 2\n', 'LINE 2\n').replace('line 19\n', 'LINE 19\n');
    const diff = createUnifiedDiff('f', before, after);
    assert.deepEqual(diff.match(/^@@ .* @@$/gm), ['@@ -1,5 +1,5 @@', '@@ -16,5 +16,5 @@']);
  });

  it('applying the diff to the old text gives the new text, for any texts', () => {
    const line = fc.constantFrom('a', 'b', 'c', '', 'a b');
    const text = fc.tuple(fc.array(line, { maxLength: 30 }), fc.boolean()).map(([lines, newline]) => (lines.length ? lines.join('\n') + (newline ? '\n' : '') : ''));
    fc.assert(
      fc.property(text, text, fc.integer({ min: 0, max: 4 }), (before, after, context) => {
        const diff = createUnifiedDiff('f', before, after, context);
        if (before === after) return diff === '';
        return applyDiff(before, diff) === after;
      }),
      { numRuns: 2000 },
    );
  });

  it('stays fast on large files', () => {
    const before = Array.from({ length: 20_000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const after = before.replace('line 5000\n', 'changed\n').replace('line 15000\n', '');
    const started = Date.now();
    const diff = createUnifiedDiff('big', before, after);
    assert.ok(Date.now() - started < 2000);
    assert.equal(applyDiff(before, diff), after);
  });
});

/** A strict patch applier for the tests (hunk counts, context and the no-newline marker all checked). */
function applyDiff(text: string, diff: string): string {
  const NO_NEWLINE = '\u0000';
  const split = (value: string): string[] => {
    if (value === '') return [];
    const lines = value.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    else lines[lines.length - 1] += NO_NEWLINE;
    return lines;
  };
  const source = split(text);
  const lines: string[] = [];
  for (const line of diff.split('\n').slice(2, -1)) {
    if (line.startsWith('\\')) lines[lines.length - 1] += NO_NEWLINE;
    else lines.push(line);
  }
  const out: string[] = [];
  let cursor = 0;
  for (let i = 0; i < lines.length; ) {
    const header = /^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$/.exec(lines[i++]);
    assert.ok(header, `hunk header expected: ${lines[i - 1]}`);
    const start = Number(header[2]) === 0 ? Number(header[1]) : Number(header[1]) - 1;
    assert.ok(start >= cursor, 'hunks in order');
    while (cursor < start) out.push(source[cursor++]);
    let oldCount = 0;
    let newCount = 0;
    while (i < lines.length && !lines[i].startsWith('@@')) {
      const [mark, body] = [lines[i][0], lines[i].slice(1)];
      i++;
      if (mark !== '+') {
        assert.equal(source[cursor], body, 'context and removed lines match the old text');
        cursor++;
        oldCount++;
      }
      if (mark !== '-') {
        out.push(body);
        newCount++;
      }
    }
    assert.deepEqual([oldCount, newCount], [Number(header[2]), Number(header[4])], 'hunk counts');
  }
  while (cursor < source.length) out.push(source[cursor++]);
  return out.map((line) => (line.endsWith(NO_NEWLINE) ? line.slice(0, -1) : `${line}\n`)).join('');
}
