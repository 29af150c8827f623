// The set-up the MCP worktree and second-opinion tests share: a real git repository, a TaskManager on it with real
// TaskWorktrees, the real host socket, and an SDK client over stdio running the MCP server bundle built from source.
import { TaskWorktrees } from '../../src/worktrees/task-worktrees';
import { Harness, removeTempDirs, type HarnessOptions } from './core-harness';
import { makeRepo, TEST_GIT_ENV, type TestRepo } from './git-repo';
import { buildServerBundle, startClient, type TestClient } from './mcp-client';
import { startTestHost, type TestHost } from './mcp-host';

export interface McpWorktreeBed {
  serverPath: string;
  repo: TestRepo;
  h: Harness;
  host: TestHost;
  client: TestClient;
  stop(): Promise<void>;
}

/** Starts the bed; `options` go to the Harness (its cwd and worktrees are the repository's). */
export async function startMcpWorktreeBed(options: HarnessOptions = {}): Promise<McpWorktreeBed> {
  const bundle = await buildServerBundle();
  const repo = makeRepo({ 'README.md': '# test\n', 'src/app.ts': 'export const answer = 41;\n' });
  const h = new Harness({ ...options, cwd: repo.root, worktrees: new TaskWorktrees({ env: TEST_GIT_ENV }) });
  const host = await startTestHost(h);
  const client = await startClient(bundle.serverPath, { AGENT_TASKS_SOCKET: host.socketPath, AGENT_TASKS_TOKEN: host.token }, { name: 'unit-client' });
  return {
    serverPath: bundle.serverPath,
    repo,
    h,
    host,
    client,
    stop: async () => {
      await client.close();
      host.close();
      await h.dispose();
      repo.remove();
      bundle.remove();
      removeTempDirs();
    },
  };
}
