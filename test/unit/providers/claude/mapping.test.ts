/**
 * Claude Code's pure mappings: can_use_tool → question → permission result, file diffs for Write / Edit /
 * MultiEdit / NotebookEdit, rate limits, the command line and environment, and finding the native binary.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveClaudeExecutable } from '../../../../src/providers/claude/executable';
import { applyEdits, toolPermissionPrompt } from '../../../../src/providers/claude/permissions';
import type { ClaudeCanUseToolRequest } from '../../../../src/providers/claude/protocol';
import { claudeArgs, claudeEnv } from '../../../../src/providers/claude/provider';
import { claudeLimits, rateLimitOf, serverRetryDelay } from '../../../../src/providers/claude/limits';

const CWD = '/ws/project';
const FILES: Record<string, string> = {
  '/ws/project/src/app.ts': 'const a = 1;\nconst b = 2;\nconst c = 3;\n',
  '/ws/project/nb.ipynb': JSON.stringify({ cells: [{ id: 'cell-1', cell_type: 'code', source: ['print(1)\n', 'print(2)'] }] }),
};
const context = { cwd: CWD, readFile: (file: string) => FILES[file] };

function request(tool: string, input: Record<string, unknown>, extra: Partial<ClaudeCanUseToolRequest> = {}): ClaudeCanUseToolRequest {
  return { subtype: 'can_use_tool', tool_name: tool, input, tool_use_id: 'toolu_1', ...extra };
}

describe('Claude can_use_tool requests become questions', async () => {
  it('Bash → command approval; allow echoes the input; deny sends the user message or a default', async () => {
    const suggestions = [
      { type: 'addRules', rules: [{ toolName: 'Bash', ruleContent: 'npm test' }], behavior: 'allow', destination: 'localSettings' },
      { type: 'addDirectories', directories: [CWD], destination: 'session' },
    ];
    const prompt = await toolPermissionPrompt('r1', request('Bash', { command: 'npm test', description: 'Run the tests' }, { permission_suggestions: suggestions }), context);
    assert.deepEqual(prompt.question, { type: 'command_approval', requestId: 'r1', command: 'npm test', cwd: CWD, reason: 'Run the tests', canApproveForSession: true });
    assert.deepEqual(prompt.resultFor({ decision: 'approve' }), { behavior: 'allow', updatedInput: { command: 'npm test', description: 'Run the tests' } });
    assert.deepEqual(prompt.resultFor({ decision: 'deny', message: 'Not now' }), { behavior: 'deny', message: 'Not now' });
    assert.deepEqual(prompt.resultFor({ decision: 'deny' }), { behavior: 'deny', message: 'The user denied this tool call.' });
  });

  it('approve for the session adds Claude\'s suggested rules for this session only (never to settings files)', async () => {
    const suggestions = [{ type: 'addRules', rules: [{ toolName: 'Bash', ruleContent: 'npm test' }], behavior: 'allow', destination: 'localSettings' }];
    const prompt = await toolPermissionPrompt('r', request('Bash', { command: 'npm test' }, { permission_suggestions: suggestions }), context);
    assert.deepEqual(prompt.resultFor({ decision: 'approveForSession' }), {
      behavior: 'allow',
      updatedInput: { command: 'npm test' },
      updatedPermissions: [{ type: 'addRules', rules: [{ toolName: 'Bash', ruleContent: 'npm test' }], behavior: 'allow', destination: 'session' }],
    });
  });

  it('an answer of the wrong shape never approves', async () => {
    const prompt = await toolPermissionPrompt('r', request('Bash', { command: 'rm -rf x' }), context);
    assert.equal(prompt.resultFor({ answers: { q1: ['yes'] } }).behavior, 'deny');
    assert.equal(prompt.resultFor({ action: 'accept' }).behavior, 'deny');
  });

  it('any other tool → a command approval showing the tool and its JSON input; ExitPlanMode shows the plan', async () => {
    const fetch = await toolPermissionPrompt('r', request('WebFetch', { url: 'https://x', prompt: 'read' }), context);
    assert.equal(fetch.question.type === 'command_approval' && fetch.question.command, 'WebFetch {"url":"https://x","prompt":"read"}');
    const plan = await toolPermissionPrompt('r', request('ExitPlanMode', { plan: '1. Do it' }), context);
    assert.equal(plan.question.type === 'command_approval' && plan.question.command, 'Leave plan mode and carry out this plan:\n1. Do it');
  });

  it('Write → file approval: add for a new file, update with a diff against the disk otherwise', async () => {
    const created = await toolPermissionPrompt('r', request('Write', { file_path: '/ws/project/new.txt', content: 'hi\n' }), context);
    assert.deepEqual(created.question.type === 'file_approval' && created.question.fileChanges, [
      { path: 'new.txt', kind: 'add', patch: '--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,1 @@\n+hi\n', newContent: 'hi\n' },
    ]);
    const replaced = await toolPermissionPrompt('r', request('Write', { file_path: '/ws/project/src/app.ts', content: 'const a = 1;\n' }), context);
    assert.deepEqual(replaced.question.type === 'file_approval' && replaced.question.fileChanges[0], {
      path: 'src/app.ts',
      kind: 'update',
      patch: '--- a/src/app.ts\n+++ b/src/app.ts\n@@ -1,3 +1,1 @@\n const a = 1;\n-const b = 2;\n-const c = 3;\n',
      newContent: 'const a = 1;\n',
    });
  });

  it('Edit and MultiEdit apply their replacements to the file on disk', async () => {
    const edit = await toolPermissionPrompt('r', request('Edit', { file_path: '/ws/project/src/app.ts', old_string: 'b = 2', new_string: 'b = 20' }), context);
    assert.equal(edit.question.type === 'file_approval' && edit.question.fileChanges[0].newContent, 'const a = 1;\nconst b = 20;\nconst c = 3;\n');
    assert.match(edit.question.type === 'file_approval' ? edit.question.fileChanges[0].patch : '', /^-const b = 2;\n\+const b = 20;$/m);
    const multi = await toolPermissionPrompt(
      'r',
      request('MultiEdit', { file_path: 'src/app.ts', edits: [{ old_string: 'const', new_string: 'let', replace_all: true }, { old_string: 'c = 3', new_string: 'c = 30' }] }),
      context,
    );
    assert.equal(multi.question.type === 'file_approval' && multi.question.fileChanges[0].newContent, 'let a = 1;\nlet b = 2;\nlet c = 30;\n');
  });

  it('an Edit whose old_string is not on disk shows the requested replacement, with no new content', async () => {
    const edit = await toolPermissionPrompt('r', request('Edit', { file_path: '/ws/project/src/app.ts', old_string: 'missing', new_string: 'x' }), context);
    assert.deepEqual(edit.question.type === 'file_approval' && edit.question.fileChanges[0], {
      path: 'src/app.ts',
      kind: 'update',
      patch: '--- a/src/app.ts\n+++ b/src/app.ts\n@@ -1,1 +1,1 @@\n-missing\n\\ No newline at end of file\n+x\n\\ No newline at end of file\n',
    });
  });

  it('NotebookEdit shows the diff of the cell source', async () => {
    const edit = await toolPermissionPrompt('r', request('NotebookEdit', { notebook_path: '/ws/project/nb.ipynb', cell_id: 'cell-1', new_source: 'print(3)' }), context);
    assert.deepEqual(edit.question.type === 'file_approval' && edit.question.fileChanges[0], {
      path: 'nb.ipynb',
      kind: 'update',
      patch: '--- a/nb.ipynb#cell-1\n+++ b/nb.ipynb#cell-1\n@@ -1,2 +1,1 @@\n-print(1)\n-print(2)\n+print(3)\n',
    });
  });

  it('applyEdits: first occurrence, replace_all, creation from an empty old_string, and a miss', async () => {
    assert.equal(applyEdits('a a', [{ file_path: 'f', old_string: 'a', new_string: 'b' }]), 'b a');
    assert.equal(applyEdits('a a', [{ file_path: 'f', old_string: 'a', new_string: 'b', replace_all: true }]), 'b b');
    assert.equal(applyEdits('', [{ file_path: 'f', old_string: '', new_string: 'new' }]), 'new');
    assert.equal(applyEdits('x', [{ file_path: 'f', old_string: 'y', new_string: 'z' }]), undefined);
    assert.equal(applyEdits('$1', [{ file_path: 'f', old_string: '$1', new_string: '$&' }]), '$&', 'no replacement patterns');
  });

  it('AskUserQuestion → user_input; multi-select answers are joined; no answer denies', async () => {
    const prompt = await toolPermissionPrompt(
      'r',
      request('AskUserQuestion', {
        questions: [
          { question: 'Which DB?', header: 'DB', multiSelect: false, options: [{ label: 'A', description: 'a' }, { label: 'B', description: 'b' }] },
          { question: 'Which extras?', header: 'Extras', multiSelect: true, options: [{ label: 'X', description: 'x' }, { label: 'Y', description: 'y' }] },
        ],
      }),
      context,
    );
    assert.equal(prompt.question.type, 'user_input');
    assert.deepEqual(prompt.question.type === 'user_input' && prompt.question.questions.map((q) => [q.id, q.text, q.multiSelect]), [
      ['q1', 'Which DB?', false],
      ['q2', 'Which extras?', true],
    ]);
    const result = prompt.resultFor({ answers: { q1: ['B'], q2: ['X', 'Y'] } });
    assert.equal(result.behavior, 'allow');
    assert.deepEqual(result.behavior === 'allow' && result.updatedInput.answers, { 'Which DB?': 'B', 'Which extras?': 'X, Y' });
    assert.deepEqual(prompt.resultFor({ answers: {} }), { behavior: 'deny', message: 'The user did not answer the question.' });
  });
});

describe('Claude rate limits', () => {
  it('api_error_status 429 → rate limited with the result text', () => {
    assert.deepEqual(rateLimitOf({ type: 'result', subtype: 'success', is_error: true, api_error_status: 429, result: 'API Error: Request rejected (429)' }, undefined), {
      error: 'API Error: Request rejected (429)',
    });
  });

  it('a usage limit named by a rejected rate_limit_event (2.1.3xx) → rate limited until its reset', () => {
    const now = Date.UTC(2030, 0, 1, 12, 0, 0);
    const info = {
      status: 'rejected',
      resetsAt: now / 1000 + 7200,
      rateLimitType: 'five_hour',
      isUsingOverage: false,
      unifiedWindows: { five_hour: { utilization: 1, resetsAt: now / 1000 + 7200, status: 'rejected' }, seven_day: { utilization: 0.42, resetsAt: now / 1000 + 86400, status: 'allowed' } },
    };
    const limits = claudeLimits(info, now);
    assert.deepEqual(limits, {
      at: now,
      limitId: 'five_hour',
      status: 'rejected',
      resetsAt: now + 7_200_000,
      windows: [
        { id: 'five_hour', usedPercent: 100, resetsAt: now + 7_200_000, status: 'rejected' },
        { id: 'seven_day', usedPercent: 42, resetsAt: now + 86_400_000, status: 'allowed' },
      ],
    });
    const result = {
      type: 'result' as const,
      subtype: 'success',
      is_error: true,
      api_error_status: 429,
      api_error: 'usage_limit_reached',
      result: "You've hit your 5-hour limit · resets 2pm (UTC)",
    };
    assert.deepEqual(rateLimitOf(result, 'Claude usage limit reached (five_hour)', limits.resetsAt, now), {
      error: "You've hit your 5-hour limit · resets 2pm (UTC)",
      retryAfterMs: 7_200_000,
      resetsAt: now + 7_200_000,
    });
    assert.deepEqual(rateLimitOf({ ...result, api_error_status: null }, undefined, undefined, now), { error: result.result }, 'usage_limit_reached alone is a rate limit');
    assert.deepEqual(claudeLimits({ status: 'allowed_warning', rateLimitType: 'seven_day', utilization: 0.8, resetsAt: now / 1000 + 60 }, now).windows, [
      { id: 'seven_day', usedPercent: 80, resetsAt: now + 60_000, status: 'warning' },
    ]);
  });

  it('a usage limit with a reset time → rate limited until then', () => {
    const reset = Math.floor(Date.now() / 1000) + 3600;
    const limit = rateLimitOf({ type: 'result', subtype: 'success', is_error: true, result: `Claude AI usage limit reached|${reset}` }, undefined);
    assert.equal(limit?.error, 'Claude AI usage limit reached');
    assert.ok(limit?.retryAfterMs && limit.retryAfterMs > 3_500_000 && limit.retryAfterMs <= 3_600_000);
  });

  it('an api_retry delay beyond Claude Code’s own back-off is the server’s Retry-After', () => {
    assert.equal(serverRetryDelay(1, 520), undefined, 'the first back-off with jitter');
    assert.equal(serverRetryDelay(1, 7551), 7551, 'retry-after: 7');
    assert.equal(serverRetryDelay(4, 4400), undefined, '4 s back-off at the fourth attempt');
    assert.equal(serverRetryDelay(10, 36_000), undefined, 'the capped back-off');
    assert.equal(serverRetryDelay(10, 120_000), 120_000);
    assert.equal(serverRetryDelay(1, undefined), undefined);
  });

  it('other errors are not rate limits', () => {
    assert.equal(rateLimitOf({ type: 'result', subtype: 'success', is_error: true, api_error_status: 401, result: 'API Error: 401' }, undefined), undefined);
    assert.equal(rateLimitOf({ type: 'result', subtype: 'success', is_error: false, result: 'I hit a 429 once' }, undefined), undefined);
  });
});

describe('Claude command line and environment', () => {
  it('headless stream-json with stdio permission prompts; --session-id for new, --resume to continue; model and plan mode', () => {
    const base = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio'];
    assert.deepEqual(claudeArgs({ taskType: 'coder' }, { sessionId: 'S' }, false), [...base, '--session-id', 'S']);
    assert.deepEqual(claudeArgs({ taskType: 'planner', model: 'opus' }, { resume: 'S' }, true), [
      ...base,
      '--include-partial-messages',
      '--resume',
      'S',
      '--model',
      'opus',
      '--permission-mode',
      'plan',
    ]);
  });

  it('quiet defaults, one retry unless the profile says otherwise', () => {
    assert.deepEqual(claudeEnv({ CLAUDE_CONFIG_DIR: '/c' }), {
      CLAUDE_CODE_MAX_RETRIES: '1',
      CLAUDE_CONFIG_DIR: '/c',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
    });
    assert.equal(claudeEnv({ CLAUDE_CODE_MAX_RETRIES: '5' }).CLAUDE_CODE_MAX_RETRIES, '5');
  });
});

describe('finding Claude Code', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-claude-exe-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('uses the native binary beside a placeholder bin/claude.exe (postinstall skipped)', () => {
    const scope = path.join(root, 'node_modules', '@anthropic-ai');
    const wrapper = path.join(scope, 'claude-code', 'bin', 'claude.exe');
    const flavour = `${process.platform}-${process.arch}`;
    const native = path.join(scope, `claude-code-${flavour}`, 'claude');
    fs.mkdirSync(path.dirname(wrapper), { recursive: true });
    fs.mkdirSync(path.dirname(native), { recursive: true });
    fs.writeFileSync(wrapper, 'placeholder', { mode: 0o755 });
    fs.writeFileSync(native, 'native', { mode: 0o755 });
    assert.equal(resolveClaudeExecutable(wrapper), fs.realpathSync(native));
  });

  it('looks `claude` up on PATH when the setting is empty, and returns undefined when it is nowhere', () => {
    const bin = path.join(root, 'bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, 'claude'), Buffer.alloc(2 * 1024 * 1024), { mode: 0o755 });
    assert.equal(resolveClaudeExecutable('', { PATH: bin }), fs.realpathSync(path.join(bin, 'claude')));
    assert.equal(resolveClaudeExecutable(undefined, { PATH: path.join(root, 'empty') }), undefined);
    assert.equal(resolveClaudeExecutable(path.join(root, 'nope')), undefined);
  });
});
