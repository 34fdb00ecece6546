#!/usr/bin/env python3
"""A soak of `keyhole serve`: mixed traffic for a set time while faults come and go.

Starts the keyhole binary with an external OpenID Connect issuer on 127.0.0.1 (this script),
whose key-set endpoint goes down, turns slow past the fetch timeout, answers garbage, and
publishes a second key that clients then switch to. Meanwhile worker threads run, in a loop:
a session (POST /session with a good token, GET an asset with the cookies, DELETE /session),
a bad token, an asset GET without cookies, a token with a kid nobody published (which makes the
verifier refetch, at most once per cool-down, into whatever fault is on); and bursts of hostile
clients (heads past 20,480 bytes, slow clients that never finish their head).

Every answer must be the one expected for its kind; the process's RSS is sampled from start to
end. Prints the figures; exits 1 on any unexpected status or if RSS grew by more than half.

usage: soak.py KEYHOLE_BINARY [SECONDS]
Needs the `cryptography` package (in .venv).
"""

import base64
import http.client
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
TESTDATA = os.path.join(ROOT, "functions", "signer", "testdata")
AUDIENCE = "keyhole-soak"
ALICE = "6f1d2c8e-4b7a-4e3f-9c21-8a5d3b0e7f14"  # a demo user's folder in the demo bucket
ASSET = f"/users/{ALICE}/pattern.png"
WORKERS = 6


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwk(key, kid):
    pub = key.public_key().public_numbers()
    n = pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")
    e = pub.e.to_bytes((pub.e.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64url(n), "e": b64url(e)}


class Issuer:
    """Discovery and JWKS on loopback, with a fault mode the timeline sets."""

    def __init__(self):
        with open(os.path.join(TESTDATA, "jwt-rsa.pem"), "rb") as f:
            self.keys = {"k1": serialization.load_pem_private_key(f.read(), None)}
        self.keys["k2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published = ["k1"]
        self.mode = "up"
        self.hits = Counter()
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_):
                pass

            def reply(self, code, body):
                body = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # the verifier gave up on a slow answer

            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    return self.reply(200, json.dumps({"issuer": issuer.url, "jwks_uri": issuer.url + "/keys"}))
                mode = issuer.mode
                issuer.hits[mode] += 1
                if mode == "down":
                    return self.reply(503, "")
                if mode == "slow":
                    time.sleep(12)  # past the verifier's 8 s fetch timeout
                if mode == "garbage":
                    return self.reply(200, "<html>502 Bad Gateway</html>")
                keys = [jwk(issuer.keys[k], k) for k in issuer.published]
                return self.reply(200, json.dumps({"keys": keys}))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, kid, sign_with=None):
        now = int(time.time())
        header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
        claims = {"iss": self.url, "aud": AUDIENCE, "sub": ALICE, "iat": now, "exp": now + 900}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        key = self.keys[sign_with or kid]
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(sig)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Soak:
    def __init__(self, port, issuer, seconds):
        self.port = port
        self.issuer = issuer
        self.seconds = seconds
        self.kid = "k1"
        self.tokens = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = Counter()
        self.unexpected = []
        self.latency = {}

    def token(self, kid):
        # A fresh token every few seconds per kid (minting is the client's cost, not the server's).
        now = time.monotonic()
        cached = self.tokens.get(kid)
        if cached is None or now - cached[0] > 5:
            cached = (now, self.issuer.token(kid, "k1" if kid.startswith("nobody") else None))
            self.tokens[kid] = cached
        return cached[1]

    def request(self, kind, method, path, headers, expect):
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            cookies = [v.split(";", 1)[0] for k, v in resp.getheaders() if k.lower() == "set-cookie"]
            conn.close()
        except (OSError, http.client.HTTPException) as e:
            status, cookies = f"error: {e}", []
        elapsed = time.monotonic() - started
        with self.lock:
            self.counts[(kind, status)] += 1
            self.latency.setdefault(kind, []).append(elapsed)
            if status not in expect and len(self.unexpected) < 20:
                self.unexpected.append((round(time.monotonic() - self.t0, 1), kind, status, self.issuer.mode))
            elif status not in expect:
                self.unexpected.append(None)
        return status, cookies

    def worker(self):
        while not self.stop.is_set():
            token = self.token(self.kid)
            _, cookies = self.request("session", "POST", "/session",
                                      {"Authorization": f"Bearer {token}"}, {200})
            jar = "; ".join(c for c in cookies if not c.endswith("="))
            self.request("asset", "GET", ASSET, {"Cookie": jar}, {200})
            self.request("asset-no-cookie", "GET", ASSET, {}, {401})
            self.request("bad-token", "POST", "/session", {"Authorization": "Bearer not.a.token"}, {401})
            self.request("logout", "DELETE", "/session", {"Cookie": jar}, {204})

    def prober(self):
        # A kid the issuer never published: the verifier refetches (once per cool-down) into
        # whatever fault is on, and the answer is always the signer's 401.
        n = 0
        while not self.stop.is_set():
            n += 1
            self.request("unknown-kid", "POST", "/session",
                         {"Authorization": f"Bearer {self.token(f'nobody-{n % 50}')}"}, {401})
            time.sleep(0.2)

    def hostile(self):
        while not self.stop.is_set():
            # A head past 20,480 bytes: 431 or a closed connection.
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                    s.sendall(f"GET {ASSET} HTTP/1.1\r\nHost: x\r\nCookie: j={'a' * 30000}\r\n\r\n".encode())
                    head = s.recv(64).decode(errors="replace")
                ok = head == "" or head.startswith("HTTP/1.1 431")
            except OSError:
                ok = True
            with self.lock:
                self.counts[("oversized-head", "431 or closed" if ok else "other")] += 1
                if not ok:
                    self.unexpected.append((round(time.monotonic() - self.t0, 1), "oversized-head", head[:20], ""))
            # Fifty slow clients that send half a head and stall; the server cuts them off.
            slow = []
            for _ in range(50):
                try:
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    slow.append(s)
                except OSError:
                    pass
            self.stop.wait(3)
            for s in slow:
                s.close()
            with self.lock:
                self.counts[("slow-client", "held 3 s")] += len(slow)

    def timeline(self):
        # (start second, mode, action), scaled to the soak's length (60 s as written).
        # Each fault lasts longer than the verifier's 10 s refetch cool-down, so the probes'
        # refetches meet every one; k2 is switched to after a refetch has had time to find it.
        steps = [(0, "up", None), (5, "down", None), (17, "up", None), (18, "up", "publish-k2"),
                 (30, "up", "switch-to-k2"), (31, "slow", None), (43, "up", None),
                 (46, "garbage", None), (58, "up", None)]
        scale = self.seconds / 60
        for at, mode, action in steps:
            if self.stop.wait(max(0.0, self.t0 + at * scale - time.monotonic())):
                return
            self.issuer.mode = mode
            if action == "publish-k2":
                self.issuer.published = ["k1", "k2"]
            elif action == "switch-to-k2":
                self.kid = "k2"

    def run(self, pid):
        self.t0 = time.monotonic()
        samples = []
        threads = [threading.Thread(target=self.worker) for _ in range(WORKERS)]
        threads += [threading.Thread(target=self.prober), threading.Thread(target=self.hostile),
                    threading.Thread(target=self.timeline)]
        for t in threads:
            t.start()
        # The first sample once every thread is running (5 s in), then every 10 s to the end.
        for at in [5] + list(range(10, self.seconds, 10)) + [self.seconds]:
            time.sleep(max(0.0, self.t0 + at - time.monotonic()))
            samples.append((at, rss_kib(pid)))
        self.stop.set()
        for t in threads:
            t.join(timeout=60)
        return samples


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    issuer = Issuer()
    port = free_port()
    state = tempfile.mkdtemp(prefix="keyhole-soak-")
    env = dict(os.environ, OIDC_ISSUER=issuer.url, OIDC_AUDIENCE=AUDIENCE, RUST_LOG="warn")
    log_path = os.path.join(state, "serve.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([binary, "serve", "--port", str(port), "--state-dir", state],
                            env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        soak = Soak(port, issuer, seconds)
        # Warm up: the first session fetches the key set.
        soak.request("warm-up", "POST", "/session", {"Authorization": f"Bearer {issuer.token('k1')}"}, {200})
        samples = soak.run(proc.pid)
        alive = proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    total = sum(n for (kind, _), n in soak.counts.items() if kind not in ("slow-client",))
    print(f"keyhole serve soak: {seconds} s, {WORKERS} session workers, faults at the issuer: "
          f"down, slow (12 s, past the 8 s fetch timeout), garbage, a new key published and switched to")
    print(f"  requests answered: {total} ({total / seconds:.0f}/s); issuer key-set hits by mode: {dict(soak.issuer.hits)}")
    for (kind, status), n in sorted(soak.counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        print(f"  {kind:<16} {str(status):<14} {n}")
    for kind, values in sorted(soak.latency.items()):
        values.sort()
        p = lambda q: values[min(len(values) - 1, int(q * len(values)))] * 1000
        print(f"  latency {kind:<16} p50 {p(0.5):7.1f} ms  p99 {p(0.99):7.1f} ms  max {values[-1] * 1000:7.1f} ms")
    print("  RSS (KiB) at seconds: " + ", ".join(f"{t}s {kib}" for t, kib in samples))
    unexpected = [u for u in soak.unexpected if u is not None]
    failures = []
    if soak.unexpected:
        failures.append(f"{len(soak.unexpected)} unexpected answers, first: {unexpected[:10]}")
    if not alive:
        failures.append("keyhole serve exited during the soak")
    start_rss, end_rss = samples[0][1], samples[-1][1]
    if end_rss > start_rss * 1.5:
        failures.append(f"RSS grew from {start_rss} to {end_rss} KiB")
    log.close()
    with open(log_path, errors="replace") as f:
        warnings = Counter(line.split(" ", 2)[-1][:90].strip() for line in f if "WARN" in line or "ERROR" in line)
    for line, n in warnings.most_common(8):
        print(f"  log x{n}: {line}")
    if failures:
        print("SOAK FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print(f"  zero unexpected statuses; RSS {start_rss} -> {end_rss} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
