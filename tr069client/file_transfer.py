"""Files to and from a file server over HTTP(S), streamed: the Download and Upload RPCs'
transfers, on transport.py's Peer (auth, redirects, TLS, errors)."""

import time

from .transport import CHUNK, USER_AGENT, Peer, TransportError, stream_body


class _LocalFileError(Exception):
    """Carries an OSError of the caller's file past the network error mapping."""


def _transfer(url, username, password, ca_file, timeout, method, send, headers, finish, limit,
              wait):
    peer = Peer(url, username, password, ca_file, None, timeout, USER_AGENT, "file server")
    peer.wait = wait
    if limit:
        peer.limit, peer.deadline = limit, time.monotonic() + limit
    try:
        return finish(peer, peer.request(method, send, headers))
    except _LocalFileError as e:
        raise e.args[0]
    except Exception as e:
        raise peer.error(e) from None
    finally:
        peer.close()


def download(url, fileobj, username="", password="", ca_file=None, timeout=30,
             max_size=None, on_chunk=None, require_length=True, limit=None, wait=None):
    """GET `url` into `fileobj` as it arrives, never all in memory; bytes written. `timeout`
    bounds each read, `limit` (if given) the whole transfer; `wait` is AcsClient's.

    Errors of `fileobj` itself (disk full) propagate as they are, not as TransportError.
    `on_chunk(nbytes)`, if given, runs after each piece is written (the daemon serves
    connection requests there during a long download). With `require_length`, a body
    that only the closing of the connection ends is refused: cut short, it would pass for
    whole (a caller that knows the size checks it instead).
    """
    def sink(piece):
        try:
            fileobj.write(piece)
        except OSError as e:
            raise _LocalFileError(e)
        if on_chunk is not None:
            on_chunk(len(piece))

    def finish(peer, resp):
        if not 200 <= resp.status < 300:
            raise TransportError("file server answered HTTP %d %s for %s"
                                 % (resp.status, resp.reason, peer.url), "http", resp.status)
        if require_length and resp.length is None and not resp.chunked:
            raise TransportError("file server sent %s with neither a length nor chunked encoding: "
                                 "a download cut short could not be told from a whole one"
                                 % peer.url, "unsized")
        return stream_body(resp, max_size, sink, "file at %s is larger than the %s bytes allowed"
                           % (peer.url, max_size))
    return _transfer(url, username, password, ca_file, timeout, "GET", None, [], finish, limit,
                     wait)


def upload(url, fileobj, size, username="", password="", ca_file=None, timeout=30,
           method="PUT", limit=None, wait=None):
    """Send `size` bytes of seekable `fileobj` from its position, streamed; the HTTP status.
    `timeout` bounds each write, `limit` (if given) the whole transfer; `wait` is AcsClient's.

    The body is sent again from the same position after a 401 or a redirect.
    """
    start = fileobj.tell()

    def send(conn):
        conn.endheaders()
        fileobj.seek(start)
        left = size
        while left > 0:
            try:
                chunk = fileobj.read(min(CHUNK, left))
            except OSError as e:
                raise _LocalFileError(e)
            if not chunk:
                raise _LocalFileError(EOFError("the file to upload ended %d bytes early" % left))
            conn.send(chunk)
            left -= len(chunk)

    def finish(peer, resp):
        peer.drain(resp)
        return resp.status
    headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
    return _transfer(url, username, password, ca_file, timeout, method, send, headers, finish,
                     limit, wait)
