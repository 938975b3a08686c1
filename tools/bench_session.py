"""The daemon's runs for tools/bench.py: a provisioned device, the measured session with the
lab ACS (http or https), the floors beside it, natively or under qemu-user.

The measured session: Inform, GetParameterNames of `Device.`, GetParameterValues of 1,000
names (the last 1,000 parameters of that answer: the provisioned rows), SetParameterValues
of 10, with Digest authentication. The device: the shipped model with the Linux providers,
1,000 stored parameters (rows of Device.NAT.PortMapping. added by an ACS), in a PID
namespace of its own so that the process table is the daemon's alone.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from bench_proc import EMU, FLAGS, REPO, TOOLS, BenchError, Watch, child_of, clean_env, \
    guest_rss, idle_syscalls, launcher, namespace_prefix, prologue, run, vmhwm

TABLE = "Device.NAT.PortMapping."
ROW_PARAMS = 18
STORED_ROWS = 55          # 55 rows x 18 parameters + the settings: 1,000 stored values
GPV_NAMES = 1000
SPV_COUNT = 10

# --- floors (what the issue measures the daemon against) ------------------------------------

_READY = "import os\nos.write(1, b'ready\\n')\nos.read(0, 1)\n"   # the parent samples, then lets go

# STYLE.md's lean stack: what a CWMP client over http cannot do without.
LEAN = """sys.modules["ssl"] = None
import http.client
del sys.modules["ssl"]
import json, select, socket, xml.etree.ElementTree, defusedxml.ElementTree
from _md5 import md5
"""

# One verified HTTPS GET from a bare interpreter (cafile None: the system's CAs).
HTTPS_GET = """import ssl, http.client
ctx = ssl.create_default_context(cafile=%(ca)r)
c = http.client.HTTPSConnection(%(host)r, %(port)d, context=ctx, timeout=60)
c.request("GET", %(path)r)
r = c.getresponse()
r.read()
c.close()
if r.status != 200:
    raise SystemExit("GET answered %%d" %% r.status)
"""


class Setup:
    """What every run shares: interpreter, folders, certificates, the provisioned state."""

    def __init__(self, py, work, deps):
        # deps: a folder holding only the defusedxml package (a sys.path entry)
        self.py, self.work, self.deps = py, work, deps
        self.ns = namespace_prefix()
        # States: "device" (the model holds 1,000 parameters: the session rows), "provisioned"
        # (1,000 stored values: the start-up rows); {name: (path, stored values, parameters)}
        self.states = {}
        self.rows = 0              # provisioned rows of the "device" state
        self.certs = None
        self.guests = {}           # arch -> folder seen as /work in the guest
        self._seq = 0

    def lab(self):
        if TOOLS not in sys.path:
            sys.path.insert(0, TOOLS)
        import lab_acs
        return lab_acs

    def make_certs(self):
        """A test CA (trustme) and a certificate for localhost and 127.0.0.1; a CA bundle =
        the system's bundle + the test CA, for the system-CA row (SSL_CERT_FILE)."""
        if self.certs is None:
            try:
                import trustme
            except ImportError:
                raise BenchError("https rows need trustme (pip install trustme) in the bench's Python")
            folder = os.path.join(self.work, "certs")
            os.makedirs(folder)
            ca = trustme.CA()
            server = ca.issue_cert("localhost", "127.0.0.1")
            paths = {k: os.path.join(folder, k + ".pem") for k in ("ca", "server", "bundle")}
            ca.cert_pem.write_to_path(paths["ca"])
            server.private_key_and_cert_chain_pem.write_to_path(paths["server"])
            system = run([self.py] + FLAGS + ["-c", "import ssl; p = ssl.get_default_verify_paths(); "
                                                   "print(p.cafile or p.openssl_cafile)"]).strip()
            if not os.path.isfile(system):
                raise BenchError("no system CA bundle (%r)" % system)
            with open(system, "rb") as f, open(paths["bundle"], "wb") as out:
                out.write(f.read().rstrip(b"\n") + b"\n" + ca.cert_pem.bytes())
            paths["system"] = system
            with open(system, "rb") as f:
                paths["system_certs"] = f.read().count(b"BEGIN CERTIFICATE")
            self.certs = paths
        return self.certs

    def guest(self, arch):
        """The folder the guest sees as /work: src/ (the package), deps/, the zipapp, runs/."""
        if arch not in self.guests:
            g = os.path.join(self.work, "emu-" + arch)
            os.makedirs(os.path.join(g, "src"))
            shutil.copytree(os.path.join(REPO, "tr069client"), os.path.join(g, "src", "tr069client"))
            shutil.copytree(self.deps, os.path.join(g, "deps"))
            self.guests[arch] = g
        return self.guests[arch]

    def guest_copy(self, arch, path):
        """`path` (a zipapp or a folder) copied into the guest's folder; the copy's path."""
        dest = os.path.join(self.guest(arch), "ship", os.path.basename(path))
        if not os.path.exists(dest):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            (shutil.copytree if os.path.isdir(path) else shutil.copy)(path, dest)
        return dest

    def next_name(self, label):
        self._seq += 1
        return "%02d-%s" % (self._seq, label)


def _emu_argv(setup, arch, env, insns=False):
    """run-in.sh's argv for python3 in the guest (armel on an ARMv5 core, as Debian builds it)."""
    argv = ["bash", os.path.join(EMU, "run-in.sh"), arch, "--bind", setup.guest(arch)]
    for k, v in sorted(env.items()):
        argv += ["-e", "%s=%s" % (k, v)]
    if arch == "armel":
        argv += ["-e", "QEMU_CPU=arm926"]
    if insns:
        argv.append("--count-insns")
    return argv + ["--", "python3"]


def floor(setup, kind, arch=None, tls_port=None, lean=False):
    """Peak memory (kB) of a floor: "lean", or "https-ca" / "https-system" (a GET of
    /files/floor on the lab ACS at `tls_port`; `lean`: then the rest of the lean stack too,
    which the daemon cannot do without). Native: VmHWM; emulated: guest RSS."""
    env = {}
    if kind == "lean":
        body, paths = LEAN, ["/work/deps"] if arch else [setup.deps]
    else:
        certs = setup.make_certs()
        body, paths = HTTPS_GET % {"ca": certs["ca"] if kind == "https-ca" else None, "host": "localhost",
                                   "port": tls_port, "path": "/files/floor"}, []
        if kind == "https-system":
            env["SSL_CERT_FILE"] = certs["bundle"]
        if lean:
            body, paths = body + LEAN.split("\n", 3)[3], [setup.deps]
    if arch and kind != "lean":
        raise BenchError("https floors are measured natively only")
    code = prologue(paths) + body + _READY
    if arch:
        argv, probe, env = _emu_argv(setup, arch, env) + FLAGS + ["-c", code], guest_rss, clean_env()
    else:
        argv, probe, env = [setup.py] + FLAGS + ["-c", code], vmhwm, clean_env(env)
    p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline()
    value = probe(p.pid) if line == b"ready\n" else None
    p.stdin.close()
    err = p.stderr.read().decode("utf-8", "replace")
    if p.wait(60) != 0 or value is None:
        raise BenchError("floor %s%s failed:\n%s" % (kind, " under " + arch if arch else "", err[-2000:]))
    return value


def https_floor(setup, tls, lean=False):
    """floor() of an https session's kind (tls: "ca-file" or "system"), its GET answered by a
    lab server of its own."""
    certs = setup.make_certs()
    acs = setup.lab().LabAcs(tls=(certs["server"], certs["server"])).start()
    try:
        acs.add_file("floor", b"floor\n")
        return floor(setup, "https-ca" if tls == "ca-file" else "https-system", tls_port=acs.port, lean=lean)
    finally:
        acs.stop()


# --- the daemon ------------------------------------------------------------------------------------

def _pick(acs):
    """The GetParameterValues of the session: the last 1,000 parameter names that
    GetParameterNames returned (the provisioned rows and the few before them)."""
    lab = sys.modules["lab_acs"]
    names = [r for m, r in acs.responses if m == "GetParameterNamesResponse"][-1]
    params = [n for n in names if not n.endswith(".")]
    if len(params) < GPV_NAMES:
        raise BenchError("the model has only %d parameters" % len(params))
    return lab.get_parameter_values(params[-GPV_NAMES:])


def _rows(lab, first, last):
    """AddObject of rows first..last of the table, then their values in one SetParameterValues."""
    values = []
    for n in range(first, last + 1):
        row = "%s%d." % (TABLE, n)
        values += [(row + "Description", "bench mapping %d" % n),
                   (row + "ExternalPort", str(10000 + n), "xsd:unsignedInt"),
                   (row + "InternalPort", str(20000 + n), "xsd:unsignedInt"),
                   (row + "InternalClient", "192.168.1.%d" % (n % 250 + 2))]
    return [lab.add_object(TABLE, "bench") for _ in range(first, last + 1)] + (
        [lab.set_parameter_values(values, "provisioned")] if values else [])


def _script(lab, acs, kind, setup):
    if kind == "device":
        # Rows enough for the model to hold GPV_NAMES parameters in all.
        def fill(acs):
            names = [r for m, r in acs.responses if m == "GetParameterNamesResponse"][-1]
            base = sum(1 for n in names if not n.endswith("."))
            setup.rows = max(0, int(round((GPV_NAMES - base) / float(ROW_PARAMS))))
            return _rows(lab, 1, setup.rows)
        acs.queue(lab.get_parameter_names("Device.", False), fill)
    elif kind == "provisioned":
        acs.queue(*_rows(lab, setup.rows + 1, STORED_ROWS))
    elif kind == "session":
        acs.queue(lab.get_parameter_names("Device.", False), _pick,
                  lab.set_parameter_values([("%s%d.Description" % (TABLE, n), "bench set %d" % n)
                                            for n in range(1, SPV_COUNT + 1)], "bench"))


def provision(setup):
    """Make the two states, each by a real session with the lab ACS (AddObject, SetParameterValues)."""
    daemon_run(setup, "device", state=None)
    daemon_run(setup, "provisioned", state="device")


def daemon_run(setup, script="session", arch=None, code="checkout", tls=None, idle=0, insns=False,
               timeout=None, state="device", prelude=""):
    """One daemon run against a fresh lab ACS; the daemon stops (SIGTERM) after the session.

    script: "device" / "provisioned" (make that state, from `state`), "session" (the measured
    one), "start" (no RPC, for start-up figures; no auth, so the first Inform is the one
    timed). state: the state the daemon starts from (a key of setup.states). tls: None,
    "ca-file" or "system". idle: seconds of strace of the idle daemon after the session.
    insns: (emulated) end the process when the Inform arrives and return its instruction
    count. prelude: code the daemon's process runs first (bench_proc.launcher). Returns
    {"peak_kb", "first_inform", ...}."""
    lab = setup.lab()
    name = setup.next_name("%s-%s-%s%s" % (script, arch or "native", os.path.basename(code),
                                           "-" + tls if tls else ""))
    base = setup.guest(arch) if arch else setup.work
    state_dir = os.path.join(base, "runs", name)
    os.makedirs(state_dir)
    if state:
        shutil.copy(setup.states[state][0], os.path.join(state_dir, "state.json"))
    g = (lambda p: "/work/" + os.path.relpath(p, base)) if arch else (lambda p: p)
    stamps, target = {}, []

    def echo(line):
        if line.startswith("--- session") and "inform" not in stamps:
            stamps["inform"] = time.monotonic()
            if insns and target:      # hold the InformResponse until the count is out
                os.kill(target[0], signal.SIGUSR1)
                for _ in range(3000):
                    if vmhwm(target[0]) is None:
                        break
                    time.sleep(0.01)
    timeout = timeout or (600 if arch else 120)
    certs = setup.make_certs() if tls else None
    acs = lab.LabAcs(echo=echo, auth=None if script == "start" else "digest", username="bench",
                     password="bench", tls=(certs["server"], certs["server"]) if tls else None)
    acs.start()
    if insns:     # the daemon's connection dies with it: not an error worth a traceback
        acs._server.handle_error = lambda request, address: None
    _script(lab, acs, script, setup)
    url = acs.url.replace("127.0.0.1", "localhost") if tls else acs.url
    args = ["run", "--state-dir", g(state_dir), "--acs-url", url, "--username", "bench", "--password",
            "bench", "--cr-port", "0", "--periodic-inform-enabled", "no"]
    env = {"TR069CLIENT_BOOT_ID": "bench-" + name}     # each start is a boot: 1 BOOT
    if tls == "ca-file":
        args += ["--ca-file", g(os.path.join(base, "ca.pem")) if arch else certs["ca"]]
    elif tls == "system":
        env["SSL_CERT_FILE"] = g(os.path.join(base, "bundle.pem")) if arch else certs["bundle"]
    if arch and tls:
        shutil.copy(certs["ca"], os.path.join(base, "ca.pem"))
        shutil.copy(certs["bundle"], os.path.join(base, "bundle.pem"))
    if code == "checkout":
        paths, mod, argv0 = (["/work/src", "/work/deps"] if arch else [REPO, setup.deps]), "tr069client", None
    else:   # a zipapp or a folder with __main__: as `python3 CODE run ...`
        argv0 = g(setup.guest_copy(arch, code)) if arch else code
        paths, mod = [argv0], "__main__"
    py = launcher(paths, mod, argv0, hook=insns, readonly=code != "checkout", prelude=prelude)
    if arch:
        argv = setup.ns + _emu_argv(setup, arch, env, insns) + FLAGS + ["-c", py] + args
        probe, env = guest_rss, clean_env()
    else:
        argv, probe, env = setup.ns + [setup.py] + FLAGS + ["-c", py] + args, vmhwm, clean_env(env)
    log_path, out_path = os.path.join(state_dir, "daemon.log"), os.path.join(state_dir, "stdout.txt")
    res = {"name": name}
    try:
        with open(log_path, "wb") as log, open(out_path, "wb") as out:
            t0 = time.monotonic()
            p = subprocess.Popen(argv, env=env, stdout=out, stderr=log, stdin=subprocess.DEVNULL)
        try:
            target.append(child_of(p.pid) if setup.ns else p.pid)
            watch = Watch(target[0], probe, 0.005 if not arch else 0.02)
            if insns:
                ok = acs.wait_for(lambda a: "inform" in stamps and p.poll() is not None, timeout)
            else:
                ok = acs.wait_for(lambda a: any(s.ended for s in a.sessions) or p.poll() is not None
                                  or (script == "start" and "inform" in stamps), timeout)
            if p.returncode is not None and not insns:
                raise BenchError("the daemon exited with status %d" % p.returncode)
            if not ok:
                raise BenchError("no session within %d s" % timeout)
            if not insns:
                time.sleep(0.2 if not arch else 1.0)     # the daemon logs and saves after the session
                if idle:
                    res["idle"] = idle_syscalls(target[0], idle, state_dir)
                os.kill(target[0], signal.SIGTERM)
            p.wait(timeout)
            res["peak_kb"] = watch.stop()
        except BaseException:
            if p.poll() is None:
                p.kill()
                p.wait()
            raise
    except (BenchError, subprocess.TimeoutExpired) as e:
        raise BenchError("daemon run %s: %s\ndaemon log:\n%s\nACS transcript:\n%s" % (
            name, e, _tail(log_path), acs.transcript()[-3000:]))
    finally:
        acs.stop()
    if insns:
        res["insns"] = _insn_count(log_path)
    elif p.returncode != 0:
        raise BenchError("daemon run %s exited with status %s:\n%s" % (name, p.returncode, _tail(log_path)))
    res["first_inform"] = stamps["inform"] - t0
    _check(res, acs, script, name, state_dir, setup)
    return res


def _check(res, acs, script, name, state_dir, setup):
    if script == "start":
        return
    done = [s for s in acs.sessions if s.ended and not s.aborted]
    if not done or acs.problems:
        raise BenchError("daemon run %s: the session did not complete cleanly: %s\n%s" % (
            name, acs.problems, acs.transcript()[-3000:]))
    if script in ("device", "provisioned"):
        path = os.path.join(setup.work, script + "-state.json")
        shutil.copy(os.path.join(state_dir, "state.json"), path)
        with open(path) as f:
            stored = len(json.load(f).get("values", {}))
        gpn = [r for m, r in acs.responses if m == "GetParameterNamesResponse"]
        base = sum(1 for n in gpn[0] if not n.endswith(".")) if gpn else None
        setup.states[script] = (path, stored, None if base is None else base + ROW_PARAMS * setup.rows)
        return
    gpv = [r for m, r in acs.responses if m == "GetParameterValuesResponse"]
    gpn = [r for m, r in acs.responses if m == "GetParameterNamesResponse"]
    spv = [r for m, r in acs.responses if m == "SetParameterValuesResponse"]
    if not gpv or len(gpv[0]) != GPV_NAMES or not spv:
        raise BenchError("daemon run %s: incomplete session:\n%s" % (name, acs.transcript()[-3000:]))
    res["gpn"] = len(gpn[0])
    res["params"] = sum(1 for n in gpn[0] if not n.endswith("."))


def _insn_count(log_path):
    import re
    with open(log_path, "rb") as f:
        m = re.search(rb"insn-count: \S+: (\d+) guest instructions", f.read())
    if not m:
        raise BenchError("no instruction count in the run's stderr:\n%s" % _tail(log_path))
    return int(m.group(1))


def _tail(path, n=3000):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode("utf-8", "replace")
    except OSError:
        return ""
