#!/usr/bin/env python3
"""Power cuts at scale: the real daemon (`python3 -m tr069client run`) against the lab ACS,
SIGKILLed at random moments (seeded) and started again, many times over.

    python3 tools/kill_loop.py [--kills 1000] [--seed 1] [--work DIR] [--keep]

Every session the lab ACS sends SetParameterValues (with a ParameterKey), and now and then
AddObject, DeleteObject, ScheduleInform, Reboot, an IPPing diagnostic of 127.0.0.1 (2 to 4
echoes) and a firmware Download served by its file server (held half-way for a while, so
that kills land in downloads). The firmware-command records
each apply in a log and sleeps (kills land in applies), then the reboot-command lets the
daemon exit. Between kills the loop sends connection requests and changes the actively
notified ProvisioningCode with `tr069client set`. A kill waits for a moment of one kind: any
time, a session, a download, an apply, a running diagnostic test, or a state write (a
temporary file seen); 30% of
restarts get a new boot id and kill the running firmware-command too (a power cut with a
reboot), the others keep it (a daemon crash).

Checked after every kill: state.json loads without a load problem; every SetParameterValues
and ParameterKey whose Status 0 the ACS received is on disk (or a change sent after it); every
row whose AddObject it received is there unless a DeleteObject of it was sent, and none whose
DeleteObject it received; no temporary state file but one of the process just killed. At the
end, after a last run until nothing is pending: every acknowledged Download got its
TransferComplete, every ScheduleInform its M ScheduleInform, every Reboot its M Reboot
(unless the kill hit its reboot-command, which the log must then say), the last diagnostic
test requested its 8 DIAGNOSTICS COMPLETE, every new boot its 1 BOOT, every local change its
4 VALUE CHANGE; no firmware applied twice; no temporary
or downloaded file left; no internal error or damaged state in the daemon's log. Prints the
figures; exit status 1 on any problem.
"""

import argparse
import collections
import os
import random
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from kill_rig import MS, NOTIFIED, SPV_PARAM, TABLE, Rig, number_in, subreaper, wait_for  # noqa: E402

PHASES = ("any", "any", "session", "write", "diagnostic")


# --- what must hold ------------------------------------------------------------------------------

def check_after_kill(rig, killed_pid):
    """What must hold right after a kill: the acknowledged changes are on disk, the file loads."""
    with rig.acs._lock:
        acked, rows, sent = list(rig.acs.acked), rig.acs.rows - rig.acs.deleting, list(rig.acs.keys)
    store = rig.disk()
    values = store.values
    last = {}
    for kind, value, status in acked:
        last[kind] = value
        if kind in ("spv", "add", "delete", "diag"):
            last["key"] = value[0]
    if "spv" in last and number_in(values.get(SPV_PARAM)) < last["spv"][0]:
        rig.problems.append("SetParameterValues %s=spv-%d was acknowledged, the disk has %r"
                             % (SPV_PARAM, last["spv"][0], values.get(SPV_PARAM)))
    # The ParameterKey of the last change acknowledged, or of one sent after it (a session sends its
    # changes in random order: k778 acknowledged, then k777 applied and the kill before its answer).
    disk_key = number_in(values.get(MS + "ParameterKey"))
    if "key" in last and (disk_key not in sent or sent.index(disk_key) < sent.index(last["key"])):
        rig.problems.append("ParameterKey k%d was acknowledged, the disk has %r"
                            % (last["key"], values.get(MS + "ParameterKey")))
    on_disk = {int(k[len(TABLE):].split(".")[0]) for k in values if k.startswith(TABLE)}
    for kind, value, _ in acked:
        if kind == "delete" and value[1] in on_disk:
            rig.problems.append("row %d is on disk after its DeleteObject was acknowledged" % value[1])
    for row in rows - on_disk:
        rig.problems.append("row %d is not on disk after its AddObject was acknowledged" % row)
    came_up = "tr069client started" in rig.log_since_start()
    for name in os.listdir(rig.state_dir):
        if name.endswith(".tmp.%d" % killed_pid):
            rig.figures["kills during a state write (temporary file left by the killed process)"] += 1
        elif ".tmp." in name and came_up:
            rig.problems.append("%s, left by an earlier run, is still there once the daemon started" % name)

def check_at_end(rig):
    """What must hold once all is settled: nothing the ACS should have got was lost."""
    acs = rig.acs
    with acs._lock:
        informs, delivered = list(acs.informs), acs.delivered()
        downloads, acked = list(acs.downloads), list(acs.acked)
    events = [set(map(tuple, i["events"])) for i in informs]
    for key in downloads:
        if key not in delivered:
            rig.problems.append("Download %s was acknowledged, its TransferComplete never came" % key)
    for kind, (key,), _ in [a for a in acked if a[0] == "schedule"]:
        if not any(("M ScheduleInform", key) in e for e in events):
            rig.problems.append("ScheduleInform %s was acknowledged, no Inform carried it" % key)
    with open(rig.log_path, errors="replace") as f:
        log = f.read()
    # A kill while the reboot-command ran leaves the reboot undone, which the operator is told.
    undone = log.count("the reboot ordered before tr069client stopped did not happen")
    lost = [key for kind, (key,), _ in [a for a in acked if a[0] == "reboot"]
            if not any(("M Reboot", key) in e for e in events)]
    if len(lost) > undone:
        rig.problems.append("Reboot %s was acknowledged, no Inform carried its M Reboot" % ", ".join(lost))
    if acs.diagnostics and not any(("8 DIAGNOSTICS COMPLETE", "") in e for e in events[acs.diagnostics[-1]:]):
        rig.problems.append("the last diagnostic test requested never completed (8 DIAGNOSTICS COMPLETE)")
    for n, start in enumerate(rig.boot_informs, 1):
        if not any(("1 BOOT", "") in e for e in events[start:]):
            rig.problems.append("boot %d was never reported (1 BOOT)" % n)
    for value, start in rig.local:
        if not any(("4 VALUE CHANGE", "") in e and number_in(i["parameters"].get(NOTIFIED)) >= number_in(value)
                   for e, i in zip(events[start:], informs[start:])):
            rig.problems.append("the local change %s=%s was never reported (4 VALUE CHANGE)" % (NOTIFIED, value))
    applies = collections.Counter(k for k, _, _ in rig.firmware())
    rig.problems += ["firmware of Download %s applied %d times" % (k, n) for k, n in applies.items() if n > 1]
    left = [n for n in os.listdir(rig.state_dir) if ".tmp." in n]
    left += os.listdir(rig.dl_dir) if os.path.isdir(rig.dl_dir) else []
    rig.problems += ["%s is left" % n for n in left]
    for what in ("Traceback", "internal error", "was damaged"):
        if what in log:
            line = next(l for l in log.splitlines() if what in l)
            rig.problems.append("the daemon's log says %r: %s" % (what, line[:300]))
    # A killed daemon leaves the lab writing into a closed connection: that is the kill, not the CPE.
    rig.problems += ["lab ACS: " + p for p in acs.problems
                     if not any(k in p for k in ("BrokenPipeError", "ConnectionResetError", "cut short by the kill"))]
    kinds = collections.Counter(a[0] for a in acked)
    rig.figures.update({"Downloads acknowledged": len(downloads), "TransferCompletes received": len(delivered),
                         "firmware applies": sum(applies.values()), "Informs": len(informs),
                         "boots (power cuts and reboots)": len(rig.boot_informs),
                         "local changes": len(rig.local),
                         "SetParameterValues acknowledged": kinds["spv"],
                         "AddObject acknowledged": kinds["add"],
                         "ScheduleInform acknowledged": kinds["schedule"],
                         "Reboot acknowledged": kinds["reboot"],
                         "reboots (Reboot, firmware) left undone by a kill in the reboot-command, and said so": undone,
                         "diagnostic tests requested (IPPing)": len(acs.diagnostics),
                         "diagnostic tests started": log.count("diagnostics: IPPing started"),
                         "diagnostic tests completed": log.count("diagnostics: IPPing ended")})


# --- the loop ----------------------------------------------------------------------------------

def _moment(rig, phase, rng):
    """Wait for a moment of `phase` (a few seconds at most); True if it came."""
    proc, acs = rig.proc, rig.acs
    if phase == "any":
        return not wait_for(lambda: proc.poll() is not None, rng.uniform(0, 0.8))
    if phase == "session":
        n = len(acs.informs)
        ok = wait_for(lambda: len(acs.informs) > n or proc.poll() is not None, 3)
        time.sleep(rng.uniform(0, 0.1))
        return ok and len(acs.informs) > n
    if phase == "download":
        return wait_for(lambda: acs.stalled or proc.poll() is not None, 3) and bool(acs.stalled)
    if phase == "apply":
        if not wait_for(lambda: rig.firmware_running() or proc.poll() is not None, 3, 0.01):
            return False
        time.sleep(rng.uniform(0, 0.25))
        return True
    if phase == "diagnostic":
        started = lambda: rig.log_since_start().count("diagnostics: IPPing started")   # noqa: E731
        n = started()
        if not wait_for(lambda: started() > n or proc.poll() is not None, 3, 0.01) or proc.poll() is not None:
            return False
        time.sleep(rng.uniform(0, 1.0))
        return True
    tmp = lambda: any(".tmp." in n for n in os.listdir(rig.state_dir)) if os.path.isdir(rig.state_dir) else False
    return wait_for(lambda: tmp() or proc.poll() is not None, 3, 0.0005) and proc.poll() is None


def _releaser(acs, stop):
    """Let each held file download go on after a random while (kills land in between)."""
    rng, due = random.Random(7), {}
    while not stop.is_set():
        now = time.monotonic()
        for name in list(acs.stalled):
            due.setdefault(name, now + rng.uniform(0.05, 0.6))
            if now >= due[name]:
                acs.release_file(name)
        time.sleep(0.01)


def run(kills=1000, seed=1, work=None, echo=None):
    """Kill the daemon `kills` times; (problems, figures)."""
    subreaper()
    rng = random.Random(seed)
    rig = Rig(work, seed)
    stop = threading.Event()
    threading.Thread(target=_releaser, args=(rig.acs, stop), daemon=True).start()
    try:
        rig.start(new_boot=True)
        i = 0
        while rig.figures["kills"] < kills:
            i += 1
            if rng.random() < 0.5:
                threading.Timer(rng.uniform(0.05, 0.5), rig.poke).start()
            if rig.local_change_due(rng):
                rig.change_locally("loc-%d" % i)
            phase = rng.choice(["download", "apply"]) if rig.firmware_due() and rng.random() < 0.6 \
                else rng.choice(PHASES)
            reached = _moment(rig, phase, rng)
            exited = rig.proc.poll() is not None      # it ended by itself: the reboot after a firmware
            power_cut = exited or rng.random() < 0.3
            if not exited:
                pid = rig.proc.pid
                rig.kill(power_cut)
                rig.figures["kills"] += 1
                rig.figures["kills at: %s%s" % (phase, "" if reached else " (not reached: any time)")] += 1
                check_after_kill(rig, pid)
            else:
                rig.figures["exits by the reboot-command"] += 1
            if echo and i % 50 == 0:
                echo("%d kills, %d problems" % (rig.figures["kills"], len(rig.problems)))
            rig.start(new_boot=power_cut)
        _settle(rig)
        rig.stop()
        check_at_end(rig)
    finally:
        stop.set()
        if rig.proc is not None and rig.proc.poll() is None:
            rig.proc.kill()
        rig.acs.stop()
    return rig.problems, rig.figures


def _settle(rig, timeout=120):
    """Run, restarting after each reboot and asking for sessions, until nothing is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rig.proc.poll() is not None:
            rig.start(new_boot=True)
        time.sleep(0.3)
        store = rig.disk()
        st = store.state
        busy = st.get("events") or st.get("transfers") or st.get("scheduled") or st.get("deferred") \
            or store.values.get("Device.IP.Diagnostics.IPPing.DiagnosticsState") == "Requested" \
            or rig.firmware_running()
        if not busy and not rig.acs.stalled and _quiet(rig):
            return
        rig.poke()
    rig.problems.append("still busy %d s after the last kill: %r" % (timeout, {
        k: rig.disk().state.get(k) for k in ("events", "transfers", "scheduled", "deferred")}))


def _quiet(rig):
    n = len(rig.acs.sessions)
    time.sleep(0.5)
    return len(rig.acs.sessions) == n and all(s.ended for s in rig.acs.sessions)


def main(argv=None):
    ap = argparse.ArgumentParser(description="SIGKILL the daemon again and again (see the module docstring).")
    ap.add_argument("--kills", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", help="folder for the state, logs and files (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="kill-loop-")
    os.makedirs(work, exist_ok=True)
    started = time.monotonic()
    problems, figures = run(args.kills, args.seed, work, echo=lambda line: print(line, flush=True))
    print("%d kills in %.0f s (seed %d), work folder %s" % (figures["kills"], time.monotonic() - started,
                                                            args.seed, work))
    for name, n in sorted(figures.items()):
        print("  %8s  %s" % (format(n, ","), name))
    print("problems: %d" % len(problems))
    for p in problems[:50]:
        print("  - " + p)
    if not args.work and not args.keep and not problems:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
