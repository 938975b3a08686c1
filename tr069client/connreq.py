"""Answering one connection request (TR-069 3.2.2), without I/O: a request head, its source
and the time in; the answer's status and bytes, and whether the connection ends, out.

It owns what decides the answer: Digest nonces that need no table (a timestamp, a counter
and a keyed MD5 over them), the nonce counts of the few nonces that were answered (replay
protection), the budget of authenticated requests, and a per-source budget of failed ones.
So an unauthenticated flood costs one small answer per request and can neither use up the
ACS's budget nor push its nonce out of a table before its answer arrives.
"""

import os
import re
import socket

from . import auth, log

REALM = "tr069client"
NONCE_TTL = 60.0  # a nonce is fresh this long; then 401 with stale=true
RATE = (60, 60.0)  # sessions connection requests may start: a burst of 60, then one a second
FAILURES = (10, 60.0)  # failed attempts per source: a burst of 10, then one each 6 s
_LIVE = 32  # answered nonces whose nonce count is kept; an older one is stale
_SOURCES = 64  # sources with failures remembered; the one that failed least recently goes
_WARN_EVERY = 60.0  # one warning of a kind per minute: a port scan must not flood the log
_HEAD_END = rb"\r?\n\r?\n"   # compiled by the first request (re keeps it), not at every start
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 431: "Request Header Fields Too Large",
            503: "Service Unavailable"}
TOO_LARGE = object()  # what find_head() says of a head over its limit


def reply(status, headers=(), close=False):
    """The bytes of an answer without a body."""
    lines = ["HTTP/1.1 %d %s" % (status, _REASONS[status])]
    lines.extend("%s: %s" % h for h in headers)
    lines.append("Content-Length: 0")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def find_head(buf, limit):
    """(head, bytes it takes) of the first request in `buf`, None while it is incomplete, or
    TOO_LARGE. Empty lines before it are taken too (RFC 7230 3.5)."""
    start = 0
    while start < len(buf) and buf[start] in (10, 13):
        start += 1
    m = re.compile(_HEAD_END).search(buf, start)
    if m is None:
        return TOO_LARGE if len(buf) - start > limit else None
    if m.start() - start > limit:
        return TOO_LARGE
    return bytes(buf[start:m.start()]), m.end()


def _path_of(target):
    """The path of an origin-form or absolute-form request target, query dropped."""
    if target.startswith(("http://", "https://")):
        slash = target.find("/", target.index("//") + 2)
        target = target[slash:] if slash >= 0 else "/"
    return target.split("?", 1)[0]


def request_path(head):
    """The path a request head asks for (its target without the query), or None if the head
    is malformed."""
    parsed = _parse(head)
    return None if parsed is None else _path_of(parsed[1])


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


def source_of(peer):
    """Whose failures a peer's count as: its IPv4 address, or its IPv6 /64 (one subscriber's
    prefix), so an attacker cannot dodge the budget by walking addresses of its prefix."""
    host = peer.split("%", 1)[0]
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    if ":" not in host:
        return host
    try:
        return socket.inet_pton(socket.AF_INET6, host)[:8]
    except (OSError, ValueError):
        return host


def _level(bucket, budget, now):
    """What a token bucket [tokens, at], refilled at budget (count, window), holds now."""
    count, window = budget
    return min(count, bucket[0] + max(0.0, now - bucket[1]) * count / window)


def _spend(bucket, budget, now):
    """Take one from a token bucket; False if it holds less than one (nothing is taken)."""
    tokens = _level(bucket, budget, now)
    bucket[:] = [tokens - 1 if tokens >= 1 else tokens, now]
    return tokens >= 1


class Gate:
    """The answers of one listener: answer() for each complete request head.

    `credentials()` (an attribute) gives (username, password) at each request; `rate`
    (count, window) is the budget of accepted requests that start a session, None for no
    limit; `failures` the budget of failed attempts per source; `live` how many answered
    nonces keep their count (more requests answered within NONCE_TTL make older nonces
    stale). A gate made with `path` None answers for many devices (fleet mode): its caller
    routes each request by request_path() and gives answer() that device's credentials.
    """

    def __init__(self, path, credentials=None, rate=RATE, failures=FAILURES, key=None,
                 live=_LIVE):
        self.path = path
        self.credentials = credentials
        self._rate = rate
        self._bucket = None  # [tokens, at], full at the first accepted request
        self._failures = failures
        self._sources = {}  # source -> [tokens, at], least recently failed first
        self._key = key if key is not None else os.urandom(16)
        self._issued = 0
        self._live = {}  # answered nonce -> [issued at, highest nonce count]
        self._max_live = live
        self._floor = None  # a nonce issued at or before this had its count forgotten
        self._warned = {}  # warning key -> [last logged at, suppressed since]

    def answer(self, peer, head, now, pending=False, credentials=None):
        """(status, answer bytes, close after it) for one request head (no terminator) from
        address `peer`; `pending`: a session for an earlier request is still to come, so an
        accepted one joins it and spends no budget (TR-069 3.2.2); `credentials`: the
        (username, password) of the device the request is for, instead of `credentials()`."""
        parsed = _parse(head)
        if parsed is None:
            return self._reply(400, close=True)
        method, target, version, headers = parsed
        tokens = [t.strip().lower() for t in headers.get("connection", "").split(",")]
        keep = "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens
        if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
            return self._reply(400, close=True)  # a connection request has no body
        if self.path is not None and not auth.equal(_path_of(target), self.path):
            return self._reply(404, close=True)
        if method != "GET":
            return self._reply(405, [("Allow", "GET")], close=True)
        username, password = credentials or self.credentials()
        if not username or not password:
            # TR-069 3.2.2: never accept an unauthenticated connection request
            self.warn("unset", now, "connection request refused: "
                      "ConnectionRequestUsername/Password are not set")
            return self._challenge(now, keep)
        authorization = headers.get("authorization")
        if authorization is None:
            return self._challenge(now, keep)  # GenieACS's first try: no credentials
        source = source_of(peer)
        held = self._sources.get(source)
        if held is not None and _level(held, self._failures, now) < 1:
            # Not even checked: a guesser learns nothing. TR-069 3.2.2: no Retry-After.
            self.warn("failures", now, "connection requests from %s refused: too many "
                      "failed attempts (answering 503)", peer)
            return self._reply(503, close=True)
        fields = auth.verify(authorization, "GET", target, username, password, realm=REALM)
        if (fields is None or fields.get("qop") != "auth"
                or fields.get("algorithm", "MD5").upper() != "MD5"):
            log.debug("connection request from %s refused: wrong credentials or not Digest",
                      peer)
            return self._failed(source, now, keep)
        nonce = fields["nonce"]
        issued = self._issued_at(nonce)
        if (issued is None or not 0 <= now - issued <= NONCE_TTL
                or (self._floor is not None and issued <= self._floor)):
            return self._challenge(now, keep, stale=True)  # right password, old nonce
        live = self._live.get(nonce)
        if live is not None and fields["nc"] <= live[1]:
            log.debug("connection request from %s refused: replayed nonce count", peer)
            return self._failed(source, now, keep)
        if not pending and self._rate is not None:
            if self._bucket is None:
                self._bucket = [self._rate[0], now]
            if not _spend(self._bucket, self._rate, now):
                # TR-069 3.2.2: 503, and no Retry-After
                self.warn("rate", now, "connection requests over the rate limit (%d per %g s):"
                          " answering 503", self._rate[0], self._rate[1])
                return self._reply(503, close=True)
        self._remember(nonce, issued, fields["nc"], now)
        log.debug("connection request from %s accepted", peer)
        return self._reply(200, close=not keep)

    def warn(self, key, now, fmt, *args):
        """Log a warning, at most once a minute per `key` (then with how many were held)."""
        state = self._warned.get(key)
        if state is not None and now - state[0] < _WARN_EVERY:
            state[1] += 1
            return
        if state is not None and state[1]:
            fmt += " (%d more since the last report)"
            args += (state[1],)
        self._warned[key] = [now, 0]
        log.warning(fmt, *args)

    # -- answers --

    def _reply(self, status, headers=(), close=False):
        return status, reply(status, headers, close), close

    def _challenge(self, now, keep, stale=False):
        stamp = "%012x%08x" % (int(now * 1000) & 0xFFFFFFFFFFFF, self._issued & 0xFFFFFFFF)
        self._issued += 1
        nonce = stamp + self._mac(stamp)
        return self._reply(401, [("WWW-Authenticate", auth.challenge(REALM, nonce, stale=stale))],
                           close=not keep)

    def _failed(self, source, now, keep):
        """Count a failed attempt against its source, then challenge again."""
        held = self._sources.pop(source, None)
        if held is None:
            held = [self._failures[0], now]
            while len(self._sources) >= _SOURCES:
                del self._sources[next(iter(self._sources))]
        _spend(held, self._failures, now)
        self._sources[source] = held  # now the most recent
        return self._challenge(now, keep)

    # -- nonces --

    def _mac(self, stamp):
        return auth.md5(self._key + stamp.encode("ascii")).hexdigest()[:16]

    def _issued_at(self, nonce):
        """When we issued `nonce` (our clock), or None if we did not."""
        if len(nonce) != 36 or not auth.equal(nonce[20:], self._mac(nonce[:20])):
            return None
        try:
            return int(nonce[:12], 16) / 1000.0
        except ValueError:
            return None

    def _remember(self, nonce, issued, nc, now):
        live = self._live.get(nonce)
        if live is not None:
            live[1] = nc
            return
        for old in [n for n, v in self._live.items() if now - v[0] > NONCE_TTL]:
            del self._live[old]  # stale anyway: no count needed to refuse them
        if len(self._live) >= self._max_live:
            oldest = min(self._live, key=lambda n: self._live[n][0])
            # Its count is forgotten, so it and every nonce issued before it are now stale.
            self._floor = max(self._floor or 0.0, self._live.pop(oldest)[0])
        self._live[nonce] = [issued, nc]
