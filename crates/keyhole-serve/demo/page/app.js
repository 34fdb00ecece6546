// The demo page, on the session client (clients/js, served here as /demo/keyhole-session.js):
// restore on load, sign in with the development identity provider (or a pasted token), refresh by
// itself before expiry, log out. The <img> tags rely on the signed cookies alone. When one of them
// fails because the edge revoked the session (401 session_revoked), the client refreshes once and
// the pictures are loaded again, with no click.
import { createSession } from '/demo/keyhole-session.js';

const $ = (id) => document.getElementById(id);
const BUSY = { start: 'Signing in…', restore: 'Looking for a session…', refresh: 'Refreshing the session…', logout: 'Signing out…' };
const SIGNED_OUT = { no_session: 'Not signed in.', logged_out: 'Signed out.', expired: 'The session expired: sign in again.' };

let demoUsers = [];
let shownPrefix = null; // the prefix whose pictures are on screen
let name = ''; // the signed-in user's name, read from the token's claims at sign-in (never the token)
let busyWith = null;
let refreshes = 0;
let userStarted = false;

const keyhole = createSession({ onChange: show });

function claims(token) {
  const part = token.split('.')[1] || '';
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(b64 + '='.repeat((4 - b64.length % 4) % 4)));
}

function nameIn(token) {
  try {
    const c = claims(token);
    return c.preferred_username || c.email || '';
  } catch (e) {
    return ''; // an opaque token: the scope still says whose session it is
  }
}

const time = (epochSeconds) => new Date(epochSeconds * 1000).toLocaleTimeString();
const prefixOf = (state) => (state.scopes[0] || '').replace(/\*$/, '');
const userOf = (prefix) => demoUsers.find((u) => prefix === '/users/' + u.sub + '/');

// getToken for a demo user: a new id token from the identity provider on every call, as an auth
// library hands over a fresh one when the client refreshes.
function demoToken(username) {
  return async () => {
    const r = await fetch('/idp/token', { method: 'POST', body: new URLSearchParams({ username }) });
    if (!r.ok) return null; // refused: nobody to sign in
    const token = (await r.json()).id_token;
    name = nameIn(token);
    return token;
  };
}

// An <img> cannot see why it failed: ask the edge once, as any page can. 401 session_revoked
// means the deny-list refuses these cookies; handleRevoked() refreshes once (calls made together
// share it) and reports signed-out if that does not help.
let reloads = 0;
async function whyFailed(el) {
  const r = await fetch(el.src, { credentials: 'include', cache: 'no-store' }).catch(() => null);
  if (!r || r.status !== 401) return;
  const body = await r.json().catch(() => ({}));
  if (body.error !== 'session_revoked') return;
  const seen = reloads;
  const state = await keyhole.handleRevoked();
  if (state.status === 'signed-in' && seen === reloads) {
    reloads += 1;
    render(prefixOf(state), '?v=' + reloads); // a new URL: the failed answer is not reused
  }
}

function watch(el) {
  el.dataset.state = 'loading';
  const ok = el.tagName === 'VIDEO' ? 'loadeddata' : 'load';
  el.addEventListener(ok, () => { el.dataset.state = 'loaded'; }, { once: true });
  el.addEventListener('error', () => {
    el.dataset.state = 'failed';
    if (el.id !== 'foreign') whyFailed(el);
  }, { once: true });
}

function render(prefix, bust = '') {
  shownPrefix = prefix;
  $('prefix').textContent = prefix;
  for (const img of document.querySelectorAll('img.own')) { watch(img); img.src = prefix + img.dataset.name + bust; }
  const clip = $('clip'); watch(clip); clip.src = prefix + clip.dataset.name + bust;
  const other = demoUsers.find((u) => !prefix.includes(u.sub));
  const foreign = $('foreign');
  if (other) {
    watch(foreign);
    foreign.src = '/users/' + other.sub + '/secret.png';
    $('foreign-caption').textContent = other.username + "'s secret.png";
  }
  $('mine').hidden = false;
}

function clear() {
  shownPrefix = null;
  name = '';
  for (const el of document.querySelectorAll('#mine img, #mine video')) { el.removeAttribute('src'); delete el.dataset.state; }
  $('mine').hidden = true;
}

function showBusy(state) {
  const busy = state.status === 'busy';
  if (busy) {
    busyWith = state.action;
    document.body.dataset.busy = state.action;
    $('busy-text').textContent = BUSY[state.action] + (state.attempt > 1 ? ' (retry ' + (state.attempt - 1) + ')' : '');
  } else {
    delete document.body.dataset.busy;
  }
  $('busy').hidden = !busy;
}

function showSignedIn(state) {
  if (busyWith === 'refresh') refreshes += 1;
  const prefix = prefixOf(state);
  if (prefix !== shownPrefix) render(prefix);
  const user = userOf(prefix);
  setStatus('Signed in as ' + (name || (user && user.username) || prefix) + '.');
  $('expires-at').textContent = time(state.expiresAt);
  $('refresh-at').textContent = state.refreshAt ? time(state.refreshAt) : 'never (no token source: sign in again to refresh)';
  $('refresh-count').textContent = String(refreshes);
  document.body.dataset.refreshes = String(refreshes);
  $('session-times').hidden = false;
  $('logout').hidden = false;
  document.body.dataset.session = 'active';
}

function showSignedOut(state) {
  clear();
  const why = state.description ? state.reason + ': ' + state.description : state.reason;
  setStatus(SIGNED_OUT[state.reason] || 'Signed out (' + why + ').');
  $('session-times').hidden = true;
  $('logout').hidden = true;
  document.body.dataset.session = 'none';
}

function showUnavailable(state) {
  setStatus('The session service did not answer (' + state.reason + '). It tries again when the network returns.');
  $('retry').hidden = false;
  if (!state.expiresAt) {
    clear();
    $('session-times').hidden = true;
    document.body.dataset.session = 'unavailable';
  }
}

function setStatus(text) { $('status').textContent = text; }

function show(state) {
  showBusy(state);
  if (state.status !== 'unavailable') $('retry').hidden = true;
  if (state.status === 'signed-in') showSignedIn(state);
  else if (state.status === 'signed-out') showSignedOut(state);
  else if (state.status === 'unavailable') showUnavailable(state);
  if (state.status !== 'busy') busyWith = null;
}

async function signIn(getToken) {
  userStarted = true;
  // Another user's cookies would still open their prefix: clear them first.
  if (keyhole.state.expiresAt) await keyhole.logout();
  await keyhole.start(getToken);
}

async function init() {
  const r = await fetch('/idp/users').catch(() => null);
  if (r && r.ok) {
    demoUsers = (await r.json()).users;
    for (const u of demoUsers) {
      const b = document.createElement('button');
      b.id = 'signin-' + u.username;
      b.textContent = 'Sign in as ' + u.username;
      b.addEventListener('click', () => signIn(demoToken(u.username)));
      $('demo-users').appendChild(b);
    }
  }
  $('use-token').addEventListener('click', () => {
    const token = $('token').value.trim();
    signIn(() => { name = nameIn(token); return token; });
  });
  $('logout').addEventListener('click', () => keyhole.logout());
  $('retry').addEventListener('click', () => keyhole.refresh());
  document.body.dataset.ready = 'yes';

  // A reload keeps the cookies: ask the server. For a demo user, the identity provider can still
  // hand out tokens, so the session keeps refreshing (an app would pass its auth library's getToken).
  const state = await keyhole.restore();
  const user = state.status === 'signed-in' && userOf(prefixOf(state));
  if (user && !userStarted) keyhole.setTokenSource(demoToken(user.username));
}

init();
