/**
 * Shared setup of the Codex provider tests: the real pinned Codex binary, the mock Responses server, a private
 * temp root per test (workspace, CODEX_HOME, socket directory) and a check that no app-server outlives its test.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { CodexProvider, type CodexProviderOptions } from '../../src/providers/codex';
import type { ResolvedProfile } from '../../src/core/ports';
import type { Logger } from '../../src/core/events';
import { writeCodexHome } from '../fixtures/mock-responses/codex-home';
import type { MockResponsesServer } from '../fixtures/mock-responses/server';

const requireFromHere = createRequire(__filename);

/** The pinned native Codex binary from node_modules. */
export function pinnedCodexBinary(): string {
  const triples: Record<string, string> = {
    'linux-x64': 'x86_64-unknown-linux-musl',
    'linux-arm64': 'aarch64-unknown-linux-musl',
    'darwin-x64': 'x86_64-apple-darwin',
    'darwin-arm64': 'aarch64-apple-darwin',
  };
  const key = `${process.platform}-${process.arch}`;
  const pkg = path.dirname(requireFromHere.resolve(`@openai/codex-${key}/package.json`));
  return path.join(pkg, 'vendor', triples[key], 'bin', 'codex');
}

export const MCP_ELICIT_SCRIPT = path.resolve(__dirname, '../fixtures/mcp-elicit/server.mjs');

/**
 * The recorded Codex 0.171.0 wire traffic (codex-*.jsonl): a copy in test/fixtures/transcripts when the repository
 * carries one, else the shared protocol captures beside the repository (DESIGN §7).
 */
export function codexTranscriptsDir(): string {
  const candidates = [path.resolve(__dirname, '../fixtures/transcripts'), path.resolve(__dirname, '../../../shared/protocols/transcripts')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'codex-plain.jsonl')));
  if (!found) throw new Error(`The recorded Codex transcripts are missing; looked in ${candidates.join(' and ')}`);
  return found;
}

export interface CodexTestBed {
  root: string;
  cwd: string;
  home: string;
  socketDir: string;
  profile: ResolvedProfile;
  log: Logger & { lines: string[] };
  /** Creates a provider on this bed (tests may create a second one to simulate a reload). */
  createProvider(overrides?: Partial<CodexProviderOptions>): CodexProvider;
  /** Stops every provider and server of this bed and fails if a process is left. */
  cleanup(): Promise<void>;
}

export async function createTestBed(mock: MockResponsesServer, options: { mcp?: boolean; mcpApprovedTools?: string[]; name?: string } = {}): Promise<CodexTestBed> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `cx-${options.name ?? 't'}-`));
  const cwd = path.join(root, 'ws');
  const home = path.join(root, 'home');
  const socketDir = path.join(root, 's');
  fs.mkdirSync(cwd);
  await writeCodexHome(home, { port: mock.port, cwd, mcpElicitScript: options.mcp ? MCP_ELICIT_SCRIPT : undefined, mcpApprovedTools: options.mcpApprovedTools });
  const lines: string[] = [];
  const record = (level: string) => (message: unknown, ...args: unknown[]) => {
    lines.push(`${level} ${String(message)}${args.length ? ` ${JSON.stringify(args)}` : ''}`);
    if (process.env.CODEX_TEST_LOG) console.error(level, message, ...args);
  };
  const log = { lines, trace: record('trace'), debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  const providers: CodexProvider[] = [];
  const profile: ResolvedProfile = { id: 'test', provider: 'codex', configDir: home, env: { MOCK_API_KEY: 'test-key' } };
  const binary = pinnedCodexBinary();
  return {
    root,
    cwd,
    home,
    socketDir,
    profile,
    log,
    createProvider(overrides = {}) {
      const provider = new CodexProvider({
        codexPath: () => binary,
        workspacePath: cwd,
        socketDir,
        log,
        idleShutdownMs: 0,
        interruptTimeoutMs: 3000,
        flushIntervalMs: 0,
        ...overrides,
      });
      providers.push(provider);
      return provider;
    },
    async cleanup() {
      for (const provider of providers) await provider.shutdown();
      // App-servers and their watchdogs name paths under root on their command lines.
      const deadline = Date.now() + 3000;
      while (processesUnder(root).length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const left = processesUnder(root);
      for (const pid of left) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      fs.rmSync(root, { recursive: true, force: true });
      if (left.length) throw new Error(`processes outlived the test: ${left.map(describeProcess).join('; ')}`);
    },
  };
}

/** Pids of live processes (app-servers, watchdogs) whose command line names a path under `root`. */
export function processesUnder(root: string): number[] {
  return livePids((cmdline) => cmdline.includes(root));
}

/** Pids of live `codex app-server` processes whose command line names a path under `root`. */
export function appServersUnder(root: string): number[] {
  return livePids((cmdline) => cmdline.includes('app-server') && cmdline.includes(root) && !cmdline.includes('watchdog'));
}

function livePids(match: (cmdline: string) => boolean): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue;
      if (Number(name) !== process.pid && match(cmdline)) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function describeProcess(pid: number): string {
  try {
    return `${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 200)}`;
  } catch {
    return String(pid);
  }
}

/** Live processes running the MCP elicitation fixture. */
export function mcpFixtureProcesses(): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmdline.includes(MCP_ELICIT_SCRIPT)) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
