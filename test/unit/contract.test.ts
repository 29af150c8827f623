import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { CommandId, ConfigKey, ConfigSection, ContextKey, EXTENSION_ID, ItemToken, ViewContainerId, ViewId } from '../../src/constants';

interface ContributedCommand {
  command: string;
  title: string;
  category?: string;
  icon?: string;
}
interface MenuItem {
  command: string;
  when?: string;
  group?: string;
}
interface PackageJson {
  name: string;
  publisher: string;
  displayName: string;
  main: string;
  engines: Record<string, string>;
  capabilities: { untrustedWorkspaces: { supported: string | boolean } };
  activationEvents?: string[];
  contributes: {
    commands: ContributedCommand[];
    menus: Record<string, MenuItem[]>;
    viewsContainers: { activitybar: { id: string; title: string; icon: string }[] };
    views: Record<string, { id: string; name: string }[]>;
    viewsWelcome: { view: string; contents: string }[];
    configuration: {
      title: string;
      properties: Record<string, { description?: string; markdownDescription?: string; default?: unknown; enum?: unknown[]; scope?: string }>;
    };
  };
  devDependencies: Record<string, string>;
}

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as PackageJson;
const { contributes } = pkg;
const commandIds = Object.values(CommandId) as string[];
const configKeys = Object.values(ConfigKey) as string[];
const contextKeys = Object.values(ContextKey) as string[];
const itemTokens = Object.values(ItemToken) as string[];

describe('identity (DESIGN §1)', () => {
  test('the extension id is publisher.name', () => {
    assert.equal(`${pkg.publisher}.${pkg.name}`, EXTENSION_ID);
    assert.equal(EXTENSION_ID, 'agenttasks.agent-task-worker');
    assert.equal(pkg.displayName, 'Agent Task Worker');
  });

  test('VS Code ^1.100.0 with @types/vscode pinned to 1.100.0', () => {
    assert.equal(pkg.engines.vscode, '^1.100.0');
    assert.equal(pkg.devDependencies['@types/vscode'], '1.100.0');
  });

  test('untrusted workspaces are supported only in a limited way', () => {
    assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
  });

  test('the bundle is the main entry point', () => assert.equal(pkg.main, './dist/extension.js'));
});

describe('commands: src/constants.ts and package.json agree both ways', () => {
  for (const id of commandIds) {
    test(`${id} is contributed with category "Agent Tasks" and a title`, () => {
      const contributed = contributes.commands.filter((command) => command.command === id);
      assert.equal(contributed.length, 1, `${id} contributed once`);
      assert.equal(contributed[0].category, 'Agent Tasks');
      assert.ok(contributed[0].title.trim().length > 0);
      assert.ok(!contributed[0].title.startsWith('Agent Tasks'), 'the category supplies the prefix');
    });
  }

  test('every contributed command is a CommandId', () => {
    for (const command of contributes.commands) assert.ok(commandIds.includes(command.command), `${command.command} is not in CommandId`);
  });

  test('the titles are the ones DESIGN §1 names', () => {
    const titles = Object.fromEntries(contributes.commands.map((command) => [command.command, command.title]));
    assert.deepEqual(titles, {
      'agentTasks.newTask': 'New Task',
      'agentTasks.openTask': 'Open Task',
      'agentTasks.answer': 'Answer…',
      'agentTasks.approve': 'Approve',
      'agentTasks.deny': 'Deny',
      'agentTasks.cancelTask': 'Cancel Task',
      'agentTasks.retryTask': 'Retry Task',
      'agentTasks.sendMessage': 'Send Follow-up…',
      'agentTasks.clearFinished': 'Clear Finished Tasks',
      'agentTasks.showLog': 'Show Full Log',
      'agentTasks.copyMcpConfig': 'Copy MCP Server Config',
      'agentTasks.rotateMcpToken': 'Rotate MCP Token',
      'agentTasks.showAccounts': 'Show Accounts',
      // DESIGN §8
      'agentTasks.reviewChanges': 'Review Changes',
      'agentTasks.mergeChanges': 'Merge Changes',
      'agentTasks.applyChanges': 'Apply as Uncommitted Changes',
      'agentTasks.discardChanges': 'Discard Changes',
      'agentTasks.openWorktree': 'Open Worktree in New Window',
      'agentTasks.resolveWithAgent': 'Resolve with Agent',
      // DESIGN §9
      'agentTasks.runCheck': 'Run Check',
      'agentTasks.reviewWithAgent': 'Review with Another Agent…',
      'agentTasks.sendFindings': 'Send Findings to Task',
      'agentTasks.newAttempts': 'New Task with Several Agents…',
      'agentTasks.compareAttempts': 'Compare Attempts',
      'agentTasks.pickAttempt': 'Merge This Attempt',
    });
  });
});

describe('settings: ConfigKey and package.json agree both ways', () => {
  const properties = contributes.configuration.properties;
  for (const key of configKeys) {
    test(`${ConfigSection}.${key} is contributed with a description`, () => {
      const property = properties[`${ConfigSection}.${key}`];
      assert.ok(property, `agentTasks.${key} missing from contributes.configuration`);
      assert.ok((property.description ?? property.markdownDescription ?? '').trim().length > 0, 'has a description');
    });
  }

  test('every contributed setting is a ConfigKey', () => {
    for (const name of Object.keys(properties)) {
      assert.ok(name.startsWith(`${ConfigSection}.`), `${name} is outside the agentTasks section`);
      assert.ok(configKeys.includes(name.slice(ConfigSection.length + 1)), `${name} is not in ConfigKey`);
    }
  });

  test('defaults are the ones DESIGN §1 names', () => {
    const defaults = Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, property.default]));
    assert.equal(defaults['agentTasks.defaultProvider'], 'codex');
    assert.deepEqual(properties['agentTasks.defaultProvider'].enum, ['codex', 'claude-cli', 'copilot']);
    assert.equal(defaults['agentTasks.maxConcurrentTasks'], 3);
    assert.equal(defaults['agentTasks.defaultTimeoutMinutes'], 30);
    assert.equal(defaults['agentTasks.questionTimeoutMinutes'], 0);
    assert.equal(defaults['agentTasks.notifications'], 'needsYou');
    assert.deepEqual(properties['agentTasks.notifications'].enum, ['all', 'needsYou', 'off']);
    assert.equal(defaults['agentTasks.mcp.allowAgentApprovals'], false);
    assert.equal(defaults['agentTasks.keepRunningMinutes'], 30);
    assert.deepEqual(defaults['agentTasks.profiles'], []);
    assert.deepEqual(defaults['agentTasks.acpAgents'], []);
  });

  test('every setting applies from User settings in a remote window (code-server, Remote-SSH): none is machine-scoped', () => {
    // The extension host runs where the workspace is, which in a code-server window is a remote one: VS Code drops
    // `machine` and `machine-overridable` values from the User settings there (1.139 reliably; 1.100 let them through),
    // so a CLI path set in settings.json was ignored and every task failed with "Codex was not found on PATH".
    const machineScoped = Object.entries(properties).filter(([, property]) => /^machine/.test(property.scope ?? '')).map(([name]) => name);
    assert.deepEqual(machineScoped, []);
  });

  test('the question timeout setting says expiry declines, never approves', () => {
    assert.match(properties['agentTasks.questionTimeoutMinutes'].description!, /declined, never approved/);
  });
});

describe('views', () => {
  test('the activity bar container', () => {
    assert.deepEqual(contributes.viewsContainers.activitybar, [{ id: ViewContainerId, title: 'Agent Tasks', icon: 'media/agent-tasks.svg' }]);
    assert.ok(fs.existsSync(path.join(__dirname, '..', '..', 'media', 'agent-tasks.svg')), 'the icon file exists');
  });

  test('the tree view lives in the container', () => {
    assert.deepEqual(Object.keys(contributes.views), [ViewContainerId]);
    assert.deepEqual(contributes.views[ViewContainerId].map((view) => [view.id, view.name]), [[ViewId.tasks, 'Tasks']]);
  });

  test('the welcome view offers New Task', () => {
    const welcome = contributes.viewsWelcome.find((entry) => entry.view === ViewId.tasks);
    assert.ok(welcome);
    assert.ok(welcome.contents.includes(`(command:${CommandId.newTask})`));
  });
});

describe('menus', () => {
  const items = Object.entries(contributes.menus).flatMap(([menu, entries]) => entries.map((entry) => ({ menu, ...entry })));

  test('menus only name contributed commands', () => {
    for (const item of items) assert.ok(commandIds.includes(item.command), `${item.menu}: ${item.command}`);
  });

  test('`when` clauses only use ItemToken tokens that exist', () => {
    let checked = 0;
    for (const item of items) {
      for (const match of (item.when ?? '').matchAll(/viewItem\s*=~\s*\/(.*?)\/[a-z]*/g)) {
        const tokens = [...match[1].matchAll(/\\b(\w+)\\b/g)].map((token) => token[1]);
        assert.ok(tokens.length > 0, `${item.menu} ${item.command}: ${match[0]} should match whole tokens (\\b…\\b)`);
        for (const token of tokens) assert.ok(itemTokens.includes(token), `${item.menu} ${item.command}: unknown token "${token}"`);
        checked++;
      }
      for (const match of (item.when ?? '').matchAll(/viewItem\s*==\s*(\w+)/g)) {
        assert.ok(itemTokens.includes(match[1]), `${item.menu} ${item.command}: unknown token "${match[1]}"`);
        checked++;
      }
    }
    assert.ok(checked > 0, 'some item menus exist');
  });

  test('`when` clauses only use our context keys and our view', () => {
    for (const item of items) {
      const when = item.when ?? '';
      for (const match of when.matchAll(/\bagentTasks\.[\w.]+/g)) {
        const name = match[0];
        assert.ok(contextKeys.includes(name) || name === ViewId.tasks, `${item.menu} ${item.command}: unknown key ${name}`);
      }
      for (const match of when.matchAll(/\bview\s*==\s*([\w.]+)/g)) assert.equal(match[1], ViewId.tasks);
    }
  });

  test('item menus are scoped to our view', () => {
    for (const item of contributes.menus['view/item/context'] ?? []) assert.match(item.when ?? '', new RegExp(`view == ${ViewId.tasks.replace('.', '\\.')}`));
  });
});
