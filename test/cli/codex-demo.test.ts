/**
 * The `npm start` demo model: started the way scripts/start.mjs starts it, its settings line drives CodexProvider
 * through each demo behaviour (plain reply, command approval, file approval, question).
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ResolvedProfile } from '../../src/core/ports';
import { CodexProvider } from '../../src/providers/codex';
import { makeContext, makeTask } from '../support/fake-handle';
import { mcpFixtureProcesses, processesUnder } from '../support/codex-harness';

interface DemoSettings {
  'agentTasks.defaultProvider': string;
  'agentTasks.codex.path': string;
  'agentTasks.profiles': ResolvedProfile[];
}

describe('Codex demo model (npm start)', () => {
  let root: string;
  let cwd: string;
  let demo: ChildProcess;
  let settings: DemoSettings;
  let provider: CodexProvider;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cx-demo-'));
    cwd = path.join(root, 'ws');
    fs.mkdirSync(cwd);
    demo = spawn(process.execPath, ['--import', 'tsx', path.resolve(__dirname, '../fixtures/demo/start-demo-model.ts'), '--workspace', cwd], {
      env: { ...process.env, XDG_CACHE_HOME: path.join(root, 'cache') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let buffer = '';
      demo.stdout!.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        if (buffer.includes('\n')) resolve(buffer.slice(0, buffer.indexOf('\n')));
      });
      demo.once('exit', (code) => reject(new Error(`demo model exited with ${code}`)));
    });
    settings = (JSON.parse(line) as { settings: DemoSettings }).settings;
    provider = new CodexProvider({
      codexPath: () => settings['agentTasks.codex.path'],
      workspacePath: cwd,
      socketDir: path.join(root, 's'),
      log: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
      idleShutdownMs: 0,
    });
  });

  after(async () => {
    await provider.shutdown();
    demo.kill('SIGTERM');
    await new Promise((resolve) => demo.once('exit', resolve));
    const deadline = Date.now() + 3000;
    while (processesUnder(root).length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const left = processesUnder(root);
    fs.rmSync(root, { recursive: true, force: true });
    assert.deepEqual(left, []);
    assert.deepEqual(mcpFixtureProcesses(), []);
  });

  function run(prompt: string, taskType: 'coder' | 'planner' = 'coder') {
    const profile = settings['agentTasks.profiles'][0];
    return makeContext(makeTask({ prompt, cwd, taskType, profile: profile.id }), { profile: { ...profile, env: profile.env ?? {} } });
  }

  test('prints the settings of a demo profile', () => {
    assert.equal(settings['agentTasks.defaultProvider'], 'codex');
    assert.ok(fs.existsSync(settings['agentTasks.codex.path']));
    const [profile] = settings['agentTasks.profiles'];
    assert.deepEqual({ ...profile, configDir: undefined }, { id: 'demo', provider: 'codex', configDir: undefined, env: { MOCK_API_KEY: 'demo' } });
    assert.equal(profile.configDir, path.join(root, 'cache', 'agent-task-worker', 'demo-codex-home'));
    assert.ok(fs.existsSync(path.join(profile.configDir!, 'config.toml')));
  });

  test('a plain prompt gets a friendly reply', async () => {
    const { context, handle } = run('Hello there');
    const outcome = await provider.start(context, handle);
    assert.ok(outcome.status === 'completed');
    assert.match(outcome.result ?? '', /demo model/);
  });

  test('"run" asks to run a command', async () => {
    const { context, handle } = run('Please run something');
    const outcome = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.ok(question.type === 'command_approval');
    assert.match(question.command, /Hello from an approved command/);
    handle.answer(question.requestId, { decision: 'approve' });
    const result = await outcome;
    assert.ok(result.status === 'completed');
    assert.match(result.result ?? '', /Hello from an approved command/);
  });

  test('"edit" proposes a file with its diff and writes it when approved', async () => {
    const { context, handle } = run('Please edit a file');
    const outcome = provider.start(context, handle);
    const question = await handle.waitForQuestion();
    assert.ok(question.type === 'file_approval');
    assert.equal(question.fileChanges[0]?.kind, 'add');
    assert.match(question.fileChanges[0]?.patch ?? '', /\+# Hello from Agent Tasks/);
    handle.answer(question.requestId, { decision: 'approve' });
    const result = await outcome;
    assert.ok(result.status === 'completed');
    assert.match(result.result ?? '', /Review Changes .* Merge Changes/s);
    assert.match(fs.readFileSync(path.join(cwd, 'hello-from-agent-tasks.md'), 'utf8'), /Hello from Agent Tasks/);
  });

  test('"ask" asks a question: a form in default mode, multiple choice in plan mode', async () => {
    const form = run('Please ask me something');
    const formOutcome = provider.start(form.context, form.handle);
    const elicitation = await form.handle.waitForQuestion();
    assert.equal(elicitation.type, 'elicitation');
    form.handle.answer(elicitation.requestId, { action: 'accept', content: { color: 'red' } });
    const formResult = await formOutcome;
    assert.ok(formResult.status === 'completed');
    assert.match(formResult.result ?? '', /you picked color: red/);

    const plan = run('Please ask me something', 'planner');
    const planOutcome = provider.start(plan.context, plan.handle);
    const choice = await plan.handle.waitForQuestion();
    assert.equal(choice.type, 'user_input');
    plan.handle.answer(choice.requestId, { answers: { db_choice: ['SQLite (Recommended)'] } });
    const planResult = await planOutcome;
    assert.ok(planResult.status === 'completed');
    assert.match(planResult.result ?? '', /you answered: SQLite \(Recommended\)/);
  });
});
