"""Signs the long-lived fixture tokens in this folder with the test keys, using Python's
`cryptography` (an implementation independent of the Rust code under test).

The tokens expire in 2100 so tests that load them do not rot; the keys are test-only.
usage: ../../../.venv/bin/python make-fixture-tokens.py
"""
import base64, json
from pathlib import Path
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.serialization import load_pem_private_key

def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

CLAIMS = {
    "iss": "https://issuer.example", "sub": "0b7c1e2a-5f1d-4c1e-9f0a-3d2b1c0e9f8a",
    "aud": "photo-app", "iat": 1767225600, "exp": 4102444800,
    "email": "fixture@example.com", "preferred_username": "fixture", "groups": ["readers"],
}

for kid, alg, out in [("rsa-a", "RS256", "oidc-rs256.jwt"), ("ec-a", "ES256", "oidc-es256.jwt")]:
    key = load_pem_private_key(Path(f"{kid}.pem").read_bytes(), None)
    header = {"alg": alg, "kid": kid, "typ": "JWT"}
    signing_input = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(CLAIMS).encode())).encode()
    if alg == "RS256":
        sig = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    else:
        r, s = utils.decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    Path(out).write_text(signing_input.decode() + "." + b64(sig) + "\n")
