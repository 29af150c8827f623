// M2: files an agent names for a diff are read only when they are regular files of bounded size inside the task's
// folder (realpath), asynchronously; their content never reaches state.json or the MCP wire beyond a bounded patch.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type * as acp from '@agentclientprotocol/sdk/unstable';
import { emptyState, StateFile, STATE_VERSION } from '../../../src/core/persistence';
import { MAX_SHARED_PATCH_CHARS } from '../../../src/core/question-bounds';
import type { PendingQuestion, TaskState } from '../../../src/core/task-state';
import { questionMarkdown } from '../../../src/mcp/format';
import type { WireQuestion, WireTask } from '../../../src/mcp/protocol';
import { structuredTask } from '../../../src/mcp/task-store';
import { MAX_AGENT_FILE_BYTES, readAgentFile } from '../../../src/providers/agent-files';
import { permissionQuestion } from '../../../src/providers/acp/permissions';
import { toolPermissionPrompt } from '../../../src/providers/claude/permissions';
import { FakeClock } from '../../support/core-harness';

const SECRET = 'aws_access_key_id = AKIASECRETSECRET';
let root: string;
let cwd: string;
let outside: string;

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-m2-'));
  cwd = path.join(root, 'ws');
  fs.mkdirSync(path.join(cwd, 'src'), { recursive: true });
  fs.writeFileSync(path.join(cwd, 'src', 'a.ts'), 'one\ntwo\nthree\n');
  outside = path.join(root, 'secret-outside.txt');
  fs.writeFileSync(outside, `${SECRET}\n`);
  fs.symlinkSync(outside, path.join(cwd, 'link-to-secret.txt'));
  fs.symlinkSync('/dev/zero', path.join(cwd, 'zero'));
  execFileSync('mkfifo', [path.join(cwd, 'pipe')]);
  fs.writeFileSync(path.join(cwd, 'big.txt'), Buffer.alloc(3 * 1024 * 1024, 'a'));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Fails the test if the read takes longer than a blocked FIFO open or an endless device read would allow. */
async function quickly<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the read blocked')), 3000)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('M2 readAgentFile', () => {
  test('M2 a regular file inside is read; a missing file inside is a new file', async () => {
    assert.deepEqual(await readAgentFile(path.join(cwd, 'src', 'a.ts'), [cwd]), { status: 'text', text: 'one\ntwo\nthree\n' });
    assert.deepEqual(await readAgentFile(path.join(cwd, 'src', 'new.ts'), [cwd]), { status: 'missing' });
    assert.deepEqual(await readAgentFile(path.join(cwd, 'new-dir', 'deep', 'new.ts'), [cwd]), { status: 'missing' });
  });

  test('M2 a path outside via ../ is not read (nor is a new file outside)', async () => {
    const read = await readAgentFile(path.join(cwd, '..', 'secret-outside.txt'), [cwd]);
    assert.equal(read.status, 'refused');
    assert.match(read.status === 'refused' ? read.reason : '', /outside/);
    assert.equal((await readAgentFile(path.join(cwd, '..', 'new-outside.txt'), [cwd])).status, 'refused');
  });

  test('M2 a symlink inside that points outside is not read', async () => {
    const read = await readAgentFile(path.join(cwd, 'link-to-secret.txt'), [cwd]);
    assert.equal(read.status, 'refused');
    assert.doesNotMatch(JSON.stringify(read), /AKIA/);
  });

  test('M2 a FIFO is not opened (the event loop is not blocked)', async () => {
    const read = await quickly(readAgentFile(path.join(cwd, 'pipe'), [cwd]));
    assert.deepEqual(read, { status: 'refused', reason: 'is not a regular file, so it was not read' });
  });

  test('M2 /dev/zero is not read, by a symlink inside or even with /dev as a root', async () => {
    assert.equal((await quickly(readAgentFile(path.join(cwd, 'zero'), [cwd]))).status, 'refused');
    assert.deepEqual(await quickly(readAgentFile('/dev/zero', ['/dev'])), { status: 'refused', reason: 'is not a regular file, so it was not read' });
  });

  test('M2 a 3 MB file is too large to show', async () => {
    assert.ok(MAX_AGENT_FILE_BYTES <= 2 * 1024 * 1024);
    const read = await readAgentFile(path.join(cwd, 'big.txt'), [cwd]);
    assert.equal(read.status, 'refused');
    assert.match(read.status === 'refused' ? read.reason : '', /too large to show \(3\.0 MB; the limit is 2\.0 MB\)/);
  });
});

describe('M2 agents naming files in their approvals', () => {
  const edit = (file: string, oldText: string | null, newText: string): acp.RequestPermissionRequest => ({
    sessionId: 's',
    toolCall: { toolCallId: 't', kind: 'edit', title: 'Edit', content: [{ type: 'diff', path: file, oldText, newText }] },
    options: [{ optionId: 'a', name: 'Allow', kind: 'allow_once' }],
  });

  for (const [name, file] of [
    ['../ outside', '../secret-outside.txt'],
    ['a symlink to outside', 'link-to-secret.txt'],
  ] as const) {
    test(`M2 ACP: an edit of ${name} does not put the file into the question`, async () => {
      const question = await permissionQuestion('p', edit(file, 'aws_access_key_id', 'x'), undefined, { cwd });
      assert.equal(question.type, 'file_approval', 'the user still decides');
      assert.doesNotMatch(JSON.stringify(question), /AKIA/);
      assert.ok(question.type === 'file_approval');
      assert.equal(question.fileChanges[0].newContent, undefined);
      assert.match(question.reason ?? '', /not read/);
    });

    test(`M2 Claude: an Edit of ${name} does not put the file into the question`, async () => {
      const prompt = await toolPermissionPrompt(
        'r',
        { subtype: 'can_use_tool', tool_name: 'Edit', input: { file_path: file, old_string: 'aws_access_key_id', new_string: 'x' }, tool_use_id: 'tu' },
        { cwd },
      );
      assert.equal(prompt.question.type, 'file_approval');
      assert.doesNotMatch(JSON.stringify(prompt.question), /AKIA/);
      assert.match(prompt.question.type === 'file_approval' ? (prompt.question.reason ?? '') : '', /not read/);
    });
  }

  test('M2 ACP and Claude: a FIFO or /dev/zero named by the agent does not block or exhaust the host', async () => {
    for (const file of ['pipe', 'zero']) {
      const acpQuestion = await quickly(permissionQuestion('p', edit(file, 'x', 'y'), undefined, { cwd }));
      assert.equal(acpQuestion.type, 'file_approval');
      const claude = await quickly(
        toolPermissionPrompt('r', { subtype: 'can_use_tool', tool_name: 'Write', input: { file_path: file, content: 'y' }, tool_use_id: 'tu' }, { cwd }),
      );
      assert.equal(claude.question.type, 'file_approval');
      assert.match(claude.question.type === 'file_approval' ? (claude.question.reason ?? '') : '', /not (a regular file|read)/);
    }
  });

  test('M2 a 3 MB file: the question says "too large to show" and can still be approved', async () => {
    const question = await permissionQuestion('p', edit('big.txt', 'aaa', 'b'), undefined, { cwd });
    assert.ok(question.type === 'file_approval');
    assert.match(question.reason ?? '', /big\.txt is too large to show/);
    assert.equal(question.fileChanges[0].newContent, undefined);
    assert.ok(question.fileChanges[0].patch.length < 1000, 'the diff shows only what the agent sent');
    const prompt = await toolPermissionPrompt('r', { subtype: 'can_use_tool', tool_name: 'Edit', input: { file_path: 'big.txt', old_string: 'aaa', new_string: 'b' }, tool_use_id: 'tu' }, { cwd });
    assert.match(prompt.question.type === 'file_approval' ? (prompt.question.reason ?? '') : '', /too large to show/);
    assert.equal(prompt.resultFor({ decision: 'approve' }).behavior, 'allow');
  });

  test('M2 a file inside is still diffed against the disk', async () => {
    const question = await permissionQuestion('p', edit('src/a.ts', 'two', 'TWO'), undefined, { cwd });
    assert.ok(question.type === 'file_approval');
    assert.equal(question.fileChanges[0].newContent, 'one\nTWO\nthree\n');
    assert.equal(question.reason, 'Edit');
  });
});

describe('M2 file contents stay out of state.json and off the MCP wire', () => {
  const bigPatch = `--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n${'+line of the patch\n'.repeat(20_000)}`;
  const approval: PendingQuestion = {
    type: 'file_approval',
    requestId: 'r1',
    askedAt: 1,
    fileChanges: [{ path: 'x', kind: 'update', patch: bigPatch, newContent: `${SECRET}\nthe whole file` }],
  };

  test('M2 state.json keeps no newContent and a bounded patch of pending questions', async () => {
    const dir = fs.mkdtempSync(path.join(root, 'state-'));
    const task = {
      id: 'brave-otter-101',
      status: 'waiting_answer',
      provider: 'claude-cli',
      taskType: 'coder',
      prompt: 'p',
      cwd,
      timestamps: { created: 1, updated: 1 },
      output: [],
      dependsOn: [],
      labels: [],
      pendingQuestions: [approval],
    } as unknown as TaskState;
    const file = new StateFile(dir, () => ({ version: STATE_VERSION, tasks: [task], profiles: {}, lastSavedAt: 1 }), new FakeClock(), 500);
    await file.flush(true);
    const text = fs.readFileSync(path.join(dir, 'state.json'), 'utf8');
    assert.doesNotMatch(text, /AKIA/);
    assert.doesNotMatch(text, /newContent/);
    assert.ok(text.length < MAX_SHARED_PATCH_CHARS + 4096, `state.json is ${text.length} characters`);
    const loaded = new StateFile(dir, () => emptyState(), new FakeClock()).load();
    const question = loaded.state.tasks[0].pendingQuestions[0];
    assert.ok(question.type === 'file_approval');
    assert.match(question.fileChanges[0].patch, /more characters of this patch are not shown here/);
  });

  test('M2 the MCP bundle sends no newContent and a bounded patch', () => {
    const wireQuestion: WireQuestion = { ...approval, agentMayAnswer: false };
    const task = { id: 'brave-otter-101', status: 'waiting_answer', provider: 'claude-cli', taskType: 'coder', labels: [], pendingQuestions: [wireQuestion] } as unknown as WireTask;
    const structured = JSON.stringify(structuredTask(task));
    assert.doesNotMatch(structured, /AKIA/);
    assert.ok(structured.length < MAX_SHARED_PATCH_CHARS + 4096);
    const markdown = questionMarkdown(wireQuestion);
    assert.doesNotMatch(markdown, /AKIA/);
    assert.ok(markdown.length < MAX_SHARED_PATCH_CHARS + 4096);
  });
});
