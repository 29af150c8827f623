import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CLI_VERSION_FLOORS, checkVersionFloor, compareVersions, isMethodNotFound, parseVersion, tooOldMessage } from '../../../src/providers/cli-versions';

describe('agent CLI version floors', () => {
  test('versions are read from each CLI’s --version line and user agent', () => {
    assert.equal(parseVersion('codex-cli 0.171.0'), '0.171.0');
    assert.equal(parseVersion('2.1.332 (Claude Code)'), '2.1.332');
    assert.equal(parseVersion('GitHub Copilot CLI 1.0.102.\nRun `copilot update`'), '1.0.102');
    assert.equal(parseVersion('agent_task_worker/0.171.0 (Debian 12.0.0; x86_64) xterm'), '0.171.0');
    assert.equal(parseVersion('dev build'), undefined);
  });

  test('numeric comparison, not string comparison', () => {
    assert.ok(compareVersions('0.99.0', '0.169.0') < 0);
    assert.ok(compareVersions('2.1.332', '2.1.197') > 0);
    assert.equal(compareVersions('1.0.102', '1.0.102'), 0);
    assert.ok(compareVersions('1.0', '1.0.1') < 0);
  });

  test('below the floor → the message; at or above, or unknown → nothing', () => {
    assert.equal(checkVersionFloor('codex', 'codex-cli 0.168.9')?.message, tooOldMessage('codex', '0.168.9'));
    assert.match(tooOldMessage('codex', '0.168.9'), /^Codex 0\.169\.0 or newer is needed \(found 0\.168\.9\); update it .* or set agentTasks\.codex\.path/);
    assert.equal(checkVersionFloor('codex', `codex-cli ${CLI_VERSION_FLOORS.codex.minimum}`), undefined);
    assert.equal(checkVersionFloor('claude-cli', undefined), undefined);
    assert.equal(checkVersionFloor('copilot', 'GitHub Copilot CLI 0.0.1')?.action.setting, 'agentTasks.copilot.path');
  });

  test('"method not found" in the shapes servers use', () => {
    assert.ok(isMethodNotFound(-32601, 'whatever'));
    assert.ok(isMethodNotFound(-32600, 'Invalid request: unknown variant `thread/goal/set`'));
    assert.ok(!isMethodNotFound(-32603, 'internal error'));
  });
});
