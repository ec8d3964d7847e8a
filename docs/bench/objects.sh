#!/usr/bin/env bash
# Object store benchmark (docs/benchmarks.md): upload and download of one 1 GiB object over
# loopback with curl against the release server, and the server's RSS before, during and after.
# The source is a sparse file (generated, not read from a disk); the download goes to /dev/null.
# Usage: docs/bench/objects.sh [runs]   (SIZE_MIB=1024 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${1:-3}
SIZE_MIB=${SIZE_MIB:-1024}
PORT=${PORT:-18090}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p gofer
BIN=${CARGO_TARGET_DIR:-target}/release/gofer
DATA=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT

GOFER_WEB_SERVER__BIND_ADDRESS=127.0.0.1:$PORT GOFER_WEB_SERVER__DATA_DIR=$DATA/data \
  GOFER_WEB_API__LOG_LEVEL=info GOFER_WEB_EXTERNAL_EVENTS__ENABLE=false GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS=false \
  "$BIN" service start >"$DATA/server.log" 2>&1 &
PID=$!
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do curl -sf "$BASE/api/health" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "$BASE/api/namespaces/default/pipelines/bench/configs" -H 'content-type: application/json' \
  -d '{"config":{"id":"bench","name":"bench","tasks":[{"id":"a","image":"busybox"}]}}' >/dev/null

SRC=$DATA/source.bin
truncate -s "${SIZE_MIB}M" "$SRC"
OBJ=$BASE/api/namespaces/default/pipelines/bench/objects/big
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
# Peak RSS sampled every 50 ms while a command runs.
sampled() {
  local peak=0 cur
  "$@" & local job=$!
  while kill -0 $job 2>/dev/null; do
    cur=$(rss); (( cur > peak )) && peak=$cur; sleep 0.05
  done
  wait $job
  echo "$peak" >"$DATA/peak"
}

curl -sf -X POST -T "$SRC" -H 'content-type: application/octet-stream' "$OBJ?force=true" >/dev/null
echo "RSS after a warm-up transfer: $(rss) kB"
for i in $(seq 1 "$RUNS"); do
  before=$(rss)
  sampled curl -sf -o /dev/null -w '%{time_total} %{speed_upload}\n' -X POST -T "$SRC" \
    -H 'content-type: application/octet-stream' "$OBJ?force=true" >"$DATA/up"
  up_peak=$(cat "$DATA/peak")
  sampled curl -sf -o /dev/null -w '%{time_total} %{speed_download}\n' "$OBJ" >"$DATA/down"
  down_peak=$(cat "$DATA/peak")
  read -r up_s up_bps <"$DATA/up"
  read -r down_s down_bps <"$DATA/down"
  echo "run $i: upload ${up_s}s $((${up_bps%.*} / 1000000)) MB/s, download ${down_s}s $((${down_bps%.*} / 1000000)) MB/s;" \
    "RSS before ${before} kB, peak up ${up_peak} kB, peak down ${down_peak} kB"
done
