"""The download diagnostic row of tools/bench.py (issue 13): a 100 MiB DownloadDiagnostics on
loopback run by the real daemon as an ACS requests it, beside `curl` fetching the same file in
the same run; the daemon's memory while the test runs against its idle figure.

One daemon run (a `-I -S` child, in the bench's PID namespace when it has one): in its first
session the lab ACS sets the test's parameters (DownloadURL, NumberOfConnections: no test
yet) and reads the object; the idle daemon's VmRSS is read and its VmHWM reset
(/proc/PID/clear_refs, 5); a connection request brings a session that sets DiagnosticsState
= Requested; the test starts when it ends, and the file server holds the response until the
daemon is idle again (VmRSS read, VmHWM reset once more); then it flows, and VmHWM is read
when the 8 DIAGNOSTICS COMPLETE Inform arrives: the peak during the test. That session reads
the results. Throughput over the body: TestBytesReceived / (EOMTime - BOMTime) for the test,
size_download / (time_total - time_starttransfer) for curl (its whole time_total too). Runs
are interleaved with curl (after one unmeasured fetch), the best of each kept.
"""

import calendar
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from bench_proc import FLAGS, REPO, BenchError, child_of, clean_env, launcher, vmhwm
from bench_session import _tail

LIMIT_MB = 1.0
DL = "Device.IP.Diagnostics.DownloadDiagnostics."
MS = "Device.ManagementServer."
EVENT = "8 DIAGNOSTICS COMPLETE"

# The file server (a child, not measured): GET /file/TOKEN sends the file at once, GET
# /held/TOKEN once RELEASE_DIR/TOKEN exists; sendfile(), so the server is not what limits.
_SERVER = r"""
import os, socket, sys, threading, time
path, release, port_file = sys.argv[1:4]
size = os.path.getsize(path)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)

def serve(conn):
    with conn:
        f = conn.makefile("rb")
        target = f.readline().split()[1].decode()
        while f.readline() not in (b"\r\n", b"\n", b""):
            pass
        kind, token = target.strip("/").split("/")
        while kind == "held" and not os.path.exists(os.path.join(release, token)):
            time.sleep(0.005)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
        with open(path, "rb") as src:
            conn.sendfile(src)

while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def _status(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            return int(f.read().split(field + ":")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _reset_peak(pid):
    """Reset the process's VmHWM to its VmRSS (Linux 4.0+); False where that is refused."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _seconds(stamp):
    whole, _, frac = stamp.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


class Server:
    """The file server child with an N MiB sparse file."""

    def __init__(self, work, mib):
        self.dir = os.path.join(work, "diag-files")
        self.release = os.path.join(self.dir, "release")
        os.makedirs(self.release)
        path = os.path.join(self.dir, "file")
        with open(path, "wb") as f:
            f.truncate(mib * 1024 * 1024)
        port_file = os.path.join(self.dir, "port")
        self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _SERVER, path, self.release, port_file])
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise BenchError("the diagnostic's file server did not start")
            time.sleep(0.01)
        with open(port_file) as f:
            self.url = "http://127.0.0.1:%s" % f.read()
        self.size = mib * 1024 * 1024

    def let_go(self, token):
        open(os.path.join(self.release, token), "w").close()

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def curl_run(server, token):
    """(bytes per second over the body, over time_total, bytes) of curl fetching the file,
    or None without curl."""
    curl = shutil.which("curl")
    if curl is None:
        return None
    out = subprocess.run([curl, "-s", "-o", "/dev/null", "-w", "%{size_download} %{time_starttransfer} "
                          "%{time_total}", "%s/file/%s" % (server.url, token)], stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout.split()
    size, first, total = int(out[0]), float(out[1]), float(out[2])
    return size / (total - first), size / total, size


def daemon_run(setup, server, token, timeout=120):
    """One daemon run as the module docstring says; {"idle_kb", "waiting_kb", "peak_kb",
    "session_peak_kb", "life_peak_kb", "results", "reset"}."""
    lab = setup.lab()
    name = setup.next_name("diag")
    state_dir = os.path.join(setup.work, "runs", name)
    os.makedirs(state_dir)
    cfg = os.path.join(state_dir, "config.json")
    with open(cfg, "w") as f:
        json.dump({"connection-request-username": "cr", "connection-request-password": "cr-pass"}, f)
    got, pid = {}, []

    def echo(line):   # in the ACS's thread, before it answers the Inform
        if line.startswith("CPE -> ACS  Inform") and EVENT in line and pid:
            got["peak_kb"] = vmhwm(pid[0])
    acs = lab.LabAcs(auth="digest", username="bench", password="bench", echo=echo).start()
    acs.queue_session([lab.set_parameter_values([(DL + "DownloadURL", "%s/held/%s" % (server.url, token)),
                                                 (DL + "NumberOfConnections", "1", "xsd:unsignedInt")], "set"),
                       lab.get_parameter_values([DL])])
    args = ["run", "--state-dir", state_dir, "--config", cfg, "--acs-url", acs.url, "--username", "bench",
            "--password", "bench", "--cr-port", "0", "--cr-address", "127.0.0.1",
            "--periodic-inform-enabled", "no"]
    argv = setup.ns + [setup.py] + FLAGS + ["-c", launcher([REPO, setup.deps], "tr069client")] + args
    log_path = os.path.join(state_dir, "daemon.log")
    with open(log_path, "wb") as log:
        p = subprocess.Popen(argv, env=clean_env({"TR069CLIENT_BOOT_ID": "bench-" + name}), stdout=log,
                             stderr=log, stdin=subprocess.DEVNULL)
    try:
        pid.append(child_of(p.pid) if setup.ns else p.pid)

        def ended(n):
            if not acs.wait_for(lambda a: sum(1 for s in a.sessions if s.ended) >= n or p.poll() is not None,
                                timeout) or p.poll() is not None:
                raise BenchError("session %d did not end (daemon status %s)" % (n, p.poll()))
            time.sleep(0.3)        # the daemon logs and saves after the session
        ended(1)
        got["idle_kb"], got["life_peak_kb"] = _status(pid[0], "VmRSS"), vmhwm(pid[0])
        got["reset"] = _reset_peak(pid[0])
        acs.queue_session([lab.set_parameter_values([(DL + "DiagnosticsState", "Requested")], "go")])
        acs.queue_session([lab.get_parameter_values([DL])])
        url = acs.informs[-1]["parameters"][MS + "ConnectionRequestURL"]
        if acs.connection_request(url, "cr", "cr-pass") not in (200, 204):
            raise BenchError("the daemon refused the connection request")
        ended(2)
        got["session_peak_kb"] = vmhwm(pid[0])
        got["waiting_kb"] = _status(pid[0], "VmRSS")
        _reset_peak(pid[0])
        server.let_go(token)
        ended(3)
        os.kill(pid[0], signal.SIGTERM)
        p.wait(timeout)
    except BaseException:
        if p.poll() is None:
            p.kill()
            p.wait()
        raise
    finally:
        acs.stop()
    if p.returncode != 0 or "peak_kb" not in got or not got["reset"]:
        raise BenchError("diagnostic run %s: exit status %s, %s\n%s" % (
            name, p.returncode, "no 8 DIAGNOSTICS COMPLETE Inform" if "peak_kb" not in got else
            "/proc/PID/clear_refs refused" if not got["reset"] else "", _tail(log_path)))
    gpv = [r for m, r in acs.responses if m == "GetParameterValuesResponse"]
    got["results"] = {k[len(DL):]: v for k, (v, _) in gpv[-1].items()} if gpv else {}
    return got


def measure(setup, work, mib, runs, say):
    """{"curl", "runs", ...}: `runs` daemon runs interleaved with curl, on one file server."""
    server = Server(work, mib)
    try:
        curls, daemons = [], []
        curl_run(server, "warm-up")
        for i in range(runs):
            say("download diagnostic, run %d of %d" % (i + 1, runs))
            curls.append(curl_run(server, "c%d" % i))
            daemons.append(daemon_run(setup, server, "d%d" % i))
    finally:
        server.close()
    for d in daemons:
        if d["results"].get("DiagnosticsState") != "Complete":
            raise BenchError("the download diagnostic ended with %s" % d["results"].get("DiagnosticsState"))
        res = d["results"]
        d["speed"] = int(res["TestBytesReceived"]) / (_seconds(res["EOMTime"]) - _seconds(res["BOMTime"]))
    return {"mib": mib, "curl": max(curls) if curls[0] else None, "runs": daemons}


def row_text(m):
    """(measured column, verdict, line below the row) for bench.py's table."""
    best = max(m["runs"], key=lambda d: d["speed"])
    worst = max(m["runs"], key=lambda d: d["peak_kb"] - d["idle_kb"])
    grow = (worst["peak_kb"] - worst["idle_kb"]) / 1024.0
    curl = m["curl"]
    text = "over the body, best of %d: diagnostic %.0f MB/s (TestBytesReceived %s, BOMTime..EOMTime)" % (
        len(m["runs"]), best["speed"] / 1e6, best["results"]["TestBytesReceived"])
    text += ", curl %.0f MB/s (%.0f MB/s over its time_total): %.0f%% of curl" % (
        curl[0] / 1e6, curl[1] / 1e6, 100.0 * best["speed"] / curl[0]) if curl else ", curl not installed"
    text += "; daemon VmRSS idle %.1f MB, peak during the test %.1f MB (+%.2f MB, worst of %d; waiting for " \
            "the body %.1f MB; the requesting session's peak %.1f MB; lifetime peak before %.1f MB)" % (
                worst["idle_kb"] / 1024.0, worst["peak_kb"] / 1024.0, grow, len(m["runs"]),
                worst["waiting_kb"] / 1024.0, worst["session_peak_kb"] / 1024.0, worst["life_peak_kb"] / 1024.0)
    return "+%.2f MB" % grow, grow <= LIMIT_MB, text

