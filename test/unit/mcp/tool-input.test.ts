import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JsonSchemaType } from '@modelcontextprotocol/sdk/validation/types.js';
import { ToolInputValidator } from '../../../src/mcp/tool-input';
import { TOOLS } from '../../../src/mcp/tools';

const validator = new ToolInputValidator();
const check = (tool: string, input: unknown) => {
  const definition = TOOLS.find((candidate) => candidate.name === tool);
  assert.ok(definition, tool);
  return validator.getValidator<Record<string, unknown>>(definition.inputSchema as JsonSchemaType)(input);
};

describe('tool arguments are checked against their input schemas', () => {
  test('valid arguments pass unchanged', () => {
    const args = { prompt: 'say: hi', provider: 'codex', labels: ['a'], timeoutMinutes: 0, isolation: 'none', attempts: [{ provider: 'codex', model: 'm' }] };
    assert.deepEqual(check('spawn_task', args), { valid: true, data: args, errorMessage: undefined });
    assert.equal(check('get_task_changes', { taskId: 'brave-otter-1', offset: 0, limit: 1 }).valid, true);
  });

  const invalid: [string, string, unknown, string][] = [
    ['a missing property', 'spawn_task', {}, 'the arguments must have the property "prompt"'],
    ['an empty string', 'review_task', { taskId: 'x', provider: '' }, 'provider must not be empty'],
    ['a wrong type', 'get_task', { taskId: 5 }, 'taskId must be a string (not an integer)'],
    ['a fraction for an integer', 'get_task_changes', { taskId: 'x', offset: 1.5 }, 'offset must be an integer (not a number)'],
    ['a number under the minimum', 'get_task_changes', { taskId: 'x', limit: 0 }, 'limit must be at least 1'],
    ['a value not in the enum', 'spawn_task', { prompt: 'p', isolation: 'container' }, 'isolation must be one of "worktree", "none"'],
    ['too few items', 'spawn_task', { prompt: 'p', attempts: [] }, 'attempts must have at least 1 item'],
    ['too many items', 'spawn_task', { prompt: 'p', attempts: Array.from({ length: 9 }, () => ({ provider: 'codex' })) }, 'attempts must have at most 8 items'],
    ['a missing property in an item', 'spawn_task', { prompt: 'p', attempts: [{ model: 'm' }] }, 'attempts[0] must have the property "provider"'],
    [
      'an unknown property in an item',
      'spawn_task',
      { prompt: 'p', attempts: [{ provider: 'codex', cwd: 'elsewhere' }] },
      'attempts[0] must not have additional properties: "cwd" (the properties are provider, profile, model)',
    ],
  ];
  for (const [name, tool, input, message] of invalid) {
    test(`${name} is refused, saying where and what`, () => {
      assert.deepEqual(check(tool, input), { valid: false, data: undefined, errorMessage: message });
    });
  }

  test('every problem is reported, each once', () => {
    const result = check('spawn_task', { prompt: '', timeoutMinutes: -1, extra: 1, other: 2 });
    assert.equal(result.valid, false);
    assert.deepEqual(result.errorMessage?.split('; '), [
      'prompt must not be empty',
      'timeoutMinutes must be at least 0',
      'the arguments must not have additional properties: "extra", "other" (the properties are prompt, provider, taskType, model, dependsOn, labels, timeoutMinutes, isolation, attempts)',
    ]);
  });

  test('keywords without words of their own keep the validator’s text', () => {
    const schema = { type: 'object', properties: { id: { type: 'string', pattern: '^[a-z]+$' }, n: { type: 'number', exclusiveMinimum: 0 } } } as JsonSchemaType;
    assert.equal(validator.getValidator(schema)({ id: 'A1', n: 0 }).errorMessage, 'id: String does not match pattern; n must be more than 0');
  });

  test('a rule behind a $ref is reported in the validator’s words', () => {
    const schema = { type: 'object', $defs: { id: { type: 'string', minLength: 3 } }, properties: { id: { $ref: '#/$defs/id' } } } as JsonSchemaType;
    assert.equal(validator.getValidator(schema)({ id: 'ab' }).errorMessage, 'id: String is too short (2 < 3)');
  });

  test('the schemas tools/list sends are left as they were', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
    const before = structuredClone(schema);
    validator.getValidator(schema as JsonSchemaType)({});
    assert.deepEqual(schema, before);
    assert.deepEqual(Object.getOwnPropertyNames(schema.properties.a), ['type'], 'no annotations, enumerable or not');
  });
});
