"""The fleet's connection-request server (TR-069 3.2.2): one listening socket for every device,
the request path naming the device; its sockets live in the fleet's loop.

Moving bytes is sockserver's (caps, deadlines, eviction), as for the daemon's listener; what
each request is answered is connreq's: one Gate for the whole fleet, made for many devices
(nonces need no table per device), given the routed device's credentials at each request.
"""

import functools

from .. import connreq, listener, sockserver
from .loop import READ, WRITE

_LIVE = 16384     # answered nonces kept: an ACS may wake thousands of devices within a minute
_EXPECT = 1.0     # seconds a client that got a challenge is kept before others for its answer


class CrServer(sockserver.Server):
    """`route(path)` gives (device, username, password), False for a device that is down
    (it gets no answer), or None (404); `accepted(device)` runs for each valid request."""

    _RECV_SIZE = 4096
    _LINGER = True
    _WHO = None

    def __init__(self, loop, address, port, route, accepted, max_clients=1024, timeout=5.0):
        self.loop = loop
        self._route, self._accepted = route, accepted
        # No rate limit: a simulated device is there to take what the ACS sends.
        self._gate = connreq.Gate(None, rate=None, live=_LIVE)
        self._max_request = 4096
        self._watched = {}
        self._expiry = None
        self.refused = 0          # authenticated requests refused (wrong credentials, replays)
        sockserver.Server.__init__(self, listener.bind(address, port, 1024), max_clients, timeout,
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
        now = self.loop.clock()
        c = self._clients.get(sock)
        if mask & WRITE and c is not None:
            self._flush(c, now)
        if mask & READ:
            self._serve([sock], now)
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

    # --- requests -------------------------------------------------------------------------

    def _process(self, c, now):
        """Answer the complete requests in `c.inbuf`, one at a time (the next waits for `out`)."""
        while c.sock in self._clients and not c.out and not c.closing:
            found = connreq.find_head(c.inbuf, self._max_request)
            if found is None:
                return
            if found is connreq.TOO_LARGE:
                return self._queue(c, connreq.reply(431, close=True), close=True)
            head, size = found
            del c.inbuf[:size]
            c.deadline = now + self._timeout   # keep-alive: a fresh deadline for the next one
            path = connreq.request_path(head)
            routed = self._route(path) if path is not None else (None, "", "")
            if routed is False:
                return self._drop(c)           # rebooting: nobody answers
            if routed is None:
                return self._queue(c, connreq.reply(404, close=True), close=True)
            device, username, password = routed
            status, data, close = self._gate.answer(c.peer, head, now, credentials=(username, password))
            if status == 200:
                self._accepted(device)
            elif status == 401 and b"\nauthorization:" in head.lower():
                self.refused += 1
            # An ACS answers a challenge on the same connection, at once: keep it.
            c.expect = now + _EXPECT if status == 401 and not close else None
            self._queue(c, data, close)
