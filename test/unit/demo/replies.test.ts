// The demo model behind `npm start` (test/fixtures/demo): the words README's quick start names pick its behaviour,
// and its replies after a tool read as sentences, not as the tool output Codex hands back.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { DEMO_FILE, chooseDemoScenario, demoFile, demoFileContent, plainReply, toolOutputBody, toolReply } from '../../fixtures/demo/replies';

describe('demo model replies', () => {
  test('the quick start words pick the behaviours', () => {
    assert.equal(chooseDemoScenario('Please approve a command'), 'run-approval');
    assert.equal(chooseDemoScenario('run the tests'), 'run-approval');
    assert.equal(chooseDemoScenario('Edit the readme'), 'file-approval');
    assert.equal(chooseDemoScenario('ask me something'), 'question');
    assert.equal(chooseDemoScenario('a question for me'), 'question');
    assert.equal(chooseDemoScenario('Say hello'), 'plain');
    assert.equal(chooseDemoScenario('approved-looking words like runner or editor'), 'plain');
  });

  test('the plain reply names the words README names', () => {
    const reply = plainReply('Say hello');
    for (const word of ['"approve"', '"edit"', '"ask"', 'planner']) assert.ok(reply.includes(word), word);
  });

  test("Codex's tool-output header is dropped", () => {
    const output = 'Chunk ID: a184a5\nWall time: 0.0000 seconds\nProcess exited with code 0\nOriginal token count: 15\nOutput:\nHello\nMon Dec  7\n';
    assert.equal(toolOutputBody(output), 'Hello\nMon Dec  7');
    assert.equal(toolOutputBody('{"answers":{}}'), '{"answers":{}}');
    assert.equal(toolReply(output, 'run-approval'), "The command ran in this task's worktree and printed:\n\nHello\nMon Dec  7");
  });

  test('a failed or declined command says so', () => {
    assert.match(toolReply('Process exited with code 2\nOutput:\nboom', 'run-approval'), /failed \(exit code 2\):\n\nboom$/);
    assert.match(toolReply('exec command rejected by user', 'run-approval'), /did not run:\n\nexec command rejected by user$/);
  });

  test('an applied file change points at Review Changes and Merge Changes', () => {
    const reply = toolReply('Exit code: 0\nWall time: 0 seconds\nOutput:\nSuccess. Updated the following files:\nA hello.md\n', 'file-approval');
    assert.ok(reply.includes(DEMO_FILE) && reply.includes('Review Changes') && reply.includes('Merge Changes'), reply);
    assert.match(toolReply('patch rejected by user', 'file-approval'), /not written:\n\npatch rejected by user$/);
  });

  test('each proposed file differs, so an edit after a merge still has a change to merge', () => {
    const first = demoFileContent(new Date(2026, 0, 1, 9, 0, 0));
    assert.match(first, /^# Hello from Agent Tasks\n/);
    assert.ok(first.includes('09:00:00'), first);
    assert.notEqual(demoFileContent(new Date(2026, 0, 1, 9, 0, 1)), first);
    assert.equal(demoFile.path, DEMO_FILE);
    assert.match(demoFile.content, /proposed by the demo model at \d\d:\d\d:\d\d/);
  });

  test('answers to a form or a question are said back in words', () => {
    const form = 'Wall time: 13.9 seconds\nOutput:\nelicitation result: {"action":"accept","content":{"color":"green"}}';
    assert.equal(toolReply(form, 'question'), 'Thanks — you picked color: green.');
    assert.match(toolReply('Output:\nelicitation result: {"action":"decline"}', 'question'), /declined/);
    assert.equal(toolReply('{"answers":{"db_choice":{"answers":["SQLite (Recommended)"]}}}', 'question'), 'Thanks — you answered: SQLite (Recommended).');
    assert.equal(toolReply('something else', 'question'), 'Done. Here is what came back:\n\nsomething else');
  });
});
