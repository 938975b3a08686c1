"""An HTTP/1.1 response parser: bytes in, status, headers and body out; no I/O.

Framing follows RFC 9112 section 6.3: no body for 1xx/204/304 or a HEAD request; chunked when
Transfer-Encoding ends in chunked; else Content-Length; else the body runs until the peer
closes. Every size is bounded, so a hostile server costs at most the limits given.
"""

import re

HEAD, BODY, DONE = "head", "body", "done"
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_STATUS = re.compile(rb"HTTP/1\.([0-9]) ([1-9][0-9][0-9])(?: (.*))?\Z")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}\Z")
_MAX_LINE = 8192       # one chunk-size or trailer line


class ProtocolError(Exception):
    """The server broke HTTP; the message says how, for a sentence about it."""


class TooLarge(ProtocolError):
    """The body is larger than the parser was allowed to take."""


class Truncated(ProtocolError):
    """The connection ended in the middle of a response."""


class ResponseParser:
    """Feed it the bytes of one response with feed(), and eof() when the peer closes; `done`
    turns true once the response is complete. The body goes to `on_body(bytes)` if given,
    else into `body`; `received` counts its bytes either way."""

    def __init__(self, method="POST", max_head=65536, max_headers=100, max_body=None,
                 on_body=None):
        self.method = method
        self.max_head, self.max_headers, self.max_body = max_head, max_headers, max_body
        self.on_body = on_body
        self.state = HEAD
        self.status = self.reason = self.version = None
        self.headers = []          # [(lower-case name, value)], in order
        self.body = []
        self.received = 0
        self.will_close = False    # the connection cannot carry another request
        self.leftover = b""        # bytes after the end of the response
        self.started = False       # any byte arrived
        self._buf = bytearray()
        self._mode = None          # "length", "chunked" or "close"
        self._left = 0             # bytes left in the body or the current chunk
        self._chunk = "size"       # chunked: size, data, crlf, trailer

    @property
    def done(self):
        return self.state == DONE

    @property
    def framing(self):
        """How the body ends: "length", "chunked", "close", or None (no body, or no head yet)."""
        return self._mode

    def header(self, name, default=None):
        """The first value of the header `name` (any case), or `default`."""
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def header_list(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def feed(self, data):
        """Take the next bytes from the connection; True once the response is complete."""
        if data:
            self.started = True
        if self.state == DONE:
            self.leftover += bytes(data)
            return True
        self._buf += data
        while self._buf and self.state != DONE:
            before = len(self._buf)
            if self.state == HEAD:
                self._head()
            else:
                self._body()
            if len(self._buf) == before and self.state != DONE:
                break   # more bytes needed
        if self.state == DONE and self._buf:
            self.leftover, self._buf = bytes(self._buf), bytearray()
        if self.state == BODY and self._mode == "length" and self._left == 0:
            self._finish()
        return self.state == DONE

    def eof(self):
        """The peer closed its side; True if that completes the response, else Truncated."""
        if self.state == DONE:
            return True
        if self.state == BODY and self._mode == "close":
            self.will_close = True
            self._finish()
            return True
        raise Truncated("the connection ended %s" % (
            "before the response" if not self.started else "in the middle of the response"))

    # --- the head ---------------------------------------------------------------------

    def _head(self):
        end = self._buf.find(b"\n\n")
        crlf = self._buf.find(b"\r\n\r\n")
        if crlf >= 0 and (end < 0 or crlf < end):
            end, skip = crlf, 4
        else:
            skip = 2
        if end < 0:
            if len(self._buf) > self.max_head:
                raise ProtocolError("response head larger than %d bytes" % self.max_head)
            return
        if end > self.max_head:
            raise ProtocolError("response head larger than %d bytes" % self.max_head)
        lines = bytes(self._buf[:end]).split(b"\n")
        del self._buf[:end + skip]
        self._status_line(lines[0].rstrip(b"\r"))
        headers = []
        for raw in lines[1:]:
            line = raw.rstrip(b"\r")
            if line[:1] in (b" ", b"\t") and headers:
                # Obsolete line folding: one value continued (RFC 9112 5.2 lets a client do this).
                headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip().decode("latin-1"))
                continue
            name, sep, value = line.partition(b":")
            if not sep or not _TOKEN.match(name):
                raise ProtocolError("malformed header line %r" % line[:40])
            headers.append((name.decode("ascii").lower(), value.strip().decode("latin-1")))
            if len(headers) > self.max_headers:
                raise ProtocolError("more than %d headers" % self.max_headers)
        if 100 <= self.status < 200:
            if self.status == 101:
                raise ProtocolError("unexpected protocol switch (HTTP 101)")
            self.status = self.reason = self.version = None   # interim: the real one follows
            return
        self.headers = headers
        self._framing()

    def _status_line(self, line):
        m = _STATUS.match(line)
        if m is None:
            raise ProtocolError("malformed status line %r" % line[:40])
        self.version = "HTTP/1." + m.group(1).decode()
        self.status = int(m.group(2))
        self.reason = (m.group(3) or b"").decode("latin-1")

    def _framing(self):
        tokens = [t.strip().lower() for v in self.header_list("connection") for t in v.split(",")]
        if self.version == "HTTP/1.0":
            self.will_close = "keep-alive" not in tokens
        else:
            self.will_close = "close" in tokens
        self.state = BODY
        if self.method == "HEAD" or self.status in (204, 304):
            return self._finish()
        codings = [t.strip().lower() for v in self.header_list("transfer-encoding") for t in v.split(",")
                   if t.strip()]
        if codings:
            if codings[-1] == "chunked":
                self._mode = "chunked"
            else:
                self._mode, self.will_close = "close", True
            return
        lengths = set(t.strip() for v in self.header_list("content-length") for t in v.split(","))
        if lengths:
            if len(lengths) != 1 or not next(iter(lengths)).isdigit() or not next(iter(lengths)).isascii():
                raise ProtocolError("invalid Content-Length %r" % ", ".join(sorted(lengths))[:40])
            self._mode, self._left = "length", int(next(iter(lengths)))
            if self.max_body is not None and self._left > self.max_body:
                raise TooLarge("the response announces %d bytes" % self._left)
            return
        self._mode, self.will_close = "close", True

    # --- the body ---------------------------------------------------------------------

    def _body(self):
        if self._mode == "length":
            if self._counted():
                self._finish()
        elif self._mode == "close":
            self._deliver(self._take(len(self._buf)))
        else:
            self._chunked()

    def _counted(self):
        """Deliver what came of the `_left` bytes due (body or chunk); True once all came."""
        take = min(self._left, len(self._buf))
        self._left -= take
        self._deliver(self._take(take))
        return self._left == 0

    def _chunked(self):
        if self._chunk == "data":
            if self._counted():
                self._chunk = "crlf"
            return
        line = self._line()
        if line is None:
            return
        if self._chunk == "crlf":
            if line:
                raise ProtocolError("chunk not followed by CRLF")
            self._chunk = "size"
        elif self._chunk == "size":
            size = line.split(b";", 1)[0].strip()
            if not _HEX.match(size):
                raise ProtocolError("malformed chunk size %r" % size[:20])
            self._left = int(size, 16)
            self._chunk = "data" if self._left else "trailer"
        elif not line:      # the empty line after the trailers
            self._finish()

    def _line(self):
        end = self._buf.find(b"\n")
        if end < 0:
            if len(self._buf) > _MAX_LINE:
                raise ProtocolError("chunk line longer than %d bytes" % _MAX_LINE)
            return None
        line = bytes(self._buf[:end]).rstrip(b"\r")
        del self._buf[:end + 1]
        return line

    def _take(self, n):
        piece = bytes(self._buf[:n])
        del self._buf[:n]
        return piece

    def _deliver(self, piece):
        if not piece:
            return
        self.received += len(piece)
        if self.max_body is not None and self.received > self.max_body:
            raise TooLarge("the response is larger than %d bytes" % self.max_body)
        if self.on_body is not None:
            self.on_body(piece)
        else:
            self.body.append(piece)

    def _finish(self):
        self.state = DONE
