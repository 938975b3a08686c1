#!/usr/bin/env python3
"""Footprint and speed benchmark of tr069client: prints figures, asserts nothing.

    python3 tools/bench.py [--quick] [--json] [--python PY] [--pyz FILE]
                           [--emu ARCH]... [--insns] [--profile N]

Measured in one run, each figure in its own child process:
  memory   peak RSS (VmHWM) of the daemon `python -m tr069client run` doing one session
           with the lab ACS (GetParameterValues "Device."), with the real model and with the
           synthetic one below at 1,000 (and 10,000) parameters; and two floors: a bare interpreter
           that imports exactly the modules the daemon loaded except tr069client.* (the
           list is read from a started daemon; imports of anything else are refused, so
           http.client finds no ssl, as in the daemon), and STYLE.md's lean floor.
  start    time from starting the daemon to its first Inform arriving at the lab ACS.
  CPU      time.process_time() of whole sessions (Inform, empty POST, GetParameterValues
           "Device.", 204) driven through the sans-IO engine with literal ACS messages,
           for about 100, 1,000 and 10,000 parameters (the shipped tr181.json plus a table
           X_000000_BenchRow.{i}. of ten parameters per row, stored values only: no OS
           providers), and for the real model of this machine (default_model() in the child
           code below: device.Device with the Linux providers).
  --emu    the same memory figures under qemu-user (see ../shared/emu/README.md): the
           daemon, the floors and `--help`, as guest RSS (peak-rss.py); with --insns also
           the guest instructions of one engine session per size (qemu plugin): emulated
           time says nothing of a router's speed, instruction counts do.
  --pyz    start the daemon from a zipapp (tools/build_zipapp.py) instead of the checkout.
Targets: daemon peak RSS at 1,000 parameters <= floor + 4 MB; cost per parameter flat
from 1,000 to 10,000 (ratio <= 1.5); 10,000 parameters under 2 s of CPU. A missed CPU
target prints a cProfile of that case (also on demand with --profile N).
"""

import json
import os
import sys

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
EMU = os.path.join(os.path.dirname(REPO), "shared", "emu")
MB = 1024.0
ROW_TYPES = ("string", "unsignedInt", "boolean", "dateTime", "int", "string", "unsignedLong",
             "string", "boolean", "string")
TABLE = "Device.X_000000_BenchRow.{i}."
COUNTER = "X_000000_BenchRowNumberOfEntries"
LIMIT_RSS_MB = 4.0
LIMIT_CPU_10K = 2.0
LIMIT_FLAT = 1.5

# --- code run in child processes (kept as strings: a child loads nothing of this file) ----

# Starts the daemon like `python -m tr069client`, after two optional steps given as the
# first two arguments: write sorted(sys.modules) to a file at exit; load a synthetic model
# (tr181.json format) instead of the shipped one.
_DAEMON_BOOT = r"""
import sys
_out, _synth = sys.argv.pop(1), sys.argv.pop(1)
if _out:
    import atexit
    def _dump():
        with open("/proc/self/status") as f:
            hwm = f.read().split("VmHWM:")[1].split()[0]
        with open(_out, "w") as f:
            f.write("VmHWM %s\n" % hwm + "\n".join(sorted(sys.modules)))
    atexit.register(_dump)
if _synth:
    from tr069client import metadata
    with open(_synth, "rb") as f:
        metadata._cached = metadata.load(data=f.read())
import runpy
sys.argv[0] = "tr069client"
runpy.run_module("tr069client", run_name="__main__", alter_sys=True)
"""

# The floor: import exactly the modules named in argv[1] (comma-separated); any other
# import is refused, as the daemon's own imports were (http.client then finds no ssl).
_FLOOR = r"""
import sys
_allowed = set(sys.argv[1].split(","))
class _Only:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name not in _allowed:
            raise ModuleNotFoundError("not loaded by the daemon: " + name, name=name)
sys.meta_path.insert(0, _Only)
for _m in sorted(_allowed):
    try:
        __import__(_m)
    except ImportError:
        pass
with open("/proc/self/status") as _f:
    print(_f.read().split("VmHWM:")[1].split()[0])
"""

# STYLE.md's lean floor: what a CWMP client cannot do without.
_LEAN = r"""
import sys
sys.modules["ssl"] = None
import http.client
del sys.modules["ssl"]
import json, select, socket, xml.etree.ElementTree, defusedxml.ElementTree
from _md5 import md5
with open("/proc/self/status") as _f:
    print(_f.read().split("VmHWM:")[1].split()[0])
"""

# One engine child: argv = synthetic model file ("" = shipped model), state file ("" = none),
# repeats (0: set up only), profile (0/1), config (JSON). Prints one JSON line.
_ENGINE = r"""
import json, re, sys, time
_synth, _state, _repeats, _profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
_cfg = json.loads(sys.argv[5])
from tr069client import metadata
if _synth:
    with open(_synth, "rb") as f:
        metadata._cached = metadata.load(data=f.read())
from tr069client import session
from tr069client.store import Store


def default_model(store, cfg):
    # The daemon's model, as the daemon builds it (device.Device: the Linux providers unless
    # cfg says "platform-providers": false, as for the synthetic model).
    from tr069client import config, identity
    from tr069client.device import Device
    cfg = dict((k, config.check(k, v)) for k, v in cfg.items())
    return Device(store, cfg, identity.resolve(cfg)).model


_ENV = ('<soap-env:Envelope xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" '
        'xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="urn:dslforum-org:cwmp-1-0">'
        '<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">%s</cwmp:ID></soap-env:Header>'
        '<soap-env:Body>%s</soap-env:Body></soap-env:Envelope>')
_ANSWERS = [
    (200, {}, (_ENV % ("1", "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes>"
                            "</cwmp:InformResponse>")).encode()),
    (200, {}, (_ENV % ("2", '<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType='
                            '"xsd:string[1]"><string>Device.</string></ParameterNames>'
                            "</cwmp:GetParameterValues>")).encode()),
    (204, {}, b""),
]
store = Store.load(_state) if _state else Store()
model = default_model(store, _cfg)


def one():
    s = session.Session(model, session.DeviceId("Bench", "000000", "Bench", "B0001"),
                        [("1 BOOT", "")], 0, "2026-01-01T00:00:00Z", lambda: "bench")
    answers = list(_ANSWERS)
    posts = []
    while True:
        body = s.next_post()
        if body is None:
            break
        posts.append(body)
        s.receive(*answers.pop(0))
    if not s.ok:
        raise SystemExit("bench session failed: %s" % s.error)
    return posts


times = []
for _ in range(_repeats):
    t = time.process_time()
    posts = one()
    times.append(time.process_time() - t)
if not times:                # setup only: the baseline of an instruction count
    raise SystemExit(0)
with open("/proc/self/status") as f:
    hwm = int(f.read().split("VmHWM:")[1].split()[0])
gpv = posts[2]
m = re.search(rb"ParameterValueStruct\[(\d+)\]", b"".join(gpv[:2]))
out = {"params": int(m.group(1)), "first": times[0], "best": min(times), "vmhwm_kb": hwm,
       "bytes": sum(len(c) for c in gpv)}
print(json.dumps(out))
if _profile:
    import cProfile, pstats
    prof = cProfile.Profile()
    prof.runcall(one)
    pstats.Stats(prof, stream=sys.stdout).sort_stats("tottime").print_stats(15)
"""


# --- the parent ------------------------------------------------------------------------

class BenchError(Exception):
    """A measurement that could not be made; the message says which and why."""


def _env(pyz=None):
    """The children's environment: the checkout on PYTHONPATH (none for a zipapp)."""
    env = dict(os.environ)
    for k in ("PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE", "PYTHONTRACEMALLOC", "PYTHONDEVMODE",
              "PYTHONPATH"):
        env.pop(k, None)
    if not pyz:
        env["PYTHONPATH"] = REPO
    return env


def _run(argv, env, timeout=300):
    """Run a child to its end: (stdout text, CPU s); BenchError on failure.

    Peak RSS comes from the children themselves (/proc/self/status VmHWM): wait4's
    ru_maxrss keeps the parent's RSS from before exec (Linux carries it over exec)."""
    import subprocess
    import tempfile
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        status, ru = _wait4(p, timeout)
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    if status != 0:
        raise BenchError("%s exited with status %s:\n%s" % (" ".join(argv[:3]), status, errors[-2000:]))
    return text, ru.ru_utime + ru.ru_stime


def _wait4(p, timeout, watch=None):
    """wait4() on a Popen child: (exit status, rusage); kill it when late. `watch` is a
    dict whose "kb" is raised to the VmHWM of the process `watch["pid"]` until it exits."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        if watch is not None:
            kb = _vmhwm(watch["pid"])
            if kb is not None and kb > watch["kb"]:
                watch["kb"] = kb
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
            return p.returncode, ru
        if time.monotonic() > deadline:
            p.kill()
            os.wait4(p.pid, 0)
            p.returncode = -9
            raise BenchError("%s took over %d s" % (" ".join(p.args[:3]), timeout))
        time.sleep(0.002 if watch is not None else 0.01)


def _free_port():
    import socket
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _lab():
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    import lab_acs
    return lab_acs


def write_synthetic_model(path):
    """The shipped tr181.json plus a table of ten parameters per row; its file name."""
    import pkgutil
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    doc = json.loads(pkgutil.get_data("tr069client", "tr181.json").decode("utf-8"))
    root = [o for o in doc["objects"] if o[0] == "Device."][0]
    root[2].append([COUNTER, "unsignedInt", ""])
    doc["objects"].append([TABLE, "t", [["P%d" % k, t, "w"] for k, t in enumerate(ROW_TYPES)],
                           0, None, "Device." + COUNTER])
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    return path


def write_rows(path, rows):
    """A state file holding `rows` rows of the synthetic table (as the daemon stores them)."""
    from tr069client.store import Store
    sample = {"string": "value %d", "unsignedInt": "%d", "boolean": "true", "int": "-%d",
              "dateTime": "2026-01-01T00:00:00Z", "unsignedLong": "%d"}
    store = Store(path)
    prefix = TABLE[:-4]
    for n in range(1, rows + 1):
        for k, t in enumerate(ROW_TYPES):
            v = sample[t]
            store.values["%s%d.P%d" % (prefix, n, k)] = v % n if "%d" in v else v
    store.save()
    return path


# --- daemon runs -------------------------------------------------------------------------

def daemon_run(py, work, name, synth="", state=None, modules=False, pyz=None, emu=None,
               timeout=60, config=None):
    """One daemon session against a fresh lab ACS; the daemon stops on SIGTERM after it.

    `synth` (a model file) or `modules` start it through _DAEMON_BOOT, otherwise it is
    `python -m tr069client` (or `python PYZ`). Returns {"peak_kb", "first_inform", "cpu",
    "params"} and "modules" when asked; under `emu` (an architecture) the memory figures are
    peak-rss.py's guest figures (peak_kb, rss_exit_kb, emu_hwm_kb)."""
    import shutil
    import signal
    import subprocess
    import time
    lab = _lab()
    state_dir = os.path.join(work, name)
    os.makedirs(state_dir)
    if state:
        shutil.copy(state, os.path.join(state_dir, "state.json"))
    stamps = {}

    def echo(line):
        if line.startswith("--- session") and "inform" not in stamps:
            stamps["inform"] = time.monotonic()
    acs = lab.LabAcs(echo=echo).start()
    acs.queue(lab.get_parameter_values(["Device."]))
    mods = os.path.join(state_dir, "modules.txt") if modules else ""
    guest = (lambda p: "/work/" + os.path.relpath(p, work)) if emu else (lambda p: p)
    args = ["run", "--state-dir", guest(state_dir), "--acs-url", acs.url, "--username", "bench",
            "--password", "bench", "--cr-port", str(_free_port()), "--periodic-inform-enabled", "no"]
    if config:
        args += ["--config", guest(config)]
    if not synth and not mods:
        head = [pyz] if pyz else ["-m", "tr069client"]
    else:
        head = ["-c", _DAEMON_BOOT, guest(mods) if mods else "", guest(synth) if synth else ""]
    env = _env(pyz)
    if emu:
        argv = ([sys.executable, os.path.join(EMU, "peak-rss.py"), emu, "--bind", work, "--json", "--"]
                + head + args)
    else:
        argv = [py] + head + args
    log_path = os.path.join(state_dir, "daemon.log")
    out_path = os.path.join(state_dir, "stdout.txt")
    try:
        with open(log_path, "wb") as log, open(out_path, "wb") as out:
            t0 = time.monotonic()
            p = subprocess.Popen(argv, env=env, stdout=out, stderr=log, stdin=subprocess.DEVNULL)
        try:
            ok = acs.wait_for(lambda a: any(s.ended for s in a.sessions) or p.poll() is not None, timeout)
            if not ok or p.returncode is not None:
                raise BenchError("no session within %d s" % timeout)
            target = _guest_pid(p.pid) if emu else p.pid
            time.sleep(0.1)                     # let the daemon log and save after the session
            watch = {"pid": target, "kb": _vmhwm(target) or 0}
            os.kill(target, signal.SIGTERM)
            status, ru = _wait4(p, timeout, None if emu else watch)
        except BaseException:
            if p.returncode is None:
                p.kill()
                p.wait()
            raise
    except BenchError as e:
        raise BenchError("daemon run %s: %s\ndaemon log:\n%s\nACS transcript:\n%s" % (
            name, e, _tail(log_path), acs.transcript()[-3000:]))
    finally:
        acs.stop()
    if status != 0:
        raise BenchError("daemon run %s exited with status %s:\n%s" % (name, status, _tail(log_path)))
    sessions = [s for s in acs.sessions if s.ended and not s.aborted]
    gpv = [r for m, r in acs.responses if m == "GetParameterValuesResponse"]
    if not sessions or not gpv or acs.problems:
        raise BenchError("daemon run %s: the session did not complete cleanly: %s\n%s" % (
            name, acs.problems, acs.transcript()[-3000:]))
    # peak: VmHWM read before SIGTERM and while the daemon stopped; a bootstrapped daemon
    # writes its own at exit (the last atexit handler), which is exact.
    res = {"peak_kb": watch["kb"], "first_inform": stamps["inform"] - t0,
           "cpu": ru.ru_utime + ru.ru_stime, "params": len(gpv[0])}
    if emu:
        with open(out_path) as f:
            fig = json.loads(f.read().strip().splitlines()[-1])
        res.update(peak_kb=fig["guest_peak"], rss_exit_kb=fig["guest_rss_exit"], emu_hwm_kb=fig["emu_hwm"])
    if mods:
        with open(mods) as f:
            head, _, rest = f.read().partition("\n")
        res["modules"] = rest.split()
        if not emu:
            res["peak_kb"] = max(res["peak_kb"], int(head.split()[1]))
    return res


def _guest_pid(pid):
    """The guest process under peak-rss.py: its only child (run-in.sh execs into python3)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
    except OSError:
        kids = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/stat" % d) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                            kids.append(d)
                except (OSError, IndexError, ValueError):
                    pass
    if len(kids) != 1:
        raise BenchError("cannot find the guest process under peak-rss.py (children: %s)" % kids)
    return int(kids[0])


def _vmhwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return int(f.read().split("VmHWM:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _tail(path, n=3000):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode("utf-8", "replace")
    except OSError:
        return ""


def stdlib_floor(modules):
    """The modules of a floor: the daemon's, without the package itself and __main__."""
    return [m for m in modules if m != "__main__" and m != "tr069client"
            and not m.startswith("tr069client.")]


def floor_run(py, modules, env):
    return int(_run([py, "-c", _FLOOR, ",".join(modules)], env)[0])


def lean_run(py, env):
    return int(_run([py, "-c", _LEAN], env)[0])


def emu_py(arch, work, code_args, env):
    """peak-rss.py figures (kB) of `python3 ARGS` in the guest, with `work` as /work."""
    text, _ = _run([sys.executable, os.path.join(EMU, "peak-rss.py"), arch, "--bind", work,
                       "--json", "--"] + code_args, env, timeout=600)
    return json.loads(text.strip().splitlines()[-1])


# --- engine runs -------------------------------------------------------------------------

def engine_run(py, synth, state, repeats, profile=False, cfg=None):
    text, _ = _run([py, "-c", _ENGINE, synth or "", state or "", str(repeats),
                    "1" if profile else "0", json.dumps(cfg or {})], _env())
    first, _, rest = text.partition("\n")
    res = json.loads(first)
    res["peak_kb"] = res.pop("vmhwm_kb")
    if profile:
        res["profile"] = rest
    return res


# --- the whole benchmark -----------------------------------------------------------------

def measure(py, quick=False, pyz=None, emus=(), profile=None, progress=None, insns=False):
    import platform
    import shutil
    import tempfile
    say = progress or (lambda msg: None)
    repeats = 1 if quick else 5
    sizes = (100, 1000) if quick else (100, 1000, 10000)
    work = tempfile.mkdtemp(prefix="tr069-bench-")
    res = {"python": _run([py, "-c", "import platform,sys;print(platform.python_version(), sys.platform)"],
                          _env())[0].strip(),
           "machine": platform.machine(), "quick": quick, "pyz": pyz}
    try:
        say("warming up (bytecode caches)")
        _run([py] + ([pyz] if pyz else ["-m", "tr069client"]) + ["--help"], _env(pyz))
        synth = write_synthetic_model(os.path.join(work, "bench-tr181.json"))
        # The synthetic sizes use stored rows only: no OS providers (their own row counts vary).
        synth_cfg = {"platform-providers": False}
        synth_conf = os.path.join(work, "bench-config.json")
        with open(synth_conf, "w") as f:
            json.dump(synth_cfg, f)

        # CPU through the engine; the first run also tells the size of the base model.
        say("engine: real model")
        res["default_model"] = engine_run(py, None, None, repeats)
        say("engine: synthetic model, no rows")
        base = engine_run(py, synth, None, repeats, cfg=synth_cfg)
        rows_for = {n: max(0, int(round((n - base["params"]) / float(len(ROW_TYPES))))) for n in sizes}
        states = {}
        res["engine"] = []
        for n in sizes:
            say("engine: %d parameters" % n)
            states[n] = write_rows(os.path.join(work, "rows-%d.json" % n), rows_for[n]) if rows_for[n] else None
            e = dict(base) if not rows_for[n] else engine_run(py, synth, states[n], repeats, cfg=synth_cfg)
            e["size"] = n
            res["engine"].append(e)

        # Memory and start-up of the daemon.
        say("daemon: module list")
        listed = daemon_run(py, work, "modules", modules=True, pyz=None)
        modules = stdlib_floor(listed["modules"])
        res["modules"] = modules
        res["daemon_boot"] = listed
        runs = []
        for i in range(1 if quick else 3):
            say("daemon: real model, run %d" % (i + 1))
            runs.append(daemon_run(py, work, "default-%d" % i, pyz=pyz))
        res["daemon"] = runs
        res["daemon_sizes"] = []
        for n in sizes[1:]:
            say("daemon: %d parameters" % n)
            r = daemon_run(py, work, "size-%d" % n, synth=synth, state=states[n], config=synth_conf)
            r["size"] = n
            res["daemon_sizes"].append(r)
        say("floors")
        res["floor_kb"] = floor_run(py, modules, _env())
        res["lean_kb"] = lean_run(py, _env())

        res["emu"] = {}
        for arch in emus:
            say("emulated %s (slow)" % arch)
            res["emu"][arch] = emu_measure(arch, work, synth, states, quick, pyz, insns, synth_conf)

        _judge(res)
        worst = [e for e in res["engine"] if e["size"] == profile] if profile else []
        if not worst and res["targets"]["cpu_missed"]:
            worst = [res["engine"][-1]]
        for e in worst:
            say("profiling %d parameters" % e["size"])
            e["profile"] = engine_run(py, synth, states.get(e["size"]), 1, profile=True, cfg=synth_cfg)["profile"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return res


def emu_insns(arch, guest, synth, state, repeats, cfg):
    """Guest instructions of an engine child that runs `repeats` sessions (qemu plugin)."""
    import re
    import subprocess
    rel = lambda p: "/work/" + os.path.relpath(p, guest) if p else ""
    argv = ["bash", os.path.join(EMU, "run-in.sh"), arch, "--bind", guest, "--count-insns", "--",
            "python3", "-c", _ENGINE, rel(synth), rel(state), str(repeats), "0", json.dumps(cfg)]
    r = subprocess.run(argv, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
    m = re.search(r"insn-count: \S+: (\d+) guest instructions", r.stderr.decode("utf-8", "replace"))
    if r.returncode != 0 or not m:
        raise BenchError("instruction count under %s failed:\n%s" % (arch, r.stderr.decode()[-2000:]))
    return int(m.group(1))


def emu_measure(arch, work, synth, states, quick, pyz=None, insns=False, synth_conf=None):
    """Guest memory figures under qemu-user: --help, the daemon, its floors; with `insns`
    the guest instructions of one session per size (run with 1 session minus run with 0)."""
    import shutil
    guest = os.path.join(work, "emu-" + arch)
    os.makedirs(guest)
    shutil.copytree(os.path.join(REPO, "tr069client"), os.path.join(guest, "tr069client"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(synth, os.path.join(guest, "bench-tr181.json"))
    gconf = os.path.join(guest, "bench-config.json")
    shutil.copy(synth_conf, gconf)
    for n, path in states.items():
        if path:
            shutil.copy(path, os.path.join(guest, os.path.basename(path)))
    env = _env()
    out = {}
    if pyz:
        shutil.copy(pyz, os.path.join(guest, "tr069client.pyz"))
        out["pyz_help"] = emu_py(arch, guest, ["/work/tr069client.pyz", "--help"], _env(pyz))
    emu_py(arch, guest, ["-m", "tr069client", "--help"], env)     # compiles into guest/__pycache__
    out["help"] = emu_py(arch, guest, ["-m", "tr069client", "--help"], env)
    d = daemon_run(None, guest, "daemon", modules=True, emu=arch, timeout=300)
    out["daemon"] = d
    mods = stdlib_floor(d["modules"])
    out["floor"] = emu_py(arch, guest, ["-c", _FLOOR, ",".join(mods)], env)
    out["lean"] = emu_py(arch, guest, ["-c", _LEAN], env)
    gsynth = os.path.join(guest, "bench-tr181.json")
    if states.get(1000):
        out["daemon_1000"] = daemon_run(None, guest, "daemon-1000", synth=gsynth, state=states[1000],
                                        emu=arch, timeout=300, config=gconf)
    if insns:
        out["insns"] = []
        for n, path in sorted(states.items()):
            gstate = os.path.join(guest, os.path.basename(path)) if path else None
            cfg = {"platform-providers": False}
            base = emu_insns(arch, guest, gsynth, gstate, 0, cfg)
            one = emu_insns(arch, guest, gsynth, gstate, 1, cfg)
            two = emu_insns(arch, guest, gsynth, gstate, 2, cfg)
            out["insns"].append({"size": n, "first": one - base, "next": two - one})
    return out


def _judge(res):
    floor = res["floor_kb"]
    at1000 = [r for r in res["daemon_sizes"] if r["size"] == 1000]
    eng = {e["size"]: e for e in res["engine"]}
    t = {}
    if at1000:
        t["rss_over_floor_mb"] = (at1000[0]["peak_kb"] - floor) / MB
        t["rss_ok"] = t["rss_over_floor_mb"] <= LIMIT_RSS_MB
    for e in res["engine"]:
        e["us_per_param"] = e["best"] / e["params"] * 1e6
    if 1000 in eng and 10000 in eng:
        t["flat_ratio"] = eng[10000]["us_per_param"] / eng[1000]["us_per_param"]
        t["flat_ok"] = t["flat_ratio"] <= LIMIT_FLAT
    if 10000 in eng:
        t["cpu_10k"] = eng[10000]["first"]
        t["cpu_ok"] = t["cpu_10k"] < LIMIT_CPU_10K
    t["cpu_missed"] = not (t.get("flat_ok", True) and t.get("cpu_ok", True))
    res["targets"] = t


# --- printing ----------------------------------------------------------------------------

def _mb(kb):
    return "-" if kb is None else "%.1f MB" % (kb / MB)


def _verdict(ok):
    return "met" if ok else "MISSED"


def report(res):
    lines = []
    add = lines.append
    floor, lean = res["floor_kb"], res["lean_kb"]
    runs = res["daemon"]
    peak = sorted(r["peak_kb"] for r in runs)[len(runs) // 2]
    add("tr069client benchmark: CPython %s on %s%s%s" % (
        res["python"], res["machine"], " (quick)" if res["quick"] else "",
        ", daemon from %s" % os.path.basename(res["pyz"]) if res["pyz"] else ""))
    add("")
    add("Peak RSS (VmHWM at exit), one session each            peak      over floor")
    add("  floor: the daemon's %3d modules minus tr069client   %-9s" % (len(res["modules"]), _mb(floor)))
    add("  lean floor (STYLE.md: http.client w/o ssl, ...)     %-9s %+.1f MB" % (_mb(lean), (lean - floor) / MB))
    add("  daemon, real model, GPV Device.    (%5d params)   %-9s %+.1f MB" % (
        runs[0]["params"], _mb(peak), (peak - floor) / MB))
    b = res["daemon_boot"]
    add("  same, started through bench's bootstrap             %-9s %+.1f MB" % (_mb(b["peak_kb"]), (b["peak_kb"] - floor) / MB))
    for r in res["daemon_sizes"]:
        add("  daemon, synthetic model, GPV Device. (%5d params) %-9s %+.1f MB" % (
            r["params"], _mb(r["peak_kb"]), (r["peak_kb"] - floor) / MB))
    starts = sorted(r["first_inform"] for r in runs)
    add("")
    add("Start to first Inform at the ACS: %.3f s%s; daemon CPU for start + session + stop: %.3f s" % (
        starts[len(starts) // 2], " (median of %d)" % len(starts) if len(starts) > 1 else "",
        sorted(r["cpu"] for r in runs)[len(runs) // 2]))
    add("")
    add("CPU of one session (sans-IO engine: Inform, GPV Device., end)")
    add("  params   first      best      us/param  bytes out  child peak RSS")
    d = res["default_model"]
    for e in res["engine"]:
        add("  %6d  %7.1f ms  %7.1f ms  %7.2f  %9d  %s" % (
            e["params"], e["first"] * 1e3, e["best"] * 1e3, e["us_per_param"], e["bytes"], _mb(e["peak_kb"])))
    add("  real model of this machine (device.Device, Linux providers): %d params, %.1f ms first, "
        "%.1f ms best, %.2f us/param, child peak RSS %s" % (d["params"], d["first"] * 1e3, d["best"] * 1e3,
                                                         d["best"] / d["params"] * 1e6, _mb(d["peak_kb"])))
    big = res["engine"][-1]
    small = res["engine"][0]
    if big["params"] > small["params"]:
        add("  memory per parameter (child peak RSS, %d -> %d params): %.0f bytes" % (
            small["params"], big["params"],
            (big["peak_kb"] - small["peak_kb"]) * 1024.0 / (big["params"] - small["params"])))
    t = res["targets"]
    add("")
    add("Targets")
    if "rss_ok" in t:
        add("  daemon at 1,000 params <= floor + %.0f MB: %+.1f MB, %s" % (
            LIMIT_RSS_MB, t["rss_over_floor_mb"], _verdict(t["rss_ok"])))
    if "flat_ok" in t:
        add("  cost per parameter flat 1,000 -> 10,000 (ratio <= %.1f): %.2f, %s" % (
            LIMIT_FLAT, t["flat_ratio"], _verdict(t["flat_ok"])))
    else:
        add("  cost per parameter flat: not measured (--quick has no 10,000 case)")
    if "cpu_ok" in t:
        add("  10,000 params under %.0f s CPU: %.3f s, %s" % (LIMIT_CPU_10K, t["cpu_10k"], _verdict(t["cpu_ok"])))
    for arch, e in sorted(res["emu"].items()):
        add("")
        add("Emulated %s (qemu-user, Debian bookworm python3; guest RSS from peak-rss.py)" % arch)
        fl = e["floor"]["guest_rss_exit"]
        add("                                 RSS at exit  peak est.  over floor (exit / peak)")
        add("  floor: the daemon's %3d modules  %-11s" % (len(stdlib_floor(e["daemon"]["modules"])), _mb(fl)))
        for key, label in (("lean", "lean floor"), ("help", "tr069client --help"),
                           ("pyz_help", "tr069client.pyz --help")):
            if key in e:
                add("  %-30s %-11s %-10s %+.1f MB" % (label, _mb(e[key]["guest_rss_exit"]),
                                                      _mb(e[key]["guest_peak"]), (e[key]["guest_rss_exit"] - fl) / MB))
        for key, label in (("daemon", "daemon, real model"), ("daemon_1000", "daemon, 1,000 params")):
            if key in e:
                r = e[key]
                add("  %-30s %-11s %-10s %+.1f / %+.1f MB  (%d params; first Inform after %.1f s)" % (
                    label, _mb(r["rss_exit_kb"]), _mb(r["peak_kb"]), (r["rss_exit_kb"] - fl) / MB,
                    (r["peak_kb"] - fl) / MB, r["params"], r["first_inform"]))
        for i in e.get("insns", []):
            add("  one session, %5d params: %6.1f M guest instructions (%.0f per param); the next: %.1f M" % (
                i["size"], i["first"] / 1e6, i["first"] / float(i["size"]), i["next"] / 1e6))
    for e in res["engine"]:
        if e.get("profile"):
            add("")
            add("cProfile of one session with %d parameters (by own time):" % e["params"])
            add(e["profile"].rstrip())
    return "\n".join(lines)


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer sizes and repeats (for tests)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--python", default=sys.executable, help="interpreter of the children")
    p.add_argument("--pyz", help="start the measured daemon from this zipapp")
    p.add_argument("--emu", action="append", default=[], metavar="ARCH",
                   help="also measure under qemu-user (rootfs from ../shared/emu/make-rootfs.sh)")
    p.add_argument("--insns", action="store_true",
                   help="with --emu: guest instructions per session (installs qemu-user on first use)")
    p.add_argument("--profile", type=int, metavar="N", help="print a cProfile of the N-parameter case")
    args = p.parse_args(argv)
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    try:
        res = measure(args.python, args.quick, os.path.abspath(args.pyz) if args.pyz else None,
                      args.emu, args.profile,
                      progress=lambda m: sys.stderr.write("bench: %s\n" % m), insns=args.insns)
    except BenchError as e:
        sys.stderr.write("bench: %s\n" % e)
        return 1
    if args.json:
        for r in res["daemon"] + [res["daemon_boot"]]:
            r.pop("modules", None)
        print(json.dumps(res, indent=1, sort_keys=True))
    else:
        print(report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
