// Retries: 503, 429, other 5xx, network errors, timeouts and a failing getToken back off
// exponentially with jitter, capped, a bounded number of times; then the state is `unavailable`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOW_S, bearer, issued, setup, settle, tokens } from '../test-support/fakes.js';

const unavailable = { error: 'temporarily_unavailable', error_description: 'try again shortly' };

/** Runs until the client waits, and returns how long that wait is. */
async function nextWait(clock) {
  await settle();
  const waits = clock.pending();
  assert.equal(waits.length, 1, `one timer pending, not ${waits}`);
  return waits[0];
}

test('a 503 is retried after growing waits, capped, then reported unavailable', async () => {
  const { session, fetch, clock } = setup({ maxAttempts: 6, retryDelayMs: 1000, maxRetryDelayMs: 5000, timeoutMs: 0 });
  for (let i = 0; i < 6; i++) fetch.answer(503, unavailable);
  const done = session.start(tokens());

  const waits = [];
  for (let i = 0; i < 5; i++) {
    const wait = await nextWait(clock);
    waits.push(wait);
    assert.equal(session.state.status, 'busy');
    await clock.advance(wait);
  }
  const state = await done;

  assert.deepEqual(waits, [1000, 2000, 4000, 5000, 5000]);
  assert.equal(fetch.calls.length, 6);
  assert.equal(state.status, 'unavailable');
  assert.equal(state.reason, 'temporarily_unavailable');
  assert.equal(state.description, 'try again shortly');
  assert.equal(state.action, 'start');
  await clock.advance(600_000);
  assert.equal(fetch.calls.length, 6, 'it gives up until something changes');
});

test('each wait has jitter: between half and all of its ceiling', async () => {
  const { session, fetch, clock } = setup({ random: () => 0, maxAttempts: 4, timeoutMs: 0 });
  for (let i = 0; i < 4; i++) fetch.answer(503, unavailable);
  const done = session.restore();

  const waits = [];
  for (let i = 0; i < 3; i++) {
    waits.push(await nextWait(clock));
    await clock.advance(waits[i]);
  }
  await done;
  assert.deepEqual(waits, [500, 1000, 2000]);
});

test('every retry asks getToken again and reports its attempt number', async () => {
  const { session, fetch, clock, states } = setup({ timeoutMs: 0 });
  fetch.answer(503, unavailable).answer(502, { message: 'Internal Server Error' }).answer(200, issued(NOW_S + 3600));
  const done = session.start(tokens());
  await clock.advance(1000);
  await clock.advance(2000);
  const state = await done;

  assert.equal(state.status, 'signed-in');
  assert.deepEqual(fetch.calls.map(bearer), ['Bearer token-1', 'Bearer token-2', 'Bearer token-3']);
  assert.deepEqual(states.filter((s) => s.status === 'busy').map((s) => s.attempt), [1, 2, 3]);
});

test('a network error is retried and a later answer signs in', async () => {
  const { session, fetch, clock } = setup({ timeoutMs: 0 });
  fetch.fail('Failed to fetch').answer(200, { active: true, expiresAt: NOW_S + 3600, scopes: ['/users/alice/*'] });
  const done = session.restore();
  await clock.advance(1000);

  assert.equal((await done).status, 'signed-in');
  assert.equal(fetch.calls.length, 2);
});

test('network errors until the last attempt are reported unavailable with network_error', async () => {
  const { session, fetch, clock } = setup({ maxAttempts: 2, timeoutMs: 0 });
  fetch.fail('Failed to fetch').fail('Failed to fetch');
  const done = session.restore();
  await clock.advance(1000);
  const state = await done;

  assert.equal(state.status, 'unavailable');
  assert.equal(state.reason, 'network_error');
  assert.equal(state.description, 'Failed to fetch');
});

test('a request with no answer is aborted after timeoutMs and retried', async () => {
  const { session, fetch, clock } = setup({ timeoutMs: 10_000, maxAttempts: 2 });
  const held = fetch.hold();
  fetch.answer(200, issued(NOW_S + 3600));
  const done = session.start(tokens());
  await clock.advance(10_000);
  assert.ok(held.taken());
  assert.equal(fetch.calls[0].signal.aborted, true);
  await clock.advance(1000);

  assert.equal((await done).status, 'signed-in');
  assert.equal(fetch.calls.length, 2);
});

test('a timeout on the last attempt is reported unavailable with timeout', async () => {
  const { session, fetch, clock } = setup({ timeoutMs: 10_000, maxAttempts: 1 });
  fetch.hold();
  const done = session.restore();
  await clock.advance(10_000);

  assert.equal((await done).reason, 'timeout');
});

test('Retry-After in seconds lengthens a wait, within the cap', async () => {
  const { session, fetch, clock } = setup({ maxAttempts: 3, maxRetryDelayMs: 20_000, timeoutMs: 0 });
  fetch.answer(429, { message: 'Too Many Requests' }, { 'retry-after': '7' });
  fetch.answer(503, unavailable, { 'retry-after': '120' });
  fetch.answer(200, issued(NOW_S + 3600));
  const done = session.start(tokens());

  const first = await nextWait(clock);
  await clock.advance(first);
  const second = await nextWait(clock);
  await clock.advance(second);
  await done;
  assert.deepEqual([first, second], [7000, 20_000]);
});

test('getToken throwing is retried like a network error', async () => {
  const { session, fetch, clock } = setup({ maxAttempts: 2, timeoutMs: 0 });
  let calls = 0;
  const getToken = async () => {
    calls += 1;
    if (calls === 1) throw new Error('refresh token request failed');
    return 'token-after-retry';
  };
  fetch.answer(200, issued(NOW_S + 3600));
  const done = session.start(getToken);
  await clock.advance(1000);

  assert.equal((await done).status, 'signed-in');
  assert.equal(fetch.calls.length, 1);
  assert.equal(bearer(fetch.calls[0]), 'Bearer token-after-retry');
});

test('getToken failing every time is reported unavailable with token_error', async () => {
  const { session, clock } = setup({ maxAttempts: 2, timeoutMs: 0 });
  const done = session.start(async () => {
    throw new Error('offline');
  });
  await clock.advance(1000);
  const state = await done;

  assert.equal(state.status, 'unavailable');
  assert.equal(state.reason, 'token_error');
  assert.equal(state.description, 'offline');
});

test('a failed refresh keeps the session until expiresAt, then reports it expired', async () => {
  const { session, fetch, clock } = setup({ maxAttempts: 2, timeoutMs: 0 });
  fetch.answer(200, issued(NOW_S + 3600));
  await session.start(tokens());
  fetch.answer(503, unavailable).answer(503, unavailable);
  await clock.advance(3540_000 + 1000);

  assert.equal(session.state.status, 'unavailable');
  assert.equal(session.state.action, 'refresh');
  assert.equal(session.state.expiresAt, NOW_S + 3600, 'the cookies still hold');
  await clock.advance(59_000);
  assert.equal(session.state.status, 'signed-out');
  assert.equal(session.state.reason, 'expired');
});
