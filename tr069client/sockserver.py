"""A non-blocking server as fds in the daemon's select loop: capped clients with deadlines and
output buffers, partial sends and drops; it knows no protocol (listener.py and control.py do).

A subclass builds the listening socket, then implements handle() on top of _serve() and
_flush(), and the named hooks below. Nothing here blocks and nothing reads the clock except
through the `clock` it is given.
"""

import socket

from . import log

_REST = 1.0  # seconds the listening socket is left alone after accept() ran out of descriptors


class Client(object):
    """One accepted socket: input and output buffers, deadline, and how it ends."""

    __slots__ = ("sock", "peer", "inbuf", "out", "deadline", "closing", "draining", "eof")

    def __init__(self, sock, peer, deadline):
        self.sock, self.peer, self.deadline = sock, peer, deadline
        self.inbuf, self.out = bytearray(), bytearray()
        self.closing = False  # close once `out` has left
        self.draining = False  # write side shut; input is discarded until EOF or deadline
        self.eof = False  # the peer shut its write side


class Server(object):
    """Clients of one listening socket, oldest first; at most `max_clients`, the oldest dropped.

    Hooks for subclasses:
      _process(c, now)        consume complete requests in c.inbuf, answer with _queue()
      _accept_error(exc, now) an accept() failed: True to free a descriptor and rest a
                              while, False to try the next pending connection
    Class attributes: _RECV_SIZE (bytes per recv), _LINGER (after a closing answer, shut
    the write side and drain input instead of closing at once), _WHO (name for debug logs
    of dropped clients; None logs nothing).
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
        # While out of descriptors a pending connection keeps the listening socket readable:
        # select() would return at once, for ever. It rests until then instead.
        self._resting_until = None

    def readable(self):
        """Sockets to select() for reading: the listening socket and clients with no output due."""
        if self._sock is None:
            return []
        listening = [self._sock] if self._resting_until is None else []
        return listening + [c.sock for c in self._clients.values() if not c.out]

    def writable(self):
        """Sockets with output still to send."""
        return [c.sock for c in self._clients.values() if c.out]

    def next_deadline(self):
        """When the next client times out or accepting resumes (monotonic seconds), or None."""
        times = [c.deadline for c in self._clients.values()]
        if self._resting_until is not None:
            times.append(self._resting_until)
        return min(times) if times else None

    def expire(self, now=None):
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

    def close(self):
        """Close every client and the listening socket."""
        for c in list(self._clients.values()):
            self._drop(c)
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # -- for handle() --

    def _serve(self, readable, now):
        """Accept on the listening socket and read the clients select() found readable."""
        for sock in readable:
            if sock is self._sock:
                self._accept(now)
                continue
            c = self._clients.get(sock)
            if c is not None and not c.out:
                self._read(c, now)

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
            while len(self._clients) >= self._max_clients:
                oldest = next(iter(self._clients.values()))
                self._note("too many clients, dropping %s", oldest)
                self._drop(oldest)
            peer = addr[0] if isinstance(addr, tuple) else addr
            self._clients[sock] = Client(sock, peer, now + self._timeout)

    def _accept_error(self, exc, now):
        return True

    def _drop(self, c):
        self._clients.pop(c.sock, None)
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
            if not data:
                self._drop(c)
            return  # input after our last answer is discarded
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
            # flight; shut the write side and discard input until EOF or the deadline.
            try:
                c.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._drop(c)
                return
            c.draining = True

    def _process(self, c, now):
        raise NotImplementedError
