// What restart phase 1 leaves for phase 2 (and phase 2 for the untrusted phase, M3): the tasks it made, as the API
// showed them before the host stopped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TaskSnapshot } from '../../../src/core/task-state';

export interface RememberedTask {
  /** trustRunning / trustQueued: left running and queued by restart-2 for the untrusted reload (M3). */
  role: 'completed' | 'failed' | 'interrupted' | 'trustRunning' | 'trustQueued';
  id: string;
  status: string;
  provider: string;
  prompt: string;
  result?: string;
  error?: string;
  transcript: { kind: string; text: string }[];
}

function stateFile(): string {
  const file = process.env.ATW_STATE_FILE;
  if (!file) throw new Error('ATW_STATE_FILE is not set (scripts/run-integration.mjs sets it for the restart phases)');
  return file;
}

export function remember(role: RememberedTask['role'], task: TaskSnapshot): RememberedTask {
  return {
    role, id: task.id, status: task.status, provider: task.provider, prompt: task.prompt, result: task.result, error: task.error,
    transcript: task.output.map((entry) => ({ kind: entry.kind, text: entry.text })),
  };
}

export function saveRemembered(tasks: RememberedTask[]): void {
  fs.writeFileSync(stateFile(), JSON.stringify(tasks, null, 2));
}

export function loadRemembered(): RememberedTask[] {
  const file = stateFile();
  if (!fs.existsSync(file)) return [];
  return JSON.parse(fs.readFileSync(file, 'utf8')) as RememberedTask[];
}

/** state.json files of this extension in the workspace storage of ATW_USER_DATA_DIR (DESIGN §5). */
export function persistedStateFiles(): string[] {
  const userDataDir = process.env.ATW_USER_DATA_DIR;
  if (!userDataDir) return [];
  const root = path.join(userDataDir, 'User', 'workspaceStorage');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root)
    .map((dir) => path.join(root, dir, 'agenttasks.agent-task-worker', 'state.json'))
    .filter((file) => fs.existsSync(file));
}
