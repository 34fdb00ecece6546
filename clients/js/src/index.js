// @keyhole/session: the browser side of a Keyhole session. It turns a JWT into CloudFront signed
// cookies (POST /session), reads them back on page load (GET /session), refreshes them before they
// expire, and clears them (DELETE /session). The cookies are HttpOnly: this module never sees them,
// and it never keeps the token beyond the one request that carries it.

const MAX_TIMER_MS = 2147483647; // setTimeout's limit; longer waits are re-armed when they fire
const SMALL_SKEW_MS = 2000; // the Date header has one-second resolution: ignore less than this

const EMPTY = Object.freeze({
  expiresAt: null,
  scopes: Object.freeze([]),
  refreshAt: null,
  action: null,
  attempt: 0,
  reason: null,
  description: null,
});

const message = (e) => String((e && e.message) || e);

/** Creates a session client. Every option has a browser default; the rest are for tests. */
export function createSession(options = {}) {
  const {
    baseUrl = '',
    fetch: fetchFn = globalThis.fetch,
    now = Date.now,
    setTimeout: setTimer = globalThis.setTimeout,
    clearTimeout: clearTimer = globalThis.clearTimeout,
    random = Math.random,
    document: doc = globalThis.document,
    window: win = globalThis.window,
    refreshMargin = null,
    maxAttempts = 5,
    retryDelayMs = 1000,
    maxRetryDelayMs = 30000,
    timeoutMs = 15000,
    onChange = null,
  } = options;
  const endpoint = String(baseUrl).replace(/\/+$/, '') + '/session';

  let state = Object.freeze({ status: 'unknown', ...EMPTY });
  let live = null; // the session the cookies hold: { expiresAt, scopes, expiresLocal, refreshLocal }
  let tokenSource = null; // the page's getToken; the token it returns is never kept
  let skewMs = 0; // server clock minus this device's clock, from the Date header
  let generation = 0; // bumped by every call: an older call's late answer is dropped
  let current = null; // the newest call's promise
  let inflight = Promise.resolve(); // the request on the wire: calls never overlap on the server
  let controller = null;
  let pauseWake = null; // ends a backoff pause early
  let timer = null; // the next refresh or expiry
  let lastAction = null;
  let revokeFlight = null;
  let revokeUsed = false;
  let disposed = false;
  const listeners = new Set();

  function emit(next) {
    state = Object.freeze({ status: next.status, ...EMPTY, ...next, scopes: Object.freeze([...(next.scopes || [])]) });
    if (disposed) return;
    for (const fn of [onChange, ...listeners]) {
      if (!fn) continue;
      try {
        fn(state);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  const liveFields = () => (live ? { expiresAt: live.expiresAt, scopes: live.scopes } : {});

  function emitSignedIn() {
    emit({ status: 'signed-in', ...liveFields(), refreshAt: tokenSource ? live.refreshLocal / 1000 : null });
  }

  function signOut(reason, description = null) {
    live = null;
    emit({ status: 'signed-out', reason, description });
  }

  // Takes a {expiresAt, scopes} answer; false when it is not one.
  function accept(body, receivedAt) {
    if (!body || typeof body.expiresAt !== 'number' || !Number.isFinite(body.expiresAt) || !Array.isArray(body.scopes)) {
      return false;
    }
    const expiresLocal = body.expiresAt * 1000 - skewMs;
    const lifetime = expiresLocal - receivedAt;
    const margin = refreshMargin == null ? Math.min(60000, lifetime / 10) : refreshMargin * 1000;
    // Never before halfway: a margin longer than the lifetime must not refresh in a loop.
    const refreshLocal = receivedAt + Math.max(lifetime - margin, lifetime / 2);
    live = { expiresAt: body.expiresAt, scopes: body.scopes.map(String), expiresLocal, refreshLocal };
    return true;
  }

  async function request(method, token) {
    const ctl = typeof AbortController === 'function' ? new AbortController() : null;
    let timedOut = false;
    const timeout = ctl && timeoutMs > 0 ? setTimer(() => { timedOut = true; ctl.abort(); }, timeoutMs) : null;
    controller = ctl;
    const init = { method, credentials: 'include', cache: 'no-store' };
    if (token) init.headers = { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token };
    if (ctl) init.signal = ctl.signal;
    try {
      const response = await fetchFn(endpoint, init);
      const receivedAt = now();
      const header = (name) => (response.headers && response.headers.get ? response.headers.get(name) : null);
      const skew = Date.parse(header('date')) - receivedAt;
      if (Number.isFinite(skew)) skewMs = Math.abs(skew) < SMALL_SKEW_MS ? 0 : skew;
      const retryAfter = Number(header('retry-after'));
      const body = response.status === 204 ? null : await response.json().catch(() => null);
      return { status: response.status, body, receivedAt, retryAfterMs: retryAfter >= 0 ? retryAfter * 1000 : 0 };
    } catch (e) {
      return { status: 0, reason: timedOut ? 'timeout' : 'network_error', description: message(e) };
    } finally {
      if (timeout !== null) clearTimer(timeout);
      if (controller === ctl) controller = null;
    }
  }

  // What an answer means: { kind: 'in' | 'out' | 'retry' | 'fail', reason, description }.
  function outcome(res, method) {
    if (res.status === 0) return { kind: 'retry', reason: res.reason, description: res.description };
    const body = res.body && typeof res.body === 'object' ? res.body : {};
    const code = typeof body.error === 'string' && body.error ? body.error : null;
    const description = typeof body.error_description === 'string' ? body.error_description : null;
    if (res.status === 429 || res.status >= 500) {
      return { kind: 'retry', reason: code || 'http_' + res.status, description, retryAfterMs: res.retryAfterMs };
    }
    if (res.status === 401) return { kind: 'out', reason: code || (method === 'GET' ? 'no_session' : 'invalid_token'), description };
    if (res.status === 403) return { kind: 'out', reason: code || 'access_denied', description };
    if (res.status >= 400) return { kind: 'out', reason: code || 'http_' + res.status, description };
    if (method === 'DELETE') return { kind: 'out', reason: 'logged_out' };
    if (accept(res.body, res.receivedAt)) return { kind: 'in' };
    return { kind: 'fail', reason: 'bad_response', description: 'no {expiresAt, scopes} in the answer from ' + endpoint };
  }

  async function post() {
    let token;
    try {
      token = await tokenSource();
    } catch (e) {
      return { kind: 'retry', reason: 'token_error', description: message(e) };
    }
    if (!token || typeof token !== 'string') return { kind: 'out', reason: 'no_token', description: 'getToken gave no token' };
    return outcome(await request('POST', token), 'POST');
  }

  const get = async () => outcome(await request('GET'), 'GET');
  const del = async () => outcome(await request('DELETE'), 'DELETE');

  function backoff(attempt, retryAfterMs = 0) {
    const ceiling = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (attempt - 1));
    return Math.min(maxRetryDelayMs, Math.max(ceiling / 2 + (random() * ceiling) / 2, retryAfterMs));
  }

  function pause(ms) {
    return new Promise((resolve) => {
      const t = setTimer(() => { pauseWake = null; resolve(); }, ms);
      pauseWake = () => { clearTimer(t); pauseWake = null; resolve(); };
    });
  }

  function stopTimer() {
    if (timer !== null) clearTimer(timer);
    timer = null;
  }

  // Drops whatever call is running: its pause ends, its late answer is ignored.
  function cancel() {
    generation += 1;
    current = null;
    if (pauseWake) pauseWake();
    stopTimer();
  }

  function finish(action, result, revoked) {
    if (result.kind === 'in') {
      if (live.expiresLocal <= now()) return signOut('expired', 'the session ended before it arrived');
      if (!revoked) revokeUsed = false;
      emitSignedIn();
    } else if (result.kind === 'out') {
      signOut(result.reason, result.description);
    } else {
      if (live && live.expiresLocal <= now()) live = null;
      emit({ status: 'unavailable', action, reason: result.reason, description: result.description, ...liveFields() });
    }
    schedule();
  }

  function run(action, attemptOnce, revoked = false) {
    if (disposed) return Promise.resolve(state);
    cancel();
    const gen = generation;
    const before = inflight;
    lastAction = action;
    const call = (async () => {
      for (let attempt = 1; ; attempt += 1) {
        emit({ status: 'busy', action, attempt, ...liveFields() });
        await before;
        if (gen !== generation) return current || state;
        const pending = attemptOnce();
        inflight = pending;
        const result = await pending;
        if (gen !== generation) return current || state;
        if (result.kind !== 'retry' || attempt >= maxAttempts) {
          finish(action, result, revoked);
          return state;
        }
        await pause(backoff(attempt, result.retryAfterMs));
        if (gen !== generation) return current || state;
      }
    })();
    current = call;
    return call;
  }

  function schedule() {
    stopTimer();
    if (!live || disposed) return;
    const refreshing = tokenSource && state.status === 'signed-in';
    const due = refreshing ? Math.min(live.refreshLocal, live.expiresLocal) : live.expiresLocal;
    timer = setTimer(() => { timer = null; onDue(); }, Math.min(MAX_TIMER_MS, Math.max(0, due - now())));
  }

  // The timer fired, or the page came back: refresh when it is time, sign out at expiry.
  function onDue() {
    if (disposed || !live || state.status === 'busy') return;
    const t = now();
    const refreshing = tokenSource && state.status === 'signed-in';
    if (refreshing && t >= live.refreshLocal) {
      run('refresh', post);
    } else if (t >= live.expiresLocal) {
      cancel();
      signOut('expired', 'the session ended and could not be refreshed');
    } else {
      schedule();
    }
  }

  function wake() {
    if (disposed) return;
    if (state.status === 'busy') {
      if (pauseWake) pauseWake();
    } else if (state.status === 'unavailable') {
      // Try again what failed: the network (or the service) may be back.
      if (lastAction === 'logout') run('logout', del);
      else if (lastAction === 'restore' || !tokenSource) run('restore', get);
      else run(lastAction, post);
    } else if (state.status === 'signed-out' && state.reason === 'expired' && tokenSource) {
      run('refresh', post);
    } else {
      onDue();
    }
  }

  const onVisibility = () => {
    if (doc.visibilityState === 'visible') wake();
  };
  if (doc && doc.addEventListener) doc.addEventListener('visibilitychange', onVisibility);
  if (win && win.addEventListener) win.addEventListener('online', wake);

  function checkSource(getToken) {
    if (typeof getToken !== 'function') throw new TypeError('getToken must be a function returning a token (or a promise of one)');
    return getToken;
  }

  const session = {
    get state() {
      return state;
    },

    start(getToken) {
      try {
        if (getToken !== undefined) tokenSource = checkSource(getToken);
        else if (!tokenSource) checkSource(getToken);
      } catch (e) {
        return Promise.reject(e);
      }
      revokeUsed = false;
      return run('start', post);
    },

    restore() {
      return run('restore', get);
    },

    refresh() {
      return tokenSource ? run('refresh', post) : run('restore', get);
    },

    logout() {
      tokenSource = null;
      revokeUsed = false;
      return run('logout', del);
    },

    setTokenSource(getToken) {
      tokenSource = getToken === null ? null : checkSource(getToken);
      if (state.status === 'signed-in') {
        emitSignedIn();
        schedule();
      }
    },

    handleRevoked() {
      if (disposed) return Promise.resolve(state);
      if (revokeFlight) return revokeFlight;
      if (!tokenSource || revokeUsed) {
        cancel();
        signOut('session_revoked', 'the edge refused this session');
        return Promise.resolve(state);
      }
      revokeUsed = true;
      const call = run('refresh', post, true);
      revokeFlight = call;
      call.then(() => {
        if (revokeFlight === call) revokeFlight = null;
      });
      return call;
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    dispose() {
      if (disposed) return;
      cancel();
      disposed = true;
      if (controller) controller.abort();
      if (doc && doc.removeEventListener) doc.removeEventListener('visibilitychange', onVisibility);
      if (win && win.removeEventListener) win.removeEventListener('online', wake);
      listeners.clear();
      tokenSource = null;
      live = null;
    },
  };
  return Object.freeze(session);
}
