/**
 * Codex for the tests that run the real extension (integration phase `codex` and the e2e suites): the settings that
 * point Agent Tasks at the pinned Codex binary and a profile whose CODEX_HOME talks to the mock Responses server, and
 * a teardown for the app-servers the extension started. Those run detached in their own process groups (they
 * outlive a window reload on purpose), so neither the extension host nor code-server takes them down.
 * Node only: no vscode, no playwright, so the integration bundle can import it too.
 */
import * as fs from 'node:fs';
import { privateDirFor } from '../../src/platform/private-dir';
import { MOCK_API_KEY_ENV } from '../fixtures/mock-responses/codex-home';

export { MCP_ELICIT_SCRIPT, pinnedCodexBinary } from '../support/codex-harness';

/** The id of the Codex profile the tests configure. */
export const CODEX_PROFILE_ID = 'mock';

/** User settings: the pinned binary and one Codex profile whose CODEX_HOME is `codexHome`. */
export function codexSettings(codexPath: string, codexHome: string): Record<string, unknown> {
  return {
    'agentTasks.codex.path': codexPath,
    'agentTasks.profiles': [{ id: CODEX_PROFILE_ID, provider: 'codex', configDir: codexHome, env: { [MOCK_API_KEY_ENV]: 'test-key' } }],
  };
}

/** Where the extension puts the sockets, logs and metadata of a workspace's Codex app-servers. */
export function socketDirOf(workspace: string): string {
  return privateDirFor(workspace);
}

interface ProcessInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  cmdline: string;
}

/** Live (not zombie) processes, from /proc. */
function processes(): ProcessInfo[] {
  const all: ProcessInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after the last ')'.
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z') continue;
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      all.push({ pid: Number(name), ppid: Number(ppid), pgrp: Number(pgrp), cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return all;
}

/**
 * The app-servers and watchdogs of a workspace (their command lines name its socket directory), with everything
 * they started (MCP servers, sandboxed commands) and everything in their process groups.
 */
export function codexProcessesOf(workspace: string): ProcessInfo[] {
  const dir = socketDirOf(workspace);
  const all = processes();
  const roots = all.filter((p) => p.cmdline.includes(dir));
  // Only groups they lead (they are spawned detached): never the group of whoever started them.
  const groups = new Set(roots.filter((p) => p.pgrp === p.pid).map((p) => p.pgrp));
  const found = new Map<number, ProcessInfo>();
  for (const p of all) if (groups.has(p.pgrp)) found.set(p.pid, p);
  for (const p of roots) found.set(p.pid, p);
  // Descendants that left the group.
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.set(p.pid, p);
        grew = true;
      }
    }
  }
  return [...found.values()];
}

/** pids of the `codex app-server` processes of a workspace. */
export function appServerPidsOf(workspace: string): number[] {
  const dir = socketDirOf(workspace);
  return processes().filter((p) => p.cmdline.includes('app-server') && p.cmdline.includes(dir) && !p.cmdline.includes('watchdog')).map((p) => p.pid);
}

const signal = (pid: number, sig: NodeJS.Signals): void => {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
};

/**
 * Stops every Codex app-server the extension started for `workspace` (SIGTERM to their groups, SIGKILL after a
 * grace period), removes the socket directory and returns what was running. Throws when something survives.
 */
export async function stopCodexAppServers(workspace: string, graceMs = 3_000): Promise<string[]> {
  const found = codexProcessesOf(workspace);
  const described = found.map((p) => `${p.pid} ${p.cmdline.slice(0, 160)}`);
  for (const p of found) if (p.pgrp === p.pid) signal(-p.pgrp, 'SIGTERM');
  for (const p of found) signal(p.pid, 'SIGTERM');
  const alive = (): ProcessInfo[] => {
    const live = new Set(processes().map((p) => p.pid));
    return found.filter((p) => live.has(p.pid));
  };
  const deadline = Date.now() + graceMs;
  while (alive().length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  for (const p of alive()) {
    if (p.pgrp === p.pid) signal(-p.pgrp, 'SIGKILL');
    signal(p.pid, 'SIGKILL');
  }
  const killDeadline = Date.now() + 2_000;
  while (alive().length && Date.now() < killDeadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const left = [...alive(), ...codexProcessesOf(workspace)];
  fs.rmSync(socketDirOf(workspace), { recursive: true, force: true });
  if (left.length) throw new Error(`Codex processes survived the teardown: ${left.map((p) => `${p.pid} ${p.cmdline.slice(0, 160)}`).join('; ')}`);
  return described;
}
