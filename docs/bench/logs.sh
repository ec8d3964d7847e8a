#!/usr/bin/env bash
# Log ingest against `docker run` with the same log driver (docs/benchmarks.md, "Log ingest and
# log drivers"). Needs Docker (.ci/ensure-docker) and the busybox test image
# gofer-test/busybox:latest (built by `cargo test -p gofer-server`).
# Usage: docs/bench/logs.sh [ROUNDS] [DRIVER...]   (default: 5 rounds; json-file local none)
# For each driver: a server whose task containers use it (scheduler.docker.log_driver), and
# ROUNDS alternating pairs of one run of a task writing 50 MB of 100-byte lines (timed from the
# run's own queued/ended timestamps, its log checked complete) and one `docker run` of the same
# writer with the same driver (wall time of the docker CLI, output to /dev/null).
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-target}
IMG=gofer-test/busybox:latest
PORT=${PORT:-18091}
ROUNDS=${1:-5}
shift || true
DRIVERS=${*:-json-file local none}
BASE=http://127.0.0.1:$PORT/api/namespaces/default/pipelines
BYTES=52428800
# 99 characters and a newline: 100-byte lines.
LINE=$(printf '%099d' 0 | tr 0 x)
WRITER="yes $LINE | head -c $BYTES"
docker image inspect $IMG >/dev/null 2>&1 || { echo "missing $IMG: run cargo test -p gofer-server once" >&2; exit 1; }
cargo build --release -q -p gofer
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m}'; }
mbps() { python3 -c "print(f'{$BYTES/1e6/($1/1000):.1f}')"; }

PID=
DATA=
stop_server() {
  [ -n "$PID" ] && { kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; }
  docker ps -aq --filter "label=gofer.pipeline_id=bench-logs" | xargs -r docker rm -f >/dev/null 2>&1 || true
  [ -n "$DATA" ] && rm -rf "$DATA"
  PID= DATA=
}
trap stop_server EXIT

for driver in $DRIVERS; do
  DATA=$(mktemp -d)
  GOFER_WEB_SERVER__BIND_ADDRESS=127.0.0.1:$PORT GOFER_WEB_SERVER__DATA_DIR=$DATA \
    GOFER_WEB_EXTERNAL_EVENTS__ENABLE=false GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS=false \
    GOFER_WEB_API__LOG_LEVEL=warn GOFER_WEB_SCHEDULER__DOCKER__LOG_DRIVER="$driver" \
    "$TARGET/release/gofer" service start >"$DATA/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
  curl -sf -X POST "$BASE/bench-logs/configs" -H 'content-type: application/json' \
    -d "{\"config\":{\"id\":\"bench-logs\",\"name\":\"logs\",\"tasks\":[{\"id\":\"t\",\"image\":\"$IMG\",\"command\":[\"sh\",\"-c\",\"$WRITER\"]}]}}" >/dev/null
  curl -sf -X POST "$BASE/bench-logs/configs/1" >/dev/null
  gofer_ms="" docker_ms=""
  for _ in $(seq 1 "$ROUNDS"); do
    id=$(curl -sf -X POST "$BASE/bench-logs/runs" -H 'content-type: application/json' -d '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["run_id"])')
    # Polled slowly: the figure comes from the run's own timestamps.
    while ! curl -sf "$BASE/bench-logs/runs/$id" | grep -q '"state":"complete"'; do sleep 0.25; done
    size=$(stat -c %s "$DATA/logs/default/bench-logs/$id/t.log")
    [ "$size" = "$BYTES" ] || { echo "$driver: run $id stored $size of $BYTES bytes" >&2; exit 1; }
    ms=$(curl -sf "$BASE/bench-logs/runs/$id" | python3 -c 'import json,sys; r=json.load(sys.stdin)["run"]; print(r["ended"]-r["queued"])')
    gofer_ms="$gofer_ms $ms"
    name=bench-logs-docker-$RANDOM
    s=$(date +%s%3N)
    docker run --name "$name" --log-driver "$driver" "$IMG" sh -c "$WRITER" >/dev/null
    e=$(date +%s%3N)
    docker rm -f "$name" >/dev/null
    docker_ms="$docker_ms $((e - s))"
  done
  g=$(echo $gofer_ms | tr ' ' '\n' | median)
  d=$(echo $docker_ms | tr ' ' '\n' | median)
  echo "$driver: gofer $(mbps "$g") MB/s (median ${g} ms of:$gofer_ms), docker run $(mbps "$d") MB/s (median ${d} ms of:$docker_ms), ratio $(python3 -c "print(f'{$d/$g:.3f}')")"
  stop_server
done
