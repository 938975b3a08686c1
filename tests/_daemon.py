"""Helpers for end-to-end tests: the real daemon as a subprocess (state dir, log file, CLI
calls against it) and a lab ACS instrumented to time Informs and refuse sessions."""

import collections
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import _secrets

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MS = "Device.ManagementServer."


def wait_until(predicate, timeout=10.0, step=0.05):
    """Poll `predicate` until it returns something true or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


class DaemonProc:
    """`tr069client run` in a subprocess with its own state dir and log file."""

    def __init__(self, folder, acs=None, args=(), config=None, boot_id="boot-1", cr_port="0",
                 log_level="info", username="acs-user", password=_secrets.ACS, cr_address="127.0.0.1"):
        self.folder = str(folder)
        self.state_dir = os.path.join(self.folder, "state")
        self.log_path = os.path.join(self.folder, "daemon.log")
        _secrets.log_file(self.log_path)
        self.config_path = None
        if config is not None:
            self.write_config(config)
        self.boot_id = boot_id
        self.args = ["--cr-port", str(cr_port), "--log-level", log_level]
        if cr_address is not None:
            self.args += ["--cr-address", cr_address]
        # The password in the environment, as README advises: ps shows the command line.
        self.password = password if acs is not None else None
        if acs is not None:
            self.args += ["--acs-url", acs.url, "--username", username]
        self.args += list(args)
        self.proc = None

    def write_config(self, config):
        self.config_path = os.path.join(self.folder, "config.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)

    def env(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
        env["TR069CLIENT_BOOT_ID"] = self.boot_id
        if self.password is not None:
            env["TR069CLIENT_PASSWORD"] = self.password
        return env

    def _common(self):
        out = ["--state-dir", self.state_dir]
        if self.config_path:
            out += ["--config", self.config_path]
        return out

    def cli(self, command, *args, check=True, timeout=20):
        """Run `tr069client COMMAND --state-dir ... ARGS`; the CompletedProcess (text)."""
        cmd = [sys.executable, "-m", "tr069client", command] + self._common() + list(args)
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                           env=self.env(), cwd=self.folder, timeout=timeout)
        _secrets.output(r.stderr)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d): %s%s\ndaemon log:\n%s" % (
                " ".join(cmd[3:]), r.returncode, r.stdout, r.stderr, self.log()))
        return r

    def set(self, *items):
        return self.cli("set", *items)

    def get(self, path):
        return self.cli("get", path).stdout.strip()

    def status(self, settled=True):
        """`status --json`; with `settled`, once no session is in progress (the daemon answers
        during a session too, with what it knew before the session's outcome was saved)."""
        deadline = time.monotonic() + 15
        while True:
            st = json.loads(self.cli("status", "--json").stdout)
            if not (settled and st.get("session-in-progress")) or time.monotonic() > deadline:
                return st
            time.sleep(0.05)

    def spawn(self, *extra):
        """Start the daemon, without waiting for it to answer (it may exit at once)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        cmd = [sys.executable, "-m", "tr069client", "run"] + self._common() + self.args + list(extra)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=self.env(), cwd=self.folder)
        return self

    def start(self, *extra):
        """Start the daemon and wait until its control socket answers."""
        self.spawn(*extra)
        # The control socket exists once the daemon has read its state: only then may a CLI
        # command read the state file too (a damaged one is set aside by whoever reads first).
        sock = os.path.join(self.state_dir, "control.sock")
        wait_until(lambda: self.proc.poll() is not None or os.path.exists(sock), 15)
        ready = wait_until(lambda: self.proc.poll() is not None or self.cli(
            "status", "--json", check=False).stdout.count('"daemon": "running"'), 15)
        if self.proc.poll() is not None or not ready:
            raise AssertionError("daemon did not start (exit %s); log:\n%s" % (self.proc.poll(), self.log()))
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signal the daemon and wait for it; its exit status."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("daemon did not stop within %s s; log:\n%s" % (timeout, self.log()))

    def kill(self):
        return self.stop(signal.SIGKILL)

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, pattern, timeout=10, count=1):
        """Wait until `pattern` (a regex) matches `count` times in the log; the matches."""
        rx = re.compile(pattern)
        found = wait_until(lambda: len(rx.findall(self.log())) >= count and rx.findall(self.log()), timeout)
        if not found:
            raise AssertionError("log never matched %r %d times within %s s; log:\n%s" % (
                pattern, count, timeout, self.log()))
        return found

    def state(self):
        with open(os.path.join(self.state_dir, "state.json")) as f:
            return json.load(f)


# ---------------------------------------------------------------- lab ACS instrumentation

_EVENT = re.compile(r"<EventCode>([^<]*)</EventCode>\s*<CommandKey>([^<]*)</CommandKey>")
_RETRY = re.compile(r"<RetryCount>(\d+)</RetryCount>")

Post = collections.namedtuple("Post", "time kind retry_count events refused authorized")


def instrument(acs):
    """Record every CWMP POST as `acs.posts` (Post tuples, monotonic arrival times) and answer
    the next Informs from `acs.refusals` ((status, headers) pairs) instead of the lab's logic."""
    from lab_acs import LabAcs
    acs.posts = []
    acs.refusals = collections.deque()

    def read_body(h):
        cached = getattr(h, "_cached_body", None)
        return cached if cached is not None else LabAcs._read_body(acs, h)

    def handle(h, method):
        t = time.monotonic()
        if method != "POST" or not h.path.startswith("/acs"):
            return LabAcs._handle(acs, h, method)
        body = LabAcs._read_body(acs, h)
        h._cached_body = body
        text = body.decode("utf-8", "replace")
        kind = "Inform" if "<cwmp:Inform>" in text else ("empty" if not body.strip() else "other")
        authorized = acs.auth is None or "Authorization" in h.headers
        refusal = None
        with acs._lock:
            if kind == "Inform" and authorized and acs.refusals:
                refusal = acs.refusals.popleft()
            m = _RETRY.search(text)
            acs.posts.append(Post(t, kind, int(m.group(1)) if m else None, _EVENT.findall(text),
                                  refusal is not None, authorized))
            acs._cond.notify_all()
        if refusal is None:
            return LabAcs._handle(acs, h, method)
        status, headers = refusal
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", "0")
        h.end_headers()
        h.wfile.flush()

    acs._read_body = read_body
    acs._handle = handle
    return acs


def informs(acs):
    """One Post per session attempt: the Informs that carried credentials (when the ACS
    asks for them), whether the ACS refused them or not."""
    with acs._lock:
        return [p for p in acs.posts if p.kind == "Inform" and p.authorized]


def wait_informs(acs, n, timeout=10):
    """Wait for `n` Inform attempts; the list of them."""
    got = wait_until(lambda: len(informs(acs)) >= n and informs(acs), timeout)
    if not got:
        raise AssertionError("expected %d Informs within %s s, got %d; transcript:\n%s" % (
            n, timeout, len(informs(acs)), acs.transcript()))
    return got


def end_before(acs, t):
    """Arrival time of the last POST before monotonic time `t`: the end of the previous session
    (the ACS answers at once, so this is when the CPE's wait began)."""
    with acs._lock:
        before = [p.time for p in acs.posts if p.time < t]
    return max(before) if before else None


def events_of(post):
    return [c for c, _ in post.events]


class Held:
    """Makes the lab ACS hold its answer to the next Inform until `release()`: all of it
    ("delay"), or after half of its first write ("drip"). `holding` is set meanwhile."""

    def __init__(self, acs, style):
        self.holding, self.gate = threading.Event(), threading.Event()
        inner, armed = acs._handle, [True]

        def handle(h, method):
            if method == "POST" and armed[0] and h.conn.session is None:   # a session's first POST
                armed[0] = False
                if style == "delay":
                    self.holding.set()
                    self.gate.wait(60)
                else:
                    h.wfile = Dripping(h.wfile, self)
            return inner(h, method)
        acs._handle = handle

    def release(self):
        self.gate.set()


class Dripping:
    def __init__(self, raw, held):
        self.raw, self.held, self.first = raw, held, True

    def write(self, data):
        if self.first:
            self.first = False
            self.raw.write(data[:len(data) // 2])
            self.raw.flush()
            self.held.holding.set()
            self.held.gate.wait(60)
            data = data[len(data) // 2:]
        return self.raw.write(data)

    def flush(self):
        self.raw.flush()


def late_answer_lost(acs, n):
    """The daemon left session `n` before the ACS answered: the ACS may find the connection
    gone (a broken pipe, not a fault of the CPE's)."""
    assert acs.wait_for(lambda a: len(a.sessions) >= n and a.sessions[n - 1].ended)
    assert all("Broken pipe" in p or "reset" in p for p in acs.take_problems())


def digest_connection_request(url, username, password, timeout=10):
    """A Digest connection request as an ACS sends it (not recorded by the lab ACS, whose
    lock the held answer keeps); the final HTTP status."""
    import http.client
    from lab_acs import _client_authorization
    host, rest = url.split("://", 1)[1].split("/", 1)
    conn = http.client.HTTPConnection(host, timeout=timeout)
    try:
        conn.request("GET", "/" + rest)
        r = conn.getresponse()
        r.read()
        if r.status == 401:
            conn.request("GET", "/" + rest, headers={"Authorization": _client_authorization(
                r.getheader("WWW-Authenticate"), "GET", "/" + rest, username, password)})
            r = conn.getresponse()
            r.read()
        return r.status
    finally:
        conn.close()
