"""Children of tools/bench.py: clean interpreters, a private PID namespace, and the memory,
time and system-call figures of a running process (native or under qemu-user).

Every measured child is `PY -I -S -c CODE` (or `PY -I -S ARCHIVE`): no site module, no
.pth file, no user site, no PYTHON* variable; sys.path is set by CODE to the checkout and a
private copy of defusedxml, and nothing else, for floors and daemon alike.
"""

import os
import shutil
import subprocess
import threading
import time

FLAGS = ["-I", "-S"]
TOOLS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TOOLS)



def _emu_tools():
    # ../shared/emu from the checkout (a git worktree may sit one level deeper).
    up = REPO
    for _ in range(3):
        up = os.path.dirname(up)
        if os.path.isfile(os.path.join(up, "shared", "emu", "run-in.sh")):
            return os.path.join(up, "shared", "emu")
    return os.path.join(os.path.dirname(REPO), "shared", "emu")


EMU = os.environ.get("TR069_EMU_TOOLS") or _emu_tools()
GUEST_SPACE = 1 << 32    # a 32-bit guest lives below 4 GiB of the qemu process (guest_base 0)


class BenchError(Exception):
    """A measurement that could not be made; the message says which and why."""


def prologue(paths):
    """Code that puts exactly `paths` in front of the interpreter's own (stdlib) sys.path."""
    return "import sys\nsys.path[:0] = %r\n" % (list(paths),)


def launcher(paths, module, argv0=None, hook=False, readonly=False, prelude=""):
    """CODE for `-c` that runs `module` as `python -m` (or a zipapp's __main__) does.

    `hook`: SIGUSR1 ends the process at once with status 0 (qemu's plugin then prints its
    count; a default-action signal would kill qemu before it does). `readonly`: no
    bytecode is written (-B), as on a squashfs: sources are compiled at every start.
    `prelude`: code run just before the module (bench_bounds records calls with it)."""
    code = prologue(paths)
    if readonly:
        code += "sys.dont_write_bytecode = True\n"
    if argv0:
        code += "sys.argv[0] = %r\n" % argv0
    if hook:
        code += "import os, signal\nsignal.signal(signal.SIGUSR1, lambda *a: os._exit(0))\n"
    # What Py_RunMain does for `-m MOD` (alter argv) and for a zipapp (`__main__`, no alter).
    return code + prelude + "import runpy\nrunpy._run_module_as_main(%r, %r)\n" % (module, module != "__main__")


def clean_env(extra=None):
    """The children's environment: ours without PYTHON* (-I ignores them anyway)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(extra or {})
    return env


def find_defusedxml(py, given=None):
    """The defusedxml package folder: `given`, else where `py` (with its site) finds it."""
    if given:
        for cand in (given, os.path.join(given, "defusedxml")):
            if os.path.isfile(os.path.join(cand, "ElementTree.py")):
                return os.path.abspath(cand)
        raise BenchError("%s holds no defusedxml package" % given)
    r = subprocess.run([py, "-I", "-c", "import defusedxml, os; print(os.path.dirname(defusedxml.__file__))"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    if r.returncode != 0:
        raise BenchError("%s has no defusedxml: install it or pass --defusedxml DIR" % py)
    return r.stdout.decode().strip()


def copy_package(src, dest_parent, keep_bytecode=True):
    """Copy the package folder `src` into `dest_parent`; its path there."""
    dest = os.path.join(dest_parent, os.path.basename(src))
    ignore = shutil.ignore_patterns(*(["*.pyc.*"] if keep_bytecode else ["__pycache__"]))
    shutil.copytree(src, dest, ignore=ignore)
    return dest


def run(argv, env=None, timeout=600, stdin=None):
    """Run a child to its end; its stdout text, or BenchError with its stderr."""
    r = subprocess.run(argv, env=env or clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       input=stdin, timeout=timeout)
    if r.returncode != 0:
        raise BenchError("%s exited with status %d:\n%s" % (" ".join(argv[:4])[:300], r.returncode,
                                                            r.stderr.decode("utf-8", "replace")[-2500:]))
    return r.stdout.decode("utf-8", "replace")


# --- a private PID namespace: the process table is the daemon's alone ----------------------

_NS = []


def namespace_prefix():
    """`unshare` argv that runs a command as PID 1 of its own PID namespace with its own
    /proc, or [] where that is not possible (not root, no unshare)."""
    if not _NS:
        argv = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "--"]
        try:
            ok = subprocess.run(argv + ["true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                timeout=20).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        _NS.append(argv if ok else [])
    return list(_NS[0])


def child_of(pid, timeout=30):
    """The one child process of `pid` (the command under unshare), waiting for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
        except OSError:
            kids = []
        if len(kids) == 1:
            return int(kids[0])
        time.sleep(0.002)
    raise BenchError("no child under process %d" % pid)


# --- memory of a running process --------------------------------------------------------------

def vmhwm(pid):
    """VmHWM (kB) of a native process, or None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return int(f.read().split("VmHWM:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return None


def guest_rss(pid):
    """Resident kB of the guest's memory in a qemu-user process: its mappings below 4 GiB
    (qemu's own binary, heap and translation cache lie above); 0 until the guest's python3
    is mapped, None once the process is gone."""
    try:
        with open("/proc/%d/smaps" % pid) as f:
            text = f.read()
    except OSError:
        return None
    if not text:
        return None
    total, inside, guest_at = 0, False, None
    for line in text.splitlines():
        head = line.split(None, 1)[0] if line else ""
        if "-" in head and ":" not in head:
            start = int(head.split("-")[0], 16)
            inside = start < GUEST_SPACE
            if "/usr/bin/python3" in line and guest_at is None:
                guest_at = start
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    if guest_at is None:
        return 0                       # not yet the guest (run-in.sh before its exec)
    if guest_at >= GUEST_SPACE:
        raise BenchError("qemu process %d: the guest is not mapped below 4 GiB (guest_base != 0)" % pid)
    return total


class Watch:
    """Samples a figure of process `pid` (vmhwm or guest_rss) every `every` s in a thread;
    `peak` is the highest seen. `stop()` takes a last sample and ends the thread."""

    def __init__(self, pid, probe, every=0.005):
        self.pid, self.probe, self.every = pid, probe, every
        self.peak, self.last, self.samples = 0, None, 0
        self._done = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def sample(self):
        value = self.probe(self.pid)
        if value is not None:
            self.last, self.samples = value, self.samples + 1
            self.peak = max(self.peak, value)
        return value

    def _loop(self):
        try:
            while not self._done.is_set():
                if self.sample() is None and self.samples:
                    return
                self._done.wait(self.every)
        except BenchError as e:
            self._error = e

    def stop(self):
        self._done.set()
        self._thread.join()
        if self._error:
            raise self._error
        return self.peak


# --- system calls of an idle process -----------------------------------------------------------

_WAITS = ("select", "pselect6", "poll", "ppoll", "epoll_wait", "epoll_pwait", "nanosleep",
          "clock_nanosleep")


def idle_syscalls(pid, seconds, work):
    """strace -f of `pid` for `seconds`: {"syscalls", "wakeups", "calls": {name: n}}.

    A wake-up is a wait (select, poll, sleep) that returned; the one strace interrupts to
    attach, and the one still waiting at the end, are not counted."""
    if not shutil.which("strace"):
        raise BenchError("strace is not installed")
    out = os.path.join(work, "strace-%d.txt" % pid)
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", out, "-p", str(pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(seconds)
    p.terminate()
    p.wait(10)
    calls, wakeups = {}, 0
    with open(out) as f:
        lines = f.read().splitlines()
    for line in lines:
        body = line.split(None, 1)[1] if line[:1].isdigit() else line
        if " = " not in body or " = ?" in body or "ERESTART" in body:
            continue          # not finished (detached, unfinished), or to be restarted
        if body.startswith("<..."):
            name = body[4:].split()[0]                  # "<... select resumed>) = 1"
        else:
            name = body.split("(", 1)[0]
        if name == "restart_syscall":                  # "<... resuming interrupted select ...>"
            name = body.split("interrupted ", 1)[-1].split()[0]
        calls[name] = calls.get(name, 0) + 1
        if name in _WAITS:
            wakeups += 1
    return {"syscalls": sum(calls.values()), "wakeups": wakeups, "calls": calls, "seconds": seconds}
