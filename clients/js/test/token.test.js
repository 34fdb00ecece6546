// The token travels in one POST's Authorization header and nowhere else: no storage, no cookie
// written by script, nothing in the states, nothing on the client object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOW_S, issued, setup, settle } from '../test-support/fakes.js';

const SECRET = 'eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl';

test('the token is never written anywhere but the POST that carries it', async () => {
  const globalWrites = [];
  const record = (name) => ({
    setItem: (k, v) => globalWrites.push(`${name}.setItem(${k}, ${v})`),
    getItem: () => null,
    removeItem: () => {},
    clear: () => {},
  });
  globalThis.localStorage = record('localStorage');
  globalThis.sessionStorage = record('sessionStorage');
  try {
    const { session, fetch, clock, document, window, states } = setup({ timeoutMs: 0 });
    fetch.answer(200, issued(NOW_S + 3600)).answer(503, {}).answer(200, issued(NOW_S + 7140));
    await session.start(async () => SECRET);
    await clock.advance(3541_000);
    fetch.answer(200, issued(NOW_S + 7140));
    await session.handleRevoked();
    document.dispatch('visibilitychange');
    window.dispatch('online');
    fetch.answer(204);
    await session.logout();
    await settle();

    assert.deepEqual(document.writes, [], 'document.cookie and storage untouched');
    assert.deepEqual(window.writes, [], 'window storage untouched');
    assert.deepEqual(globalWrites, [], 'global storage untouched');
    assert.ok(!JSON.stringify(states).includes(SECRET), 'no state carries the token');
    assert.ok(!JSON.stringify(session).includes(SECRET), 'the client object does not hold it');
    for (const call of fetch.calls) {
      const { signal, ...rest } = call;
      const carries = JSON.stringify(rest).includes(SECRET);
      assert.equal(carries, call.method === 'POST', `${call.method} carries the token: ${carries}`);
      assert.equal(call.body, undefined, 'never in a body');
    }
  } finally {
    delete globalThis.localStorage;
    delete globalThis.sessionStorage;
  }
});

test('the token is asked for on every POST, so an expired one is never reused', async () => {
  const { session, fetch, clock } = setup({ timeoutMs: 0 });
  let asked = 0;
  fetch.answer(200, issued(NOW_S + 3600)).answer(200, issued(NOW_S + 7140));
  await session.start(async () => {
    asked += 1;
    return SECRET;
  });
  await clock.advance(3540_000);

  assert.equal(asked, 2);
});
