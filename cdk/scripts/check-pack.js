// Checks the tarball `npm pack` made, unpacked in PACKAGE_DIR: it holds the compiled library, its
// types and README and nothing of the tests or the example, and it works from outside the
// repository: required as an app would require it, it makes a Keyhole stack from a checkout
// given as sourceDir. Peer dependencies (aws-cdk-lib, constructs) come from NODE_PATH, as an app
// would provide them. Usage: node check-pack.js PACKAGE_DIR KEYHOLE_CHECKOUT
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const [packageDir, checkout] = process.argv.slice(2).map((p) => path.resolve(p));
assert.ok(packageDir && checkout, 'usage: node check-pack.js PACKAGE_DIR KEYHOLE_CHECKOUT');

const files = [];
(function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    entry.isDirectory() ? walk(full) : files.push(path.relative(packageDir, full));
  }
})(packageDir);
for (const needed of ['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/keyhole.d.ts']) {
  assert.ok(files.includes(needed), `the package lacks ${needed}`);
}
const stray = files.filter((f) => /^(dist\/(test|example)|src|test|example|node_modules)\//.test(f));
assert.deepEqual(stray, [], 'the package carries files an app does not need');

const { App, Stack } = require('aws-cdk-lib');
const { Template } = require('aws-cdk-lib/assertions');
const { Keyhole } = require(packageDir);
const newStack = () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new Stack(app, 'Packed', { env: { account: '111111111111', region: 'us-east-1' } });
};
const cognito = { userPoolId: 'eu-west-1_AbC123', userPoolClientId: 'c' };
// Unpacked outside the repository, the default sourceDir is no checkout: a clear error.
assert.throws(() => new Keyhole(newStack(), 'Keyhole', cognito), /is not a Keyhole checkout/);
const stack = newStack();
new Keyhole(stack, 'Keyhole', { ...cognito, sourceDir: checkout });
const resources = Template.fromStack(stack).toJSON().Resources;
assert.equal(resources.SignerFunction.Type, 'AWS::Serverless::Function');
console.log(`keyhole-cdk package: ${files.length} files, loads and builds a stack from ${checkout}`);
