// The page coming back (visibilitychange to visible) and the network coming back (online), and
// dispose(), which stops listening for both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOW_S, issued, setup, settle, tokens } from '../test-support/fakes.js';

const unavailable = { error: 'temporarily_unavailable', error_description: 'try again shortly' };

async function signedIn(options) {
  const ctx = setup({ timeoutMs: 0, ...options });
  ctx.fetch.answer(200, issued(NOW_S + 3600));
  await ctx.session.start(tokens());
  return ctx;
}

test('a tab that becomes visible past its refresh time refreshes at once', async () => {
  const { session, fetch, clock, document } = await signedIn();
  clock.jump(3550_000); // the timer was throttled in the background and has not fired
  fetch.answer(200, issued(NOW_S + 3550 + 3600));
  document.visibilityState = 'visible';
  document.dispatch('visibilitychange');
  await settle();

  assert.equal(fetch.calls.length, 2);
  assert.equal(session.state.status, 'signed-in');
  assert.equal(session.state.expiresAt, NOW_S + 3550 + 3600);
});

test('a tab that becomes visible long before expiry sends nothing', async () => {
  const { fetch, clock, document } = await signedIn();
  clock.jump(600_000);
  document.dispatch('visibilitychange');
  await settle();

  assert.equal(fetch.calls.length, 1);
  assert.deepEqual(clock.pending(), [2940_000], 'the refresh is still planned');
});

test('a tab that is hidden does not refresh on visibilitychange', async () => {
  const { fetch, clock, document } = await signedIn();
  clock.jump(3550_000);
  document.visibilityState = 'hidden';
  document.dispatch('visibilitychange');
  await settle();

  assert.equal(fetch.calls.length, 1);
});

test('a session that expired while the laptop slept is refreshed when the tab is visible', async () => {
  const { session, fetch, clock, document } = await signedIn();
  clock.jump(5 * 3600_000);
  fetch.answer(200, issued(NOW_S + 5 * 3600 + 3600));
  document.dispatch('visibilitychange');
  await settle();

  assert.equal(fetch.calls.length, 2);
  assert.equal(session.state.status, 'signed-in');
});

test('an expired session with a token source is refreshed when the network returns', async () => {
  const { session, fetch, clock, window } = await signedIn({ maxAttempts: 1 });
  fetch.fail();
  await clock.advance(3600_000);
  assert.equal(session.state.status, 'signed-out');
  assert.equal(session.state.reason, 'expired');

  fetch.answer(200, issued(NOW_S + 7200));
  window.dispatch('online');
  await settle();
  assert.equal(session.state.status, 'signed-in');
});

test('the network coming back retries an unavailable session', async () => {
  const { session, fetch, clock, window } = setup({ maxAttempts: 2, timeoutMs: 0 });
  fetch.fail().fail();
  const done = session.restore();
  await clock.advance(1000);
  assert.equal((await done).status, 'unavailable');

  fetch.answer(200, { active: true, expiresAt: NOW_S + 3600, scopes: ['/users/alice/*'] });
  window.dispatch('online');
  await settle();
  assert.deepEqual(fetch.calls.map((c) => c.method), ['GET', 'GET', 'GET']);
  assert.equal(session.state.status, 'signed-in');
});

test('the network coming back during a backoff wait retries at once', async () => {
  const { session, fetch, clock, window } = setup({ timeoutMs: 0, retryDelayMs: 10_000 });
  fetch.answer(503, unavailable).answer(200, issued(NOW_S + 3600));
  const done = session.start(tokens());
  await settle();
  assert.equal(clock.pending().length, 1, 'waiting to retry');

  window.dispatch('online');
  const state = await done;
  assert.equal(state.status, 'signed-in');
  assert.equal(fetch.calls.length, 2);
});

test('a failed logout is retried when the network returns', async () => {
  const { session, fetch, window } = await signedIn({ maxAttempts: 1 });
  fetch.fail();
  assert.equal((await session.logout()).status, 'unavailable');

  fetch.answer(204);
  window.dispatch('online');
  await settle();
  assert.deepEqual(fetch.calls.map((c) => c.method), ['POST', 'DELETE', 'DELETE']);
  assert.equal(session.state.reason, 'logged_out');
});

test('dispose removes the listeners and timers, and later events and calls do nothing', async () => {
  const { session, fetch, clock, document, window, states } = await signedIn();
  assert.equal(document.listenerCount(), 1);
  assert.equal(window.listenerCount(), 1);
  const reported = states.length;

  session.dispose();
  assert.equal(document.listenerCount(), 0);
  assert.equal(window.listenerCount(), 0);
  assert.deepEqual(clock.pending(), []);
  clock.jump(3600_000);
  await session.restore();
  await session.refresh();
  await clock.advance(3600_000);
  assert.equal(fetch.calls.length, 1);
  assert.equal(states.length, reported, 'nothing more is reported');
});

test('dispose aborts the request in flight and drops its answer', async () => {
  const { session, fetch, states } = setup();
  const held = fetch.hold();
  const done = session.start(tokens());
  await settle();
  session.dispose();
  held.give(200, issued(NOW_S + 3600));
  await done;

  assert.equal(fetch.calls[0].signal.aborted, true);
  assert.deepEqual(states.map((s) => s.status), ['busy']);
});
