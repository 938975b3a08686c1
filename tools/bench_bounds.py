#!/usr/bin/env python3
"""How far trimming the package can take the http session's peak (issue 12): the lean floor,
then the measured session and a start-only run (first Inform, no RPC), each from the shipped
bundle and from a measurement copy of it in which every package function the session never
called has an empty body. The copy is never shipped: its figures bound what moving the code a
session does not run out of the daemon's modules could save. It asserts nothing.

    python3 tools/bench_bounds.py [--runs N] [--python PY] [--defusedxml DIR] [--json]

The children, the device and the session are tools/bench.py's (bench_session); the figures
are medians of VmHWM over N runs each, in MB (1024 kB).
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
from bench_proc import BenchError  # noqa: E402

GOAL_MB, OVER_FLOOR_MB = 15.5, 1.6   # issue 12's http row

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


def _median(values):
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2.0


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
    say("recording the functions a session calls")
    listing = os.path.join(work, "called.txt")
    bench_session.daemon_run(setup, "session", code=shipped, prelude=_RECORDER % listing)
    emptied = os.path.join(work, "bundle-emptied")
    shutil.copytree(shipped, emptied)
    r = subprocess.run([args.python, "-I", "-c", _EMPTY, emptied, listing], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise BenchError("emptying the uncalled functions failed:\n%s" % r.stderr.decode()[-2000:])
    kept, empty = (int(x) for x in r.stdout.split())
    res = {"python": bench_proc.run([args.python, "-I", "-S", "-c", "import platform; "
                                     "print(platform.python_version())"]).strip(),
           "runs": args.runs, "functions": {"called": kept, "emptied": empty}, "peaks": {}}
    say("floor and runs (%d each)" % args.runs)
    res["floor"] = _median([bench_session.floor(setup, "lean") for _ in range(args.runs)]) / 1024.0
    for script in ("session", "start"):
        for form, code in (("shipped", shipped), ("emptied", emptied)):
            res["peaks"][script, form] = _median(
                [bench_session.daemon_run(setup, script, code=code)["peak_kb"] for _ in range(args.runs)]) / 1024.0
    return res


def report(res):
    floor = res["floor"]
    out = ["tr069client: how far trimming takes the http session's peak (CPython %s, `-I -S`, "
           "median of %d runs each)" % (res["python"], res["runs"]),
           "lean floor: %.2f MB; issue 12's goal: <= %.1f MB and <= floor + %.1f (%.2f MB)"
           % (floor, GOAL_MB, OVER_FLOOR_MB, floor + OVER_FLOOR_MB),
           "functions and class bodies of the package: %d run in the session, %d never run (emptied)"
           % (res["functions"]["called"], res["functions"]["emptied"]), "",
           "%-48s %-20s %-20s %s" % ("run", "shipped bundle", "never-run emptied", "difference")]
    for script, label in (("session", "session (Inform, GPN, GPV of 1,000, SPV of 10)"),
                          ("start", "start only (first Inform, no RPC)")):
        a, b = res["peaks"][script, "shipped"], res["peaks"][script, "emptied"]
        out.append("%-48s %-20s %-20s %+.2f MB" % (label, "%.2f MB (%+.2f)" % (a, a - floor),
                                                   "%.2f MB (%+.2f)" % (b, b - floor), b - a))
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=11, help="runs of each figure (default %(default)s)")
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
    if args.json:
        res["peaks"] = {"%s/%s" % k: v for k, v in res["peaks"].items()}
        print(json.dumps(res, indent=1, sort_keys=True))
    else:
        print(report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
