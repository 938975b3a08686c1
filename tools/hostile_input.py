#!/usr/bin/env python3
"""What hostile ACS messages cost the real daemon: peak memory over idle, CPU, and its answer.

For each case a fresh daemon (`python -S -m tr069client run` from a source tree, so no site
packages and no .pth file weigh on the figures) runs a first, ordinary session against a
small scripted ACS in this file; once it is idle, `tr069client inform` asks for a second
session, and the ACS answers its empty POST with the case's body (with a Content-Length,
chunked, or ended by closing the connection). Printed per case: VmHWM after the session
over VmHWM when idle (/proc/PID/status), the CPU time of the session (utime + stime from
/proc/PID/stat), how much of the body left the ACS before the daemon closed the connection
or took it all (loopback buffers hold a few MB), and what the daemon answered (the CPE's
next POST) or logged (the session line).

    python3 tools/hostile_input.py [--tree DIR] [--python PY] [--only NAME ...] [--list]

--tree: the source tree whose tr069client runs (default: this one; its modules are
compiled first, into its __pycache__, so that no daemon compiles them: to measure another
commit, `git archive` it into a folder); --python: the interpreter of the daemon (it needs
defusedxml importable; the daemon sees only that of its site packages).
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from bench_proc import find_defusedxml   # tools/ is this script's sys.path[0]

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MB = 1000 * 1000

_ENV = ('<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="urn:dslforum-org:cwmp-1-0"%s>')
_HEAD = ('<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">%s</cwmp:ID></soap-env:Header>'
         '<soap-env:Body>')
_TAIL = "</soap-env:Body></soap-env:Envelope>"


def envelope(inner, msg_id="1", env_attrs=""):
    return (_ENV % env_attrs + _HEAD % msg_id + inner + _TAIL).encode()


def _gpv(names_xml, attrs=""):
    return ('<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[1]"%s>%s'
            '</ParameterNames></cwmp:GetParameterValues>' % (attrs, names_xml))


def _spv(structs):
    return ('<cwmp:SetParameterValues><ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[%d]">%s'
            '</ParameterList><ParameterKey>k</ParameterKey></cwmp:SetParameterValues>'
            % (len(structs), "".join('<ParameterValueStruct><Name>%s</Name><Value xsi:type="xsd:%s">%s'
                                     '</Value></ParameterValueStruct>' % s for s in structs)))


def _repeat(head, unit, total, tail=b""):
    """Pieces of about `total` bytes: head, `unit` repeated, tail; made as they are sent."""
    def gen():
        yield head
        block = unit * max(1, 65536 // len(unit))
        left = total - len(head) - len(tail)
        while left > 0:
            piece = block[:left]
            left -= len(piece)
            yield piece
        yield tail
    return gen


def _once(body):
    return lambda: iter([body])


_NAME = b"<string>Device.DeviceInfo.UpTime</string>"
_GPV_OPEN = envelope(_gpv("\x00")).split(b"\x00")  # [head up to the names, the rest]
_MAPPING = "Device.NAT.PortMapping.%d."


def _spv5000():
    fields = [("Description", "string", "mapping %d"), ("ExternalPort", "unsignedInt", "%d"),
              ("InternalPort", "unsignedInt", "%d"), ("LeaseDuration", "unsignedInt", "0"),
              ("Log", "boolean", "false"), ("AllInterfaces", "boolean", "false"),
              ("Protocol", "string", "UDP"), ("InternalClient", "string", "192.168.1.%d"),
              ("RemoteHost", "string", ""), ("ExternalPortEndRange", "unsignedInt", "0")]
    structs = []
    for row in range(1, 501):
        for name, kind, value in fields:
            structs.append((_MAPPING % row + name, kind, value.replace("%d", str(row % 250 + 1))))
    return envelope(_spv(structs))


def _gpv16384():
    params = ("Enable", "Alias", "Interface", "AllInterfaces", "LeaseDuration", "RemoteHost",
              "ExternalPort", "ExternalPortEndRange", "InternalPort", "Protocol", "InternalClient",
              "Description", "ScheduleRef", "Log", "LogRef", "Status", "Origin", "RemainingLeaseTime")
    names = [_MAPPING % row + p for row in range(1, 1001) for p in params][:16384]
    return envelope(_gpv("".join("<string>%s</string>" % n for n in names)))


def _download():
    url = "http://127.0.0.1:9/firmware.bin?" + "&".join("k%03d=v%03d" % (i, i) for i in range(110))
    return envelope("<cwmp:Download><CommandKey>dl</CommandKey><FileType>1 Firmware Upgrade Image</FileType>"
                    "<URL>%s</URL><Username></Username><Password></Password><FileSize>0</FileSize>"
                    "<TargetFileName></TargetFileName><DelaySeconds>3600</DelaySeconds>"
                    "<SuccessURL></SuccessURL><FailureURL></FailureURL></cwmp:Download>" % url[:1000])


def _value(size):
    head, tail = envelope(_spv([("Device.DeviceInfo.ProvisioningCode", "string", "\x00")])).split(b"\x00")
    return _repeat(head, b"A", size, tail)


# name -> (framing, body pieces factory, port-mapping rows to seed, config file or None)
CASES = {
    "control: an empty session": ("length", None, 0, None),
    "99,000 attributes on one element": ("length", _once(envelope(_gpv(
        _NAME.decode(), "".join(' a%d="1"' % i for i in range(99000))))), 0, None),
    "90,000 namespace declarations": ("length", _once(envelope(_gpv(_NAME.decode()), env_attrs="".join(
        ' xmlns:n%d="urn:n:%d"' % (i, i) for i in range(90000)))), 0, None),
    "a 15.9 MB body": ("length", _repeat(_GPV_OPEN[0], _NAME, int(15.9 * MB), _GPV_OPEN[1]), 0, None),
    "49,000-deep nesting": ("length", _once(envelope(_gpv("<a>" * 49000 + "</a>" * 49000))), 0, None),
    "99,980-deep unclosed nesting": ("length", _once(envelope(_gpv("<a>" * 99980))), 0, None),
    "a 3.9 MB attribute": ("length", _once(envelope(_gpv(_NAME.decode(), ' x="%s"' % ("A" * int(3.9 * MB))))),
                           0, None),
    "a 3.9 MB text value": ("length", _value(int(3.9 * MB)), 0, None),
    "a 3.9 MB text value, chunked": ("chunked", _value(int(3.9 * MB)), 0, None),
    "2 MB of elements with 64 attributes": ("length", _once(envelope(_gpv("".join(
        "<a%s/>" % "".join(' b%d="%02d"' % (i, (i + n) % 100) for i in range(64)) for n in range(3500))))),
        0, None),
    "GPV of 16,384 x Device.": ("length", _once(envelope(_gpv("<string>Device.</string>" * 16384))), 0, None),
    "a 100 MB chunked body": ("chunked", _repeat(_GPV_OPEN[0], _NAME, 100 * MB), 0, None),
    "a 100 MB until-close body": ("close", _repeat(_GPV_OPEN[0], _NAME, 100 * MB), 0, None),
    "legit: SPV of 5,000 values": ("length", lambda: iter([_spv5000()]), 500, None),
    "legit: GPV of 16,384 distinct names": ("length", lambda: iter([_gpv16384()]), 1000, None),
    "legit: Download with a 1,000-char URL": ("length", lambda: iter([_download()]), 0,
                                              {"firmware-command": ["/bin/true"]}),
}


class Acs:
    """A scripted ACS on loopback: InformResponse to each Inform, the armed body to the empty
    POST of the armed session, 204 to anything else; it records what the CPE POSTed."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = "http://127.0.0.1:%d/acs" % self.sock.getsockname()[1]
        self.sessions = 0
        self.armed = None        # (session number, framing, pieces factory)
        self.sent = None         # bytes of the armed body that left
        self.answers = []        # what the CPE POSTed after the armed body
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        f = conn.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                headers = {}
                while True:
                    h = f.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = f.read(int(headers.get("content-length", "0")))
                if b"Inform>" in body and b"<cwmp:Inform>" in body:
                    self.sessions += 1
                    m = re.search(rb"<cwmp:ID[^>]*>([^<]*)<", body)
                    conn.sendall(self._response(200, envelope(
                        "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>",
                        m.group(1).decode() if m else "1")))
                elif not body and self.armed and self.armed[0] == self.sessions:
                    _, framing, pieces = self.armed
                    self.armed = None
                    if pieces is None:
                        conn.sendall(self._response(204, b""))
                    elif not self._send(conn, framing, pieces):
                        return
                else:
                    if body and self.sent is not None:
                        self.answers.append(_describe(body))
                    conn.sendall(self._response(204, b""))
        except OSError:
            return
        finally:
            f.close()
            conn.close()

    @staticmethod
    def _response(status, body, extra=()):
        head = ["HTTP/1.1 %d %s" % (status, "OK" if status == 200 else "No Content")]
        head += ["Content-Type: text/xml; charset=utf-8"] if body else []
        head += ["Content-Length: %d" % len(body)] if status != 204 else []
        head += list(extra)
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    def _send(self, conn, framing, pieces):
        """Send the armed body; False if the connection must end (closed by the CPE, or
        until-close framing)."""
        self.sent = 0
        head = ["HTTP/1.1 200 OK", "Content-Type: text/xml; charset=utf-8"]
        if framing == "length":
            body = b"".join(pieces())
            head.append("Content-Length: %d" % len(body))
            chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
        else:
            head.append("Transfer-Encoding: chunked" if framing == "chunked" else "Connection: close")
            chunks = pieces()
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            for chunk in chunks:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if framing == "chunked" else chunk)
                self.sent += len(chunk)
            if framing == "chunked":
                conn.sendall(b"0\r\n\r\n")
        except OSError:
            self.answers.append("(connection closed by the CPE after %s)" % _size(self.sent))
            return False
        return framing != "close"


def _describe(body):
    text = body.decode("utf-8", "replace")
    m = re.search(r"Body>\s*<cwmp:(\w+)", text)
    method = m.group(1) if m else "?"
    if "<FaultCode>" in text:
        code = re.search(r"<FaultCode>(\d+)</FaultCode>", text).group(1)
        msg = re.search(r"<FaultString>([^<]*)</FaultString>", text.split("</FaultCode>", 1)[1])
        return "Fault %s: %s" % (code, msg.group(1) if msg else "")
    n = re.search(r"arrayType=\"[^\"]*\[(\d+)\]", text)
    status = re.search(r"<Status>(\d)</Status>", text)
    return (method + (" (%s entries)" % n.group(1) if n else "")
            + (" Status %s" % status.group(1) if status else ""))


def _size(n):
    return "%.1f MB" % (n / MB) if n >= 100000 else "%d bytes" % n


def _proc(pid):
    with open("/proc/%d/status" % pid) as f:
        hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])   # utime, stime (fields 14 and 15)
    return hwm, ticks / os.sysconf("SC_CLK_TCK")


def _wait(predicate, timeout, what):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


def _seed(state_dir, rows):
    values = {}
    for row in range(1, rows + 1):
        p = _MAPPING % row
        values.update({p + k: v for k, v in (
            ("Enable", "false"), ("Status", "Disabled"), ("Origin", "Controller"), ("Alias", "cpe-%d" % row),
            ("Interface", ""), ("AllInterfaces", "false"), ("LeaseDuration", "0"), ("RemainingLeaseTime", "0"),
            ("RemoteHost", ""), ("ExternalPort", "0"), ("ExternalPortEndRange", "0"), ("InternalPort", "0"),
            ("Protocol", "TCP"), ("InternalClient", ""), ("Description", ""), ("ScheduleRef", ""),
            ("Log", "false"), ("LogRef", ""))})
    os.makedirs(state_dir, mode=0o700)
    with open(os.path.join(state_dir, "state.json"), "w") as f:
        json.dump({"format": 1, "values": values, "attributes": {}, "state": {}}, f)


def run_case(name, tree, python, libdir, work):
    framing, pieces, rows, cfg = CASES[name]
    acs = Acs()
    folder = tempfile.mkdtemp(dir=work)
    state = os.path.join(folder, "state")
    if rows:
        _seed(state, rows)
    logf = os.path.join(folder, "daemon.log")
    env = dict(os.environ, PYTHONPATH=tree + os.pathsep + libdir, TR069CLIENT_BOOT_ID="boot-1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    common = ["--state-dir", state]
    if cfg:
        common += ["--config", os.path.join(folder, "config.json")]
        with open(common[-1], "w") as f:
            json.dump(cfg, f)
    cmd = [python, "-S", "-m", "tr069client", "run"] + common + [
        "--acs-url", acs.url, "--username", "u", "--password", "p", "--cr-port", "0",
        "--cr-address", "127.0.0.1", "--log-level", "info"]
    out = open(logf, "ab")
    proc = subprocess.Popen(cmd, stdout=out, stderr=out, env=env, cwd=folder)

    def sessions_logged():
        with open(logf, errors="replace") as f:
            return len(re.findall(r"session (?:done|failed)", f.read()))
    try:
        _wait(lambda: sessions_logged() >= 1 or proc.poll() is not None, 60, "the first session")
        time.sleep(1.0)  # settle: the state is saved, the loop is idle
        idle_hwm, idle_cpu = _proc(proc.pid)
        acs.armed = (acs.sessions + 1, framing, pieces)
        subprocess.run([python, "-S", "-m", "tr069client", "inform"] + common, env=env, cwd=folder,
                       check=True, stdout=subprocess.DEVNULL)
        _wait(lambda: sessions_logged() >= 2 or proc.poll() is not None, 300, "the measured session")
        hwm, cpu = _proc(proc.pid)
        with open(logf, errors="replace") as f:
            line = re.findall(r"session (?:done|failed).*", f.read())[-1]
    finally:
        proc.terminate()
        proc.wait(15)
        out.close()
        acs.sock.close()
    return idle_hwm, (hwm - idle_hwm) / 1000.0, cpu - idle_cpu, acs.sent, acs.answers, line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tree", default=HERE)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--only", nargs="*", help="case names (or a part of them)")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    names = [n for n in CASES if not args.only or any(o in n for o in args.only)]
    work = tempfile.mkdtemp(prefix="hostile-")
    libdir = os.path.join(work, "lib")
    os.mkdir(libdir)
    os.symlink(find_defusedxml(args.python), os.path.join(libdir, "defusedxml"))
    # Compiled once here: a daemon compiling its modules would raise its idle peak, and so
    # hide what a message costs (PYTHONDONTWRITEBYTECODE would have every start compile).
    subprocess.run([args.python, "-m", "compileall", "-q", os.path.join(args.tree, "tr069client")], check=True)
    rev = subprocess.run(["git", "-C", args.tree, "log", "-1", "--format=%h %s"], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout.strip()
    print("tree %s (%s)\n" % (args.tree, rev))
    print("%-38s %9s %7s %9s  %s" % ("case", "HWM +MB", "CPU s", "ACS sent", "daemon's answer / session line"))
    try:
        for name in names:
            idle, grow, cpu, sent, answers, line = run_case(name, args.tree, args.python, libdir, work)
            sent = "-" if sent is None else _size(sent)
            print("%-38s %9.1f %7.2f %9s  %s" % (name, grow, cpu, sent, "; ".join(answers) or "(no answer)"))
            print("%-38s %9s %7s %9s  %s" % ("", "idle %.1f" % (idle / 1000.0), "", "", line[:150]))
            sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
