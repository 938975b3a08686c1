#!/usr/bin/env python3
"""The connection-request listener under attack: a benchmark that prints figures and asserts
nothing, and the attackers the tests use.

    python3 tools/listener_attack.py [--code DIR] [--slowloris 500] [--flood 20000]
                                     [--requests 20] [--json]

It starts the real daemon (`python3 -m tr069client run`, from --code, default this checkout)
against the lab ACS with a connection-request port, then runs five phases: idle, slowloris
only, floods only, all at once, and after the attack ("bodies", only the 10 MB bodies, on
request with --phases). In each, the lab ACS sends --requests GenieACS-style connection
requests, one a second (a GET without credentials, then Digest on the answer), each waiting
for the session it asks for, while the attackers run in child processes of their own:

  slowloris  --slowloris sockets from 127.0.0.2 that send half a request head and then a byte
             a second, reconnecting as soon as they are dropped;
  floods     --flood requests from 127.0.0.3-10, in turn: a GET without credentials, a
             wrong-password Digest answer, an 8 KB header, garbage bytes; and alongside, one
             connection at a time announcing and sending a 10 MB body.

Per phase: connection-request latency p50/p99 (ms, both round trips), how many were answered
200/204 and led to a session, the daemon's peak VmRSS, its VmHWM, peak open fds, and the CPU
seconds it used per minute of the phase. The attackers go through hundreds of thousands of
loopback connections a minute: do not run it beside tests that bind ports they picked.
"""

import argparse
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

from lab_acs import LabAcs, _client_authorization  # noqa: E402

MS = "Device.ManagementServer."
CR_USER, CR_PASS = "cr-user", "cr-pass"
FLOOD_SOURCES = ["127.0.0.%d" % i for i in range(3, 11)]
_CR = "6 CONNECTION REQUEST"


def raise_fd_limit(want=4096):
    """Lift this process's descriptor limit (the attackers need hundreds of sockets)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _socket(source):
    """A TCP socket bound to `source`. With SO_REUSEADDR its port does not keep a server on
    this machine from binding the same number meanwhile (the attackers go through hundreds
    of thousands of ports a minute)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:  # Linux: the port is chosen at connect(), per destination
        s.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24), 1)
    except OSError:
        pass
    s.bind((source, 0))
    return s


class Slowloris:
    """`count` sockets that each send half a request head, then one byte a second; a socket
    the listener drops is replaced at once."""

    def __init__(self, port, count, path="/", source="127.0.0.2", host="127.0.0.1"):
        self.addr, self.count, self.source = (host, port), count, source
        self.head = ("GET %s HTTP/1.1\r\nHost: %s\r\nX-Pad: " % (path, host)).encode()
        self.opened = self.dropped = 0
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slowloris", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def done(self):
        return True

    def stop(self):
        self._halt.set()
        self._thread.join(10)

    def stats(self):
        return {"slowloris_opened": self.opened, "slowloris_dropped": self.dropped}

    def _run(self):
        sel = selectors.DefaultSelector()
        live = {}  # socket -> next trickle time, or None while connecting
        try:
            while not self._halt.is_set():
                for _ in range(min(64, self.count - len(live))):
                    s = _socket(self.source)
                    s.setblocking(False)
                    s.connect_ex(self.addr)
                    live[s] = None
                    sel.register(s, selectors.EVENT_WRITE)
                    self.opened += 1
                now = time.monotonic()
                for key, _ in sel.select(0.05):
                    s = key.fileobj
                    if live[s] is None:  # connected (or refused)
                        try:
                            s.send(self.head)
                        except OSError:
                            self._close(sel, live, s)
                            continue
                        live[s] = now + 1.0
                        sel.modify(s, selectors.EVENT_READ)
                        continue
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    if not data:
                        self._close(sel, live, s)
                for s, due in list(live.items()):
                    if due is not None and now >= due:
                        try:
                            s.send(b"a")
                            live[s] = now + 1.0
                        except OSError:
                            self._close(sel, live, s)
        finally:
            for s in list(live):
                sel.unregister(s)
                s.close()
            sel.close()

    def _close(self, sel, live, s):
        sel.unregister(s)
        del live[s]
        s.close()
        self.dropped += 1


def _exchange(sock, data):
    """Send `data`, read one answer head; its status (0 if the connection ended first)."""
    sock.sendall(data)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    try:
        return int(buf.split(b" ", 2)[1]), buf
    except (IndexError, ValueError):
        return 0, buf


KINDS = ("no-credentials", "wrong-password", "big-header", "garbage")


class Flood:
    """`total` hostile requests (or until stopped, if total is None) from FLOOD_SOURCES by
    `workers` threads, plus one thread sending 10 MB bodies; counts answers by kind."""

    def __init__(self, port, path, total=None, workers=4, bodies=True, kinds=KINDS,
                 host="127.0.0.1"):
        self.addr, self.path, self.total, self.kinds = (host, port), path, total, kinds
        self.sent = 0
        self.answers = {}  # (kind, status) -> count
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._threads = [threading.Thread(target=self._work, args=(i,), daemon=True)
                         for i in range(workers)]
        if bodies:
            self._threads.append(threading.Thread(target=self._bodies, daemon=True))

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def done(self):
        return self.total is not None and self.sent >= self.total

    def stop(self):
        self._halt.set()
        for t in self._threads:
            t.join(15)

    def stats(self):
        return {"flood_sent": self.sent,
                "flood_answers": {"%s %s" % k: v for k, v in sorted(self.answers.items(), key=str)}}

    def _note(self, kind, status):
        with self._lock:
            self.answers[(kind, status)] = self.answers.get((kind, status), 0) + 1

    def _connect(self, n, timeout=5.0):
        s = _socket(FLOOD_SOURCES[n % len(FLOOD_SOURCES)])
        s.settimeout(timeout)
        s.connect(self.addr)
        return s

    def _work(self, worker):
        n = worker
        while not self._halt.is_set():
            with self._lock:
                if self.total is not None and self.sent >= self.total:
                    return
                self.sent += 1
            kind = self.kinds[n % len(self.kinds)]
            n += 1
            try:
                s = self._connect(n)
            except OSError:
                self._note(kind, "connect failed")
                continue
            try:
                self._note(kind, self._one(s, kind))
            except OSError as e:
                self._note(kind, type(e).__name__)
            finally:
                s.close()

    def _one(self, s, kind):
        get = "GET %s HTTP/1.1\r\nHost: %s\r\n" % (self.path, self.addr[0])
        if kind == "no-credentials":
            return _exchange(s, (get + "\r\n").encode())[0]
        if kind == "wrong-password":
            status, head = _exchange(s, (get + "\r\n").encode())
            challenge = ""
            for line in head.decode("latin-1").split("\r\n"):
                if line.lower().startswith("www-authenticate:"):
                    challenge = line.split(":", 1)[1].strip()
            if status != 401 or not challenge:
                return status
            answer = _client_authorization(challenge, "GET", self.path, CR_USER, "guess")
            return _exchange(s, (get + "Authorization: %s\r\n\r\n" % answer).encode())[0]
        if kind == "big-header":
            return _exchange(s, (get + "X-Big: " + "b" * 8192 + "\r\n\r\n").encode())[0]
        return _exchange(s, os.urandom(1024) + b"\r\n\r\n")[0]

    def _bodies(self):
        chunk = b"x" * 65536
        while not self._halt.is_set():
            try:
                s = self._connect(0, timeout=10.0)
            except OSError:
                continue
            try:
                s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"
                           % self.path).encode())
                for _ in range(10000000 // len(chunk)):
                    if self._halt.is_set():
                        break
                    s.sendall(chunk)
                self._note("10 MB body", "sent whole")
            except OSError:
                self._note("10 MB body", "cut off")
            finally:
                s.close()


class Remote:
    """An attacker (`make()` gives a Slowloris or a Flood) in a child process of its own, so
    its work does not slow the measuring client down (one interpreter, one GIL)."""

    def __init__(self, make):
        import multiprocessing
        ctx = multiprocessing.get_context("fork")
        self._pipe, child = ctx.Pipe()
        self._done = False
        self._proc = ctx.Process(target=_remote, args=(make, child), daemon=True)
        self._proc.start()

    def done(self):
        while not self._done and self._pipe.poll():
            self._done = self._pipe.recv() == "done"
        return self._done

    def stop(self):
        """Stop it; its stats()."""
        self._pipe.send("stop")
        while True:
            msg = self._pipe.recv()
            if msg != "done":
                break
        self._proc.join(15)
        return msg


def _remote(make, pipe):
    raise_fd_limit()
    attacker = make().start()
    said = False
    while not pipe.poll(0.1):
        if not said and attacker.done():
            pipe.send("done")
            said = True
    attacker.stop()
    pipe.send(attacker.stats())


# ---------------------------------------------------------------- the benchmark

def _proc(pid):
    """(VmRSS KB, VmHWM KB, open fds, CPU seconds) of a process."""
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, value = line.partition(":")
            fields[name] = value.split()
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / float(os.sysconf("SC_CLK_TCK"))
    return (int(fields["VmRSS"][0]), int(fields["VmHWM"][0]),
            len(os.listdir("/proc/%d/fd" % pid)), cpu)


class Sampler(threading.Thread):
    """Peak RSS and fds of the daemon, sampled every 50 ms."""

    def __init__(self, pid):
        threading.Thread.__init__(self, daemon=True)
        self.pid, self.rss, self.fds = pid, 0, 0
        self._halt = threading.Event()

    def run(self):
        while True:
            rss, _, fds, _ = _proc(self.pid)
            self.rss, self.fds = max(self.rss, rss), max(self.fds, fds)
            if self._halt.wait(0.05):
                return

    def stop(self):
        self._halt.set()
        self.join(5)


def _pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))] if values else 0


def legit_requests(acs, url, n, keep_going=lambda: False, every=0.0):
    """GenieACS-style connection requests one after another, each waiting (up to 10 s) for
    the session it asks for, and starting at most one per `every` seconds;
    [(status, seconds, led to a session)]."""
    out = []
    t0 = time.monotonic() - every
    while len(out) < n or keep_going():
        time.sleep(max(0.0, t0 + every - time.monotonic()))
        before = len(acs.informs)
        t0 = time.monotonic()
        try:
            status = acs.connection_request(url, CR_USER, CR_PASS)
        except OSError:
            status = 0
        took = time.monotonic() - t0
        led = status in (200, 204) and bool(acs.wait_for(lambda a: any(
            _CR in [e[0] for e in i["events"]] for i in a.informs[before:]), 10))
        if led:  # the next one waits for this session's end, as GenieACS's NBI does
            acs.wait_for(lambda a: a.sessions and all(s.ended for s in a.sessions), 10)
        out.append((status, took, led))
    return out


def run_phase(name, acs, url, port, path, pid, args):
    attackers = []
    if name in ("slowloris", "all at once"):
        attackers.append(Remote(lambda: Slowloris(port, args.slowloris, path)))
    if name in ("floods", "all at once"):
        attackers.append(Remote(lambda: Flood(port, path, total=args.flood)))
    if name == "bodies":
        attackers.append(Remote(lambda: Flood(port, path, total=0, workers=0)))
    if attackers:
        time.sleep(1.0)  # let the attack build up
    sampler = Sampler(pid)
    sampler.start()
    cpu0, t0 = _proc(pid)[3], time.monotonic()
    # One a second: within the listener's budget of sessions, as a real ACS would be; for
    # as long as the flood has requests left to send.
    results = legit_requests(acs, url, args.requests, every=1.0,
                             keep_going=lambda: not all(a.done() for a in attackers))
    cpu1, t1 = _proc(pid)[3], time.monotonic()
    sampler.stop()
    stats = {}
    for a in attackers:
        stats.update(a.stop())
    _, hwm, _, _ = _proc(pid)
    took = [r[1] * 1000 for r in results]
    row = {"phase": name, "requests": len(results),
           "answered": sum(1 for r in results if r[0] in (200, 204)),
           "sessions": sum(1 for r in results if r[2]),
           "p50_ms": round(_pct(took, 50), 1), "p99_ms": round(_pct(took, 99), 1),
           "rss_mb": round(sampler.rss / 1024.0, 1), "hwm_mb": round(hwm / 1024.0, 1),
           "fds": sampler.fds, "cpu_s_per_min": round((cpu1 - cpu0) * 60 / (t1 - t0), 1),
           "seconds": round(t1 - t0, 1)}
    row.update(stats)
    return row


def start_daemon(code, folder, acs):
    import json
    config = os.path.join(folder, "config.json")
    with open(config, "w") as f:
        json.dump({"connection-request-username": CR_USER,
                   "connection-request-password": CR_PASS}, f)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = dict(os.environ, PYTHONPATH=code)
    cmd = [sys.executable, "-m", "tr069client", "run", "--state-dir", os.path.join(folder, "state"),
           "--config", config, "--acs-url", acs.url, "--cr-port", str(port),
           "--cr-address", "127.0.0.1", "--log-level", "warning"]
    log = open(os.path.join(folder, "daemon.log"), "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, cwd=folder)
    log.close()
    acs.wait_sessions(1, timeout=30)
    url = acs.informs[-1]["parameters"][MS + "ConnectionRequestURL"]
    return proc, port, url


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", default=REPO, help="the tr069client checkout the daemon runs from")
    ap.add_argument("--slowloris", type=int, default=500)
    ap.add_argument("--flood", type=int, default=20000)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--phases", default="idle,slowloris,floods,all at once,after",
                    help="comma-separated, from: idle, slowloris, floods, all at once, "
                         "after, bodies")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    raise_fd_limit()
    folder = tempfile.mkdtemp(prefix="listener-attack-")
    acs = LabAcs().start()
    proc = None
    rows = []
    try:
        proc, port, url = start_daemon(args.code, folder, acs)
        path = "/" + url.split("/", 3)[3]
        print("daemon %d from %s, connection requests at %s" % (proc.pid, args.code, url),
              file=sys.stderr)
        for name in args.phases.split(","):
            row = run_phase(name, acs, url, port, path, proc.pid, args)
            rows.append(row)
            if not args.json:
                print("%-12s CR p50 %6.1f ms  p99 %7.1f ms  answered %d/%d  sessions %d  "
                      "RSS %5.1f MB  HWM %5.1f MB  fds %3d  CPU %4.1f s/min  (%.0f s)" % (
                          name, row["p50_ms"], row["p99_ms"], row["answered"], row["requests"],
                          row["sessions"], row["rss_mb"], row["hwm_mb"], row["fds"],
                          row["cpu_s_per_min"], row["seconds"]))
                extra = {k: v for k, v in row.items() if k.startswith(("slowloris", "flood"))}
                if extra:
                    print("             %s" % extra)
                sys.stdout.flush()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        acs.stop()
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        import json
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
