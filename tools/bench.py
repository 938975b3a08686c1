#!/usr/bin/env python3
"""Footprint benchmark of tr069client: every row of issue 12's table, floor and goal beside
the figure, PASS or FAIL; it asserts nothing.

    python3 tools/bench.py [--quick] [--json] [--python PY] [--defusedxml DIR]
                           [--emu ARCH ... | --no-emu] [--runs N] [--idle-seconds S]
                           [--diag-mib N] [--diag-only]

Every child is `PY -I -S` with sys.path set to the shipped bundle (tools/build_bundle.py),
or to the checkout and a private copy of defusedxml, only (floors and daemon alike):
neither site-packages nor a .pth file can move a figure. Memory verdicts are the bundle's,
the checkout's figure beside. Floors are measured in the same run. MB = 1024 kB (VmHWM's
kB / 1024).

The device: the shipped model with the Linux providers, in a PID namespace of its own (the
process table is the daemon's alone), with NAT.PortMapping rows added by a lab ACS through
AddObject/SetParameterValues until it holds 1,000 parameters; for the start-up rows, 55 rows
(1,000 stored values). The session: Inform, GetParameterNames of Device., GetParameterValues
of 1,000 names, SetParameterValues of 10, Digest auth. Memory: VmHWM natively; under
qemu-user (../shared/emu rootfs, measured when they exist) the guest's RSS, sampled every
20 ms from the host (its mappings below 4 GiB), floors alike. The download diagnostic row
(issue 13): the daemon runs a --diag-mib MiB DownloadDiagnostics on loopback that the lab ACS
requests, beside curl in the same run; its peak RSS during the test against its idle VmRSS.
Modules: bench_proc (children, samplers), bench_session (device, ACS, daemon, floors),
bench_engine (CPU), bench_ship (flash), bench_diag (the download diagnostic).
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_diag  # noqa: E402
import bench_engine  # noqa: E402
import bench_proc  # noqa: E402
import bench_session  # noqa: E402
import bench_ship  # noqa: E402
from bench_proc import BenchError  # noqa: E402

MB, KIB = 1024.0, 1024.0
EMU_DIR = os.environ.get("EMU_DIR") or os.path.expanduser("~/.cache/tr069-emu")
# Issue 12's goals: memory (absolute MB, MB over the floor measured in the same run).
MEMORY_GOALS = {"http": (15.5, 1.6), "mipsel": (13.0, 1.7), "armel": (None, 1.6),
                "https-ca": (21.5, 1.6), "https-system": (22.3, 1.6)}
CPU_GOAL_MS, US_PER_VALUE, FLAT = 75.0, 7.5, 1.2
START_GOAL_MS, INSNS_GOAL, FLASH_GOAL = 120.0, 350e6, 150 * 1024


def measure(args, say):
    import tempfile
    work = tempfile.mkdtemp(prefix="tr069-bench-")
    res = {"quick": args.quick, "rows": [], "notes": []}
    try:
        _measure(args, say, work, res)
    finally:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    return res


def _loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def _measure(args, say, work, res):
    py = args.python
    res["python"] = bench_proc.run([py] + bench_proc.FLAGS + ["-c", "import sys, platform; print("
                                   "platform.python_version(), platform.machine())"]).strip()
    child_version = tuple(int(x) for x in res["python"].split()[0].split(".")[:2])
    res["load_start"] = _loadavg()
    dx = bench_proc.find_defusedxml(py, args.defusedxml)
    deps = os.path.join(work, "deps")
    os.makedirs(deps)
    bench_proc.copy_package(dx, deps)
    setup = bench_session.Setup(py, work, deps)
    res["namespace"] = bool(setup.ns)
    runs = args.runs or (3 if args.quick else 7)

    if args.diag_only:
        _diag(res, args, setup, work, runs, say)
        res["load_end"] = _loadavg()
        return
    say("provisioning the device (lab ACS: AddObject, SetParameterValues)")
    bench_session.provision(setup)
    res["device"] = {"rows": setup.rows, "params": setup.states["device"][2],
                     "stored": setup.states["device"][1], "provisioned_stored": setup.states["provisioned"][1]}

    made = bench_ship.build_candidates(os.path.join(work, "ship"), dx, child_version, args.quick)
    shipped = made[0][1]
    n = 1 if args.quick else 3
    # Memory verdicts: the shipped form, as integrators run it; the checkout's figure beside.
    res["notes"].append("memory rows: the verdict is the shipped %s's peak; the checkout's "
                        "(python -m tr069client, bytecode in __pycache__) is given beside" % bench_ship.SHIPPED)
    say("http session, native")
    sessions = [bench_session.daemon_run(setup, "session", code=shipped) for _ in range(n)]
    res["device"]["gpn"] = sessions[0]["gpn"]
    lean = bench_session.floor(setup, "lean")
    _memory(res, "http", "http session, 1,000 parameters, x86-64", lean, sessions,
            [bench_session.daemon_run(setup, "session") for _ in range(n)])

    for arch in args.emu:
        say("emulated %s (qemu-user)" % arch)
        runs_e = [bench_session.daemon_run(setup, "session", arch=arch, code=shipped) for _ in range(2)]
        bench_session.daemon_run(setup, "start", arch=arch, state="provisioned")  # compiles in the guest
        _memory(res, arch, "same, emulated %s" % arch, bench_session.floor(setup, "lean", arch), runs_e,
                [bench_session.daemon_run(setup, "session", arch=arch)])

    say("https sessions")
    try:
        for tls, key, label in (("ca-file", "https-ca", "https, --ca-file"),
                                ("system", "https-system", "https, the system's CA bundle")):
            ds = [bench_session.daemon_run(setup, "session", tls=tls, code=shipped) for _ in range(n)]
            _memory(res, key, label, bench_session.https_floor(setup, tls), ds,
                    [bench_session.daemon_run(setup, "session", tls=tls)])
            res["rows"][-1]["text"] += "; the floor with the rest of the lean stack (json, select, xml.etree, " \
                "defusedxml, _md5): %.1f MB" % (bench_session.https_floor(setup, tls, lean=True) / MB)
        res["notes"].append("system CA bundle: %s (%d certificates) + the test CA, given by SSL_CERT_FILE "
                            "to floor and daemon alike" % (setup.certs["system"], setup.certs["system_certs"]))
    except BenchError as e:
        res["notes"].append("https rows not measured: %s" % str(e).splitlines()[0])

    say("CPU of GetParameterValues exchanges (engine)")
    _cpu(res, bench_engine.cpu_rows(py, deps, args.quick))

    say("start-up and flash cost of the ship forms")
    costs = bench_ship.flash_costs(made, work)
    for c in costs:
        times = [bench_session.daemon_run(setup, "start", code=c["path"], state="provisioned")["first_inform"]
                 for _ in range(runs if c["name"] == bench_ship.SHIPPED or not args.quick else 1)]
        c["start_ms"] = bench_engine.median(times) * 1e3
        if "mipsel" in args.emu and (c["name"] == bench_ship.SHIPPED or not args.quick):
            c["mipsel_insns"] = bench_session.daemon_run(setup, "start", arch="mipsel", code=c["path"],
                                                         insns=True, state="provisioned")["insns"]
        c.pop("path")
    res["ship"] = costs
    checkout = [bench_session.daemon_run(setup, "start", state="provisioned")["first_inform"] for _ in range(runs)]
    _start(res, costs[0], bench_engine.median(checkout) * 1e3, runs)
    _flash(res, costs[0])

    if args.quick or not args.idle_seconds:
        _row(res, "idle", "idle daemon wake-ups", None, None, "none", None, "not measured (--quick)")
    else:
        say("idle daemon under strace (%d s)" % args.idle_seconds)
        d = bench_session.daemon_run(setup, "session", idle=args.idle_seconds)
        i = d["idle"]
        per_min = 60.0 / i["seconds"]
        _row(res, "idle", "idle daemon wake-ups", None, i["wakeups"] * per_min, "none", i["wakeups"] == 0,
             "strace -f for %d s after the session: %d wake-ups, %d system calls (%s)" % (
                 i["seconds"], i["wakeups"], i["syscalls"],
                 ", ".join("%s %d" % kv for kv in sorted(i["calls"].items())) or "none"),
             "%.1f /min" % (i["wakeups"] * per_min))
    _diag(res, args, setup, work, runs, say)
    res["load_end"] = _loadavg()


def _diag(res, args, setup, work, runs, say):
    label = "%d MiB download diagnostic: throughput vs curl, daemon peak RSS during vs idle" % args.diag_mib
    if not args.diag_mib:
        _row(res, "diag", label, None, None, "<= idle + %.1f MB" % bench_diag.LIMIT_MB, None, "not measured")
        return
    m = bench_diag.measure(setup, work, args.diag_mib, 1 if args.quick else min(runs, 3), say)
    res["diag"] = m
    short, ok, text = bench_diag.row_text(m)
    _row(res, "diag", label, None, None, "<= idle + %.1f MB" % bench_diag.LIMIT_MB, ok, text, short)


def _row(res, key, label, floor, value, goal, ok, text, short=None):
    """One row of the table: `short` is the measured column, `text` the line below it."""
    res["rows"].append({"key": key, "label": label, "floor": floor, "value": value, "goal": goal,
                        "pass": ok, "text": text, "short": short or "-"})


def _memory(res, key, label, floor_kb, runs, checkout=()):
    """A memory row: the median of the shipped form's `runs` against the goals; the checkout's
    median beside."""
    # A run whose guest the sampler never saw mapped (0) says nothing; seen under qemu-user.
    peaks = sorted(r["peak_kb"] for r in runs if r["peak_kb"])
    if not peaks:
        raise BenchError("%s: no run's peak was sampled" % label)
    peak = peaks[len(peaks) // 2]
    absolute, budget = MEMORY_GOALS.get(key, (None, 1.6))
    over = (peak - floor_kb) / MB
    ok = over <= budget and (absolute is None or peak / MB <= absolute)
    goal = ("<= %.1f MB and " % absolute if absolute else "") + "<= floor + %.1f" % budget
    spread = "" if len(peaks) == 1 else " (runs %s)" % ", ".join("%.2f" % (p / MB) for p in peaks)
    text = "+%.2f MB over the floor%s" % (over, spread)
    if checkout:
        other = sorted(r["peak_kb"] for r in checkout)
        text += "; from the checkout: %.2f MB (+%.2f)" % (other[len(other) // 2] / MB,
                                                          (other[len(other) // 2] - floor_kb) / MB)
    _row(res, "memory-" + key, label, floor_kb / MB, peak / MB, goal, ok, text, "%.1f MB" % (peak / MB))


def _cpu(res, series):
    ten = [s for s in series if s["size"] == 10000 and not s["path"]][0]
    worst = max(s["us_per_value"] for s in series)
    flat = []
    for path in (False, True):
        s = sorted((x for x in series if x["path"] == path), key=lambda x: x["size"])
        base = [x for x in s if x["size"] == 10000]
        if base and s[-1]["size"] > 10000:
            flat.append(s[-1]["us_per_value"] / base[0]["us_per_value"])
    ok = ten["median"] * 1e3 <= CPU_GOAL_MS and worst <= US_PER_VALUE and all(f <= FLAT for f in flat)
    res["cpu"] = series
    _row(res, "cpu", "CPU of one 10,000-name GetParameterValues exchange", None, ten["median"] * 1e3,
         "<= %.0f ms; <= %.1f us/value and x%.1f from 10,000 to 50,000" % (CPU_GOAL_MS, US_PER_VALUE, FLAT),
         ok, "median of %d; worst %.2f us/value; growth to the largest size: %s; the Inform at "
         "10,000: %.1f ms" % (len(ten["gpv"]), worst, " / ".join("x%.2f" % f for f in flat) or
                              "not measured (--quick)", ten["inform_median"] * 1e3),
         "%.1f ms" % (ten["median"] * 1e3))


def _start(res, shipped, checkout_ms, runs):
    worst = max(shipped["start_ms"], checkout_ms)
    _row(res, "start-x86", "process start to first Inform sent, x86", None, worst,
         "< %.0f ms median" % START_GOAL_MS, worst < START_GOAL_MS,
         "median of %d: shipped %s %.0f ms, checkout (-m) %.0f ms" % (runs, shipped["name"], shipped["start_ms"],
                                                                      checkout_ms),
         "%.0f ms" % worst)
    insns = shipped.get("mipsel_insns")
    _row(res, "start-mipsel", "start to first Inform, mipsel, shipped form, provisioned device", None,
         insns, "< %.0f M instructions" % (INSNS_GOAL / 1e6), None if insns is None else insns < INSNS_GOAL,
         "guest instructions (run-in.sh --count-insns) until the ACS has the Inform" if insns
         else "not measured (no mipsel rootfs, or --quick)", "%.0f M" % (insns / 1e6) if insns else "-")


def _flash(res, shipped):
    sq = shipped["squashfs"]
    _row(res, "flash", "flash cost of what an integrator ships, xz -9", None,
         shipped["xz9"] / KIB, "<= %.0f KiB" % (FLASH_GOAL / KIB), shipped["xz9"] <= FLASH_GOAL,
         "%s: file %.0f KiB%s" % (shipped["name"], shipped["bytes"] / KIB,
                                  ", in a squashfs (xz, 256 KiB blocks) %.0f KiB" % (sq / KIB) if sq else ""),
         "%.0f KiB" % (shipped["xz9"] / KIB))


def report(res):
    d = res.get("device")
    out = ["tr069client footprint (issue 12): CPython %s, children `-I -S`; load %s at start, %s at end"
           % (res["python"], res["load_start"], res.get("load_end", "?"))]
    if d:
        out.append("device: Linux providers%s + %d NAT.PortMapping rows = %d parameters (GPN %d names, %d "
                   "stored); start-up rows: %d stored values" % (
                       " in a private PID namespace" if res["namespace"] else " (this machine's process table)",
                       d["rows"], d["params"], d["gpn"], d["stored"], d["provisioned_stored"]))
    out += ["", "%-66s %-9s %-10s %-44s %s" % ("row", "floor", "measured", "goal", "verdict")]
    for r in res["rows"]:
        verdict = "-" if r["pass"] is None else "PASS" if r["pass"] else "FAIL"
        out.append("%-66s %-9s %-10s %-44s %s" % (r["label"], "%.1f MB" % r["floor"] if r["floor"] else "",
                                                  r["short"], r["goal"], verdict))
        out.append("    " + r["text"])
    if not d:
        return "\n".join(out)
    out += ["", "GetParameterValues exchanges (sans-IO engine, CPU)   values   median  us/value"]
    for s in res["cpu"]:
        out.append("  %-50s %6d %6.1f ms  %5.2f" % ("the table's path" if s["path"] else "%d names" % s["size"],
                                                   s["values"], s["median"] * 1e3, s["us_per_value"]))
    out += ["", "ship forms:                                  bytes    xz -9   squashfs  start x86  mipsel insns"]
    for c in res["ship"]:
        out.append("  %-40s %7.0fK %7.1fK %8s %8.0f ms %10s" % (
            c["name"], c["bytes"] / KIB, c["xz9"] / KIB, "%.1fK" % (c["squashfs"] / KIB) if c["squashfs"] else "-",
            c["start_ms"], "%.0f M" % (c["mipsel_insns"] / 1e6) if c.get("mipsel_insns") else "-"))
    out += [""] + ["note: " + n for n in res["notes"]]
    return "\n".join(out)


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one run per figure, no emulation, no idle strace")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--python", default=sys.executable, help="interpreter of the children (default: this one)")
    p.add_argument("--defusedxml", metavar="DIR", help="defusedxml package folder (default: the children's)")
    p.add_argument("--emu", action="append", metavar="ARCH", help="emulated architectures (default: those "
                   "with a rootfs in $EMU_DIR among mipsel, armel; none with --quick)")
    p.add_argument("--no-emu", action="store_true", help="no emulated figures")
    p.add_argument("--runs", type=int, help="runs of each start-up time (default 7, --quick 3)")
    p.add_argument("--idle-seconds", type=int, default=65, help="strace of the idle daemon (0: skip)")
    p.add_argument("--diag-mib", type=int, default=100, help="size of the download diagnostic (0: skip)")
    p.add_argument("--diag-only", action="store_true", help="only the download diagnostic row")
    args = p.parse_args(argv)
    if args.no_emu or (args.quick and not args.emu):
        args.emu = []
    elif not args.emu:
        args.emu = [a for a in ("mipsel", "armel") if os.path.isfile(os.path.join(EMU_DIR, a, ".emu-rootfs"))]
    try:
        res = measure(args, lambda m: sys.stderr.write("bench: %s\n" % m))
    except BenchError as e:
        sys.stderr.write("bench: %s\n" % e)
        return 1
    print(json.dumps(res, indent=1, sort_keys=True) if args.json else report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
