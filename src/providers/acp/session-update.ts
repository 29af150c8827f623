import type * as acp from '@agentclientprotocol/sdk/unstable';
// The SDK's own generated schemas: the package does not export them, and validating with anything else would be a
// second, drifting copy of the protocol.
import { zSessionNotification, zSessionUpdate } from '../../../node_modules/@agentclientprotocol/sdk/dist/v1/unstable/schema/zod.gen.js';

type Schema = typeof zSessionNotification;

/**
 * `zSessionNotification` narrowed to one variant per `sessionUpdate` tag. The generated `update` is a plain union of
 * intersections, so zod tries every variant in order and builds the issues of each one that fails before it finds
 * the match (a `usage_update` costs 12 failed variants, ~10× the parse of its own); the tag picks the only variant
 * that can match. A variant `object & { sessionUpdate }` is checked as the one object it describes: the same keys
 * and checks in one pass, where the intersection parses twice and merges the results. Only a success is taken from
 * these (a failure goes to the full schema), so the SDK's issues stay the SDK's.
 */
const notificationByTag = new Map<string, Schema>();
for (const variant of zSessionUpdate.options) {
  const { left, right } = variant.def as unknown as { left: ObjectSchema; right: ObjectSchema };
  const tag = (right.shape as { sessionUpdate?: { value?: unknown } } | undefined)?.sessionUpdate?.value;
  // A variant of another shape (none today) is simply left to the full schema.
  if (typeof tag !== 'string') continue;
  const update = isObjectSchema(left) && isObjectSchema(right) ? left.extend(right.shape) : variant;
  notificationByTag.set(tag, zSessionNotification.extend({ update }) as unknown as Schema);
}

interface ObjectSchema {
  def: { type?: string };
  shape?: Record<string, unknown>;
  extend(shape: unknown): unknown;
}

function isObjectSchema(schema: ObjectSchema | undefined): schema is ObjectSchema & { shape: Record<string, unknown> } {
  return schema?.def.type === 'object' && typeof schema.extend === 'function' && typeof schema.shape === 'object';
}

/**
 * Validates `session/update` params exactly as the SDK's schema does, in the time of one variant: a known tag is
 * checked against its own variant; an unknown tag, or a variant that fails, goes through the full schema, so the
 * result and the error are the SDK's (no other variant can accept a value whose tag is not its own).
 */
export function parseSessionNotification(params: unknown): acp.SessionNotification {
  const tag = (params as { update?: { sessionUpdate?: unknown } } | null)?.update?.sessionUpdate;
  const schema = typeof tag === 'string' ? notificationByTag.get(tag) : undefined;
  if (schema) {
    const result = schema.safeParse(params);
    if (result.success) return result.data as acp.SessionNotification;
  }
  return zSessionNotification.parse(params) as acp.SessionNotification;
}

/**
 * Update kinds this client reads nothing of but the tag: AcpTranscript skips them, and nothing else looks at them. A
 * kind leaves this set when code starts to read its payload (a unit test holds the two together).
 */
export const TAG_ONLY_UPDATE_KINDS: ReadonlySet<string> = new Set([
  'user_message_chunk',
  'available_commands_update',
  'current_mode_update',
  'config_option_update',
  'usage_update',
  'plan_update',
  'plan_removed',
  'compaction_summary_chunk',
  'subagent_update',
  'session_message',
  'session_message_chunk',
]);

/**
 * The connection's session/update parser: the SDK's validation (parseSessionNotification) of every update this client
 * reads; of a tag-only kind, just the envelope the routing reads (a string sessionId, the update's tag). Validating
 * what is dropped unread cost more than everything else of an agent's output together (Copilot repeats kilobytes of
 * command and config descriptions per session).
 */
export function parseReadSessionNotification(params: unknown): acp.SessionNotification {
  const envelope = params as { sessionId?: unknown; update?: { sessionUpdate?: unknown } } | null;
  const tag = envelope?.update?.sessionUpdate;
  if (typeof tag === 'string' && TAG_ONLY_UPDATE_KINDS.has(tag) && typeof envelope?.sessionId === 'string') {
    return params as acp.SessionNotification;
  }
  return parseSessionNotification(params);
}
