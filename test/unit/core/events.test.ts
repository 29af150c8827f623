/**
 * The Emitter every layer uses: listeners run in subscription order, once each however often they subscribe, a
 * failing one does not stop the others, and a fire sees the listeners of its start (subscribing or disposing during
 * it changes the next fire, not this one).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Emitter } from '../../../src/core/events';

describe('Emitter', () => {
  test('listeners run in subscription order; one subscribed twice runs once and one dispose removes it', () => {
    const emitter = new Emitter<number>();
    const calls: string[] = [];
    const a = (value: number) => calls.push(`a${value}`);
    const first = emitter.event(a);
    emitter.event((value) => calls.push(`b${value}`));
    emitter.event(a);
    emitter.fire(1);
    assert.deepEqual(calls, ['a1', 'b1']);
    first.dispose();
    emitter.fire(2);
    assert.deepEqual(calls, ['a1', 'b1', 'b2']);
  });

  test('a failing listener does not stop the others', (t) => {
    t.mock.method(console, 'error', () => undefined);
    const emitter = new Emitter<string>();
    const seen: string[] = [];
    emitter.event(() => {
      throw new Error('boom');
    });
    emitter.event((value) => seen.push(value));
    emitter.fire('x');
    assert.deepEqual(seen, ['x']);
  });

  test('a fire calls the listeners of its start: one added meanwhile waits for the next, one removed meanwhile still runs', () => {
    const emitter = new Emitter<number>();
    const calls: string[] = [];
    const subscriptions: { later?: { dispose(): void } } = {};
    emitter.event((value) => {
      calls.push(`first${value}`);
      if (value === 1) {
        emitter.event((next) => calls.push(`added${next}`));
        subscriptions.later?.dispose();
      }
    });
    subscriptions.later = emitter.event((value) => calls.push(`removed${value}`));
    emitter.fire(1);
    emitter.fire(2);
    assert.deepEqual(calls, ['first1', 'removed1', 'first2', 'added2']);
  });

  test('dispose drops every listener', () => {
    const emitter = new Emitter<void>();
    emitter.event(() => assert.fail('disposed'));
    assert.equal(emitter.hasListeners, true);
    emitter.dispose();
    assert.equal(emitter.hasListeners, false);
    emitter.fire();
  });
});
