#!/usr/bin/env bash
# Signs per second on one core: keyhole (AWS-LC for RSA-SHA256 and ECDSA, RustCrypto rsa for
# RSA-SHA1) beside `openssl speed` measured in the same run, with the ratio to OpenSSL.
# Targets (issue 2): RSA-SHA256 >= 0.9x OpenSSL rsa2048, ECDSA P-256 >= 0.8x OpenSSL ecdsap256.
# Usage: scripts/bench-sign.sh [SECONDS]   (default 3 per algorithm)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-3}"
cargo="${CARGO:-cargo}"

command -v openssl >/dev/null || { echo "bench-sign: openssl is not installed" >&2; exit 1; }

# The bench profile is release with thin LTO: what ships, minus the slow link.
"$cargo" build --quiet --locked --profile bench -p keyhole-core --example sign_rate
ours="$(target/release/examples/sign_rate "$seconds" 2>/dev/null || target/bench/examples/sign_rate "$seconds")"

speed="$(openssl speed -seconds "$seconds" rsa2048 ecdsap256 2>/dev/null)"
ossl_rsa="$(awk '/^rsa 2048 bits/ {print $(NF-1)}' <<<"$speed")"
ossl_ec="$(awk '/ecdsa \(nistp256\)/ {print $(NF-1)}' <<<"$speed")"
[[ -n "$ossl_rsa" && -n "$ossl_ec" ]] || { echo "bench-sign: could not read openssl speed output" >&2; exit 1; }

rate() { awk -v k="$1" '$1 == k {print $2}' <<<"$ours"; }
echo "signs per second, one core, ${seconds}s each ($(openssl version | cut -d' ' -f1-2))"
printf '%-20s %12s %12s %8s %8s\n' algorithm keyhole openssl ratio target
row() { # name ours openssl target
  awk -v n="$1" -v a="$2" -v b="$3" -v t="$4" 'BEGIN {
    r = a / b; ok = (t == "-") ? "" : (r >= t ? " ok" : " BELOW");
    printf "%-20s %12.0f %12.0f %7.2fx %8s%s\n", n, a, b, r, t, ok }'
}
row rsa2048-sha256 "$(rate rsa2048-sha256)" "$ossl_rsa" 0.9
row rsa2048-sha1 "$(rate rsa2048-sha1)" "$ossl_rsa" -
row ecdsa-p256-sha256 "$(rate ecdsa-p256-sha256)" "$ossl_ec" 0.8
echo "(openssl speed rsa2048 signs with SHA-256-sized input; its figure is the anchor for both RSA rows)"
