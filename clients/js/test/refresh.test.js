// The automatic refresh: when it runs, with which token, and what happens without a token source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOW_S, T0, bearer, issued, setup, tokens } from '../test-support/fakes.js';

test('the refresh fires at expiresAt minus the margin and posts a new token from getToken', async () => {
  const { session, fetch, clock } = setup({ refreshMargin: 120 });
  const getToken = tokens();
  fetch.answer(200, issued(NOW_S + 3600));
  await session.start(getToken);
  assert.equal(session.state.refreshAt, NOW_S + 3600 - 120);

  fetch.answer(200, issued(NOW_S + 3480 + 3600));
  await clock.advance((3480 - 1) * 1000);
  assert.equal(fetch.calls.length, 1, 'not a second early');
  await clock.advance(1000);

  assert.equal(fetch.calls.length, 2);
  assert.equal(getToken.count(), 2, 'getToken is asked again');
  assert.equal(bearer(fetch.calls[0]), 'Bearer token-1');
  assert.equal(bearer(fetch.calls[1]), 'Bearer token-2');
  assert.equal(session.state.status, 'signed-in');
  assert.equal(session.state.expiresAt, NOW_S + 3480 + 3600);
  assert.equal(session.state.refreshAt, NOW_S + 3480 + 3600 - 120);
});

test('a refresh is reported busy with the session still in force', async () => {
  const { session, fetch, clock } = setup();
  fetch.answer(200, issued(NOW_S + 3600));
  await session.start(tokens());
  const held = fetch.hold();
  await clock.advance(3540 * 1000);

  assert.equal(session.state.status, 'busy');
  assert.equal(session.state.action, 'refresh');
  assert.equal(session.state.expiresAt, NOW_S + 3600, 'the images keep loading meanwhile');
  assert.deepEqual(session.state.scopes, ['/users/alice/*']);
  held.give(200, issued(NOW_S + 7140));
  await clock.advance(0);
  assert.equal(session.state.status, 'signed-in');
});

test('the default margin is a tenth of a lifetime shorter than ten minutes', async () => {
  const { session, fetch } = setup();
  fetch.answer(200, issued(NOW_S + 20));
  const state = await session.start(tokens());

  assert.equal(state.refreshAt, NOW_S + 18);
});

test('a margin longer than the lifetime refreshes halfway instead of in a loop', async () => {
  const { session, fetch, clock } = setup({ refreshMargin: 600 });
  fetch.answer(200, issued(NOW_S + 60));
  const state = await session.start(tokens());
  assert.equal(state.refreshAt, NOW_S + 30);

  fetch.answer(200, issued(NOW_S + 30 + 60));
  await clock.advance(29_000);
  assert.equal(fetch.calls.length, 1);
  await clock.advance(1000);
  assert.equal(fetch.calls.length, 2);
  assert.equal(session.state.refreshAt, NOW_S + 60);
});

test('a refreshed token that is refused reports signed-out with invalid_token', async () => {
  const { session, fetch, clock } = setup();
  fetch.answer(200, issued(NOW_S + 3600));
  await session.start(tokens());
  fetch.answer(401, { error: 'invalid_token', error_description: 'token is expired' });
  await clock.advance(3540 * 1000);

  assert.equal(session.state.status, 'signed-out');
  assert.equal(session.state.reason, 'invalid_token');
  assert.deepEqual(clock.pending(), []);
});

test('after restore alone there is no refresh, and the session ends as expired at expiresAt', async () => {
  const { session, fetch, clock } = setup();
  fetch.answer(200, { active: true, expiresAt: NOW_S + 600, scopes: ['/users/alice/*'] });
  const state = await session.restore();
  assert.equal(state.refreshAt, null);

  await clock.advance(599_000);
  assert.equal(session.state.status, 'signed-in');
  await clock.advance(1000);
  assert.equal(session.state.status, 'signed-out');
  assert.equal(session.state.reason, 'expired');
  assert.equal(fetch.calls.length, 1, 'nothing was posted');
});

test('setTokenSource after restore plans the refresh and uses that source', async () => {
  const { session, fetch, clock } = setup();
  fetch.answer(200, { active: true, expiresAt: NOW_S + 600, scopes: ['/users/alice/*'] });
  await session.restore();
  const getToken = tokens();
  session.setTokenSource(getToken);
  assert.equal(session.state.status, 'signed-in');
  assert.equal(session.state.refreshAt, NOW_S + 540);

  fetch.answer(200, issued(NOW_S + 540 + 3600));
  await clock.advance(540_000);
  assert.equal(bearer(fetch.calls[1]), 'Bearer token-1');
  assert.equal(session.state.expiresAt, NOW_S + 540 + 3600);

  session.setTokenSource(null);
  assert.equal(session.state.refreshAt, null);
});

test('refresh without a token source reads the session again with GET', async () => {
  const { session, fetch } = setup();
  fetch.answer(200, { active: true, expiresAt: NOW_S + 600, scopes: ['/users/alice/*'] });
  fetch.answer(200, { active: true, expiresAt: NOW_S + 600, scopes: ['/users/alice/*'] });
  await session.restore();
  await session.refresh();

  assert.deepEqual(fetch.calls.map((c) => c.method), ['GET', 'GET']);
});

test('a server clock behind this device is read from the Date header and the refresh waits for it', async () => {
  const { session, fetch, clock } = setup();
  const serverNow = T0 - 300_000; // five minutes behind
  fetch.answer(200, issued(serverNow / 1000 + 3600), { date: new Date(serverNow).toUTCString() });
  const state = await session.start(tokens());

  // 3540 s from now by the server's clock is 3540 s from now here too.
  assert.equal(state.refreshAt, NOW_S + 3540);
  fetch.answer(200, issued(serverNow / 1000 + 7140), { date: new Date(serverNow + 3_540_000).toUTCString() });
  await clock.advance(3_539_000);
  assert.equal(fetch.calls.length, 1, 'the session is still good on the server');
  await clock.advance(1000);
  assert.equal(fetch.calls.length, 2);
});

test('a session longer than a timer can wait is still refreshed on time', async () => {
  const { session, fetch, clock } = setup({ refreshMargin: 60 });
  const days = 40 * 86400;
  fetch.answer(200, issued(NOW_S + days));
  await session.start(tokens());
  assert.ok(clock.pending()[0] <= 2147483647);

  fetch.answer(200, issued(NOW_S + 2 * days));
  await clock.advance((days - 61) * 1000);
  assert.equal(fetch.calls.length, 1);
  await clock.advance(1000);
  assert.equal(fetch.calls.length, 2);
});
