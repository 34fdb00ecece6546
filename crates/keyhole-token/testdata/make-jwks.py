"""Regenerates jwks.json from the test keys in this folder (test-only keys, committed on purpose).

The keys were made with `openssl genpkey` (RSA 2048, P-256, P-384, Ed25519); this script publishes their
public halves the way an issuer would, independently of the Rust code under test.
usage: ../../../.venv/bin/python make-jwks.py > jwks.json
"""
import base64, json, sys
from pathlib import Path
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.hazmat.primitives.asymmetric import rsa, ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

def b64(n: int, size: int) -> str:
    return base64.urlsafe_b64encode(n.to_bytes(size, "big")).rstrip(b"=").decode()

keys = []
for kid in ["rsa-a", "rsa-b", "ec-a", "ec-b", "ec384-a", "ed-a"]:
    key = load_pem_private_key(Path(f"{kid}.pem").read_bytes(), None).public_key()
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        keys.append({"kty": "OKP", "kid": kid, "use": "sig", "crv": "Ed25519",
                     "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()})
    elif isinstance(key, rsa.RSAPublicKey):
        nums = key.public_numbers()
        keys.append({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                     "n": b64(nums.n, (nums.n.bit_length() + 7) // 8), "e": b64(nums.e, 3)})
    else:
        nums = key.public_numbers()
        size = (key.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384"}[key.curve.name]
        keys.append({"kty": "EC", "kid": kid, "use": "sig", "crv": crv,
                     "x": b64(nums.x, size), "y": b64(nums.y, size)})
json.dump({"keys": keys}, sys.stdout, indent=2)
sys.stdout.write("\n")
