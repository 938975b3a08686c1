"""HTTP(S) to the ACS and file servers: one kept-alive session, cookies, auth, redirects, TLS."""

import time
from urllib.parse import quote, urljoin, urlsplit

from . import __version__, auth, log
# `http` comes from .connection, which imports http.client without loading ssl.
from .connection import HTTPConnection, HTTPSConnection, SlowExchange, TransportError, describe, \
    dropped, http, tls_context
from .cookies import Cookies  # noqa: I100 - after .connection, which loads http.client

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Dict, List, Optional, Tuple, Union

    from . import soap

MAX_BODY = 16 * 1024 * 1024
CHUNK = 64 * 1024   # bytes read or sent at a time
_DRAIN = 1024 * 1024  # largest 401/redirect body read to keep the connection
_MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
USER_AGENT = "tr069client/" + __version__
# RFC 3986 characters a request target keeps as they are; the rest is percent-encoded.
_TARGET_SAFE = "/?#[]@!$&'()*+,;=:-._~%"


class Peer:
    """One HTTP(S) server over one kept-alive connection: auth, cookies, redirects, errors.

    Its rules for a response (answer a 401, follow a redirect, refuse what must be refused)
    are `begin()` and `follow()`, which a non-blocking client (fleet mode) drives too."""

    def __init__(self, url, username, password, ca_file, client_cert, timeout, user_agent,
                 what):
        self.what = what  # "ACS" or "file server": the subject of error sentences
        self.password = password
        self.timeout, self.user_agent = timeout, user_agent
        self.ca_file, self.client_cert, self._context = ca_file, client_cert, None
        self._conn = None
        self.limit = self.deadline = None  # seconds for a whole exchange, and when it ends
        self.wait = None  # the caller's wait while the server is not ready (connection._Deadline)
        self.message = "request"  # what is being sent, for error sentences
        self.fresh = False  # nothing was answered yet on the current connection
        self.username = username or ""
        self.auth = auth.Client(self.username, password)
        self.cookies = Cookies()
        self._set_url(url)
        self.begin()

    def _set_url(self, url):
        scheme, sep, rest = url.partition("://")
        end = min([i for i in map(rest.find, "/?#") if i >= 0] or [len(rest)])
        if sep and "@" in rest[:end]:  # never keep or show user:password@ (which may hold "@")
            url = scheme + sep + rest[:end].rpartition("@")[2] + rest[end:]
        if any(c <= " " or c == "\x7f" for c in url):
            raise TransportError("invalid URL %r (spaces or control characters)" % url, "protocol")
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
        # Non-ASCII characters in the path or query go out percent-encoded, as UTF-8.
        self.target = quote(self.path + ("?" + parts.query if parts.query else ""), _TARGET_SAFE)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self):
        if self._conn is None:
            if self.https:
                if self._context is None:
                    self._context = tls_context(self.ca_file, self.client_cert)
                self._conn = HTTPSConnection(self.host, self.port, timeout=self.timeout)
                self._conn.context = self._context
            else:
                self._conn = HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self._conn

    def request(self, method, body, headers):
        """Send, answer 401s and follow redirects; the final response, its body unread.

        `body` is None or a callable(conn) that ends the headers and sends the body; it is
        called again for each retry.
        """
        self.begin()
        while True:
            resp = self._send(method, body, headers)
            location = resp.getheader("Location")
            if interim(resp.status, location):
                self.drain(resp)
            if not self.follow(resp.status, location, resp.headers.get_all("WWW-Authenticate") or [],
                               resp.headers.get_all("Set-Cookie") or ()):
                return resp

    def begin(self):
        """A new request starts: its 401 rounds and redirects are counted afresh."""
        self._redirects, self._answered, self._stale_left = 0, False, 1

    def follow(self, status, location, challenges, cookies):
        """Take a response to the request begun last (its Location, WWW-Authenticate and
        Set-Cookie values): True when the request must go again, a 401 answered or a redirect
        followed (`url` may have changed, and then the connection is closed); False when
        this response is the answer. TransportError when it can go no further."""
        self.cookies.store(self.host, self.path, cookies)
        if status == 401:
            self._answer(challenges, self._answered, self._stale_left)
            self._stale_left -= self._answered
            self._answered = True
            return True
        if not (status in _REDIRECTS and location):
            return False
        self._redirects += 1
        if self._redirects > _MAX_REDIRECTS:
            raise TransportError("too many redirects (more than %d) from %s"
                                 % (_MAX_REDIRECTS, self.url), "http", status)
        old, old_url = (self.https, self.host, self.port), self.url
        self._set_url(urljoin(self.url, location.strip()))
        log.debug("%s redirects to %s", self.what, self.url)
        if old[0] and not self.https:
            # Credentials and secure cookies would stay behind, but not the body: an
            # Inform (with the connection-request URL) or a file would go out in clear.
            raise TransportError("%s redirected %s to plain %s; refused, as the %s would "
                                 "go unencrypted" % (self.what, old_url, self.url, "session"
                                                     if self.what == "ACS" else "transfer"),
                                 "protocol", status)
        if (self.https, self.host, self.port) != old:
            self.close()
            self._redirected(old)
        self._answered = False
        return True

    def _redirected(self, old):
        """Credentials after a redirect to another server: to a file server only on the same
        host (the ACS was given them for itself, a file server's redirect may lead anywhere)."""
        keep = self.what == "ACS" or self.host == old[1]
        if not keep:
            log.info("%s redirected from %s to %s: credentials not sent there", self.what, old[1], self.host)
        self.username = self.username if keep else ""
        self.auth = auth.Client(self.username, self.password if keep else "")

    def _answer(self, challenges, answered, stale_left):
        def fail(text):
            text = text.replace("{what}", self.what).replace("{url}", self.url)
            raise TransportError(text, "auth", 401)
        if not self.username:
            fail("{what} requires credentials (HTTP 401) at {url} but no username is configured")
        if answered and not challenges:
            # GenieACS answers wrong Digest credentials with a bare 401.
            fail("{what} refused the credentials (HTTP 401) at {url}")
        if not self.auth.answer(challenges):
            offered = sorted(set(s for s, _ in auth.parse_challenges(challenges)))
            fail("{what} asks for an authentication tr069client does not support (HTTP 401, %s)"
                 " at {url}" % ("offered: " + ", ".join(offered) if offered else "no challenge"))
        # A Digest answer refused with stale=true only had an old nonce: answer once more.
        if answered and not (self.auth.stale and stale_left > 0):
            fail("{what} refused the credentials (HTTP 401) at {url}")

    def drain(self, resp):
        """Read a small unwanted body so the connection can serve the next request."""
        if (resp.length or 0) > _DRAIN or (resp.read(_DRAIN) and not resp.isclosed()):
            self.close()

    def _send(self, method, body, headers):
        # A kept-alive connection the server closed while idle is reopened once, but only
        # while no byte of the request has left: a CWMP message the ACS may have read (and
        # acted on) before closing is never sent twice.
        for attempt in (0, 1):
            conn = self._connection()
            conn.deadline, conn.wait = self.deadline, self.wait
            reused = conn.sock is not None
            if reused and dropped(conn.sock):
                log.debug("%s closed the idle connection; reconnecting", self.what)
                conn.close()
                reused = False
            sock = None
            try:
                if conn.sock is None:
                    self.fresh = False
                    conn.connect()
                    self.fresh = True
                sock = conn.sock
                sock.deadline, sock.wait, sock.written = self.deadline, self.wait, 0
                conn.putrequest(method, self.target, skip_accept_encoding=True)
                extra = [("User-Agent", self.user_agent),
                         ("Cookie", self.cookies.header(self.host, self.path, self.https)),
                         ("Authorization", self.auth.header(method, self.target))]
                for name, value in list(headers) + extra:
                    if value is not None:
                        conn.putheader(name, header_value(value))
                if body is None:
                    conn.endheaders()
                else:
                    body(conn)
                resp = conn.getresponse()
                self.fresh = False
                return resp
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                self.close()
                if not reused or sock is None:
                    raise
                if attempt == 0 and not sock.written:
                    log.debug("%s closed the kept-alive connection before our %s left; sending it "
                              "on a new one", self.what, self.message)
                    continue
                raise TransportError("%s closed the connection without answering, once our %s had "
                                     "gone out; not sent again, as the %s may have acted on it (%s)"
                                     % (self.what, self.message, self.what, self.url), "connect")

    def error(self, e):
        """Turn a socket, TLS or HTTP exception into a TransportError sentence."""
        return describe(e, self)


def interim(status, location):
    """Whether a response is one the client acts on (a 401 to answer, a redirect to follow)
    rather than the answer: its body is not what was asked for."""
    return status == 401 or (status in _REDIRECTS and bool(location))


def header_value(value):
    """`value` as http.client sends it: latin-1 text as is, anything beyond as UTF-8 bytes
    (a Digest user name such as "用户"), never an encoding error."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")
    return value


def stream_body(resp, limit, sink, too_large, size=CHUNK):
    """Feed the body to `sink` as it arrives, one read (at most `size` bytes) at a time, so a
    slow server still lets the caller serve others; TransportError(too_large) past `limit`."""
    if limit is not None and (resp.length or 0) > limit:
        raise TransportError(too_large, "too-large")
    total = 0
    while True:
        piece = resp.read1(size)
        if not piece:
            # read1() ends quietly at EOF even short of Content-Length; what is
            # missing is left in resp.length.
            if resp.length:
                raise http.client.IncompleteRead(b"", resp.length)
            resp.close()  # unlike read(), read1() leaves a whole body's response open
            return total
        total += len(piece)
        if limit is not None and total > limit:
            raise TransportError(too_large, "too-large")
        sink(piece)


class AcsClient:
    """The HTTP side of one CWMP session: every POST on one kept-alive connection."""

    def __init__(self, url, username="", password="", ca_file=None, client_cert=None,
                 timeout=30, user_agent=USER_AGENT, exchange_limit=None, session_limit=None,
                 wait=None):
        """`timeout` bounds each read or write; `exchange_limit` (4 x timeout, at least
        120 s) a whole POST with its answer, its 401 rounds and redirects; `session_limit`
        (if given) all POSTs together, from now. `wait(readable, writable, timeout)`, if
        given, waits for the ACS's socket instead of select() (the daemon serves its own
        sockets there) and returns which of those given are ready; it may return early."""
        self._peer = Peer(url, username, password, ca_file, client_cert, timeout,
                           user_agent, "ACS")
        self._peer.limit = exchange_limit or max(4 * timeout, 120)
        self._peer.wait = wait
        self._limit, self._posts = session_limit, 0
        self._end = time.monotonic() + session_limit if session_limit else None

    @property
    def url(self) -> str:
        """The URL in use, after redirects (without any user:password@)."""
        return self._peer.url

    def post(self, body: "Union[bytes, List[bytes]]", soap_action: "Optional[str]" = "",
             name: str = "request", reader: "Optional[soap.Reader]" = None
             ) -> "Tuple[int, Dict[str, str], bytes]":
        """POST a SOAP body (bytes or list of bytes); soap_action None sends the empty POST.
        `name` says what it is ("Inform", ...) in error sentences.

        Returns (status, headers as a dict with lower-case names, body bytes). With `reader`
        (a soap.Reader), the body goes to `reader.feed()` as it arrives, and b"" is returned;
        past `reader.limit` bytes (by Content-Length, or as they arrive) the exchange fails
        with `reader.too_large`. Then, or if feed() raises, the connection is closed, the
        rest of the body unread. A list `body` is emptied once the ACS's answer to it
        begins, so a large message of ours is not held while the next one is read.
        """
        peer, parts = self._peer, []
        if soap_action is None:
            if body:
                raise ValueError("the empty POST has no body")
            headers, send = [("Content-Length", "0")], None
        else:
            one = isinstance(body, (bytes, bytearray, memoryview))
            chunks = [body] if one else body if isinstance(body, list) else list(body)
            length = sum(len(c) for c in chunks)
            headers = [("Content-Type", 'text/xml; charset="utf-8"'),
                       ("SOAPAction", soap_action), ("Content-Length", str(length))]

            def send(conn):
                if len(chunks) == 1 and length <= CHUNK:
                    conn.endheaders(bytes(chunks[0]))  # headers and body in one segment
                    return
                conn.endheaders()
                for chunk in chunks:
                    conn.send(chunk)
        peer.deadline, peer.message = time.monotonic() + peer.limit, name
        bounded = self._end is not None and self._end <= peer.deadline
        if bounded:
            peer.deadline = self._end
        try:
            if bounded and time.monotonic() >= self._end:
                raise SlowExchange("session deadline passed")
            self._posts += 1
            resp = peer.request("POST", send, headers)
            if send is not None:
                del chunks[:]   # the answer has begun: ours will not go again
            if reader is None:
                stream_body(resp, MAX_BODY, lambda piece: parts.append(bytes(piece)),
                            "ACS response larger than %d MiB (%s)" % (MAX_BODY >> 20, peer.url))
            else:
                # 16 KiB at a time: each piece is copied on its way to the parser (scanner, expat).
                stream_body(resp, reader.limit, reader.feed, "%s (%s)" % (reader.too_large, peer.url), 16384)
        except Exception as e:
            peer.close()
            if bounded and isinstance(e, SlowExchange):
                raise TransportError("session with the ACS took over %g s (%d message%s sent); ended"
                                     % (self._limit, self._posts, "" if self._posts == 1 else "s"),
                                     "timeout") from None
            raise peer.error(e) from None
        return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), b"".join(parts)

    def close(self) -> None:
        """Close the connection and forget cookies and authentication state."""
        self._peer.close()
        self._peer.cookies.jar.clear()
        self._peer.auth.reset()

    def __enter__(self) -> "AcsClient":
        return self

    def __exit__(self, *exc):
        self.close()
