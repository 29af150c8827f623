import type * as acp from '@agentclientprotocol/sdk/unstable';
// The SDK's own generated schemas: the package does not export them, and validating with anything else would be a
// second, drifting copy of the protocol.
import { zSessionNotification, zSessionUpdate } from '../../../node_modules/@agentclientprotocol/sdk/dist/v1/unstable/schema/zod.gen.js';

type Schema = typeof zSessionNotification;

/**
 * `zSessionNotification` narrowed to one variant per `sessionUpdate` tag. The generated `update` is a plain union of
 * intersections, so zod tries every variant in order and builds the issues of each one that fails before it finds
 * the match (a `usage_update` costs 12 failed variants, ~10× the parse of its own); the tag picks the only variant
 * that can match.
 */
const notificationByTag = new Map<string, Schema>();
for (const variant of zSessionUpdate.options) {
  const tag = (variant.def.right as { shape?: { sessionUpdate?: { value?: unknown } } }).shape?.sessionUpdate?.value;
  // A variant of another shape (none today) is simply left to the full schema.
  if (typeof tag === 'string') notificationByTag.set(tag, zSessionNotification.extend({ update: variant }) as unknown as Schema);
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
