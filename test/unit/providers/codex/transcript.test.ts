/**
 * The Codex transcript's streaming: deltas are emitted at most every flushIntervalMs, an explicit flush (turn end,
 * a question) emits at once, and dispose leaves nothing behind.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { OutputEntry } from '../../../../src/core/task-state';
import { CodexTranscript, type TranscriptSink } from '../../../../src/providers/codex/transcript';

const base = { threadId: 'thread-1', turnId: 'turn-1' };

function sink(entries: Omit<OutputEntry, 'at'>[]): TranscriptSink {
  return { appendOutput: (entry) => void entries.push(entry), reportUsage: () => undefined, reportRateLimitInfo: () => undefined };
}

describe('Codex transcript streaming', () => {
  test('deltas after an explicit flush still reach the transcript on the timer; dispose flushes and stops it', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const entries: Omit<OutputEntry, 'at'>[] = [];
    const transcript = new CodexTranscript(sink(entries), { flushIntervalMs: 100 });
    const delta = (text: string) => transcript.handle({ method: 'item/agentMessage/delta', params: { ...base, itemId: 'm1', delta: text } });
    delta('Hel');
    transcript.flush(); // as at turn/completed
    assert.deepEqual(entries.at(-1), { kind: 'agent', id: 'm1', text: 'Hel' });
    delta('lo');
    t.mock.timers.tick(100);
    assert.deepEqual(entries.at(-1), { kind: 'agent', id: 'm1', text: 'Hello' });
    const emitted = entries.length;
    t.mock.timers.tick(1000);
    assert.equal(entries.length, emitted, 'nothing new, nothing emitted');
    delta('!');
    transcript.dispose();
    assert.deepEqual(entries.at(-1), { kind: 'agent', id: 'm1', text: 'Hello!' });
    t.mock.timers.tick(1000);
    assert.equal(entries.length, emitted + 1);
  });
});
