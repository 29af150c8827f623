// Checks tool arguments against their JSON Schemas with @cfworker/json-schema (no code generation, a fraction of Ajv's
// size in dist/mcp-server.js) and says what is wrong in words an agent can act on.
import { Validator, type OutputUnit, type Schema } from '@cfworker/json-schema';
import type { JsonSchemaType, JsonSchemaValidator, jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';

/** The draft MCP takes for a schema without $schema. */
const DRAFT = '2020-12';

/** Keywords whose failure only says that a subschema failed; the subschema's own errors say how. */
const WRAPPERS = new Set(['properties', 'patternProperties', 'items', 'prefixItems', 'additionalItems', 'unevaluatedItems', 'unevaluatedProperties', 'allOf', '$ref']);

/** Implements the SDK's validator interface, so the Server takes it for elicitation results too. */
export class ToolInputValidator implements jsonSchemaValidator {
  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    // The validator annotates the schema objects it is given; tools/list sends ours, so it gets a copy.
    const copy = structuredClone(schema) as Schema;
    const validator = new Validator(copy, DRAFT, false);
    return (input) => {
      const { valid, errors } = validator.validate(input);
      if (valid) return { valid: true, data: input as T, errorMessage: undefined };
      return { valid: false, data: undefined, errorMessage: describeErrors(errors, copy, input) };
    };
  }
}

/** One line, each problem once, e.g. `attempts must have at least 1 item; prompt must not be empty`. */
function describeErrors(errors: readonly OutputUnit[], schema: Schema, input: unknown): string {
  const problems = new Set<string>();
  // A property refused by `additionalProperties: false` fails twice: there, and as its own `false` schema.
  const refusedBy = new Set(errors.filter((error) => error.keyword === 'additionalProperties').map((error) => error.instanceLocation));
  for (const error of errors) {
    if (error.keyword === 'false' && refusedBy.has(parentPointer(error.instanceLocation))) continue;
    const problem = describeError(error, schema, input);
    if (problem) problems.add(problem);
  }
  return [...problems].join('; ') || 'the arguments do not match the input schema';
}

function describeError(error: OutputUnit, schema: Schema, input: unknown): string | undefined {
  const rule = at(schema, error.keywordLocation) as unknown;
  const here = at(schema, parentPointer(error.keywordLocation)) as Schema | undefined;
  const value = at(input, error.instanceLocation);
  const where = placeName(error.instanceLocation);
  const own = WRAPPERS.has(error.keyword) ? undefined : `${where}: ${error.error.replace(/\.$/, '')}`;
  // A keyword this cannot find in the schema (behind a $ref, say) keeps the validator's own text.
  if (rule === undefined && error.keyword !== 'false') return own;
  switch (error.keyword) {
    case 'false':
      return `${where} is not allowed`;
    case 'additionalProperties': {
      if (here?.additionalProperties !== false || !isObject(value)) return undefined; // A schema: its own errors say how.
      const known = Object.keys(here.properties ?? {});
      const patterns = Object.keys(here.patternProperties ?? {}).map((pattern) => new RegExp(pattern, 'u'));
      const extra = Object.keys(value).filter((key) => !known.includes(key) && !patterns.some((pattern) => pattern.test(key)));
      return `${where} must not have additional properties: ${extra.map((key) => `"${key}"`).join(', ')} (${known.length ? `the properties are ${known.join(', ')}` : 'it takes none'})`;
    }
    case 'required': {
      const missing = (here?.required ?? []).filter((key) => !isObject(value) || !(key in value));
      return `${where} must have the ${missing.length === 1 ? 'property' : 'properties'} ${missing.map((key) => `"${key}"`).join(', ')}`;
    }
    case 'type':
      return `${where} must be ${[rule].flat().map(article).join(' or ')} (not ${article(typeOf(value))})`;
    case 'enum':
      return `${where} must be one of ${(rule as unknown[]).map((option) => JSON.stringify(option)).join(', ')}`;
    case 'const':
      return `${where} must be ${JSON.stringify(rule)}`;
    case 'minLength':
      return rule === 1 ? `${where} must not be empty` : `${where} must be at least ${String(rule)} characters long`;
    case 'maxLength':
      return `${where} must be at most ${String(rule)} characters long`;
    case 'minimum':
      return `${where} must be at least ${String(rule)}`;
    case 'maximum':
      return `${where} must be at most ${String(rule)}`;
    case 'exclusiveMinimum':
      return `${where} must be more than ${String(rule)}`;
    case 'exclusiveMaximum':
      return `${where} must be less than ${String(rule)}`;
    case 'minItems':
      return `${where} must have at least ${count(rule, 'item')}`;
    case 'maxItems':
      return `${where} must have at most ${count(rule, 'item')}`;
    default:
      return own;
  }
}

/** `#/attempts/0/provider` → `attempts[0].provider`; `#` → `the arguments`. */
function placeName(pointer: string): string {
  const segments = pointerSegments(pointer);
  if (!segments.length) return 'the arguments';
  return segments.map((segment, i) => (/^\d+$/.test(segment) ? `[${segment}]` : i ? `.${segment}` : segment)).join('');
}

function at(root: unknown, pointer: string): unknown {
  let node = root;
  for (const segment of pointerSegments(pointer)) {
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

function pointerSegments(pointer: string): string[] {
  return pointer
    .replace(/^#\/?/, '')
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => decodeURIComponent(segment).replace(/~1/g, '/').replace(/~0/g, '~'));
}

const parentPointer = (pointer: string): string => pointer.slice(0, Math.max(pointer.lastIndexOf('/'), 1));
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const typeOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value);
const article = (type: unknown): string => (type === 'null' ? 'null' : `${/^[aeiou]/.test(String(type)) ? 'an' : 'a'} ${String(type)}`);
const count = (n: unknown, noun: string): string => `${String(n)} ${noun}${n === 1 ? '' : 's'}`;
