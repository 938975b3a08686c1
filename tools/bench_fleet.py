#!/usr/bin/env python3
"""Fleet mode against an ACS: memory per device, sessions per second, and where the time goes.

    python3 tools/bench_fleet.py [--sizes 100,1000,10000] [--max-sessions 500] [--json]
                                 [--steady S] [--profile] [--acs-url URL]
                                 [--genieacs [--genieacs-sizes 100,1000,10000]
                                  [--genieacs-max-sessions 10] [--genieacs-limit 900]
                                  [--sim-sizes 100,200]]

For each size N, in fresh processes: the project's lab ACS (tools/lab_acs.py), and a fleet of N
devices that boot at once (a bootstrap storm, at most --max-sessions sessions under way) and
stop when each has informed. Reported: the fleet's RSS before its devices exist, once they are
idle after the storm, and at its peak; Python heap per device (tracemalloc, a second run);
sessions per second over the storm, latency p50/p99; CPU seconds of the fleet and of the ACS
over the storm (each process's own /proc figures) and so which one was the bottleneck;
failed sessions and the problems the lab ACS saw. --steady S then runs the largest N for S
seconds as a steady load: the devices boot over one periodic interval, chosen so that they ask
for half the storm's rate, and inform at every interval; reported are the rate achieved,
latency and both CPU shares.

--genieacs then does the same storms against the GenieACS lab (../shared/genieacs, its
README; tools/lab_genieacs.py drives it): for each --genieacs-sizes N the lab restarts with an
empty database (its CWMP debug log off), a fleet of N informs with at most
--genieacs-max-sessions sessions under way, and the tool reports how many devices GenieACS
registered (its NBI), failed sessions, faults and errors GenieACS logged, and the CPU of the
fleet, genieacs-cwmp and the database (mongoeco), which says where the time goes; a storm
still under way after --genieacs-limit seconds stops, and its row gives the devices GenieACS
registered in each minute (from its log). Then
genieacs-sim (a node process per device) at each --sim-sizes N, on a fresh lab too: the time
until all are registered, and its memory and CPU; a size whose memory would pass half of what
the machine has free is not run (and says so).

--profile adds, for the largest N, the functions that took the most CPU in the ACS (every
handler thread under cProfile) and in the fleet. --acs-url runs the fleets against an ACS that
is already running (GenieACS, say), which this tool then neither starts nor stops; its CPU is
not measured. Benchmarks print; tests never assert on these figures.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MS = "Device.ManagementServer."


def _cpu(pid="self"):
    """User + system CPU seconds of a process, from /proc."""
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss(pid="self"):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _top(stats, n=12):
    """[(function, CPU seconds of its own)] of a pstats.Stats, largest first."""
    rows = sorted(((tt, "%s:%d(%s)" % (os.path.basename(k[0]), k[1], k[2]))
                   for k, (_, _, tt, _, _) in stats.stats.items()), reverse=True)
    return [(name, round(tt, 3)) for tt, name in rows[:n]]


# --- the child processes ------------------------------------------------------------------

def child_acs(profile):
    """The lab ACS until stdin closes; then one JSON line: CPU, RSS, sessions, problems."""
    sys.path.insert(0, HERE)
    import lab_acs
    profiles = []
    if profile:
        import cProfile
        handle = lab_acs._Handler.handle

        def profiled(self):
            p = cProfile.Profile(time.thread_time)   # this thread's CPU, not its waits
            profiles.append(p)
            p.runcall(handle, self)
        lab_acs._Handler.handle = profiled
    acs = lab_acs.LabAcs(port=0).start()
    print(json.dumps({"url": acs.url, "cpu": _cpu()}), flush=True)
    sys.stdin.read()
    out = {"cpu": _cpu(), "rss": _rss(), "sessions": len(acs.sessions), "problems": acs.problems[:5],
           "problem-count": len(acs.problems)}
    acs.stop()
    if profiles:
        import pstats
        out["profile"] = _top(pstats.Stats(*profiles))
    print(json.dumps(out), flush=True)


def child_fleet(n, url, max_sessions, trace, profile, interval=0, duration=0):
    """One storm of `n` devices (at most `duration` seconds, 600 if 0), or with `interval` a
    steady load for `duration` seconds; one JSON line of figures."""
    sys.path.insert(0, REPO)
    from tr069client import log
    from tr069client.fleet.runner import Fleet
    from tr069client.fleet.stats import rss
    from tr069client.fleet.template import DEFAULT, Template
    log.configure("error")
    if trace:
        import tracemalloc
        tracemalloc.start()
    settings = {MS + "URL": url}
    options = {"once": True, "duration": duration or 600}
    if interval:
        settings[MS + "PeriodicInformInterval"] = str(interval)
        options = {"ramp_up": interval, "duration": duration, "drain": 30}
    template = Template(DEFAULT, settings)
    fleet = Fleet(template, acs_url=url, count=n, cr_port=0, cr_address="127.0.0.1",
                  max_sessions=max_sessions, **options)
    base_rss, heap0 = rss()[0], tracemalloc.get_traced_memory()[0] if trace else 0
    fleet.start()
    prof = None
    if profile:
        import cProfile
        prof = cProfile.Profile(time.thread_time)
        prof.enable()
    cpu0, t0 = _cpu(), time.monotonic()
    summary = fleet.run()   # SIGINT or SIGTERM: a summary of what ran
    cpu, wall = _cpu() - cpu0, time.monotonic() - t0
    if prof is not None:
        prof.disable()
    out = {"base-rss": base_rss, "idle-rss": rss()[0], "peak-rss": rss()[1], "cpu": cpu, "wall": wall,
           "summary": summary}
    if trace:
        out["heap-per-device"] = (tracemalloc.get_traced_memory()[0] - heap0) / n
    if prof is not None:
        import pstats
        out["profile"] = _top(pstats.Stats(prof))
    print(json.dumps(out), flush=True)


# --- the parent -----------------------------------------------------------------------------

def _python(*args, **kw):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, os.path.abspath(__file__)] + [str(a) for a in args],
                            env=env, universal_newlines=True, **kw)


def _fleet(n, url, max_sessions, trace=False, profile=False, steady=None, limit=0):
    p = _python("--child-fleet", n, url, max_sessions, int(trace), int(profile),
                *(steady or (0, limit)), stdout=subprocess.PIPE)
    out, _ = p.communicate()
    if p.returncode:
        raise SystemExit("bench_fleet: the fleet of %d devices failed" % n)
    return json.loads(out.strip().splitlines()[-1])


def measure(n, acs_url, max_sessions, profile=False, steady=None):
    acs = None
    if acs_url is None:
        acs = _python("--child-acs", int(profile), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        started = json.loads(acs.stdout.readline())
        url = started["url"]
    else:
        url = acs_url
    acs_cpu0 = _cpu(acs.pid) if acs else None
    run = _fleet(n, url, max_sessions, profile=profile, steady=steady)
    acs_cpu = _cpu(acs.pid) - acs_cpu0 if acs else None
    end = None
    if acs:
        acs.stdin.close()
        end = json.loads(acs.stdout.readline())
        acs.wait()
    s = run["summary"]
    row = {
        "devices": n, "max-sessions": max_sessions,
        "fleet-base-mb": run["base-rss"] / 1e6, "fleet-idle-mb": run["idle-rss"] / 1e6,
        "fleet-peak-mb": run["peak-rss"] / 1e6,
        "kb-per-device": (run["idle-rss"] - run["base-rss"]) / 1e3 / n,
        "sessions-ok": s["sessions"]["ok"], "sessions-failed": s["sessions"]["failed"],
        "storm-s": run["wall"], "sessions-per-s": s["sessions"]["ok"] / max(1e-9, run["wall"]),
        "p50-ms": s["latency-ms"]["p50"], "p99-ms": s["latency-ms"]["p99"],
        "fleet-cpu-s": run["cpu"], "acs-cpu-s": acs_cpu,
        "acs-problems": end["problem-count"] if end else None,
        "acs-rss-mb": end["rss"] / 1e6 if end else None,
        "failures": s["sessions"]["failures-by-cause"],
    }
    if profile:
        row["fleet-profile"] = run.get("profile")
        row["acs-profile"] = end.get("profile") if end else None
    return row


def _heap(n, url, max_sessions):
    return _fleet(n, url, max_sessions, trace=True)["heap-per-device"] / 1e3


def bottleneck(row):
    wall, fleet, acs = row["storm-s"], row["fleet-cpu-s"], row["acs-cpu-s"]
    if acs is None:
        return "fleet %.0f %% of a core (ACS not measured)" % (100 * fleet / wall)
    who = "ACS" if acs >= fleet else "fleet"
    return "%s (fleet %.0f %%, ACS %.0f %% of a core)" % (who, 100 * fleet / wall, 100 * acs / wall)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--max-sessions", type=int, default=500)
    ap.add_argument("--acs-url", help="an ACS already running (not started or stopped here)")
    ap.add_argument("--profile", action="store_true", help="also profile ACS and fleet at the largest size")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child-acs", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--steady", type=int, metavar="S", help="then a steady load of the largest size for S s")
    ap.add_argument("--child-fleet", nargs=7, help=argparse.SUPPRESS)
    ap.add_argument("--genieacs", action="store_true", help="then storms against the GenieACS lab, and genieacs-sim")
    ap.add_argument("--genieacs-sizes", default="100,1000,10000")
    ap.add_argument("--genieacs-max-sessions", type=int, default=10,
                    help="sessions under way against GenieACS (default 10: see README)")
    ap.add_argument("--sim-sizes", default="100,200", help="genieacs-sim sizes ('' for none)")
    ap.add_argument("--genieacs-limit", type=int, default=900, metavar="S",
                    help="stop a storm against GenieACS after S seconds (default 900)")
    ap.add_argument("--no-lab", action="store_true", help="no rows against the project's lab ACS")
    args = ap.parse_args(argv)
    if args.child_acs is not None:
        return child_acs(bool(args.child_acs))
    if args.child_fleet:
        n, url, m, trace, profile, interval, duration = args.child_fleet
        return child_fleet(int(n), url, int(m), trace == "1", profile == "1", int(interval), int(duration))
    sizes = [int(x) for x in args.sizes.split(",")] if not args.no_lab else []
    rows = []
    for n in sizes:
        row = measure(n, args.acs_url, args.max_sessions)
        if args.acs_url is None:   # the heap figure, with the ACS of another fresh process
            acs = _python("--child-acs", 0, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            url = json.loads(acs.stdout.readline())["url"]
            row["heap-kb-per-device"] = _heap(n, url, args.max_sessions)
            acs.stdin.close()
            acs.wait()
        else:
            row["heap-kb-per-device"] = _heap(n, args.acs_url, args.max_sessions)
        row["bottleneck"] = bottleneck(row)
        rows.append(row)
        if not args.json:
            _print_row(row)
    steady = None
    if args.steady and rows:
        n = max(sizes)
        interval = max(1, int(round(2 * n / rows[-1]["sessions-per-s"])))
        steady = measure(n, args.acs_url, args.max_sessions, steady=(interval, args.steady))
        steady.update({"interval-s": interval, "asked-per-s": n / interval})
        steady["bottleneck"] = bottleneck(steady)
        if not args.json:
            print("steady load: %d devices informing every %d s (%.0f/s asked) for %d s: %.0f/s done, "
                  "p50 %.0f ms p99 %.0f ms, %d failed; CPU fleet %.0f %%, ACS %s of a core" % (
                      n, interval, n / interval, args.steady, steady["sessions-per-s"], steady["p50-ms"],
                      steady["p99-ms"], steady["sessions-failed"], 100 * steady["fleet-cpu-s"] / steady["storm-s"],
                      "%.0f %%" % (100 * steady["acs-cpu-s"] / steady["storm-s"])
                      if steady["acs-cpu-s"] is not None else "n/a"), flush=True)
    profile = measure(max(sizes), args.acs_url, args.max_sessions, profile=True) if args.profile and sizes else None
    genie = None
    if args.genieacs:
        from bench_genieacs import run as genieacs_run
        genie = genieacs_run(args, _fleet, quiet=args.json)
    if args.json:
        print(json.dumps({"rows": rows, "steady": steady, "profile": profile, "genieacs": genie}, indent=2))
    elif profile:
        for who in ("acs", "fleet"):
            print("\nwhere the %s's CPU went (own time, s, under cProfile):" % who)
            for name, tt in profile.get(who + "-profile") or []:
                print("  %8.3f  %s" % (tt, name))
    return 0


def _print_row(r):
    print("%6d devices: fleet RSS %.1f MB idle (%.1f before devices, peak %.1f): %.1f KB/device "
          "(heap %.1f KB); %d sessions in %.1f s = %.0f/s, p50 %.0f ms p99 %.0f ms, %d failed, "
          "ACS problems %s; CPU fleet %.1f s, ACS %s s; bottleneck: %s" % (
              r["devices"], r["fleet-idle-mb"], r["fleet-base-mb"], r["fleet-peak-mb"], r["kb-per-device"],
              r["heap-kb-per-device"], r["sessions-ok"], r["storm-s"], r["sessions-per-s"], r["p50-ms"],
              r["p99-ms"], r["sessions-failed"], r["acs-problems"], r["fleet-cpu-s"],
              "%.1f" % r["acs-cpu-s"] if r["acs-cpu-s"] is not None else "n/a", r["bottleneck"]), flush=True)


if __name__ == "__main__":
    sys.exit(main())
