// handleRevoked(): an asset answered 401 `session_revoked`. Refresh once; if the page has to call
// it again, the session is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOW_S, bearer, issued, setup, tokens } from '../test-support/fakes.js';

async function signedIn() {
  const ctx = setup({ timeoutMs: 0 });
  ctx.fetch.answer(200, issued(NOW_S + 3600));
  await ctx.session.start(tokens());
  return ctx;
}

test('handleRevoked refreshes at once with a new token', async () => {
  const { session, fetch } = await signedIn();
  fetch.answer(200, issued(NOW_S + 3600));
  const state = await session.handleRevoked();

  assert.equal(state.status, 'signed-in');
  assert.equal(fetch.calls.length, 2);
  assert.equal(bearer(fetch.calls[1]), 'Bearer token-2');
});

test('a second handleRevoked after that refresh reports signed-out with session_revoked', async () => {
  const { session, fetch, clock } = await signedIn();
  fetch.answer(200, issued(NOW_S + 3600));
  await session.handleRevoked();
  const state = await session.handleRevoked();

  assert.equal(state.status, 'signed-out');
  assert.equal(state.reason, 'session_revoked');
  assert.equal(fetch.calls.length, 2, 'no second refresh');
  assert.deepEqual(clock.pending(), []);
});

test('handleRevoked calls made together share one refresh', async () => {
  const { session, fetch } = await signedIn();
  const held = fetch.hold();
  const calls = [session.handleRevoked(), session.handleRevoked(), session.handleRevoked()];
  held.give(200, issued(NOW_S + 3600));
  const states = await Promise.all(calls);

  assert.equal(fetch.calls.length, 2);
  assert.ok(states.every((s) => s.status === 'signed-in'));
});

test('handleRevoked without a token source reports signed-out at once', async () => {
  const { session, fetch } = setup();
  fetch.answer(200, { active: true, expiresAt: NOW_S + 3600, scopes: ['/users/alice/*'] });
  await session.restore();
  const state = await session.handleRevoked();

  assert.equal(state.status, 'signed-out');
  assert.equal(state.reason, 'session_revoked');
  assert.equal(fetch.calls.length, 1);
});

test('a refresh after handleRevoked that is refused reports the refusal', async () => {
  const { session, fetch } = await signedIn();
  fetch.answer(403, { error: 'access_denied', error_description: 'no scope applies to this user' });
  const state = await session.handleRevoked();

  assert.equal(state.status, 'signed-out');
  assert.equal(state.reason, 'access_denied');
});

test('a regular refresh in between lets handleRevoked refresh once more', async () => {
  const { session, fetch, clock } = await signedIn();
  fetch.answer(200, issued(NOW_S + 3600));
  await session.handleRevoked();
  fetch.answer(200, issued(NOW_S + 3540 + 3600));
  await clock.advance(3540_000);
  assert.equal(fetch.calls.length, 3, 'the planned refresh ran');

  fetch.answer(200, issued(NOW_S + 3540 + 3600));
  const state = await session.handleRevoked();
  assert.equal(state.status, 'signed-in');
  assert.equal(fetch.calls.length, 4);
});

test('start after a revocation lets handleRevoked refresh once more', async () => {
  const { session, fetch } = await signedIn();
  fetch.answer(200, issued(NOW_S + 3600));
  await session.handleRevoked();
  fetch.answer(200, issued(NOW_S + 3600));
  await session.start();
  fetch.answer(200, issued(NOW_S + 3600));

  assert.equal((await session.handleRevoked()).status, 'signed-in');
  assert.equal(fetch.calls.length, 4);
});
