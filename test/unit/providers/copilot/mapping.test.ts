/**
 * Copilot-specific pieces of the ACP client: how a turn's end is classified (its 429 arrives only as text) and how
 * the native binary is found behind the npm loader.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { classifyCopilotTurn, resolveCopilotExecutable } from '../../../../src/providers/copilot';
import { PROVIDER_CAPABILITIES } from '../../../../src/providers/capabilities';
import { CopilotProvider } from '../../../../src/providers/copilot';
import { silentLogger } from '../../../../src/core/events';

const RATE_LIMIT_TEXT =
  'Error: Failed to get response from the AI model; retried 5 times (total retry wait time: 5.73 seconds) Last error: 429 Rate limit reached for requests (mock)';

describe('classifying the end of a Copilot turn', () => {
  it('the recorded 429 text (no usage) → rate_limited, without the "Error:" prefix', () => {
    assert.deepEqual(classifyCopilotTurn({ stopReason: 'end_turn', lastText: RATE_LIMIT_TEXT }), {
      status: 'rate_limited',
      error: RATE_LIMIT_TEXT.slice('Error: '.length),
    });
  });

  it('another "Error:" message with no usage → failed', () => {
    assert.deepEqual(classifyCopilotTurn({ stopReason: 'end_turn', lastText: 'Error: Failed to get response from the AI model; Last error: 500 boom' }), {
      status: 'failed',
      error: 'Failed to get response from the AI model; Last error: 500 boom',
    });
  });

  it('a normal reply, or a reply that merely starts with "Error:" after model usage, is left to the default', () => {
    const usage = { inputTokens: 1, outputTokens: 1, totalTokens: 2 };
    assert.equal(classifyCopilotTurn({ stopReason: 'end_turn', usage, lastText: 'All done.' }), undefined);
    assert.equal(classifyCopilotTurn({ stopReason: 'end_turn', usage, lastText: 'Error: the test fails because…' }), undefined);
    assert.equal(classifyCopilotTurn({ stopReason: 'cancelled', lastText: RATE_LIMIT_TEXT }), undefined);
  });
});

describe('CopilotProvider', () => {
  it('is the copilot provider with the copilot capability row', () => {
    const provider = new CopilotProvider({ copilotPath: () => undefined, log: silentLogger });
    assert.equal(provider.id, 'copilot');
    assert.equal(provider.displayName, 'GitHub Copilot CLI');
    assert.deepEqual(provider.capabilities, PROVIDER_CAPABILITIES.copilot.capabilities);
  });
});

describe('finding Copilot CLI', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atw-copilot-exe-'));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('resolves the npm loader to the platform package binary beside it', () => {
    const scope = path.join(root, 'node_modules', '@github');
    const loader = path.join(scope, 'copilot', 'npm-loader.js');
    const native = path.join(scope, `copilot-${process.platform}-${process.arch}`, 'copilot');
    fs.mkdirSync(path.dirname(loader), { recursive: true });
    fs.mkdirSync(path.dirname(native), { recursive: true });
    fs.writeFileSync(loader, '#!/usr/bin/env node\n', { mode: 0o755 });
    fs.writeFileSync(native, 'native', { mode: 0o755 });
    const bin = path.join(root, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(loader, path.join(bin, 'copilot'));
    assert.equal(resolveCopilotExecutable('', { PATH: bin }), fs.realpathSync(native));
    assert.equal(resolveCopilotExecutable(path.join(bin, 'copilot')), fs.realpathSync(native));
  });

  it('keeps a native binary as it is, and finds nothing where nothing is', () => {
    const native = path.join(root, 'standalone-copilot');
    fs.writeFileSync(native, 'native', { mode: 0o755 });
    assert.equal(resolveCopilotExecutable(native), fs.realpathSync(native));
    assert.equal(resolveCopilotExecutable(undefined, { PATH: path.join(root, 'none') }), undefined);
  });
});
