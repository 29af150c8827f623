// The title rules (issue #11 item 1): what a task is called in the tree, the panel, quick picks and notifications.
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cleanAgentTitle, MAX_AGENT_TITLE, ROW_TITLE_LENGTH, shorten, TAB_TITLE_LENGTH, taskTitle } from '../../../src/core/task-title';
import { commitMessage } from '../../../src/core/task-isolation';

const titleOf = (prompt: string, title?: unknown, max?: number): string => taskTitle({ prompt, title: title as string | undefined }, max);

describe('taskTitle: without an agent title, the prompt\'s first line', () => {
  test('a short one-line prompt is the title as written', () => {
    assert.equal(titleOf('Add a --verbose flag'), 'Add a --verbose flag');
  });

  test('only the first line of a multi-line prompt', () => {
    assert.equal(titleOf('Add a --verbose flag\nIt should print every request.\nAnd tests.'), 'Add a --verbose flag');
    assert.equal(titleOf('Fix the parser\r\nwith CRLF'), 'Fix the parser');
  });

  test('leading blank lines are skipped; whitespace inside the line collapses', () => {
    assert.equal(titleOf('\n   \n\t  Rename   the\tmodule  \nmore'), 'Rename the module');
  });

  test('a long line is shortened at a word boundary, with an ellipsis, within the limit', () => {
    const prompt = 'Refactor the configuration loader so that it reads every profile lazily and caches the parsed result';
    const title = titleOf(prompt);
    assert.ok([...title].length <= ROW_TITLE_LENGTH, `${title.length} chars`);
    assert.ok(title.endsWith('…'));
    assert.ok(prompt.startsWith(title.slice(0, -1)), 'the prompt\'s start stays visible');
    assert.equal(title, 'Refactor the configuration loader so…');
  });

  test('a long word with no space near the limit is cut inside the word', () => {
    const title = titleOf('x'.repeat(200));
    assert.equal(title, `${'x'.repeat(ROW_TITLE_LENGTH - 1)}…`);
  });

  test('the limit is the caller\'s: the tab title is shorter', () => {
    const title = titleOf('Add retry with exponential backoff to every HTTP client call', undefined, TAB_TITLE_LENGTH);
    assert.ok([...title].length <= TAB_TITLE_LENGTH);
    assert.equal(title, 'Add retry with exponential…');
  });

  test('an empty or blank prompt still gives a title', () => {
    assert.equal(titleOf(''), '(empty prompt)');
    assert.equal(titleOf(' \n\t\n '), '(empty prompt)');
  });

  test('no trailing punctuation before the ellipsis', () => {
    assert.equal(shorten('alpha beta, gamma delta', 12), 'alpha beta…');
  });

  test('characters outside the BMP are never split', () => {
    const title = titleOf(`${'🙂'.repeat(60)}`);
    assert.equal([...title].length, ROW_TITLE_LENGTH);
    assert.ok(!title.includes('\ufffd'));
    assert.ok(title.endsWith('…'));
  });
});

describe('taskTitle: the agent\'s own title wins', () => {
  test('an agent title replaces the prompt line', () => {
    assert.equal(titleOf('please do the thing we talked about', 'Add a --verbose flag'), 'Add a --verbose flag');
  });

  test('a blank or non-string agent title falls back to the prompt', () => {
    assert.equal(titleOf('Add a --verbose flag', '   '), 'Add a --verbose flag');
    assert.equal(titleOf('Add a --verbose flag', 42), 'Add a --verbose flag');
    assert.equal(titleOf('Add a --verbose flag', null), 'Add a --verbose flag');
  });

  test('a long agent title is shortened like a prompt', () => {
    const title = titleOf('x', 'Investigate why the nightly build fails on the ARM runners and fix the flaky cache step');
    assert.ok([...title].length <= ROW_TITLE_LENGTH);
    assert.ok(title.startsWith('Investigate why the nightly build'));
  });
});

describe('cleanAgentTitle: untrusted text from the agent', () => {
  test('one line, whitespace collapsed', () => {
    assert.equal(cleanAgentTitle('  Fix\n the\r\n\tbuild  '), 'Fix the build');
  });

  test('control, zero-width and bidi-override characters are removed', () => {
    assert.equal(cleanAgentTitle('Fix\u0000 the\u001b[31m build\u200b\u202e\u2066'), 'Fix the[31m build');
    assert.equal(cleanAgentTitle('\u202eevil\u202c'), 'evil');
  });

  test('capped at MAX_AGENT_TITLE characters', () => {
    const title = cleanAgentTitle(`${'word '.repeat(500)}end`)!;
    assert.ok([...title].length <= MAX_AGENT_TITLE, `${title.length}`);
    assert.ok(title.endsWith('…'));
  });

  test('markup stays text: nothing is interpreted or stripped', () => {
    assert.equal(cleanAgentTitle('<img src=x onerror=alert(1)> **bold** [x](command:foo)'), '<img src=x onerror=alert(1)> **bold** [x](command:foo)');
  });

  test('nothing readable → undefined', () => {
    assert.equal(cleanAgentTitle(''), undefined);
    assert.equal(cleanAgentTitle('\u200b\u0007 \n'), undefined);
    assert.equal(cleanAgentTitle(undefined), undefined);
    assert.equal(cleanAgentTitle({ title: 'x' }), undefined);
  });
});

describe('the commit message of a task\'s work (DESIGN §8 merge)', () => {
  const task = (prompt: string) => ({ id: 'brave-otter-123', provider: 'codex', prompt, title: undefined }) as unknown as Parameters<typeof commitMessage>[0];

  test('its subject is the whole first line when it fits git\'s 72 characters, not the row\'s shorter title', () => {
    const first = 'Add a --shout flag to hello.js that prints the greeting loud';
    assert.ok(first.length > ROW_TITLE_LENGTH && first.length <= 72);
    const message = commitMessage(task(`${first}\nand keep the default quiet`));
    assert.equal(message.split('\n')[0], first);
    assert.match(message, /Agent task brave-otter-123 \(codex\)\./);
    assert.ok(message.endsWith('and keep the default quiet'));
  });

  test('a longer first line is shortened to 72 characters with an ellipsis', () => {
    const subject = commitMessage(task('x'.repeat(100))).split('\n')[0];
    assert.ok([...subject].length <= 72, `${subject.length}`);
    assert.ok(subject.endsWith('…'));
  });
});
