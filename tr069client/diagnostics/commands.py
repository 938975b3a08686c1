"""The system's ping and traceroute (iputils, traceroute 2.x or busybox) for a device where
this process may open no ICMP socket: argument lists (never a shell) and their output read
line by line."""

import math
import os
import re
import socket

from . import PROGRAM_PATH as _PATH
from . import find_program as find   # noqa: F401 (the probe lives in the package: cheap at start)
from .common import Canceled, Times, is_address

_REPLY = re.compile(r"\bfrom\s+\S+?:?\s.*?\b(?:icmp_)?seq=(\d+)\b.*?\btime[=<]\s*([0-9.]+)\s*ms")
_UNREACHABLE = re.compile(r"(?i)unreachable|no route")
# traceroute's marks after a time: the ICMP code of the unreachable that came back.
_MARKS = {"!N": 0, "!H": 1, "!P": 2, "!F": 4, "!S": 5, "!X": 13, "!V": 14, "!C": 15}
_MAX_LINE = 1024


def busybox(program):
    """Whether `program` is a busybox applet (fewer options)."""
    return os.path.basename(os.path.realpath(program)).startswith("busybox")


def _seconds(ms):
    return str(max(1, int(math.ceil(ms / 1000.0))))


def ping_argv(program, family, address, count, timeout_ms, size, dscp, device):
    """ping's arguments: -W takes whole seconds in busybox, which has no -Q (DSCP)."""
    argv = [program, "-6" if family == socket.AF_INET6 else "-4", "-n", "-c", str(count),
            "-W", _seconds(timeout_ms), "-w", str(count * int(_seconds(timeout_ms)) + 1),
            "-s", str(size)]
    if dscp and not busybox(program):
        argv += ["-Q", str(dscp << 2)]
    if device:
        argv += ["-I", device]
    return argv + [address]


def traceroute_argv(program, family, address, tries, timeout_ms, size, dscp, max_hops, device):
    """traceroute's arguments (the same options in traceroute 2.x and busybox); the last
    argument is the whole packet's length: data plus IP and UDP headers."""
    argv = [program, "-6" if family == socket.AF_INET6 else "-4", "-n", "-q", str(tries),
            "-w", _seconds(timeout_ms), "-m", str(max_hops)]
    if dscp:
        argv += ["-t", str(dscp << 2)]
    if device:
        argv += ["-i", device]
    return argv + [address, str(size + (48 if family == socket.AF_INET6 else 28))]


def run(argv, cancel, on_line):
    """Run `argv`, giving each output line to `on_line`; its exit status. Canceling kills it."""
    import subprocess
    env = {"PATH": os.pathsep.join(_PATH), "LC_ALL": "C"}
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, close_fds=True)
    except OSError:
        return None
    try:
        key = cancel.on_cancel(proc.kill)
    except Canceled:
        proc.wait()
        proc.stdout.close()
        raise
    try:
        with proc.stdout:
            while True:
                line = proc.stdout.readline(_MAX_LINE)
                if not line:
                    break
                on_line(line.decode("ascii", "replace"))
        return proc.wait()
    finally:
        cancel.forget(key)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        cancel.check()


class PingOutput:
    """Round-trip times read from ping's output (`times`, duplicates left out) and whether
    an error said the target is unreachable."""

    def __init__(self):
        self.times = Times()
        self.unreachable = False

    def line(self, text):
        m = _REPLY.search(text)
        if m:
            if "DUP!" not in text:
                self.times.add(float(m.group(2)) / 1000.0)
        elif _UNREACHABLE.search(text):
            self.unreachable = True


class TracerouteOutput:
    """Hops read from traceroute's output: [(hop, [(address, seconds or None, code)])],
    one entry per probe; a time printed without an address came from the last address."""

    def __init__(self):
        self.hops = []
        self._last = None

    def line(self, text):
        tokens = text.split()
        if not tokens or not tokens[0].isdigit():
            return
        probes = []
        i = 1
        while i < len(tokens):
            tok = tokens[i]
            if tok == "*":
                probes.append((None, None, None))
            elif i + 1 < len(tokens) and tokens[i + 1] == "ms" and _float(tok) is not None:
                probes.append((self._last, _float(tok) / 1000.0, None))
                i += 1
            elif tok.startswith("!"):
                if probes and probes[-1][1] is not None:
                    code = _MARKS.get(tok, int(tok[1:]) if tok[1:].isdigit() else None)
                    probes[-1] = probes[-1][:2] + (code,)
            elif is_address(tok):
                self._last = tok
            i += 1
        self.hops.append((int(tokens[0]), probes))


def _float(text):
    try:
        return float(text)
    except ValueError:
        return None
