// Codex in the real extension host: user settings point agentTasks.codex.path at the pinned native binary and
// define a Codex profile (scripts/run-integration.mjs, phase codex); this suite starts the mock Responses server in
// the host and writes that profile's CODEX_HOME for it. Tasks are created and answered through the public API.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeCodexHome } from '../fixtures/mock-responses/codex-home';
import { startMockResponsesServer, type MockResponsesServer } from '../fixtures/mock-responses/server';
import { CODEX_PROFILE_ID, appServerPidsOf, socketDirOf, stopCodexAppServers } from '../e2e/support-codex';
import { type AgentTasksApi, StatusRecorder, agentTasks, cancelUnfinished } from './support/agent-tasks';

/** A Codex turn starts an app-server on first use and runs a real model round trip: give it room on a busy machine. */
const TURN_MS = 60_000;

suite('Codex in the extension host', function () {
  this.timeout(3 * TURN_MS);
  let api: AgentTasksApi;
  let recorder: StatusRecorder;
  let mock: MockResponsesServer;
  let workspace: string;

  suiteSetup(async () => {
    const codexHome = process.env.ATW_CODEX_HOME;
    assert.ok(codexHome, 'ATW_CODEX_HOME is set by scripts/run-integration.mjs for phase codex');
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(folder, 'the host has a workspace folder');
    workspace = folder;
    // The backend's rate-limit headers on every response: Codex reports them as the account's usage (Show Accounts).
    mock = await startMockResponsesServer({ rateLimits: { primary: { usedPercent: 42, windowMinutes: 300, resetAt: Math.floor(Date.now() / 1000) + 2 * 3600 } } });
    await writeCodexHome(codexHome, { port: mock.port, cwd: workspace });
    api = await agentTasks();
    const codexPath = vscode.workspace.getConfiguration('agentTasks').get<string>('codex.path') ?? '';
    assert.ok(fs.existsSync(codexPath), `agentTasks.codex.path names the pinned binary: "${codexPath}"`);
  });
  suiteTeardown(async () => {
    if (api) await cancelUnfinished(api);
    if (workspace) await stopCodexAppServers(workspace);
    await mock?.close();
  });
  setup(() => {
    recorder = new StatusRecorder(api);
  });
  teardown(() => {
    recorder.dispose();
  });

  test('a Codex task created through the API runs to completed with the agent reply as result', async () => {
    const task = await recorder.create({ prompt: 'Say hello', provider: 'codex' });
    assert.equal(task.provider, 'codex');
    const done = await recorder.waitForStatus(task.id, 'completed', TURN_MS);
    assert.equal(done.result, 'Hello from the mock model.');
    assert.equal(done.profile, CODEX_PROFILE_ID, 'the task ran on the configured profile');
    assert.ok(done.sessionId, 'the Codex thread id is the session id');
    assert.deepEqual(recorder.statusesAfterStart(task.id), ['running', 'completed']);
    const agent = done.output.filter((entry) => entry.kind === 'agent').map((entry) => entry.text);
    assert.deepEqual(agent, ['Hello from the mock model.'], 'the streamed reply is one agent entry');
    assert.deepEqual(done.usage, { inputTokens: 1200, outputTokens: 30 });
    const request = mock.requests.find((candidate) => candidate.threadKey === done.sessionId);
    assert.equal(request?.userText, 'Say hello', 'the prompt reached the model');
    assert.equal(appServerPidsOf(workspace).length, 1, 'one app-server runs for the profile');
    assert.ok(fs.existsSync(path.join(socketDirOf(workspace), `codex-${CODEX_PROFILE_ID}.sock`)), 'it listens on the workspace socket');
  });

  test('Show Accounts lists the profile with the usage Codex last reported for it', async () => {
    const task = await recorder.create({ prompt: 'Say hello', provider: 'codex' });
    await recorder.waitForStatus(task.id, 'completed', TURN_MS);
    const items = await vscode.commands.executeCommand<{ key: string; label: string; description?: string; detail?: string }[]>('agentTasks.showAccounts', { pick: false });
    const account = items?.find((item) => item.key === CODEX_PROFILE_ID);
    assert.ok(account, `the profile is listed: ${JSON.stringify(items)}`);
    assert.match(account.description ?? '', /^codex\b/);
    assert.match(account.detail ?? '', /^5h 42% used \(resets \d\d:\d\d\) — as of /, account.detail);
  });

  test('a command approval answered through the API runs the command: the file appears', async () => {
    const file = path.join(workspace, 'approved.txt');
    fs.rmSync(file, { force: true });
    const task = await recorder.create({ prompt: 'Please run-approval', provider: 'codex' });
    const waiting = await recorder.waitForStatus(task.id, 'waiting_answer', TURN_MS);
    assert.equal(waiting.pendingQuestions.length, 1);
    const [question] = waiting.pendingQuestions;
    assert.ok(question.type === 'command_approval', `a command approval, not ${question.type}`);
    assert.equal(question.command, 'touch approved.txt && echo made');
    assert.equal(question.cwd, workspace);
    assert.ok(!fs.existsSync(file), 'nothing runs before the answer');

    await api.answer(task.id, question.requestId, { decision: 'approve' });
    const done = await recorder.waitForStatus(task.id, 'completed', TURN_MS);
    assert.ok(fs.existsSync(file), 'the approved command created approved.txt in the workspace');
    assert.match(done.result ?? '', /^Tool said: .*made/s, 'the model saw the command output');
    assert.deepEqual(recorder.statusesAfterStart(task.id), ['running', 'waiting_answer', 'running', 'completed']);
    await assert.rejects(api.answer(task.id, question.requestId, { decision: 'approve' }), /no longer waiting/, 'a second answer is refused');
  });

  test('two Codex tasks run at the same time on one app-server, each on its own thread', async () => {
    const file = path.join(workspace, 'approved.txt');
    fs.rmSync(file, { force: true });
    const [first, second] = await Promise.all([
      recorder.create({ prompt: 'First: run-approval', provider: 'codex' }),
      recorder.create({ prompt: 'Second: run-approval', provider: 'codex' }),
    ]);
    // Both wait on their approval at once: both turns are live on the server together.
    const [a, b] = await Promise.all([
      recorder.waitForStatus(first.id, 'waiting_answer', TURN_MS),
      recorder.waitForStatus(second.id, 'waiting_answer', TURN_MS),
    ]);
    assert.ok(a.sessionId && b.sessionId && a.sessionId !== b.sessionId, 'each task has its own thread');
    assert.equal(api.getTask(first.id)?.status, 'waiting_answer', 'the first task still waits while the second one asks');
    assert.ok(mock.requests.some((r) => r.threadKey === a.sessionId) && mock.requests.some((r) => r.threadKey === b.sessionId), 'both threads reached the model');
    assert.equal(appServerPidsOf(workspace).length, 1, 'both threads run on the one app-server of the profile');

    await api.answer(second.id, b.pendingQuestions[0].requestId, { decision: 'deny' });
    const deniedDone = await recorder.waitForStatus(second.id, 'completed', TURN_MS);
    assert.ok(!fs.existsSync(file), 'the denied command did not run');
    assert.equal(api.getTask(first.id)?.status, 'waiting_answer', 'answering one task leaves the other waiting');
    await api.answer(first.id, a.pendingQuestions[0].requestId, { decision: 'approve' });
    const approvedDone = await recorder.waitForStatus(first.id, 'completed', TURN_MS);
    assert.ok(fs.existsSync(file), 'the approved command ran');
    assert.match(approvedDone.result ?? '', /made/);
    assert.doesNotMatch(deniedDone.result ?? '', /made/);
  });
});
