#!/usr/bin/env python3
"""Run the signer's real Lambda binary against a local Lambda Runtime API and feed it N sessions.

A minimal stand-in for the Lambda service's Runtime API (next / response / error endpoints, on
127.0.0.1) serves the API Gateway v2 fixture `apigw-v2-post-session-bearer.json` with a freshly
minted RS256 token N times, checks every answer is a 200 with the CloudFront cookies in the
payload-2.0 `cookies` field, then reads the process's peak resident memory (VmHWM) and stops it.

usage: runtime-bench.py BINARY [N] [rsa|ecdsa] [-- LAUNCHER...]
  BINARY    the bootstrap (e.g. target/release/keyhole-signer, or the arm64 bootstrap)
  LAUNCHER  optional command prefix, e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu` (under qemu,
            VmHWM is qemu's own, which includes the emulator; use a native build for memory)
Needs the `cryptography` package (in .venv: moto depends on it).
"""

import http.server
import json
import os
import subprocess
import sys
import threading
import time

from runtime_api import TESTDATA, env_for, mint


def main() -> int:
    args = sys.argv[1:]
    launcher = []
    if "--" in args:
        i = args.index("--")
        args, launcher = args[:i], args[i + 1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    binary = args[0]
    total = int(args[1]) if len(args) > 1 else 10_000
    kind = args[2] if len(args) > 2 else "ecdsa"
    pem = {"rsa": "cloudfront-rsa.pem", "ecdsa": "cloudfront-ecdsa.pem"}[kind]

    with open(os.path.join(TESTDATA, "apigw-v2-post-session-bearer.json")) as f:
        event = f.read().replace("{{TOKEN}}", mint()).encode()

    state = {"served": 0, "ok": 0, "bad": [], "started": None, "finished": None}
    done = threading.Event()
    lock = threading.Lock()

    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def reply(self, code, body=b"", headers=()):
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if not self.path.endswith("/runtime/invocation/next"):
                return self.reply(404)
            with lock:
                if state["served"] >= total:
                    n = None
                else:
                    state["served"] += 1
                    n = state["served"]
                    if state["started"] is None:
                        state["started"] = time.monotonic()
            if n is None:
                # Everything was served: hold the long poll until the process is stopped.
                done.wait()
                time.sleep(3600)
                return
            deadline = int(time.time() * 1000) + 30_000
            self.reply(200, event, [
                ("Content-Type", "application/json"),
                ("Lambda-Runtime-Aws-Request-Id", f"req-{n}"),
                ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                ("Lambda-Runtime-Invoked-Function-Arn",
                 "arn:aws:lambda:us-east-1:123456789012:function:keyhole-signer"),
                ("Lambda-Runtime-Trace-Id", f"Root=1-00000000-{n:024x};Sampled=0"),
            ])

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            self.reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
            with lock:
                if self.path.endswith("/response"):
                    resp = json.loads(body)
                    cookies = resp.get("cookies", [])
                    if resp.get("statusCode") == 200 and len(cookies) == 5:
                        state["ok"] += 1
                    elif len(state["bad"]) < 3:
                        state["bad"].append(resp)
                else:
                    state["bad"].append({"path": self.path, "body": body.decode(errors="replace")})
                if state["ok"] + len(state["bad"]) >= total or self.path.endswith("/init/error"):
                    state["finished"] = time.monotonic()
                    done.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    env = env_for({"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"},
                  SIGNING_KEY_FILE=os.path.join(TESTDATA, pem), KEY_PAIR_ID="K2JCJMDEHXQW5F")
    proc = subprocess.Popen(launcher + [binary], env=env)
    finished = done.wait(timeout=1800)
    hwm = "?"
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            hwm = next(line.split(":", 1)[1].strip() for line in f if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        pass
    proc.terminate()
    proc.wait(timeout=10)
    server.shutdown()
    if not finished or state["bad"]:
        print(f"FAILED: ok={state['ok']} bad={state['bad'][:3]}", file=sys.stderr)
        return 1
    secs = state["finished"] - state["started"]
    print(f"{kind}: {state['ok']}/{total} sessions through the Runtime API in {secs:.2f} s "
          f"({total / secs:.0f}/s wall, bounded by this Python emulator), peak RSS (VmHWM) {hwm}, binary {os.path.getsize(binary)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
