"""The fleet's connection-request server (TR-069 3.2.2): one listening socket for every device,
the request path naming the device; its sockets live in the fleet's loop.

It is the daemon's listener (listener.Listener: sockserver's caps, deadlines and eviction,
connreq's framing) with another answer for each request: routed by its path to a device, and
given by one connreq.Gate for the whole fleet (made for many devices: nonces need no table per
device) with that device's credentials.
"""

import functools

from .. import connreq, listener
from .loop import READ, WRITE

_LIVE = 16384     # answered nonces kept: an ACS may wake thousands of devices within a minute


class CrServer(listener.Listener):
    """`route(path)` gives (device, username, password), False for a device that is down
    (it gets no answer), or None (404); `accepted(device)` runs for each valid request."""

    _WHO = None

    def __init__(self, loop, address, port, route, accepted, max_clients=1024, timeout=5.0):
        self.loop = loop
        self._route, self._accepted = route, accepted
        # No rate limit: a simulated device is there to take what the ACS sends.
        self._many = connreq.Gate(None, rate=None, live=_LIVE)
        self._watched = {}
        self._expiry = None
        self.refused = 0          # authenticated requests refused (wrong credentials, replays)
        listener.Listener.__init__(self, address, port, "/", clock=loop.clock, max_clients=max_clients,
                                   header_timeout=timeout)
        self.sync()

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
        listener.Listener._drop(self, c)

    def close(self):
        for s in list(self._watched):
            self._unwatch(s)
        self.loop.cancel(self._expiry)
        listener.Listener.close(self)

    # --- requests -------------------------------------------------------------------------

    def _answer(self, c, head, now):
        path = connreq.request_path(head)
        routed = self._route(path) if path is not None else (None, "", "")
        if routed is False:
            return None        # rebooting: nobody answers
        if routed is None:
            return 404, connreq.reply(404, close=True), True
        device, username, password = routed
        status, data, close = self._many.answer(c.peer, head, now, credentials=(username, password))
        if status == 200:
            self._accepted(device)
        elif status == 401 and b"\nauthorization:" in head.lower():
            self.refused += 1
        return status, data, close
