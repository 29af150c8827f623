// M5: the settings that decide what runs, with which credentials, or who may approve come from the user's settings
// only; a workspace's defaultProvider is validated. (The real extension host checks the same with a workspace
// .vscode/settings.json: test/integration/settings.test.ts.)
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { BUILTIN_PROVIDERS, chooseDefaultProvider, USER_ONLY_KEYS, userValue, workspaceOverrides } from '../../../src/host/settings-policy';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as {
  capabilities: { untrustedWorkspaces: { restrictedConfigurations?: string[] } };
  contributes: { configuration: { properties: Record<string, { scope?: string; enum?: string[] }> } };
};

describe('M5 a repository cannot rewrite safety settings', () => {
  test('M5 user-only settings ignore workspace and folder values', () => {
    assert.equal(userValue({ defaultValue: false, workspaceValue: true }, false), false);
    assert.equal(userValue({ defaultValue: false, workspaceFolderValue: true }, false), false);
    assert.equal(userValue({ defaultValue: false, globalValue: true, workspaceValue: false }, false), true);
    assert.deepEqual(userValue<unknown[]>({ defaultValue: [], workspaceValue: [{ name: 'evil', command: 'sh' }] }, []), []);
    assert.equal(userValue(undefined, 'fallback'), 'fallback');
    assert.equal(workspaceOverrides({ workspaceValue: true }), true);
    assert.equal(workspaceOverrides({ globalValue: true }), false);
  });

  // Not `machine`/`machine-overridable`: a remote window (code-server 1.139) drops those from the User settings, so the
  // user could not set them at all; being read from the user's value only (userValue above) is what keeps a workspace out.
  test('M5 package.json keeps them settable by the user in a remote window and restricts them (and defaultProvider) in untrusted workspaces', () => {
    const properties = pkg.contributes.configuration.properties;
    const restricted = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations ?? [];
    for (const key of USER_ONLY_KEYS) {
      assert.equal(properties[`agentTasks.${key}`]?.scope, 'window', `agentTasks.${key} is window scoped`);
      assert.ok(restricted.includes(`agentTasks.${key}`), `agentTasks.${key} is a restricted configuration`);
    }
    assert.ok(restricted.includes('agentTasks.defaultProvider'));
    assert.deepEqual(properties['agentTasks.defaultProvider'].enum, [...BUILTIN_PROVIDERS]);
  });

  test('M5 defaultProvider: a workspace may pick a built-in provider, never an acp: command', () => {
    assert.deepEqual(chooseDefaultProvider({ defaultValue: 'codex', workspaceValue: 'claude-cli' }, []), { provider: 'claude-cli' });
    const evil = chooseDefaultProvider({ defaultValue: 'codex', workspaceValue: 'acp:evil' }, ['acp:evil']);
    assert.equal(evil.provider, 'codex');
    assert.match(evil.warning ?? '', /workspace setting agentTasks\.defaultProvider = "acp:evil" is ignored/);
    // The user's own choice stands when the workspace's is refused.
    assert.equal(chooseDefaultProvider({ globalValue: 'copilot', workspaceFolderValue: 'acp:evil' }, []).provider, 'copilot');
  });

  test('M5 defaultProvider: the user may name one of their ACP agents; an unknown value falls back with a warning', () => {
    assert.deepEqual(chooseDefaultProvider({ globalValue: 'acp:mine' }, ['acp:mine']), { provider: 'acp:mine', warning: undefined });
    const unknown = chooseDefaultProvider({ globalValue: 'acp:gone' }, ['acp:mine']);
    assert.equal(unknown.provider, 'codex');
    assert.match(unknown.warning ?? '', /not a known provider/);
    assert.equal(chooseDefaultProvider({ globalValue: 42 }, []).provider, 'codex');
    assert.deepEqual(chooseDefaultProvider({ defaultValue: 'codex' }, []), { provider: 'codex', warning: undefined });
  });
});
