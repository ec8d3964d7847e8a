#!/usr/bin/env bash
# `gofer up` and `gofer pipeline exec` benchmarks (docs/benchmarks.md, issue 5). Needs Docker
# (.ci/ensure-docker) and the busybox test image gofer-test/busybox:latest (built by
# `cargo test -p gofer-server` or `cargo test -p gofer`).
# Usage: docs/bench/sdk.sh [runs]   (default 10 repetitions of each measurement)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10}
TARGET=${CARGO_TARGET_DIR:-target}
PROFILE=${PROFILE:-release}
IMG=gofer-test/busybox:latest
PORT=${PORT:-18091}
export GOFER_EXAMPLE_IMAGE=$IMG
docker image inspect $IMG >/dev/null 2>&1 || { echo "missing $IMG: run cargo test -p gofer-server once" >&2; exit 1; }
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p gofer -p gofer-example-simple
else
  cargo build -q -p gofer -p gofer-example-simple
fi
GOFER="$TARGET/$PROFILE/gofer"
DATA=$(mktemp -d)
GOFER_WEB_SERVER__BIND_ADDRESS=127.0.0.1:$PORT GOFER_WEB_SERVER__DATA_DIR=$DATA \
  GOFER_WEB_EXTERNAL_EVENTS__ENABLE=false GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS=false \
  GOFER_WEB_API__LOG_LEVEL=warn \
  "$GOFER" service start >"$DATA/server.log" 2>&1 &
PID=$!
cleanup() { kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
export GOFER_API_BASE_URL=http://127.0.0.1:$PORT

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m}'; }
time_ms() { local t0; t0=$(now_ms); "$@" >/dev/null 2>&1; echo $(( $(now_ms) - t0 )); }

# The example's config as JSON, so that the cargo step can be measured apart.
cargo run --quiet --manifest-path examples/simple/Cargo.toml >"$DATA/simple.json"

cargo_ms=$(for _ in $(seq "$N"); do time_ms cargo run --quiet --manifest-path examples/simple/Cargo.toml; done | median)
up_dir_ms=$(for _ in $(seq "$N"); do time_ms "$GOFER" up examples/simple; done | median)
up_json_ms=$(for _ in $(seq "$N"); do time_ms "$GOFER" up "$DATA/simple.json"; done | median)
echo "gofer up examples/simple (already built): median ${up_dir_ms} ms"
echo "  of which cargo's no-op run:             median ${cargo_ms} ms"
echo "  gofer up of the same config as JSON:    median ${up_json_ms} ms (register + deploy, no cargo)"

# Interleaved, so that the machine's changing load hits both sides alike.
: >"$DATA/docker.ms"; : >"$DATA/exec_json.ms"; : >"$DATA/exec_dir.ms"
for _ in $(seq "$N"); do
  time_ms docker run --rm $IMG sh -c 'echo "hello from run 1"' >>"$DATA/docker.ms"
  time_ms "$GOFER" pipeline exec "$DATA/simple.json" >>"$DATA/exec_json.ms"
  time_ms "$GOFER" pipeline exec examples/simple >>"$DATA/exec_dir.ms"
done
docker_ms=$(median <"$DATA/docker.ms")
exec_json_ms=$(median <"$DATA/exec_json.ms")
exec_dir_ms=$(median <"$DATA/exec_dir.ms")
echo "docker run --rm (one bare container):     median ${docker_ms} ms"
echo "gofer pipeline exec simple.json:          median ${exec_json_ms} ms, ratio $(awk "BEGIN {printf \"%.2f\", $exec_json_ms/$docker_ms}")"
echo "gofer pipeline exec examples/simple:      median ${exec_dir_ms} ms, ratio $(awk "BEGIN {printf \"%.2f\", $exec_dir_ms/$docker_ms}") (includes cargo's no-op run)"
