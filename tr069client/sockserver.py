"""A non-blocking server as fds in the daemon's select loop: capped clients with deadlines and
output buffers, partial sends and drops; it knows no protocol (listener.py and control.py do).

A subclass builds the listening socket, then implements handle() on top of _serve() and
_flush(), and the named hooks below. Nothing here blocks and nothing reads the clock except
through the `clock` it is given.
"""

import socket

from . import log

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Optional

_REST = 1.0  # seconds the listening socket is left alone after accept() ran out of descriptors
_DRAIN = 16384  # bytes read and discarded after a closing answer before closing anyway


class Client:
    """One accepted socket: input and output buffers, deadline, and how it ends."""

    __slots__ = ("sock", "peer", "source", "inbuf", "out", "deadline", "closing", "draining",
                 "eof", "expect", "drained")

    def __init__(self, sock, peer, deadline, source=None):
        self.sock, self.peer, self.deadline = sock, peer, deadline
        self.source = peer if source is None else source  # whose share of the cap it uses
        self.inbuf, self.out = bytearray(), bytearray()
        self.closing = False  # close once `out` has left
        self.draining = False  # write side shut; a little input is discarded, then close
        self.eof = False  # the peer shut its write side
        self.expect = None  # until when the peer's next request is due (kept before others)
        self.drained = 0  # bytes discarded while draining


class Server:
    """Clients of one listening socket; at most `max_clients`.

    Clients that select() found readable are read before new connections are accepted, and
    a new connection is read at once. Over the cap, a client whose answer has left is
    dropped first; else one of the source holding the most clients, the one that made the
    least progress for the longest: waiting for a request (the longest waiting first) before
    one whose next request is expected (Client.expect); never one with an answer to send.

    Hooks for subclasses:
      _process(c, now)        consume complete requests in c.inbuf, answer with _queue()
      _accept_error(exc, now) an accept() failed: True to free a descriptor and rest a
                              while, False to try the next pending connection
      _source_of(peer)        who is behind a peer address, for shares of the cap
    Class attributes: _RECV_SIZE (bytes per recv), _LINGER (after a closing answer, shut
    the write side and discard up to _DRAIN bytes of input before closing, so the answer
    is not lost to a RST), _WHO (name for debug logs of dropped clients; None logs nothing).
    """

    _RECV_SIZE = 4096
    _LINGER = False
    _WHO = None

    def __init__(self, sock, max_clients, timeout, clock, accepts=None):
        self._sock = sock  # listening, non-blocking
        self._max_clients = max(1, max_clients)
        self._timeout = timeout
        self._clock = clock
        self._accepts = accepts or self._max_clients  # per call, so a flood cannot starve the loop
        self._clients = {}  # socket -> Client, oldest first
        self._sources = {}  # Client.source -> how many clients it has
        # While out of descriptors a pending connection keeps the listening socket readable:
        # select() would return at once, for ever. It rests until then instead.
        self._resting_until = None

    def readable(self) -> list:
        """Sockets to select() for reading: the listening socket and clients with no output due."""
        if self._sock is None:
            return []
        listening = [self._sock] if self._resting_until is None else []
        return listening + [c.sock for c in self._clients.values() if not c.out]

    def writable(self) -> list:
        """Sockets with output still to send."""
        return [c.sock for c in self._clients.values() if c.out]

    def next_deadline(self) -> "Optional[float]":
        """When the next client times out or accepting resumes (monotonic seconds), or None."""
        times = [c.deadline for c in self._clients.values()]
        if self._resting_until is not None:
            times.append(self._resting_until)
        return min(times) if times else None

    def expire(self, now: "Optional[float]" = None) -> None:
        """Drop every client past its deadline (and end a rest that is over); how many were
        dropped."""
        now = self._clock() if now is None else now
        if self._resting_until is not None and now >= self._resting_until:
            self._resting_until = None
        late = [c for c in self._clients.values() if c.deadline <= now]
        for c in late:
            self._note("dropping %s (too slow)", c)
            self._drop(c)
        return len(late)

    def close(self) -> None:
        """Close every client and the listening socket."""
        for c in list(self._clients.values()):
            self._drop(c)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # -- for handle() --

    def _serve(self, readable, now):
        """Read the clients select() found readable, then accept on the listening socket: a
        request already received is answered before a new connection can push it out."""
        for sock in readable:
            c = self._clients.get(sock)
            if c is not None and not c.out:
                self._read(c, now)
        if self._sock is not None and self._sock in readable:
            self._accept(now)

    def _flush(self, c, now):
        """Send what `c` has due, then take its next request if that emptied `out`."""
        self._send(c)
        self._process(c, now)

    def _queue(self, c, data, close=False):
        """Queue an answer and send what goes now; `close` ends the connection after it."""
        c.out += data
        c.closing = c.closing or close
        self._send(c)

    # -- sockets --

    def _accept(self, now):
        for _ in range(self._accepts):
            try:
                sock, addr = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if not self._accept_error(exc, now):
                    continue
                if self._clients:  # free a descriptor for what comes after the rest
                    self._drop(next(iter(self._clients.values())))
                self._resting_until = now + _REST
                return
            sock.setblocking(False)
            if len(self._clients) >= self._max_clients:
                victim = self._victim(now)
                if victim is None:  # every client has an answer on its way
                    sock.close()
                    continue
                self._note("too many clients, dropping %s", victim)
                self._drop(victim)
            peer = addr[0] if isinstance(addr, tuple) else addr
            c = Client(sock, peer, now + self._timeout, self._source_of(peer))
            self._clients[sock] = c
            self._sources[c.source] = self._sources.get(c.source, 0) + 1
            self._read(c, now)  # a request sent with the connection is answered now

    def _victim(self, now):
        """The client to drop for a new one, or None if none may be."""
        best, best_key = None, None
        for c in self._clients.values():
            if c.out:
                continue
            if c.draining:
                key = (0, c.deadline)
            else:
                key = (1, -self._sources.get(c.source, 1),
                       c.expect is not None and c.expect > now, c.deadline, len(c.inbuf))
            if best_key is None or key < best_key:
                best, best_key = c, key
        return best

    def _accept_error(self, exc, now):
        return True

    def _source_of(self, peer):
        return peer

    def _drop(self, c):
        if self._clients.pop(c.sock, None) is not None:
            left = self._sources.get(c.source, 1) - 1
            if left > 0:
                self._sources[c.source] = left
            else:
                self._sources.pop(c.source, None)
        c.sock.close()

    def _note(self, fmt, c):
        if self._WHO:
            log.debug("%s: " + fmt, self._WHO, c.peer)

    def _io(self, c, op, arg):
        """op(arg) on c's socket; None if it would block, or if it failed (c is dropped)."""
        try:
            return op(arg)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            self._drop(c)
            return None

    def _read(self, c, now):
        data = self._io(c, c.sock.recv, self._RECV_SIZE)
        if data is None:
            return
        if c.draining:
            # Input after our last answer is discarded, but only a little: a peer sending
            # megabytes after a refusal must not cost a CPU.
            c.drained += len(data)
            if not data or c.drained >= _DRAIN:
                self._drop(c)
            return
        if not data:
            c.eof = True
        c.inbuf += data
        self._process(c, now)  # a request followed by shutdown(SHUT_WR) still gets its answer
        if c.eof and c.sock in self._clients:
            if c.out:
                c.closing = True
            else:
                self._drop(c)

    def _send(self, c):
        if c.out:
            sent = self._io(c, c.sock.send, c.out)
            if sent is None:
                return
            del c.out[:sent]
        if not c.out and c.closing and not c.draining:
            if c.eof or not self._LINGER:
                self._drop(c)
                return
            # Closing with unread input would send a RST that can destroy our answer in
            # flight; shut the write side and discard a little input first.
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._drop(c)
                return
            c.draining = True
            c.inbuf = bytearray()

    def _process(self, c, now):
        raise NotImplementedError
