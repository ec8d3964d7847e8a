#!/usr/bin/env bash
# Foundation API benchmark (docs/benchmarks.md): wrk against the single-pipeline GET and the
# pipeline list, plus the server's idle RSS; then the same GET authenticated with a real token
# (bootstrap token, no bypass) to measure what auth costs. Needs Debian's `wrk`.
# Usage: docs/bench/api.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

DURATION=${DURATION:-10s}
PORT=${PORT:-18080}
cargo build --release -q -p gofer
BIN=${CARGO_TARGET_DIR:-target}/release/gofer
DATA=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT

GOFER_WEB_SERVER__BIND_ADDRESS=127.0.0.1:$PORT GOFER_WEB_SERVER__DATA_DIR=$DATA \
  GOFER_WEB_API__LOG_LEVEL=info GOFER_WEB_EXTERNAL_EVENTS__ENABLE=false GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS=false \
  "$BIN" service start >"$DATA/server.log" 2>&1 &
PID=$!
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do curl -sf "$BASE/api/health" >/dev/null && break; sleep 0.1; done

for p in $(seq -w 1 20); do
  curl -sf -X POST "$BASE/api/namespaces/default/pipelines/bench$p/configs" -H 'content-type: application/json' \
    -d "{\"config\":{\"id\":\"bench$p\",\"name\":\"Bench $p\",\"tasks\":[{\"id\":\"a\",\"image\":\"busybox\"},{\"id\":\"b\",\"image\":\"busybox\",\"depends_on\":{\"a\":\"success\"}}]}}" >/dev/null
  curl -sf -X POST "$BASE/api/namespaces/default/pipelines/bench$p/configs/1" >/dev/null
done
sleep 1
echo "idle RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"

run() {
  local path=$1; shift
  echo "== $path${1:+ (with a token)}"
  wrk -t2 -c32 -d"$DURATION" --latency "$@" "$BASE$path" | grep -E 'Requests/sec|^ +(50|99)%|Non-2xx|Socket errors'
}
run /api/namespaces/default/pipelines/bench01
run /api/namespaces/default/pipelines
# Auth: a loopback request that carries a token is authenticated normally (docs/auth.md#without-a-token). The
# bypass and token runs alternate ROUNDS times so that drift of a loaded machine hits both alike;
# the ratio is of the medians.
SECRET=$(curl -sf -X POST "$BASE/api/tokens/bootstrap" | sed -E 's/.*"secret":"([^"]+)".*/\1/')
curl -sf -H "Authorization: Bearer $SECRET" "$BASE/api/tokens/whoami" >/dev/null
rps() { wrk -t2 -c32 -d"$DURATION" "$@" | awk '/Requests\/sec/ {print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ROUNDS=${ROUNDS:-5}
BYPASS=() TOKEN=()
for i in $(seq 1 "$ROUNDS"); do
  BYPASS+=("$(rps "$BASE/api/namespaces/default/pipelines/bench01")")
  TOKEN+=("$(rps -H "Authorization: Bearer $SECRET" "$BASE/api/namespaces/default/pipelines/bench01")")
  echo "round $i: bypass ${BYPASS[-1]} req/s, token ${TOKEN[-1]} req/s"
done
B=$(printf '%s\n' "${BYPASS[@]}" | median)
T=$(printf '%s\n' "${TOKEN[@]}" | median)
echo "pipeline GET medians: bypass $B req/s, token $T req/s, token/bypass $(awk -v t="$T" -v b="$B" 'BEGIN {printf "%.3f", t / b}')"
echo "RSS after load: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
