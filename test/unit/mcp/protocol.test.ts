// The pure parts of MCP delegation: who may answer what (DESIGN §6), answer shorthands, the MCP task status of every
// task status (DESIGN §3), task resource URIs, the socket directory and token, and the configs other agents paste.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { PENDING_QUESTION_TYPES, TASK_STATUSES, type PendingQuestion, type TaskStatus } from '../../../src/core/task-state';
import { clientSnippets, READ_ONLY_TOOLS } from '../../../src/mcp/client-config';
import { TOOLS } from '../../../src/mcp/tools';
import { loadOrCreateToken, readTokenFile, rotateToken, tokenFilePath, tokenMatches } from '../../../src/mcp/endpoint';
import { privateDirFor } from '../../../src/platform/private-dir';
import { parseTaskUri, taskMarkdown, toMcpTask } from '../../../src/mcp/format';
import { delegatorMayAnswer, normalizeAnswer, type WireTask } from '../../../src/mcp/protocol';

/** A task as the host sends it, with `patch` applied. */
function wireTask(id: string, patch: Partial<WireTask> = {}): WireTask {
  const now = Date.now();
  return { id, status: 'running', provider: 'scripted', taskType: 'general', prompt: `prompt of ${id}`, labels: ['delegated'], dependsOn: [], delegated: true, created: now, updated: now, pendingQuestions: [], ...patch };
}

describe('who may answer a delegated task’s questions', () => {
  const expected: Record<(typeof PENDING_QUESTION_TYPES)[number], [boolean, boolean]> = {
    // [approvals not allowed, approvals allowed]
    user_input: [true, true],
    elicitation: [true, true],
    command_approval: [false, true],
    file_approval: [false, true],
    dynamic_tool: [false, true],
  };
  for (const type of PENDING_QUESTION_TYPES) {
    test(`${type}: ${expected[type][0] ? 'always the delegating agent' : 'the delegating agent only with agentTasks.mcp.allowAgentApprovals'}`, () => {
      assert.deepEqual([delegatorMayAnswer(type, false), delegatorMayAnswer(type, true)], expected[type]);
    });
  }
});

describe('answer shorthands', () => {
  const approval: PendingQuestion = { type: 'command_approval', requestId: 'r', askedAt: 0, command: 'ls', canApproveForSession: true };
  const oneQuestion: PendingQuestion = { type: 'user_input', requestId: 'r', askedAt: 0, questions: [{ id: 'q1', text: 'Which?' }] };
  const twoQuestions: PendingQuestion = { type: 'user_input', requestId: 'r', askedAt: 0, questions: [{ id: 'a', text: 'A?' }, { id: 'b', text: 'B?' }] };
  const tool: PendingQuestion = { type: 'dynamic_tool', requestId: 'r', askedAt: 0, toolName: 't', arguments: {} };
  const form: PendingQuestion = { type: 'elicitation', requestId: 'r', askedAt: 0, message: 'Fill in' };
  const cases: [string, PendingQuestion, unknown, unknown][] = [
    ['"approve"', approval, 'approve', { decision: 'approve' }],
    ['"Approve for session"', approval, 'Approve for session', { decision: 'approveForSession' }],
    ['"deny"', approval, ' deny ', { decision: 'deny' }],
    ['the full object', approval, { decision: 'deny', message: 'no' }, { decision: 'deny', message: 'no' }],
    ['text for the only question', oneQuestion, 'B', { answers: { q1: ['B'] } }],
    ['answers with plain strings', twoQuestions, { answers: { a: 'x', b: ['y'] } }, { answers: { a: ['x'], b: ['y'] } }],
    ['an object as JSON text', twoQuestions, '{"answers": {"a": ["x"]}}', { answers: { a: ['x'] } }],
    ['tool output text', tool, 'result text', { text: 'result text', success: true }],
    ['"decline" for a form', form, 'decline', { action: 'decline' }],
  ];
  for (const [name, question, raw, answer] of cases) {
    test(`${question.type}: ${name}`, () => assert.deepEqual(normalizeAnswer(question, raw), answer));
  }
  test('text that fits no shape is refused with the shape to use', () => {
    assert.throws(() => normalizeAnswer(approval, 'yes please'), /"approve", "approveForSession" or "deny"/);
    assert.throws(() => normalizeAnswer(twoQuestions, 'x'), /2 questions/);
    assert.throws(() => normalizeAnswer(form, 'hello'), /"action": "accept"/);
    assert.throws(() => normalizeAnswer(approval, 42), /text or an object/);
  });
});

describe('MCP tasks (SEP-1686)', () => {
  const wire: Record<TaskStatus, string> = {
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
  };
  for (const status of TASK_STATUSES) {
    test(`${status} → ${wire[status]}`, () => {
      const task = toMcpTask(wireTask('t-1', { status, created: 0, updated: 1000 }));
      assert.equal(task.status, wire[status]);
      assert.equal(task.taskId, 't-1');
      assert.equal(task.createdAt, '1970-01-01T00:00:00.000Z');
      assert.equal(task.lastUpdatedAt, '1970-01-01T00:00:01.000Z');
      assert.equal(task.ttl, null);
      assert.ok(task.statusMessage);
    });
  }
  test('input_required says which request to answer, or that the user answers it', () => {
    const asking = (agentMayAnswer: boolean): WireTask =>
      wireTask('t-2', { status: 'waiting_answer', pendingQuestions: [{ type: 'command_approval', requestId: 'r7', askedAt: 0, command: 'make', agentMayAnswer }] });
    assert.match(toMcpTask(asking(true)).statusMessage ?? '', /answer_question \(requestId "r7"\)/);
    assert.match(toMcpTask(asking(false)).statusMessage ?? '', /the user answers it in VS Code/);
    assert.match(taskMarkdown(asking(false)), /agentTasks\.mcp\.allowAgentApprovals/);
  });
});

describe('task resource URIs', () => {
  test('task://{id} and task://{id}/output', () => {
    assert.deepEqual(parseTaskUri('task://brave-otter-123'), { taskId: 'brave-otter-123', part: 'summary' });
    assert.deepEqual(parseTaskUri('task://brave-otter-123/output'), { taskId: 'brave-otter-123', part: 'output' });
    assert.equal(parseTaskUri('task://../etc'), undefined);
    assert.equal(parseTaskUri('file:///etc/passwd'), undefined);
    assert.equal(parseTaskUri('task://a/other'), undefined);
  });
});

describe('socket directory and token', () => {
  test('the directory is short even when the temp dir is long, stable, and differs per workspace and user', () => {
    const longTmp = `/very/${'long-'.repeat(30)}tmp`;
    const dir = privateDirFor('/home/me/project', 1000, longTmp);
    assert.ok(Buffer.byteLength(path.join(dir, 'mcp.sock')) <= 100, dir);
    assert.equal(dir, privateDirFor('/home/me/project', 1000, longTmp));
    assert.notEqual(dir, privateDirFor('/home/me/other', 1000, longTmp));
    assert.notEqual(dir, privateDirFor('/home/me/project', 1001, longTmp));
    assert.equal(path.dirname(privateDirFor('/p', 1, '/tmp')), '/tmp');
  });

  test('the token is created 0600, kept across loads, and compared exactly', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-token-'));
    try {
      const token = loadOrCreateToken(dir);
      assert.match(token, /^[0-9a-f]{64}$/);
      assert.equal(loadOrCreateToken(dir), token, 'the same token after a reload');
      const file = fs.readdirSync(dir).map((name) => path.join(dir, name))[0];
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.ok(tokenMatches(token, token));
      assert.ok(!tokenMatches(token.slice(1), token));
      assert.ok(!tokenMatches(undefined, token));
      assert.ok(!tokenMatches('', token));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('L6 the MCP token: in a user-level 0600 file the configs name, and rotated by a command', () => {
  test('L6 rotateToken replaces the token in its 0600 file; the old one no longer matches', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-token-'));
    try {
      const first = loadOrCreateToken(dir);
      const file = tokenFilePath(dir);
      assert.equal(readTokenFile(file), first);
      const second = rotateToken(dir);
      assert.match(second, /^[0-9a-f]{64}$/);
      assert.notEqual(second, first);
      assert.equal(readTokenFile(file), second);
      assert.equal(loadOrCreateToken(dir), second, 'a reload keeps the rotated token');
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      assert.ok(!tokenMatches(first, second));
      assert.deepEqual(fs.readdirSync(dir), ['mcp-token'], 'no temp file left');
      assert.equal(readTokenFile(path.join(dir, 'missing')), undefined);
      fs.writeFileSync(file, 'not a token');
      assert.equal(readTokenFile(file), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('L6 the snippets built from the socket and the token file carry no token (argv, shell history, .mcp.json)', () => {
    const token = 'c'.repeat(64);
    const fileEnv = { AGENT_TASKS_SOCKET: '/tmp/atw-1/mcp.sock', AGENT_TASKS_TOKEN_FILE: '/home/u/.config/Code/User/workspaceStorage/abc/agenttasks.agent-task-worker/mcp-token' };
    const snippets = clientSnippets('/ext/dist/mcp-server.js', fileEnv);
    for (const [kind, text] of Object.entries(snippets)) {
      assert.ok(!text.includes(token), kind);
      assert.match(text, /AGENT_TASKS_TOKEN_FILE/, kind);
      assert.doesNotMatch(text, /AGENT_TASKS_TOKEN[ =]|AGENT_TASKS_TOKEN"/, kind);
    }
  });
});

describe('client configs', () => {
  const env = { AGENT_TASKS_SOCKET: '/tmp/atw-1/mcp.sock', AGENT_TASKS_TOKEN: 'abc' };
  const snippets = clientSnippets("/ext's dir/dist/mcp-server.js", env);
  test('Claude Code .mcp.json', () => {
    assert.deepEqual(JSON.parse(snippets.claude), {
      mcpServers: { 'agent-tasks': { type: 'stdio', command: 'node', args: ["/ext's dir/dist/mcp-server.js"], env } },
    });
  });
  test('claude mcp add, quoted for the shell', () => {
    assert.equal(
      snippets.claudeCli,
      `claude mcp add agent-tasks -e AGENT_TASKS_SOCKET=/tmp/atw-1/mcp.sock -e AGENT_TASKS_TOKEN=abc -- node '/ext'\\''s dir/dist/mcp-server.js'`,
    );
  });
  test('M1 Codex config.toml auto-approves the read-only tools only', () => {
    assert.equal(
      snippets.codex,
      [
        '[mcp_servers.agent-tasks]',
        'command = "node"',
        `args = ["/ext's dir/dist/mcp-server.js"]`,
        'tool_timeout_sec = 660',
        'env = { AGENT_TASKS_SOCKET = "/tmp/atw-1/mcp.sock", AGENT_TASKS_TOKEN = "abc" }',
        '# Codex calls the read-only tools (get_task, list_tasks, wait_for_task, get_task_changes) without asking and asks',
        '# you before the others (spawn_task, answer_question, cancel_task, send_message, merge_task_changes). To let it',
        '# delegate without asking (codex exec), add a table [mcp_servers.agent-tasks.tools.spawn_task] with approval_mode = "approve".',
        '[mcp_servers.agent-tasks.tools.get_task]',
        'approval_mode = "approve"',
        '[mcp_servers.agent-tasks.tools.list_tasks]',
        'approval_mode = "approve"',
        '[mcp_servers.agent-tasks.tools.wait_for_task]',
        'approval_mode = "approve"',
        '[mcp_servers.agent-tasks.tools.get_task_changes]',
        'approval_mode = "approve"',
      ].join('\n'),
    );
    assert.doesNotMatch(snippets.codex, /default_tools_approval_mode/);
    const readOnly = TOOLS.filter((tool) => tool.annotations?.readOnlyHint === true).map((tool) => tool.name);
    assert.deepEqual([...READ_ONLY_TOOLS].sort(), readOnly.sort(), 'the approved tools are exactly the read-only ones');
  });
});
