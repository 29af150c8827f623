/**
 * The capability table (src/providers/capabilities.ts) is the one place the UI and recovery read what each
 * provider can do; the adapters take their capabilities from it.
 */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../../src/core/events';
import { PENDING_QUESTION_TYPES } from '../../../../src/core/task-state';
import { AcpProvider } from '../../../../src/providers/acp';
import { capabilityRow, PROVIDER_CAPABILITIES, providerFamily } from '../../../../src/providers/capabilities';
import { ClaudeProvider } from '../../../../src/providers/claude';
import { CODEX_CAPABILITIES } from '../../../../src/providers/codex';
import { CopilotProvider } from '../../../../src/providers/copilot';

describe('provider capability table', () => {
  it('has a row for codex, claude-cli, copilot and generic ACP agents', () => {
    assert.deepEqual(Object.keys(PROVIDER_CAPABILITIES).sort(), ['acp', 'claude-cli', 'codex', 'copilot']);
  });

  it('maps provider ids to rows (acp:<name> → acp)', () => {
    assert.equal(providerFamily('acp:gemini'), 'acp');
    assert.equal(providerFamily('claude-cli'), 'claude-cli');
    assert.equal(providerFamily('scripted'), undefined);
    assert.equal(capabilityRow('acp:x'), PROVIDER_CAPABILITIES.acp);
  });

  it('pause kinds follow PROTOCOLS.md: Claude asks commands, files and questions; Copilot and ACP only permissions', () => {
    assert.deepEqual([...PROVIDER_CAPABILITIES['claude-cli'].capabilities.pauseKinds].sort(), ['command_approval', 'file_approval', 'user_input']);
    assert.deepEqual([...PROVIDER_CAPABILITIES.copilot.capabilities.pauseKinds].sort(), ['command_approval', 'file_approval']);
    assert.deepEqual([...PROVIDER_CAPABILITIES.acp.capabilities.pauseKinds].sort(), ['command_approval', 'file_approval']);
    assert.deepEqual([...PROVIDER_CAPABILITIES.codex.capabilities.pauseKinds].sort(), [...PENDING_QUESTION_TYPES].sort());
  });

  it('stdio agents survive a reload under their keeper and resume from their session; only Claude reports cost', () => {
    for (const family of ['claude-cli', 'copilot', 'acp'] as const) {
      const { capabilities } = PROVIDER_CAPABILITIES[family];
      assert.equal(capabilities.survivesReload, true, family);
      assert.equal(capabilities.resumeAfterCrash, true, family);
      assert.equal(capabilities.followUps, true, family);
    }
    assert.deepEqual(
      Object.entries(PROVIDER_CAPABILITIES).filter(([, row]) => row.capabilities.reportsCost).map(([family]) => family),
      ['claude-cli'],
    );
  });

  it('the Codex row matches the Codex adapter', () => {
    assert.deepEqual(PROVIDER_CAPABILITIES.codex.capabilities, CODEX_CAPABILITIES);
  });

  it('the adapters take their capabilities from the table', () => {
    assert.equal(new ClaudeProvider({ claudePath: () => undefined, log: silentLogger }).capabilities, PROVIDER_CAPABILITIES['claude-cli'].capabilities);
    assert.equal(new CopilotProvider({ copilotPath: () => undefined, log: silentLogger }).capabilities, PROVIDER_CAPABILITIES.copilot.capabilities);
    assert.equal(AcpProvider.fromConfig({ name: 'x', command: 'x' }, silentLogger).capabilities, PROVIDER_CAPABILITIES.acp.capabilities);
  });
});
