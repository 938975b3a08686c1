"""Device.DeviceInfo.ProcessStatus.: CPUUsage from /proc/stat and the process table from
/proc/<pid>/stat and cmdline.

A process row's instance number is its PID: the PID is the table's unique key and stays
the same for the life of the process, and keeping a persisted map for short-lived
processes would rewrite the state file in every session."""

import os

from .. import datatypes
from ..provider import Provider, ProviderError
from . import files, rows

PS = "Device.DeviceInfo.ProcessStatus."
_STATE = {"R": "Running", "S": "Sleeping", "D": "Uninterruptible", "T": "Stopped",
          "t": "Stopped", "Z": "Zombie", "X": "Zombie", "I": "Idle", "P": "Idle",
          "W": "Sleeping", "K": "Uninterruptible"}


def provider():
    last = {}   # the previous /proc/stat sample: CPUUsage covers the time since then
    return Provider(PS, lambda m: processes(m, last))


def processes(model, last):
    root = model.root
    out = {PS + "CPUUsage": str(_cpu_usage(root, last))}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    page_kib = (os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096) // 1024
    for pid in files.listdir(root, "proc"):
        if not pid.isdigit():
            continue
        stat = files.read(root, "proc/%s/stat" % pid)
        if not stat or ")" not in stat:
            continue   # the process ended while we looked
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        f = stat[stat.rfind(")") + 2:].split()
        if len(f) < 22:
            continue
        cmdline = files.read(root, "proc/%s/cmdline" % pid, "")
        command = " ".join(cmdline.split("\x00")).strip() or "[%s]" % comm
        rows.fill(out, model, "%sProcess.%s." % (PS, pid), PS + "Process.{i}.", {
            "PID": pid, "Command": files.printable(command[:256]),
            "Size": min(int(f[21]) * page_kib, datatypes.MAX_UINT),
            # Linux priority: 0-39 for normal tasks (nice + 20), negative for real-time
            # ones, which TR-181's "0 is highest" maps to 0.
            "Priority": min(max(int(f[15]), 0), 99),
            "CPUTime": min((int(f[11]) + int(f[12])) * 1000 // tick, datatypes.MAX_UINT),
            "State": _STATE.get(f[0], "Sleeping")})
    return out


def _cpu_usage(root, last):
    text = files.read(root, "proc/stat", "")
    f = text.split("\n", 1)[0].split()
    if len(f) < 5 or f[0] != "cpu" or not all(x.isdigit() for x in f[1:]):
        raise ProviderError("no cpu line in %s" % files.path(root, "proc/stat"))
    ticks = [int(x) for x in f[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)   # idle + iowait
    total = sum(ticks[:8])   # guest time is already counted in user time
    if "total" in last and total - last["total"] < 50:
        return last["usage"]   # too short a time since the last look to say anything new
    prev_total, prev_idle = last.get("total", 0), last.get("idle", 0)
    usage = 0
    if total > prev_total:
        usage = min(100, max(0, round(100 * (1 - (idle - prev_idle) / (total - prev_total)))))
    last.update(total=total, idle=idle, usage=usage)
    return usage
