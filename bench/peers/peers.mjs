// The JavaScript peer on keyhole's work: verify a Cognito-style RS256 ID token, then sign a
// CloudFront custom-policy cookie set for the user's prefix with an RSA-2048 key. Single thread;
// the rate is per CPU-second of this process (process.cpuUsage), as `openssl speed` counts.
//   - "as documented": aws-jwt-verify's verifier created once with the key set cached (its README,
//     "cacheJwks"), and @aws-sdk/cloudfront-signer's getSignedCookies given the PEM text, as its
//     README shows: the key is parsed on every call.
//   - "key parsed once": the same, with the private key parsed once into a KeyObject.
// usage: node peers.mjs SECONDS   (run from make bench; keys from functions/signer/testdata)
import { createPrivateKey, createSign } from "node:crypto";
import { readFileSync } from "node:fs";
import { JwtRsaVerifier } from "aws-jwt-verify";
import { getSignedCookies } from "@aws-sdk/cloudfront-signer";

const seconds = Number(process.argv[2] ?? 3);
const testdata = new URL("../../functions/signer/testdata/", import.meta.url);
const read = (name) => readFileSync(new URL(name, testdata), "utf8");
const ISSUER = "https://issuer.keyhole.test";
const AUDIENCE = "keyhole-web";
const SUB = "3f1c9a52-7e0b-4b7e-9d51-2c1f0e8a6b21";
const DOMAIN = "https://d111111abcdef8.cloudfront.net";

const b64url = (buf) => Buffer.from(buf).toString("base64url");
function mint() {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: "RS256", kid: "keyhole-test-1", typ: "JWT" };
  const claims = { iss: ISSUER, aud: AUDIENCE, sub: SUB, token_use: "id", iat: now, exp: now + 1800 };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign("RSA-SHA256").update(input).sign(read("jwt-rsa.pem"));
  return `${input}.${b64url(signature)}`;
}

const token = mint();
const verifier = JwtRsaVerifier.create({ issuer: ISSUER, audience: AUDIENCE, jwksUri: `${ISSUER}/jwks.json` });
verifier.cacheJwks(JSON.parse(read("jwks.json")));
const pem = read("cloudfront-rsa.pem");
const keyObject = createPrivateKey(pem);

async function session(privateKey) {
  const payload = await verifier.verify(token);
  const policy = JSON.stringify({
    Statement: [{
      Resource: `${DOMAIN}/users/${payload.sub}/*`,
      Condition: { DateLessThan: { "AWS:EpochTime": Math.floor(Date.now() / 1000) + 3600 } },
    }],
  });
  const cookies = getSignedCookies({ keyPairId: "K2JCJMDEHXQW5F", privateKey, policy });
  if (!cookies["CloudFront-Signature"]) throw new Error("no signature");
}

async function rate(name, privateKey) {
  for (let i = 0; i < 200; i++) await session(privateKey);
  const start = process.cpuUsage();
  const wallStart = performance.now();
  let n = 0;
  while (performance.now() - wallStart < seconds * 1000) {
    await session(privateKey);
    n++;
  }
  const used = process.cpuUsage(start);
  const cpu = (used.user + used.system) / 1e6;
  console.log(`${name} ${(n / cpu).toFixed(0)} sessions per CPU-second (${n} in ${cpu.toFixed(2)} CPU-s)`);
}

await rate("js-as-documented", pem);
await rate("js-key-parsed-once", keyObject);
