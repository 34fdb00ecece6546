#!/usr/bin/env bash
# Load figures for `keyhole serve` on loopback, all from one run (make bench):
#   - OpenSSL's sign rates on one core: the anchor (every POST /session signs cookies; keyhole serve
#     generates an ECDSA P-256 key, an RSA-2048 key in the state folder is used as it is);
#   - POST /session in-process (the signer handler called directly) vs over HTTP (wrk);
#   - cookie-authorised small-asset GETs per second (edge check + signed-cookie check + bucket);
#   - cold start: exec of `keyhole serve` to the first 200 from POST /session, keys already on disk.
# Targets (issue 5): HTTP >= 0.7x in-process; >= 5,000 asset GETs/s on 2 cores; cold start < 100 ms.
set -euo pipefail
cd "$(dirname "$0")/../../.."
SECONDS_EACH=${SECONDS_EACH:-5}
# The signing key's type: ecdsa (what keyhole serve generates) or rsa (an RSA-2048 key placed in the
# state folder first, as an existing CloudFront key group would have).
KEY_TYPE=${KEY_TYPE:-ecdsa}
CONNECTIONS=${CONNECTIONS:-16}
command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
command -v /usr/bin/time >/dev/null || { apt-get update && apt-get install -y time; }

cargo build --locked --quiet --profile local -p keyhole-cli --bin keyhole -p keyhole-serve --example session_rate
bin=target/local/keyhole
rate_bin=target/local/examples/session_rate
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# RUST_LOG=warn: the figures measure the stack, not its one access line per request.
start() {
    RUST_LOG=warn "$bin" serve --port "$1" --state-dir "$work/state" >"$work/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do curl -sf -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done
    cat "$work/serve.log" >&2; return 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
# CPU seconds (user + system) the running server has used so far.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$pid/stat"; }

if [ "$KEY_TYPE" = rsa ]; then
    mkdir -p "$work/state" "$work/keys"
    "$bin" keygen --type rsa --out "$work/keys" >/dev/null
    cp "$work/keys/private_key.pem" "$work/state/signing-key.pem"
fi

echo "== machine: $(nproc) cores; signing key: $KEY_TYPE; wrk ${SECONDS_EACH}s x $CONNECTIONS connections, 2 threads"
echo "== anchor: openssl speed rsa2048 ecdsap256 (one core)"
openssl speed -seconds 3 rsa2048 ecdsap256 2>/dev/null | grep -E '^rsa 2048|^ *256 bits ecdsa|sign/s'

port=$(free_port)
start "$port"
url="http://127.0.0.1:$port"
token=$(curl -sf -d username=alice "$url/idp/token" | sed -E 's/.*"id_token":"([^"]+)".*/\1/')
alice=6f1d2c8e-4b7a-4e3f-9c21-8a5d3b0e7f14

echo "== POST /session"
/usr/bin/time -f "%U %S" -o "$work/inproc.cpu" "$rate_bin" "$work/state" "$SECONDS_EACH" 2 | tee "$work/inproc.txt"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
LUA
cpu_before=$(server_cpu)
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" -s "$work/post.lua" "$url/session" | tee "$work/post.txt" | grep -E 'Requests/sec|Non-2xx|Latency'
cpu_after=$(server_cpu)
grep -q 'Non-2xx' "$work/post.txt" && { echo "POST /session answered errors under load" >&2; exit 1; }
# wrk shares the two cores with the server, so the wall-clock ratio also charges the load generator
# to keyhole; per CPU-second of the process doing the work, the two rates compare like for like.
python3 - "$work/inproc.txt" "$work/inproc.cpu" "$work/post.txt" "$cpu_before" "$cpu_after" <<'PY'
import re, sys
inproc, inproc_cpu, post, before, after = sys.argv[1:]
n = int(re.search(r"\((\d+) in", open(inproc).read()).group(1))
cpu = sum(float(x) for x in open(inproc_cpu).read().split()[-2:])
text = open(post).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
wall_http = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
wall_inproc = float(re.search(r": (\d+) sessions/s", open(inproc).read()).group(1))
server_cpu = float(after) - float(before)
per_cpu_inproc, per_cpu_http = n / cpu, requests / server_cpu
print(f"POST /session over HTTP / in-process: {wall_http / wall_inproc:.2f}x wall clock; "
      f"{per_cpu_http:.0f} vs {per_cpu_inproc:.0f} sessions per CPU-second = {per_cpu_http / per_cpu_inproc:.2f}x")
PY

echo "== cookie-authorised asset GET ($(stat -c %s crates/keyhole-serve/demo/bucket/users/$alice/pattern.png) bytes)"
cookies=$(curl -sf -D - -o /dev/null -X POST -H "Authorization: Bearer $token" "$url/session" \
    | tr -d '\r' | sed -nE 's/^set-cookie: (CloudFront-[^;]+);.*/\1/Ip' | paste -sd ';' | sed 's/;/; /g')
curl -sf -o /dev/null -H "Cookie: $cookies" "$url/users/$alice/pattern.png" || { echo "the asset is refused with fresh cookies" >&2; exit 1; }
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" -H "Cookie: $cookies" "$url/users/$alice/pattern.png" | tee "$work/get.txt" | grep -E 'Requests/sec|Non-2xx|Latency'
grep -q 'Non-2xx' "$work/get.txt" && { echo "asset GETs answered errors under load" >&2; exit 1; }
stop

echo "== cold start: exec to first 200 from POST /session (keys on disk), 10 runs"
python3 - "$bin" "$work/state" "$token" "$port" <<'PY'
import http.client, statistics, subprocess, sys, time
binary, state, token, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
times = []
for _ in range(10):
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--port", str(port), "--state-dir", state], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("POST", "/session", headers={"Authorization": "Bearer " + token})
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.0005)
            if time.perf_counter() - t0 > 10:
                sys.exit("keyhole serve did not answer 200 within 10 s")
        times.append((time.perf_counter() - t0) * 1000)
    finally:
        p.terminate()
        p.wait()
print(f"cold start: median {statistics.median(times):.1f} ms, min {min(times):.1f} ms, max {max(times):.1f} ms")
PY
