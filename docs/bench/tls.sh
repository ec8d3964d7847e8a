#!/usr/bin/env bash
# API throughput over TLS versus plain HTTP (docs/benchmarks.md#tls): the same server build, the
# same data, GET …/runs of a pipeline with 200 runs, keep-alive connections (wrk), first over
# plain HTTP, then over TLS with a certificate made here (openssl). Prints both rates and their
# ratio. Needs Debian's `wrk` and `openssl`, and a Docker engine (the server needs one).
# Usage: docs/bench/tls.sh     (DURATION=10s ROUNDS=3 by default)
#   PIN=1 gives the server CPU 0 and wrk CPU 1 (taskset), so wrk's own TLS work does not take
#   the server's CPU; PIN=0 lets them share every CPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is missing: apt-get install openssl" >&2; exit 1; }

DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
PIN=${PIN:-0}
SERVER_CPU=(); CLIENT_CPU=()
if [ "$PIN" = 1 ]; then
  [ "$(nproc)" -ge 2 ] || { echo "PIN=1 needs 2 CPUs" >&2; exit 1; }
  SERVER_CPU=(taskset -c 0); CLIENT_CPU=(taskset -c 1)
fi
cargo build --release -q -p gofer
BIN=${CARGO_TARGET_DIR:-target}/release/gofer
WORK=$(mktemp -d)
PID=
stop() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; PID=; }
trap 'stop; rm -rf "$WORK"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

# One data dir for both: 200 finished runs of one pipeline, written by the plain server.
start() { # <tls: true|false> <port>
  GOFER_WEB_SERVER__BIND_ADDRESS=127.0.0.1:$2 GOFER_WEB_SERVER__DATA_DIR=$WORK/data \
    GOFER_WEB_SERVER__USE_TLS=$1 GOFER_WEB_SERVER__TLS_CERT_PATH=$WORK/cert.pem \
    GOFER_WEB_SERVER__TLS_KEY_PATH=$WORK/key.pem GOFER_WEB_API__LOG_LEVEL=warn \
    GOFER_WEB_EXTERNAL_EVENTS__ENABLE=false GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS=false \
    "${SERVER_CPU[@]}" "$BIN" service start >>"$WORK/server.log" 2>&1 &
  PID=$!
}
PORT=18090
start false $PORT
PLAIN=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do curl -sf "$PLAIN/api/health" >/dev/null && break; sleep 0.1; done
P=/api/namespaces/default/pipelines/tlsbench
curl -sf -X POST "$PLAIN$P/configs" -H 'content-type: application/json' \
  -d '{"config":{"id":"tlsbench","name":"TLS bench","tasks":[{"id":"a","image":"gofer-bench/none:1"}]}}' >/dev/null
curl -sf -X POST "$PLAIN$P/configs/1" >/dev/null
for _ in $(seq 1 200); do curl -sf -X POST "$PLAIN$P/runs" -H 'content-type: application/json' -d '{}' >/dev/null; done
# The image does not exist: every run ends quickly as failed; wait until none is pending.
for _ in $(seq 1 600); do
  curl -sf "$PLAIN/api/runs" | grep -q '"runs":\[\]' && break; sleep 0.2
done

rate() { # <url>
  "${CLIENT_CPU[@]}" wrk -t2 -c32 -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'
}
plain_total=0; tls_total=0
for round in $(seq 1 "$ROUNDS"); do
  stop; start false $PORT
  for _ in $(seq 1 100); do curl -sf "$PLAIN/api/health" >/dev/null && break; sleep 0.1; done
  p=$(rate "$PLAIN$P/runs")
  stop; start true $PORT
  TLS=https://127.0.0.1:$PORT
  for _ in $(seq 1 100); do curl -sfk "$TLS/api/health" >/dev/null && break; sleep 0.1; done
  t=$(rate "$TLS$P/runs")
  echo "round $round: plain $p req/s, tls $t req/s"
  plain_total=$(echo "$plain_total + $p" | bc -l); tls_total=$(echo "$tls_total + $t" | bc -l)
done
echo "mean: plain $(echo "$plain_total / $ROUNDS" | bc -l | cut -c1-9) req/s, tls $(echo "$tls_total / $ROUNDS" | bc -l | cut -c1-9) req/s, ratio $(echo "$tls_total / $plain_total" | bc -l | cut -c1-5)"
