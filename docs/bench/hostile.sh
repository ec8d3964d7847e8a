#!/usr/bin/env bash
# Memory under hostile bodies (docs/benchmarks.md, docs/security.md): the release server's peak
# RSS (VmHWM) while (a) 3 clients each send a 450 MB JSON body to a pipeline that does not
# exist, and (b) 8 clients each send a 25 MB webhook body to the interval extension at once.
# Usage: docs/bench/hostile.sh        (needs Docker: the interval extension runs in a container)
set -euo pipefail
cd "$(dirname "$0")/../.."

PORT=${PORT:-18091}
HOOKS=${HOOKS:-18092}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p gofer
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/gofer}
DATA=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT

GOFER_WEB_SERVER__BIND_ADDRESS=127.0.0.1:$PORT GOFER_WEB_SERVER__DATA_DIR=$DATA/data \
  GOFER_WEB_API__LOG_LEVEL=info GOFER_WEB_EXTERNAL_EVENTS__BIND_ADDRESS=127.0.0.1:$HOOKS \
  "$BIN" service start >"$DATA/server.log" 2>&1 &
PID=$!
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 300); do curl -sf "$BASE/api/health" >/dev/null && break; sleep 0.1; done
# The interval extension is installed at boot; wait until it runs.
for _ in $(seq 1 300); do
  curl -sf "$BASE/api/extensions/interval" | grep -q '"state":"running"' && break; sleep 0.2
done
hwm() { awk '/VmHWM/ {print $2}' /proc/$PID/status; }
echo "idle: VmHWM $(hwm) kB"

truncate -s 450M "$DATA/big.json"
for _ in 1 2 3; do
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'content-type: application/json' \
    --data-binary @"$DATA/big.json" "$BASE/api/namespaces/default/pipelines/nope/runs" &
done
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
echo "after 3 x 450 MB to a missing pipeline: VmHWM $(hwm) kB"

head -c 25000000 /dev/urandom > "$DATA/hook.bin"
for _ in $(seq 1 8); do
  curl -s -o /dev/null -w '%{http_code}\n' -X POST --data-binary @"$DATA/hook.bin" \
    "http://127.0.0.1:$HOOKS/api/external/interval" &
done
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
echo "after 8 x 25 MB webhooks: VmHWM $(hwm) kB"
