// Cross-check of the keyhole signer against an independent implementation, the AWS JavaScript
// signer (@aws-sdk/cloudfront-signer): same key, same inputs, same output.
//
// RSA PKCS#1 v1.5 is deterministic, so cookies and URLs must match byte for byte. ECDSA is
// randomised, so everything but the signature must match, and each side must verify the other's
// signature (ours with node:crypto, the AWS signer's with `keyhole verify`). Both hashes are
// checked for both key types; "DEFAULT" passes no algorithm to the AWS signer, which then signs
// with SHA-1 (CloudFront's default when no Hash-Algorithm is sent, ECDSA keys included).
//
// Run by `make test-node`; KEYHOLE_BIN points at the built binary (default target/debug/keyhole).

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createPublicKey, verify } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { getSignedCookies, getSignedUrl } from "@aws-sdk/cloudfront-signer";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = process.env.KEYHOLE_BIN ?? join(root, "target", "debug", "keyhole");
const testdata = (name) => join(root, "crates", "keyhole-core", "testdata", name);
const pem = (name) => readFileSync(testdata(name), "utf8");

const HOST = "https://d111111abcdef8.cloudfront.net";
const URL_ = `${HOST}/users/u1/cat.png`;
const URL_Q = `${HOST}/users/u1/cat.png?size=big&v=2`;
const SCOPE = `${HOST}/users/u1/*`;
// Quotes, a backslash, non-ASCII, U+2028 and a control character: serde_json and JSON.stringify
// must escape them identically or the signed bytes differ.
const ODD = `${HOST}/users/u1/"quoted"\\back-\u00fcn\u00ef-\u2028-\u0007.png`;
const EXPIRES = "2026-01-01T18:00:00Z"; // 1767290400
const EXPIRES_S = "1767290400";
const STARTS = "2025-12-31T18:00:00Z"; // 1767204000
const STARTS_S = "1767204000";
const IP = "192.0.2.0/24";
const KEY_PAIR_ID = "K2JCJMDEHXQW5F";

// Our own key file and the AWS signer's may be different encodings of the same key.
const KEYS = [
  { name: "RSA-2048 PKCS#8", ours: "rsa2048_pkcs8.pem", theirs: "rsa2048_pkcs8.pem", pub: "rsa2048_public.pem", hashes: ["SHA1", "SHA256"], deterministic: true },
  { name: "RSA-2048 PKCS#1", ours: "rsa2048_pkcs1.pem", theirs: "rsa2048_pkcs8.pem", pub: "rsa2048_public.pem", hashes: ["SHA1", "SHA256"], deterministic: true },
  { name: "ECDSA P-256 SEC1", ours: "ec_p256_sec1.pem", theirs: "ec_p256_pkcs8.pem", pub: "ec_p256_public.pem", hashes: ["DEFAULT", "SHA1", "SHA256"], deterministic: false },
];

// A custom policy for a wildcard resource, built independently of keyhole with JSON.stringify.
const wildcardPolicy = JSON.stringify({
  Statement: [{ Resource: SCOPE, Condition: { DateLessThan: { "AWS:EpochTime": Number(EXPIRES_S) } } }],
});

// stderr is captured: the fixed expiry below is past, so each signing warns (--allow-past), and a
// refusal's reason is printed by keyholeVerifies.
function keyhole(args) {
  return execFileSync(bin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

// keyhole's --hash, and node:crypto's digest name, for each AWS signer setting (its default is SHA-1).
const HASH_NAME = { DEFAULT: "sha1", SHA1: "sha1", SHA256: "sha256" };

function cases(key, hash) {
  // The expiry is a fixed (now past) date so outputs are reproducible; verification uses --at.
  const base = ["--key", testdata(key.ours), "--key-pair-id", KEY_PAIR_ID, "--hash", HASH_NAME[hash], "--allow-past"];
  const aws = { keyPairId: KEY_PAIR_ID, privateKey: pem(key.theirs), ...(hash === "DEFAULT" ? {} : { algorithm: hash }) };
  return [
    {
      what: "canned cookies",
      ours: () => JSON.parse(keyhole(["sign", "cookies", ...base, "--canned", "--resource", URL_, "--expires", EXPIRES_S])),
      theirs: () => getSignedCookies({ ...aws, url: URL_, dateLessThan: EXPIRES }),
      policy: (c) => JSON.stringify({ Statement: [{ Resource: URL_, Condition: { DateLessThan: { "AWS:EpochTime": Number(c["CloudFront-Expires"]) } } }] }),
      verifyArgs: ["--request-url", URL_],
    },
    {
      what: "custom cookies with start time and IP",
      ours: () => JSON.parse(keyhole(["sign", "cookies", ...base, "--resource", URL_, "--expires", EXPIRES, "--starts", STARTS_S, "--ip", IP])),
      theirs: () => getSignedCookies({ ...aws, url: URL_, dateLessThan: EXPIRES, dateGreaterThan: STARTS, ipAddress: IP }),
      verifyArgs: ["--request-url", URL_, "--ip", "192.0.2.10"],
    },
    {
      what: "custom cookies for a wildcard resource",
      ours: () => JSON.parse(keyhole(["sign", "cookies", ...base, "--resource", SCOPE, "--expires", EXPIRES_S])),
      theirs: () => getSignedCookies({ ...aws, policy: wildcardPolicy }),
      verifyArgs: ["--request-url", URL_],
    },
    {
      what: "custom cookies for a resource that needs JSON escaping",
      ours: () => JSON.parse(keyhole(["sign", "cookies", ...base, "--resource", ODD, "--expires", EXPIRES_S, "--starts", STARTS_S])),
      theirs: () => getSignedCookies({ ...aws, url: ODD, dateLessThan: EXPIRES, dateGreaterThan: STARTS }),
      verifyArgs: ["--request-url", ODD],
    },
    {
      what: "canned URL with a query string",
      ours: () => keyhole(["sign", "url", ...base, "--canned", "--url", URL_Q, "--expires", EXPIRES_S]),
      theirs: () => getSignedUrl({ ...aws, url: URL_Q, dateLessThan: EXPIRES }),
    },
    {
      what: "custom URL with start time and IP",
      ours: () => keyhole(["sign", "url", ...base, "--url", URL_, "--expires", EXPIRES_S, "--starts", STARTS, "--ip", IP]),
      theirs: () => getSignedUrl({ ...aws, url: URL_, dateLessThan: EXPIRES, dateGreaterThan: STARTS, ipAddress: IP }),
      verifyArgs: ["--ip", "192.0.2.10"],
    },
    {
      what: "custom URL under a wildcard policy",
      ours: () => keyhole(["sign", "url", ...base, "--url", URL_, "--resource", SCOPE, "--expires", EXPIRES_S]),
      theirs: () => getSignedUrl({ ...aws, url: URL_, policy: wildcardPolicy }),
    },
  ];
}

// Splits a cookie object or signed URL into (signature, everything else, policy bytes).
function dissect(result, c) {
  const unb64 = (s) => Buffer.from(s.replace(/-/g, "+").replace(/_/g, "=").replace(/~/g, "/"), "base64");
  if (typeof result === "string") {
    const u = new URL(result);
    const sig = u.searchParams.get("Signature");
    const rest = result.replace(`Signature=${sig}`, "Signature=<sig>");
    let policy;
    if (u.searchParams.get("Policy")) policy = unb64(u.searchParams.get("Policy"));
    else {
      const plain = result.slice(0, result.indexOf("Expires=") - 1);
      policy = Buffer.from(JSON.stringify({ Statement: [{ Resource: plain, Condition: { DateLessThan: { "AWS:EpochTime": Number(u.searchParams.get("Expires")) } } }] }));
    }
    return { sig: unb64(sig), sigText: sig, rest, policy };
  }
  const { "CloudFront-Signature": sig, ...rest } = result;
  const policy = result["CloudFront-Policy"] ? unb64(result["CloudFront-Policy"]) : Buffer.from(c.policy(result));
  return { sig: unb64(sig), sigText: sig, rest: wire(rest), policy };
}

function keyholeVerifies(key, result, c) {
  const args = ["verify", "--public-key", testdata(key.pub), "--at", "1767250000"];
  if (typeof result === "string") args.push("--url", result);
  else args.push("--cookies", Object.entries(result).map(([k, v]) => `${k}=${v}`).join("; "));
  args.push(...(c.verifyArgs ?? []));
  try {
    keyhole(args);
    return true;
  } catch (e) {
    process.stderr.write(String(e.stderr ?? e));
    return false;
  }
}

// Cookie values travel as strings; the AWS signer returns CloudFront-Expires as a number in its
// object, keyhole prints it as a string, so values are compared in their wire (string) form.
const wire = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, String(v)]).sort()));

let failures = 0;
let passes = 0;
function check(ok, label, detail) {
  if (ok) {
    passes++;
    console.log(`ok - ${label}`);
  } else {
    failures++;
    console.log(`not ok - ${label}${detail ? `\n  ${detail}` : ""}`);
  }
}

for (const key of KEYS) {
  for (const hash of key.hashes) {
    for (const c of cases(key, hash)) {
      const label = `${key.name} ${hash} ${c.what}`;
      const ours = c.ours();
      const theirs = c.theirs();
      if (key.deterministic) {
        const a = typeof ours === "string" ? ours : wire(ours);
        const b = typeof theirs === "string" ? theirs : wire(theirs);
        check(a === b, `${label}: identical to the AWS signer`, `ours:   ${a}\n  theirs: ${b}`);
      } else {
        const o = dissect(ours, c);
        const t = dissect(theirs, c);
        check(o.rest === t.rest, `${label}: identical apart from the ECDSA signature`, `ours:   ${o.rest}\n  theirs: ${t.rest}`);
        check(o.policy.equals(t.policy), `${label}: same policy bytes`);
        const pub = createPublicKey(pem(key.pub));
        check(verify(HASH_NAME[hash], o.policy, pub, o.sig), `${label}: node:crypto verifies our DER signature`);
      }
      check(keyholeVerifies(key, theirs, c), `${label}: keyhole verify accepts the AWS signer's output`);
    }
  }
}

console.log(`\ncross-check: ${passes} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
