#!/usr/bin/env bash
# Runs a command against a fresh `keyhole serve`: a free loopback port, a temporary state folder,
# KEYHOLE_URL exported for the command, the server stopped afterwards whatever happens.
# Usage: with-serve.sh KEYHOLE_BINARY COMMAND [ARGS...]
set -euo pipefail
bin=${1:?usage: with-serve.sh KEYHOLE_BINARY COMMAND [ARGS...]}
shift
[ -x "$bin" ] || { echo "with-serve.sh: $bin is not an executable" >&2; exit 2; }
state=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --port "$port" --state-dir "$state" >"$state/serve.log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$state"
}
trap cleanup EXIT
for _ in $(seq 1 200); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/"; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "keyhole serve exited:" >&2; cat "$state/serve.log" >&2; exit 1; fi
    sleep 0.05
done
curl -sf -o /dev/null "http://127.0.0.1:$port/" || { echo "keyhole serve did not answer on port $port" >&2; cat "$state/serve.log" >&2; exit 1; }
export KEYHOLE_URL="http://127.0.0.1:$port" KEYHOLE_STATE_DIR="$state"
"$@"
