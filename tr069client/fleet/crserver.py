"""The fleet's connection-request server (TR-069 3.2.2): one listening socket for every device,
the request path naming the device and Digest checked with that device's credentials; its
sockets live in the fleet's loop.

Request framing, answers, accept errors and rate-limited warnings are the daemon listener's own
methods (listener.Listener: handle, _process, _reply, _accept_error, _warn), borrowed as they
are; only routing and the nonce table, which here serve many devices, are this module's.
"""

import collections
import functools

from .. import auth, listener, sockserver
from .loop import READ, WRITE

REALM = listener.REALM
_NONCE_TTL = 60.0
_NONCES = 16384       # outstanding challenges: an ACS may wake thousands of devices at once


class CrServer(sockserver.Server):
    """`route(path)` gives (device, username, password), False for a device that is down
    (it gets no answer), or None (404); `accepted(device)` runs for each valid request."""

    _RECV_SIZE = 4096
    _LINGER = True
    _WHO = None
    handle = listener.Listener.handle
    _process = listener.Listener._process
    _reply = listener.Listener._reply
    _accept_error = listener.Listener._accept_error
    _warn = listener.Listener._warn

    def __init__(self, loop, address, port, route, accepted, max_clients=1024, timeout=5.0):
        self.loop = loop
        self._route, self._accepted = route, accepted
        self._max_request = 4096
        self._nonces = collections.OrderedDict()   # nonce -> [issued, highest nc, path]
        self._warned = {}
        self._events = 0
        self._watched = {}
        self._expiry = None
        self.refused = 0          # requests with wrong credentials or a replayed nonce
        sockserver.Server.__init__(self, listener._bind(address, port, 1024), max_clients, timeout,
                                   loop.clock, 64)
        self.port = self._sock.getsockname()[1]
        self.sync()

    def url(self, host, path):
        if ":" in host and not host.startswith("["):
            host = "[%s]" % host
        return "http://%s:%d%s" % (host, self.port, path)

    # --- in the loop ------------------------------------------------------------------------

    def sync(self):
        """Watch exactly the sockets the server wants read or written, and its next deadline."""
        want = dict.fromkeys(self.readable(), READ)
        for s in self.writable():
            want[s] = want.get(s, 0) | WRITE
        for s in [s for s in self._watched if s not in want]:
            self._unwatch(s)
        for s, mask in want.items():
            if self._watched.get(s) != mask:
                self.loop.watch(s, mask, functools.partial(self._event, s))
                self._watched[s] = mask
        self.loop.cancel(self._expiry)
        deadline = self.next_deadline()
        self._expiry = None if deadline is None else self.loop.call_at(deadline, self._expire)

    def _unwatch(self, sock):
        if self._watched.pop(sock, None) is not None:
            self.loop.unwatch(sock)

    def _event(self, sock, mask):
        self.handle([sock] if mask & READ else [], [sock] if mask & WRITE else [], self.loop.clock())
        self.sync()

    def _expire(self):
        self._expiry = None
        self.expire(self.loop.clock())
        self.sync()

    def _drop(self, c):
        # Out of the selector before the descriptor is closed: its number is soon reused.
        self._unwatch(c.sock)
        sockserver.Server._drop(self, c)

    def close(self):
        for s in list(self._watched):
            self._unwatch(s)
        self.loop.cancel(self._expiry)
        sockserver.Server.close(self)

    # --- one request --------------------------------------------------------------------

    def _request(self, c, head, now):
        parsed = listener._parse(head)
        if parsed is None:
            return self._reply(c, 400, close=True)
        method, target, version, headers = parsed
        tokens = [t.strip().lower() for t in headers.get("connection", "").split(",")]
        keep = "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens
        if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
            return self._reply(c, 400, close=True)
        path = listener._path_of(target)
        found = self._route(path)
        if found is None:
            return self._reply(c, 404, close=True)
        if found is False:
            return self._drop(c)       # rebooting: nobody answers
        if method != "GET":
            return self._reply(c, 405, [("Allow", "GET")], close=True)
        device, username, password = found
        authorization = headers.get("authorization")
        if authorization is None or not username or not password:
            # TR-069 3.2.2: never accept an unauthenticated connection request
            return self._challenge(c, keep, now, path)
        fields = auth.verify(authorization, "GET", target, username, password, realm=REALM)
        if fields is None or fields.get("qop") != "auth" or fields.get("algorithm", "MD5").upper() != "MD5":
            self.refused += 1
            return self._challenge(c, keep, now, path)
        entry = self._nonces.get(fields["nonce"])
        if entry is None or now - entry[0] > _NONCE_TTL:
            return self._challenge(c, keep, now, path, stale=True)   # right password, old nonce
        if entry[2] != path or fields["nc"] <= entry[1]:
            self.refused += 1            # another device's nonce, or a replay
            return self._challenge(c, keep, now, path)
        entry[1] = fields["nc"]
        self._events += 1
        self._accepted(device)
        return self._reply(c, 200, close=not keep)

    def _challenge(self, c, keep, now, path, stale=False):
        nonce = auth.new_nonce()
        while self._nonces and (len(self._nonces) >= _NONCES
                                or now - next(iter(self._nonces.values()))[0] > _NONCE_TTL):
            self._nonces.popitem(last=False)
        self._nonces[nonce] = [now, 0, path]
        self._reply(c, 401, [("WWW-Authenticate", auth.challenge(REALM, nonce, stale=stale))],
                    close=not keep)
