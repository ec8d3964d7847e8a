#!/usr/bin/env bash
# Run-engine benchmarks (docs/benchmarks.md). Needs Docker (.ci/ensure-docker) and the
# busybox test image gofer-test/busybox:latest (built by `cargo test -p gofer-server`).
# Usage: docs/bench/engine.sh [overhead|chain|fanout|logs|sustained|runs|canary|operations]...
#   (default: overhead chain fanout logs sustained)
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-target}
IMG=gofer-test/busybox:latest
PORT=${PORT:-18090}
BASE=http://127.0.0.1:$PORT/api/namespaces/default/pipelines
docker image inspect $IMG >/dev/null 2>&1 || { echo "missing $IMG: run cargo test -p gofer-server once" >&2; exit 1; }
cargo build --release -q -p gofer
DATA=$(mktemp -d)
GOFER_WEB_SERVER__BIND_ADDRESS=127.0.0.1:$PORT GOFER_WEB_SERVER__DATA_DIR=$DATA \
  GOFER_WEB_EXTERNAL_EVENTS__ENABLE=false GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS=false \
  GOFER_WEB_API__LOG_LEVEL=warn \
  "$TARGET/release/gofer" service start >"$DATA/server.log" 2>&1 &
PID=$!
remove_containers() { # bench pipelines' containers (a new server instance must not meet old ones)
  for p in bench-one bench-chain bench-fan bench-logs bench-runs bench-sustained bench-plain bench-canary bench-allow bench-skip bench-retry; do
    docker ps -aq --filter "label=gofer.pipeline_id=$p" | xargs -r docker rm -f >/dev/null 2>&1 || true
  done
}
remove_containers
cleanup() {
  kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true
  remove_containers
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; print m}'; }
deploy() { # id, tasks json
  curl -sf -X POST "$BASE/$1/configs" -H 'content-type: application/json' \
    -d "{\"config\":{\"id\":\"$1\",\"name\":\"$1\",\"tasks\":$2}}" >/dev/null
  curl -sf -X POST "$BASE/$1/configs/1" >/dev/null
}
run_ms() { # pipeline → prints ended - queued of one run (server-side: request to completed_run).
  # Polling is slow on purpose: the figure comes from the run's own timestamps, and a busy poll
  # loop would steal CPU from Docker on a small machine.
  local id; id=$(curl -sf -X POST "$BASE/$1/runs" -H 'content-type: application/json' -d '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["run_id"])')
  while :; do
    local r; r=$(curl -sf "$BASE/$1/runs/$id")
    if echo "$r" | grep -q '"state":"complete"'; then
      echo "$r" | python3 -c 'import json,sys; r=json.load(sys.stdin)["run"]; assert r["status"]=="successful", r; print(r["ended"]-r["queued"])'
      return
    fi
    sleep 0.25
  done
}

overhead() {
  deploy bench-one "[{\"id\":\"t\",\"image\":\"$IMG\",\"command\":[\"sh\",\"-c\",\"echo hi\"]}]"
  local g d gs="" ds="" s
  # Alternate the two so that drift in machine load affects both alike.
  for _ in $(seq 1 20); do
    gs="$gs $(run_ms bench-one)"
    s=$(now_ms); docker run --rm $IMG sh -c 'echo hi' >/dev/null; ds="$ds $(( $(now_ms) - s ))"
  done
  g=$(echo $gs | tr ' ' '\n' | median); d=$(echo $ds | tr ' ' '\n' | median)
  echo "per-run overhead: gofer median ${g} ms, docker run median ${d} ms, ratio $(python3 -c "print(round($g/$d,3))")"
}

chain() {
  deploy bench-chain "[{\"id\":\"t1\",\"image\":\"$IMG\",\"command\":[\"sleep\",\"0.3\"]},
    {\"id\":\"t2\",\"image\":\"$IMG\",\"command\":[\"sleep\",\"0.3\"],\"depends_on\":{\"t1\":\"success\"}},
    {\"id\":\"t3\",\"image\":\"$IMG\",\"command\":[\"sleep\",\"0.3\"],\"depends_on\":{\"t2\":\"success\"}},
    {\"id\":\"t4\",\"image\":\"$IMG\",\"command\":[\"sleep\",\"0.3\"],\"depends_on\":{\"t3\":\"success\"}},
    {\"id\":\"t5\",\"image\":\"$IMG\",\"command\":[\"sleep\",\"0.3\"],\"depends_on\":{\"t4\":\"success\"}}]"
  local g d gs="" ds="" s
  for _ in 1 2 3 4 5; do
    gs="$gs $(run_ms bench-chain)"
    s=$(now_ms); for _ in 1 2 3 4 5; do docker run --rm $IMG sleep 0.3; done; ds="$ds $(( $(now_ms) - s ))"
  done
  g=$(echo $gs | tr ' ' '\n' | median); d=$(echo $ds | tr ' ' '\n' | median)
  echo "5-task chain: gofer median ${g} ms, 5 sequential docker runs median ${d} ms, ratio $(python3 -c "print(round($g/$d,3))")"
}

fanout() {
  local tasks="" i
  for i in $(seq -w 1 20); do tasks="$tasks{\"id\":\"t$i\",\"image\":\"$IMG\",\"command\":[\"sh\",\"-c\",\"echo hi\"]},"; done
  deploy bench-fan "[${tasks%,}]"
  local g d gs="" ds="" s
  for _ in 1 2 3 4 5; do  # alternated, as for the per-run overhead
    gs="$gs $(run_ms bench-fan)"
    s=$(now_ms); (for _ in $(seq 1 20); do docker run --rm $IMG sh -c 'echo hi' >/dev/null & done; wait)
    ds="$ds $(( $(now_ms) - s ))"
  done
  g=$(echo $gs | tr ' ' '\n' | median); d=$(echo $ds | tr ' ' '\n' | median)
  echo "20-task fan-out: gofer median ${g} ms, 20 parallel docker runs median ${d} ms, ratio $(python3 -c "print(round($g/$d,3))")"
}

logs() {
  deploy bench-logs "[{\"id\":\"t\",\"image\":\"$IMG\",\"command\":[\"sh\",\"-c\",\"yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ | head -c 52428800\"]}]"
  local before peak=0 id
  before=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
  id=$(curl -sf -X POST "$BASE/bench-logs/runs" -H 'content-type: application/json' -d '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["run_id"])')
  while ! curl -sf "$BASE/bench-logs/runs/$id" | grep -q '"state":"complete"'; do
    r=$(awk '/VmRSS/ {print $2}' /proc/$PID/status); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.05
  done
  local size; size=$(stat -c %s "$DATA/logs/default/bench-logs/$id/t.log")
  curl -sf "$BASE/bench-logs/runs/$id/tasks/t" | python3 -c "
import json,sys; t=json.load(sys.stdin)['task_execution']; ms=t['ended']-t['started']
print(f'log ingest: {$size} bytes stored in {ms} ms = {$size/1e6/(ms/1000):.1f} MB/s; server RSS {$before} kB before, peak {$peak} kB (+{($peak-$before)/1024:.1f} MB)')"
}

sustained() { # 60 one-task runs, 10 at a time (pipeline parallelism 10) vs 60 docker runs, 10 at a time
  curl -sf -X POST "$BASE/bench-sustained/configs" -H 'content-type: application/json' \
    -d "{\"config\":{\"id\":\"bench-sustained\",\"name\":\"sustained\",\"parallelism\":10,\"tasks\":[{\"id\":\"t\",\"image\":\"$IMG\",\"command\":[\"sh\",\"-c\",\"echo hi\"]}]}}" >/dev/null
  curl -sf -X POST "$BASE/bench-sustained/configs/1" >/dev/null
  local round s g d done_count total=0 last
  for round in 1 2 3; do
    s=$(now_ms)
    seq 1 60 | xargs -P 8 -I@ curl -sf -o /dev/null -X POST "$BASE/bench-sustained/runs" -H 'content-type: application/json' -d '{}'
    total=$((total + 60))
    # The end is the last run's own `ended` timestamp (same clock as `s`), so the poll can be
    # slow and cheap: a busy poll (a Python start every 0.2 s) took CPU from Docker on 2 cores.
    while :; do
      done_count=$(curl -sf "$BASE/bench-sustained/runs?limit=200" | grep -o '"state":"complete"' | wc -l || true)
      [ "$done_count" -ge "$total" ] && break
      sleep 1
    done
    last=$(curl -sf "$BASE/bench-sustained/runs?limit=200" | python3 -c 'import json,sys; print(max(r["ended"] for r in json.load(sys.stdin)["runs"]))')
    g=$(( last - s ))
    s=$(now_ms); seq 1 60 | xargs -P 10 -I@ docker run --rm $IMG sh -c 'echo hi' >/dev/null; d=$(( $(now_ms) - s ))
    echo "sustained, round $round: gofer 60 runs in ${g} ms ($(python3 -c "print(round(60*60000/$g))") runs/min), docker run 60 in ${d} ms ($(python3 -c "print(round(60*60000/$d))") runs/min), ratio $(python3 -c "print(round($d/$g,3))")"
  done
}

runs() { # GET runs first page with 11 and with 100,000 runs stored
  # One run executes (a long sleep); the rest wait in the queue, so 100,000 runs are stored
  # without starting 100,000 containers.
  curl -sf -X POST "$BASE/bench-runs/configs" -H 'content-type: application/json' \
    -d "{\"config\":{\"id\":\"bench-runs\",\"name\":\"runs\",\"parallelism\":1,\"tasks\":[{\"id\":\"t\",\"image\":\"$IMG\",\"command\":[\"sleep\",\"3600\"]}]}}" >/dev/null
  curl -sf -X POST "$BASE/bench-runs/configs/1" >/dev/null
  create() { local n=$1; seq 1 "$n" | xargs -P 8 -I@ curl -sf -o /dev/null -X POST "$BASE/bench-runs/runs" -H 'content-type: application/json' -d '{}'; }
  create 11
  echo "== GET runs, 11 runs stored"; wrk -t2 -c32 -d10s --latency "$BASE/bench-runs/runs" | grep -E 'Requests/sec|^ +99%'
  create 99989
  echo "== GET runs, 100000 runs stored"; wrk -t2 -c32 -d10s --latency "$BASE/bench-runs/runs" | grep -E 'Requests/sec|^ +99%'
  # The first page holds 50 runs now (11 before): the same page size isolates the cost of storage.
  echo "== GET runs?limit=11, 100000 runs stored"; wrk -t2 -c32 -d10s --latency "$BASE/bench-runs/runs?limit=11" | grep -E 'Requests/sec|^ +99%'
  echo "server RSS with 99,999 runs queued: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
}

canary() { # 200 runs of a pipeline with a canary in progress vs 200 of one without, alternated
  for p in bench-plain bench-canary; do
    for v in 1 2; do
      curl -sf -X POST "$BASE/$p/configs" -H 'content-type: application/json' \
        -d "{\"config\":{\"id\":\"$p\",\"name\":\"$p\",\"tasks\":[{\"id\":\"t\",\"image\":\"$IMG\",\"command\":[\"sh\",\"-c\",\"echo v$v\"]}]}}" >/dev/null
    done
    curl -sf -X POST "$BASE/$p/configs/1" >/dev/null
  done
  # A canary that cannot conclude during the benchmark: every run is split, none decides it.
  curl -sf -X POST "$BASE/bench-canary/configs/2" -H 'content-type: application/json' \
    -d '{"canary":{"percent":50,"bake_runs":100000,"max_failure_rate":1}}' >/dev/null
  BASE=$BASE python3 - <<'PY'
import json, os, statistics, time, urllib.request
base = os.environ["BASE"]
def call(method, url, body=None):
    req = urllib.request.Request(url, method=method, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
figures = {"bench-plain": ([], []), "bench-canary": ([], [])}
for _ in range(200):
    for p, (post_ms, wait_ms) in figures.items():
        t = time.perf_counter()
        run = call("POST", f"{base}/{p}/runs", b"{}")["run"]
        post_ms.append((time.perf_counter() - t) * 1000)
        while True:
            r = call("GET", f"{base}/{p}/runs/{run['run_id']}")["run"]
            if r["state"] == "complete":
                wait_ms.append(r["started"] - r["queued"])
                break
            time.sleep(0.05)
canary = call("GET", f"{base}/bench-canary/deployments/2")["deployment"]["canary"]
for p, (post_ms, wait_ms) in figures.items():
    post_ms.sort(); wait_ms.sort()
    print(f"{p}: POST /runs median {statistics.median(post_ms):.2f} ms p95 {post_ms[189]:.2f} ms; "
          f"queue-to-start median {statistics.median(wait_ms):.1f} ms p95 {wait_ms[189]} ms")
print(f"canary split: {canary['started']} runs on version 2, {canary['baseline']} on version 1")
PY
}

operations() { # queue-to-start: overlap allow vs skip, and a plain run vs a retry --failed-only
  # reusing one of two tasks; 100 of each, alternated (docs/runs.md#overlapping-runs,
  # docs/runs.md#retrying-a-run)
  for p in bench-allow bench-skip bench-retry; do
    overlap=allow; [ $p = bench-skip ] && overlap=skip
    # bench-retry's second task fails, so a retry --failed-only reuses the first and runs it.
    script="echo u"; [ $p = bench-retry ] && script="exit 1"
    second='{"id":"u","image":"'$IMG'","command":["sh","-c","'$script'"]}'
    curl -sf -X POST "$BASE/$p/configs" -H 'content-type: application/json' \
      -d "{\"config\":{\"id\":\"$p\",\"name\":\"$p\",\"overlap\":\"$overlap\",\"tasks\":[{\"id\":\"t\",\"image\":\"$IMG\",\"command\":[\"sh\",\"-c\",\"echo t\"]},$second]}}" >/dev/null
    curl -sf -X POST "$BASE/$p/configs/1" >/dev/null
  done
  BASE=$BASE python3 - <<'PY'
import json, os, statistics, time, urllib.request
base = os.environ["BASE"]
def call(method, url, body=None):
    req = urllib.request.Request(url, method=method, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
def done(p, run_id):
    while True:
        r = call("GET", f"{base}/{p}/runs/{run_id}")["run"]
        if r["state"] == "complete":
            return r
        time.sleep(0.05)
# The run a retry reuses: one complete run of bench-retry.
first = call("POST", f"{base}/bench-retry/runs", b"{}")["run"]["run_id"]
done("bench-retry", first)
figures = {"allow": [], "skip": [], "plain (2 tasks)": [], "retry --failed-only (1 reused)": []}
for _ in range(100):
    for name, start in [
        ("allow", lambda: ("bench-allow", call("POST", f"{base}/bench-allow/runs", b"{}"))),
        ("skip", lambda: ("bench-skip", call("POST", f"{base}/bench-skip/runs", b"{}"))),
        ("plain (2 tasks)", lambda: ("bench-retry", call("POST", f"{base}/bench-retry/runs", b"{}"))),
        ("retry --failed-only (1 reused)", lambda: ("bench-retry", call("POST", f"{base}/bench-retry/runs/{first}/retry", b'{"failed_only": true}'))),
    ]:
        p, answer = start()
        r = done(p, answer["run"]["run_id"])
        figures[name].append(r["started"] - r["queued"])
for name, ms in figures.items():
    ms.sort()
    print(f"{name}: queue-to-start median {statistics.median(ms):.1f} ms, p95 {ms[94]} ms")
PY
}

for b in "${@:-overhead chain fanout logs sustained}"; do for x in $b; do $x; done; done
