"""The daemon's logger: levels, stderr or syslog; smaller than `logging`. What it writes never
holds a password: SOAP is logged through redact.py, URLs through shown_url()."""

import os
import sys
import time

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR}
_NAMES = {DEBUG: "debug", INFO: "info", WARNING: "warning", ERROR: "error"}

_level = INFO
_syslog = None
_stream = sys.stderr
# Where the C library's syslog() writes (glibc and musl alike); without it, every line is lost.
DEV_LOG = "/dev/log"

def shown_url(url):
    """`url` with the password of a user:password@ part masked: for status, logs and faults."""
    scheme, sep, rest = url.partition("://")
    end = min([i for i in map(rest.find, "/?#") if i >= 0] or [len(rest)])
    userinfo, at, host = rest[:end].rpartition("@")   # a password may hold "@"
    if not (sep and at and ":" in userinfo):
        return url
    return "%s://%s:%s@%s%s" % (scheme, userinfo.split(":", 1)[0], "*" * 8, host, rest[end:])



def configure(level="info", use_syslog=False, stream=None):
    """Set the threshold and the destination (stderr, a stream, or syslog; stderr, and a
    line saying so, when no syslog daemon listens)."""
    global _level, _syslog, _stream
    _level = LEVELS[level] if isinstance(level, str) else level
    if stream is not None:
        _stream = stream
    _syslog = None
    if use_syslog and not os.path.exists(DEV_LOG):
        warning("syslog is configured but %s is missing (no syslog daemon running?); "
                "logging to stderr instead", DEV_LOG)
    elif use_syslog:
        import syslog
        syslog.openlog("tr069client", syslog.LOG_PID, syslog.LOG_DAEMON)
        _syslog = syslog


def enabled(level):
    return level >= _level


def _emit(level, fmt, args):
    if level < _level:
        return
    msg = fmt % args if args else fmt
    if _syslog is not None:
        prio = {DEBUG: _syslog.LOG_DEBUG, INFO: _syslog.LOG_INFO,
                WARNING: _syslog.LOG_WARNING, ERROR: _syslog.LOG_ERR}[level]
        for line in msg.splitlines() or [""]:
            _syslog.syslog(prio, line)
        return
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    try:
        _stream.write("%s %s %s\n" % (stamp, _NAMES[level], msg))
        _stream.flush()
    except (OSError, ValueError):
        pass  # a closed stderr must not stop the daemon


def debug(fmt, *args):
    _emit(DEBUG, fmt, args)


def info(fmt, *args):
    _emit(INFO, fmt, args)


def warning(fmt, *args):
    _emit(WARNING, fmt, args)


def error(fmt, *args):
    _emit(ERROR, fmt, args)
