"""The fleet's one loop: sockets in a selector (epoll where there is one: select() cannot take
10,000 descriptors) and timers in a heap; everything else is a callback it runs."""

import heapq
import itertools
import selectors
import time

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class Loop:
    """watch() a socket with a callback(mask), call_at() a time with a callback(); run_once()
    waits for the first of them. A timer is cancelled by cancel(handle)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._sel = selectors.DefaultSelector()
        self._events = {}        # fileobj -> mask registered
        self._timers = []        # heap of [when, seq, callback or None]
        self._seq = itertools.count()
        self._soon = []

    def close(self):
        self._sel.close()

    # --- sockets ------------------------------------------------------------------------

    def watch(self, sock, mask, callback):
        """Call `callback(mask)` whenever `sock` is ready for `mask` (READ, WRITE or both)."""
        old = self._events.get(sock)
        if old is None:
            self._sel.register(sock, mask, callback)
        else:
            self._sel.modify(sock, mask, callback)
        self._events[sock] = mask

    def unwatch(self, sock):
        if self._events.pop(sock, None) is not None:
            self._sel.unregister(sock)

    @property
    def watched(self):
        return len(self._events)

    # --- timers -------------------------------------------------------------------------

    def call_at(self, when, callback):
        """Run `callback()` at monotonic time `when`; a handle for cancel()."""
        entry = [when, next(self._seq), callback]
        heapq.heappush(self._timers, entry)
        return entry

    def call_soon(self, callback):
        """Run `callback()` in the next turn of the loop, before it waits."""
        self._soon.append(callback)

    @staticmethod
    def cancel(handle):
        if handle is not None:
            handle[2] = None

    def next_timer(self):
        while self._timers and self._timers[0][2] is None:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    # --- running ------------------------------------------------------------------------

    def run_once(self, max_wait=1.0):
        """Wait for sockets or the next timer (at most `max_wait` s) and run what is due."""
        self.run_soon()
        now = self.clock()
        nxt = self.next_timer()
        wait = max_wait if nxt is None else min(max_wait, max(0.0, nxt - now))
        if self._soon:
            wait = 0.0
        ready = self._sel.select(wait) if self._events else self._sleep(wait)
        for key, mask in ready:
            # A callback may have unwatched this socket for an earlier one's sake.
            if key.fileobj in self._events:
                key.data(mask)
        now = self.clock()
        # Timers armed by these callbacks wait for the next turn, even if already due:
        # a callback that re-arms itself for "now" cannot hold the loop.
        limit = next(self._seq)
        while self._timers and self._timers[0][0] <= now and self._timers[0][1] < limit:
            _, _, callback = heapq.heappop(self._timers)
            if callback is not None:
                callback()
        self.run_soon()

    def _sleep(self, wait):
        if wait > 0:
            time.sleep(wait)
        return ()

    def run_soon(self):
        """Run the callbacks call_soon() queued (and those they queue)."""
        while self._soon:
            batch, self._soon = self._soon, []
            for callback in batch:
                callback()
