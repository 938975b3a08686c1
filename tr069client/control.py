"""The local control channel between the CLI and the running daemon: one JSON object per
line each way over a Unix stream socket; the server side is one fd in the daemon's select loop.

The server is a sockserver.Server, like the connection-request listener: bounded lines, a
deadline per client, a capped number of clients. request() is the CLI's blocking client.
"""

import json
import os
import socket
import stat
import time

from . import log, sockserver

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Optional, Sequence

MAX_LINE = 64 * 1024  # bytes of JSON in one line, each way
REPLY_TOO_LARGE = "reply too large"
_RECV = 16384


class ControlError(Exception):
    """The daemon could not be asked, or its answer made no sense."""


class NotRunning(ControlError):
    """No daemon listens on the control socket."""


class AlreadyRunning(ControlError):
    """Another daemon already answers on the control socket."""


def _encode(obj):
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8")


def _decode(line):
    """The JSON object in one line, or None if it is not one."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
        return None
    return obj if isinstance(obj, dict) else None


def _clear_stale(path):
    """Remove a socket file no daemon answers on; raise AlreadyRunning if one does."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ControlError("%s exists and is not a socket; not removing it" % path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        pass  # left behind by a daemon that died
    except socket.timeout:  # a listener with a full backlog is still a listener
        raise AlreadyRunning("another tr069client daemon is running (%s is busy)" % path)
    except OSError as exc:
        raise ControlError("cannot check the control socket %s: %s"
                           % (path, exc.strerror or exc))
    else:
        raise AlreadyRunning("another tr069client daemon is running (it answers on %s)" % path)
    finally:
        probe.close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Server(sockserver.Server):
    """The daemon's end: handler(request_dict) -> reply_dict for every line received.

    handle() retries every pending reply on each call, so its sockets in writable() only
    wake the loop early.
    """

    _RECV_SIZE = _RECV

    def __init__(self, path, handler, max_clients=4, timeout=5.0, clock=time.monotonic):
        self.path = path
        self._handler = handler
        self._done = 0
        _clear_stale(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # created 0600: only the daemon's user may command it
        try:
            sock.bind(path)
            os.chmod(path, 0o600)
            sock.listen(8)
        except OSError as exc:
            sock.close()
            raise ControlError("cannot create the control socket %s: %s"
                               % (path, exc.strerror or exc))
        finally:
            os.umask(old)
        sock.setblocking(False)
        sockserver.Server.__init__(self, sock, max_clients, timeout, clock)
        self._inode = os.stat(path).st_ino

    def handle(self, readable: "Sequence", now: "Optional[float]" = None) -> None:
        """Serve what select() reported and flush pending replies; the number of commands run."""
        now = self._clock() if now is None else now
        self._done = 0
        self._serve(readable, now)
        for c in [c for c in self._clients.values() if c.out]:
            self._flush(c, now)
        return self._done

    def close(self) -> None:
        """Close everything and remove the socket file if it is still ours."""
        was_open = self._sock is not None
        sockserver.Server.close(self)
        if not was_open:
            return
        try:
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)
        except OSError:
            pass

    def _accept_error(self, exc, now):
        log.warning("control socket cannot accept: %s", exc.strerror or exc)
        return True

    def _process(self, c, now):
        """Run the complete lines in `c.inbuf`, one at a time (the next waits for `out`)."""
        while c.sock in self._clients and not c.out and not c.closing:
            end = c.inbuf.find(b"\n")
            if end < 0 and len(c.inbuf) <= MAX_LINE:
                return
            if end < 0 or end > MAX_LINE:
                too_large = {"ok": False, "error": "request too large"}
                self._queue(c, _encode(too_large), close=True)
                return
            line = bytes(c.inbuf[:end])
            del c.inbuf[:end + 1]
            if not line.strip():
                continue
            request = _decode(line)
            if request is None:
                data = _encode({"ok": False, "error": "bad request"})
            else:
                data = self._call(request)
                self._done += 1
            c.deadline = now + self._timeout
            self._queue(c, data)

    def _call(self, request):
        """The encoded reply of the daemon's handler."""
        try:
            data = _encode(self._handler(request))
        except Exception as exc:  # one broken command must not stop the daemon: log it
            log.error("control command %r failed: %s: %s", request.get("cmd"),
                      type(exc).__name__, exc)
            return _encode({"ok": False, "error": "internal error"})
        if len(data) > MAX_LINE + 1:
            log.error("control command %r: reply too large (%d bytes)", request.get("cmd"),
                      len(data))
            return _encode({"ok": False, "error": REPLY_TOO_LARGE})
        return data


def request(path, request_dict, timeout=5.0):
    """Send one command to the running daemon and return its reply (the CLI's side)."""
    data = _encode(request_dict)
    if len(data) > MAX_LINE + 1:
        raise ControlError("request too large for the control socket")
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    buf = bytearray()
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            raise NotRunning("tr069client is not running (nothing answers on %s)" % path)
        except PermissionError:
            raise ControlError("no permission to use %s (run as the daemon's user)" % path)
        sock.sendall(data)
        while b"\n" not in buf:
            if len(buf) > MAX_LINE:
                raise ControlError("reply from the daemon too large")
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            sock.settimeout(left)
            chunk = sock.recv(_RECV)
            if not chunk:
                raise ControlError("the daemon closed the connection without a reply")
            buf += chunk
    except socket.timeout:
        raise ControlError("no reply from the daemon within %g s" % timeout)
    except OSError as exc:
        raise ControlError("lost the connection to the daemon: %s" % (exc.strerror or exc))
    finally:
        sock.close()
    line = bytes(buf[:buf.index(b"\n")])
    reply = _decode(line) if len(line) <= MAX_LINE else None
    if reply is None:
        raise ControlError("bad reply from the daemon: %r" % line[:80])
    return reply
