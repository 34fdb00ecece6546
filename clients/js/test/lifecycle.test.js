// start, restore and logout: what is sent, and what each answer means.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOW_S, bearer, issued, setup, settle, tokens } from '../test-support/fakes.js';

test('start asks getToken and posts the token as a bearer token with credentials', async () => {
  const { session, fetch } = setup({ baseUrl: 'https://assets.example.com/' });
  fetch.answer(200, issued(NOW_S + 3600));
  const state = await session.start(async () => 'eyJ.id.token');

  assert.equal(fetch.calls.length, 1);
  const [call] = fetch.calls;
  assert.equal(call.url, 'https://assets.example.com/session');
  assert.equal(call.method, 'POST');
  assert.equal(call.credentials, 'include');
  assert.deepEqual(call.headers, { 'Content-Type': 'application/json', Authorization: 'Bearer eyJ.id.token' });
  assert.equal(state.status, 'signed-in');
  assert.equal(state.expiresAt, NOW_S + 3600);
  assert.deepEqual(state.scopes, ['/users/alice/*']);
  assert.equal(state.refreshAt, NOW_S + 3600 - 60);
  assert.equal(session.state, state);
});

test('busy is reported while a call is in flight, with what is in flight', async () => {
  const { session, fetch, statuses } = setup();
  const held = fetch.hold();
  const done = session.start(tokens());
  await settle();

  assert.equal(session.state.status, 'busy');
  assert.equal(session.state.action, 'start');
  assert.equal(session.state.attempt, 1);
  held.give(200, issued(NOW_S + 3600));
  assert.equal((await done).status, 'signed-in');
  assert.deepEqual(statuses(), ['busy', 'signed-in']);
});

test('restore reads a live session with GET and reports it signed in', async () => {
  const { session, fetch, statuses } = setup();
  fetch.answer(200, { active: true, expiresAt: NOW_S + 1800, scopes: ['/users/bob/*'] });
  const state = await session.restore();

  const [call] = fetch.calls;
  assert.equal(call.url, '/session');
  assert.equal(call.method, 'GET');
  assert.equal(call.credentials, 'include');
  assert.equal(bearer(call), undefined);
  assert.equal(state.status, 'signed-in');
  assert.equal(state.expiresAt, NOW_S + 1800);
  assert.deepEqual(state.scopes, ['/users/bob/*']);
  assert.deepEqual(statuses(), ['busy', 'signed-in']);
});

test('restore without a session reports signed-out with no_session', async () => {
  const { session, fetch } = setup();
  fetch.answer(401, { active: false, error: 'no_session', error_description: 'no active session' });
  const state = await session.restore();

  assert.equal(state.status, 'signed-out');
  assert.equal(state.reason, 'no_session');
  assert.equal(state.description, 'no active session');
  assert.equal(state.expiresAt, null);
});

test('a refused token reports signed-out with invalid_token and is not retried', async () => {
  const { session, fetch, clock } = setup();
  fetch.answer(401, { error: 'invalid_token', error_description: 'token expired' });
  const state = await session.start(tokens());
  await clock.advance(3_600_000);

  assert.equal(state.status, 'signed-out');
  assert.equal(state.reason, 'invalid_token');
  assert.equal(state.description, 'token expired');
  assert.equal(fetch.calls.length, 1);
});

test('a 403 reports signed-out with access_denied and is never retried', async () => {
  const { session, fetch, clock, document, window } = setup();
  fetch.answer(403, { error: 'access_denied', error_description: 'no scope applies to this user' });
  const state = await session.start(tokens());
  await clock.advance(3_600_000);
  document.dispatch('visibilitychange');
  window.dispatch('online');
  await settle();

  assert.equal(state.status, 'signed-out');
  assert.equal(state.reason, 'access_denied');
  assert.equal(fetch.calls.length, 1);
  assert.deepEqual(clock.pending(), []);
});

test('a 403 with another error code keeps that code as the reason', async () => {
  const { session, fetch } = setup();
  fetch.answer(403, { error: 'origin_not_allowed', error_description: 'cross-site request refused' });
  const state = await session.start(tokens());

  assert.equal(state.status, 'signed-out');
  assert.equal(state.reason, 'origin_not_allowed');
  assert.equal(fetch.calls.length, 1);
});

test('getToken resolving to nothing reports signed-out with no_token and sends nothing', async () => {
  const { session, fetch } = setup();
  const state = await session.start(async () => undefined);

  assert.equal(state.status, 'signed-out');
  assert.equal(state.reason, 'no_token');
  assert.equal(fetch.calls.length, 0);
});

test('start without any getToken is refused', async () => {
  const { session, fetch } = setup();
  await assert.rejects(session.start(), TypeError);
  await assert.rejects(session.start('a token'), TypeError);
  assert.equal(fetch.calls.length, 0);
  assert.equal(session.state.status, 'unknown');
});

test('logout sends DELETE with credentials, reports signed-out and clears every timer', async () => {
  const { session, fetch, clock } = setup();
  fetch.answer(200, issued(NOW_S + 3600));
  const getToken = tokens();
  await session.start(getToken);
  assert.equal(clock.pending().length, 1, 'the refresh is planned');

  fetch.answer(204);
  const state = await session.logout();
  const call = fetch.calls[1];
  assert.equal(call.method, 'DELETE');
  assert.equal(call.credentials, 'include');
  assert.equal(bearer(call), undefined);
  assert.equal(state.status, 'signed-out');
  assert.equal(state.reason, 'logged_out');
  assert.deepEqual(clock.pending(), []);

  await clock.advance(7_200_000);
  assert.equal(fetch.calls.length, 2, 'nothing is refreshed after logout');
  assert.equal(getToken.count(), 1);
});

test('a 200 that is not a session (a wrong baseUrl\'s HTML page) is unavailable with bad_response', async () => {
  const { session, fetch } = setup();
  fetch.answer(200, undefined); // json() throws, as it does on HTML
  const state = await session.restore();

  assert.equal(state.status, 'unavailable');
  assert.equal(state.reason, 'bad_response');
  assert.equal(state.action, 'restore');
  assert.equal(fetch.calls.length, 1);
});

test('calls never overlap: a logout during start waits for the POST and wins', async () => {
  const { session, fetch } = setup();
  const held = fetch.hold();
  const started = session.start(tokens());
  await settle();
  const loggedOut = session.logout();
  await settle();
  assert.equal(fetch.calls.length, 1, 'DELETE waits for the POST on the wire');

  fetch.answer(204);
  held.give(200, issued(NOW_S + 3600));
  const [a, b] = await Promise.all([started, loggedOut]);
  assert.deepEqual(fetch.calls.map((c) => c.method), ['POST', 'DELETE']);
  assert.equal(b.status, 'signed-out');
  assert.equal(b.reason, 'logged_out');
  assert.equal(a, b, 'the superseded call resolves with the state the later one reached');
  assert.equal(session.state.status, 'signed-out');
});

test('subscribe sees every state until it unsubscribes', async () => {
  const { session, fetch } = setup();
  const seen = [];
  const unsubscribe = session.subscribe((s) => seen.push(s.status));
  fetch.answer(200, issued(NOW_S + 3600));
  await session.start(tokens());
  unsubscribe();
  fetch.answer(204);
  await session.logout();

  assert.deepEqual(seen, ['busy', 'signed-in']);
});

test('states are frozen snapshots', async () => {
  const { session, fetch } = setup();
  fetch.answer(200, issued(NOW_S + 3600));
  const state = await session.start(tokens());

  assert.ok(Object.isFrozen(state));
  assert.ok(Object.isFrozen(state.scopes));
  assert.throws(() => {
    state.status = 'signed-out';
  }, TypeError);
});
