"""A non-blocking HTTP/1.1 client for the fleet's loop: one server over one kept-alive
connection (a CWMP session, a download), with the daemon's own cookies, Basic/Digest answers,
redirect rules and error sentences (transport.Peer holds that state and its rules), TLS by
SSLSocket in non-blocking mode, and a timeout per read or write plus a deadline per exchange."""

import errno
import os
import socket
import sys

from .. import __version__
from ..connection import SlowExchange, TransportError, ascii_host, describe, dropped, http, tls_context
# The daemon's HTTP policy, shared rather than copied: Peer keeps URL, cookies, auth.Client
# and the rules for 401s and redirects (begin(), follow()).
from ..transport import MAX_BODY, Peer, header_value, interim
from .loop import READ, WRITE
from .response import ProtocolError, ResponseParser, TooLarge, Truncated

USER_AGENT = "tr069client-fleet/" + __version__
_RECV = 65536
_IDLE, _CONNECTING, _HANDSHAKE, _SENDING, _RECEIVING = range(5)
_addresses = {}    # (host, port) -> getaddrinfo(): the fleet resolves each server once
_contexts = {}     # (ca_file, client_cert) -> one TLS context for every device


class _Unsized(ProtocolError):
    """A 2xx body that only the closing of the connection would end, where that is refused."""


class _Refused(ProtocolError):
    """on_body() raised: its exception ends the exchange (args[0])."""


def resolve(host, port):
    """getaddrinfo() of (host, port), cached: blocking, but once per server for the whole fleet."""
    key = (host, port)
    if key not in _addresses:
        _addresses[key] = socket.getaddrinfo(ascii_host(host), port, 0, socket.SOCK_STREAM)
    return _addresses[key]


def _tls(ca_file, client_cert):
    key = (ca_file, client_cert)
    if key not in _contexts:
        _contexts[key] = tls_context(ca_file, client_cert)
    return _contexts[key]


class Client:
    """request() sends one request (answering 401s and following redirects) and later calls
    `done` with (status, {lower-case header: value}, body bytes) or a TransportError.
    A bad URL raises TransportError at once, as transport.AcsClient does. A body over
    `max_body` fails with `too_large` (a sentence) if given."""

    def __init__(self, loop, url, username="", password="", what="ACS", timeout=30, limit=120,
                 ca_file=None, client_cert=None, max_body=MAX_BODY, user_agent=USER_AGENT,
                 too_large=None):
        self.loop = loop
        self.too_large = too_large
        self.peer = Peer(url, username, password, ca_file, client_cert, timeout, user_agent, what)
        self.peer.limit = limit
        self.max_body = max_body
        self.sock = None
        self.state = _IDLE
        self.connects = 0          # TCP connections opened (keep-alive shows as 1 per session)
        self._done = self._timer = self.parser = None
        self._out = memoryview(b"")
        self._addrs = []
        self._progress = 0.0

    @property
    def url(self):
        return self.peer.url

    # --- one request --------------------------------------------------------------------

    def request(self, method, body, headers, done, on_body=None, require_length=False):
        """Send `body` (bytes) with `headers`; `on_body(piece)` takes the final response's body
        as it arrives instead of keeping it (an exception it raises ends the exchange: `done`
        gets that exception, the connection closed, the rest unread); `require_length`
        refuses a 2xx body only a close would end."""
        self._method, self._body, self._headers = method, bytes(body or b""), list(headers)
        self._done, self._on_body, self._require_length = done, on_body, require_length
        self._kept = []
        self.peer.begin()
        self.peer.deadline = self.loop.clock() + self.peer.limit
        self._send_request(0)

    def _send_request(self, attempt):
        peer = self.peer
        self._attempt = attempt
        if self.sock is not None and (self.state != _IDLE or dropped(self.sock)):
            self._close_sock()
        self._reused = self.sock is not None
        self._written = 0
        extra = [("User-Agent", peer.user_agent),
                 ("Cookie", peer.cookies.header(peer.host, peer.path, peer.https)),
                 ("Authorization", peer.auth.header(self._method, peer.target))]
        host = "[%s]" % peer.host if ":" in peer.host else peer.host
        if peer.port != (443 if peer.https else 80):
            host += ":%d" % peer.port
        lines = [("%s %s HTTP/1.1" % (self._method, peer.target)).encode("latin-1"),
                 b"Host: " + host.encode("ascii", "replace")]
        for name, value in self._headers + extra:
            if value is not None:
                value = header_value(value)
                lines.append(name.encode("ascii") + b": " +
                             (value if isinstance(value, bytes) else value.encode("latin-1")))
        self._out = memoryview(b"\r\n".join(lines) + b"\r\n\r\n" + self._body)
        self.parser = ResponseParser(self._method, max_body=self.max_body, on_body=self._piece)
        self._arm(self.loop.clock())
        if self.sock is None:
            self._connect()
        else:
            self.state = _SENDING
            self._send()

    def _piece(self, piece):
        p = self.parser
        if interim(p.status, p.header("location")):
            return   # a body nobody reads
        if self._on_body is None:
            self._kept.append(piece)
            return
        try:
            self._on_body(piece)
        except Exception as e:  # noqa: B902 - the caller's refusal, handed back to it
            raise _Refused(e)

    def _on_response(self):
        p, peer = self.parser, self.peer
        peer.fresh = False
        if p.will_close or p.leftover:
            self._close_sock()
        else:
            self.state = _IDLE
            self.loop.unwatch(self.sock)
        old = (peer.https, peer.host, peer.port)
        try:
            again = peer.follow(p.status, p.header("location"), p.header_list("www-authenticate"),
                                p.header_list("set-cookie"))
        except TransportError as e:
            return self._finish(e)
        if again:
            if (peer.https, peer.host, peer.port) != old:
                self._close_sock()
            return self._send_request(0)
        self._finish((p.status, dict(p.headers), b"".join(self._kept)))

    def _finish(self, result):
        self.loop.cancel(self._timer)
        self._timer = None
        done, self._done = self._done, None
        self._kept = []
        if done is not None:
            # Always from the loop, never from inside request(): callers need not be reentrant.
            self.loop.call_soon(lambda: done(result))

    def _fail(self, e):
        """The exchange failed with `e`: send it again on a new connection when a kept-alive
        one turned out closed before a byte of it left (never a message the server may have
        read, as transport.Peer does), else report a sentence."""
        self._close_sock()
        if isinstance(e, _Refused):
            return self._finish(e.args[0])
        idle_close = isinstance(e, ConnectionError) or (isinstance(e, Truncated) and not self.parser.started)
        if self._reused and idle_close and self._attempt == 0 and not self._written:
            return self._send_request(1)
        self._finish(self._sentence(e))

    def _sentence(self, e):
        peer = self.peer
        if isinstance(e, TransportError):
            return e
        if isinstance(e, TooLarge) and self.too_large:
            return TransportError("%s (%s)" % (self.too_large, peer.url), "too-large")
        if isinstance(e, TooLarge):
            return TransportError("%s response larger than %d MiB (%s)" % (
                peer.what, self.max_body >> 20, peer.url) if peer.what == "ACS" else
                "file at %s is larger than the %s bytes allowed" % (peer.url, self.max_body), "too-large")
        if isinstance(e, Truncated):
            e = http.client.IncompleteRead(b"") if self.parser.started else \
                http.client.RemoteDisconnected("closed")
        elif isinstance(e, ProtocolError):
            if isinstance(e, _Unsized):
                return TransportError("file server sent %s with neither a length nor chunked encoding: "
                                      "a download cut short could not be told from a whole one"
                                      % peer.url, "unsized")
            return TransportError("%s sent a malformed HTTP response (%s: %s)" % (peer.what, e, peer.url),
                                  "protocol")
        return describe(e, peer)

    # --- timeouts -----------------------------------------------------------------------

    def _arm(self, now):
        self._progress = now
        if self._timer is None:
            self._timer = self.loop.call_at(min(now + self.peer.timeout, self.peer.deadline), self._check)

    def _check(self):
        self._timer = None
        now = self.loop.clock()
        if now >= self.peer.deadline:
            return self._fail(SlowExchange("exchange deadline passed"))
        if now - self._progress >= self.peer.timeout:
            return self._fail(socket.timeout("timed out"))
        self._timer = self.loop.call_at(min(self._progress + self.peer.timeout, self.peer.deadline),
                                        self._check)

    # --- the socket -----------------------------------------------------------------------

    def _connect(self, error=None):
        if not self._addrs:
            try:
                self._addrs = list(resolve(self.peer.host, self.peer.port)) if error is None else []
            except OSError as e:
                return self._fail(e)
        if not self._addrs:
            return self._fail(error)
        family, _, proto, _, addr = self._addrs.pop(0)
        try:
            sock = socket.socket(family, socket.SOCK_STREAM, proto)
        except OSError as e:
            return self._fail(e)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex(addr)
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EINTR):
            sock.close()
            return self._connect(OSError(err, os.strerror(err)))
        self.sock, self.state, self.peer.fresh = sock, _CONNECTING, False
        self.connects += 1
        self.loop.watch(sock, WRITE, self._ready)

    def _ready(self, mask):
        self._progress = self.loop.clock()
        if self.state == _CONNECTING:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._close_sock()
                return self._connect(OSError(err, os.strerror(err)))
            self._addrs = []
            self.peer.fresh = True
            if self.peer.https:
                try:
                    ctx = _tls(self.peer.ca_file, self.peer.client_cert)
                    self.loop.unwatch(self.sock)
                    self.sock = ctx.wrap_socket(self.sock, server_hostname=self.peer.host,
                                                do_handshake_on_connect=False)
                except (OSError, TransportError) as e:
                    return self._fail(e)
                self.state = _HANDSHAKE
            else:
                self.state = _SENDING
        if self.state == _HANDSHAKE:
            return self._handshake()
        if self.state == _SENDING:
            return self._send()
        if self.state == _RECEIVING:
            return self._recv()

    def _handshake(self):
        ssl = sys.modules["ssl"]
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            return self.loop.watch(self.sock, READ, self._ready)
        except ssl.SSLWantWriteError:
            return self.loop.watch(self.sock, WRITE, self._ready)
        except OSError as e:   # ssl.SSLError is an OSError
            return self._fail(e)
        self.state = _SENDING
        self._send()

    def _wait_for(self, e):
        """The mask a non-blocking would-block exception asks for, or None for a real error."""
        if isinstance(e, (BlockingIOError, InterruptedError)):
            return WRITE if self.state == _SENDING else READ
        ssl = sys.modules.get("ssl")
        if ssl is not None and isinstance(e, ssl.SSLWantReadError):
            return READ
        if ssl is not None and isinstance(e, ssl.SSLWantWriteError):
            return WRITE
        return None

    def _send(self):
        while self._out:
            try:
                n = self.sock.send(self._out)
            except OSError as e:
                mask = self._wait_for(e)
                if mask is None:
                    return self._fail(e)
                return self.loop.watch(self.sock, mask, self._ready)
            self._out = self._out[n:]
            self._written += n
        self.state = _RECEIVING
        self.loop.watch(self.sock, READ, self._ready)

    def _recv(self):
        while True:
            try:
                data = self.sock.recv(_RECV)
            except OSError as e:
                mask = self._wait_for(e)
                if mask is None:
                    return self._fail(e)
                return self.loop.watch(self.sock, mask, self._ready)
            p = self.parser
            try:
                complete = p.eof() if not data else p.feed(data)
                if self._require_length and p.framing == "close" and 200 <= p.status < 300:
                    raise _Unsized("no length")
            except ProtocolError as e:
                return self._fail(e)
            if complete:
                return self._on_response()
            # TLS keeps decrypted bytes that select() cannot see; plain sockets wait for it.
            pending = getattr(self.sock, "pending", None)
            if pending is None or not pending():
                return

    def _close_sock(self):
        if self.sock is not None:
            self.loop.unwatch(self.sock)
            self.sock.close()
            self.sock = None
        self.state = _IDLE

    def close(self):
        """Close the connection and forget cookies and authentication, as a session ends."""
        self._close_sock()
        self.loop.cancel(self._timer)
        # The parser calls back into us: without it, a finished client is freed at once,
        # not at the next full garbage collection (rare with 10,000 devices alive).
        self._timer = self._done = self.parser = None
        self.peer.cookies.jar.clear()
        self.peer.auth.reset()
