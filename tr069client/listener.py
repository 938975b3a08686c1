"""The connection-request listener (TR-069 3.2.2): a non-blocking HTTP/1.1 server that lives
as file descriptors in the daemon's select loop and counts Digest-authenticated GETs; and the
address the ACS reaches it on.

A peer can never hold it: every accepted socket has a small input buffer and a deadline,
the number of open sockets is capped (the oldest is dropped), and a global rate limit
answers 503 beyond it. Nothing here blocks; the loop calls readable(), writable(),
handle(), next_deadline() and expire().
"""

import collections
import errno
import math
import re
import socket
import time

from . import auth, log, sockserver

REALM = "tr069client"
_NONCE_TTL = 60.0  # a nonce is fresh this long; then 401 with stale=true
_NONCES = 32  # bounded nonce table: the rate limit keeps fresh ones well below this
_WARN_EVERY = 60.0  # one warning of a kind per minute: a port scan must not flood the log
_ACCEPTS = 16  # accepts per handle() call, so a connect flood cannot starve the loop
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 431: "Request Header Fields Too Large",
            503: "Service Unavailable"}
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


def _bind(host, port, backlog):
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


def _path_of(target):
    """The path of an origin-form or absolute-form request target, query dropped."""
    if target.startswith(("http://", "https://")):
        slash = target.find("/", target.index("//") + 2)
        target = target[slash:] if slash >= 0 else "/"
    return target.split("?", 1)[0]


def _parse(head):
    """(method, target, version, headers) of a request head, or None if malformed."""
    lines = head.decode("latin-1").split("\n")
    parts = lines[0].rstrip("\r").split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1") or not parts[1]:
        return None
    headers = {}
    for line in lines[1:]:
        line = line.rstrip("\r")
        name, sep, value = line.partition(":")
        # RFC 7230 3.2.4: no whitespace before the colon, no obsolete line folding
        if not sep or not name or name != name.strip() or line[0] in " \t":
            return None
        headers.setdefault(name.lower(), value.strip())
    return parts[0], parts[1], parts[2], headers


class Listener(sockserver.Server):
    """Connection-request HTTP server; handle() returns how many valid requests arrived."""

    _RECV_SIZE = 4096
    _LINGER = True  # an HTTP answer before unread input must not be lost to a RST
    _WHO = "connection request listener"

    def __init__(self, address="0.0.0.0", port=7547, path=None, credentials=None,
                 clock=time.monotonic, max_clients=8, header_timeout=5.0, max_request=4096,
                 rate=(20, 60.0)):
        self.path = path or "/" + auth.new_nonce()[:20]
        if not self.path.startswith("/"):
            raise ValueError("connection request path must start with '/': %r" % self.path)
        self.address = address or "0.0.0.0"
        self._credentials = credentials or (lambda: ("", ""))
        self._max_request = max_request
        self._rate = rate
        self._hits = collections.deque(maxlen=max(1, rate[0])) if rate else None
        self._nonces = {}  # nonce -> [issued at, highest nc seen], oldest first
        self._warned = {}  # warning key -> [last logged at, suppressed since]
        self._events = 0
        sockserver.Server.__init__(self, _bind(self.address, port, 16), max_clients,
                                   header_timeout, clock, _ACCEPTS)
        self.port = self._sock.getsockname()[1]

    def url(self, host):
        """The ConnectionRequestURL for clients reaching this device as `host`."""
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host.replace("%", "%25")  # RFC 6874: a zone id's % is escaped
        return "http://%s:%d%s" % (host, self.port, self.path)

    def handle(self, readable, writable=(), now=None):
        """Serve what select() reported; the number of valid, authenticated requests."""
        now = self._clock() if now is None else now
        self._events = 0
        for sock in writable:
            c = self._clients.get(sock)
            if c is not None:
                self._flush(c, now)
        self._serve(readable, now)
        return self._events

    def _accept_error(self, exc, now):
        if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            return False  # e.g. ECONNABORTED: that peer is gone, try the next
        self._warn("accept", now, "connection request listener cannot accept: %s", exc.strerror)
        return True

    # -- HTTP --

    def _process(self, c, now):
        """Answer the complete requests in `c.inbuf`, one at a time (the next waits for `out`)."""
        while c.sock in self._clients and not c.out and not c.closing:
            start = 0
            while start < len(c.inbuf) and c.inbuf[start] in (10, 13):
                start += 1  # RFC 7230 3.5: ignore empty lines before a request line
            if start:
                del c.inbuf[:start]
            m = _HEAD_END.search(c.inbuf)
            if m is None or m.start() > self._max_request:
                if m is not None or len(c.inbuf) > self._max_request:
                    self._reply(c, 431, close=True)
                return
            head = bytes(c.inbuf[:m.start()])
            del c.inbuf[:m.end()]
            c.deadline = now + self._timeout  # keep-alive: a fresh deadline for the next one
            self._request(c, head, now)

    def _request(self, c, head, now):
        parsed = _parse(head)
        if parsed is None:
            return self._reply(c, 400, close=True)
        method, target, version, headers = parsed
        tokens = [t.strip().lower() for t in headers.get("connection", "").split(",")]
        keep = "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens
        if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
            return self._reply(c, 400, close=True)  # a connection request has no body
        if not auth.equal(_path_of(target), self.path):
            # Before the rate limit: a scan that misses the random path costs one small
            # answer and leaves the rate to the ACS.
            return self._reply(c, 404, close=True)
        wait = self._limited(now)
        if wait:
            self._warn("rate", now, "connection requests over the rate limit (%d per %g s): "
                       "answering 503", self._rate[0], self._rate[1])
            return self._reply(c, 503, [("Retry-After", str(wait))], close=True)
        if method != "GET":
            return self._reply(c, 405, [("Allow", "GET")], close=True)
        username, password = self._credentials()
        if not username or not password:
            # TR-069 3.2.2: never accept an unauthenticated connection request
            self._warn("unset", now, "connection request refused: "
                       "ConnectionRequestUsername/Password are not set")
            return self._challenge(c, keep, now)
        authorization = headers.get("authorization")
        if authorization is None:
            return self._challenge(c, keep, now)  # GenieACS's first try: no credentials
        fields = auth.verify(authorization, "GET", target, username, password, realm=REALM)
        if (fields is None or fields.get("qop") != "auth"
                or fields.get("algorithm", "MD5").upper() != "MD5"):
            log.debug("connection request from %s refused: wrong credentials or not Digest",
                      c.peer)
            return self._challenge(c, keep, now)
        entry = self._nonces.get(fields["nonce"])
        if entry is None or now - entry[0] > _NONCE_TTL:
            return self._challenge(c, keep, now, stale=True)  # right password, old nonce
        if fields["nc"] <= entry[1]:
            log.debug("connection request from %s refused: replayed nonce count", c.peer)
            return self._challenge(c, keep, now)
        entry[1] = fields["nc"]
        self._events += 1
        log.debug("connection request from %s accepted", c.peer)
        return self._reply(c, 200, close=not keep)

    def _challenge(self, c, keep, now, stale=False):
        nonce = auth.new_nonce()
        while self._nonces and (len(self._nonces) >= _NONCES
                                or now - next(iter(self._nonces.values()))[0] > _NONCE_TTL):
            del self._nonces[next(iter(self._nonces))]
        self._nonces[nonce] = [now, 0]
        self._reply(c, 401, [("WWW-Authenticate", auth.challenge(REALM, nonce, stale=stale))],
                    close=not keep)

    def _reply(self, c, status, headers=(), close=False):
        lines = ["HTTP/1.1 %d %s" % (status, _REASONS[status])]
        lines.extend("%s: %s" % h for h in headers)
        lines.append("Content-Length: 0")
        if close:
            lines.append("Connection: close")
        self._queue(c, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), close)

    def _limited(self, now):
        """0 if one more request fits the rate limit (and count it), else seconds to wait."""
        if self._hits is None:
            return 0
        count, window = self._rate
        if len(self._hits) >= count and now - self._hits[0] < window:
            return max(1, int(math.ceil(self._hits[0] + window - now)))
        self._hits.append(now)
        return 0

    def _warn(self, key, now, fmt, *args):
        state = self._warned.get(key)
        if state is not None and now - state[0] < _WARN_EVERY:
            state[1] += 1
            return
        if state is not None and state[1]:
            fmt += " (%d more since the last report)"
            args += (state[1],)
        self._warned[key] = [now, 0]
        log.warning(fmt, *args)


def resolve(url):
    """(family, address) of the ACS host of `url` for a UDP socket, or None."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        if not host:   # no ACS URL yet (waiting for DHCP), or one without a host
            return None
        try:
            host = host.encode("ascii")   # a str would load the idna codec (0.3 MB)
        except UnicodeEncodeError:
            pass
        info = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
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


def open_any(port, path, credentials):
    """A connection-request listener on IPv6 and IPv4 ("::", dual stack), or IPv4 alone
    where the kernel has no IPv6 (many router builds leave it out)."""
    try:
        return Listener("::", port, path, credentials=credentials)
    except OSError as e:
        if e.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT,
                           socket.EAI_FAMILY, getattr(socket, "EAI_ADDRFAMILY", None)):
            raise
    return Listener("0.0.0.0", port, path, credentials=credentials)
