"""The connection-request listener (TR-069 3.2.2): a non-blocking HTTP/1.1 server that lives
as file descriptors in the daemon's select loop and counts Digest-authenticated GETs; and the
address the ACS reaches it on.

A peer can never hold it: every accepted socket has a small input buffer and a deadline,
and the number of open sockets is capped (sockserver says which is dropped). What each
request is answered is connreq's decision. Nothing here blocks; the loop calls readable(),
writable(), handle(), next_deadline() and expire().
"""

import errno
import os
import socket
import time

from . import auth, sockserver
from .config import CR_PORT

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Optional, Sequence

    from .store import Store

_ACCEPTS = 64  # accepts per handle() call, so a connect flood cannot starve the loop
# Pending connections the kernel holds for us: room for an attacker's hundreds of sockets
# and the ACS's behind them (the kernel caps it at net.core.somaxconn).
_BACKLOG = 1024
_EXPECT = 1.0  # seconds a client that got a challenge is kept before others for its answer
_WHY = {errno.EADDRINUSE: "address in use",
        errno.EADDRNOTAVAIL: "address not available on this host",
        errno.EACCES: "permission denied"}

_Client = sockserver.Client  # one accepted socket (tests build one as _accept would)


def _show(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def _listen_error(host, port, exc):
    why = _WHY.get(exc.errno) or exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror):
        why = "not a usable address (%s)" % (exc.strerror or exc)
    err = OSError("cannot listen on %s: %s" % (_show(host, port), why))
    err.errno = exc.errno
    return err


def bind(host: str, port: int, backlog: int) -> "socket.socket":
    """A non-blocking socket listening on `host` ("::": IPv6 and IPv4) and `port`; OSError
    with a sentence saying why not."""
    try:
        # As bytes: getaddrinfo() of a str loads the idna codec (0.3 MB) even for "::".
        infos = socket.getaddrinfo(host.encode("ascii", "replace"), port, socket.AF_UNSPEC,
                                   socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
        family, _, _, _, sockaddr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise _listen_error(host, port, exc)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and sockaddr[0] == "::":
            try:  # dual stack, so "::" also takes IPv4 (mapped) connections
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            except (OSError, AttributeError):
                pass  # IPv6 only on this system
        sock.bind(sockaddr)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise _listen_error(host, port, exc)
    return sock


class Listener(sockserver.Server):
    """Connection-request HTTP server; handle() returns how many valid requests arrived.

    The answers are connreq.Gate's; this class only moves bytes. Set `pending` before
    handle() while a session asked for by an earlier request is still to come. connreq.py
    is loaded by the first client (or `status`): a device no ACS calls never needs it.
    """

    _RECV_SIZE = 4096
    _LINGER = True  # an HTTP answer before unread input must not be lost to a RST
    _WHO = "connection request listener"

    def __init__(self, address="0.0.0.0", port=CR_PORT, path=None, credentials=None,
                 clock=time.monotonic, max_clients=64, header_timeout=5.0, max_request=4096,
                 rate=None, failures=None):
        self.path = path or "/" + auth.new_nonce()[:20]
        if not self.path.startswith("/"):
            raise ValueError("connection request path must start with '/': %r" % self.path)
        self.address = address or "0.0.0.0"
        self.pending = False
        self._gate_args = (self.path, credentials or (lambda: ("", "")), rate, failures)
        self._made_gate = None
        self._max_request = max_request
        self._events = 0
        sockserver.Server.__init__(self, bind(self.address, port, _BACKLOG), max_clients,
                                   header_timeout, clock, _ACCEPTS)
        self.port = self._sock.getsockname()[1]

    @property
    def _gate(self):
        if self._made_gate is None:
            from . import connreq
            path, credentials, rate, failures = self._gate_args
            self._made_gate = connreq.Gate(path, credentials, rate or connreq.RATE, failures or connreq.FAILURES)
        return self._made_gate

    def url(self, host: str, path: "Optional[str]" = None) -> str:
        """The ConnectionRequestURL for clients reaching this device as `host` (at `path`, by
        default this listener's)."""
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host.replace("%", "%25")  # RFC 6874: a zone id's % is escaped
        return "http://%s:%d%s" % (host, self.port, self.path if path is None else path)

    def where(self) -> str:
        """The address and port listened on, as an operator reads them."""
        return _show(self.address, self.port)

    def describe(self) -> str:
        """A sentence for `status`: where requests are taken, and whether all are refused."""
        if all(self._gate.credentials()):
            return "listening on " + self.where()
        return "listening on %s; refusing all: ConnectionRequestUsername/Password are not set" \
            % self.where()

    def handle(self, readable: "Sequence", writable: "Sequence" = (), now: "Optional[float]" = None) -> bool:
        """Serve what select() reported; the number of valid, authenticated requests."""
        now = self._clock() if now is None else now
        self._events = 0
        for sock in writable:
            c = self._clients.get(sock)
            if c is not None:
                self._flush(c, now)
        self._serve(readable, now)
        return self._events

    def _source_of(self, peer):
        from .connreq import source_of
        return source_of(peer)

    def _accept_error(self, exc, now):
        if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            return False  # e.g. ECONNABORTED: that peer is gone, try the next
        self._gate.warn("accept", now, "connection request listener cannot accept: %s",
                        exc.strerror)
        return True

    def _process(self, c, now):
        """Answer the complete requests in `c.inbuf`, one at a time (the next waits for `out`)."""
        from . import connreq
        while c.sock in self._clients and not c.out and not c.closing:
            found = connreq.find_head(c.inbuf, self._max_request)
            if found is None:
                return
            if found is connreq.TOO_LARGE:
                self._queue(c, connreq.reply(431, close=True), close=True)
                return
            head, size = found
            del c.inbuf[:size]
            c.deadline = now + self._timeout  # keep-alive: a fresh deadline for the next one
            answer = self._answer(c, head, now)
            if answer is None:
                self._drop(c)
                return
            status, data, close = answer
            # GenieACS answers a challenge on the same connection, at once: keep it.
            c.expect = now + _EXPECT if status == 401 and not close else None
            self._queue(c, data, close)

    def _answer(self, c, head, now):
        """(status, answer bytes, close after it) for one request head of client `c`, or None
        to drop the connection unanswered: the hook where fleet mode's server routes each
        request to a device (fleet/crserver.py)."""
        status, data, close = self._gate.answer(c.peer, head, now, self.pending)
        if status == 200:
            self._events += 1
            self.pending = True  # the next one joins the session this one asks for
        return status, data, close


def resolve(url):
    """(family, address) of the ACS host of `url` for a UDP socket, or None."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        if not host:   # no ACS URL yet (waiting for DHCP), or one without a host
            return None
        from .connection import ascii_host   # loaded by every process that resolves an ACS
        info = socket.getaddrinfo(ascii_host(host), port, 0, socket.SOCK_DGRAM)[0]
        return info[0], info[4]
    except (OSError, ValueError, TypeError, IndexError):
        return None


def local_address(peer):
    """The address this host uses to reach `peer` (a UDP connect sends nothing)."""
    try:
        s = socket.socket(peer[0], socket.SOCK_DGRAM)
        try:
            s.connect(peer[1])
            return s.getsockname()[0]
        finally:
            s.close()
    except OSError:
        return None


def cr_path(store: "Store") -> str:
    """The random path of ConnectionRequestURL: made once, kept in the state (this module
    owns its key "cr_path") so that the URL the ACS knows stays the same across restarts."""
    if "cr_path" not in store.state:
        store.state["cr_path"] = "/" + os.urandom(10).hex()
        store.dirty = True
    return store.state["cr_path"]


def keep_path(store: "Store", path: str) -> None:
    """Keep `path`, the path of a listener that stays open while the state is reset."""
    store.state["cr_path"] = path
    store.dirty = True


def open_any(port, path, credentials):
    """A connection-request listener on IPv6 and IPv4 ("::", dual stack), or IPv4 alone
    where the kernel has no IPv6 (many router builds leave it out)."""
    return dual_stack(lambda address: Listener(address, port, path, credentials=credentials))


def dual_stack(make):
    """make("::"), or make("0.0.0.0") where the kernel has no IPv6."""
    try:
        return make("::")
    except OSError as e:
        if e.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT,
                           socket.EAI_FAMILY, getattr(socket, "EAI_ADDRFAMILY", None)):
            raise
    return make("0.0.0.0")
