#!/usr/bin/env bash
# Start or stop a moto server on 127.0.0.1 (Secrets Manager, Cognito and CloudFront key groups for the
# tests; scripts/moto-server.py adds the key-group calls moto lacks).
# usage: scripts/moto.sh start|stop PORT
set -euo pipefail
cmd=${1:?start|stop}; port=${2:-5055}
root=$(cd "$(dirname "$0")/.." && pwd)
pidfile="$root/target/moto-$port.pid"
mkdir -p "$root/target"
case "$cmd" in
  start)
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then exit 0; fi
    "$root/.venv/bin/python" "$root/scripts/moto-server.py" 127.0.0.1 "$port" >"$root/target/moto-$port.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then exit 0; fi
      sleep 0.1
    done
    echo "moto did not start on 127.0.0.1:$port; see target/moto-$port.log" >&2
    exit 1 ;;
  stop)
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi ;;
  *) echo "usage: $0 start|stop PORT" >&2; exit 2 ;;
esac
