"""The rig of tools/kill_loop.py: the lab ACS playing a random script in every session and noting
what the CPE acknowledged, and the real daemon as a subprocess, started and SIGKILLed again and
again, with a firmware-command that records its applies."""

import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _p in (REPO, HERE, os.path.join(REPO, "tests")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import lab_acs  # noqa: E402
from _httpd import free_port  # noqa: E402
from tr069client.platform_commands import alive  # noqa: E402
from tr069client.store import Store  # noqa: E402

MS = "Device.ManagementServer."
SPV_PARAM, NOTIFIED = "Device.DeviceInfo.HostName", "Device.DeviceInfo.ProvisioningCode"
TABLE = "Device.NAT.PortMapping."
PING = "Device.IP.Diagnostics.IPPing."
CR_USER, CR_PASSWORD = "cr", "kill-loop-cr"
# firmware-command LOG CONFIG FILE: records the apply, takes a while, installs "software-version".
FIRMWARE = r'''
import json, os, sys, time
log, config, image = sys.argv[1], sys.argv[2], sys.argv[3]
key = open(image, "rb").read().split()[1].decode()
def note(line):
    with open(log, "a") as f:
        f.write(line + "\n"); f.flush(); os.fsync(f.fileno())
note("start %s %d" % (key, os.getpid()))
time.sleep(0.3)
with open(config) as f:
    cfg = json.load(f)
cfg["software-version"] = "fw-" + key
with open(config + ".new", "w") as f:
    json.dump(cfg, f)
os.replace(config + ".new", config)
note("end %s" % key)
'''

class KillLab(lab_acs.LabAcs):
    """The lab ACS playing a random script in each session and noting what the CPE acknowledged."""

    def __init__(self, rng, **options):
        lab_acs.LabAcs.__init__(self, **options)
        self.rng = rng
        self.seq = 0
        self.acked = []                 # (kind, value), in the order the ACS received them
        self.rows = set()               # instances whose AddObject was acknowledged, minus deletions
        self.downloads = []             # CommandKeys of acknowledged Downloads
        self.keys = []                  # the numbers of the ParameterKeys sent, in order
        self.deleting = set()           # rows whose DeleteObject was sent
        self.pending_downloads = 0
        self.diagnostics = []           # len(informs) when each diagnostic request was acknowledged

    def _key(self):
        self.seq += 1
        return self.seq

    def _inform(self, h, ex, conn, el, msg_id):   # runs with the lab's lock held
        rng, rpcs = self.rng, []
        n = self._key()
        rpcs.append(_tag(lab_acs.set_parameter_values([(SPV_PARAM, "spv-%d" % n)], "k%d" % n), "spv", n))
        if rng.random() < 0.4:
            n = self._key()
            rpcs.append(_tag(lab_acs.add_object(TABLE, "k%d" % n), "add", n))
        if self.rows - self.deleting and rng.random() < 0.3:
            n = self._key()
            row = min(self.rows - self.deleting)
            rpcs.append(_tag(lab_acs.delete_object("%s%d." % (TABLE, row), "k%d" % n), "delete", n, row))
        if rng.random() < 0.15:
            key = "si-%d" % self._key()
            rpcs.append(_tag(lab_acs.schedule_inform(1, key), "schedule", key))
        if rng.random() < 0.08:
            n = self._key()
            rpcs.append(_tag(lab_acs.set_parameter_values([
                (PING + "Host", "127.0.0.1"), (PING + "NumberOfRepetitions", str(rng.randint(2, 4)), "xsd:unsignedInt"),
                (PING + "DiagnosticsState", "Requested")], "k%d" % n), "diag", n))
        if rng.random() < 0.05:
            key = "rb-%d" % self._key()
            rpcs.append(_tag(lab_acs.reboot(key), "reboot", key))
        if rng.random() < 0.3 and len(self.downloads) - len(self.delivered()) < 3:
            key = "dl-%d" % self._key()
            data = b"FW " + key.encode() + b"\n" + b"x" * 65536
            self.add_file(key + ".bin", data, stall_after=4096 if rng.random() < 0.6 else None)
            rpcs.append(_tag(lab_acs.download(key, "1 Firmware Upgrade Image", self.file_url(key + ".bin"),
                                              file_size=len(data)), "download", key))
        rng.shuffle(rpcs)
        self._planned.append((rpcs, None))
        return lab_acs.LabAcs._inform(self, h, ex, conn, el, msg_id)

    def _read_body(self, h):
        body = lab_acs.LabAcs._read_body(self, h)
        if len(body) < int(h.headers.get("Content-Length") or 0):   # not an empty POST: a kill
            raise ConnectionResetError("a request body cut short by the kill")
        return body

    def _next_rpc(self, s):
        s.sent = lab_acs.LabAcs._next_rpc(self, s)
        if s.sent is not None and s.sent.kill_loop[0] in ("spv", "add", "delete", "diag"):
            self.keys.append(s.sent.kill_loop[1])   # ParameterKeys in the order they were sent
        if s.sent is not None and s.sent.kill_loop[0] == "delete":
            self.deleting.add(s.sent.kill_loop[2])  # gone, maybe, though the answer never came
        return s.sent

    def _cpe_response(self, h, ex, s, el, name, msg_id):
        rpc = getattr(s, "sent", None)
        if rpc is not None and name == rpc.method + "Response":
            kind, value = rpc.kill_loop[0], rpc.kill_loop[1:]
            status = {lab_acs._local(c.tag): (c.text or "").strip() for c in el}
            if kind == "add":
                self.rows.add(int(status["InstanceNumber"]))
            elif kind == "delete":
                self.rows.discard(value[1])
            elif kind == "download":
                self.downloads.append(value[0])
            elif kind == "diag":
                self.diagnostics.append(len(self.informs))
            self.acked.append((kind, value, status.get("Status")))
        return lab_acs.LabAcs._cpe_response(self, h, ex, s, el, name, msg_id)

    def delivered(self):
        """The CommandKeys of the TransferCompletes the ACS has had (call it holding _lock)."""
        return {r.get("CommandKey") for m, r in self.requests if m == "TransferComplete"}


def _tag(rpc, *what):
    rpc.kill_loop = what
    return rpc


class Rig:
    """The work folder, the lab ACS, and the daemon as a subprocess started again and again."""

    def __init__(self, work, seed):
        self.work, self.rng = work, random.Random(seed)
        self.state_dir = os.path.join(work, "state")
        self.dl_dir = os.path.join(work, "dl")
        self.fw_log = os.path.join(work, "firmware.log")
        self.config = os.path.join(work, "config.json")
        self.log_path = os.path.join(work, "daemon.log")
        with open(os.path.join(work, "firmware.py"), "w") as f:
            f.write(FIRMWARE)
        py = sys.executable
        cfg = {"platform-providers": False, "software-version": "1.0", "periodic-inform-enabled": False,
               "firmware-command": [py, os.path.join(work, "firmware.py"), self.fw_log, self.config],
               "reboot-command": [py, "-c", "open(%r, 'a').write('reboot\\n')" % self.fw_log],
               "download-dir": self.dl_dir, "firmware-timeout": 20, "hook-timeout": 20,
               "connection-request-username": CR_USER, "connection-request-password": CR_PASSWORD}
        with open(self.config, "w") as f:
            json.dump(cfg, f)
        self.acs = KillLab(random.Random(seed + 1), host="127.0.0.1", port=0).start()
        self.acs._server.handle_error = lambda request, address: None   # resets by killed daemons
        self.cr_port = free_port()
        self.boots = 0
        self.boot_informs = []       # len(acs.informs) when each new boot started
        self.local = []              # (value, len(acs.informs)) of each local change
        self.proc = None
        self.cr_path = None
        self.problems = []
        self.figures = collections.Counter()

    def start(self, new_boot):
        if new_boot or not self.boots:
            self.boots += 1
            with self.acs._lock:
                self.boot_informs.append(len(self.acs.informs))
        env = dict(os.environ, TR069CLIENT_BOOT_ID="boot-%d" % self.boots, PYTHONPATH=REPO)
        cmd = [sys.executable, "-m", "tr069client", "run", "--state-dir", self.state_dir, "--config", self.config,
               "--acs-url", self.acs.url, "--cr-port", str(self.cr_port), "--cr-address", "127.0.0.1"]
        with open(self.log_path, "ab") as log:
            self.log_offset = log.tell()
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, cwd=self.work)
        self.figures["starts"] += 1

    def log_since_start(self):
        """What the daemon started last has logged so far."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            return f.read().decode("utf-8", "replace")

    def poke(self):
        """A connection request, in the background (the daemon may be busy or dead)."""
        if self.cr_path is None:
            with self.acs._lock:
                urls = [i["parameters"].get(MS + "ConnectionRequestURL") for i in self.acs.informs]
            self.cr_path = next((u for u in urls if u), None)
        if self.cr_path:
            threading.Thread(target=self._request, args=(self.cr_path,), daemon=True).start()

    def _request(self, url):
        try:
            self.acs.connection_request(url, CR_USER, CR_PASSWORD, timeout=2)
        except OSError:
            pass

    def local_change_due(self, rng):
        """Now and then, while the daemon runs (its control socket is there)."""
        sock = os.path.join(self.state_dir, "control.sock")
        return rng.random() < 0.04 and wait_for(lambda: os.path.exists(sock) or self.proc.poll() is not None, 3) \
            and self.proc.poll() is None

    def change_locally(self, value):
        """`tr069client set` of the actively notified parameter, through the running daemon."""
        r = subprocess.run([sys.executable, "-m", "tr069client", "set", "--state-dir", self.state_dir, "--config",
                            self.config, "%s=%s" % (NOTIFIED, value)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=dict(os.environ, PYTHONPATH=REPO), timeout=30)
        if r.returncode == 0:
            with self.acs._lock:
                self.local.append((value, len(self.acs.informs)))

    def kill(self, power_cut):
        self.proc.kill()
        self.proc.wait()
        if power_cut:   # the firmware-command dies with the device
            for pid in self.firmware_running():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.reap()

    def firmware(self):
        """[(key, pid, ended)] of every firmware apply started, from the firmware log."""
        try:
            with open(self.fw_log) as f:
                lines = [line.split() for line in f]
        except FileNotFoundError:
            return []
        # A whole line each: "end dl-30" does not end dl-3.
        ended = {w[1] for w in lines if len(w) == 2 and w[0] == "end"}
        return [(w[1], int(w[2]), w[1] in ended) for w in lines
                if len(w) == 3 and w[0] == "start" and w[2].isdigit()]

    def firmware_due(self):
        """Whether an acknowledged Download has not had its firmware applied yet."""
        with self.acs._lock:
            keys = set(self.acs.downloads)
        return bool(keys - {k for k, _, _ in self.firmware()})

    def firmware_running(self):
        return [pid for _, pid, ended in self.firmware() if not ended and alive(pid)]

    def reap(self):
        """Collect firmware-commands orphaned to us (we are their subreaper) once they end."""
        for _, pid, _ in self.firmware():
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.problems.append("the daemon did not stop within 40 s of SIGTERM")
        self.acs.stop()

    def disk(self):
        """The state file as the daemon will find it (its load problem is a problem)."""
        store = Store.load(os.path.join(self.state_dir, "state.json"), set_aside=False)
        if store.load_problem:
            self.problems.append(store.load_problem)
        return store


def number_in(text):
    """The number at the end of `text` ("spv-12": 12), -1 if none."""
    m = re.search(r"(\d+)$", text or "")
    return int(m.group(1)) if m else -1


def subreaper():
    """Become the subreaper of our descendants: a firmware-command outliving the killed daemon is
    then ours to collect (here, PID 1 may not reap zombies, which would look alive forever)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def wait_for(predicate, timeout, step=0.005):
    """Poll `predicate` every `step` seconds until it is true (True) or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False

