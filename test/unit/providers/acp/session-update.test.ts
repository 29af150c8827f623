/**
 * session/update validation: one variant per tag gives exactly what the SDK's full schema gives (value and error),
 * and the SDK's second pass for its ActiveSession helpers is gone. The connection validates what it reads: the kinds
 * the transcript skips are checked for their envelope only.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as acp from '@agentclientprotocol/sdk/unstable';
import { ACTIVE_SESSION_ROUTER, withoutActiveSessionRouter } from '../../../../src/providers/acp/connection';
import { parseReadSessionNotification, parseSessionNotification, TAG_ONLY_UPDATE_KINDS } from '../../../../src/providers/acp/session-update';
import { AcpTranscript } from '../../../../src/providers/acp/transcript';
import { StreamingOutput } from '../../../../src/providers/stdio/streaming-output';
import { zSessionNotification } from '../../../../node_modules/@agentclientprotocol/sdk/dist/v1/unstable/schema/zod.gen.js';

const TRANSCRIPTS = path.join(__dirname, '..', '..', '..', 'fixtures', 'transcripts');

/** Every recorded session/update params object. */
function recordedUpdates(): unknown[] {
  const updates: unknown[] = [];
  for (const name of fs.readdirSync(TRANSCRIPTS).filter((file) => file.endsWith('.jsonl'))) {
    for (const line of fs.readFileSync(path.join(TRANSCRIPTS, name), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const frame = JSON.parse(line) as { dir: string; msg?: { method?: string; params?: unknown } };
      if (frame.dir === 'in' && frame.msg?.method === 'session/update') updates.push(frame.msg.params);
    }
  }
  return updates;
}

/** What the SDK's schema makes of `params`: the value, or the error's issues. */
function sdk(params: unknown): unknown {
  const result = zSessionNotification.safeParse(params);
  return result.success ? { value: result.data } : { issues: result.error.issues };
}

function ours(params: unknown): unknown {
  try {
    return { value: parseSessionNotification(params) };
  } catch (error) {
    return { issues: (error as { issues?: unknown }).issues };
  }
}

function readOurs(params: unknown): unknown {
  try {
    return { value: parseReadSessionNotification(params) };
  } catch (error) {
    return { issues: (error as { issues?: unknown }).issues };
  }
}

describe('session/update validation', () => {
  it('gives the SDK schema’s value for every recorded update', () => {
    const updates = recordedUpdates();
    assert.ok(updates.length > 50, 'recorded updates found');
    for (const params of updates) assert.deepEqual(ours(params), sdk(params));
  });

  it('salvages malformed optional fields as the SDK does, and keeps the known variant’s own fields', () => {
    const cases: unknown[] = [
      { sessionId: 's', update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: 'hi' }, _meta: 'not a record' } },
      { sessionId: 's', update: { sessionUpdate: 'tool_call', toolCallId: 't', title: 'Run', kind: 'not a kind', locations: 'nope', extra: 1 } },
      { sessionId: 's', update: { sessionUpdate: 'available_commands_update', availableCommands: [{ name: 'a', description: 'b' }, { name: 3 }] } },
      { sessionId: 's', update: { sessionUpdate: 'usage_update', used: 1, size: 2 }, _meta: { a: 1 } },
    ];
    for (const params of cases) assert.deepEqual(ours(params), sdk(params));
  });

  it('rejects what the SDK rejects, with its issues: a malformed known variant, an unknown tag, no tag, no session', () => {
    const cases: unknown[] = [
      { sessionId: 's', update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text' } } },
      { sessionId: 's', update: { sessionUpdate: 'tool_call_update' } },
      { sessionId: 's', update: { sessionUpdate: 'no_such_update', text: 'x' } },
      { sessionId: 's', update: { sessionUpdate: 7 } },
      { sessionId: 's', update: {} },
      { update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: 'hi' } } },
      null,
      'text',
    ];
    for (const params of cases) {
      const expected = sdk(params) as { issues?: unknown };
      assert.ok(expected.issues, `the SDK rejects ${JSON.stringify(params)}`);
      assert.deepEqual(ours(params), expected);
    }
  });

  it('the connection validates every kind it reads as the SDK does, and only the envelope of a tag-only kind', () => {
    for (const params of recordedUpdates()) {
      const tag = (params as { update: { sessionUpdate: string } }).update.sessionUpdate;
      if (TAG_ONLY_UPDATE_KINDS.has(tag)) assert.equal(parseReadSessionNotification(params), params, tag);
      else assert.deepEqual(parseReadSessionNotification(params), parseSessionNotification(params), tag);
    }
    const malformed: unknown[] = [
      { update: { sessionUpdate: 'usage_update', used: 1, size: 2 } },
      { sessionId: 7, update: { sessionUpdate: 'available_commands_update', availableCommands: [] } },
      { sessionId: 's', update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text' } } },
    ];
    for (const params of malformed) assert.deepEqual(readOurs(params), sdk(params), JSON.stringify(params));
  });

  it('every tag-only kind is one the transcript skips: no entry, no title, not logged as unknown', () => {
    const entries: unknown[] = [];
    const logged: string[] = [];
    const output = new StreamingOutput({ appendOutput: (entry) => void entries.push(entry) }, 0);
    const titles: string[] = [];
    const transcript = new AcpTranscript(output, 'run', '/ws', (title) => titles.push(title), { info: (message: string) => logged.push(message) });
    for (const kind of TAG_ONLY_UPDATE_KINDS) transcript.onUpdate({ sessionUpdate: kind, title: 'x', content: { type: 'text', text: 'x' } } as unknown as acp.SessionUpdate);
    output.dispose();
    assert.ok(TAG_ONLY_UPDATE_KINDS.size > 5);
    assert.deepEqual([entries, titles, logged], [[], [], []]);
  });

  it('the SDK client app has the ActiveSession router we drop (so an SDK that renames it is noticed)', () => {
    const app = acp.client({ name: 'test' });
    const handlers = (app as unknown as { builder: { handlers: { describe?: () => string }[] } }).builder.handlers;
    assert.ok(handlers.some((handler) => handler.describe?.() === ACTIVE_SESSION_ROUTER));
    withoutActiveSessionRouter(app);
    assert.ok(!handlers.some((handler) => handler.describe?.() === ACTIVE_SESSION_ROUTER));
  });
});
