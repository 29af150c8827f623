/**
 * Re-records the wire transcripts the replay tests use (test/fixtures/transcripts, format in PROTOCOLS.md) from the
 * pinned agent CLIs in node_modules (Codex app-server, Claude Code stream-json, Copilot CLI ACP), driven over stdio against the mock model servers of test/fixtures:
 *
 *   npm run record:transcripts                      every scenario (about 4 minutes: claude-rate-limit-429 waits out
 *                                                   Claude Code's ten retries)
 *   npm run record:transcripts -- codex-plain claude-ask-user    only these
 *   npm run record:transcripts -- --list            the scenario names
 *
 * For each scenario it starts a mock model server behind a recording HTTP tee, spawns the CLI with its stdio piped
 * through a recorder, and writes `<cli>-<scenario>.jsonl` (every line the client wrote and the CLI printed, plus
 * `meta` notes: spawn, kill, exit, checks) and, for the scenarios in MODEL_LOGS, the mock's side as
 * `model-<api>-<cli>-<scenario>.txt`. Machine paths become placeholders (<CWD>, <CODEX_HOME>, <CLAUDE_CONFIG_DIR>,
 * <PKG_BIN>, <HOME>, <TMP>, <PORT>); long strings and arrays are trimmed as PROTOCOLS.md describes.
 *
 * After recording, run the replay tests: ids (threads, items, sessions) change with every recording.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeCodexHome } from '../test/fixtures/mock-responses/codex-home';
import { startMockResponsesServer, type MockResponsesOptions, type ScenarioName } from '../test/fixtures/mock-responses/server';
import { startMockAnthropicServer, type AnthropicScenario, type MockAnthropicOptions } from '../test/fixtures/mock-anthropic/server';
import { pinnedCodexBinary } from '../test/support/codex-harness';
import { startMockChatServer, type ChatScenario, type MockChatOptions } from '../test/fixtures/mock-chat/server';
import { resolveClaudeExecutable } from '../src/providers/claude/executable';
import { resolveCopilotExecutable } from '../src/providers/copilot/executable';

const ROOT = path.resolve(__dirname, '..');
const OUT_DIR = path.join(ROOT, 'test', 'fixtures', 'transcripts');
const MCP_ELICIT = path.join(ROOT, 'test', 'fixtures', 'mcp-elicit', 'server.mjs');
const CLIENT_INFO = { name: 'atw-recorder', title: 'ATW recorder', version: '0.0.1' };

/** Scenarios whose mock-model side is written too (model-<api>-<cli>-<scenario>.txt). */
const MODEL_LOGS = new Set([
  'codex-command-approval-accept',
  'codex-elicitation',
  'codex-file-approval',
  'codex-rate-limit-429',
  'codex-review',
  'claude-ask-user',
  'claude-command-approval-accept',
  'claude-rate-limit-429-max-retries-1',
  'copilot-command-approval-accept',
  'copilot-file-approval',
]);

// ---------------------------------------------------------------------------------------------------------------
// Recording

type Frame = { dir: 'out' | 'in'; msg: unknown } | { dir: 'meta'; note: unknown };

/** The frames of one scenario, written with machine paths replaced and long values trimmed. */
class Capture {
  readonly frames: Frame[] = [];
  private readonly placeholders: [string, string][] = [];
  readonly started = Date.now();

  placeholder(value: string, name: string): void {
    this.placeholders.push([value, name]);
    this.placeholders.sort((a, b) => b[0].length - a[0].length);
  }

  out(msg: unknown): void {
    this.frames.push({ dir: 'out', msg });
  }

  in(msg: unknown): void {
    this.frames.push({ dir: 'in', msg });
  }

  meta(note: Record<string, unknown>): void {
    this.frames.push({ dir: 'meta', note });
  }

  /** Replaces machine paths and ports in serialized text. */
  scrub(text: string): string {
    let result = text;
    for (const [value, name] of this.placeholders) result = result.split(value).join(name);
    return result;
  }

  write(file: string): void {
    const lines = this.frames.map((frame) => this.scrub(JSON.stringify(trim(frame))));
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
  }
}

/** Strings over 1500 chars are cut to 600; arrays over 30 items are cut to 30 (PROTOCOLS.md, "Trimming"). */
function trim(value: unknown): unknown {
  if (typeof value === 'string') return value.length > 1500 ? `${value.slice(0, 600)}…[TRIMMED ${value.length - 600} of ${value.length} chars]` : value;
  if (Array.isArray(value)) {
    const items = value.slice(0, 30).map(trim);
    return value.length > 30 ? [...items, `[TRIMMED ${value.length - 30} more items]`] : items;
  }
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, trim(field)]));
  return value;
}

/** A CLI process whose stdin and stdout lines go through the capture. */
class Peer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiters: { match: (msg: Record<string, unknown>) => boolean; resolve: (msg: Record<string, unknown>) => void }[] = [];
  private readonly seen: Record<string, unknown>[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, (msg: Record<string, unknown>) => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  /** Answers server→client requests (messages with an id and a method); undefined leaves one unanswered. */
  onRequest: ((msg: Record<string, unknown>) => unknown) | undefined;
  /** Sees every message as it arrives (before any waiter). */
  onMessage: ((msg: Record<string, unknown>) => void) | undefined;

  constructor(
    private readonly capture: Capture,
    command: string,
    args: string[],
    options: { cwd: string; env: NodeJS.ProcessEnv; argv0: string; jsonrpc?: boolean; note?: boolean },
    private readonly jsonrpc = options.jsonrpc ?? false,
  ) {
    if (options.note) capture.meta({ event: 'spawn', argv: [options.argv0, ...args] });
    this.child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let buffer = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) this.onLine(line);
      }
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-8000)));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        capture.meta({ event: 'exit', code, signal });
        resolve({ code, signal });
      }),
    );
  }

  private onLine(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.capture.meta({ event: 'non-JSON stdout line', line });
      return;
    }
    this.capture.in(msg);
    this.seen.push(msg);
    this.onMessage?.(msg);
    if (msg.id !== undefined && msg.method === undefined) this.pending.get(Number(msg.id))?.(msg);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(msg)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(msg);
      }
    }
    if (msg.id !== undefined && typeof msg.method === 'string' && this.onRequest) {
      void Promise.resolve(this.onRequest(msg)).then((result) => {
        if (result !== undefined) this.send({ ...(this.jsonrpc ? { jsonrpc: '2.0' } : {}), id: msg.id, result });
      });
    }
  }

  send(msg: unknown): void {
    this.capture.out(msg);
    this.child.stdin.write(`${JSON.stringify(msg)}\n`);
  }

  async request(method: string, params?: unknown, id = this.nextId++): Promise<Record<string, unknown>> {
    const reply = new Promise<Record<string, unknown>>((resolve) => this.pending.set(id, resolve));
    this.send({ ...(this.jsonrpc ? { jsonrpc: '2.0' } : {}), ...(this.jsonrpc ? { id, method } : { method, id }), ...(params === undefined ? {} : { params }) });
    const msg = await withTimeout(reply, 60_000, `${method} was not answered`);
    if (msg.error) throw new Error(`${method}: ${JSON.stringify(msg.error)}`);
    return msg.result as Record<string, unknown>;
  }

  notify(method: string, params?: unknown): void {
    this.send({ ...(this.jsonrpc ? { jsonrpc: '2.0' } : {}), method, ...(params === undefined ? {} : { params }) });
  }

  /** The first message (already seen, or still to come) that matches. */
  waitFor(match: (msg: Record<string, unknown>) => boolean, timeoutMs = 60_000, what = 'a message'): Promise<Record<string, unknown>> {
    const found = this.seen.find(match);
    if (found) return Promise.resolve(found);
    return withTimeout(new Promise((resolve) => this.waiters.push({ match, resolve })), timeoutMs, `timed out waiting for ${what}\n${this.stderr}`);
  }

  /** The next matching message after now. */
  next(match: (msg: Record<string, unknown>) => boolean, timeoutMs = 60_000, what = 'a message'): Promise<Record<string, unknown>> {
    return withTimeout(new Promise((resolve) => this.waiters.push({ match, resolve })), timeoutMs, `timed out waiting for ${what}\n${this.stderr}`);
  }

  closeStdin(): void {
    this.child.stdin.end();
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The mock model behind a recording tee

interface Exchange {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  status?: number;
  response: Buffer[];
}

/** An HTTP proxy in front of the mock that keeps every request and the exact bytes of every response. */
async function startTee(targetPort: number): Promise<{ port: number; exchanges: Exchange[]; close(): Promise<void> }> {
  const exchanges: Exchange[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const exchange: Exchange = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), response: [] };
      exchanges.push(exchange);
      const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        exchange.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        answer.on('data', (chunk: Buffer) => {
          exchange.response.push(chunk);
          res.write(chunk);
        });
        answer.on('end', () => res.end());
        answer.on('error', () => res.destroy());
      });
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    exchanges,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The mock's side of a scenario as text: each request (trimmed) and the exact bytes answered. */
function modelLog(title: string, exchanges: Exchange[], capture: Capture): string {
  const parts = [`# Mock model server side: ${title}`, '# Request bodies are trimmed (system prompts, tool schemas); SSE responses are exact bytes sent.', ''];
  exchanges.forEach((exchange, index) => {
    const headers = Object.fromEntries(
      Object.entries(exchange.headers)
        .filter(([name]) => ['content-type', 'user-agent', 'authorization', 'x-api-key', 'anthropic-beta', 'anthropic-version'].includes(name))
        .map(([name, value]) => [name, name === 'authorization' || name === 'x-api-key' ? '<set>' : value]),
    );
    parts.push(`===== REQUEST ${index + 1}: ${exchange.method} ${exchange.url}`, `headers: ${JSON.stringify(headers)}`);
    if (exchange.body) {
      let body: unknown = exchange.body;
      try {
        body = trimModelBody(JSON.parse(exchange.body));
      } catch {
        // not JSON: as it is
      }
      parts.push('body (trimmed):', typeof body === 'string' ? body : JSON.stringify(body, null, 1));
    }
    parts.push('', `===== RESPONSE ${index + 1}: HTTP ${exchange.status ?? '(none)'}`, Buffer.concat(exchange.response).toString('utf8'), '');
  });
  return capture.scrub(parts.join('\n'));
}

/** Tool schemas become their names; system prompts and long context text become a marker. */
function trimModelBody(body: Record<string, unknown>): unknown {
  const copy: Record<string, unknown> = { ...body };
  if (Array.isArray(copy.tools)) {
    const names = (copy.tools as { name?: string; type?: string; function?: { name?: string } }[]).map((tool) => tool.name ?? tool.function?.name ?? tool.type ?? '?');
    copy.tools = `[TRIMMED: ${names.length} tools: ${names.join(', ')}]`;
  }
  for (const key of ['instructions', 'system']) if (copy[key] !== undefined) copy[key] = '[TRIMMED system prompt]';
  const long = (value: unknown): unknown => {
    if (typeof value === 'string') return value.length > 400 ? '[TRIMMED system/context text]' : value;
    if (Array.isArray(value)) return value.map(long);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, long(field)]));
    return value;
  };
  for (const key of ['input', 'messages']) if (copy[key] !== undefined) copy[key] = long(copy[key]);
  return copy;
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario helpers

interface Bed {
  root: string;
  cwd: string;
  capture: Capture;
}

function makeBed(): Bed {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'atw-rec-')));
  const cwd = path.join(root, 'ws');
  fs.mkdirSync(cwd);
  fs.writeFileSync(path.join(cwd, 'README.md'), '# demo\n');
  const capture = new Capture();
  capture.placeholder(cwd, '<CWD>');
  capture.placeholder(path.join(ROOT, 'node_modules'), '<PKG_BIN>');
  capture.placeholder(os.homedir(), '<HOME>');
  capture.placeholder(`${fs.realpathSync(os.tmpdir())}/`, '<TMP>/');
  return { root, cwd, capture };
}

function byPrompt<T extends string>(table: Record<string, T>, fallback: T): (userText: string) => T {
  return (userText) => table[userText.trim()] ?? fallback;
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Codex: `codex app-server` over stdio (PROTOCOLS.md §1)

const CODEX_PROMPTS: Record<string, ScenarioName> = {
  'Create a marker file': 'run-approval',
  'Touch a file': 'run-approval',
  'Touch pending.txt': 'run-approval',
  'Write hello.txt and edit README': 'file-approval',
  'Plan a DB layer': 'ask-user',
  'Pick a color via the elic server': 'elicit',
  'Look up ticket ATW-42': 'dynamic-tool',
  'Long task': 'hang',
  hi: 'rate-limit',
};

interface CodexRig {
  bed: Bed;
  start(options?: { experimental?: boolean }): Promise<Peer>;
  tee: { exchanges: Exchange[] };
  close(): Promise<void>;
}

async function codexRig(mockOptions: MockResponsesOptions, options: { mcp?: boolean } = {}): Promise<CodexRig> {
  const bed = makeBed();
  const mock = await startMockResponsesServer({ chooseScenario: byPrompt(CODEX_PROMPTS, 'plain'), ...mockOptions });
  const tee = await startTee(mock.port);
  const home = path.join(bed.root, 'codex-home');
  await writeCodexHome(home, { port: tee.port, cwd: bed.cwd, mcpElicitScript: options.mcp ? MCP_ELICIT : undefined });
  bed.capture.placeholder(home, '<CODEX_HOME>');
  bed.capture.placeholder(`127.0.0.1:${tee.port}`, '127.0.0.1:<PORT>');
  const binary = pinnedCodexBinary();
  const toolsDir = path.join(path.dirname(path.dirname(binary)), 'codex-path');
  const env = { ...process.env, CODEX_HOME: home, MOCK_API_KEY: 'recorder', CODEX_MANAGED_BY_NPM: '1', PATH: [toolsDir, process.env.PATH].join(path.delimiter) };
  return {
    bed,
    tee,
    async start({ experimental = false } = {}) {
      const peer = new Peer(bed.capture, binary, ['app-server'], { cwd: bed.cwd, env, argv0: 'codex' });
      await peer.request('initialize', { clientInfo: CLIENT_INFO, ...(experimental ? { capabilities: { experimentalApi: true } } : {}) });
      peer.notify('initialized');
      return peer;
    },
    async close() {
      await tee.close();
      await mock.close();
    },
  };
}

async function codexTurn(peer: Peer, threadId: string, text: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const { turn } = (await peer.request('turn/start', { threadId, input: [{ type: 'text', text, text_elements: [] }], ...extra })) as { turn: { id: string } };
  return peer.waitFor((msg) => msg.method === 'turn/completed' && (msg.params as { turn: { id: string } }).turn.id === turn.id, 60_000, `turn/completed of "${text}"`);
}

async function threadStart(peer: Peer, params: Record<string, unknown>): Promise<string> {
  const { thread } = (await peer.request('thread/start', params)) as { thread: { id: string } };
  return thread.id;
}

async function endCodex(peer: Peer, capture: Capture): Promise<void> {
  capture.meta({ event: 'scenario-done', ms: Date.now() - capture.started });
  peer.closeStdin();
  await withTimeout(peer.exited, 10_000, 'codex did not exit on stdin EOF').catch(() => peer.kill('SIGKILL'));
}

const fileCheck = (cwd: string, name: string) => fs.existsSync(path.join(cwd, name));

/** Makes `cwd` a git repository with one commit (its README) and returns that commit. */
function commitBase(cwd: string): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 'Recorder', GIT_AUTHOR_EMAIL: 'recorder@example.invalid', GIT_COMMITTER_NAME: 'Recorder', GIT_COMMITTER_EMAIL: 'recorder@example.invalid', GIT_CONFIG_GLOBAL: '/dev/null' };
  const git = (...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'base');
  return git('rev-parse', 'HEAD');
}

const codexScenarios: Record<string, () => Promise<CodexRig>> = {
  async plain() {
    const rig = await codexRig({});
    const peer = await rig.start();
    const threadId = await threadStart(peer, { cwd: rig.bed.cwd });
    await codexTurn(peer, threadId, 'Say hello');
    await codexTurn(peer, threadId, 'Again');
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
  async 'command-approval-accept'() {
    const rig = await codexRig({ command: 'touch created-by-agent.txt && echo made', justification: 'Create a marker file outside the sandbox?' });
    const peer = await rig.start();
    peer.onRequest = () => ({ decision: 'accept' });
    const threadId = await threadStart(peer, { cwd: rig.bed.cwd });
    await codexTurn(peer, threadId, 'Create a marker file');
    rig.bed.capture.meta({ event: 'check', fileExists: fileCheck(rig.bed.cwd, 'created-by-agent.txt') });
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
  async 'command-approval-decline'() {
    const rig = await codexRig({ command: 'touch declined.txt', justification: 'Touch a file?' });
    const peer = await rig.start();
    peer.onRequest = () => ({ decision: 'decline' });
    const threadId = await threadStart(peer, { cwd: rig.bed.cwd, approvalPolicy: 'untrusted' });
    await codexTurn(peer, threadId, 'Touch a file');
    rig.bed.capture.meta({ event: 'check', fileExists: fileCheck(rig.bed.cwd, 'declined.txt') });
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
  async 'file-approval'() {
    const patch = '*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** Update File: README.md\n@@\n-# demo\n+# demo (edited)\n*** End Patch\n';
    const rig = await codexRig({ patch });
    const peer = await rig.start();
    peer.onRequest = () => ({ decision: 'accept' });
    const threadId = await threadStart(peer, { cwd: rig.bed.cwd, approvalPolicy: 'untrusted' });
    await codexTurn(peer, threadId, 'Write hello.txt and edit README');
    const read = (name: string) => (fileCheck(rig.bed.cwd, name) ? fs.readFileSync(path.join(rig.bed.cwd, name), 'utf8') : null);
    rig.bed.capture.meta({ event: 'check', hello: read('hello.txt'), readme: read('README.md') });
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
  async 'ask-user'() {
    const rig = await codexRig({});
    const peer = await rig.start({ experimental: true });
    peer.onRequest = () => ({ answers: { db_choice: { answers: ['Postgres'] } } });
    const threadId = await threadStart(peer, { cwd: rig.bed.cwd });
    await codexTurn(peer, threadId, 'Plan a DB layer', { collaborationMode: { mode: 'plan', settings: { model: 'gpt-5.5', reasoning_effort: null, developer_instructions: null } } });
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
  async elicitation() {
    const rig = await codexRig({}, { mcp: true });
    const peer = await rig.start();
    peer.onRequest = () => ({ action: 'accept', content: { color: 'green' }, _meta: null });
    const threadId = await threadStart(peer, { cwd: rig.bed.cwd });
    await codexTurn(peer, threadId, 'Pick a color via the elic server');
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
  async 'dynamic-tool'() {
    const rig = await codexRig({});
    const peer = await rig.start({ experimental: true });
    peer.onRequest = () => ({ contentItems: [{ type: 'inputText', text: 'ATW-42: Fix the flux capacitor (open)' }], success: true });
    const dynamicTools = [
      {
        type: 'function',
        name: 'lookup_ticket',
        description: 'Look up a ticket in the tracker',
        inputSchema: { type: 'object', properties: { ticket: { type: 'string' } }, required: ['ticket'] },
      },
    ];
    const threadId = await threadStart(peer, { cwd: rig.bed.cwd, dynamicTools });
    await codexTurn(peer, threadId, 'Look up ticket ATW-42');
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
  async interrupt() {
    const rig = await codexRig({});
    const peer = await rig.start();
    const threadId = await threadStart(peer, { cwd: rig.bed.cwd });
    const { turn } = (await peer.request('turn/start', { threadId, input: [{ type: 'text', text: 'Long task', text_elements: [] }] })) as { turn: { id: string } };
    await peer.waitFor((msg) => msg.method === 'item/agentMessage/delta', 30_000, 'the first delta');
    await peer.request('turn/interrupt', { threadId, turnId: turn.id });
    await peer.waitFor((msg) => msg.method === 'turn/completed' && (msg.params as { turn: { id: string } }).turn.id === turn.id, 10_000, 'the interrupted turn');
    await codexTurn(peer, threadId, 'After interrupt');
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
  async 'rate-limit-429'() {
    const rig = await codexRig({});
    const peer = await rig.start();
    const threadId = await threadStart(peer, { cwd: rig.bed.cwd });
    await codexTurn(peer, threadId, 'hi');
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
  async 'resume-after-kill'() {
    const rig = await codexRig({ command: 'touch pending.txt', justification: 'Touch pending.txt?', plainReply: () => 'Continuing after resume.' });
    const first = await rig.start();
    const threadId = await threadStart(first, { cwd: rig.bed.cwd, approvalPolicy: 'untrusted' });
    await first.request('turn/start', { threadId, input: [{ type: 'text', text: 'Touch pending.txt', text_elements: [] }] });
    await first.waitFor((msg) => msg.method === 'item/commandExecution/requestApproval', 30_000, 'the approval');
    rig.bed.capture.meta({ event: 'SIGKILL app-server while approval pending' });
    first.kill('SIGKILL');
    await first.exited;
    const second = await rig.start();
    second.onRequest = () => ({ decision: 'decline' });
    await second.request('thread/resume', { threadId });
    await second.request('thread/read', { threadId, includeTurns: true });
    await codexTurn(second, threadId, 'please continue');
    await endCodex(second, rig.bed.capture);
    return rig;
  },
  async review() {
    // DESIGN §9: a review task's thread (read-only, the task's context as developer instructions) reviews the change
    // against its base commit in Codex's review mode: an uncommitted edit and an untracked new file.
    const rig = await codexRig({});
    const base = commitBase(rig.bed.cwd);
    fs.writeFileSync(path.join(rig.bed.cwd, 'README.md'), '# demo (edited)\n');
    fs.writeFileSync(path.join(rig.bed.cwd, 'hello.txt'), 'hello world\n');
    const peer = await rig.start();
    const threadId = await threadStart(peer, { cwd: rig.bed.cwd, sandbox: 'read-only', developerInstructions: 'Review the change another coding agent made for this task: "Add a greeting file".' });
    const { turn } = (await peer.request('review/start', { threadId, target: { type: 'baseBranch', branch: base }, delivery: 'inline' })) as { turn: { id: string } };
    await peer.waitFor((msg) => msg.method === 'turn/completed' && (msg.params as { turn: { id: string } }).turn.id === turn.id, 60_000, 'the review turn');
    rig.bed.capture.meta({ event: 'check', base });
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
  async 'two-threads'() {
    const rig = await codexRig({ plainReply: (text) => `Reply for ${text.split(' ')[0]} streamed slowly over several chunks.`, chunkDelayMs: 40 });
    const peer = await rig.start();
    const a = await threadStart(peer, { cwd: rig.bed.cwd });
    const b = await threadStart(peer, { cwd: rig.bed.cwd });
    const turnA = codexTurn(peer, a, 'thread-A question');
    const turnB = codexTurn(peer, b, 'thread-B question');
    await Promise.all([turnA, turnB]);
    const order = rig.bed.capture.frames
      .filter((frame): frame is { dir: 'in'; msg: { method?: string; params?: { threadId?: string } } } => frame.dir === 'in')
      .filter((frame) => frame.msg.method === 'item/agentMessage/delta')
      .map((frame) => (frame.msg.params?.threadId === a ? 'A' : 'B'))
      .join('');
    rig.bed.capture.meta({ event: 'check', deltaOrder: order });
    await endCodex(peer, rig.bed.capture);
    return rig;
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Claude Code: `claude -p` stream-json (PROTOCOLS.md §2)

const CLAUDE_PROMPTS: Record<string, AnthropicScenario> = {
  'Create a marker file': 'run-approval',
  'Touch a file': 'run-approval',
  'Touch pending.txt': 'run-approval',
  'Write hello.txt': 'write-file',
  'Plan a DB layer': 'ask-user',
  'Long task': 'hang',
  hi: 'rate-limit',
};

interface ClaudeRig {
  bed: Bed;
  tee: { exchanges: Exchange[] };
  spawn(extraArgs?: string[]): Peer;
  close(): Promise<void>;
}

async function claudeRig(mockOptions: MockAnthropicOptions, env: Record<string, string> = {}): Promise<ClaudeRig> {
  const bed = makeBed();
  const mock = await startMockAnthropicServer({ chooseScenario: byPrompt(CLAUDE_PROMPTS, 'plain'), cwd: bed.cwd, ...mockOptions });
  const tee = await startTee(mock.port);
  const home = path.join(bed.root, 'claude-home');
  fs.mkdirSync(home);
  bed.capture.placeholder(home, '<CLAUDE_CONFIG_DIR>');
  bed.capture.placeholder(`127.0.0.1:${tee.port}`, '127.0.0.1:<PORT>');
  bed.capture.placeholder(bed.cwd.replace(/[^A-Za-z0-9]/g, '-'), '-<CWD_SLUG>');
  const binary = resolveClaudeExecutable(path.join(ROOT, 'node_modules', '.bin', 'claude'));
  if (!binary) throw new Error('Claude Code is not installed (npm ci)');
  const processEnv = { ...process.env };
  delete processEnv.ANTHROPIC_API_KEY;
  const fullEnv = {
    ...processEnv,
    ANTHROPIC_BASE_URL: `http://127.0.0.1:${tee.port}`,
    ANTHROPIC_API_KEY: 'dummy',
    CLAUDE_CONFIG_DIR: home,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    ...env,
  };
  const baseArgs = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--permission-prompt-tool', 'stdio'];
  return {
    bed,
    tee,
    spawn: (extraArgs = []) => new Peer(bed.capture, binary, [...baseArgs, ...extraArgs], { cwd: bed.cwd, env: fullEnv, argv0: 'claude', note: true }),
    async close() {
      await tee.close();
      await mock.close();
    },
  };
}

const userMessage = (content: string) => ({ type: 'user', message: { role: 'user', content } });
const isResult = (msg: Record<string, unknown>) => msg.type === 'result';

/** Sends a user message and waits for its result. */
async function claudeTurn(peer: Peer, text: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const result = peer.next(isResult, timeoutMs, `the result of "${text}"`);
  peer.send(userMessage(text));
  return result;
}

/** Answers can_use_tool control requests with `decide(request)`. */
function answerPermissions(peer: Peer, decide: (request: { tool_name: string; input: Record<string, unknown> }) => Record<string, unknown> | undefined): void {
  peer.onMessage = (msg) => {
    if (msg.type !== 'control_request') return;
    const request = msg.request as { subtype: string; tool_name: string; input: Record<string, unknown> };
    if (request.subtype !== 'can_use_tool') return;
    const response = decide(request);
    // Answered after the current line is handled, as a client would.
    if (response) setImmediate(() => peer.send({ type: 'control_response', response: { subtype: 'success', request_id: msg.request_id, response } }));
  };
}

async function endClaude(peer: Peer, capture: Capture): Promise<void> {
  capture.meta({ event: 'scenario-done', ms: Date.now() - capture.started });
  capture.meta({ event: 'closing stdin' });
  peer.closeStdin();
  await withTimeout(peer.exited, 15_000, 'claude did not exit on stdin EOF').catch(() => peer.kill('SIGKILL'));
}

const allow = (request: { input: Record<string, unknown> }) => ({ behavior: 'allow', updatedInput: request.input });

async function claudeResumeAfterKill(waitBeforeKillMs: number): Promise<ClaudeRig> {
  const rig = await claudeRig({ command: { command: 'touch pending.txt', description: 'Touch pending.txt' }, plainReply: () => 'Continuing after resume.' });
  const first = rig.spawn();
  answerPermissions(first, () => undefined);
  first.send(userMessage('Touch pending.txt'));
  const request = await first.waitFor((msg) => msg.type === 'control_request', 60_000, 'the approval');
  const init = await first.waitFor((msg) => msg.type === 'system' && msg.subtype === 'init', 1000, 'system/init');
  const sessionId = String(request.session_id ?? init.session_id);
  if (waitBeforeKillMs) {
    rig.bed.capture.meta({ event: 'waiting before kill', ms: waitBeforeKillMs });
    await delay(waitBeforeKillMs);
    const projects = path.join(rig.bed.root, 'claude-home', 'projects');
    const files = fs.existsSync(projects) ? fs.readdirSync(projects).flatMap((dir) => fs.readdirSync(path.join(projects, dir)).map((file) => path.join(projects, dir, file))) : [];
    rig.bed.capture.meta({ event: 'session files before kill', files });
  }
  rig.bed.capture.meta({ event: 'SIGKILL claude while approval pending', session_id: sessionId });
  first.kill('SIGKILL');
  await first.exited;
  const second = rig.spawn(['--resume', sessionId]);
  answerPermissions(second, allow);
  await claudeTurn(second, 'please continue');
  await endClaude(second, rig.bed.capture);
  return rig;
}

const claudeScenarios: Record<string, () => Promise<ClaudeRig>> = {
  async plain() {
    const rig = await claudeRig({});
    const peer = rig.spawn();
    const initialized = peer.next((msg) => msg.type === 'control_response', 60_000, 'the initialize response');
    peer.send({ type: 'control_request', request_id: 'req_1', request: { subtype: 'initialize' } });
    await initialized;
    await claudeTurn(peer, 'Say hello');
    await claudeTurn(peer, 'Again');
    await endClaude(peer, rig.bed.capture);
    return rig;
  },
  async 'command-approval-accept'() {
    const rig = await claudeRig({ command: { command: 'touch created-by-agent.txt && echo made', description: 'Create marker file' } });
    const peer = rig.spawn();
    answerPermissions(peer, allow);
    await claudeTurn(peer, 'Create a marker file');
    rig.bed.capture.meta({ event: 'check', fileExists: fileCheck(rig.bed.cwd, 'created-by-agent.txt') });
    await endClaude(peer, rig.bed.capture);
    return rig;
  },
  async 'command-approval-decline'() {
    const rig = await claudeRig({ command: { command: 'touch declined.txt', description: 'Touch a file' } });
    const peer = rig.spawn();
    answerPermissions(peer, () => ({ behavior: 'deny', message: 'User declined this command' }));
    await claudeTurn(peer, 'Touch a file');
    rig.bed.capture.meta({ event: 'check', fileExists: fileCheck(rig.bed.cwd, 'declined.txt') });
    await endClaude(peer, rig.bed.capture);
    return rig;
  },
  async 'file-approval'() {
    const rig = await claudeRig({});
    const peer = rig.spawn();
    answerPermissions(peer, allow);
    await claudeTurn(peer, 'Write hello.txt');
    rig.bed.capture.meta({ event: 'check', hello: fileCheck(rig.bed.cwd, 'hello.txt') ? fs.readFileSync(path.join(rig.bed.cwd, 'hello.txt'), 'utf8') : null });
    await endClaude(peer, rig.bed.capture);
    return rig;
  },
  async 'ask-user'() {
    const rig = await claudeRig({});
    const peer = rig.spawn();
    answerPermissions(peer, (request) => {
      if (request.tool_name !== 'AskUserQuestion') return allow(request);
      const questions = request.input.questions as { question: string }[];
      return { behavior: 'allow', updatedInput: { questions, answers: { [questions[0].question]: 'Postgres' } } };
    });
    await claudeTurn(peer, 'Plan a DB layer');
    await endClaude(peer, rig.bed.capture);
    return rig;
  },
  async interrupt() {
    const rig = await claudeRig({});
    const peer = rig.spawn(['--include-partial-messages']);
    const result = peer.next(isResult, 60_000, 'the interrupted result');
    peer.send(userMessage('Long task'));
    await peer.waitFor((msg) => msg.type === 'stream_event' && (msg.event as { type?: string }).type === 'content_block_delta', 60_000, 'the first text delta');
    peer.send({ type: 'control_request', request_id: 'req_1', request: { subtype: 'interrupt' } });
    await result;
    await claudeTurn(peer, 'After interrupt');
    await endClaude(peer, rig.bed.capture);
    return rig;
  },
  async 'rate-limit-429'() {
    const rig = await claudeRig({});
    const peer = rig.spawn();
    await claudeTurn(peer, 'hi', 5 * 60_000);
    await endClaude(peer, rig.bed.capture);
    return rig;
  },
  async 'rate-limit-429-max-retries-1'() {
    const rig = await claudeRig({}, { CLAUDE_CODE_MAX_RETRIES: '1' });
    const peer = rig.spawn();
    await claudeTurn(peer, 'hi');
    await endClaude(peer, rig.bed.capture);
    return rig;
  },
  'resume-after-kill': () => claudeResumeAfterKill(3000),
  'resume-after-kill-immediate': () => claudeResumeAfterKill(0),
  /** `--resume` of a session Claude Code never saved: "No conversation found". */
  async 'resume-unknown-session'() {
    const rig = await claudeRig({});
    const peer = rig.spawn(['--resume', '00000000-0000-4000-8000-000000000000']);
    await claudeTurn(peer, 'please continue');
    await endClaude(peer, rig.bed.capture);
    return rig;
  },
};


// ---------------------------------------------------------------------------------------------------------------
// Copilot CLI: `copilot --acp` (PROTOCOLS.md §3)

const COPILOT_PROMPTS: Record<string, ChatScenario> = {
  'Create a marker file': 'run-approval',
  'Touch a file': 'run-approval',
  'Touch pending.txt': 'run-approval',
  'Write hello.txt and edit README': 'write-and-edit',
  'Long task': 'hang',
  hi: 'rate-limit',
};

interface CopilotRig {
  bed: Bed;
  tee: { exchanges: Exchange[] };
  spawn(): Promise<Peer>;
  close(): Promise<void>;
}

async function copilotRig(mockOptions: MockChatOptions): Promise<CopilotRig> {
  const bed = makeBed();
  const mock = await startMockChatServer({ chooseScenario: byPrompt(COPILOT_PROMPTS, 'plain'), cwd: bed.cwd, ...mockOptions });
  const tee = await startTee(mock.port);
  const home = path.join(bed.root, 'copilot-home');
  fs.mkdirSync(home);
  bed.capture.placeholder(home, '<COPILOT_HOME>');
  bed.capture.placeholder(`127.0.0.1:${tee.port}`, '127.0.0.1:<PORT>');
  const binary = resolveCopilotExecutable(path.join(ROOT, 'node_modules', '.bin', 'copilot'));
  if (!binary) throw new Error('Copilot CLI is not installed (npm ci)');
  const env = {
    ...process.env,
    COPILOT_OFFLINE: 'true',
    COPILOT_PROVIDER_BASE_URL: `http://127.0.0.1:${tee.port}/v1`,
    COPILOT_PROVIDER_TYPE: 'openai',
    COPILOT_PROVIDER_API_KEY: 'x',
    COPILOT_MODEL: 'gpt-4.1',
    COPILOT_HOME: home,
  };
  return {
    bed,
    tee,
    async spawn() {
      const peer = new Peer(bed.capture, binary, ['--acp'], { cwd: bed.cwd, env, argv0: 'copilot', note: true, jsonrpc: true });
      await peer.request('initialize', {
        protocolVersion: 1,
        clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
        clientInfo: { name: CLIENT_INFO.name, version: CLIENT_INFO.version },
      });
      return peer;
    },
    async close() {
      await tee.close();
      await mock.close();
    },
  };
}

const selected = (optionId: string) => ({ outcome: { outcome: 'selected', optionId } });

async function newSession(peer: Peer, cwd: string): Promise<string> {
  const { sessionId } = (await peer.request('session/new', { cwd, mcpServers: [] })) as { sessionId: string };
  return sessionId;
}

const prompt = (peer: Peer, sessionId: string, text: string, id?: number) => peer.request('session/prompt', { sessionId, prompt: [{ type: 'text', text }] }, id);

async function endCopilot(peer: Peer, capture: Capture): Promise<void> {
  capture.meta({ event: 'scenario-done', ms: Date.now() - capture.started });
  capture.meta({ event: 'closing stdin' });
  peer.closeStdin();
  await withTimeout(peer.exited, 15_000, 'copilot did not exit on stdin EOF').catch(() => peer.kill('SIGKILL'));
}

const copilotScenarios: Record<string, () => Promise<CopilotRig>> = {
  async plain() {
    const rig = await copilotRig({});
    const peer = await rig.spawn();
    const sessionId = await newSession(peer, rig.bed.cwd);
    await prompt(peer, sessionId, 'Say hello');
    await prompt(peer, sessionId, 'Again');
    await endCopilot(peer, rig.bed.capture);
    return rig;
  },
  async 'command-approval-accept'() {
    const rig = await copilotRig({ command: { command: 'touch created-by-agent.txt && echo made', description: 'Create marker file' } });
    const peer = await rig.spawn();
    peer.onRequest = () => selected('allow_once');
    const sessionId = await newSession(peer, rig.bed.cwd);
    await prompt(peer, sessionId, 'Create a marker file');
    rig.bed.capture.meta({ event: 'check', fileExists: fileCheck(rig.bed.cwd, 'created-by-agent.txt') });
    await endCopilot(peer, rig.bed.capture);
    return rig;
  },
  async 'command-approval-decline'() {
    const rig = await copilotRig({ command: { command: 'touch declined.txt', description: 'Touch a file' } });
    const peer = await rig.spawn();
    peer.onRequest = () => selected('reject_once');
    const sessionId = await newSession(peer, rig.bed.cwd);
    await prompt(peer, sessionId, 'Touch a file');
    rig.bed.capture.meta({ event: 'check', fileExists: fileCheck(rig.bed.cwd, 'declined.txt') });
    await endCopilot(peer, rig.bed.capture);
    return rig;
  },
  async 'file-approval'() {
    const rig = await copilotRig({});
    fs.writeFileSync(path.join(rig.bed.cwd, 'README.md'), '# demo\n\n');
    const peer = await rig.spawn();
    peer.onRequest = () => selected('allow_once');
    const sessionId = await newSession(peer, rig.bed.cwd);
    await prompt(peer, sessionId, 'Write hello.txt and edit README');
    const read = (name: string) => (fileCheck(rig.bed.cwd, name) ? fs.readFileSync(path.join(rig.bed.cwd, name), 'utf8') : null);
    rig.bed.capture.meta({ event: 'check', hello: read('hello.txt'), readme: read('README.md') });
    await endCopilot(peer, rig.bed.capture);
    return rig;
  },
  async interrupt() {
    const rig = await copilotRig({});
    const peer = await rig.spawn();
    const sessionId = await newSession(peer, rig.bed.cwd);
    const cancelled = prompt(peer, sessionId, 'Long task', 100);
    await peer.waitFor((msg) => (msg.params as { update?: { sessionUpdate?: string } } | undefined)?.update?.sessionUpdate === 'agent_message_chunk', 60_000, 'the first chunk');
    peer.notify('session/cancel', { sessionId });
    await cancelled;
    await prompt(peer, sessionId, 'After cancel');
    await endCopilot(peer, rig.bed.capture);
    return rig;
  },
  async 'rate-limit-429'() {
    const rig = await copilotRig({ retryAfterSeconds: 1 });
    const peer = await rig.spawn();
    const sessionId = await newSession(peer, rig.bed.cwd);
    await prompt(peer, sessionId, 'hi');
    await endCopilot(peer, rig.bed.capture);
    return rig;
  },
  async 'resume-after-kill'() {
    const rig = await copilotRig({ command: { command: 'touch pending.txt', description: 'Touch pending.txt' }, plainReply: () => 'Continuing after resume.' });
    const first = await rig.spawn();
    const sessionId = await newSession(first, rig.bed.cwd);
    void prompt(first, sessionId, 'Touch pending.txt', 100).catch(() => undefined);
    await first.waitFor((msg) => msg.method === 'session/request_permission', 60_000, 'the permission request');
    const stateDir = path.join(rig.bed.root, 'copilot-home', 'session-state', sessionId);
    const files = fs.existsSync(stateDir) ? fs.readdirSync(stateDir).map((file) => path.join(stateDir, file)) : [];
    rig.bed.capture.meta({ event: 'session files before kill', files });
    rig.bed.capture.meta({ event: 'SIGKILL copilot while permission pending', sessionId });
    first.kill('SIGKILL');
    await first.exited;
    const second = await rig.spawn();
    await second.request('session/load', { sessionId, cwd: rig.bed.cwd, mcpServers: [] });
    await prompt(second, sessionId, 'please continue');
    await endCopilot(second, rig.bed.capture);
    return rig;
  },
};

// ---------------------------------------------------------------------------------------------------------------

interface Rig {
  bed: Bed;
  tee: { exchanges: Exchange[] };
  close(): Promise<void>;
}

const SCENARIOS: Record<string, { api: string; title: string; run: () => Promise<Rig> }> = {};
for (const [name, run] of Object.entries(codexScenarios)) SCENARIOS[`codex-${name}`] = { api: 'responses', title: `codex / ${name} (OpenAI Responses)`, run };
for (const [name, run] of Object.entries(claudeScenarios)) SCENARIOS[`claude-${name}`] = { api: 'anthropic', title: `claude / ${name} (Anthropic Messages)`, run };
for (const [name, run] of Object.entries(copilotScenarios)) SCENARIOS[`copilot-${name}`] = { api: 'chat', title: `copilot / ${name} (OpenAI Chat Completions)`, run };

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--list')) {
    console.log(Object.keys(SCENARIOS).join('\n'));
    return;
  }
  const names = args.length ? args : Object.keys(SCENARIOS);
  const unknown = names.filter((name) => !SCENARIOS[name]);
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')} (see --list)`);
  let failed = 0;
  for (const name of names) {
    const scenario = SCENARIOS[name];
    const started = Date.now();
    process.stdout.write(`${name} … `);
    let rig: Rig | undefined;
    try {
      rig = await withTimeout(scenario.run(), 6 * 60_000, `${name} did not finish`);
      rig.bed.capture.write(path.join(OUT_DIR, `${name}.jsonl`));
      if (MODEL_LOGS.has(name)) {
        const [cli, ...rest] = name.split('-');
        fs.writeFileSync(path.join(OUT_DIR, `model-${scenario.api}-${cli}-${rest.join('-')}.txt`), modelLog(scenario.title, rig.tee.exchanges, rig.bed.capture));
      }
      console.log(`${rig.bed.capture.frames.length} frames, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (error) {
      failed++;
      console.log(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await rig?.close().catch(() => undefined);
      if (rig) fs.rmSync(rig.bed.root, { recursive: true, force: true });
    }
  }
  process.exit(failed ? 1 : 0);
}

void main();
