"""The shared GenieACS lab (../shared/genieacs, see its README) as tools/bench_fleet.py drives it:
start it afresh, read the CPU and memory of its processes, count the devices it registered,
and run genieacs-sim beside it. Standard library only; the lab's own scripts do the starting
and stopping.

The lab's services are process groups (start.sh starts each with setsid and records the
leader's pid in $LAB/run/NAME.pid): a service's CPU is its group's, cluster workers included.
"""

import json
import os
import signal
import subprocess
import time
import urllib.request

TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)
LAB = os.path.expanduser(os.environ.get("LAB", "~/tr069-lab/acs"))
CWMP_URL = "http://127.0.0.1:%s/" % os.environ.get("GENIEACS_CWMP_PORT", "7547")
NBI_URL = "http://127.0.0.1:%s" % os.environ.get("GENIEACS_NBI_PORT", "7557")
SIM_MODEL = "data_model_202BC1-BM632w-8KA8WA1151100043.csv"
SIM_ID = "202BC1-BM632w-"      # genieacs-sim's device ids: this, then a 6-digit serial


class LabError(Exception):
    """The lab could not do what was asked; the message says what and why."""


def find_scripts():
    """The lab's folder (start.sh, stop.sh): $GENIEACS_LAB_SCRIPTS, else shared/genieacs in a
    folder above the checkout."""
    if os.environ.get("GENIEACS_LAB_SCRIPTS"):
        return os.environ["GENIEACS_LAB_SCRIPTS"]
    folder = REPO
    while os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
        if os.path.isfile(os.path.join(folder, "shared", "genieacs", "start.sh")):
            return os.path.join(folder, "shared", "genieacs")
    raise LabError("no shared/genieacs/start.sh above %s: set GENIEACS_LAB_SCRIPTS" % REPO)


def restart(scripts, env=None):
    """Stop the lab, then start it with an empty database; {service: pid} of what runs.
    `env`: more variables for start.sh (GENIEACS_* reach GenieACS)."""
    subprocess.run([os.path.join(scripts, "stop.sh")], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    r = subprocess.run([os.path.join(scripts, "start.sh"), "--fresh"], env=dict(os.environ, **(env or {})),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode:
        raise LabError("start.sh --fresh failed: %s" % r.stdout.strip()[-400:])
    return pids()


def stop(scripts):
    subprocess.run([os.path.join(scripts, "stop.sh")], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


def pids():
    out = {}
    folder = os.path.join(LAB, "run")
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
        if name.endswith(".pid"):
            with open(os.path.join(folder, name)) as f:
                out[name[:-4]] = int(f.read().strip())
    return out


def _stats():
    """[(pid, process group, CPU seconds incl. reaped children, RSS bytes)] of every process."""
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        cpu = sum(int(x) for x in fields[11:15]) / tick
        out.append((int(p), int(fields[2]), cpu, int(fields[21]) * page))
    return out


def group_cpu(leader):
    """CPU seconds of the process group `leader` leads (its exited children included)."""
    return sum(cpu for _, group, cpu, _ in _stats() if group == leader)


def group_rss(leader):
    """(RSS bytes of the group, how many processes)."""
    mine = [rss for _, group, _, rss in _stats() if group == leader]
    return sum(mine), len(mine)


def device_ids():
    """The ids of every device GenieACS has registered (its NBI)."""
    with urllib.request.urlopen(NBI_URL + "/devices?projection=_id", timeout=120) as r:
        return [d["_id"] for d in json.loads(r.read().decode("utf-8"))]


def faults():
    """How many faults GenieACS records (its NBI)."""
    with urllib.request.urlopen(NBI_URL + "/faults", timeout=60) as r:
        return len(json.loads(r.read().decode("utf-8")))


def errors_logged():
    """[ERROR] lines genieacs-cwmp has logged (worker crashes, database errors)."""
    try:
        with open(os.path.join(LAB, "log", "genieacs-cwmp.log"), errors="replace") as f:
            return sum(1 for line in f if " [ERROR] " in line)
    except OSError:
        return 0


def per_minute():
    """From genieacs-cwmp's log (a fresh lab's: the run's), per minute: devices registered,
    Informs, and Informs of 2 PERIODIC."""
    keys = (("registered", "New device registered"), ("informs", 'informEvent="'),
            ("periodic", "2 PERIODIC"))
    counts = {name: {} for name, _ in keys}
    try:
        with open(os.path.join(LAB, "log", "genieacs-cwmp.log"), errors="replace") as f:
            for line in f:
                for name, mark in keys:
                    if mark in line:
                        minute = counts[name]
                        minute[line[:16]] = minute.get(line[:16], 0) + 1
    except OSError:
        pass
    minutes = sorted(set().union(*counts.values()))
    return {name: [counts[name].get(m, 0) for m in minutes] for name, _ in keys}


def wait_registered(want, contains=None, settle=10.0, limit=600.0):
    """Poll the NBI until `want` devices (those whose id holds `contains`) are registered, or
    the count, once above 0, has not moved for `settle` seconds, or `limit` passed; (count,
    seconds waited). GenieACS writes a device when its session ends, under load well after
    its last answer."""
    start = last_change = time.monotonic()
    count = -1
    while True:
        ids = device_ids()
        n = len(ids) if contains is None else sum(1 for i in ids if contains in i)
        now = time.monotonic()
        if n != count:
            count, last_change = n, now
        if count >= want or (count > 0 and now - last_change >= settle) or now - start >= limit:
            return count, now - start
        time.sleep(2.0)   # each look lists every device: the database is busy enough


def start_sim(n, url=CWMP_URL, wait_ms=20, offset=0):
    """genieacs-sim with `n` devices (one node process each, forked `wait_ms` apart), in its
    own process group; the Popen."""
    sim = os.path.join(LAB, "sim")
    if not os.path.isfile(os.path.join(sim, "genieacs-sim")):
        raise LabError("genieacs-sim is not installed in %s (setup.sh installs it)" % sim)
    log = open(os.path.join(LAB, "log", "genieacs-sim.log"), "ab")
    try:
        return subprocess.Popen(["node", os.path.join(sim, "genieacs-sim"), "-u", url, "-p", str(n),
                                 "-w", str(wait_ms), "-s", str(offset), "-m", os.path.join(sim, SIM_MODEL)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    finally:
        log.close()


def stop_sim(p):
    """End the sim's whole group (its master restarts a dead worker after 10 s)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            p.poll()   # the leader, reaped, leaves the group
            if not group_rss(p.pid)[1]:
                return
            time.sleep(0.1)
    p.wait()


def mem_available():
    """MemAvailable of this machine, bytes."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0
