"""Platform commands (reboot, factory reset, firmware, configuration and log files): each an
argument list from the config, run without a shell, with a timeout."""

import os
import signal
import time

from . import config, log

# How long a stopped command gets between SIGTERM and SIGKILL.
_GRACE = 5.0
_TAIL = 2048


class CommandError(Exception):
    """A platform command could not run or failed; the message is one sentence."""


def command(cfg, name):
    """The argument list configured for the command `name`, or None when it is unset."""
    value = config.get(cfg, name)
    return list(value) if value else None


def timeout(cfg, name):
    """Seconds the command `name` may run: firmware-timeout for firmware-command, else
    hook-timeout."""
    return config.get(cfg, "firmware-timeout" if name == "firmware-command" else "hook-timeout")


def run(name, argv, args=(), timeout=600, env=None, service=None, poll=0.25, started=None):
    """Run `argv` + `args` and wait for it; CommandError with a sentence if it fails.

    `args` (file paths and the like) are appended as separate items and never pass through a
    shell; `env` adds variables; `service()` is called every `poll` seconds while it runs so
    the daemon keeps answering; `started(process group id)` is called once it runs. Returns
    the last line the command printed."""
    import subprocess
    import tempfile
    full = list(argv) + [str(a) for a in args]
    environ = dict(os.environ)
    environ.update(env or {})
    log.info("running %s: %s", name, " ".join(full))
    with tempfile.TemporaryFile() as out:
        try:
            # A session of its own: it survives our death (a firmware flash must not stop
            # half-way because the daemon was killed), and a timeout stops all of it.
            proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=environ, close_fds=True,
                                    start_new_session=True)
        except OSError as e:
            raise CommandError("%s could not start %s: %s" % (name, full[0], e.strerror or e))
        except ValueError as e:  # e.g. a NUL byte in an argument
            raise CommandError("%s could not start %s: %s" % (name, full[0], e))
        if started is not None:
            started(proc.pid)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                code = proc.wait(timeout=max(0.0, min(left, poll) if service else left))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    _stop(proc)
                    raise CommandError("%s did not finish within %d s and was stopped%s"
                                    % (name, timeout, _said(out)))
                if service is not None:
                    service()
        said = _said(out)
    if code != 0:
        how = "exit status %d" % code if code > 0 else "killed by signal %d" % -code
        raise CommandError("%s failed (%s)%s" % (name, how, said))
    return said[2:]


def alive(pgid):
    """True while the process group `pgid` (a command this or an earlier daemon started) exists."""
    if not pgid:
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True   # it exists, but is not ours to signal
    return True


def _stop(proc):
    import subprocess
    for sig, wait in ((signal.SIGTERM, _GRACE), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except OSError:
            pass
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _said(out):
    """': <last line of output>' for an error sentence, or ''."""
    try:
        size = out.seek(0, os.SEEK_END)
        out.seek(max(0, size - _TAIL))
        text = out.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    last = "".join(ch if ch.isprintable() else "?" for ch in lines[-1])
    return ": " + (last if len(last) <= 200 else last[:197] + "...")
