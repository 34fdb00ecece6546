// Runs the shared table of edge-check cases (cases.json) against index.js under node, evaluating
// the source the way CloudFront Functions does: a module in a fresh context (no require, no
// process) whose only imports are CloudFront's `cloudfront` (here a fake KeyValueStore per case)
// and `crypto` (node's own createHash), and whose top-level `handler(event)` is awaited.
// Run: node --experimental-vm-modules --test functions/edge-check/test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import nodeCrypto from 'node:crypto';
import vm from 'node:vm';

const here = new URL('.', import.meta.url);
const source = readFileSync(new URL('index.js', here), 'utf8');
const table = JSON.parse(readFileSync(new URL('cases.json', here), 'utf8'));
const CONFIG_LINE = /^const SIGN_IN_URL = '';$/m;

// What deployment does to the one config line.
function withSignInUrl(src, url) {
  return src.replace(CONFIG_LINE, () => `const SIGN_IN_URL = '${url.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}';`);
}

// What `cf.kvs()` hands the function: absent (no store associated: kvs() throws), an object of
// keys and string values, or 'unreadable' (every read fails). exists and get behave as CloudFront
// documents them: get rejects for a missing key.
function fakeCloudfront(kvs) {
  const fail = () => Promise.reject(new Error('the key value store could not be read'));
  return {
    kvs() {
      if (kvs === undefined) {
        throw new Error('no key value store is associated with this function');
      }
      if (kvs === 'unreadable') {
        return { exists: fail, get: fail };
      }
      const has = (k) => Object.prototype.hasOwnProperty.call(kvs, k);
      return {
        exists: async (k) => has(k),
        get: async (k) => {
          if (!has(k)) {
            throw new Error('Key not found');
          }
          return kvs[k];
        },
      };
    },
  };
}

async function load(signInUrl, kvs) {
  const src = signInUrl ? withSignInUrl(source, signInUrl) : source;
  const context = vm.createContext({});
  const modules = {
    cloudfront: fakeCloudfront(kvs),
    crypto: { createHash: (alg) => nodeCrypto.createHash(alg) },
  };
  // CloudFront calls the top-level `handler`; the extra line only hands it out of the module.
  const mod = new vm.SourceTextModule(`${src}\nglobalThis.handler = handler;`, { context, identifier: 'index.js' });
  await mod.link(async (name) => {
    assert.ok(name in modules, `the function imports ${name}, which CloudFront Functions do not offer`);
    return new vm.SyntheticModule(['default'], function init() {
      this.setExport('default', modules[name]);
    }, { context });
  });
  await mod.evaluate();
  return context.handler;
}

test('the function fits CloudFront limits and keeps its config line', () => {
  assert.ok(Buffer.byteLength(source) < 10 * 1024, 'CloudFront Functions must be under 10 KB');
  assert.equal(source.match(/^const SIGN_IN_URL = .*$/gm).length, 1);
  assert.match(source, CONFIG_LINE);
  assert.doesNotMatch(source, /\brequire\s*\(/, 'no require');
  const imports = source.match(/^\s*import\s.*$/gm);
  assert.deepEqual(imports, ["import cf from 'cloudfront';", "import crypto from 'crypto';"], 'only the modules CloudFront offers');
});

test('the sign-in url rewrite lands in the function', async () => {
  const handler = await load("https://app.example.com/it's");
  const html = { method: 'GET', uri: '/x', querystring: {}, headers: { accept: { value: 'text/html' } }, cookies: {} };
  assert.equal((await handler({ request: html })).headers.location.value, "https://app.example.com/it's");
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
  test(c.name, async () => {
    const handler = await load(c.signInUrl, c.kvs);
    const event = structuredClone(c.event);
    const original = structuredClone(c.event.request);
    checkResult(await handler(event), c.expect, original);
  });
}
