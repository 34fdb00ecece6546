// Runs the shared table of edge-check cases (cases.json) against index.js under node, evaluating
// the source the way CloudFront Functions does: a bare script in a fresh context (no require, no
// module system, no process), whose global `handler(event)` is called with a viewer-request event.
// Run: node --test functions/edge-check/test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

const here = new URL('.', import.meta.url);
const source = readFileSync(new URL('index.js', here), 'utf8');
const table = JSON.parse(readFileSync(new URL('cases.json', here), 'utf8'));
const CONFIG_LINE = /^const SIGN_IN_URL = '';$/m;

// What deployment does to the one config line.
function withSignInUrl(src, url) {
  return src.replace(CONFIG_LINE, () => `const SIGN_IN_URL = '${url.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}';`);
}

function load(signInUrl) {
  const src = signInUrl ? withSignInUrl(source, signInUrl) : source;
  const context = vm.createContext({});
  return vm.runInContext(`${src}\n;handler`, context, { filename: 'index.js' });
}

test('the function fits CloudFront limits and keeps its config line', () => {
  assert.ok(Buffer.byteLength(source) < 10 * 1024, 'CloudFront Functions must be under 10 KB');
  assert.equal(source.match(/^const SIGN_IN_URL = .*$/gm).length, 1);
  assert.match(source, CONFIG_LINE);
  assert.doesNotMatch(source, /\brequire\s*\(|^\s*import\s/m, 'no modules');
});

test('the sign-in url rewrite lands in the function', () => {
  const handler = load("https://app.example.com/it's");
  const html = { method: 'GET', uri: '/x', querystring: {}, headers: { accept: { value: 'text/html' } }, cookies: {} };
  assert.equal(handler({ request: html }).headers.location.value, "https://app.example.com/it's");
});

test('the table of cases is not empty', () => {
  assert.ok(table.cases.length >= 10);
});

function checkResult(result, expect, request) {
  if (expect.pass) {
    assert.deepEqual(result, request, 'the request must come back unchanged');
    return;
  }
  assert.equal(result.statusCode, expect.statusCode);
  for (const [name, want] of Object.entries(expect.headers || {})) {
    const got = result.headers && result.headers[name] && result.headers[name].value;
    assert.equal(typeof got, 'string', `header ${name} is missing`);
    if (want.endsWith('*')) {
      assert.ok(got.startsWith(want.slice(0, -1)), `header ${name}: ${got} should start with ${want.slice(0, -1)}`);
    } else {
      assert.equal(got, want, `header ${name}`);
    }
  }
  if (expect.bodyJson) {
    assert.equal(result.body.encoding, 'text');
    const body = JSON.parse(result.body.data);
    for (const [k, v] of Object.entries(expect.bodyJson)) {
      assert.deepEqual(body[k], v, `body field ${k}`);
    }
  }
}

for (const c of table.cases) {
  test(c.name, () => {
    const handler = load(c.signInUrl);
    const event = structuredClone(c.event);
    const original = structuredClone(c.event.request);
    checkResult(handler(event), c.expect, original);
  });
}
