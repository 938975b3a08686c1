"""HTTP(S) connections below the transport, and their failures as operator sentences: `ssl`
is loaded only when an https URL needs it, ASCII host names resolve without the idna codec."""

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

    kind: connect dns timeout tls auth http protocol too-large unsized; `status`: the HTTP status
    behind an "auth" or "http" error.
    """

    def __init__(self, message, kind, status=None):
        Exception.__init__(self, message)
        self.message, self.kind, self.status = message, kind, status


class SlowExchange(socket.timeout):
    """An exchange outlived its deadline although no single read or write timed out."""


class _Deadline(object):
    # Each read or write still waits at most the timeout, and together they end at
    # `deadline` (monotonic): a peer dripping one byte per timeout cannot hold the loop.
    deadline = None
    op_timeout = None   # the timeout of each read or write

    def _call(self, method, args, kwargs):
        bound = False  # the deadline, not the timeout, limits this call
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise SlowExchange("exchange deadline passed")
            bound = self.op_timeout is None or left < self.op_timeout
            self.settimeout(left if bound else self.op_timeout)
        try:
            return method(*args, **kwargs)
        except socket.timeout:
            if bound:
                raise SlowExchange("exchange deadline passed") from None
            raise

    def recv_into(self, *args, **kwargs):
        return self._call(super(_Deadline, self).recv_into, args, kwargs)

    def send(self, *args, **kwargs):  # SSLSocket.sendall() loops over send()
        return self._call(super(_Deadline, self).send, args, kwargs)

    def sendall(self, *args, **kwargs):
        return self._call(super(_Deadline, self).sendall, args, kwargs)


class _DeadlineSocket(_Deadline, socket.socket):
    pass


_deadline_ssl = []  # the SSLSocket subclass, made once ssl is loaded


class HTTPConnection(http.client.HTTPConnection):
    """http.client's connection, resolving an ASCII host name as bytes: getaddrinfo() of a
    str loads the idna codec and unicodedata (0.3 MB, and python3-codecs on OpenWrt)."""

    def __init__(self, *args, **kwargs):
        http.client.HTTPConnection.__init__(self, *args, **kwargs)
        self._create_connection = _connect_ascii   # http.client sets it per instance


def _connect_ascii(address, *args):
    host, port = address
    try:
        host = host.encode("ascii")
    except UnicodeEncodeError:
        pass  # an internationalised name does need the idna codec
    plain = socket.create_connection((host, port), *args)
    timeout = plain.gettimeout()
    sock = _DeadlineSocket(plain.family, plain.type, plain.proto, plain.detach())
    sock.settimeout(timeout)
    sock.op_timeout = timeout
    return sock


def set_deadline(sock, deadline):
    """Make every later read and write on `sock` (from connect()) end by `deadline`."""
    sock.deadline = deadline


class HTTPSConnection(HTTPConnection):
    """HTTPS without http.client's own class, which exists only if ssl was importable."""

    default_port = 443
    context = None  # set by the caller before connect()

    def connect(self):
        HTTPConnection.connect(self)
        op_timeout = self.sock.op_timeout
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)
        self.sock.op_timeout = op_timeout


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
        _deadline_ssl.append(type("_DeadlineSSLSocket", (_Deadline, ssl.SSLSocket), {}))
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
