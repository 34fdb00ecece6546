#!/usr/bin/env bash
# Load figures for `keyhole serve` on loopback, all from one run (make bench), with the server
# pinned to core 0 and everything that loads or measures it on core 1 (on a machine with two or
# more cores):
#   - OpenSSL's sign and verify rates on core 0: the anchor (every POST /session signs a cookie
#     set; every cookie-checked GET verifies one signature; keyhole serve generates an ECDSA P-256
#     key, an RSA-2048 key in the state folder is used as it is);
#   - POST /session in-process (the signer handler called directly, on core 0) vs over HTTP (wrk),
#     per CPU-second of the process doing the work;
#   - POST /session and cookie-checked small-asset GETs (edge check + signed-cookie check + bucket)
#     at 1, 4 and 16 connections: requests/s, p50 and p99;
#   - cold start: exec of `keyhole serve` to the first 200 from POST /session, keys already on disk;
#   - the server's peak resident memory.
# Targets (issue 14): asset GETs >= 0.5x OpenSSL's P-256 verify rate on one core; POST /session
# over HTTP >= 0.7x the in-process rate per CPU-second.
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck source=../../../bench/lib.sh
. bench/lib.sh
SECONDS_EACH=${SECONDS_EACH:-5}
# The signing key's type: ecdsa (what keyhole serve generates) or rsa (an RSA-2048 key placed in the
# state folder first, as an existing CloudFront key group would have).
KEY_TYPE=${KEY_TYPE:-ecdsa}
CONNECTION_COUNTS=${CONNECTION_COUNTS:-1 4 16}
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
    pin_args 0
    RUST_LOG=warn "${PIN[@]}" "$bin" serve --port "$1" --state-dir "$work/state" >"$work/serve.log" 2>&1 &
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

echo "== machine: $(nproc) cores ($(lscpu 2>/dev/null | sed -nE 's/^Model name: +//p')); signing key: $KEY_TYPE;" \
    "keyhole serve on core 0, wrk (one thread) on core 1, ${SECONDS_EACH}s per figure"
echo "== anchor: openssl speed rsa2048 ecdsap256 on core 0"
pin 0 openssl speed -seconds 3 rsa2048 ecdsap256 2>/dev/null >"$work/openssl.txt"
grep -E '^rsa 2048|^ *256 bits ecdsa|sign/s' "$work/openssl.txt"
read -r ossl_rsa_sign ossl_rsa_verify < <(awk '/^rsa 2048 bits/ { print $(NF-1), $NF }' "$work/openssl.txt")
read -r ossl_ec_sign ossl_ec_verify < <(awk '/ecdsa \(nistp256\)/ { print $(NF-1), $NF }' "$work/openssl.txt")
if [ "$KEY_TYPE" = ecdsa ]; then
    record openssl.rsa2048.sign "$ossl_rsa_sign"
    record openssl.rsa2048.verify "$ossl_rsa_verify"
    record openssl.p256.sign "$ossl_ec_sign"
    record openssl.p256.verify "$ossl_ec_verify"
fi

port=$(free_port)
start "$port"
url="http://127.0.0.1:$port"
token=$(curl -sf -d username=alice "$url/idp/token" | sed -E 's/.*"id_token":"([^"]+)".*/\1/')
alice=6f1d2c8e-4b7a-4e3f-9c21-8a5d3b0e7f14

# `load NAME CONNECTIONS wrk-args...`: one wrk run against the pinned server; prints requests/s,
# p50 and p99 in ms, and the server's CPU seconds per request; fails on any non-2xx answer.
load() {
    local name=$1 connections=$2
    shift 2
    local before after
    before=$(server_cpu)
    pin 1 wrk -t1 -c"$connections" -d"${SECONDS_EACH}s" --latency "$@" >"$work/$name.txt"
    after=$(server_cpu)
    grep -q 'Non-2xx' "$work/$name.txt" && { cat "$work/$name.txt" >&2; echo "$name answered errors under load" >&2; return 1; }
    python3 - "$work/$name.txt" "$before" "$after" <<'PY'
import re, sys
text, before, after = open(sys.argv[1]).read(), float(sys.argv[2]), float(sys.argv[3])
def ms(label):
    value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
requests = int(re.search(r"(\d+) requests in", text).group(1))
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
print(f"{rate:.0f} {ms('50%'):.2f} {ms('99%'):.2f} {(after - before) / requests:.9f}")
PY
}

# `sweep KIND LABEL wrk-args...`: `load` at each of CONNECTION_COUNTS, one printed row and four
# recorded figures each; leaves the last row's `rate` and `per_cpu` set.
sweep() {
    local kind=$1 label=$2 c p50 p99 cpu_each
    shift 2
    printf '%-12s %12s %9s %9s %22s\n' connections "$label" "p50 ms" "p99 ms" "per server CPU-second"
    for c in $CONNECTION_COUNTS; do
        read -r rate p50 p99 cpu_each < <(load "$kind-$c" "$c" "$@")
        per_cpu=$(awk -v c="$cpu_each" 'BEGIN { printf "%.0f", 1 / c }')
        printf '%-12s %12s %9s %9s %22s\n' "$c" "$rate" "$p50" "$p99" "$per_cpu"
        record "serve.$KEY_TYPE.$kind.c$c.rate" "$rate"
        record "serve.$KEY_TYPE.$kind.c$c.p50" "$p50"
        record "serve.$KEY_TYPE.$kind.c$c.p99" "$p99"
        record "serve.$KEY_TYPE.$kind.c$c.per_cpu" "$per_cpu"
    done
}

echo "== POST /session"
pin 0 /usr/bin/time -f "%U %S" -o "$work/inproc.cpu" "$rate_bin" "$work/state" "$SECONDS_EACH" 1 | tee "$work/inproc.txt"
inproc_per_cpu=$(python3 - "$work/inproc.txt" "$work/inproc.cpu" <<'PY'
import re, sys
n = int(re.search(r"\((\d+) in", open(sys.argv[1]).read()).group(1))
cpu = sum(float(x) for x in open(sys.argv[2]).read().split()[-2:])
print(f"{n / cpu:.0f}")
PY
)
record "serve.$KEY_TYPE.session.inproc_per_cpu" "$inproc_per_cpu"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
LUA
sweep session "sessions/s" -s "$work/post.lua" "$url/session"
echo "POST /session over HTTP at 16 connections, per server CPU-second: ${per_cpu} against ${inproc_per_cpu} in-process" \
    "= $(awk -v a="$per_cpu" -v b="$inproc_per_cpu" 'BEGIN { printf "%.2f", a / b }')x (target 0.7x)"

echo "== cookie-authorised asset GET ($(stat -c %s crates/keyhole-serve/demo/bucket/users/$alice/pattern.png) bytes)"
cookies=$(curl -sf -D - -o /dev/null -X POST -H "Authorization: Bearer $token" "$url/session" \
    | tr -d '\r' | sed -nE 's/^set-cookie: (CloudFront-[^;]+);.*/\1/Ip' | paste -sd ';' | sed 's/;/; /g')
curl -sf -o /dev/null -H "Cookie: $cookies" "$url/users/$alice/pattern.png" || { echo "the asset is refused with fresh cookies" >&2; exit 1; }
sweep get "GETs/s" -H "Cookie: $cookies" "$url/users/$alice/pattern.png"
if [ "$KEY_TYPE" = ecdsa ]; then
    echo "asset GETs at 16 connections: $rate/s against OpenSSL's $ossl_ec_verify P-256 verifies/s" \
        "= $(awk -v a="$rate" -v b="$ossl_ec_verify" 'BEGIN { printf "%.2f", a / b }')x (target 0.5x)"
fi
peak=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
echo "keyhole serve peak RSS: $peak KiB"
record "serve.$KEY_TYPE.peak_rss_kib" "$peak"
stop

echo "== cold start: exec to first 200 from POST /session (keys on disk), 10 runs"
cold=$(python3 - "$bin" "$work/state" "$token" "$port" <<'PY'
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
print(f"{statistics.median(times):.1f} {min(times):.1f} {max(times):.1f}")
PY
)
read -r cold_median cold_min cold_max <<<"$cold"
echo "cold start: median $cold_median ms, min $cold_min ms, max $cold_max ms"
record "serve.$KEY_TYPE.cold_start_ms" "$cold_median"
