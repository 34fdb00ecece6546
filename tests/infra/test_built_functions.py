"""The arm64 `bootstrap` binaries that `sam build` produced, run as Lambda would run them: under
qemu-aarch64, each polling a stand-in Lambda Runtime API on 127.0.0.1, with the AWS SDK pointed at an
in-process moto server (CloudFront and Secrets Manager) and the CloudFormation response URL on the
same loopback server. Key setup creates the key pair; the signer then loads it from the secret and
issues cookies whose signature verifies against the public key in the key group.

It needs `make sam-build` first (make test-infra runs it before this file) and qemu-user with the
arm64 C library (the Makefile installs both).
"""

import base64
import json
import os
import pathlib
import queue
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from moto.server import ThreadedMotoServer

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
ARM64_SYSROOT = "/usr/aarch64-linux-gnu"
TIMEOUT = 60  # seconds for one invocation under emulation


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeLambda(ThreadingHTTPServer):
    """The Runtime API (next / response / error) plus the pre-signed response URL."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.events: "queue.Queue[dict]" = queue.Queue()
        self.results: "queue.Queue[tuple[str, dict]]" = queue.Queue()
        self.cfn_responses: "queue.Queue[dict]" = queue.Queue()
        self.count = 0

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"


class Handler(BaseHTTPRequestHandler):
    server: FakeLambda

    def log_message(self, *_):
        pass

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/2018-06-01/runtime/invocation/next":
            return self._answer(404)
        try:
            event = self.server.events.get(timeout=TIMEOUT * 2)
        except queue.Empty:
            return self._answer(500)
        self.server.count += 1
        self._answer(200, json.dumps(event).encode(), {
            "Lambda-Runtime-Aws-Request-Id": f"invocation-{self.server.count}",
            "Lambda-Runtime-Deadline-Ms": "4102444800000",
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:key-setup",
            "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            "Content-Type": "application/json",
        })

    def do_POST(self):
        body = self._body()
        kind = self.path.rsplit("/", 1)[-1]
        self.server.results.put((kind, json.loads(body or b"{}")))
        self._answer(202)

    def do_PUT(self):
        self.server.cfn_responses.put(json.loads(self._body()))
        self._answer(200)


@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def launch(function: str, runtime: FakeLambda, moto_url: str, extra_env: dict) -> subprocess.Popen:
    """Start `sam build`'s arm64 bootstrap for `function` under qemu, as Lambda would."""
    bootstrap = BUILD / function / "bootstrap"
    assert bootstrap.exists(), f"{bootstrap} is missing: run `make sam-build` first"
    qemu = shutil.which("qemu-aarch64")
    assert qemu, "qemu-aarch64 is missing: `make test-infra` installs qemu-user"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": runtime.address,
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_url,
        **extra_env,
    }
    return subprocess.Popen([qemu, "-L", ARM64_SYSROOT, str(bootstrap)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def runtime_factory():
    servers = []

    def make() -> FakeLambda:
        server = FakeLambda()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="module")
def fake_lambda(runtime_factory):
    return runtime_factory()


@pytest.fixture(scope="module")
def key_setup(moto_url, fake_lambda):
    proc = launch("KeySetupFunction", fake_lambda, moto_url, {})
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def invoke(fake_lambda, proc, event: dict) -> dict:
    fake_lambda.events.put(event)
    try:
        answer = fake_lambda.cfn_responses.get(timeout=TIMEOUT)
    except queue.Empty:
        proc.kill()
        pytest.fail(f"no CloudFormation response; function output:\n{proc.stdout.read()}")
    kind, _ = fake_lambda.results.get(timeout=TIMEOUT)
    assert kind == "response", f"the invocation ended in {kind}"
    return answer


def cfn_event(request_type: str, response_url: str, secret_arn: str, physical_id: str | None = None) -> dict:
    fixture = {"Create": "create.json", "Update": "update.json", "Delete": "delete.json"}[request_type]
    event = json.loads((ROOT / "functions" / "key-setup" / "testdata" / fixture).read_text())
    event["ResponseURL"] = response_url
    event["ResourceProperties"]["SecretId"] = secret_arn
    if "OldResourceProperties" in event:
        event["OldResourceProperties"]["SecretId"] = secret_arn
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    return event


def test_the_built_key_setup_creates_and_keeps_the_key_pair(moto_url, fake_lambda, key_setup):
    secrets = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_url,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    cloudfront = boto3.client("cloudfront", region_name="us-east-1", endpoint_url=moto_url,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    arn = secrets.create_secret(Name="keyhole-built-key-setup")["ARN"]
    url = f"http://{fake_lambda.address}/cfn-response?X-Amz-Signature=test"

    created = invoke(fake_lambda, key_setup, cfn_event("Create", url, arn))
    assert created["Status"] == "SUCCESS", created["Reason"]
    group_id = created["PhysicalResourceId"]
    assert created["Data"] == {"KeyGroupId": group_id}
    stored = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    assert stored["privateKeyPem"].startswith("-----BEGIN PRIVATE KEY-----")
    group = cloudfront.get_key_group(Id=group_id)["KeyGroup"]["KeyGroupConfig"]
    assert group["Items"] == [stored["keyPairId"]]
    public = cloudfront.get_public_key(Id=stored["keyPairId"])["PublicKey"]["PublicKeyConfig"]
    assert public["EncodedKey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE KEY" not in json.dumps(created)

    updated = invoke(fake_lambda, key_setup, cfn_event("Update", url, arn, group_id))
    assert updated["Status"] == "SUCCESS", updated["Reason"]
    assert updated["PhysicalResourceId"] == group_id
    assert cloudfront.get_key_group(Id=group_id)["KeyGroup"]["KeyGroupConfig"]["Items"] == group["Items"]
    assert json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"]) == stored


def test_the_built_key_setup_answers_a_bad_request_with_failed(moto_url, fake_lambda, key_setup):
    url = f"http://{fake_lambda.address}/cfn-response?X-Amz-Signature=bad"
    event = cfn_event("Create", url, "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope")
    event["ResourceProperties"].pop("SecretId")
    answer = invoke(fake_lambda, key_setup, event)
    assert answer["Status"] == "FAILED"
    assert "SecretId" in answer["Reason"]


# --- the signer, fed by what key setup stored ----------------------------------------------------

TOKEN_DATA = ROOT / "crates" / "keyhole-token" / "testdata"
SIGNER_EVENTS = ROOT / "functions" / "signer" / "testdata"
ASSET_BASE_URL = "https://d111111abcdef8.cloudfront.net"


def cf_b64decode(value: str) -> bytes:
    return base64.b64decode(value.replace("-", "+").replace("_", "=").replace("~", "/"))


def invoke_http(runtime: FakeLambda, proc, event: dict) -> dict:
    runtime.events.put(event)
    try:
        kind, answer = runtime.results.get(timeout=TIMEOUT)
    except queue.Empty:
        proc.kill()
        pytest.fail(f"no answer from the signer; its output:\n{proc.stdout.read()}")
    assert kind == "response", f"the invocation ended in {kind}: {answer}"
    return answer


@pytest.fixture(scope="module")
def signer_with_stored_key(moto_url, fake_lambda, key_setup, runtime_factory):
    """Key setup stores a key pair in a fresh secret; the built signer starts with the settings the
    template gives it (an OIDC issuer here, with its key set preloaded from a file: no internet)."""
    secrets = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_url,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    arn = secrets.create_secret(Name="keyhole-built-signer")["ARN"]
    url = f"http://{fake_lambda.address}/cfn-response?X-Amz-Signature=signer"
    created = invoke(fake_lambda, key_setup, cfn_event("Create", url, arn))
    assert created["Status"] == "SUCCESS", created["Reason"]
    runtime = runtime_factory()
    proc = launch("SignerFunction", runtime, moto_url, {
        "OIDC_ISSUER": "https://issuer.example",
        "OIDC_AUDIENCE": "photo-app",
        "JWKS_FILE": str(TOKEN_DATA / "jwks.json"),
        "ASSET_BASE_URL": ASSET_BASE_URL,
        # The fixture events come from the app's origin, which may call /session.
        "ALLOWED_ORIGINS": "https://app.example.com",
        "SESSION_SCOPES": "/users/{sub}/*",
        "SESSION_TTL_SECONDS": "3600",
        "SIGNING_KEY_SECRET_ID": arn,
        "COOKIE_SAMESITE": "Lax",
        "TOKEN_USE": "id",
    })
    yield runtime, proc, created["PhysicalResourceId"]
    proc.kill()
    proc.wait(timeout=10)


def test_the_built_signer_issues_cookies_that_verify_against_the_key_group(moto_url, signer_with_stored_key):
    runtime, proc, group_id = signer_with_stored_key
    token = (TOKEN_DATA / "oidc-rs256.jwt").read_text().strip()
    event = json.loads((SIGNER_EVENTS / "apigw-v2-post-session-bearer.json").read_text().replace("{{TOKEN}}", token))
    answer = invoke_http(runtime, proc, event)
    assert answer["statusCode"] == 200, answer
    body = json.loads(answer["body"])
    sub = "0b7c1e2a-5f1d-4c1e-9f0a-3d2b1c0e9f8a"
    assert body["scopes"] == [f"/users/{sub}/*"]

    cookies = {}
    for header in answer.get("cookies", []):
        name, _, rest = header.partition("=")
        cookies[name] = rest.split(";", 1)[0]
        assert "Secure" in header and "HttpOnly" in header, header
    policy = cf_b64decode(cookies["CloudFront-Policy"])
    statement = json.loads(policy)["Statement"][0]
    assert statement["Resource"] == f"{ASSET_BASE_URL}/users/{sub}/*"

    # What CloudFront does at the edge: find the key pair id in the trusted key group and check
    # the signature over the policy with that public key.
    cloudfront = boto3.client("cloudfront", region_name="us-east-1", endpoint_url=moto_url,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    key_pair_id = cookies["CloudFront-Key-Pair-Id"]
    assert key_pair_id in cloudfront.get_key_group(Id=group_id)["KeyGroup"]["KeyGroupConfig"]["Items"]
    pem = cloudfront.get_public_key(Id=key_pair_id)["PublicKey"]["PublicKeyConfig"]["EncodedKey"]
    public_key = load_pem_public_key(pem.encode())
    assert cookies.get("CloudFront-Hash-Algorithm") == "SHA256"
    public_key.verify(cf_b64decode(cookies["CloudFront-Signature"]), policy, ec.ECDSA(hashes.SHA256()))


def test_the_built_signer_refuses_a_request_without_a_token(signer_with_stored_key):
    runtime, proc, _ = signer_with_stored_key
    event = json.loads((SIGNER_EVENTS / "apigw-v2-post-session-bearer.json").read_text())
    del event["headers"]["authorization"]
    answer = invoke_http(runtime, proc, event)
    assert answer["statusCode"] == 401, answer
    assert json.loads(answer["body"])["error"] == "invalid_token"
