#!/usr/bin/env python3
"""Download diagnostic benchmark (issue 13; to be folded into tools/bench.py): prints
figures, asserts nothing.

    python3 tools/bench_diag.py [--mib N] [--connections N] [--python PY]

A loopback HTTP server (a child process) serves an N MiB file (100 by default). In the
same run, three times each, interleaved, best figure kept: `curl` downloads it, and a child
process that has imported what the daemon loads runs the DownloadDiagnostics test through
the diagnostics runner, as the daemon will. Printed: throughputs over the same span
(curl: size / time_total; ours: TestBytesReceived from TCPOpenRequestTime to EOMTime) and
TR-143's own (BOMTime..EOMTime), and the child's RSS idle (before the test) and peak
(VmHWM after it). Target: peak within 1 MB of idle.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT_MB = 1.0

_SERVER = r"""
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
handler.func.log_message = lambda *a: None
handler.func.protocol_version = "HTTP/1.1"
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""

# The measured child: the daemon's imports first, then idle RSS, then one test through the
# runner (worker thread, pipe, select) as the daemon's loop will drive it.
_CHILD = r"""
import json, select, sys
import tr069client.daemon, tr069client.device
from tr069client.diagnostics import rules, runner

def status(field):
    with open("/proc/self/status") as f:
        return int(f.read().split(field + ":")[1].split()[0])

idle = status("VmRSS")
hwm_before = status("VmHWM")
r = runner.Runner()
r.start("DownloadDiagnostics", {"DownloadURL": sys.argv[1], "NumberOfConnections": sys.argv[2]})
while True:
    select.select(r.fds(), [], [], 60)
    done = r.collect()
    if done:
        break
kind, res, note = done[0]
r.close()
print(json.dumps({"idle_kb": idle, "hwm_before_kb": hwm_before, "peak_kb": status("VmHWM"),
                  "results": res, "note": note, "modules": len(sys.modules)}))
"""


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("bench_diag: the loopback server did not start")


def _seconds(stamp):
    import calendar
    whole, frac = stamp.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


def curl_speed(url):
    curl = shutil.which("curl")
    if curl is None:
        return None
    out = subprocess.run([curl, "-s", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url],
                         stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split()
    return int(out[0]) / float(out[1]), int(out[0])


def diag_run(py, url, connections):
    env = dict(os.environ, PYTHONPATH=REPO)
    out = subprocess.run([py, "-c", _CHILD, url, str(connections)], stdout=subprocess.PIPE,
                         universal_newlines=True, env=env, cwd=REPO, check=True).stdout
    return json.loads(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="bench-diag-")
    port = _free_port()
    server = None
    try:
        with open(os.path.join(work, "file"), "wb") as f:
            f.truncate(args.mib * 1024 * 1024)
        server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port), work])
        _wait_port(port)
        url = "http://127.0.0.1:%d/file" % port
        curls, runs = [], []
        for _ in range(3):
            curls.append(curl_speed(url))
            runs.append(diag_run(args.python, url, args.connections))
        curl = max(curls) if curls[0] else None
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
    for got in runs:
        res = got["results"]
        if res.get("DiagnosticsState") != "Complete":
            print("download diagnostic failed: %s (%s)" % (res.get("DiagnosticsState"), got["note"]))
            return 1

    def speed(got, start):
        res = got["results"]
        return int(res["TestBytesReceived"]) / (_seconds(res["EOMTime"]) - _seconds(res[start]))
    best = max(runs, key=lambda g: speed(g, "TCPOpenRequestTime"))
    ours, tr143 = speed(best, "TCPOpenRequestTime"), speed(best, "BOMTime")
    print("download of %d MiB on loopback, %d connection(s), best of 3" % (args.mib, args.connections))
    if curl:
        print("  curl:        %8.1f MB/s (%d bytes / time_total)" % (curl[0] / 1e6, curl[1]))
    else:
        print("  curl:        not installed (apt-get install curl)")
    print("  diagnostic:  %8.1f MB/s (TestBytesReceived %s, TCPOpenRequestTime..EOMTime)%s" % (
        ours / 1e6, best["results"]["TestBytesReceived"],
        "  = %.0f%% of curl" % (100.0 * ours / curl[0]) if curl else ""))
    print("               %8.1f MB/s over BOMTime..EOMTime (TR-143's window)" % (tr143 / 1e6))
    got = max(runs, key=lambda g: g["peak_kb"] - g["idle_kb"])
    grow = (got["peak_kb"] - got["idle_kb"]) / 1024.0
    print("  RSS of the measuring process (worst of 3): idle %.1f MB, peak %.1f MB: +%.2f MB "
          "(target <= %.1f MB: %s)"
          % (got["idle_kb"] / 1024.0, got["peak_kb"] / 1024.0, grow, LIMIT_MB,
             "met" if grow <= LIMIT_MB else "MISSED"))
    print("  modules loaded by the measuring process: %d" % got["modules"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
