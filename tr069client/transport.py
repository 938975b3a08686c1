"""HTTP(S) to the ACS and file servers: one kept-alive session, cookies, auth, redirects, TLS."""

import socket
import sys
import time

if "ssl" in sys.modules or "http.client" in sys.modules:
    import http.client
else:
    # http.client imports ssl (+4 MB of OpenSSL) when it can; hide it so an http-only
    # device never loads it. _HTTPSConnection imports ssl on first use instead.
    sys.modules["ssl"] = None
    try:
        import http.client
    finally:
        del sys.modules["ssl"]
import email.utils  # already loaded by http.client
from urllib.parse import urljoin, urlsplit

from . import __version__, auth, log

MAX_BODY = 16 * 1024 * 1024
_CHUNK = 64 * 1024
_DRAIN = 1024 * 1024  # largest 401/redirect body read to keep the connection
_MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_CERT_HINTS = ("certif", "unknown ca", "eof", "handshake failure", "access denied")
_USER_AGENT = "tr069client/" + __version__


class TransportError(Exception):
    """A failed exchange as one sentence for an operator; `kind` says what failed.

    kind: connect dns timeout tls auth http protocol too-large; `status`: the HTTP status
    behind an "auth" or "http" error.
    """

    def __init__(self, message, kind, status=None):
        Exception.__init__(self, message)
        self.message, self.kind, self.status = message, kind, status


class _HTTPConnection(http.client.HTTPConnection):
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
    return socket.create_connection((host, port), *args)


class _HTTPSConnection(_HTTPConnection):
    """HTTPS without http.client's own class, which exists only if ssl was importable."""

    default_port = 443
    context = None  # set by the caller before connect()

    def connect(self):
        _HTTPConnection.connect(self)
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)


def _tls_context(ca_file, client_cert):
    import ssl
    what = "CA file %s" % ca_file
    try:
        ctx = ssl.create_default_context(cafile=ca_file)  # verifies, checks the hostname
        what = "client certificate %s" % client_cert
        if client_cert:
            ctx.load_cert_chain(client_cert)  # one PEM holding certificate and key
    except (OSError, ValueError) as e:
        raise TransportError("cannot load the %s: %s" % (what, _reason(e)), "tls")
    return ctx


def _reason(e):
    text = str(getattr(e, "verify_message", None) or getattr(e, "reason", None)
               or getattr(e, "strerror", None) or e or type(e).__name__)
    text = text.split(" (_ssl.c:")[0]
    return text.replace("_", " ").lower() if text.isupper() else text


def _dropped(sock):
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


class _Cookies(object):
    """One session's cookies (RFC 6265 subset: Path, Max-Age, Expires, Secure; no Domain)."""

    def __init__(self):
        self.jar = {}  # (host, path, name) -> (value, secure)

    def store(self, host, req_path, lines):
        for line in lines:
            parts = line.split(";")
            name, eq, value = parts[0].partition("=")
            if not eq or not name.strip() or "\r" in line or "\n" in line:
                continue  # a folded header value could not be sent back as one line
            attrs = dict((k.strip().lower(), v.strip())
                         for k, _, v in (a.partition("=") for a in parts[1:]))
            path = attrs.get("path", "")
            if not path.startswith("/"):  # RFC 6265 5.1.4 default-path
                path = req_path[:req_path.rfind("/")] if req_path.count("/") > 1 else "/"
            key = (host, path, name.strip())
            expires = email.utils.parsedate_tz(attrs.get("expires", ""))
            max_age = attrs.get("max-age", "")
            if (max_age.lstrip("-").isdigit() and int(max_age) <= 0) or (
                    not max_age and expires and email.utils.mktime_tz(expires) <= time.time()):
                self.jar.pop(key, None)
            else:
                self.jar[key] = (value.strip(), "secure" in attrs)

    def header(self, host, path, https):
        found = sorted((-len(cpath), name, value)
                       for (h, cpath, name), (value, secure) in self.jar.items()
                       if h == host and (https or not secure) and (path == cpath or (
                           path.startswith(cpath) and
                           (cpath.endswith("/") or path[len(cpath)] == "/"))))
        return "; ".join("%s=%s" % (n, v) for _, n, v in found) or None


class _Peer(object):
    """One HTTP(S) server over one kept-alive connection: auth, cookies, redirects, errors."""

    def __init__(self, url, username, password, ca_file, client_cert, timeout, user_agent,
                 what):
        self.what = what  # "ACS" or "file server": the subject of error sentences
        self.timeout, self.user_agent = timeout, user_agent
        self._tls, self._context = (ca_file, client_cert), None
        self._conn, self._fresh = None, False
        self.username = username or ""
        self.auth = auth.Client(self.username, password)
        self.cookies = _Cookies()
        self._set_url(url)

    def _set_url(self, url):
        scheme, sep, rest = url.partition("://")
        if sep and "@" in rest.split("/", 1)[0]:  # never keep or show user:password@
            url = scheme + sep + rest.split("@", 1)[1]
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise TransportError("invalid URL %s" % url, "protocol")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError("unsupported URL %s (only http and https)" % url, "protocol")
        self.url, self.https, self.host = url, parts.scheme == "https", parts.hostname
        self.port = port or (443 if self.https else 80)
        self.path = parts.path or "/"
        self.target = self.path + ("?" + parts.query if parts.query else "")

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self):
        if self._conn is None:
            if self.https:
                if self._context is None:
                    self._context = _tls_context(*self._tls)
                self._conn = _HTTPSConnection(self.host, self.port, timeout=self.timeout)
                self._conn.context = self._context
            else:
                self._conn = _HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def request(self, method, body, headers):
        """Send, answer 401s and follow redirects; the final response, its body unread.

        `body` is None or a callable(conn) that ends the headers and sends the body; it is
        called again for each retry.
        """
        redirects, answered, stale_left = 0, False, 1
        while True:
            resp = self._send(method, body, headers)
            self.cookies.store(self.host, self.path, resp.headers.get_all("Set-Cookie") or ())
            location = resp.getheader("Location")
            if resp.status == 401:
                self._drain(resp)
                self._answer(resp.headers.get_all("WWW-Authenticate") or [], answered,
                             stale_left)
                stale_left -= answered
                answered = True
            elif resp.status in _REDIRECTS and location:
                self._drain(resp)
                redirects += 1
                if redirects > _MAX_REDIRECTS:
                    raise TransportError("too many redirects (more than %d) from %s"
                                         % (_MAX_REDIRECTS, self.url), "http", resp.status)
                old = (self.https, self.host, self.port)
                self._set_url(urljoin(self.url, location.strip()))
                log.debug("%s redirects to %s", self.what, self.url)
                if (self.https, self.host, self.port) != old:
                    self.close()
                    self.auth.reset()  # another server issues its own challenge
                answered = False
            else:
                return resp

    def _answer(self, challenges, answered, stale_left):
        def fail(text):
            text = text.replace("{what}", self.what).replace("{url}", self.url)
            raise TransportError(text, "auth", 401)
        if not self.username:
            fail("{what} requires credentials (HTTP 401) at {url} but no username is configured")
        if not self.auth.answer(challenges):
            offered = sorted(set(s for s, _ in auth.parse_challenges(challenges)))
            fail("{what} asks for an authentication tr069client does not support (HTTP 401, %s)"
                 " at {url}" % ("offered: " + ", ".join(offered) if offered else "no challenge"))
        # A Digest answer refused with stale=true only had an old nonce: answer once more.
        if answered and not (self.auth.stale and stale_left > 0):
            fail("{what} refused the credentials (HTTP 401) at {url}")

    def _drain(self, resp):
        """Read a small unwanted body so the connection can serve the next request."""
        if (resp.length or 0) > _DRAIN or (resp.read(_DRAIN) and not resp.isclosed()):
            self.close()

    def _send(self, method, body, headers):
        # A kept-alive connection the server closed while idle is reopened once; a
        # request is never sent again once any byte of a response came back.
        for attempt in (0, 1):
            conn = self._connection()
            reused = conn.sock is not None
            if reused and _dropped(conn.sock):
                log.debug("%s closed the idle connection; reconnecting", self.what)
                conn.close()
                reused = False
            sent = False
            try:
                if conn.sock is None:
                    self._fresh = False
                    conn.connect()
                    self._fresh = True  # nothing answered on this connection yet
                conn.putrequest(method, self.target, skip_accept_encoding=True)
                extra = [("User-Agent", self.user_agent),
                         ("Cookie", self.cookies.header(self.host, self.path, self.https)),
                         ("Authorization", self.auth.header(method, self.target))]
                for name, value in list(headers) + extra:
                    if value is not None:
                        conn.putheader(name, value)
                if body is None:
                    conn.endheaders()
                else:
                    body(conn)
                sent = True
                resp = conn.getresponse()
                self._fresh = False
                return resp
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
                self.close()
                idle_close = not sent or isinstance(e, http.client.RemoteDisconnected)
                if not (reused and idle_close and attempt == 0):
                    raise

    def error(self, e):
        """Turn a socket, TLS or HTTP exception into a TransportError sentence."""
        what, url, host = self.what, self.url, self.host
        hp = "%s:%d" % ("[%s]" % host if ":" in host else host, self.port)
        ssl = sys.modules.get("ssl")
        if isinstance(e, TransportError):
            return e
        if isinstance(e, socket.timeout):
            return TransportError("%s did not answer within %g s (%s)"
                                  % (what, self.timeout, url), "timeout")
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
        first_tls = self.https and self._fresh and not isinstance(e, ConnectionRefusedError)
        is_ssl = ssl is not None and isinstance(e, ssl.SSLError)
        if is_ssl or (first_tls and isinstance(e, ConnectionError)):
            reason = _reason(e) if is_ssl else "the %s closed the connection" % what
            if first_tls and (not is_ssl or any(w in reason.lower() for w in _CERT_HINTS)):
                reason += ("; the %s may not accept our client certificate" if self._tls[1]
                           else "; the %s may require a client certificate") % what
            return TransportError("TLS handshake with %s failed: %s" % (host, reason), "tls")
        if isinstance(e, socket.gaierror):
            return TransportError("cannot resolve %s host %s" % (what, host), "dns")
        if isinstance(e, ConnectionRefusedError):
            return TransportError("%s unreachable: connection refused (%s)" % (what, hp),
                                  "connect")
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


def _stream(resp, limit, sink, too_large):
    """Feed the body to `sink` in 64 KiB pieces; TransportError(too_large) past `limit`."""
    if limit is not None and (resp.length or 0) > limit:
        raise TransportError(too_large, "too-large")
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = resp.readinto(buf)
        if not n:
            # readinto() ends quietly at EOF even short of Content-Length; what is
            # missing is left in resp.length.
            if resp.length:
                raise http.client.IncompleteRead(b"", resp.length)
            return total
        total += n
        if limit is not None and total > limit:
            raise TransportError(too_large, "too-large")
        sink(view[:n])


class Session(object):
    """The HTTP side of one CWMP session: every POST on one kept-alive connection."""

    def __init__(self, url, username="", password="", ca_file=None, client_cert=None,
                 timeout=30, user_agent=_USER_AGENT):
        self._peer = _Peer(url, username, password, ca_file, client_cert, timeout,
                           user_agent, "ACS")

    @property
    def url(self):
        """The URL in use, after redirects (without any user:password@)."""
        return self._peer.url

    def post(self, body, soap_action=""):
        """POST a SOAP body (bytes or list of bytes); soap_action None sends the empty POST.

        Returns (status, headers as a dict with lower-case names, body bytes).
        """
        peer, parts = self._peer, []
        if soap_action is None:
            if body:
                raise ValueError("the empty POST has no body")
            headers, send = [("Content-Length", "0")], None
        else:
            one = isinstance(body, (bytes, bytearray, memoryview))
            chunks = [body] if one else list(body)
            length = sum(len(c) for c in chunks)
            headers = [("Content-Type", 'text/xml; charset="utf-8"'),
                       ("SOAPAction", soap_action), ("Content-Length", str(length))]

            def send(conn):
                if len(chunks) == 1 and length <= _CHUNK:
                    conn.endheaders(bytes(chunks[0]))  # headers and body in one segment
                    return
                conn.endheaders()
                for chunk in chunks:
                    conn.send(chunk)
        try:
            resp = peer.request("POST", send, headers)
            _stream(resp, MAX_BODY, lambda piece: parts.append(bytes(piece)),
                    "ACS response larger than %d MiB (%s)" % (MAX_BODY >> 20, peer.url))
        except Exception as e:
            peer.close()
            raise peer.error(e) from None
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), b"".join(parts)

    def close(self):
        """Close the connection and forget cookies and authentication state."""
        self._peer.close()
        self._peer.cookies.jar.clear()
        self._peer.auth.reset()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _LocalFileError(Exception):
    """Carries an OSError of the caller's file past the network error mapping."""


def _transfer(url, username, password, ca_file, timeout, method, send, headers, finish):
    peer = _Peer(url, username, password, ca_file, None, timeout, _USER_AGENT, "file server")
    try:
        return finish(peer, peer.request(method, send, headers))
    except _LocalFileError as e:
        raise e.args[0]
    except Exception as e:
        raise peer.error(e) from None
    finally:
        peer.close()


def download(url, fileobj, username="", password="", ca_file=None, timeout=30,
             max_size=None, on_chunk=None):
    """GET `url` into `fileobj` in 64 KiB chunks, never all in memory; bytes written.

    Errors of `fileobj` itself (disk full) propagate as they are, not as TransportError.
    `on_chunk(nbytes)`, if given, runs after each chunk is written (the daemon serves
    connection requests there during a long download).
    """
    def sink(piece):
        try:
            fileobj.write(piece)
        except OSError as e:
            raise _LocalFileError(e)
        if on_chunk is not None:
            on_chunk(len(piece))

    def finish(peer, resp):
        if not 200 <= resp.status < 300:
            raise TransportError("file server answered HTTP %d %s for %s"
                                 % (resp.status, resp.reason, peer.url), "http", resp.status)
        return _stream(resp, max_size, sink, "file at %s is larger than the %s bytes allowed"
                       % (peer.url, max_size))
    return _transfer(url, username, password, ca_file, timeout, "GET", None, [], finish)


def upload(url, fileobj, size, username="", password="", ca_file=None, timeout=30,
           method="PUT"):
    """Send `size` bytes of seekable `fileobj` from its position, streamed; the HTTP status.

    The body is sent again from the same position after a 401 or a redirect.
    """
    start = fileobj.tell()

    def send(conn):
        conn.endheaders()
        fileobj.seek(start)
        left = size
        while left > 0:
            try:
                chunk = fileobj.read(min(_CHUNK, left))
            except OSError as e:
                raise _LocalFileError(e)
            if not chunk:
                raise _LocalFileError(EOFError("the file to upload ended %d bytes early" % left))
            conn.send(chunk)
            left -= len(chunk)

    def finish(peer, resp):
        peer._drain(resp)
        return resp.status
    headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
    return _transfer(url, username, password, ca_file, timeout, method, send, headers, finish)
