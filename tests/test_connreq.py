"""The connection-request answers as a pure function: request heads and a fake clock in,
statuses and bytes out (no sockets)."""

import pytest

from tr069client import auth, connreq

PATH = "/cr-3f9a1c"
ACS = "192.0.2.1"
T0 = 1000.0


def head(path=PATH, authorization=None, extra=""):
    text = "GET %s HTTP/1.1\r\nHost: 192.0.2.9:7547\r\n%s" % (path, extra)
    if authorization:
        text += "Authorization: %s\r\n" % authorization
    return text[:-2].encode("latin-1")  # as find_head() gives it: no line end


def headers_of(data):
    lines = data.decode("latin-1").split("\r\n")
    return {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:] if l)}


@pytest.fixture
def creds():
    return {"user": "acs", "password": "s3cret"}


@pytest.fixture
def gate(creds):
    return connreq.Gate(PATH, lambda: (creds["user"], creds["password"]))


def challenge(gate, now, peer=ACS, user="acs", password="s3cret"):
    """GenieACS's first GET; an auth.Client that took the challenge."""
    status, data, close = gate.answer(peer, head(), now)
    assert status == 401 and not close
    client = auth.Client(user, password)
    assert client.answer(headers_of(data)["www-authenticate"])
    return client


def digest(gate, now, peer=ACS, pending=False, **kw):
    """A whole GenieACS connection request: challenge, then the Digest answer; its status."""
    client = challenge(gate, now, peer, **kw)
    return gate.answer(peer, head(authorization=client.header("GET", PATH)), now, pending)[0]


def test_challenge_then_digest_is_accepted(gate):
    status, data, close = gate.answer(ACS, head(), T0)
    assert status == 401 and not close
    scheme, params = auth.parse_challenges(headers_of(data)["www-authenticate"])[0]
    assert scheme == "digest" and params["realm"] == "tr069client"
    assert params["qop"] == "auth" and params["algorithm"] == "MD5" and "stale" not in params
    client = auth.Client("acs", "s3cret")
    client.answer(headers_of(data)["www-authenticate"])
    status, data, close = gate.answer(ACS, head(authorization=client.header("GET", PATH)), T0 + 0.1)
    assert (status, close) == (200, False)
    assert data == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def test_sixty_requests_a_minute_through_a_flood_are_all_accepted(gate):
    """Issue 9.1: each GenieACS request (a session each) is accepted while, between its
    challenge and its answer, hundreds of unauthenticated and wrong-password requests arrive
    from other addresses: they neither use up its budget nor push its nonce out."""
    answers = []
    for second in range(60):
        now = T0 + second
        client = challenge(gate, now)
        for n in range(200):
            peer = "198.51.100.%d" % (n % 50)
            assert gate.answer(peer, head(), now)[0] == 401
            wrong = auth.Client("acs", "guess")
            wrong.answer(auth.challenge("tr069client", "0" * 36))
            status, data, _ = gate.answer(peer, head(authorization=wrong.header("GET", PATH)), now)
            assert status in (401, 503) and "retry-after" not in headers_of(data)
        answers.append(gate.answer(ACS, head(authorization=client.header("GET", PATH)),
                                   now + 0.05)[0])
    assert answers == [200] * 60


def test_beyond_the_budget_503_without_retry_after_and_pending_requests_join_free(creds):
    gate = connreq.Gate(PATH, lambda: ("acs", "s3cret"), rate=(5, 60.0))
    assert [digest(gate, T0) for _ in range(5)] == [200] * 5
    client = challenge(gate, T0)
    status, data, close = gate.answer(ACS, head(authorization=client.header("GET", PATH)), T0)
    assert (status, close) == (503, True)
    assert "retry-after" not in headers_of(data)  # TR-069 3.2.2: SHOULD NOT
    # TR-069 3.2.2: while the session a request asked for is still to come, more are
    # answered 200 and join it, at no cost.
    assert [digest(gate, T0, pending=True) for _ in range(20)] == [200] * 20
    assert digest(gate, T0 + 11.0) == 503
    assert digest(gate, T0 + 12.0) == 200  # one more each 60/5 s
    assert digest(gate, T0 + 12.0) == 503


def test_unauthenticated_requests_cost_no_budget(creds):
    gate = connreq.Gate(PATH, lambda: ("acs", "s3cret"), rate=(2, 60.0))
    for _ in range(1000):
        assert gate.answer("198.51.100.7", head(), T0)[0] == 401
    assert [digest(gate, T0), digest(gate, T0)] == [200, 200]


def test_failures_are_limited_per_source_and_then_not_even_checked(gate):
    attacker = "198.51.100.7"
    assert [digest(gate, T0, attacker, password="guess") for _ in range(10)] == [401] * 10
    status, data, close = gate.answer(attacker, head(authorization=challenge(
        gate, T0, attacker).header("GET", PATH)), T0)
    assert (status, close) == (503, True) and "retry-after" not in headers_of(data)
    assert digest(gate, T0, ACS) == 200  # another address is not locked out
    assert digest(gate, T0 + 5.9, attacker) == 503
    assert digest(gate, T0 + 6.0, attacker) == 200  # one attempt each 60/10 s
    assert digest(gate, T0 + 6.0, attacker, password="guess") == 401  # that one's
    assert digest(gate, T0 + 6.0, attacker, password="guess") == 503


def test_the_failure_table_is_bounded_and_forgets_the_oldest(gate):
    for n in range(1000):
        assert digest(gate, T0, "10.%d.%d.1" % (n // 250, n % 250), password="guess") == 401
    assert len(gate._sources) == connreq._SOURCES
    assert digest(gate, T0, ACS) == 200


@pytest.mark.parametrize("a,b,same", [
    ("2001:db8::1", "2001:db8::2:3", True),  # one /64: one subscriber
    ("2001:db8::1", "2001:db8:0:1::1", False),
    ("::ffff:192.0.2.1", "192.0.2.1", True),  # IPv4 on a dual-stack socket
    ("fe80::1%eth0", "fe80::1%eth1", True),
    ("192.0.2.1", "192.0.2.2", False),
])
def test_source_groups(a, b, same):
    assert (connreq.source_of(a) == connreq.source_of(b)) is same


def test_a_source_of_ipv6_addresses_shares_one_budget(gate):
    for n in range(10):
        assert digest(gate, T0, "2001:db8::%x" % (n + 1), password="guess") == 401
    assert digest(gate, T0, "2001:db8::ffff") == 503


def test_replayed_nonce_count_is_refused(gate):
    client = challenge(gate, T0)
    replay = client.header("GET", PATH)
    assert gate.answer(ACS, head(authorization=replay), T0)[0] == 200
    status, data, _ = gate.answer(ACS, head(authorization=replay), T0 + 1)
    assert status == 401 and "stale" not in headers_of(data)["www-authenticate"]
    assert gate.answer(ACS, head(authorization=client.header("GET", PATH)), T0 + 1)[0] == 200


def test_expired_or_foreign_nonce_with_the_right_password_is_stale(gate):
    client = challenge(gate, T0)
    status, data, _ = gate.answer(ACS, head(authorization=client.header("GET", PATH)), T0 + 61)
    assert status == 401
    assert client.answer(headers_of(data)["www-authenticate"]) and client.stale
    assert gate.answer(ACS, head(authorization=client.header("GET", PATH)), T0 + 61)[0] == 200
    other = connreq.Gate(PATH, lambda: ("acs", "s3cret"))  # another key: a daemon restarted
    foreign = challenge(other, T0)
    status, data, _ = gate.answer(ACS, head(authorization=foreign.header("GET", PATH)), T0)
    assert status == 401 and "stale=true" in headers_of(data)["www-authenticate"]


def test_a_forged_timestamp_is_not_fresh(gate):
    client = challenge(gate, T0)
    nonce = client._params["nonce"]
    client._params = dict(client._params, nonce="%012x" % int((T0 + 500) * 1000) + nonce[12:])
    status, data, _ = gate.answer(ACS, head(authorization=client.header("GET", PATH)), T0 + 100)
    assert status == 401 and "stale=true" in headers_of(data)["www-authenticate"]


def test_unknown_nonce_with_a_wrong_password_is_not_stale(gate):
    client = auth.Client("acs", "wrong")
    client.answer(auth.challenge("tr069client", "0123456789abcdef"))
    status, data, _ = gate.answer(ACS, head(authorization=client.header("GET", PATH)), T0)
    assert status == 401 and "stale" not in headers_of(data)["www-authenticate"]


def test_counts_of_answered_nonces_are_bounded_and_a_forgotten_one_is_stale(gate):
    first = challenge(gate, T0)
    replay = first.header("GET", PATH)
    assert gate.answer(ACS, head(authorization=replay), T0)[0] == 200
    for n in range(connreq._LIVE + 8):
        assert digest(gate, T0 + 1 + n * 0.01) == 200
    assert len(gate._live) <= connreq._LIVE
    status, data, _ = gate.answer(ACS, head(authorization=replay), T0 + 2)
    assert status == 401 and "stale=true" in headers_of(data)["www-authenticate"]


def test_challenges_keep_no_state(gate):
    for n in range(5000):
        gate.answer("198.51.100.%d" % (n % 200), head(), T0 + n * 0.001)
    assert gate._live == {} and gate._sources == {}


@pytest.mark.parametrize("raw,status", [
    (b"GARBAGE", 400),
    (b"GET /cr-3f9a1c HTTP/1.1\r\nBad header", 400),
    (b"GET /cr-3f9a1c HTTP/1.1\r\nContent-Length: 3", 400),
    (b"GET /cr-3f9a1c HTTP/1.1\r\nTransfer-Encoding: chunked", 400),
    (b"GET / HTTP/1.1", 404),
    (b"POST /cr-3f9a1c HTTP/1.1", 405),
])
def test_refusals_close(gate, raw, status):
    got, data, close = gate.answer(ACS, raw, T0)
    assert (got, close) == (status, True)
    assert b"Connection: close\r\n" in data


def test_find_head():
    assert connreq.find_head(bytearray(b"GET / HTTP/1.1\r\nHost: x\r\n"), 100) is None
    buf = bytearray(b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2")
    head_, size = connreq.find_head(buf, 100)
    assert head_ == b"GET / HTTP/1.1\r\nHost: x" and buf[size:] == b"GET /2"
    assert connreq.find_head(bytearray(b"GET /" + b"a" * 200), 100) is connreq.TOO_LARGE
    assert connreq.find_head(bytearray(b"GET /" + b"a" * 200 + b"\r\n\r\n"), 100) \
        is connreq.TOO_LARGE


def test_one_gate_answers_for_many_devices_with_their_own_credentials():
    """Fleet mode: a gate made with path None answers whatever path its caller routed, with
    the credentials given per request; 1,000 devices woken within a minute each get in, as
    its nonce table is sized for them (the daemon's 32 would make the first ones stale)."""
    many = connreq.Gate(None, rate=None, live=1024)
    clients = []
    for i in range(1000):
        path = "/%d/token" % i
        status, data, _ = many.answer(ACS, head(path), T0, credentials=("dev%d" % i, "pw%d" % i))
        assert status == 401
        c = auth.Client("dev%d" % i, "pw%d" % i)
        c.answer(headers_of(data)["www-authenticate"])
        clients.append((path, c))
    sent = []
    for i, (path, c) in enumerate(clients):
        sent.append(c.header("GET", path))
        assert many.answer(ACS, head(path, sent[-1]), T0 + 1, credentials=("dev%d" % i, "pw%d" % i))[0] == 200
    # Another device's credentials do not open this one; a replay is refused.
    path, c = clients[7]
    assert many.answer(ACS, head(path, c.header("GET", path)), T0 + 2, credentials=("dev8", "pw8"))[0] == 401
    assert many.answer(ACS, head(path, sent[7]), T0 + 2, credentials=("dev7", "pw7"))[0] == 401
    assert connreq.request_path(head("/7/token?x=1")) == "/7/token"
    assert connreq.request_path(b"GARBAGE") is None
