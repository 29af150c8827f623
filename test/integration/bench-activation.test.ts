// Phase bench (npm run bench runs it): Agent Task Worker and an empty extension, both installed so that nothing
// activates them at startup, activated on demand in the same host and timed from the caller's side (module load,
// activate(), the host's bookkeeping). Figures go to $ATW_BENCH_ACTIVATION_OUT.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EXTENSION_ID } from './support/agent-tasks';

const EMPTY_EXTENSION_ID = 'agenttasks-tests.empty-extension';

async function timeActivation(id: string): Promise<{ ms: number; exports: unknown }> {
  const extension = vscode.extensions.getExtension(id);
  assert.ok(extension, `${id} is not installed`);
  assert.ok(!extension.isActive, `${id} was already active: the bench needs it activated on demand`);
  const started = performance.now();
  const exports = await extension.activate();
  return { ms: performance.now() - started, exports };
}

suite('Activation bench', () => {
  test('activate Agent Task Worker and an empty extension on demand', async () => {
    const out = process.env.ATW_BENCH_ACTIVATION_OUT;
    assert.ok(out, 'ATW_BENCH_ACTIVATION_OUT is set by npm run bench');
    // Whatever the host does once, on the first activation, counts against the one that goes first: the bench
    // alternates the order over its rounds.
    const emptyFirst = process.env.ATW_BENCH_ACTIVATION_FIRST !== 'ours';
    const empty = emptyFirst ? await timeActivation(EMPTY_EXTENSION_ID) : undefined;
    const ours = await timeActivation(EXTENSION_ID);
    const emptyMs = (empty ?? (await timeActivation(EMPTY_EXTENSION_ID))).ms;
    const activateBodyMs = (ours.exports as { __test?: { activationMs(): number } }).__test?.activationMs();
    // How much of it is evaluating the bundle: require it again from scratch (nothing is activated by that).
    const bundle = path.join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'dist', 'extension.js');
    const cached = require.cache[bundle];
    delete require.cache[bundle];
    const started = performance.now();
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- evaluating the bundle again is what is measured
    require(bundle);
    const bundleLoadMs = performance.now() - started;
    if (cached) require.cache[bundle] = cached;
    fs.writeFileSync(out, JSON.stringify({ activationMs: ours.ms, emptyActivationMs: emptyMs, activateBodyMs, bundleLoadMs, emptyFirst }));
  });
});
