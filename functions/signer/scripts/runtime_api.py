"""What the scripts driving the signer's Lambda binary share: the test identity provider's token
and the environment a Lambda function gets, with the signer's configuration for the fixtures."""

import base64
import json
import os
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "testdata")
ISSUER = "https://issuer.keyhole.test"
AUDIENCE = "keyhole-web"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint() -> str:
    """An RS256 token from the test identity provider (testdata/jwt-rsa.pem), valid 30 minutes."""
    with open(os.path.join(TESTDATA, "jwt-rsa.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    now = int(time.time())
    header = {"alg": "RS256", "kid": "keyhole-test-1", "typ": "JWT"}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "3f1c9a52-7e0b-4b7e-9d51-2c1f0e8a6b21",
              "iat": now, "exp": now + 1800}
    signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode()))
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(sig)


def env_for(base: dict, **signer_vars: str) -> dict:
    """This process's environment, the variables Lambda sets, the signer's configuration for the
    fixtures (their token issuer and key set, their app origin), then `base` and `signer_vars`."""
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": "keyhole-signer",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/keyhole-signer",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_REGION": "us-east-1",
        "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
        "ASSET_BASE_URL": "https://d111111abcdef8.cloudfront.net",
        # The fixture comes from the app's origin, which may call /session.
        "ALLOWED_ORIGINS": "https://app.example.com",
        "OIDC_ISSUER": ISSUER,
        "OIDC_AUDIENCE": AUDIENCE,
        "JWKS_FILE": os.path.join(TESTDATA, "jwks.json"),
    })
    env.update(base)
    env.update(signer_vars)
    return env
