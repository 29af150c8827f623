/**
 * A TaskManager over a real git repository with real task worktrees and the real agents — the pinned Codex and
 * Claude Code CLIs against their mock model servers (and Copilot CLI against its own), and the ACP test agent — for the DESIGN §9 tests and bench.
 * Everything lives under one temp root; cleanup stops every agent and fails when a process outlives it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../../src/core/events';
import type { ManagerSettings } from '../../src/core/task-manager';
import type { Answer, TaskState } from '../../src/core/task-state';
import { AcpProvider } from '../../src/providers/acp';
import { ClaudeProvider } from '../../src/providers/claude';
import { CodexProvider } from '../../src/providers/codex';
import { CopilotProvider } from '../../src/providers/copilot';
import { TaskWorktrees } from '../../src/worktrees/task-worktrees';
import { startMockAnthropicServer, type MockAnthropicServer } from '../fixtures/mock-anthropic/server';
import { startMockChatServer, type MockChatServer } from '../fixtures/mock-chat/server';
import { writeCodexHome } from '../fixtures/mock-responses/codex-home';
import { startMockResponsesServer, type MockResponsesOptions, type MockResponsesServer } from '../fixtures/mock-responses/server';
import { pinnedCodexBinary, processesUnder } from './codex-harness';
import { Harness } from './core-harness';
import { makeRepo, TEST_GIT_ENV, type TestRepo } from './git-repo';

export const CLAUDE_BINARY = path.resolve(__dirname, '../../node_modules/.bin/claude');
const COPILOT_BINARY = path.resolve(__dirname, '../../node_modules/.bin/copilot');
const ACP_AGENT = path.resolve(__dirname, '../fixtures/acp-agent/agent.ts');
/** The ACP agent runs from the task's cwd, so tsx is named by its full URL. */
const TSX = pathToFileURL(require.resolve('tsx')).href;
export const ACP_PROVIDER = 'acp:test-agent';

export interface AgentsBedOptions {
  /** Manager settings (worktree setup/copy, check, concurrency). */
  settings?: Partial<ManagerSettings>;
  /** Where the Claude provider looks for its CLI (default: the pinned one). */
  claudePath?: string;
  /** Options of the mock Responses server Codex talks to. */
  responses?: MockResponsesOptions;
  /** Files of the repository's first commit. */
  files?: Record<string, string>;
}

export interface AgentsBed {
  root: string;
  repo: TestRepo;
  responses: MockResponsesServer;
  anthropic: MockAnthropicServer;
  chat: MockChatServer;
  codex: CodexProvider;
  claude: ClaudeProvider;
  copilot: CopilotProvider;
  acp: AcpProvider;
  h: Harness;
  /** Waits until the task is terminal and its worktree bookkeeping has settled. */
  finished(id: string, timeoutMs?: number): Promise<TaskState>;
  /** Like `finished`, approving every command and file approval the task asks on the way; returns how many. */
  approvedToEnd(id: string, timeoutMs?: number): Promise<{ task: TaskState; approvals: number }>;
  /** Waits for the task's next pending question and answers it; returns the question's type. */
  answerNext(id: string, answer: Answer, timeoutMs?: number): Promise<string>;
  /** Polls until `predicate` holds. */
  waitFor(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  cleanup(): Promise<void>;
}

const TERMINAL = new Set(['completed', 'failed', 'timed_out', 'cancelled']);

export async function createAgentsBed(options: AgentsBedOptions = {}): Promise<AgentsBed> {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'atw-agents-')));
  const repo = makeRepo(options.files ?? { 'README.md': '# demo\n\nSome text.\n' });
  const responses = await startMockResponsesServer(options.responses);
  const anthropic = await startMockAnthropicServer();
  const chat = await startMockChatServer();
  const log = quietLogger();
  const codexHome = path.join(root, 'codex-home');
  await writeCodexHome(codexHome, { port: responses.port, cwd: [repo.root, `${repo.root}.worktrees`] });
  const claudeHome = path.join(root, 'claude-home');
  fs.mkdirSync(claudeHome);
  const copilotHome = path.join(root, 'copilot-home');
  fs.mkdirSync(copilotHome);
  const codex = new CodexProvider({
    codexPath: () => pinnedCodexBinary(),
    workspacePath: repo.root,
    socketDir: path.join(root, 's'),
    log,
    idleShutdownMs: 0,
    interruptTimeoutMs: 3000,
    flushIntervalMs: 0,
  });
  const claude = new ClaudeProvider({ claudePath: () => options.claudePath ?? CLAUDE_BINARY, log, flushIntervalMs: 0 });
  const copilot = new CopilotProvider({ copilotPath: () => COPILOT_BINARY, log, flushIntervalMs: 0 });
  const acp = AcpProvider.fromConfig({ name: 'test-agent', command: process.execPath, args: ['--import', TSX, ACP_AGENT], env: { ACP_AGENT_STATE_DIR: path.join(root, 'acp-state') } }, log);
  const h = new Harness({
    dir: path.join(root, 'state'),
    cwd: repo.root,
    scripted: false,
    // Registration order decides the default reviewer: Claude Code for Codex's work, Codex for everyone else's.
    providers: [codex, claude, copilot, acp],
    worktrees: new TaskWorktrees({ env: TEST_GIT_ENV }),
    settings: { defaultProvider: 'codex', maxConcurrentTasks: 3, ...options.settings },
    profiles: [
      { id: 'codex-mock', provider: 'codex', configDir: codexHome, env: { MOCK_API_KEY: 'test-key' } },
      { id: 'claude-mock', provider: 'claude-cli', configDir: claudeHome, env: { ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: 'dummy' } },
      {
        id: 'copilot-mock',
        provider: 'copilot',
        configDir: copilotHome,
        env: { COPILOT_OFFLINE: 'true', COPILOT_PROVIDER_BASE_URL: chat.url, COPILOT_PROVIDER_TYPE: 'openai', COPILOT_PROVIDER_API_KEY: 'x', COPILOT_MODEL: 'gpt-4.1' },
      },
    ],
  });
  fs.mkdirSync(h.dir, { recursive: true });

  return {
    root,
    repo,
    responses,
    anthropic,
    chat,
    codex,
    claude,
    copilot,
    acp,
    h,
    async finished(id, timeoutMs = 60_000) {
      await waitUntil(() => TERMINAL.has(h.status(id) ?? ''), () => `task ${id} to finish (is ${h.status(id)}; transcript: ${h.texts(id).slice(-8).join(' | ')})`, timeoutMs);
      await h.manager.worktrees.settled(id);
      return h.task(id);
    },
    async approvedToEnd(id, timeoutMs = 60_000) {
      let approvals = 0;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await waitUntil(() => TERMINAL.has(h.status(id) ?? '') || h.task(id).pendingQuestions.length > 0, () => `task ${id} to finish or ask (is ${h.status(id)}; transcript: ${h.texts(id).slice(-8).join(' | ')})`, deadline - Date.now());
        const question = h.task(id).pendingQuestions[0];
        if (!question) break;
        if (question.type !== 'command_approval' && question.type !== 'file_approval') throw new Error(`task ${id} asked a ${question.type}`);
        await h.manager.answer(id, question.requestId, { decision: 'approve' });
        approvals++;
      }
      await h.manager.worktrees.settled(id);
      return { task: h.task(id), approvals };
    },
    async answerNext(id, answer, timeoutMs = 60_000) {
      await waitUntil(() => h.task(id).pendingQuestions.length > 0, () => `a question of task ${id} (is ${h.status(id)}; transcript: ${h.texts(id).slice(-8).join(' | ')})`, timeoutMs);
      const question = h.task(id).pendingQuestions[0];
      await h.manager.answer(id, question.requestId, answer);
      return question.type;
    },
    waitFor: (predicate, what, timeoutMs = 60_000) => waitUntil(predicate, () => what, timeoutMs),
    async cleanup() {
      for (const task of h.manager.listTasks()) if (!TERMINAL.has(task.status)) await h.manager.cancelTask(task.id).catch(() => undefined);
      await h.dispose();
      await codex.shutdown();
      await claude.dispose();
      await copilot.dispose();
      await acp.dispose();
      await Promise.all([responses.close(), anthropic.close(), chat.close()]);
      const deadline = Date.now() + 10_000;
      while ((processesUnder(root).length || processesUnder(repo.dir).length) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const left = [...processesUnder(root), ...processesUnder(repo.dir)];
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      repo.remove();
      fs.rmSync(root, { recursive: true, force: true });
      if (left.length) throw new Error(`processes outlived the test: ${left.join(', ')}`);
    },
  };
}

/** Every file under `folder` (`.git` skipped) with the sha256 of its bytes: proves a checkout was left untouched. */
export function treeHashes(folder: string, relative = '', into: Record<string, string> = {}): Record<string, string> {
  for (const entry of fs.readdirSync(path.join(folder, relative), { withFileTypes: true })) {
    const file = relative ? `${relative}/${entry.name}` : entry.name;
    if (file === '.git') continue;
    if (entry.isDirectory()) treeHashes(folder, file, into);
    else into[file] = createHash('sha256').update(fs.readFileSync(path.join(folder, file))).digest('hex');
  }
  return into;
}

/** Polls until `predicate` holds; the timeout error describes the state at that moment. */
export async function waitUntil(predicate: () => boolean, what: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what()}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
  }
}

function quietLogger(): Logger {
  const log = (level: string) => (message: unknown) => {
    if (process.env.ATW_TEST_LOG) console.error(`[${level}]`, message);
  };
  return { trace: log('trace'), debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
