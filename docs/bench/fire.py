#!/usr/bin/env python3
"""Fire delay of the interval and cron extensions (docs/benchmarks.md): how long after its
scheduled instant each run is queued on the server.

Starts the release binary on a temporary data dir, installs an interval extension with
MIN_INTERVAL=1s (20 fires, every 1s) and uses the cron extension installed at boot (5 fires of
`* * * * *`, about 5 minutes), then prints the median and maximum delay of each.
Needs Docker (.ci/ensure-docker) and `cargo build --release`.
Usage: docs/bench/fire.py [interval_fires] [cron_fires]
"""
import json, os, re, signal, statistics, subprocess, sys, tempfile, time, urllib.request
from datetime import datetime

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
GOFER = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "gofer")
PORT = int(os.environ.get("PORT", "18095"))
API = f"http://127.0.0.1:{PORT}/api"
N_INTERVAL = int(sys.argv[1]) if len(sys.argv) > 1 else 20
N_CRON = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(API + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return json.loads(text) if text else None


def gofer(*args):
    env = dict(os.environ, GOFER_API_BASE_URL=f"http://127.0.0.1:{PORT}")
    return subprocess.run([GOFER, *args], env=env, check=True, capture_output=True, text=True).stdout


def ms(rfc3339):
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000


def pipeline(p):
    call("POST", f"/namespaces/default/pipelines/{p}/configs",
         {"config": {"id": p, "name": p, "tasks": [{"id": "t", "image": "gofer.local/debug-envs"}]}})
    call("POST", f"/namespaces/default/pipelines/{p}/configs/1")


def runs(p):
    return call("GET", f"/namespaces/default/pipelines/{p}/runs?limit=1000")["runs"]


def report(name, delays):
    print(f"{name}: {len(delays)} fires, median {statistics.median(delays):.0f} ms, "
          f"max {max(delays):.0f} ms")


data = tempfile.mkdtemp(prefix="gofer-fire-")
env = dict(os.environ, GOFER_WEB_SERVER__BIND_ADDRESS=f"0.0.0.0:{PORT}",
           GOFER_WEB_SERVER__DATA_DIR=data, GOFER_WEB_EXTERNAL_EVENTS__ENABLE="false",
           GOFER_WEB_API__LOG_LEVEL="warn")
server = subprocess.Popen([GOFER, "service", "start"], env=env,
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "server.log"), "w"))
try:
    for _ in range(120):
        try:
            call("GET", "/health")
            break
        except Exception:
            time.sleep(0.5)
    for _ in range(120):
        if call("GET", "/extensions/cron")["extension"]["state"] == "running":
            break
        time.sleep(0.5)
    gofer("extension", "install", "bench-ivl", "gofer.local/extension-interval", "-s", "MIN_INTERVAL=1s")
    pipeline("fire-ivl")
    pipeline("fire-cron")
    gofer("pipeline", "subscribe", "fire-ivl", "bench-ivl", "every1s", "-s", "every=1s")
    gofer("pipeline", "subscribe", "fire-cron", "cron", "minutely", "-s", "expression=* * * * *")
    while len(runs("fire-ivl")) < N_INTERVAL:
        time.sleep(0.5)
    gofer("pipeline", "unsubscribe", "fire-ivl", "bench-ivl", "every1s")
    queued = {r["run_id"]: r["queued"] for r in runs("fire-ivl")}
    log = gofer("extension", "logs", "bench-ivl")
    delays = []
    for m in re.finditer(r"started run (\d+) of default/fire-ivl scheduled for (\S+)", log):
        run_id, scheduled = int(m.group(1)), m.group(2)
        if run_id in queued:
            delays.append(queued[run_id] - ms(scheduled))
    report("interval (every 1s)", delays[:N_INTERVAL])
    while len(runs("fire-cron")) < N_CRON:
        time.sleep(1)
    delays = []
    for r in runs("fire-cron")[:N_CRON]:
        scheduled = next(v["value"] for v in r["variables"] if v["key"] == "GOFER_EXTENSION_CRON_SCHEDULED_TIME")
        delays.append(r["queued"] - ms(scheduled))
    report("cron (* * * * *)", delays)
finally:
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    for p in ("fire-ivl", "fire-cron"):
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=gofer.pipeline_id={p}"],
                             capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
    subprocess.run(["rm", "-rf", data])
