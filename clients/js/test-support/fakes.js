// Hand-written fakes for the client's tests: a clock with timers, a fetch that records calls and
// answers from a queue, and document/window event targets whose storage records every write.
// Kept out of test/ because `node --test test/` runs every file there.
import { createSession } from '../src/index.js';

export const T0 = 1_700_000_000_000; // the fake clock's start, in ms
export const NOW_S = T0 / 1000;

/** Lets every promise chain started so far run to its next real wait. */
export async function settle() {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

export function fakeClock(start = T0) {
  let t = start;
  let seq = 0;
  const timers = new Map();
  const next = (until) => {
    let best = null;
    for (const [id, timer] of timers) {
      if (timer.at <= until && (!best || timer.at < best[1].at)) best = [id, timer];
    }
    return best;
  };
  return {
    now: () => t,
    setTimeout: (fn, ms) => {
      seq += 1;
      timers.set(seq, { at: t + Math.max(0, ms), fn });
      return seq;
    },
    clearTimeout: (id) => {
      timers.delete(id);
    },
    /** Delays, from now, of the timers still pending, shortest first. */
    pending: () => [...timers.values()].map((timer) => timer.at - t).sort((a, b) => a - b),
    /** Moves time on, firing each timer that falls due, in order. */
    async advance(ms) {
      const end = t + ms;
      for (;;) {
        await settle();
        const due = next(end);
        if (!due) break;
        timers.delete(due[0]);
        t = due[1].at;
        due[1].fn();
      }
      t = end;
      await settle();
    },
    /** Moves time on without firing anything: a laptop lid closed, a background tab throttled. */
    jump(ms) {
      t += ms;
    },
  };
}

function response(status, body, headers = {}) {
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: new Headers(headers),
    json: async () => {
      if (body === undefined) throw new SyntaxError('Unexpected end of JSON input');
      return typeof body === 'string' ? JSON.parse(body) : body;
    },
  };
}

/** A fetch answering from a queue; every call is kept in `fetch.calls`. */
export function fakeFetch() {
  const queue = [];
  const calls = [];
  const fetch = (url, init = {}) => {
    calls.push({ url, ...init, headers: { ...(init.headers || {}) } });
    const answer = queue.shift();
    if (!answer) return Promise.reject(new TypeError(`fake fetch: nothing queued for ${init.method} ${url}`));
    return answer(init);
  };
  fetch.calls = calls;
  fetch.answer = (status, body, headers) => {
    queue.push(async () => response(status, body, headers));
    return fetch;
  };
  fetch.fail = (message = 'Failed to fetch') => {
    queue.push(async () => {
      throw new TypeError(message);
    });
    return fetch;
  };
  /** An answer given later by the test: `.give(status, body)`. Honours the abort signal. */
  fetch.hold = () => {
    let give;
    let taken = false;
    const promise = new Promise((resolve, reject) => {
      give = (status, body, headers) => resolve(response(status, body, headers));
      queue.push((init) => {
        taken = true;
        init.signal?.addEventListener('abort', () => reject(new DOMException('The operation was aborted.', 'AbortError')));
        return promise;
      });
    });
    return { give: (...args) => give(...args), taken: () => taken };
  };
  return fetch;
}

/** An event target with the few things the client may touch; storage and cookie writes are recorded. */
export function fakeTarget(extra = {}) {
  const listeners = new Map();
  const writes = [];
  const storage = (name) => ({
    setItem: (k, v) => writes.push(`${name}.setItem(${k}, ${v})`),
    getItem: () => null,
    removeItem: (k) => writes.push(`${name}.removeItem(${k})`),
    clear: () => writes.push(`${name}.clear()`),
  });
  const target = {
    ...extra,
    localStorage: storage('localStorage'),
    sessionStorage: storage('sessionStorage'),
    writes,
    addEventListener(type, fn) {
      if (!listeners.has(type)) listeners.set(type, new Set());
      listeners.get(type).add(fn);
    },
    removeEventListener(type, fn) {
      listeners.get(type)?.delete(fn);
    },
    dispatch(type) {
      for (const fn of listeners.get(type) || []) fn({ type });
    },
    listenerCount: () => [...listeners.values()].reduce((n, set) => n + set.size, 0),
  };
  Object.defineProperty(target, 'cookie', {
    get: () => '',
    set: (v) => writes.push(`cookie = ${v}`),
  });
  return target;
}

/** A body as POST /session answers it. */
export const issued = (expiresAt, sub = 'alice') => ({ expiresAt, scopes: [`/users/${sub}/*`] });

/** A session client wired to fakes; `states` records every status it reports. */
export function setup(options = {}) {
  const clock = fakeClock();
  const fetch = fakeFetch();
  const document = fakeTarget({ visibilityState: 'visible' });
  const window = fakeTarget();
  const states = [];
  const session = createSession({
    fetch,
    now: clock.now,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    random: () => 1,
    document,
    window,
    onChange: (state) => states.push(state),
    ...options,
  });
  return { session, clock, fetch, document, window, states, statuses: () => states.map((s) => s.status) };
}

/** getToken that hands out token-1, token-2, ... and counts its calls. */
export function tokens() {
  let n = 0;
  const getToken = async () => {
    n += 1;
    return `token-${n}`;
  };
  getToken.count = () => n;
  return getToken;
}

export const bearer = (call) => call.headers.Authorization;
