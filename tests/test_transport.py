"""Transport tests: a real threaded HTTP(S) server on 127.0.0.1, real sockets, no timing."""

import io
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading

import pytest

from _httpd import Server, free_port
from tr069client import auth, file_transfer, transport

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def serve():
    servers = []

    def start(handle, tls=None):
        server = Server(handle, tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def ok(req):
    return 200, [], b"<ok/>"


def digest_server(user, password, realm="acs", body=b"<ok/>"):
    """Digest with the nonce bound to the TCP connection, as GenieACS does; Basic offered too."""
    def handle(req):
        nonce = req.conn.setdefault("nonce", auth.new_nonce())
        fields = auth.verify(req.headers.get("Authorization"), req.method, req.path,
                             user, password, realm)
        if fields and fields["nonce"] == nonce and fields["nc"] > req.conn.get("nc", 0):
            req.conn["nc"] = fields["nc"]
            return 200, [], body
        return 401, [("WWW-Authenticate", auth.basic_challenge(realm)),
                     ("WWW-Authenticate", auth.challenge(realm, nonce, opaque="op"))], b""
    return handle


def basic_server(user, password, status=200):
    def handle(req):
        if auth.verify_basic(req.headers.get("Authorization"), user, password):
            return status, [], b"<ok/>"
        return 401, [("WWW-Authenticate", auth.basic_challenge("acs"))], b"denied"
    return handle


def closing(answer, closed):
    """Write `answer` (status, headers, body), then close the connection without having said
    so (no Connection: close); `closed` is set once the close is on its way."""
    def handle(req):
        status, headers, body = answer
        req.handler.send_response(status)
        for name, value in list(headers) + [("Content-Length", str(len(body)))]:
            req.handler.send_header(name, value)
        req.handler.end_headers()
        req.handler.wfile.write(body)
        req.handler.wfile.flush()
        req.handler.connection.shutdown(socket.SHUT_WR)
        req.handler.close_connection = True
        closed.set()
    return handle


def fails(kind, fn, *args, **kwargs):
    with pytest.raises(transport.TransportError) as e:
        fn(*args, **kwargs)
    assert e.value.kind == kind, e.value.message
    return e.value.message


# -- keep-alive and reconnection --

def test_one_connection_for_several_posts(serve):
    server = serve(ok)
    t = transport.AcsClient(server.url())
    assert [t.post(b"<x/>")[2] for _ in range(4)] == [b"<ok/>"] * 4
    t.close()
    assert server.accepts == 1 and len(server.requests) == 4


def test_idle_connection_closed_by_server_is_reopened(serve):
    closed = threading.Event()
    server = serve(closing((200, [], b"<ok/>"), closed))
    t = transport.AcsClient(server.url())
    for _ in range(3):
        assert t.post(b"<x/>")[0] == 200
        assert closed.wait(5)   # the server's close reached us before the next request
        closed.clear()
    assert server.accepts == 3 and len(server.requests) == 3


def test_request_resent_once_when_kept_alive_connection_was_reset_before_a_byte_left(serve, monkeypatch):
    # The server resets the connection after its first answer and the idle check is
    # disabled: the next request fails on its first write, so nothing of it left, and it
    # goes out once on a new connection.
    closed = threading.Event()

    def handle(req):
        if req.conn_id == 1:
            req.handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n<ok/>")
            req.handler.wfile.flush()
            req.handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            req.handler.rfile.close()        # which holds the socket open past close()
            req.handler.connection.close()   # RST
            req.handler.close_connection = True
            closed.set()
            return None
        return 200, [], b"<ok2/>"
    server = serve(handle)
    monkeypatch.setattr(transport, "dropped", lambda sock: False)
    t = transport.AcsClient(server.url())
    assert t.post(b"<x/>")[2] == b"<ok/>"
    assert closed.wait(5)
    assert t.post(b"<y/>")[2] == b"<ok2/>"
    assert server.accepts == 2
    assert [r.body for r in server.requests] == [b"<x/>", b"<y/>"]


def _reading_then_closing_server(answers):
    """A raw server on one connection at a time: it answers the first `answers` requests,
    then reads the next one whole and closes without a word. Every request body, per
    connection."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    seen = []

    def run():
        while True:
            try:
                conn, _ = lsock.accept()
            except OSError:
                return
            got = []
            seen.append(got)
            with conn, conn.makefile("rb") as f:
                while True:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = f.readline()
                        if not line:
                            break
                        head += line
                    if not head.endswith(b"\r\n\r\n"):
                        break
                    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
                    got.append(f.read(length))
                    if sum(len(g) for g in seen) > answers:
                        break   # read whole, never answered
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n<ok/>")
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return lsock, seen


def test_a_request_read_by_the_acs_is_not_sent_again_after_it_closed(monkeypatch):
    # The ACS reads our whole response and closes without answering: it may have acted on
    # it, so it does not go out again on a new connection; the session ends with a sentence.
    lsock, seen = _reading_then_closing_server(answers=1)
    url = "http://127.0.0.1:%d/acs" % lsock.getsockname()[1]
    try:
        t = transport.AcsClient(url)
        assert t.post(b"<inform/>", name="Inform")[2] == b"<ok/>"
        msg = fails("connect", t.post, b"<spv-response/>", name="SetParameterValuesResponse")
    finally:
        lsock.close()
    assert msg == ("ACS closed the connection without answering, once our SetParameterValuesResponse "
                   "had gone out; not sent again, as the ACS may have acted on it (%s)" % url)
    assert seen == [[b"<inform/>", b"<spv-response/>"]]


def test_request_not_resent_after_part_of_a_response(serve):
    def handle(req):
        if len(server.requests) == 2:
            req.handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n<o")
            req.handler.wfile.flush()
            req.handler.close_connection = True
            return None
        return 200, [], b"<ok/>"
    server = serve(handle)
    t = transport.AcsClient(server.url())
    t.post(b"<x/>")
    fails("connect", t.post, b"<y/>")
    assert len(server.requests) == 2


# -- request and response shapes --

def test_empty_post_headers(serve):
    server = serve(lambda req: (204, [], b""))
    t = transport.AcsClient(server.url(), user_agent="tr069client/9.9")
    status, headers, body = t.post(b"", soap_action=None)
    assert (status, body) == (204, b"")
    h = server.requests[0].headers
    assert h["Content-Length"] == "0"
    assert "Content-Type" not in h and "SOAPAction" not in h
    assert h["User-Agent"] == "tr069client/9.9"
    assert server.requests[0].method == "POST" and server.requests[0].body == b""


def test_empty_post_refuses_a_body():
    t = transport.AcsClient("http://127.0.0.1:1/")
    with pytest.raises(ValueError):
        t.post(b"<x/>", soap_action=None)


def test_soap_post_headers_and_chunks(serve):
    server = serve(ok)
    t = transport.AcsClient(server.url())
    status, headers, body = t.post([b"<a>", b"x" * 70000, b"</a>"])
    assert status == 200 and body == b"<ok/>" and headers["content-length"] == "5"
    req = server.requests[0]
    assert req.headers["Content-Type"] == 'text/xml; charset="utf-8"'
    assert req.headers.get_all("SOAPAction") == [""]
    assert req.headers["Content-Length"] == str(70007)
    assert req.body == b"<a>" + b"x" * 70000 + b"</a>"


def test_503_retry_after_returned(serve):
    server = serve(lambda req: (503, [("Retry-After", "60")], b"busy"))
    status, headers, body = transport.AcsClient(server.url()).post(b"<x/>")
    assert (status, headers["retry-after"], body) == (503, "60", b"busy")


def test_chunked_response_and_empty_200(serve):
    def handle(req):
        if req.body == b"chunked":
            req.handler.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    b"3\r\n<a>\r\n4\r\n</a>\r\n0\r\n\r\n")
            return None
        return 200, [], b""
    server = serve(handle)
    t = transport.AcsClient(server.url())
    assert t.post(b"chunked")[2] == b"<a></a>"
    status, _, body = t.post(b"", soap_action=None)
    assert (status, body) == (200, b"")
    assert server.accepts == 1


def test_too_large_body(serve):
    def handle(req):
        if req.body == b"length":
            return 200, [("Content-Length", str(transport.MAX_BODY + 1))], b""
        w = req.handler.wfile
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (1 << 20, b"x" * (1 << 20))
        try:
            for _ in range(17):
                w.write(chunk)
        except OSError:
            pass  # the client hung up, as it should
        req.handler.close_connection = True
        return None
    server = serve(handle)
    t = transport.AcsClient(server.url())
    msg = fails("too-large", t.post, b"length")
    assert msg == "ACS response larger than 16 MiB (%s)" % server.url()
    fails("too-large", t.post, b"chunked")


def test_a_reader_takes_the_body_as_it_arrives_and_its_refusal_closes_the_connection(serve):
    from tr069client import soap
    sent, done = [], threading.Event()

    def handle(req):
        w = req.handler.wfile
        if req.body == b"length":
            return 200, [("Content-Length", str(soap.LIMITS.size + 1))], b""
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        head = b"<Envelope" if req.body == b"endless" else b"<Envelope><Body><X/></Body></Envelope>"
        try:
            for piece in [head] + [b' a="1"' * 1000] * (2000 if req.body == b"endless" else 0):
                w.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent.append(len(piece))
            w.write(b"0\r\n\r\n")
        except OSError:
            sent.append("closed by the client")
        req.handler.close_connection = req.body == b"endless"
        if req.body == b"endless":
            done.set()
        return None
    server = serve(handle)
    t = transport.AcsClient(server.url())
    reader = soap.Reader()
    assert t.post(b"whole", reader=reader)[2] == b"" and reader.message().method == "X"
    with pytest.raises(soap.OverBudget) as e:
        t.post(b"endless", reader=soap.Reader())
    assert str(e.value) == "ACS sent a message with more than 64 attributes on one element"
    assert done.wait(30)   # the handler's write failed: the client closed long before 12 MB
    assert sent[-1] == "closed by the client" and sum(sent[:-1]) < 2000 * 6000
    server = serve(handle)
    t = transport.AcsClient(server.url())
    reader = soap.Reader()
    assert fails("too-large", t.post, b"length", reader=reader) == \
        "ACS sent a message of over 2 MiB (%s)" % server.url()
    assert reader.empty   # refused by its Content-Length: not a byte read


# -- cookies --

def test_cookies_replayed_with_path_and_deleted(serve):
    script = [
        [("Set-Cookie", "session=abc; Path=/; HttpOnly"),
         ("Set-Cookie", "deep=1; Path=/acs"),
         ("Set-Cookie", "elsewhere=1; Path=/other")],
        [("Set-Cookie", "JSESSIONID=j1")],
        [("Set-Cookie", "session=; Max-Age=0"),
         ("Set-Cookie", "deep=; Path=/acs; Expires=Thu, 01 Jan 1970 00:00:00 GMT")],
        [],
    ]
    server = serve(lambda req: (200, script[len(server.requests) - 1], b"<ok/>"))
    t = transport.AcsClient(server.url("/acs"))
    for _ in script:
        t.post(b"<x/>")
    sent = [r.headers.get("Cookie") for r in server.requests]
    assert sent == [None, "deep=1; session=abc", "deep=1; JSESSIONID=j1; session=abc",
                    "JSESSIONID=j1"]


def test_cookies_dropped_on_close(serve):
    server = serve(lambda req: (200, [("Set-Cookie", "session=s1")], b"<ok/>"))
    t = transport.AcsClient(server.url())
    t.post(b"<x/>")
    t.close()
    t.post(b"<x/>")
    assert [r.headers.get("Cookie") for r in server.requests] == [None, None]
    assert server.accepts == 2


# -- authentication --

def test_basic_auth_then_preemptive(serve):
    server = serve(basic_server("cpe", "pw"))
    t = transport.AcsClient(server.url(), username="cpe", password="pw")
    assert t.post(b"<x/>")[0] == 200
    assert t.post(b"<y/>")[0] == 200
    assert [r.body for r in server.requests] == [b"<x/>", b"<x/>", b"<y/>"]
    assert server.requests[2].headers["Authorization"].startswith("Basic ")
    assert server.accepts == 1


def test_digest_preferred_nc_counts_and_nonce_bound_to_connection(serve):
    handle = digest_server("cpe", "pw")
    closed = threading.Event()

    def close_third(req):
        answer = handle(req)
        if len(server.requests) == 3:   # next post: new connection, old nonce
            return closing(answer, closed)(req)
        return answer
    server = serve(close_third)
    t = transport.AcsClient(server.url(), username="cpe", password="pw")
    assert [t.post(b"<x/>")[0] for _ in range(2)] == [200, 200]
    assert closed.wait(5)
    assert t.post(b"<x/>")[0] == 200
    statuses = ["Authorization" in r.headers for r in server.requests]
    assert statuses == [False, True, True, True, True]
    assert all(r.headers["Authorization"].startswith("Digest ")
               for r in server.requests[1:])
    ncs = [auth.parse_authorization(r.headers["Authorization"])[1]["nc"]
           for r in server.requests[1:]]
    # nc 1 and 2 on the first connection; the old nonce is refused on the second one,
    # which gets a fresh challenge and starts again at 1.
    assert ncs == ["00000001", "00000002", "00000003", "00000001"]
    assert server.accepts == 2


def test_digest_stale_nonce_reauthenticates_silently(serve):
    def handle(req):
        fields = auth.verify(req.headers.get("Authorization"), req.method, req.path,
                             "cpe", "pw")
        if fields and fields["nonce"] == "n2":
            return 200, [], b"<ok/>"
        stale = bool(fields)  # right password, old nonce
        return 401, [("WWW-Authenticate", auth.challenge(
            "acs", "n2" if stale else "n1", stale=stale))], b""
    server = serve(handle)
    t = transport.AcsClient(server.url(), username="cpe", password="pw")
    assert t.post(b"<x/>")[0] == 200
    assert len(server.requests) == 3


def test_wrong_credentials(serve):
    server = serve(digest_server("cpe", "right-password"))
    t = transport.AcsClient(server.url(), username="cpe", password="s3cr3t-wrong")
    msg = fails("auth", t.post, b"<x/>")
    assert msg == "ACS refused the credentials (HTTP 401) at %s" % server.url()
    assert "s3cr3t" not in msg
    assert len(server.requests) == 2  # one answer to the challenge, no loop


def test_wrong_basic_credentials_in_url_not_shown(serve):
    server = serve(basic_server("cpe", "pw"))
    url = server.url().replace("http://", "http://cpe:hunter2@")
    t = transport.AcsClient(url, username="cpe", password="hunter2")
    msg = fails("auth", t.post, b"<x/>")
    assert "hunter2" not in msg and server.url() in msg


def test_a_password_holding_an_at_sign_is_not_shown(serve):
    server = serve(basic_server("cpe", "p@ss"))
    url = server.url().replace("http://", "http://cpe:p@ss@")
    t = transport.AcsClient(url, username="cpe", password="wrong")
    assert t.url == server.url()
    msg = fails("auth", t.post, b"<x/>")
    assert "ss@" not in msg and server.url() in msg


def test_credentials_required_but_no_username(serve):
    server = serve(digest_server("cpe", "pw"))
    msg = fails("auth", transport.AcsClient(server.url()).post, b"<x/>")
    assert msg == ("ACS requires credentials (HTTP 401) at %s but no username is "
                   "configured" % server.url())


def test_digest_with_a_user_name_beyond_latin_1(serve):
    # Such a name cannot go into a header as latin-1 text: it is sent as UTF-8, as curl does.
    inner = digest_server("用户", "pw")

    def handle(req):
        value = req.headers.get("Authorization")
        if value is not None:  # http.server decoded the header bytes as latin-1
            req.headers.replace_header("Authorization", value.encode("latin-1").decode("utf-8"))
        return inner(req)
    server = serve(handle)
    assert transport.AcsClient(server.url(), username="用户", password="pw").post(b"<x/>")[0] == 200


def test_a_url_path_beyond_ascii_is_percent_encoded(serve):
    server = serve(ok)
    assert transport.AcsClient(server.url("/acs/grüße")).post(b"<x/>")[0] == 200
    assert server.requests[0].path == "/acs/gr%C3%BC%C3%9Fe"


@pytest.mark.parametrize("url", ["http://acs.example/a b", "http://acs.example/a\r\nX-Evil: 1",
                                 "http://acs .example/", "http://acs.example/\x7f"])
def test_a_url_with_spaces_or_control_characters_is_invalid(url):
    msg = fails("protocol", transport.AcsClient, url)
    assert msg.startswith("invalid URL ") and "\n" not in msg


def test_unsupported_scheme(serve):
    server = serve(lambda req: (401, [("WWW-Authenticate", "Negotiate abc==")], b""))
    msg = fails("auth", transport.AcsClient(server.url(), "cpe", "pw").post, b"<x/>")
    assert "negotiate" in msg


# -- redirects --

def test_redirect_307_keeps_post_and_new_url_sticks(serve):
    def handle(req):
        if req.path == "/acs":
            return 307, [("Location", "/acs2")], b"moved"
        return 200, [], b"<ok/>"
    server = serve(handle)
    t = transport.AcsClient(server.url("/acs"))
    assert t.post(b"<inform/>")[0] == 200
    assert t.url == server.url("/acs2")
    t.post(b"", soap_action=None)
    assert [(r.method, r.path, r.body) for r in server.requests] == [
        ("POST", "/acs", b"<inform/>"), ("POST", "/acs2", b"<inform/>"), ("POST", "/acs2", b"")]
    assert server.accepts == 1


def test_redirect_301_to_another_server(serve):
    target = serve(ok)
    first = serve(lambda req: (301, [("Location", target.url("/new"))], b""))
    t = transport.AcsClient(first.url())
    assert t.post(b"<x/>")[0] == 200
    assert t.post(b"<y/>")[0] == 200
    assert t.url == target.url("/new")
    assert [r.body for r in target.requests] == [b"<x/>", b"<y/>"]
    assert len(first.requests) == 1 and target.accepts == 1


def test_five_redirects_followed_six_fail(serve):
    def handle(req):
        n = int(req.path.rsplit("/", 1)[1])
        return (200, [], b"<ok/>") if n == 5 else (302, [("Location", "/r/%d" % (n + 1))], b"")
    server = serve(handle)
    assert transport.AcsClient(server.url("/r/0")).post(b"<x/>")[0] == 200
    msg = fails("http", transport.AcsClient(server.url("/r/-1")).post, b"<x/>")
    assert msg == "too many redirects (more than 5) from %s" % server.url("/r/4")


# -- connection errors --

def test_connection_refused():
    port = free_port()
    msg = fails("connect", transport.AcsClient("http://127.0.0.1:%d/acs" % port).post, b"")
    assert msg == "ACS unreachable: connection refused (127.0.0.1:%d)" % port


def test_dns_failure(monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    msg = fails("dns", transport.AcsClient("http://acs.example:7547/").post, b"")
    assert msg == "cannot resolve ACS host acs.example"


def test_timeout(serve):
    def stall(req):
        server.release.wait()
        return 200, [], b""
    server = serve(stall)
    msg = fails("timeout", transport.AcsClient(server.url(), timeout=0.2).post, b"<x/>")
    assert msg == "ACS did not answer within 0.2 s (%s)" % server.url()


def _drip_server(tls=None, head=b"", body=b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10000):
    """A server that reads a request, sends `head`, then `body` one byte every 50 ms (up to
    30 s)."""
    import threading
    import time
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    stop = threading.Event()

    def run():
        conn, _ = lsock.accept()
        if tls is not None:
            conn = tls.wrap_socket(conn, server_side=True)
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            conn.sendall(head)
            end = time.monotonic() + 30
            for byte in body:
                if stop.wait(0.05) or time.monotonic() > end:
                    break
                conn.sendall(bytes([byte]))
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return lsock, stop, thread


@pytest.mark.parametrize("https", [False, True])
def test_an_acs_dripping_bytes_cannot_hold_an_exchange(https, request):
    tls = request.getfixturevalue("pki")["ctx"]("127.0.0.1") if https else None
    lsock, stop, thread = _drip_server(tls)
    url = "%s://127.0.0.1:%d/acs" % ("https" if https else "http", lsock.getsockname()[1])
    ca = request.getfixturevalue("pki")["ca"] if https else None
    try:
        # Every read gets a byte well within the timeout; only the whole exchange is late.
        msg = fails("timeout", transport.AcsClient(url, ca_file=ca, timeout=1, exchange_limit=1.5)
                    .post, b"<x/>")
    finally:
        stop.set()
        thread.join(5)
        lsock.close()
    assert msg == "ACS answered too slowly: one exchange took over 1.5 s (%s)" % url


def test_a_file_server_dripping_bytes_cannot_hold_a_download():
    lsock, stop, thread = _drip_server(head=b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n",
                                       body=b"x" * 10000)
    url = "http://127.0.0.1:%d/fw.bin" % lsock.getsockname()[1]
    pieces = []
    try:
        msg = fails("timeout", file_transfer.download, url, io.BytesIO(), timeout=1, limit=1.5,
                    on_chunk=pieces.append)
    finally:
        stop.set()
        thread.join(5)
        lsock.close()
    assert msg == "file server answered too slowly: the transfer took over 1.5 s (%s)" % url
    assert len(pieces) > 1   # handed on as they came, not held for a 64 KiB read


def test_the_exchange_limit_applies_to_each_post(serve):
    import time

    def slow(req):
        time.sleep(1.5)
        return 200, [], b"<ok/>"
    t = transport.AcsClient(serve(slow).url(), exchange_limit=2.5)
    assert [t.post(b"<x/>")[0] for _ in range(2)] == [200, 200]  # 3 s together


def test_unsupported_url_scheme():
    msg = fails("protocol", transport.AcsClient, "ftp://acs.example/")
    assert msg == "unsupported URL ftp://acs.example/ (only http and https)"


# -- HTTPS --

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    trustme = pytest.importorskip("trustme")
    ssl = pytest.importorskip("ssl")
    d = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(d / "ca.pem"))

    def server_context(*names, client_ca=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(*names).configure_cert(ctx)
        if client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            client_ca.configure_trust(ctx)
        return ctx

    client_ca = trustme.CA()
    client_ca.issue_cert("cpe.example").private_key_and_cert_chain_pem.write_to_path(
        str(d / "client.pem"))
    return {"ca": str(d / "ca.pem"), "client": str(d / "client.pem"),
            "ctx": server_context, "client_ca": client_ca}


def _half_record_tls_server(ctx, half_sent, go_on):
    """A TLS server on a raw socket: it answers one request with one TLS record, of which it
    sends half, sets `half_sent`, and sends the rest once `go_on` is set."""
    ssl = pytest.importorskip("ssl")
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def run():
        conn, _ = lsock.accept()
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(inc, out, server_side=True)

        def pump(step):
            while True:
                try:
                    return step()
                except ssl.SSLWantReadError:
                    conn.sendall(out.read())
                    data = conn.recv(65536)
                    if not data:
                        raise EOFError
                    inc.write(data)
        with conn:
            pump(tls.do_handshake)
            conn.sendall(out.read())
            request = b""
            while not request.endswith(b"<x/>"):
                request += pump(lambda: tls.read(65536))
            tls.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n<ok/>")
            record = out.read()
            conn.sendall(record[:len(record) // 2])
            half_sent.set()
            go_on.wait(10)
            conn.sendall(record[len(record) // 2:])
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return lsock, thread


def test_the_caller_s_wait_runs_while_a_tls_record_is_half_in(pki):
    # The daemon serves its listener in `wait`: TLS must not block inside a record the ACS
    # sends slowly (the socket then has bytes, but no whole record to decrypt).
    import select
    half_sent, waited = threading.Event(), threading.Event()
    lsock, thread = _half_record_tls_server(pki["ctx"]("127.0.0.1"), half_sent, waited)
    calls = []

    def wait(readable, writable, timeout):
        calls.append((readable, writable, half_sent.is_set()))
        if half_sent.is_set():
            waited.set()   # the rest comes only now
        r, w, _ = select.select(readable, writable, [], timeout)
        return r, w
    try:
        t = transport.AcsClient("https://127.0.0.1:%d/acs" % lsock.getsockname()[1],
                              ca_file=pki["ca"], wait=wait)
        assert t.post(b"<x/>")[2] == b"<ok/>"
    finally:
        waited.set()
        thread.join(5)
        lsock.close()
    assert any(during for _, _, during in calls)   # called while half the record was in
    assert all(len(r) + len(w) == 1 for r, w, _ in calls)


def test_https_verified(serve, pki):
    server = serve(ok, tls=pki["ctx"]("127.0.0.1", "localhost"))
    t = transport.AcsClient(server.url(host="localhost"), ca_file=pki["ca"])
    assert [t.post(b"<x/>")[0] for _ in range(2)] == [200, 200]
    t.close()
    t = transport.AcsClient(server.url(), ca_file=pki["ca"])
    assert t.post(b"<x/>")[0] == 200
    assert server.accepts == 2


def test_https_hostname_mismatch(serve, pki):
    server = serve(ok, tls=pki["ctx"]("acs.example"))
    msg = fails("tls", transport.AcsClient(server.url(), ca_file=pki["ca"]).post, b"")
    assert msg == "TLS certificate of 127.0.0.1 does not match its name"


def test_https_untrusted_ca(serve, pki):
    server = serve(ok, tls=pki["ctx"]("127.0.0.1"))
    msg = fails("tls", transport.AcsClient(server.url()).post, b"")  # system CAs only
    assert msg.startswith("TLS certificate of 127.0.0.1 is not trusted "
                          "(self-signed / unknown CA): ")


def test_https_missing_ca_file(pki):
    msg = fails("tls", transport.AcsClient("https://127.0.0.1:1/", ca_file="/nonexistent.pem")
                .post, b"")
    assert msg.startswith("cannot load the CA file /nonexistent.pem")


def test_mutual_tls(serve, pki):
    server = serve(ok, tls=pki["ctx"]("127.0.0.1", client_ca=pki["client_ca"]))
    t = transport.AcsClient(server.url(), ca_file=pki["ca"], client_cert=pki["client"])
    assert t.post(b"<x/>")[0] == 200
    msg = fails("tls", transport.AcsClient(server.url(), ca_file=pki["ca"]).post, b"<x/>")
    assert msg.startswith("TLS handshake with 127.0.0.1 failed: ")
    assert "client certificate" in msg


def test_https_is_never_followed_to_plain_http(serve, pki):
    # The credentials and a Secure cookie would stay behind, but the Inform itself (with the
    # connection-request URL) would go out in clear: the session fails instead.
    plain = serve(ok)
    tls = serve(lambda req: (307, [("Location", plain.url("/acs"))], b""),
                tls=pki["ctx"]("127.0.0.1"))
    msg = fails("protocol", transport.AcsClient(tls.url(), "cpe", "pw", ca_file=pki["ca"]).post,
                b"<inform/>")
    assert msg == ("ACS redirected %s to plain %s; refused, as the session would go unencrypted"
                   % (tls.url(), plain.url("/acs")))
    assert plain.requests == []
    # A file given as https is not fetched over http either (the fault says why).
    files = serve(lambda req: (302, [("Location", plain.url("/fw.bin"))], b""),
                  tls=pki["ctx"]("127.0.0.1"))
    msg = fails("protocol", file_transfer.download, files.url("/fw.bin"), io.BytesIO(), ca_file=pki["ca"])
    assert msg == ("file server redirected %s to plain %s; refused, as the transfer would go "
                   "unencrypted" % (files.url("/fw.bin"), plain.url("/fw.bin")))
    assert plain.requests == []
    # https to https, and http to https, are followed.
    other = serve(ok, tls=pki["ctx"]("127.0.0.1"))
    up = serve(lambda req: (307, [("Location", other.url("/acs"))], b""))
    assert transport.AcsClient(up.url(), ca_file=pki["ca"]).post(b"<x/>")[0] == 200


# -- file transfers --

class _Chunks(io.BytesIO):
    def __init__(self):
        io.BytesIO.__init__(self)
        self.sizes = []

    def write(self, data):
        self.sizes.append(len(data))
        return io.BytesIO.write(self, data)


def test_download_digest_streamed(serve, tmp_path):
    data = os.urandom(300 * 1024 + 17)
    server = serve(digest_server("fu", "fp", body=data))
    out = _Chunks()
    assert file_transfer.download(server.url("/fw.bin"), out, "fu", "fp") == len(data)
    assert out.getvalue() == data and max(out.sizes) <= 64 * 1024 and len(out.sizes) > 4
    path = tmp_path / "fw.bin"
    with open(str(path), "wb") as f:
        assert file_transfer.download(server.url("/fw.bin"), f, "fu", "fp") == len(data)
    assert path.read_bytes() == data
    assert all(r.method == "GET" for r in server.requests)


def test_download_errors(serve):
    server = serve(lambda req: (404, [], b"no") if req.path == "/missing" else
                   (200, [], b"x" * 1000))
    with pytest.raises(transport.TransportError) as e:
        file_transfer.download(server.url("/missing"), io.BytesIO())
    assert (e.value.kind, e.value.status) == ("http", 404)
    assert e.value.message == "file server answered HTTP 404 Not Found for %s" \
        % server.url("/missing")
    fails("too-large", file_transfer.download, server.url("/f"), io.BytesIO(), max_size=999)
    msg = fails("auth", file_transfer.download,
                serve(basic_server("u", "p")).url("/f"), io.BytesIO(), "u", "bad")
    assert msg.startswith("file server refused the credentials (HTTP 401) at ")


def test_download_server_dies_mid_body(serve):
    def handle(req):
        req.handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" +
                                b"x" * 1000)
        req.handler.wfile.flush()
        req.handler.close_connection = True
        return None
    server = serve(handle)
    out = io.BytesIO()
    msg = fails("connect", file_transfer.download, server.url("/fw.bin"), out)
    assert msg == ("connection to the file server was lost in the middle of a response (%s)"
                   % server.url("/fw.bin"))


def _close_delimited(data):
    def handle(req):
        # HTTP/1.0 style: no Content-Length, no chunks, the end of the body is the close.
        req.handler.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + data)
        req.handler.wfile.flush()
        req.handler.close_connection = True
        return None
    return handle


def test_download_of_a_body_without_length_is_refused_unless_the_size_is_checked(serve):
    server = serve(_close_delimited(b"x" * 1000))   # a cut-off image looks exactly like this
    msg = fails("unsized", file_transfer.download, server.url("/fw.bin"), io.BytesIO())
    assert msg.startswith("file server sent %s with neither a length nor chunked" % server.url("/fw.bin"))
    out = io.BytesIO()
    assert file_transfer.download(server.url("/fw.bin"), out, require_length=False) == 1000


def test_redirects_carry_credentials_only_where_they_belong(serve):
    seen = []

    def target(req):
        seen.append(req.headers.get("Authorization"))
        return basic_server("u", "secret")(req)
    other = serve(target)
    # A file server that sends the download to another host gets no credentials there.
    first = serve(lambda req: (302, [("Location", other.url("/f", host="localhost"))], b""))
    msg = fails("auth", file_transfer.download, first.url("/f"), io.BytesIO(), "u", "secret")
    assert "no username is configured" in msg and seen == [None]
    # On the same host (another port), and for the ACS on any host, they go along.
    same = serve(lambda req: (302, [("Location", other.url("/f"))], b""))
    assert file_transfer.download(same.url("/f"), io.BytesIO(), "u", "secret") == 5
    acs = serve(lambda req: (307, [("Location", other.url("/acs", host="localhost"))], b""))
    assert transport.AcsClient(acs.url(), "u", "secret").post(b"<x/>")[0] == 200


def test_a_bare_401_after_our_credentials_means_they_were_refused(serve):
    def handle(req):
        if req.headers.get("Authorization"):
            return 401, [], b""          # as GenieACS answers a wrong Digest password
        return 401, [("WWW-Authenticate", auth.challenge("acs", "n1"))], b""
    server = serve(handle)
    msg = fails("auth", transport.AcsClient(server.url(), "cpe", "wrong").post, b"<x/>")
    assert msg == "ACS refused the credentials (HTTP 401) at %s" % server.url()


def test_cookie_max_age_that_is_no_number_is_ignored_and_zero_deletes(serve):
    def handle(req):
        if req.body == b"set":
            return 200, [("Set-Cookie", "a=1; Max-Age=\u00b2"),   # a superscript two: isdigit()
                         ("Set-Cookie", "b=2")], b""
        if req.body == b"drop":
            return 200, [("Set-Cookie", "b=; Max-Age=00")], b""
        return 200, [], (req.headers.get("Cookie") or "").encode()
    server = serve(handle)
    t = transport.AcsClient(server.url())
    t.post(b"set")
    assert t.post(b"show")[2] == b"a=1; b=2"
    t.post(b"drop")
    assert t.post(b"show")[2] == b"a=1"


def test_download_local_write_error_is_not_a_transport_error(serve):
    server = serve(lambda req: (200, [], b"x" * 10))

    class Full(io.BytesIO):
        def write(self, data):
            raise OSError(28, "No space left on device")
    with pytest.raises(OSError) as e:
        file_transfer.download(server.url("/f"), Full())
    assert not isinstance(e.value, transport.TransportError) and e.value.errno == 28


def test_upload_put_with_basic_auth(serve):
    server = serve(basic_server("u", "p", status=201))
    data = os.urandom(200 * 1024)
    src = io.BytesIO(b"head" + data)
    src.seek(4)
    assert file_transfer.upload(server.url("/up/log.txt"), src, len(data), "u", "p") == 201
    assert [(r.method, r.body == data) for r in server.requests] == [("PUT", True)] * 2
    assert server.requests[1].headers["Content-Type"] == "application/octet-stream"


# -- footprint --

@pytest.mark.e2e
def test_http_use_loads_neither_ssl_nor_openssl(serve):
    server = serve(digest_server("cpe", "pw"))
    code = (
        "import sys, json\n"
        "sys.path.insert(0, %r)\n"
        "import tr069client.transport as t\n"
        "s = t.AcsClient(%r, 'cpe', 'pw')\n"
        "status = s.post(b'<x/>')[0]\n"
        "s.close()\n"
        "bad = ['ssl', '_ssl', 'hashlib', '_hashlib', 'hmac', 'logging', 'typing',\n"
        "       'dataclasses', 'secrets', 'tempfile', 'subprocess', 'http.cookiejar',\n"
        "       'urllib.request', 'http.server', 'encodings.idna', 'unicodedata']\n"
        "print(json.dumps([status, [m for m in bad if m in sys.modules]]))\n"
        % (ROOT, server.url()))
    out = subprocess.check_output([sys.executable, "-I", "-S", "-c", code])
    assert json.loads(out.decode()) == [200, []]


@pytest.mark.e2e
def test_https_to_a_named_host_loads_no_idna_codec(serve, pki):
    # ssl encodes a str server_hostname with the idna codec (and unicodedata, 0.3 MB);
    # an ASCII name goes as bytes.
    server = serve(ok, tls=pki["ctx"]("localhost"))
    code = (
        "import sys, json\n"
        "sys.path.insert(0, %r)\n"
        "import tr069client.transport as t\n"
        "s = t.AcsClient(%r, ca_file=%r)\n"
        "status = s.post(b'<x/>')[0]\n"
        "s.close()\n"
        "print(json.dumps([status, [m for m in ('encodings.idna', 'unicodedata', 'stringprep')\n"
        "                           if m in sys.modules]]))\n"
        % (ROOT, server.url(host="localhost"), pki["ca"]))
    out = subprocess.check_output([sys.executable, "-I", "-S", "-c", code])
    assert json.loads(out.decode()) == [200, []]


def test_folded_headers_from_a_hostile_server_do_not_escape_as_bugs(serve):
    def handle(req):
        if req.body == b"cookie":
            raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\n c\r\nContent-Length: 0\r\n\r\n"
        else:
            raw = (b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="r", '
                   b'nonce="ab\r\n cd", qop=auth\r\nContent-Length: 0\r\n\r\n')
        req.handler.wfile.write(raw)
        return None
    server = serve(handle)
    t = transport.AcsClient(server.url(), "cpe", "pw")
    t.post(b"cookie")
    fails("auth", t.post, b"auth")
    assert "Cookie" not in server.requests[1].headers
    assert "\n" not in server.requests[-1].headers["Authorization"]


def test_the_peer_rules_without_a_socket():
    """Peer.begin()/follow() are the rules a non-blocking client (fleet mode) drives: answer a
    401 once, follow a redirect (to another server: credentials stay behind for a file
    server), refuse https to http, and take anything else as the answer."""
    from tr069client.transport import Peer, TransportError, interim
    peer = Peer("https://acs.example/cwmp", "cpe", "pw", None, None, 30, "ua", "ACS")
    peer.begin()
    assert peer.follow(401, None, ['Digest realm="r", nonce="n1", qop="auth"'], ["sid=1; Path=/"])
    assert peer.auth.header("POST", peer.target).startswith("Digest username=\"cpe\"")
    assert peer.cookies.header("acs.example", "/cwmp", True) == "sid=1"
    with pytest.raises(TransportError, match="refused the credentials"):
        peer.follow(401, None, [], ())
    peer.begin()
    assert peer.follow(307, "https://other.example/x", [], ()) and peer.url == "https://other.example/x"
    with pytest.raises(TransportError, match="redirected https://other.example/x to plain"):
        peer.follow(302, "http://other.example/y", [], ())
    peer.begin()
    assert not peer.follow(200, None, [], ()) and not peer.follow(302, None, [], ())
    assert interim(401, None) and interim(301, "/x") and not interim(301, None) and not interim(200, "/x")
    files = Peer("http://fs.example/f", "u", "p", None, None, 30, "ua", "file server")
    files.begin()
    assert files.follow(302, "http://cdn.example/f", [], ()) and files.username == ""


def test_a_list_body_is_let_go_once_the_answer_begins(serve):
    # A 1,000-name GetParameterNamesResponse was held while the next ACS message (its tree)
    # was read: the session's peak memory. The 401 round still sends it whole.
    server = serve(digest_server("cpe", "pw"))
    t = transport.AcsClient(server.url(), "cpe", "pw")
    body = [b"<a>", b"x" * 70000, b"</a>"]
    assert t.post(body, name="GetParameterNamesResponse")[0] == 200
    assert body == [] and [r.body for r in server.requests] == [b"<a>" + b"x" * 70000 + b"</a>"] * 2
