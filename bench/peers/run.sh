#!/usr/bin/env bash
# keyhole beside its peers on the same work, in one run: verify an RS256 ID token, sign a
# CloudFront custom-policy cookie set for /users/<sub>/*. Every figure is sessions per CPU-second
# of one thread, so the load generator and a busy machine do not distort the ratios.
#   keyhole: the signer's handler in-process (functions/signer/examples/sessions.rs), which also
#            parses the API Gateway event, expands scopes and writes every Set-Cookie;
#   JS:      aws-jwt-verify + @aws-sdk/cloudfront-signer (peers.mjs);
#   Python:  PyJWT + botocore's CloudFrontSigner (peers.py).
# The peers sign RSA-SHA1 (their default; botocore's only choice); keyhole's signer uses SHA-256.
# The hash costs nothing next to the RSA private-key operation, which both do once per session.
# usage: bench/peers/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-3}
root=../..
cargo=${CARGO:-cargo}

[ -f node_modules/.installed ] && [ node_modules/.installed -nt package-lock.json ] \
    || { npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; }
[ -f .venv/.installed ] && [ .venv/.installed -nt requirements.txt ] \
    || { python3 -m venv .venv && .venv/bin/pip install --quiet -r requirements.txt && touch .venv/.installed; }

(cd "$root" && "$cargo" build --quiet --locked --profile bench -p keyhole-signer --example sessions)
sessions=$root/target/release/examples/sessions
n_rsa=$(awk -v s="$seconds" 'BEGIN { print int(s * 1500) }')
n_ec=$(awk -v s="$seconds" 'BEGIN { print int(s * 8000) }')

results=$(mktemp)
trap 'rm -f "$results"' EXIT
"$sessions" rsa "$n_rsa" | sed -E 's/^rsa: .* = ([0-9]+) sessions per CPU-second.*/keyhole-rsa2048 \1/' >>"$results"
"$sessions" ecdsa "$n_ec" | sed -E 's/^ecdsa: .* = ([0-9]+) sessions per CPU-second.*/keyhole-ecdsa-p256 \1/' >>"$results"
node peers.mjs "$seconds" | awk '{ print $1, $2 }' >>"$results"
.venv/bin/python peers.py "$seconds" | awk '{ print $1, $2 }' >>"$results"

# shellcheck source=../lib.sh
. ../lib.sh
while read -r name rate; do record "peers.$name.per_cpu" "$rate"; done <"$results"

awk '
    { rate[$1] = $2; order[NR] = $1 }
    END {
        r = rate["keyhole-rsa2048"]; e = rate["keyhole-ecdsa-p256"]
        printf "%-26s %14s %16s %16s\n", "verify JWT + sign cookies", "sessions/CPU-s", "keyhole RSA is", "keyhole ECDSA is"
        for (i = 1; i <= NR; i++) {
            name = order[i]
            if (name ~ /^keyhole/) { a = ""; b = "" } else { a = sprintf("%.1fx", r / rate[name]); b = sprintf("%.1fx", e / rate[name]) }
            printf "%-26s %14d %16s %16s\n", name, rate[name], a, b
        }
    }' "$results"
