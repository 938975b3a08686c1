"""HTTP(S) connections below the transport, and their failures as operator sentences: `ssl`
is loaded only when an https URL needs it, ASCII host names resolve without the idna codec."""

import errno
import os
import select
import socket
import sys
import time

if "ssl" in sys.modules or "http.client" in sys.modules:
    import http.client
else:
    # http.client imports ssl (+4 MB of OpenSSL) when it can; hide it so an http-only
    # device never loads it. tls_context() imports ssl on first use instead.
    sys.modules["ssl"] = None
    try:
        import http.client
    finally:
        del sys.modules["ssl"]

_CERT_HINTS = ("certif", "unknown ca", "eof", "handshake failure", "access denied")


class TransportError(Exception):
    """A failed exchange as one sentence for an operator; `kind` says what failed.

    kind: connect dns timeout tls auth http protocol too-large unsized stopped (the caller's
    wait ended it); `status`: the HTTP status behind an "auth" or "http" error.
    """

    def __init__(self, message, kind, status=None):
        Exception.__init__(self, message)
        self.message, self.kind, self.status = message, kind, status


class SlowExchange(socket.timeout):
    """An exchange outlived its deadline although no single read or write timed out."""


def _select(readable, writable, timeout):
    r, w, _ = select.select(readable, writable, [], timeout)
    return r, w


class _Deadline:
    # Every connect, read and write runs non-blocking: while the peer is not ready the socket
    # waits through `wait(readable, writable, timeout) -> (readable, writable)`, which may
    # serve the caller's own sockets meanwhile and return early. Each operation still waits
    # at most `op_timeout`, and together they end at `deadline` (monotonic): a peer dripping
    # one byte per timeout cannot hold the loop.
    deadline = None
    op_timeout = None   # the timeout of each read or write
    wait = None         # the caller's wait (None: select() on this socket alone)
    written = 0         # bytes sent, so a failed request is known never to have left
    _want = ()          # the SSL errors that mean "not ready yet" (for an SSLSocket)

    def _call(self, method, args, writing=False):
        start = time.monotonic()
        if self.deadline is not None and start >= self.deadline:
            raise SlowExchange("exchange deadline passed")
        if self.gettimeout() != 0:
            self.settimeout(0)
        while True:
            try:
                return method(*args)
            except BlockingIOError:
                pass
            except self._want as e:   # TLS may need to read while writing, and the reverse
                writing = isinstance(e, self._want[1])
            self._ready(writing, start)

    def _ready(self, writing, start):
        """Wait until the socket is ready, serving the caller through `wait` meanwhile."""
        while True:
            end = bound = None
            if self.op_timeout is not None:
                end = start + self.op_timeout
            if self.deadline is not None and (end is None or self.deadline < end):
                end, bound = self.deadline, True
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                if bound:
                    raise SlowExchange("exchange deadline passed")
                raise socket.timeout("timed out")
            mine = [self]
            r, w = (self.wait or _select)([] if writing else mine, mine if writing else [], left)
            if r or w:
                return

    def recv_into(self, *args):
        return self._call(super().recv_into, args)

    def send(self, data, flags=0):
        n = self._call(super().send, (data, flags), True)
        self.written += n
        return n

    def sendall(self, data, flags=0):
        # Looped here rather than in C, so `written` counts what left before a failure.
        rest = memoryview(data).cast("B")
        while rest:
            rest = rest[self.send(rest, flags):]

    def connect_to(self, address):
        """connect() without blocking the caller's wait."""
        start = time.monotonic()
        self.settimeout(0)
        err = self.connect_ex(address)
        if err in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            self._ready(True, start)
            err = self.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))   # ConnectionRefusedError for ECONNREFUSED


class _DeadlineSocket(_Deadline, socket.socket):
    pass


_deadline_ssl = []  # the SSLSocket subclass, made once ssl is loaded


class HTTPConnection(http.client.HTTPConnection):
    """http.client's connection, resolving an ASCII host name as bytes: getaddrinfo() of a
    str loads the idna codec and unicodedata (0.3 MB, and python3-codecs on OpenWrt).
    `deadline` and `wait` are handed to its socket (see _Deadline)."""

    deadline = None
    wait = None

    def __init__(self, *args, **kwargs):
        http.client.HTTPConnection.__init__(self, *args, **kwargs)
        self._create_connection = self._open   # http.client sets it per instance

    def _open(self, address, timeout=None, source_address=None):
        host, port = address
        error = None
        for family, kind, proto, _, addr in socket.getaddrinfo(ascii_host(host), port, 0, socket.SOCK_STREAM):
            sock = _DeadlineSocket(family, kind, proto)
            sock.op_timeout, sock.deadline, sock.wait = timeout, self.deadline, self.wait
            try:
                sock.connect_to(addr)
                return sock
            except SlowExchange:
                sock.close()
                raise
            except OSError as e:   # the next address, as socket.create_connection() does
                sock.close()
                error = e
        raise error or OSError("getaddrinfo returned no address")


def ascii_host(host):
    """An ASCII host name as bytes, which getaddrinfo() and ssl take without the idna codec
    (and unicodedata: 0.3 MB, python3-codecs on OpenWrt); an internationalised name as it is."""
    try:
        return host.encode("ascii")
    except UnicodeEncodeError:
        return host


class HTTPSConnection(HTTPConnection):
    """HTTPS without http.client's own class, which exists only if ssl was importable."""

    default_port = 443
    context = None  # set by the caller before connect()

    def connect(self):
        HTTPConnection.connect(self)
        plain = self.sock
        self.sock = self.context.wrap_socket(plain, server_hostname=ascii_host(self.host),
                                             do_handshake_on_connect=False)
        self.sock.op_timeout, self.sock.deadline, self.sock.wait = \
            plain.op_timeout, plain.deadline, plain.wait
        self.sock._call(self.sock.do_handshake, ())


def tls_context(ca_file, client_cert):
    """A verifying client context (the system's CAs or `ca_file`), with `client_cert`."""
    import ssl
    what = "CA file %s" % ca_file
    try:
        ctx = ssl.create_default_context(cafile=ca_file)  # verifies, checks the hostname
        what = "client certificate %s" % client_cert
        if client_cert:
            ctx.load_cert_chain(client_cert)  # one PEM holding certificate and key
    except (OSError, ValueError) as e:
        raise TransportError("cannot load the %s: %s" % (what, _reason(e)), "tls")
    if not _deadline_ssl:
        _deadline_ssl.append(type("_DeadlineSSLSocket", (_Deadline, ssl.SSLSocket), {
            "_want": (ssl.SSLWantReadError, ssl.SSLWantWriteError)}))
    ctx.sslsocket_class = _deadline_ssl[0]
    return ctx


def _reason(e):
    text = str(getattr(e, "verify_message", None) or getattr(e, "reason", None)
               or getattr(e, "strerror", None) or e or type(e).__name__)
    text = text.split(" (_ssl.c:")[0]
    return text.replace("_", " ").lower() if text.isupper() else text


def dropped(sock):
    """True if the peer closed (or wrote to) an idle kept-alive connection."""
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        sock.recv(1)  # b"" (closed) or stray bytes: unusable either way
        return True
    except BlockingIOError:
        return False
    except OSError as e:
        ssl = sys.modules.get("ssl")  # an SSL socket exists only once ssl is loaded
        return not (ssl and isinstance(e, (ssl.SSLWantReadError, ssl.SSLWantWriteError)))
    finally:
        sock.settimeout(timeout)


def describe(e, peer):
    """Turn a socket, TLS or HTTP exception into a TransportError sentence; re-raise any
    other exception. `peer` has what ("ACS", ...), url, host, port, timeout, limit (of a
    whole exchange), https, client_cert, and fresh (nothing was answered yet on its connection)."""
    what, url, host = peer.what, peer.url, peer.host
    hp = "%s:%d" % ("[%s]" % host if ":" in host else host, peer.port)
    ssl = sys.modules.get("ssl")
    if isinstance(e, TransportError):
        return e
    if isinstance(e, SlowExchange):
        return TransportError("%s answered too slowly: %s took over %g s (%s)" % (
            what, "one exchange" if what == "ACS" else "the transfer", peer.limit, url), "timeout")
    if isinstance(e, socket.timeout):
        return TransportError("%s did not answer within %g s (%s)"
                              % (what, peer.timeout, url), "timeout")
    if ssl and isinstance(e, ssl.SSLCertVerificationError):
        code = getattr(e, "verify_code", 0)
        if code == 62 or "mismatch" in str(e).lower():
            msg = "does not match its name"
        elif code in (18, 19, 20, 21):
            msg = "is not trusted (self-signed / unknown CA): " + _reason(e)
        elif code == 10:
            msg = "has expired"
        else:
            msg = "is not valid: " + _reason(e)
        return TransportError("TLS certificate of %s %s" % (host, msg), "tls")
    # TLS 1.3 checks our client certificate after our side of the handshake is over:
    # a refusal shows up as an alert, an EOF or a reset on the first exchange.
    first_tls = peer.https and peer.fresh and not isinstance(e, ConnectionRefusedError)
    is_ssl = ssl is not None and isinstance(e, ssl.SSLError)
    if is_ssl or (first_tls and isinstance(e, ConnectionError)):
        reason = _reason(e) if is_ssl else "the %s closed the connection" % what
        if first_tls and (not is_ssl or any(w in reason.lower() for w in _CERT_HINTS)):
            reason += ("; the %s may not accept our client certificate" if peer.client_cert
                       else "; the %s may require a client certificate") % what
        return TransportError("TLS handshake with %s failed: %s" % (host, reason), "tls")
    if isinstance(e, socket.gaierror):
        return TransportError("cannot resolve %s host %s" % (what, host), "dns")
    if isinstance(e, ConnectionRefusedError):
        return TransportError("%s unreachable: connection refused (%s)" % (what, hp), "connect")
    if isinstance(e, http.client.RemoteDisconnected):
        return TransportError("%s closed the connection without answering (%s)"
                              % (what, url), "connect")
    if isinstance(e, ConnectionError):
        return TransportError("connection to the %s was reset (%s)" % (what, hp), "connect")
    if isinstance(e, http.client.IncompleteRead):
        return TransportError("connection to the %s was lost in the middle of a response "
                              "(%s)" % (what, url), "connect")
    if isinstance(e, http.client.HTTPException):
        return TransportError("%s sent a malformed HTTP response (%s: %s)"
                              % (what, type(e).__name__, url), "protocol")
    if isinstance(e, OSError):
        return TransportError("%s unreachable: %s (%s)" % (what, _reason(e).lower(), hp),
                              "connect")
    raise e
