import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Drafts, draftsIn, type StateApi } from '../../../../webview/drafts';

/** The webview state API as VS Code gives it: what was set is what is got, across loads of the webview. */
function fakeState(initial?: unknown): StateApi & { state: unknown } {
  const api = {
    state: initial,
    getState: () => api.state,
    setState: (next: unknown) => {
      api.state = JSON.parse(JSON.stringify(next)) as unknown;
    },
  };
  return api;
}

describe('L2 drafts of typed answers in the webview state', () => {
  test('a draft survives a new load of the webview, for the same question only', () => {
    const api = fakeState();
    new Drafts(api).set('req-1', { payloadHash: 'h1', values: ['--shout', true], focus: 0 });
    const reloaded = new Drafts(api);
    assert.deepEqual(reloaded.get('req-1', 'h1'), { payloadHash: 'h1', values: ['--shout', true], focus: 0 });
    assert.equal(reloaded.get('req-1', 'other'), undefined, 'a question that shows something else under the same id starts empty');
    assert.equal(reloaded.get('req-2', 'h1'), undefined);
  });

  test('drafts of questions no longer pending are dropped from the state', () => {
    const api = fakeState();
    const drafts = new Drafts(api);
    drafts.set('req-1', { payloadHash: 'h1', values: ['a'] });
    drafts.set('req-2', { payloadHash: 'h2', values: ['b'] });
    drafts.keepOnly(['req-2']);
    assert.deepEqual(drafts.requestIds(), ['req-2']);
    assert.deepEqual(Object.keys(draftsIn(api.state)), ['req-2'], 'the saved state forgets the answered question too');
    drafts.keepOnly([]);
    assert.deepEqual(draftsIn(api.state), {});
  });

  test('other keys of the state are kept; a malformed state yields no drafts', () => {
    const api = fakeState({ other: 1 });
    new Drafts(api).set('req-1', { payloadHash: 'h1', values: [] });
    assert.equal((api.state as { other: number }).other, 1);
    for (const bad of [undefined, null, 'x', [], { drafts: [] }, { drafts: { r: { payloadHash: 1, values: [] } } }, { drafts: { r: { payloadHash: 'h', values: [{}] } } }]) {
      assert.deepEqual(draftsIn(bad), {}, JSON.stringify(bad));
    }
    assert.deepEqual(draftsIn({ drafts: { r: { payloadHash: 'h', values: ['a'], focus: 1.5 } } }), { r: { payloadHash: 'h', values: ['a'], focus: undefined } });
  });
});
