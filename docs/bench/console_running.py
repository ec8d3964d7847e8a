#!/usr/bin/env python3
"""Console benchmark of `:running` (docs/benchmarks.md): with 200 runs in progress (20 running,
180 queued) and 50 pipelines subscribed to the interval extension, the time from the runs list
arriving in the console to its frame being drawn (from the console's trace), and the console's
CPU while it sits on `:running`.

Runs the release `gofer` against a local server (temporary data dir, its own port, the standard
extensions installed) in a tmux session on its own socket. Needs tmux, Docker and the busybox
test image (`gofer-test/busybox:latest`, built by `cargo test -p gofer --test it console`).

Usage: docs/bench/console_running.py      (WINDOW=20 seconds of CPU measurement by default)
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import console as base  # noqa: E402  (the console benchmark's helpers)

RUNS, PARALLEL, SUBSCRIBED = 200, 20, 50


def main():
    for tool in ("tmux", "docker"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "gofer"], cwd=base.ROOT, check=True)
    data = tempfile.mkdtemp(prefix="gofer-bench-running-")
    env = dict(os.environ, GOFER_WEB_SERVER__BIND_ADDRESS=f"0.0.0.0:{base.PORT}",
               GOFER_WEB_SERVER__EXTENSION_ADDRESS=f"172.17.0.1:{base.PORT}",
               GOFER_WEB_SERVER__DATA_DIR=f"{data}/data", GOFER_WEB_EXTERNAL_EVENTS__ENABLE="false")
    server = subprocess.Popen([base.BIN, "service", "start"], env=env,
                              stdout=open(f"{data}/server.log", "w"), stderr=subprocess.STDOUT)
    ns = base.NS
    try:
        for _ in range(200):
            try:
                base.api("GET", "/api/health")
                break
            except Exception:
                time.sleep(0.05)
        base.api("POST", "/api/namespaces", {"id": ns, "name": ns})
        task = {"id": "t", "image": base.IMAGE, "command": ["sleep", "600"]}
        base.api("POST", f"/api/namespaces/{ns}/pipelines/hold/configs",
                 {"config": {"id": "hold", "name": "hold", "parallelism": PARALLEL, "tasks": [task]}})
        base.api("POST", f"/api/namespaces/{ns}/pipelines/hold/configs/1")
        for _ in range(200):
            if base.api("GET", "/api/extensions/interval")["extension"]["state"] == "running":
                break
            time.sleep(0.5)
        for i in range(SUBSCRIBED):
            p = f"sub{i:03d}"
            base.api("POST", f"/api/namespaces/{ns}/pipelines/{p}/configs",
                     {"config": {"id": p, "name": p, "tasks": [task]}})
            base.api("POST", f"/api/namespaces/{ns}/pipelines/{p}/configs/1")
            base.api("POST", f"/api/namespaces/{ns}/pipelines/{p}/subscriptions",
                     {"extension_id": "interval", "subscription_id": "hourly", "settings": {"every": "1h"}})
        for _ in range(RUNS):
            base.api("POST", f"/api/namespaces/{ns}/pipelines/hold/runs", {})
        for _ in range(600):
            active = base.api("GET", "/api/runs")["runs"]
            if sum(1 for a in active if a["run"]["state"] == "running") >= PARALLEL:
                break
            time.sleep(1)
        print(f"{len(active)} runs in progress, "
              f"{sum(1 for a in active if a['run']['state'] == 'running')} running")
        state = f"{data}/state"
        os.makedirs(state)
        base.tmux("new-session", "-d", "-s", "bench", "-x", "160", "-y", "50", base.console_command(state))
        pid = int(base.tmux("display", "-p", "-t", "bench", "#{pane_pid}").strip())
        base.wait_for("the pipelines view", lambda s: "hold" in s)
        base.tmux("send-keys", "-t", "bench", ":", "running", "Enter")
        base.wait_for("the running view", lambda s: "queued, #" in s)
        for _ in range(10):  # `r` reads the list again: each arrival is one more figure
            time.sleep(0.5)
            base.tmux("send-keys", "-t", "bench", "r")
        time.sleep(1)
        trace = open(f"{state}/gofer/console.log").read()
        frames = sorted(float(m) for m in re.findall(r"data_to_frame_ms=([\d.]+)", trace))
        print(f"runs list arrived → frame drawn (ms, {len(frames)} arrivals): median "
              f"{statistics.median(frames):.1f}  max {frames[-1]:.1f}")
        cpu0, t0 = base.cpu_seconds(pid), time.monotonic()
        time.sleep(base.WINDOW)
        cpu1, t1 = base.cpu_seconds(pid), time.monotonic()
        print(f"console CPU on :running for {t1 - t0:.0f} s: {100 * (cpu1 - cpu0) / (t1 - t0):.1f}% of one core")
        base.tmux("send-keys", "-t", "bench", ":", "q", "Enter")
    finally:
        subprocess.run(["tmux", "-L", base.SOCKET, "kill-server"], capture_output=True)
        names = base.sh("docker", "ps", "-aq", "--filter", f"label=gofer.namespace_id={ns}").split()
        if names:
            subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
        server.terminate()
        server.wait(60)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
