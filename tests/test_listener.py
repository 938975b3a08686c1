"""The connection-request listener on real loopback sockets, driven by a select loop here."""

import binascii
import errno
import select
import socket
import os
import subprocess
import sys

import pytest

from tr069client import auth, listener

PATH = "/cr-3f9a1c"
T0 = 1000.0


class Loop:
    """The daemon's loop in miniature: select, handle with a fake clock, count events."""

    def __init__(self, lst):
        self.lst, self.now, self.events = lst, T0, 0
        self.conns = []  # closed at teardown

    def turn(self, timeout=0.05):
        r, w, _ = select.select(self.lst.readable(), self.lst.writable(), [], timeout)
        self.events += self.lst.handle(r, w, self.now)

    def until(self, done, what):
        for _ in range(400):  # normally a few turns; a bug shows as a failure, not a hang
            if done():
                return
            self.turn()
        raise AssertionError("never happened: " + what)

    def connect(self, host="127.0.0.1", source=None, wait=True):
        conn = Conn(socket.create_connection((host, self.lst.port),
                                             source_address=source and (source, 0)))
        self.conns.append(conn)
        if wait:
            self.until(lambda: self.accepted(conn), "accept")
        return conn

    def accepted(self, conn):
        """True while the listener holds the other end of `conn`."""
        me = conn.sock.getsockname()
        for sock in self.lst.readable()[1:] + self.lst.writable():
            try:
                peer = sock.getpeername()
                if peer[1] == me[1] and peer[0].endswith(me[0]):  # maybe ::ffff:127.0.0.1
                    return True
            except OSError:
                pass
        return False

    def ask(self, conn, data):
        """Send raw bytes and return the parsed answer (status, headers)."""
        conn.sock.sendall(data)
        self.until(conn.has_response, "a response")
        return conn.pop_response()

    def get(self, conn, path=PATH, authorization=None, extra=""):
        head = "GET %s HTTP/1.1\r\nHost: 192.0.2.1:7547\r\n%s" % (path, extra)
        if authorization:
            head += "Authorization: %s\r\n" % authorization
        return self.ask(conn, (head + "\r\n").encode("latin-1"))

    def closed(self, conn):
        self.until(conn.at_eof, "the listener closing the connection")
        return True


class Conn:
    """A test client socket with its own receive buffer."""

    def __init__(self, sock):
        sock.setblocking(False)
        self.sock, self.buf, self.eof = sock, b"", False

    def _fill(self):
        while not self.eof:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
            self.buf += data

    def has_response(self):
        self._fill()
        return b"\r\n\r\n" in self.buf

    def at_eof(self):
        self._fill()
        return self.eof

    def pop_response(self):
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        assert headers["content-length"] == "0"
        return status, headers

    def close(self):
        self.sock.close()


@pytest.fixture
def creds():
    return {"user": "acs", "password": "s3cret"}


@pytest.fixture
def make(creds):
    made = []

    def make(**kw):
        kw.setdefault("address", "127.0.0.1")
        kw.setdefault("port", 0)
        kw.setdefault("path", PATH)
        kw.setdefault("credentials", lambda: (creds["user"], creds["password"]))
        kw.setdefault("clock", lambda: pytest.fail("the listener must use the loop's time"))
        loop = Loop(listener.Listener(**kw))
        made.append(loop)
        return loop

    yield make
    for loop in made:
        loop.lst.close()
        for conn in loop.conns:
            conn.close()


def digest_flow(loop, conn, user="acs", password="s3cret", path=PATH):
    """GenieACS: a GET without credentials, then Digest on the same connection."""
    status, headers = loop.get(conn, path)
    assert status == 401
    client = auth.Client(user, password)
    assert client.answer(headers["www-authenticate"])
    return client, loop.get(conn, path, client.header("GET", path))


def test_genieacs_flow_on_one_connection(make):
    loop = make()
    conn = loop.connect()
    status, headers = loop.get(conn)
    assert status == 401
    scheme, params = auth.parse_challenges(headers["www-authenticate"])[0]
    assert scheme == "digest"
    assert params["realm"] == "tr069client"
    assert params["qop"] == "auth" and params["algorithm"] == "MD5"
    assert "stale" not in params
    assert loop.events == 0
    client = auth.Client("acs", "s3cret")
    client.answer(headers["www-authenticate"])
    status, headers = loop.get(conn, authorization=client.header("GET", PATH))
    assert status == 200
    assert loop.events == 1
    assert not conn.at_eof()  # keep-alive


def test_digest_on_a_new_connection_and_query_ignored(make):
    loop = make()
    first = loop.connect()
    client, (status, _) = digest_flow(loop, first, path=PATH + "?ts=1&id=2")
    assert status == 200
    first.close()
    second = loop.connect()
    status, _ = loop.get(second, authorization=client.header("GET", PATH))
    assert status == 200
    assert loop.events == 2


def test_wrong_password_gets_401_and_no_event(make):
    loop = make()
    _, (status, headers) = digest_flow(loop, loop.connect(), password="wrong")
    assert status == 401
    assert "stale" not in headers["www-authenticate"]
    assert loop.events == 0


def test_basic_is_refused_even_with_the_right_password(make):
    loop = make()
    token = binascii.b2a_base64(b"acs:s3cret", newline=False).decode()
    status, headers = loop.get(loop.connect(), authorization="Basic " + token)
    assert status == 401
    assert headers["www-authenticate"].startswith("Digest ")
    assert loop.events == 0


def test_credentials_are_read_at_each_request(make, creds):
    loop = make()
    conn = loop.connect()
    creds["password"] = "new-one"
    client, (status, _) = digest_flow(loop, conn, password="new-one")
    assert status == 200 and loop.events == 1


@pytest.mark.parametrize("user,password", [("", ""), ("acs", ""), ("", "s3cret")])
def test_empty_credentials_refuse_everything_and_say_why(make, creds, logged, user, password):
    creds.update(user=user, password=password)
    loop = make()
    conn = loop.connect()
    _, (status, _) = digest_flow(loop, conn, user=user, password=password)
    assert status == 401
    for _ in range(5):
        assert loop.get(conn)[0] == 401
    assert loop.events == 0
    lines = [l for l in logged.getvalue().splitlines() if "refused" in l]
    assert len(lines) == 1  # rate-limited: a scan does not flood the log
    assert "connection request refused: ConnectionRequestUsername/Password are not set" in lines[0]
    assert " warning " in lines[0]
    loop.now += 61  # after the quiet period the warning comes back, with a count
    assert loop.get(conn)[0] == 401
    lines = [l for l in logged.getvalue().splitlines() if "refused" in l]
    assert len(lines) == 2 and "6 more" in lines[1]


def test_wrong_path_404_and_other_methods_405(make):
    loop = make()
    status, _ = loop.get(loop.connect(), path="/")
    assert status == 404
    status, _ = loop.get(loop.connect(), path=PATH + "x")
    assert status == 404
    conn = loop.connect()
    status, headers = loop.ask(conn, ("POST %s HTTP/1.1\r\nHost: x\r\n\r\n" % PATH).encode())
    assert status == 405 and headers["allow"] == "GET"
    assert loop.closed(conn)
    assert loop.events == 0


def test_absolute_form_target_is_accepted(make):
    loop = make()
    target = "http://192.0.2.1:7547" + PATH
    _, (status, _) = digest_flow(loop, loop.connect(), path=target)
    assert status == 200 and loop.events == 1


def test_replayed_nonce_count_is_refused(make):
    loop = make()
    conn = loop.connect()
    status, headers = loop.get(conn)
    client = auth.Client("acs", "s3cret")
    client.answer(headers["www-authenticate"])
    replay = client.header("GET", PATH)
    assert loop.get(conn, authorization=replay)[0] == 200
    assert loop.get(conn, authorization=replay)[0] == 401
    assert loop.get(loop.connect(), authorization=replay)[0] == 401
    assert loop.events == 1
    assert loop.get(conn, authorization=client.header("GET", PATH))[0] == 200  # nc 2
    assert loop.events == 2


def test_expired_nonce_gets_stale_and_the_retry_works(make):
    loop = make()
    conn = loop.connect()
    client, (status, _) = digest_flow(loop, conn)
    assert status == 200
    loop.now += 120
    status, headers = loop.get(conn, authorization=client.header("GET", PATH))
    assert status == 401
    assert client.answer(headers["www-authenticate"]) and client.stale
    assert loop.get(conn, authorization=client.header("GET", PATH))[0] == 200
    assert loop.events == 2


def test_unknown_nonce_with_a_wrong_password_is_not_stale(make):
    loop = make()
    client = auth.Client("acs", "wrong")
    client.answer(auth.challenge("tr069client", "0123456789abcdef"))
    status, headers = loop.get(loop.connect(), authorization=client.header("GET", PATH))
    assert status == 401 and "stale" not in headers["www-authenticate"]


def test_slow_client_dropped_at_its_deadline_while_another_is_served(make):
    loop = make(header_timeout=5.0)
    slow = loop.connect()
    slow.sock.sendall(b"GET /cr-3f")
    loop.turn()
    assert loop.lst.next_deadline() == T0 + 5.0
    loop.now += 1.0
    _, (status, _) = digest_flow(loop, loop.connect())
    assert status == 200 and loop.events == 1
    assert not slow.at_eof()
    loop.now = T0 + 4.9
    assert loop.lst.expire(loop.now) == 0
    loop.now = T0 + 5.0
    assert loop.lst.expire(loop.now) == 1
    assert loop.closed(slow)


def test_keep_alive_gets_a_fresh_deadline_per_request(make):
    loop = make(header_timeout=5.0)
    conn = loop.connect()
    loop.now += 3.0
    assert loop.get(conn)[0] == 401
    assert loop.lst.next_deadline() == T0 + 8.0


def test_half_open_clients_beyond_the_cap_drop_the_longest_waiting(make):
    loop = make(max_clients=3)
    idle = [loop.connect() for _ in range(5)]
    assert len(loop.lst.readable()) == 1 + 3
    assert loop.closed(idle[0]) and loop.closed(idle[1])
    assert not idle[4].at_eof()
    _, (status, _) = digest_flow(loop, loop.connect())
    assert status == 200 and loop.events == 1
    assert loop.closed(idle[2])
    assert len(loop.lst.readable()) == 1 + 3


def test_ready_clients_are_read_before_new_connections_are_accepted(make):
    """Issue 15.5: connections accepted first pushed out a client whose request had arrived."""
    loop = make(max_clients=3)
    acs = loop.connect()
    acs.sock.sendall(b"GET /cr-3f9a1c HTTP/1.1\r\nHost: x\r\n\r\n")
    newcomers = [loop.connect(wait=False) for _ in range(6)]  # in the backlog meanwhile
    loop.until(acs.has_response, "the answer")
    status, headers = acs.pop_response()
    assert status == 401 and not acs.at_eof()
    loop.until(lambda: all(c.at_eof() or loop.accepted(c) for c in newcomers), "accepts")
    client = auth.Client("acs", "s3cret")
    client.answer(headers["www-authenticate"])
    # Its Digest answer is due: newcomers, not it, make room for more connections.
    more = [loop.connect(wait=False) for _ in range(3)]
    loop.until(lambda: all(c.at_eof() or loop.accepted(c) for c in more), "accepts")
    assert loop.get(acs, authorization=client.header("GET", PATH))[0] == 200
    assert loop.events == 1


def test_over_the_cap_the_client_mid_digest_stays(make):
    loop = make(max_clients=3)
    acs = loop.connect()
    status, headers = loop.get(acs)
    assert status == 401
    loop.now += 0.5  # the ACS's answer is on its way
    others = [loop.connect() for _ in range(2)]
    later = loop.connect()
    assert loop.closed(others[0]) and not acs.at_eof()
    client = auth.Client("acs", "s3cret")
    client.answer(headers["www-authenticate"])
    assert loop.get(acs, authorization=client.header("GET", PATH))[0] == 200
    assert not later.at_eof()


def test_over_the_cap_the_source_holding_most_clients_gives_one_up(make):
    loop = make(max_clients=4)
    acs = loop.connect()  # connected first: the longest waiting
    attacker = [loop.connect(source="127.0.0.2") for _ in range(6)]
    assert not acs.at_eof()
    assert loop.closed(attacker[0]) and loop.closed(attacker[1]) and loop.closed(attacker[2])
    _, (status, _) = digest_flow(loop, acs)
    assert status == 200


def test_over_the_rate_limit_503_and_close_without_retry_after(make):
    loop = make(rate=(2, 60.0))
    for _ in range(2):
        loop.lst.pending = False  # as the daemon says: no session asked for yet
        _, (status, _) = digest_flow(loop, loop.connect())
        assert status == 200
    loop.lst.pending = False
    conn = loop.connect()
    _, (status, headers) = digest_flow(loop, conn)
    assert status == 503 and headers["connection"] == "close" and "retry-after" not in headers
    assert loop.closed(conn)
    loop.lst.pending = True  # TR-069 3.2.2: one more joins the session still to come
    _, (status, _) = digest_flow(loop, loop.connect())
    assert status == 200 and loop.events == 3


def test_a_refused_request_is_closed_without_reading_its_body(make):
    """Issue 15.6: after a 400 the listener read a 10 MB body to its end, 4 KB at a time."""
    loop = make()
    conn = loop.connect()
    conn.sock.sendall(b"GET /cr-3f9a1c HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n")
    sent = 0
    for _ in range(400):
        try:
            sent += conn.sock.send(b"x" * 65536)
        except BlockingIOError:
            pass
        except OSError:  # reset: the listener closed with the body unread
            break
        loop.turn(0.01)
        if len(loop.lst.readable()) == 1:
            break
    assert len(loop.lst.readable()) == 1 and loop.lst.writable() == []  # closed, not draining
    assert sent < 10000000


def test_a_scan_of_other_paths_does_not_use_up_the_acs_rate(make):
    # Port 7547 is scanned all day; requests that miss the random path get their 404 without
    # counting, so the ACS still gets through at once.
    loop = make(rate=(5, 60.0))
    for path in ["/", "/tr069", "/cgi-bin/x", PATH + "x"] * 5:
        assert loop.get(loop.connect(), path=path)[0] == 404
    _, (status, _) = digest_flow(loop, loop.connect())
    assert status == 200 and loop.events == 1


def test_out_of_descriptors_the_listener_rests_instead_of_spinning(make, logged):
    loop = make()
    lst = loop.lst
    real = lst._sock

    class Exhausted:
        """The listening socket while the process has no descriptor left: accept() fails
        and select() keeps saying there is a connection to take."""
        def accept(self):
            raise OSError(errno.EMFILE, "Too many open files")

        def fileno(self):
            return real.fileno()
    lst._sock = fake = Exhausted()
    try:
        lst.handle([fake], [], T0)
        assert fake not in lst.readable() and lst.next_deadline() == T0 + 1.0
        lst.expire(T0 + 0.5)
        assert fake not in lst.readable()
        lst.expire(T0 + 1.0)
        assert lst.readable() == [fake] and lst.next_deadline() is None
        assert logged.getvalue().count("cannot accept: Too many open files") == 1
    finally:
        lst._sock = real


@pytest.mark.parametrize("head", [
    b"GET /cr-3f9a1c HTTP/1.1\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n",
    b"GET /" + b"a" * 5000,
])
def test_oversized_head_gets_431_and_close(make, head):
    loop = make(max_request=4096)
    conn = loop.connect()
    status, headers = loop.ask(conn, head)
    assert status == 431 and headers["connection"] == "close"
    assert loop.closed(conn)
    conn.close()  # the listener discarded the rest of the input until this EOF
    loop.until(lambda: len(loop.lst.readable()) == 1, "only the listening socket left")


def test_refused_client_sees_a_clean_close_not_a_reset(make):
    """Unread input at close() would send a RST; the listener drains it after shutting down."""
    loop = make(max_request=4096)
    conn = loop.connect()
    conn.sock.setblocking(True)
    conn.sock.sendall(b"GET /" + b"a" * 20000)  # far more than the listener will read
    conn.sock.setblocking(False)
    got = b""
    for _ in range(400):
        loop.turn()
        try:
            data = conn.sock.recv(4096)  # a ConnectionResetError here fails the test
        except BlockingIOError:
            continue
        if not data:
            break
        got += data
    assert got.startswith(b"HTTP/1.1 431 ") and got.endswith(b"\r\n\r\n")


def test_malformed_request_and_body_get_400(make):
    loop = make()
    for raw in (b"GARBAGE\r\n\r\n", b"GET /cr-3f9a1c HTTP/1.1\r\nBad header\r\n\r\n",
                b"GET /cr-3f9a1c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"):
        conn = loop.connect()
        assert loop.ask(conn, raw)[0] == 400
        assert loop.closed(conn)


def test_request_then_shutdown_still_answered(make):
    loop = make()
    conn = loop.connect()
    conn.sock.sendall(b"GET /cr-3f9a1c HTTP/1.0\r\n\r\n")
    conn.sock.shutdown(socket.SHUT_WR)
    loop.until(conn.has_response, "a response")
    assert conn.pop_response()[0] == 401
    assert loop.closed(conn)
    loop.until(lambda: not loop.accepted(conn), "the listener dropping the client")


def test_http10_closes_unless_keep_alive(make):
    loop = make()
    conn = loop.connect()
    assert loop.ask(conn, b"GET /cr-3f9a1c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")[0] == 401
    assert not conn.at_eof()
    assert loop.ask(conn, b"GET /cr-3f9a1c HTTP/1.0\r\n\r\n")[0] == 401
    assert loop.closed(conn)


def test_pipelined_requests_are_answered_in_order(make):
    loop = make()
    conn = loop.connect()
    conn.sock.sendall(b"GET /cr-3f9a1c HTTP/1.1\r\n\r\n" * 3)
    loop.until(lambda: conn.has_response() and conn.buf.count(b"\r\n\r\n") == 3, "3 answers")
    assert [conn.pop_response()[0] for _ in range(3)] == [401, 401, 401]


class Trickle:
    """The listener's end of a socket whose send() takes only a few bytes at a time."""

    def __init__(self, sock):
        self._sock = sock

    def send(self, data):
        return self._sock.send(bytes(data[:7]))

    def __getattr__(self, name):
        return getattr(self._sock, name)


def test_partial_sends_wait_in_the_out_buffer(make):
    loop = make()
    lst = loop.lst
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    trickle = Trickle(ours)
    lst._clients[trickle] = listener._Client(trickle, "test", T0 + 5.0)  # as _accept would
    conn = Conn(theirs)
    loop.conns.append(conn)
    conn.sock.sendall(b"GET /cr-3f9a1c HTTP/1.1\r\n\r\n" * 2)
    loop.turn()
    assert lst.writable() == [trickle]
    assert trickle not in lst.readable()  # no more reading while an answer waits
    loop.until(lambda: conn.has_response() and conn.buf.count(b"\r\n\r\n") == 2, "2 answers")
    for _ in range(2):
        status, headers = conn.pop_response()
        assert status == 401 and headers["www-authenticate"].startswith("Digest realm=")
    assert lst.writable() == []


def test_url_and_ipv6_loopback(make):
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    loop = make(address="::1")
    assert loop.lst.url("::1") == "http://[::1]:%d%s" % (loop.lst.port, PATH)
    assert loop.lst.url("192.0.2.1") == "http://192.0.2.1:%d%s" % (loop.lst.port, PATH)
    assert loop.lst.url("fe80::1%eth0").startswith("http://[fe80::1%25eth0]:")
    _, (status, _) = digest_flow(loop, loop.connect(host="::1"))
    assert status == 200 and loop.events == 1


def test_unspecified_ipv6_is_dual_stack_where_possible(make):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        loop = make(address="::")
    except OSError:
        pytest.skip("cannot bind ::")
    try:
        conn = loop.connect(host="127.0.0.1")
    except OSError:
        pytest.skip("IPv6-only sockets on this system")
    assert loop.get(conn)[0] == 401


def test_bind_failure_says_where_and_why(make):
    loop = make()
    with pytest.raises(OSError) as info:
        listener.Listener("127.0.0.1", loop.lst.port, PATH)
    assert str(info.value) == "cannot listen on 127.0.0.1:%d: address in use" % loop.lst.port
    with pytest.raises(OSError) as info:
        listener.Listener("192.0.2.77", 0, PATH)  # TEST-NET-1: not ours
    assert str(info.value).startswith("cannot listen on 192.0.2.77:0: ")


def test_random_path_by_default():
    a = listener.Listener("127.0.0.1", 0)
    b = listener.Listener("127.0.0.1", 0)
    try:
        assert a.path.startswith("/") and len(a.path) > 16 and a.path != b.path
    finally:
        a.close()
        b.close()


@pytest.mark.e2e
def test_import_loads_no_heavy_modules():
    code = ("import sys; before = set(sys.modules); "
            "import tr069client.listener, tr069client.control; "
            "bad = {'http', 'http.server', 'threading', 'hashlib', '_hashlib', 'ssl', "
            "'secrets', 'logging', 'typing', 'socketserver', 'tempfile', 'subprocess'}; "
            "new = set(sys.modules) - before; "
            "print('tr069client.listener' in new, sorted(bad & new))")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.check_output([sys.executable, "-S", "-c", code], cwd=root)
    assert out.decode().split() == ["True", "[]"]


def test_no_acs_address_to_route_to_is_none_not_a_crash():
    # No ACS URL yet (waiting for DHCP), or one an ACS set without a host: no address.
    for url in ("", "http:///cwmp", "ftp:x"):
        assert listener.resolve(url) is None
    assert listener.resolve("http://127.0.0.1:7547/")[1][0] == "127.0.0.1"
