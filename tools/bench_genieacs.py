"""The GenieACS rows of tools/bench_fleet.py (--genieacs): bootstrap storms of fleet devices
against the GenieACS lab, each on an empty database, and genieacs-sim beside them; see the
docstring of bench_fleet.py. Benchmarks print; tests never assert on these figures."""

import time

import lab_genieacs as lab

# The lab as a load test wants it: no CWMP debug log (every message written out as YAML).
_ENV = {"LAB_CWMP_DEBUG": "0", "GENIEACS_DEBUG_FILE": ""}
_SERVICES = ("genieacs-cwmp", "mongoeco")
_SIM_GUESS = 60e6     # bytes per genieacs-sim device before one size has been measured


def _cpu(pids):
    return {name: lab.group_cpu(pids[name]) for name in _SERVICES}


def _shares(cpu, wall):
    """{who: percent of one core} over `wall` seconds."""
    return {who: round(100 * s / max(1e-9, wall)) for who, s in cpu.items()}


def fleet_row(n, fleet, max_sessions, scripts, limit):
    """A storm of `n` fleet devices against a fresh lab, stopped after `limit` seconds."""
    pids = lab.restart(scripts, _ENV)
    cpu0, errors0 = _cpu(pids), lab.errors_logged()
    run = fleet(n, lab.CWMP_URL, max_sessions, limit=limit)
    registered, waited = lab.wait_registered(n)
    cpu = {who: round(v - cpu0[who], 2) for who, v in _cpu(pids).items()}
    cpu["fleet"] = round(run["cpu"], 2)
    s = run["summary"]
    wall = run["wall"] + waited
    return {
        "devices": n, "max-sessions": max_sessions, "registered": registered,
        "stopped-at-limit": run["wall"] >= limit and s["informed"] < n,
        "per-minute": lab.per_minute(),
        "storm-s": round(run["wall"], 1), "written-after-s": round(waited, 1),
        "sessions-ok": s["sessions"]["ok"], "sessions-failed": s["sessions"]["failed"],
        "failures": s["sessions"]["failures-by-cause"], "events": s["sessions"]["events"],
        "sessions-per-s": round(s["sessions"]["ok"] / max(1e-9, run["wall"]), 1),
        "registered-per-s": round(registered / max(1e-9, wall), 1),
        "p50-ms": s["latency-ms"]["p50"], "p99-ms": s["latency-ms"]["p99"],
        "genieacs-faults": lab.faults(), "genieacs-errors": lab.errors_logged() - errors0,
        "cpu-s": cpu, "cpu-share": _shares(cpu, wall),
        "fleet-kb-per-device": round((run["idle-rss"] - run["base-rss"]) / 1e3 / n, 1),
    }


def sim_row(n, scripts):
    """genieacs-sim with `n` devices against a fresh lab: until all are registered."""
    pids = lab.restart(scripts, _ENV)
    cpu0 = _cpu(pids)
    t0 = time.monotonic()
    sim = lab.start_sim(n, offset=100000)
    try:
        registered, _ = lab.wait_registered(n, contains=lab.SIM_ID, settle=30, limit=max(300, 2 * n))
        wall = time.monotonic() - t0
        rss, procs = lab.group_rss(sim.pid)
        cpu = {who: round(v - cpu0[who], 2) for who, v in _cpu(pids).items()}
        cpu["genieacs-sim"] = round(lab.group_cpu(sim.pid), 2)
    finally:
        lab.stop_sim(sim)
    return {"devices": n, "registered": registered, "processes": procs, "seconds": round(wall, 1),
            "sessions-per-s": round(registered / max(1e-9, wall), 1), "rss-mb": round(rss / 1e6),
            "mb-per-device": round(rss / 1e6 / max(1, n), 1), "cpu-s": cpu, "cpu-share": _shares(cpu, wall)}


def bottleneck(row):
    """Who used the most CPU, as a sentence with every share."""
    shares = row["cpu-share"]
    who = max(shares, key=shares.get)
    return "%s (%s, %% of a core)" % (who, ", ".join("%s %d" % kv for kv in sorted(shares.items())))


def run(args, fleet, quiet=False):
    """Every GenieACS row of one bench_fleet.py run, then the lab stopped."""
    scripts = lab.find_scripts()
    out = {"fleet": [], "sim": []}
    try:
        for n in [int(x) for x in args.genieacs_sizes.split(",") if x]:
            row = fleet_row(n, fleet, args.genieacs_max_sessions, scripts, args.genieacs_limit)
            row["bottleneck"] = bottleneck(row)
            out["fleet"].append(row)
            if not quiet:
                _print_fleet(row)
        per_device = _SIM_GUESS
        for n in [int(x) for x in args.sim_sizes.split(",") if x]:
            if n * per_device > lab.mem_available() / 2:
                note = {"devices": n, "skipped": "needs about %.0f GB (%.0f MB a device), over half of "
                        "the %.0f GB free" % (n * per_device / 1e9, per_device / 1e6, lab.mem_available() / 1e9)}
                out["sim"].append(note)
                if not quiet:
                    print("genieacs-sim %6d devices: not run: %s" % (n, note["skipped"]), flush=True)
                continue
            row = sim_row(n, scripts)
            row["bottleneck"] = bottleneck(row)
            per_device = row["rss-mb"] * 1e6 / n
            out["sim"].append(row)
            if not quiet:
                _print_sim(row)
    finally:
        lab.stop(scripts)
    return out


def _print_fleet(r):
    print("GenieACS %6d fleet devices (%d under way): %d registered (%.1f/s) in a storm of %.1f s + "
          "%.1f s until written%s; %d sessions ok (%.1f/s; events %s), %d failed %s, p50 %.0f ms p99 "
          "%.0f ms, GenieACS faults %d, errors logged %d; CPU s: %s; fleet %.1f KB/device; busiest: %s"
          % (r["devices"], r["max-sessions"], r["registered"], r["registered-per-s"], r["storm-s"],
             r["written-after-s"], " (stopped at the time limit)" if r["stopped-at-limit"] else "",
             r["sessions-ok"], r["sessions-per-s"], r["events"], r["sessions-failed"], r["failures"] or "",
             r["p50-ms"], r["p99-ms"], r["genieacs-faults"], r["genieacs-errors"],
             ", ".join("%s %.1f" % kv for kv in sorted(r["cpu-s"].items())), r["fleet-kb-per-device"],
             r["bottleneck"]), flush=True)
    if r["stopped-at-limit"]:
        print("    per minute: %s" % "; ".join("%s %s" % kv for kv in r["per-minute"].items()), flush=True)


def _print_sim(r):
    print("genieacs-sim %6d devices: %d registered in %.1f s = %.1f/s, %d processes, RSS %d MB = "
          "%.1f MB/device; CPU s: %s; busiest: %s" % (
              r["devices"], r["registered"], r["seconds"], r["sessions-per-s"], r["processes"],
              r["rss-mb"], r["mb-per-device"], ", ".join("%s %.1f" % kv for kv in sorted(r["cpu-s"].items())),
              r["bottleneck"]), flush=True)
