// The demo flow in real headless Chromium (Debian's chromium, driven by playwright-core), against a
// running `keyhole serve` at KEYHOLE_URL (make test-browser starts one on a free loopback port).
//   - sign in as alice on the demo page: every one of her <img> tags renders, bob's does not;
//   - her <video> plays past its first second (served with Range requests);
//   - a page that only sets a `token` cookie gets an asset through /session/bridge;
//   - after logout, a fresh asset request fails, an image seen before does not render again from the
//     browser's cache, and navigating to it ends at the sign-in page (the browser's normal cache
//     throughout: assets come as Cache-Control: private, no-cache);
//   - a page on another origin that auto-submits a login form (login CSRF) leaves no session;
//   - `keyhole revoke --prefix` of the member's group: the page's next asset requests answer 401
//     session_revoked, and the session client's silent refresh brings the images back, no click;
//   - `keyhole rotate --state-dir` while a page is signed in: its images keep loading (new <img>
//     tags and a reload) with the pre-rotation cookies, and a new sign-in gets cookies whose
//     CloudFront-Key-Pair-Id is the new key's.
// The screenshot is kept in tests/artifacts/ (git-ignored) as the test's artifact.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE = process.env.KEYHOLE_URL;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

let profiles = [];

async function freshBrowser() {
  // A fresh profile per context: no cookie or cache carries over between scenarios.
  const dir = mkdtempSync(join(tmpdir(), 'keyhole-chromium-'));
  profiles.push(dir);
  return chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: ARGS });
}

before(() => {
  assert.ok(BASE, 'set KEYHOLE_URL to a running keyhole serve (make test-browser does)');
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(() => {
  for (const dir of profiles) rmSync(dir, { recursive: true, force: true });
});

async function settled(page, selector) {
  await page.waitForFunction(
    (sel) => [...document.querySelectorAll(sel)].every((el) => el.dataset.state === 'loaded' || el.dataset.state === 'failed'),
    selector,
    { timeout: 15000 },
  );
}

test('alice sees her images and video, not bob\'s, and loses access after logout', async () => {
  const context = await freshBrowser();
  try {
    const page = context.pages()[0] || (await context.newPage());
    const ranges = [];
    page.on('response', (r) => { if (r.url().endsWith('/clip.webm')) ranges.push(r.status()); });
    await page.goto(BASE + '/');
    await page.waitForSelector('body[data-ready="yes"]');
    await page.click('#signin-alice');
    await page.waitForSelector('body[data-session="active"]', { timeout: 15000 });
    await settled(page, 'img.own, #foreign');

    const own = await page.$$eval('img.own', (imgs) => imgs.map((i) => ({ src: i.src, w: i.naturalWidth, state: i.dataset.state })));
    assert.ok(own.length >= 2, 'the gallery has images');
    for (const img of own) {
      assert.equal(img.state, 'loaded', img.src);
      assert.ok(img.w > 0, `${img.src} rendered with naturalWidth ${img.w}`);
    }
    const foreign = await page.$eval('#foreign', (i) => ({ src: i.src, w: i.naturalWidth, state: i.dataset.state }));
    assert.match(foreign.src, /\/users\/c93e0a57-2d14-4f8b-b6e2-1f7a9d4c3e28\//, 'the foreign image is bob\'s');
    assert.equal(foreign.state, 'failed');
    assert.equal(foreign.w, 0);

    // The video plays past its first second.
    await page.$eval('#clip', (v) => { v.muted = true; return v.play(); });
    await page.waitForFunction(() => document.getElementById('clip').currentTime > 1.0, null, { timeout: 15000 });
    const t = await page.$eval('#clip', (v) => v.currentTime);
    assert.ok(t > 1.0, `played to ${t}s`);
    assert.ok(ranges.length > 0 && ranges.every((s) => s === 200 || s === 206), `clip responses: ${ranges}`);

    await page.screenshot({ path: join(ARTIFACTS, 'browser-demo.png'), fullPage: true });

    // Logout clears the cookies: a request for one of her assets, through the browser's normal
    // cache, now fails.
    const asset = own[0].src;
    await page.click('#logout');
    await page.waitForSelector('body[data-session="none"]');
    const status = await page.evaluate(async (url) => (await fetch(url)).status, asset);
    assert.equal(status, 401, `after logout ${asset} answered ${status}`);
    const left = (await context.cookies()).filter((c) => c.name.startsWith('CloudFront-'));
    assert.deepEqual(left, [], 'no CloudFront cookie survives logout');

    // An image that rendered before does not render again from the cache ...
    const again = await page.evaluate((url) => new Promise((resolve) => {
      const img = new Image();
      img.onload = () => resolve({ state: 'loaded', w: img.naturalWidth });
      img.onerror = () => resolve({ state: 'failed', w: img.naturalWidth });
      img.src = url;
    }), asset);
    assert.deepEqual(again, { state: 'failed', w: 0 }, `after logout ${asset} rendered from the cache`);
    // ... and navigating to it ends at the sign-in page, not at the cached copy.
    await page.goto(asset);
    assert.equal(new URL(page.url()).pathname, '/', `navigation after logout ended at ${page.url()}`);
  } finally {
    await context.close();
  }
});

test('a page that only sets a token cookie gets its image through the bridge', async () => {
  const context = await freshBrowser();
  try {
    const page = context.pages()[0] || (await context.newPage());
    const hops = [];
    page.on('response', (r) => hops.push(`${r.status()} ${new URL(r.url()).pathname}`));
    await page.goto(BASE + '/demo/classic.html');
    assert.deepEqual((await context.cookies()).map((c) => c.name), [], 'starts with no cookies');
    await page.click('#go');
    await page.waitForFunction(() => ['loaded', 'failed'].includes(document.getElementById('bridged').dataset.state), null, { timeout: 15000 });
    const img = await page.$eval('#bridged', (i) => ({ w: i.naturalWidth, state: i.dataset.state }));
    assert.equal(img.state, 'loaded', `hops: ${hops.join(', ')}`);
    assert.ok(img.w > 0);
    assert.ok(hops.some((h) => h.startsWith('302 /session/bridge')), `went through the bridge: ${hops.join(', ')}`);
    const names = (await context.cookies()).map((c) => c.name);
    assert.ok(names.includes('CloudFront-Signature'), `signed cookies set: ${names}`);
    await page.screenshot({ path: join(ARTIFACTS, 'browser-bridge.png') });
  } finally {
    await context.close();
  }
});

/** Serves `html` at / on another loopback origin (a different port is a different origin). */
async function otherOrigin(html) {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  // closeAllConnections: the browser keeps its connection alive, which close() would wait out.
  const close = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  return { url: `http://127.0.0.1:${server.address().port}/`, close };
}

test('a page on another origin that auto-submits a login form leaves the visitor with no session', async () => {
  // The attacker's own token (any account they hold), planted through a text/plain form whose
  // body reads as JSON: {"token":"<jwt>","x":"="}.
  const issued = await fetch(BASE + '/idp/token', { method: 'POST', body: new URLSearchParams({ username: 'bob' }) });
  const attackerToken = (await issued.json()).id_token;
  const field = JSON.stringify(`{"token":"${attackerToken}","x":"`).slice(1, -1).replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  const evil = await otherOrigin(`<!doctype html><form method="POST" action="${BASE}/session" enctype="text/plain">
    <input type="hidden" name="${field}" value='"}'></form><script>document.forms[0].submit()</script>`);
  const context = await freshBrowser();
  try {
    const page = context.pages()[0] || (await context.newPage());
    const answered = page.waitForResponse((r) => r.url() === BASE + '/session', { timeout: 15000 });
    await page.goto(evil.url);
    const resp = await answered;
    assert.equal(resp.request().method(), 'POST');
    assert.equal(resp.status(), 403, 'the cross-site login was refused');
    const names = (await context.cookies()).map((c) => c.name);
    assert.deepEqual(names.filter((n) => n.startsWith('CloudFront-') || n === 'Keyhole-Session'), [],
      `the visitor holds no session cookie: ${names}`);
  } finally {
    await context.close();
    await evil.close();
  }
});

/** A keyhole serve of its own, started with `env` (and `args`); resolves once it prints its URL. */
async function serveWith(env, args = []) {
  const { spawn } = await import('node:child_process');
  const state = mkdtempSync(join(tmpdir(), 'keyhole-serve-'));
  profiles.push(state);
  const child = spawn(process.env.KEYHOLE_BIN || 'target/debug/keyhole', ['serve', '--port', '0', '--state-dir', state, ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`keyhole serve printed no URL: ${out}`)), 15000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/up at (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => reject(new Error(`keyhole serve exited with ${code}: ${out}`)));
  });
  return { url, state, stop: () => child.kill() };
}

test('a page on a listed second origin shows a crossorigin="use-credentials" image', async () => {
  const ALICE = '6f1d2c8e-4b7a-4e3f-9c21-8a5d3b0e7f14';
  // The page's origin must be known before the stack starts, to be listed in ALLOWED_ORIGINS.
  let html = '';
  const app = createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(html); });
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  const appOrigin = `http://127.0.0.1:${app.address().port}`;
  const stack = await serveWith({ ALLOWED_ORIGINS: appOrigin });
  const context = await freshBrowser();
  try {
    html = `<!doctype html><img id="listed" crossorigin="use-credentials" src="${stack.url}/users/${ALICE}/pattern.png">`;
    const page = context.pages()[0] || (await context.newPage());
    // Sign in on the stack's own page, as a user would, then open the other site's page.
    await page.goto(stack.url + '/');
    await page.waitForSelector('body[data-ready="yes"]');
    await page.click('#signin-alice');
    await page.waitForSelector('body[data-session="active"]', { timeout: 15000 });
    await page.goto(appOrigin + '/');
    await page.waitForFunction(() => document.getElementById('listed').complete, null, { timeout: 15000 });
    const w = await page.$eval('#listed', (i) => i.naturalWidth);
    assert.ok(w > 0, 'the credentialed cross-origin image rendered');
    const read = await page.evaluate(async (url) => {
      try { return (await fetch(url, { credentials: 'include' })).status; } catch { return 'blocked'; }
    }, `${stack.url}/users/${ALICE}/pattern.png`);
    assert.equal(read, 200, 'a credentialed fetch from the listed origin may read the asset');
    // From an origin that is not listed, the same tag fails: the grant is what lets it through.
    const other = await otherOrigin(html);
    try {
      await page.goto(other.url);
      await page.waitForFunction(() => document.getElementById('listed').complete, null, { timeout: 15000 });
      assert.equal(await page.$eval('#listed', (i) => i.naturalWidth), 0, 'an unlisted origin got the image');
    } finally {
      await other.close();
    }
  } finally {
    await context.close();
    stack.stop();
    await new Promise((r) => { app.closeAllConnections(); app.close(r); });
  }
});

test('a reloaded page is still signed in, shows who, and the client refreshes before expiry so images keep loading', async () => {
  // The shortest lifetime the signer accepts (60 s): the client refreshes before it ends, and an
  // image loaded after the first session's cookies have expired still renders.
  const stack = await serveWith({ SESSION_TTL_SECONDS: '60' });
  const context = await freshBrowser();
  try {
    const page = context.pages()[0] || (await context.newPage());
    await page.goto(stack.url + '/');
    await page.waitForSelector('body[data-ready="yes"]');
    // The busy state can come and go within one frame (a local POST takes a millisecond), so
    // record every change of data-busy rather than poll for it.
    await page.evaluate(() => {
      window.busySeen = false;
      new MutationObserver((records) => {
        if (records.some((r) => r.oldValue !== null) || document.body.dataset.busy) window.busySeen = true;
      }).observe(document.body, { attributes: true, attributeFilter: ['data-busy'], attributeOldValue: true });
    });
    await page.click('#signin-alice');
    await page.waitForSelector('body[data-session="active"]', { timeout: 15000 });
    await page.waitForFunction(() => window.busySeen, null, { timeout: 5000 });
    assert.match(await page.textContent('#status'), /alice/, 'the page shows the user\'s name');
    const firstExpiry = await page.textContent('#expires-at');

    await page.reload();
    await page.waitForSelector('body[data-session="active"]', { timeout: 15000 });
    await settled(page, 'img.own');
    assert.ok((await page.$$eval('img.own', (imgs) => imgs.every((i) => i.naturalWidth > 0))), 'images render after a reload');

    // Past the first session's end: the client must have refreshed on its own.
    await page.waitForSelector('body[data-refreshes="1"], body[data-refreshes="2"]', { state: 'attached', timeout: 75000 });
    await page.waitForTimeout(8000);
    assert.notEqual(await page.textContent('#expires-at'), firstExpiry, 'the session was extended');
    const fresh = await page.evaluate(() => new Promise((resolve) => {
      const src = document.querySelector('img.own').src + '?after-refresh=' + Date.now();
      const img = new Image();
      img.onload = () => resolve(img.naturalWidth);
      img.onerror = () => resolve(0);
      img.src = src;
    }));
    assert.ok(fresh > 0, 'an image requested after the first cookies expired still renders');
  } finally {
    await context.close();
    stack.stop();
  }
});

test('revoking the group ends a member\'s session at the edge, and the client\'s silent refresh brings the images back', async () => {
  const ALICE = '6f1d2c8e-4b7a-4e3f-9c21-8a5d3b0e7f14';
  // The demo bucket with alice's pictures also under her group's prefix; the cookies are for the
  // group only (the demo users are in the group `demo`), so the page shows /groups/demo/.
  const assets = mkdtempSync(join(tmpdir(), 'keyhole-assets-'));
  profiles.push(assets);
  const bucket = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'crates', 'keyhole-serve', 'demo', 'bucket');
  cpSync(bucket, assets, { recursive: true });
  cpSync(join(bucket, 'users', ALICE), join(assets, 'groups', 'demo'), { recursive: true });
  const stack = await serveWith({ SESSION_SCOPES: '/groups/{group}/*' }, ['--assets', assets]);
  const context = await freshBrowser();
  try {
    const page = context.pages()[0] || (await context.newPage());
    const refused = [];
    page.on('response', async (r) => {
      if (r.url().includes('/groups/demo/') && r.status() === 401) refused.push(r.url());
    });
    await page.goto(stack.url + '/');
    await page.waitForSelector('body[data-ready="yes"]');
    await page.click('#signin-alice');
    await page.waitForSelector('body[data-session="active"]', { timeout: 15000 });
    await settled(page, 'img.own');
    assert.match(await page.$eval('img.own', (i) => i.src), /\/groups\/demo\//);
    assert.ok(await page.$$eval('img.own', (imgs) => imgs.every((i) => i.naturalWidth > 0)), 'the group\'s images render');

    // The operator revokes the group a second after the sign-in (revocations catch sessions
    // issued before their second).
    await page.waitForTimeout(1100);
    const { execFileSync } = await import('node:child_process');
    execFileSync(process.env.KEYHOLE_BIN || 'target/debug/keyhole', ['revoke', '--prefix', '/groups/demo/', '--state-dir', stack.state]);
    // Revocations count whole seconds: a session issued in the revocation's own second is refused
    // too. Let that second pass, so the silent refresh's new session is issued after it.
    await page.waitForTimeout(1100);

    // The page's next requests (the gallery asks for its pictures again) are refused at the edge;
    // nobody clicks anything.
    await page.$$eval('img.own', (imgs) => imgs.forEach((i) => { i.src = i.src + '?next=1'; }));
    await page.waitForSelector('body[data-refreshes="1"]', { state: 'attached', timeout: 15000 });
    await page.waitForFunction(
      () => [...document.querySelectorAll('img.own')].every((i) => i.src.endsWith('?v=1') && i.dataset.state === 'loaded' && i.naturalWidth > 0),
      null, { timeout: 15000 },
    );
    assert.ok(refused.length > 0, 'the revoked cookies were refused at the edge');
    assert.equal(await page.getAttribute('body', 'data-session'), 'active');
    await page.screenshot({ path: join(ARTIFACTS, 'browser-revoked-refreshed.png'), fullPage: true });
  } finally {
    await context.close();
    stack.stop();
  }
});

/** The CloudFront-Key-Pair-Id cookie a browser context holds. */
async function keyPairId(context) {
  const cookies = (await context.cookies()).filter((c) => c.name === 'CloudFront-Key-Pair-Id');
  assert.ok(cookies.length > 0, 'the context holds a CloudFront-Key-Pair-Id cookie');
  return cookies[0].value;
}

/** Adds `count` fresh <img> tags for `src` (cache-busted) and resolves their naturalWidths. */
function freshImages(page, src, tag, count) {
  return page.evaluate(({ src, tag, count }) => Promise.all([...Array(count).keys()].map((n) => new Promise((resolve) => {
    const img = document.createElement('img');
    img.onload = () => resolve(img.naturalWidth);
    img.onerror = () => resolve(0);
    img.src = `${src}?${tag}=${n}-${Date.now()}`;
    document.body.appendChild(img);
  }))), { src, tag, count });
}

test('a local rotation keeps a signed-in page loading its images, and a new sign-in gets the new key pair id', async () => {
  const STATE = process.env.KEYHOLE_STATE_DIR;
  assert.ok(STATE, 'KEYHOLE_STATE_DIR names the running stack\'s state folder (with-serve.sh exports it)');
  const context = await freshBrowser();
  const later = await freshBrowser();
  try {
    const page = context.pages()[0] || (await context.newPage());
    // Alice's own assets only: the demo page also shows that bob's are refused.
    const statuses = [];
    let own = null;
    page.on('response', (r) => { if (own && r.url().startsWith(own)) statuses.push(`${r.status()} ${r.url().slice(own.length)}`); });
    await page.goto(BASE + '/');
    await page.waitForSelector('body[data-ready="yes"]');
    await page.click('#signin-alice');
    await page.waitForSelector('body[data-session="active"]', { timeout: 15000 });
    await settled(page, 'img.own');
    const oldId = await keyPairId(context);
    const src = await page.$eval('img.own', (i) => i.src.split('?')[0]);
    own = src.slice(0, src.lastIndexOf('/') + 1);

    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(process.env.KEYHOLE_BIN || 'target/debug/keyhole', ['rotate', '--state-dir', STATE], { encoding: 'utf8' });
    const newId = (out.match(/new key pair id (K[A-Z0-9]+)/) || [])[1];
    assert.ok(newId, `keyhole rotate names the new key pair id: ${out}`);
    assert.notEqual(newId, oldId);

    // Right after the rotation, and after the stack has picked the new key up, the page's
    // pre-rotation cookies still load new images, and a reload renders the gallery.
    statuses.length = 0;
    for (const tag of ['just-rotated', 'picked-up']) {
      const widths = await freshImages(page, src, tag, 3);
      assert.ok(widths.every((w) => w > 0), `${tag}: new <img> tags render (${widths})`);
      await page.waitForTimeout(2500);
    }
    await page.reload();
    await page.waitForSelector('body[data-session="active"]', { timeout: 15000 });
    await settled(page, 'img.own');
    assert.ok(await page.$$eval('img.own', (imgs) => imgs.every((i) => i.dataset.state === 'loaded' && i.naturalWidth > 0)), 'the gallery renders after a reload');
    assert.equal(await keyPairId(context), oldId, 'the page still holds its pre-rotation cookies');
    assert.ok(statuses.length > 0 && statuses.every((s) => /^(200|206|304) /.test(s)), `alice's asset responses after the rotation: ${statuses}`);

    // A new sign-in (another browser) gets cookies signed with the new key, and its images render.
    const fresh = later.pages()[0] || (await later.newPage());
    await fresh.goto(BASE + '/');
    await fresh.waitForSelector('body[data-ready="yes"]');
    await fresh.click('#signin-alice');
    await fresh.waitForSelector('body[data-session="active"]', { timeout: 15000 });
    await settled(fresh, 'img.own');
    assert.equal(await keyPairId(later), newId, 'a sign-in after the rotation carries the new key pair id');
    assert.ok(await fresh.$$eval('img.own', (imgs) => imgs.every((i) => i.naturalWidth > 0)), 'its images render');
    await fresh.screenshot({ path: join(ARTIFACTS, 'browser-rotated.png'), fullPage: true });
  } finally {
    await context.close();
    await later.close();
  }
});
