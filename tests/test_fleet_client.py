"""The fleet's non-blocking HTTP client: keep-alive, cookies, auth, redirects, framing, TLS,
and its failures as the transport's sentences; against scripted servers on loopback."""

import socket
import threading
import time

import pytest

from tr069client.connection import TransportError
from tr069client.fleet.client import Client
from tr069client.fleet.loop import Loop


class RawServer:
    """Loopback TCP server: `handler(conn, server)` runs in a thread per accepted connection."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.requests = []
        self._conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path="/acs"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn, self)
        except OSError:
            pass

    def read_request(self, conn):
        """One request head and its Content-Length body, or None at EOF."""
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(4096)
            if not piece:
                return None
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            body += conn.recv(4096)
        self.requests.append(head.decode("latin-1"))
        return head.decode("latin-1")

    def close(self):
        self.sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass


@pytest.fixture
def raw():
    servers = []

    def make(handler):
        s = RawServer(handler)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


def call(client, method="POST", body=b"", headers=(), timeout=10, **kw):
    out = []
    client.request(method, body, list(headers), out.append, **kw)
    deadline = time.monotonic() + timeout
    while not out:
        assert time.monotonic() < deadline, "no answer from the client"
        client.loop.run_once(0.05)
    return out[0]


def replies(*responses):
    """A handler answering each request on a connection with the next response."""
    def handler(conn, server):
        for r in responses:
            if server.read_request(conn) is None:
                return
            conn.sendall(r)
    return handler


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_keep_alive_and_cookies_for_the_session(raw):
    srv = raw(replies(b"HTTP/1.1 200 OK\r\nSet-Cookie: session=abc; Path=/\r\nContent-Length: 2\r\n\r\nok",
                      OK, OK))
    c = Client(Loop(), srv.url())
    assert call(c, body=b"<x/>", headers=[("Content-Length", "4")])[::2] == (200, b"ok")
    assert call(c)[0] == 200
    assert srv.accepted == 1 and "Cookie: session=abc" in srv.requests[1]
    c.close()     # a session's end forgets its cookies
    assert call(c)[0] == 200
    assert srv.accepted == 2 and "Cookie" not in srv.requests[2]


def test_body_framings(raw):
    srv = raw(replies(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
                      b"HTTP/1.1 204 No Content\r\n\r\n",
                      b"HTTP/1.0 200 OK\r\n\r\nuntil close"))
    c = Client(Loop(), srv.url())
    assert call(c)[2] == b"ab"
    assert call(c)[0] == 204

    def close_after(conn, server):
        replies(b"HTTP/1.0 200 OK\r\n\r\nuntil close")(conn, server)
        conn.close()
    srv2 = raw(close_after)
    assert call(Client(Loop(), srv2.url()))[2] == b"until close"


def test_redirects_keep_post_and_stop_after_five(raw):
    target = raw(replies(OK))
    srv = raw(replies(b"HTTP/1.1 307 Temporary\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n"
                      % target.url("/new").encode()))
    c = Client(Loop(), srv.url())
    assert call(c, body=b"x", headers=[("Content-Length", "1")])[2] == b"ok"
    assert target.requests[0].startswith("POST /new ") and c.url == target.url("/new")

    loop_srv = raw(replies(*[b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"] * 10))
    err = call(Client(Loop(), loop_srv.url()))
    assert isinstance(err, TransportError) and "too many redirects (more than 5)" in err.message


def test_basic_and_digest_answers_with_the_lab_file_server(make_lab_acs):
    acs = make_lab_acs()
    for mode in ("basic", "digest"):
        url = acs.add_file("f-" + mode, b"x" * 70000, auth=mode)
        got = []
        c = Client(Loop(), url, "file-user", "file-pass", what="file server")
        status, _, body = call(c, "GET", on_body=got.append)
        assert status == 200 and body == b"" and sum(map(len, got)) == 70000
        err = call(Client(Loop(), url, "file-user", "wrong", what="file server"), "GET")
        assert err.kind == "auth" and "file server refused the credentials (HTTP 401)" in err.message


def test_a_kept_alive_connection_closed_while_idle_is_reopened_once(raw):
    def one_then_close(conn, server):
        replies(OK)(conn, server)
        time.sleep(0.1)
        conn.close()
    srv = raw(one_then_close)
    c = Client(Loop(), srv.url())
    assert call(c)[0] == 200
    time.sleep(0.3)
    assert call(c)[0] == 200 and srv.accepted == 2


def test_failures_are_the_transports_sentences(raw):
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    dead = free.getsockname()[1]
    free.close()
    err = call(Client(Loop(), "http://127.0.0.1:%d/acs" % dead))
    assert err.kind == "connect" and err.message == "ACS unreachable: connection refused (127.0.0.1:%d)" % dead

    silent = raw(lambda conn, server: time.sleep(5))
    err = call(Client(Loop(), silent.url(), timeout=0.5))
    assert err.kind == "timeout" and err.message == "ACS did not answer within 0.5 s (%s)" % silent.url()

    def drip(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(20):
            time.sleep(0.2)
            conn.sendall(b"x")
    slow = raw(drip)
    err = call(Client(Loop(), slow.url(), timeout=0.5, limit=1.0))
    assert err.kind == "timeout" and "ACS answered too slowly: one exchange took over 1 s" in err.message

    bad = raw(replies(b"SPDY/9 200 OK\r\n\r\n"))
    err = call(Client(Loop(), bad.url()))
    assert err.kind == "protocol" and err.message.startswith("ACS sent a malformed HTTP response (malformed status")

    def hang_up(conn, server):
        server.read_request(conn)
        conn.close()
    gone = raw(hang_up)
    err = call(Client(Loop(), gone.url()))
    assert err.message == "ACS closed the connection without answering (%s)" % gone.url()

    big = raw(replies(b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n"))
    err = call(Client(Loop(), big.url(), max_body=1 << 10))
    assert err.kind == "too-large"


def test_a_bad_url_is_refused_at_once():
    with pytest.raises(TransportError, match="unsupported URL"):
        Client(Loop(), "ftp://example.com/")


def test_unsized_download_refused_when_asked(raw):
    def close_after(conn, server):
        replies(b"HTTP/1.0 200 OK\r\n\r\ndata")(conn, server)
        conn.close()
    srv = raw(close_after)
    err = call(Client(Loop(), srv.url("/f"), what="file server"), "GET", require_length=True)
    assert err.kind == "unsized"


def test_https_with_a_test_ca(make_lab_acs, tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    pem = tmp_path / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(pem))
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    acs = make_lab_acs(tls=(str(pem), str(pem)))
    url = acs.add_file("tls.bin", b"y" * 200000)
    got = []
    c = Client(Loop(), url, what="file server", ca_file=str(ca_pem))
    assert call(c, "GET", on_body=got.append)[0] == 200 and sum(map(len, got)) == 200000
    assert call(c, "GET", on_body=got.append)[0] == 200 and c.connects == 1
    err = call(Client(Loop(), url, what="file server"), "GET")
    assert err.kind == "tls" and "TLS certificate of 127.0.0.1 is not trusted" in err.message
