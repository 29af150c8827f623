// The extension activates in the real host, exports the API, and its commands match package.json.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { EXTENSION_ID, agentTasks } from './support/agent-tasks';

interface ContributedCommand {
  command: string;
  title: string;
  category?: string;
}

suite('Activation', () => {
  test('the extension is active and exports API version 1', async () => {
    const api = await agentTasks();
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension?.isActive, 'extension is not active');
    assert.equal(api.version, 1);
    for (const method of ['createTask', 'getTask', 'listTasks', 'answer', 'cancelTask', 'onDidChangeTask', 'registerProvider'] as const) {
      assert.equal(typeof api[method], 'function', `api.${method} is not a function`);
    }
  });

  test('activation time is measured (npm run bench times activation itself, in phase bench)', async () => {
    const api = await agentTasks();
    const activationMs = (api as unknown as { __test: { activationMs(): number } }).__test.activationMs();
    assert.ok(activationMs > 0, 'activate() was timed');
  });

  test('the scripted test provider is registered through the API', async () => {
    const api = await agentTasks();
    const task = await api.createTask({ prompt: 'say: provider check', provider: 'scripted' });
    assert.equal(task.provider, 'scripted');
    assert.match(task.id, /^[a-z]+-[a-z]+-\d{3}$/, 'task ids look like adjective-animal-NNN');
  });
});

suite('Commands', () => {
  const contributed = (): ContributedCommand[] => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is not loaded`);
    return (extension.packageJSON.contributes?.commands ?? []) as ContributedCommand[];
  };

  test('every contributed command is registered', async () => {
    await agentTasks();
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed().map((c) => c.command).filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
    assert.ok(contributed().length >= 11, 'package.json contributes the 11 commands of DESIGN §1');
  });

  test('every registered agentTasks.* command is contributed', async () => {
    await agentTasks();
    const ids = new Set(contributed().map((c) => c.command));
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)?.packageJSON;
    // VS Code itself registers `<viewId>.focus`, `<viewId>.resetViewLocation`, … for every contributed view.
    const viewIds: string[] = Object.values(pkg.contributes?.views ?? {}).flat().map((view) => (view as { id: string }).id);
    const registered = (await vscode.commands.getCommands(true)).filter((id) => id.startsWith('agentTasks.'));
    const extra = registered.filter((id) => !ids.has(id) && !viewIds.some((view) => id.startsWith(`${view}.`)));
    assert.deepEqual(extra, [], `registered but not contributed: ${extra.join(', ')}`);
  });

  test('every command is titled "Agent Tasks: …" in the palette', () => {
    assert.ok(contributed().length > 0, 'package.json contributes commands');
    const untitled = contributed().filter((c) => c.category !== 'Agent Tasks' && !c.title.startsWith('Agent Tasks: '));
    assert.deepEqual(untitled.map((c) => c.command), []);
  });
});
