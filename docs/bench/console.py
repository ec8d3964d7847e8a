#!/usr/bin/env python3
"""Console benchmark (docs/benchmarks.md, issue 6): time to first frame, CPU and RSS while
following a task that prints ~20,000 lines/s, and key-to-redraw latency under that load.

Runs the release `gofer` against a local server (temporary data dir, its own port) in a tmux
session on its own socket. Needs tmux, Docker, and the busybox test image
(`gofer-test/busybox:latest`, built by `cargo test -p gofer --test it console`).

Usage: docs/bench/console.py            (WINDOW=20 seconds of measurement by default)
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.path.join(TARGET, "release", "gofer")
PORT = int(os.environ.get("PORT", "18093"))
BASE = f"http://127.0.0.1:{PORT}"
WINDOW = float(os.environ.get("WINDOW", "20"))
IMAGE = os.environ.get("IMAGE", "gofer-test/busybox:latest")
NS = f"bench-console-{os.getpid()}"
SOCKET = f"gofer-bench-{os.getpid()}"
TICKS = os.sysconf("SC_CLK_TCK")


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method,
                                 headers={"content-type": "application/json", "gofer-api-version": "v0"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def tmux(*args):
    return sh("tmux", "-L", SOCKET, *args)


def screen():
    return tmux("capture-pane", "-p", "-t", "bench")


def wait_for(what, cond, deadline=60.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        s = screen()
        if cond(s):
            return s
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}; screen:\n{screen()}")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def status_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def console_command(state):
    return (f"env GOFER_CONSOLE_LOG=info,gofer_console=debug XDG_CONFIG_HOME={state}/no-config "
            f"XDG_STATE_HOME={state} {BIN} --api-base-url {BASE} --namespace {NS} console")


def main():
    for tool in ("tmux", "docker"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing")
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        sys.exit(f"image {IMAGE} is missing: run `cargo test -p gofer --test it console` once to build it")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "gofer"], cwd=ROOT, check=True)
    data = tempfile.mkdtemp(prefix="gofer-bench-console-")
    env = dict(os.environ, GOFER_WEB_SERVER__BIND_ADDRESS=f"127.0.0.1:{PORT}",
               GOFER_WEB_SERVER__DATA_DIR=f"{data}/data", GOFER_WEB_EXTERNAL_EVENTS__ENABLE="false",
               GOFER_WEB_EXTENSIONS__INSTALL_STD_EXTENSIONS="false")
    server = subprocess.Popen([BIN, "service", "start"], env=env, stdout=open(f"{data}/server.log", "w"),
                              stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                api("GET", "/api/health")
                break
            except Exception:
                time.sleep(0.05)
        api("POST", "/api/namespaces", {"id": NS, "name": NS})
        # 10 bursts a second of 2,500 lines of 64 bytes (awk and usleep overhead bring it to ~20,000 lines/s).
        seconds = int(WINDOW + 30)
        script = (f"i=0; while [ $i -lt {seconds * 10} ]; do awk 'BEGIN{{for(j=0;j<2500;j++) "
                  f"printf \"line %07d: the quick brown fox jumps over the lazy dog 0123456\\n\", j}}'; "
                  f"usleep 100000; i=$((i+1)); done")
        api("POST", f"/api/namespaces/{NS}/pipelines/flood/configs",
            {"config": {"id": "flood", "name": "flood",
                        "tasks": [{"id": "flood", "image": IMAGE, "command": ["sh", "-c", script]}]}})
        api("POST", f"/api/namespaces/{NS}/pipelines/flood/configs/1")
        state = f"{data}/state"
        os.makedirs(state)

        # 1. Time to first frame: five fresh launches, figure from the trace file (process start
        #    to the first frame written to the terminal).
        # A placeholder session keeps this tmux server alive between launches.
        tmux("new-session", "-d", "-s", "keep", "sleep 3600")
        for _ in range(5):
            tmux("new-session", "-d", "-s", "bench", "-x", "120", "-y", "32", console_command(state))
            wait_for("the pipelines view", lambda s: "flood" in s)
            tmux("kill-session", "-t", "bench")
        trace = open(f"{state}/gofer/console.log").read()
        firsts = [float(m) for m in re.findall(r"first_frame_ms=([\d.]+)", trace)]
        print(f"time to first frame (ms, 5 launches): min {min(firsts):.1f}  median "
              f"{statistics.median(firsts):.1f}  max {max(firsts):.1f}")

        # 2. Follow the flood.
        open(f"{state}/gofer/console.log", "w").close()
        tmux("new-session", "-d", "-s", "bench", "-x", "120", "-y", "32", console_command(state))
        pid = int(tmux("display", "-p", "-t", "bench", "#{pane_pid}").strip())
        wait_for("the pipelines view", lambda s: "flood" in s)
        tmux("send-keys", "-t", "bench", "Enter")
        wait_for("the runs view", lambda s: "no runs yet" in s)
        api("POST", f"/api/namespaces/{NS}/pipelines/flood/runs", {})
        wait_for("run 1", lambda s: "(api)" in s)
        tmux("send-keys", "-t", "bench", "Enter")
        wait_for("the run view", lambda s: "▶ flood" in s)
        tmux("send-keys", "-t", "bench", "Enter")
        wait_for("the following log", lambda s: "following" in s and "quick brown fox" in s)
        time.sleep(5)  # warm-up: the buffer fills to its 100,000-line cap
        log = f"{data}/data/logs/{NS}/flood/1/flood.log"
        lines0 = sum(1 for _ in open(log, "rb"))
        cpu0, t0 = cpu_seconds(pid), time.monotonic()

        # 3. Key-to-redraw latency under load, measured outside the process: send `w` (wrap
        #    toggle) and poll the screen until its title line changes. Includes tmux's own
        #    latency and the capture-pane polling interval, so it is an upper bound.
        latencies = []
        wrapped = False
        while time.monotonic() - t0 < WINDOW:
            tmux("send-keys", "-t", "bench", "w")
            sent = time.monotonic()
            wrapped = not wrapped
            wait_for("the wrap toggle", lambda s: ("· wrap" in s.splitlines()[2]) == wrapped, 10)
            latencies.append((time.monotonic() - sent) * 1000)
            time.sleep(0.4)
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
        title = screen().splitlines()[2].strip()
        lines1 = sum(1 for _ in open(log, "rb"))
        rss, hwm = status_kb(pid, "VmRSS"), status_kb(pid, "VmHWM")
        rate = (lines1 - lines0) / (t1 - t0)
        print(f"task output: {rate:,.0f} lines/s over {t1 - t0:.0f} s; log view: {title}")
        print(f"console CPU while following: {100 * (cpu1 - cpu0) / (t1 - t0):.1f}% of one core")
        print(f"console RSS: {rss / 1024:.1f} MB (peak {hwm / 1024:.1f} MB)")
        latencies.sort()
        print(f"key to redraw, external (ms, {len(latencies)} keys): median {statistics.median(latencies):.1f}  "
              f"p90 {latencies[int(len(latencies) * 0.9)]:.1f}  max {latencies[-1]:.1f}")
        trace = open(f"{state}/gofer/console.log").read()
        internal = sorted(float(m) for m in re.findall(r"key_to_draw_ms=([\d.]+)", trace))
        if internal:
            print(f"key to redraw, in process (ms, {len(internal)} keys): median "
                  f"{statistics.median(internal):.2f}  max {internal[-1]:.2f}")
        queued = sorted(float(m) for m in re.findall(r"key_read_to_draw_ms=([\d.]+)", trace))
        if queued:
            print(f"key read from the terminal to redraw (ms, {len(queued)} keys): median "
                  f"{statistics.median(queued):.2f}  p90 {queued[int(len(queued) * 0.9)]:.2f}  max {queued[-1]:.2f}")
        tmux("send-keys", "-t", "bench", ":", "q", "Enter")
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
        try:
            api("DELETE", f"/api/namespaces/{NS}/pipelines/flood/runs/1")
        except Exception:
            pass
        server.terminate()
        server.wait(30)
        # Remove this benchmark's containers only (their names carry our namespace).
        names = sh("docker", "ps", "-aq", "--filter", f"label=gofer.namespace_id={NS}").split()
        if names:
            subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
