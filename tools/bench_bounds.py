#!/usr/bin/env python3
"""How far trimming the package can take the daemon's peak (issue 12): the floor, then the
measured session and a start-only run (first Inform, no RPC), each from the shipped
bundle and from a measurement copy of it in which every package function the session never
called has an empty body. The copy is never shipped: its figures bound what moving the code a
session does not run out of the daemon's modules could save. It asserts nothing.

    python3 tools/bench_bounds.py [--runs N] [--https] [--emu ARCH ...] [--python PY]
                                  [--defusedxml DIR] [--json]

The children, the device, the session, the floors and the goals are tools/bench.py's; the
figures are medians over N runs each (VmHWM natively, the guest's RSS under qemu-user), in MB
(1024 kB). What a session runs is recorded in each setting measured (natively, over https,
in each emulated guest), and the copy emptied from that record.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_proc  # noqa: E402
import bench_session  # noqa: E402
import build_bundle  # noqa: E402
from bench import MEMORY_GOALS  # noqa: E402
from bench_engine import median  # noqa: E402
from bench_proc import BenchError  # noqa: E402

# Run in the daemon's process before it starts: notes every function of the package that is
# called (its file, first line and name) in the file named below, at exit.
_RECORDER = '''
import atexit as _atexit
_called = set()
def _note_call(frame, event, arg):
    if event == "call" and frame.f_code.co_filename.startswith("tr069client"):
        c = frame.f_code
        _called.add("%%s:%%d:%%s" %% (c.co_filename, c.co_firstlineno, c.co_name))
sys.setprofile(_note_call)
def _write_calls():
    sys.setprofile(None)
    with open(%r, "w") as f:
        f.write("\\n".join(sorted(_called)))
_atexit.register(_write_calls)
'''

# Run by the bundle's Python (marshal is its own): rewrites each tr069client .pyc of the folder
# argv[1] so that a function not listed in the file argv[2] has an empty body and no
# constants; prints "kept emptied".
_EMPTY = r'''
import marshal, os, sys, types

def _empty():
    pass

folder, listing = sys.argv[1], sys.argv[2]
with open(listing) as f:
    called = set(f.read().split("\n"))
body = {"co_code": _empty.__code__.co_code, "co_consts": _empty.__code__.co_consts, "co_names": (),
        "co_stacksize": _empty.__code__.co_stacksize}
for attr in ("co_linetable", "co_exceptiontable"):
    if hasattr(_empty.__code__, attr):
        body[attr] = getattr(_empty.__code__, attr)
counts = [0, 0]

def rewrite(code, top):
    if not top and "%s:%d:%s" % (code.co_filename, code.co_firstlineno, code.co_name) not in called:
        counts[1] += 1
        return code.replace(**body)
    counts[0] += not top
    return code.replace(co_consts=tuple(rewrite(c, False) if isinstance(c, types.CodeType) else c
                                        for c in code.co_consts))

for root, _, files in os.walk(os.path.join(folder, "tr069client")):
    for name in files:
        if name.endswith(".pyc") and "__pycache__" not in root:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(data[:16] + marshal.dumps(rewrite(marshal.loads(data[16:]), True)))
print(*counts)
'''


def _targets(args):
    """[(key, label, daemon_run keywords)]: http natively, https with --ca-file (--https), http
    under each --emu ARCH; the keys are bench.py's memory rows'."""
    out = [("http", "http, x86", {})]
    if args.https:
        out.append(("https-ca", "https, --ca-file", {"tls": "ca-file"}))
    for arch in args.emu or ():
        out.append((arch, "http, emulated " + arch, {"arch": arch}))
    return out


def _floor(setup, key, kw):
    if key == "https-ca":
        return bench_session.https_floor(setup, "ca-file")
    return bench_session.floor(setup, "lean", kw.get("arch"))


def _empty(args, shipped, listing, out):
    """A copy of the bundle `shipped` at `out`, emptied but for the functions in `listing`;
    (functions run, functions emptied)."""
    shutil.copytree(shipped, out)
    r = subprocess.run([args.python, "-I", "-c", _EMPTY, out, listing], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise BenchError("emptying the functions never run failed:\n%s" % r.stderr.decode()[-2000:])
    return tuple(int(x) for x in r.stdout.split())


def measure(args, work, say):
    """The figures, as a dict (see report())."""
    dx = bench_proc.find_defusedxml(args.python, args.defusedxml)
    deps = os.path.join(work, "deps")
    os.makedirs(deps)
    bench_proc.copy_package(dx, deps)
    setup = bench_session.Setup(args.python, work, deps)
    say("provisioning the device")
    bench_session.provision(setup)
    shipped = os.path.join(work, "bundle")
    build_bundle.build(shipped, dx, args.python)
    res = {"python": bench_proc.run([args.python] + bench_proc.FLAGS + ["-c", "import platform; "
                                     "print(platform.python_version())"]).strip(),
           "runs": args.runs, "targets": []}
    for key, label, kw in _targets(args):
        # What a session runs is recorded where it is measured: https runs the TLS code,
        # and an emulated device could take other paths.
        say("%s: recording the functions a session runs" % label)
        name = "called-%s.txt" % key
        if "arch" in kw:
            listing, seen_as = os.path.join(setup.guest(kw["arch"]), name), "/work/" + name
        else:
            listing = seen_as = os.path.join(work, name)
        bench_session.daemon_run(setup, "session", code=shipped, prelude=_RECORDER % seen_as, **kw)
        emptied = os.path.join(work, "bundle-emptied-" + key)
        kept, empty = _empty(args, shipped, listing, emptied)
        say("%s: floor and runs (%d each)" % (label, args.runs))
        t = {"key": key, "label": label, "functions": {"run": kept, "emptied": empty},
             "goal": list(MEMORY_GOALS[key]), "peaks": {},
             "floor": median([_floor(setup, key, kw) for _ in range(args.runs)]) / 1024.0}
        for script in ("session", "start"):
            for form, code in (("shipped", shipped), ("emptied", emptied)):
                # A run whose guest the sampler never saw mapped (0) says nothing (qemu-user).
                peaks = [bench_session.daemon_run(setup, script, code=code, **kw)["peak_kb"]
                         for _ in range(args.runs)]
                if not any(peaks):
                    raise BenchError("%s: no %s run's peak was sampled" % (label, script))
                t["peaks"]["%s/%s" % (script, form)] = median([p for p in peaks if p]) / 1024.0
        res["targets"].append(t)
    return res


def report(res):
    out = ["tr069client: how far leaving out the code a session never runs takes the daemon's peak",
           "(CPython %s, `-I -S`; MB, median of %d runs each)" % (res["python"], res["runs"])]
    for t in res["targets"]:
        floor, (absolute, budget) = t["floor"], t["goal"]
        out += ["", "%s: floor %.2f MB; issue 12's goal: %s<= floor + %.1f (%.2f MB); %d functions and class "
                "bodies run in the session, %d never (emptied)" % (
                    t["label"], floor, "<= %.1f MB and " % absolute if absolute else "", budget,
                    floor + budget, t["functions"]["run"], t["functions"]["emptied"]),
                "  %-48s %-20s %-20s %s" % ("run", "shipped bundle", "never-run emptied", "difference")]
        for script, label in (("session", "session (Inform, GPN, GPV of 1,000, SPV of 10)"),
                              ("start", "start only (first Inform, no RPC)")):
            a, b = t["peaks"][script + "/shipped"], t["peaks"][script + "/emptied"]
            out.append("  %-48s %-20s %-20s %+.2f MB" % (label, "%.2f MB (%+.2f)" % (a, a - floor),
                                                         "%.2f MB (%+.2f)" % (b, b - floor), b - a))
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=11, help="runs of each figure (default %(default)s)")
    p.add_argument("--https", action="store_true", help="also over https (--ca-file), against its floor")
    p.add_argument("--emu", action="append", metavar="ARCH", choices=("mipsel", "armel"),
                   help="also under qemu-user (../shared/emu's rootfs of ARCH; repeatable)")
    p.add_argument("--python", default=sys.executable, help="interpreter of the children (default: this one)")
    p.add_argument("--defusedxml", metavar="DIR", help="defusedxml package folder (default: the children's)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    work = tempfile.mkdtemp(prefix="tr069-bounds-")
    try:
        res = measure(args, work, lambda s: sys.stderr.write("bench_bounds: %s\n" % s))
    except (BenchError, build_bundle.BuildError, OSError) as e:
        sys.stderr.write("bench_bounds: %s\n" % e)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(res, indent=1, sort_keys=True) if args.json else report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
