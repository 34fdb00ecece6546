#!/usr/bin/env python3
"""Start-up and per-invocation cost of the signer's real Lambda binary, through a local Lambda
Runtime API on 127.0.0.1, with its signing key in Secrets Manager (moto), at several memory sizes.

Lambda gives a function CPU in proportion to its memory: one full vCPU at 1,769 MB (AWS's Lambda
developer guide, "Memory and computing power"). Each memory size is stood in for by a cgroup (v1)
CPU quota of MB/1769 of one core, over a 20 ms period, on the process and its threads. Without
cgroup access (not root, no /sys/fs/cgroup/cpu) the sizes are skipped and only the unthrottled
figures are printed.

Per run (a fresh process each time):
  init    exec -> the first GET /2018-06-01/runtime/invocation/next: configuration, the secret
          fetched from Secrets Manager and parsed, the token verifier built;
  first   the first invocation: event handed over -> response received (the first verify and sign);
  warm    the median of the following invocations, and their p99;
  CPU     user+system CPU per warm invocation, from /proc/PID/stat.
The medians over RUNS runs are printed, then for each memory size the cost per million sessions
from the billed duration (rounded up to 1 ms) at AWS's published arm64 price (us-east-1).

usage: lambda-startup.py BINARY --moto URL [--runs N] [--invocations M] [--sizes 128,256,512]
Needs boto3 (in .venv, with moto) and the `cryptography` package.
"""

import argparse
import http.server
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_api import TESTDATA, env_for, mint  # noqa: E402

# https://aws.amazon.com/lambda/pricing/ (US East (N. Virginia), Arm): per GB-second and per request.
ARM_GB_SECOND = 0.0000133334
PER_REQUEST = 0.20 / 1_000_000
FULL_VCPU_MB = 1769
CGROUP_ROOT = "/sys/fs/cgroup/cpu"
PERIOD_US = 20_000
SECRET_ID = "keyhole/bench-signing-key"


class Invocations:
    """A Runtime API that hands out `total` events and times each one."""

    def __init__(self, event: bytes, total: int):
        self.event, self.total = event, total
        self.lock = threading.Lock()
        self.served = 0
        self.first_next = None
        self.sent = {}
        self.durations = []
        self.bad = []
        self.done = threading.Event()
        self.pid = None
        self.cpu_after_first = None

    def handler(self):
        inv = self

        class RuntimeApi(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per answer, sent at once: headers and body written apart would meet the
            # client's delayed ACK (Nagle), 40 ms that belong to this emulator, not to the signer.
            disable_nagle_algorithm = True
            wbufsize = 1 << 16

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
                now = time.monotonic()
                with inv.lock:
                    if inv.first_next is None:
                        inv.first_next = now
                    n = None if inv.served >= inv.total else inv.served + 1
                    if n is not None:
                        inv.served = n
                if n is None:
                    inv.done.wait()
                    time.sleep(3600)
                    return
                headers = [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", f"req-{n}"),
                    ("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000)),
                    ("Lambda-Runtime-Invoked-Function-Arn",
                     "arn:aws:lambda:us-east-1:123456789012:function:keyhole-signer"),
                ]
                with inv.lock:
                    inv.sent[f"req-{n}"] = time.monotonic()
                self.reply(200, inv.event, headers)

            def do_POST(self):
                now = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
                request_id = self.path.split("/")[-2] if "/invocation/" in self.path else None
                with inv.lock:
                    ok = False
                    if self.path.endswith("/response") and request_id in inv.sent:
                        resp = json.loads(body)
                        ok = resp.get("statusCode") == 200 and len(resp.get("cookies", [])) >= 3
                        inv.durations.append(now - inv.sent[request_id])
                        if len(inv.durations) == 1:
                            inv.cpu_after_first = cpu_seconds(inv.pid)
                    if not ok:
                        inv.bad.append(body.decode(errors="replace")[:300])
                    if len(inv.durations) + len(inv.bad) >= inv.total or self.path.endswith("/init/error"):
                        inv.done.set()

        return RuntimeApi


class QuietServer(http.server.ThreadingHTTPServer):
    """Stopping the process cuts its held long poll: that reset is expected, not worth a trace."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of `pid`, in nanoseconds' precision (schedstat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def make_cgroup(memory_mb):
    if memory_mb is None:
        return None
    path = os.path.join(CGROUP_ROOT, f"keyhole-bench-{memory_mb}")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "cpu.cfs_period_us"), "w") as f:
        f.write(str(PERIOD_US))
    with open(os.path.join(path, "cpu.cfs_quota_us"), "w") as f:
        f.write(str(max(1000, PERIOD_US * memory_mb // FULL_VCPU_MB)))
    return path


def one_run(binary, env, event, invocations, cgroup):
    inv = Invocations(event, invocations)
    server = QuietServer(("127.0.0.1", 0), inv.handler())
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    run_env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    # The process joins the cgroup before it execs the binary, so init is throttled too.
    argv = [binary] if cgroup is None else \
        ["/bin/sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$0"', binary]
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=run_env)
    inv.pid = proc.pid
    try:
        if not inv.done.wait(timeout=600):
            raise RuntimeError("the signer did not finish its invocations in 600 s")
        cpu_total = cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.shutdown()
    if inv.bad:
        raise RuntimeError(f"unexpected answers: {inv.bad[:2]}")
    warm = sorted(inv.durations[1:])
    return {
        "init": inv.first_next - started,
        "first": inv.durations[0],
        "warm": statistics.median(warm),
        "p99": warm[min(len(warm) - 1, math.ceil(0.99 * len(warm)) - 1)],
        "cpu": (cpu_total - inv.cpu_after_first) / (invocations - 1),
    }


def record(key: str, value: str) -> None:
    """Appends one figure to $BENCH_RESULTS (the file `make bench` turns into one table), if set."""
    path = os.environ.get("BENCH_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(f"{key}\t{value}\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--moto", required=True, help="moto server URL for Secrets Manager")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--invocations", type=int, default=300)
    ap.add_argument("--sizes", default="128,256,512,1024")
    ap.add_argument("--key", choices=["rsa", "ecdsa"], default="ecdsa")
    args = ap.parse_args()

    aws = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
               AWS_ENDPOINT_URL=args.moto)
    os.environ.update(aws)
    pem = {"rsa": "cloudfront-rsa.pem", "ecdsa": "cloudfront-ecdsa.pem"}[args.key]
    with open(os.path.join(TESTDATA, pem)) as f:
        secret = json.dumps({"keyPairId": "K2JCJMDEHXQW5F", "privateKeyPem": f.read()})
    sm = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=args.moto)
    try:
        sm.create_secret(Name=SECRET_ID, SecretString=secret)
    except sm.exceptions.ResourceExistsException:
        sm.put_secret_value(SecretId=SECRET_ID, SecretString=secret)

    env = env_for(aws, SIGNING_KEY_SECRET_ID=SECRET_ID)
    with open(os.path.join(TESTDATA, "apigw-v2-post-session-bearer.json")) as f:
        event = f.read().replace("{{TOKEN}}", mint()).encode()

    can_throttle = os.access(CGROUP_ROOT, os.W_OK)
    sizes = [None] + ([int(s) for s in args.sizes.split(",")] if can_throttle else [])
    if not can_throttle:
        print(f"(no writable {CGROUP_ROOT}: memory sizes skipped, unthrottled figures only)")
    print(f"signer {os.path.basename(args.binary)} ({os.path.getsize(args.binary):,} bytes), key {args.key}, "
          f"{args.runs} runs x {args.invocations} invocations, medians; CPU quota over {PERIOD_US // 1000} ms periods")
    print(f"{'memory':>9} {'CPU share':>9} {'init ms':>8} {'first ms':>9} {'warm ms':>8} {'p99 ms':>7} "
          f"{'CPU ms/inv':>10} {'$/1M sessions':>14}")
    for size in sizes:
        cgroup = make_cgroup(size)
        try:
            runs = [one_run(args.binary, env, event, args.invocations, cgroup) for _ in range(args.runs)]
        finally:
            if cgroup:
                os.rmdir(cgroup)
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        share = "1 core" if size is None else f"{size / FULL_VCPU_MB:.3f}"
        label = "unlimited" if size is None else f"{size} MB"
        cost = "" if size is None else \
            f"{1e6 * (PER_REQUEST + size / 1024 * math.ceil(med['warm'] * 1000) / 1000 * ARM_GB_SECOND):.3f}"
        print(f"{label:>9} {share:>9} {med['init'] * 1e3:8.1f} {med['first'] * 1e3:9.2f} {med['warm'] * 1e3:8.2f} "
              f"{med['p99'] * 1e3:7.2f} {med['cpu'] * 1e3:10.3f} {cost:>14}")
        key = "unlimited" if size is None else str(size)
        for name in ("init", "first", "warm", "p99", "cpu"):
            record(f"lambda.{key}.{name}_ms", f"{med[name] * 1e3:.3f}")
        if cost:
            record(f"lambda.{key}.cost_per_million", cost)
    print("cost: $0.20 per million requests + MB/1024 x billed seconds (warm median rounded up to 1 ms)"
          f" x ${ARM_GB_SECOND}/GB-s; API Gateway and CloudFront are the same at every size")
    return 0


if __name__ == "__main__":
    sys.exit(main())
