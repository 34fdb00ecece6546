// The demo page: sign in with the development identity provider (or a pasted token), POST
// /session, then point <img> tags at the user's prefix. The browser sends the signed cookies.
'use strict';

const $ = (id) => document.getElementById(id);
let demoUsers = [];

function setStatus(text) { $('status').textContent = text; }

function claims(token) {
  const part = token.split('.')[1] || '';
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(atob(b64 + '='.repeat((4 - b64.length % 4) % 4)));
}

function watch(el) {
  el.dataset.state = 'loading';
  const ok = el.tagName === 'VIDEO' ? 'loadeddata' : 'load';
  el.addEventListener(ok, () => { el.dataset.state = 'loaded'; }, { once: true });
  el.addEventListener('error', () => { el.dataset.state = 'failed'; }, { once: true });
}

function render(session, sub) {
  const prefix = (session.scopes && session.scopes[0] || '').replace(/\*$/, '');
  $('prefix').textContent = prefix;
  for (const img of document.querySelectorAll('img.own')) { watch(img); img.src = prefix + img.dataset.name; }
  const clip = $('clip'); watch(clip); clip.src = prefix + clip.dataset.name;
  const other = demoUsers.find((u) => u.sub !== sub);
  const foreign = $('foreign');
  if (other) {
    watch(foreign);
    foreign.src = '/users/' + other.sub + '/secret.png';
    $('foreign-caption').textContent = other.username + "'s secret.png";
  }
  $('mine').hidden = false;
  $('logout').hidden = false;
  setStatus('Signed in' + (sub ? ' as ' + sub : '') + ' until ' + new Date(session.expiresAt * 1000).toLocaleTimeString() + '.');
  document.body.dataset.session = 'active';
}

async function startSession(token) {
  const r = await fetch('/session', { method: 'POST', headers: { Authorization: 'Bearer ' + token } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    setStatus('POST /session: ' + r.status + ' ' + (body.error_description || body.error || ''));
    return;
  }
  let sub = '';
  try { sub = claims(token).sub; } catch (e) { /* an opaque token: the scopes still say where to look */ }
  render(body, sub);
}

async function signInAs(username) {
  const r = await fetch('/idp/token', { method: 'POST', body: new URLSearchParams({ username }) });
  const body = await r.json();
  if (!r.ok) { setStatus('sign-in: ' + (body.error_description || r.status)); return; }
  await startSession(body.id_token);
}

async function logout() {
  await fetch('/session', { method: 'DELETE' });
  for (const el of document.querySelectorAll('#mine img, #mine video')) { el.removeAttribute('src'); delete el.dataset.state; }
  $('mine').hidden = true;
  $('logout').hidden = true;
  setStatus('Signed out.');
  document.body.dataset.session = 'none';
}

async function init() {
  const r = await fetch('/idp/users').catch(() => null);
  if (r && r.ok) {
    demoUsers = (await r.json()).users;
    for (const u of demoUsers) {
      const b = document.createElement('button');
      b.id = 'signin-' + u.username;
      b.textContent = 'Sign in as ' + u.username;
      b.addEventListener('click', () => signInAs(u.username));
      $('demo-users').appendChild(b);
    }
  }
  $('use-token').addEventListener('click', () => startSession($('token').value.trim()));
  $('logout').addEventListener('click', logout);
  document.body.dataset.ready = 'yes';
}

init();
