#!/usr/bin/env python3
"""The Python peer on keyhole's work: verify an RS256 ID token with PyJWT, then sign a CloudFront
custom-policy cookie set for the user's prefix with botocore's CloudFrontSigner (RSA-2048, SHA-1:
botocore signs nothing else). Single thread; the rate is per CPU-second (time.process_time).

  - "as documented": PyJWKClient fetching the key set (here from a loopback server, once: it caches
    it) and `get_signing_key_from_jwt` per token, as PyJWT's docs show; botocore's docs give
    CloudFrontSigner an `rsa_signer` that reads and parses the PEM file on every call.
  - "key parsed once": the same, with the private key loaded once.

botocore has no cookie helper: the cookie values are its policy and signature, base64'd its way.

usage: peers.py SECONDS   (run from make bench, in bench/peers/.venv)
"""

import base64
import datetime
import http.server
import json
import os
import sys
import threading
import time

import jwt
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "functions", "signer", "testdata")
ISSUER = "https://issuer.keyhole.test"
AUDIENCE = "keyhole-web"
SUB = "3f1c9a52-7e0b-4b7e-9d51-2c1f0e8a6b21"
DOMAIN = "https://d111111abcdef8.cloudfront.net"
KEY_PAIR_ID = "K2JCJMDEHXQW5F"
PEM_FILE = os.path.join(TESTDATA, "cloudfront-rsa.pem")


def read(name: str) -> bytes:
    with open(os.path.join(TESTDATA, name), "rb") as f:
        return f.read()


def mint() -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": SUB, "token_use": "id", "iat": now, "exp": now + 1800}
    return jwt.encode(claims, read("jwt-rsa.pem"), algorithm="RS256", headers={"kid": "keyhole-test-1"})


def serve_jwks() -> str:
    body = read("jwks.json")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/jwks.json"


def documented_rsa_signer(message: bytes) -> bytes:
    with open(PEM_FILE, "rb") as key_file:
        private_key = serialization.load_pem_private_key(key_file.read(), password=None)
    return private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())


_KEY = serialization.load_pem_private_key(read("cloudfront-rsa.pem"), password=None)


def loaded_rsa_signer(message: bytes) -> bytes:
    return _KEY.sign(message, padding.PKCS1v15(), hashes.SHA1())


def cf_b64(data: bytes) -> str:
    return base64.b64encode(data).decode().replace("+", "-").replace("=", "_").replace("/", "~")


def session(jwks_client, signer, token) -> dict:
    signing_key = jwks_client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    policy = signer.build_policy(f"{DOMAIN}/users/{claims['sub']}/*", expires).encode()
    return {
        "CloudFront-Policy": cf_b64(policy),
        "CloudFront-Signature": cf_b64(signer.rsa_signer(policy)),
        "CloudFront-Key-Pair-Id": KEY_PAIR_ID,
    }


def rate(name, jwks_client, rsa_signer, token, seconds):
    signer = CloudFrontSigner(KEY_PAIR_ID, rsa_signer)
    for _ in range(100):
        session(jwks_client, signer, token)
    cpu0, wall0, n = time.process_time(), time.monotonic(), 0
    while time.monotonic() - wall0 < seconds:
        session(jwks_client, signer, token)
        n += 1
    cpu = time.process_time() - cpu0
    print(f"{name} {n / cpu:.0f} sessions per CPU-second ({n} in {cpu:.2f} CPU-s)")


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    token = mint()
    jwks_client = jwt.PyJWKClient(serve_jwks())
    rate("python-as-documented", jwks_client, documented_rsa_signer, token, seconds)
    rate("python-key-parsed-once", jwks_client, loaded_rsa_signer, token, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
