"""The fleet's sans-IO HTTP/1.1 response parser: literal bytes in, framing and limits out."""

import pytest

from tr069client.fleet.response import ProtocolError, ResponseParser, TooLarge, Truncated


def feed_bytewise(p, data):
    done = False
    for i in range(len(data)):
        done = p.feed(data[i:i + 1])
    return done


def test_content_length_body_and_keep_alive():
    p = ResponseParser()
    assert p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello")
    assert (p.status, p.reason, b"".join(p.body), p.will_close) == (200, "OK", b"hello", False)
    assert p.header_list("set-cookie") == ["a=1", "b=2"] and p.header("SET-COOKIE") == "a=1"


def test_byte_by_byte_is_the_same_as_at_once():
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
    p = ResponseParser()
    assert feed_bytewise(p, raw)
    assert b"".join(p.body) == b"hello world" and p.received == 11 and p.framing == "chunked"


def test_no_body_for_204_304_and_head():
    assert ResponseParser().feed(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert ResponseParser().feed(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")
    assert ResponseParser("HEAD").feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")


def test_empty_200_with_zero_length_is_complete():
    p = ResponseParser()
    assert p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") and p.body == []


def test_body_until_close_ends_at_eof_and_closes():
    p = ResponseParser()
    assert not p.feed(b"HTTP/1.0 200 OK\r\n\r\nabc")
    assert p.eof() and b"".join(p.body) == b"abc" and p.will_close and p.framing == "close"


def test_http_1_0_keep_alive_and_connection_close():
    p = ResponseParser()
    p.feed(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
    assert not p.will_close
    p = ResponseParser()
    p.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert p.will_close


def test_interim_100_continue_is_skipped():
    p = ResponseParser()
    assert p.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
    assert p.status == 201 and b"".join(p.body) == b"ok"


def test_bare_lf_and_folded_headers_are_tolerated():
    p = ResponseParser()
    assert p.feed(b"HTTP/1.1 200 OK\nX-A: one\n  two\nContent-Length: 1\n\nz")
    assert p.header("x-a") == "one two" and p.body == [b"z"]


def test_bytes_after_the_response_are_kept_apart():
    p = ResponseParser()
    assert p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nzEXTRA")
    assert p.body == [b"z"] and p.leftover == b"EXTRA"


def test_on_body_gets_the_pieces_instead():
    got = []
    p = ResponseParser(on_body=got.append)
    p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
    p.feed(b"cd")
    assert got == [b"ab", b"cd"] and p.body == [] and p.received == 4 and p.done


@pytest.mark.parametrize("raw", [
    b"HTTP/2 200 OK\r\n\r\n",
    b"ICY 200 OK\r\n\r\n",
    b"HTTP/1.1 20 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nNa me: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
])
def test_malformed_responses_are_refused(raw):
    with pytest.raises(ProtocolError):
        ResponseParser().feed(raw)


def test_same_content_length_twice_is_one():
    p = ResponseParser()
    assert p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nz")


def test_sizes_are_bounded():
    with pytest.raises(ProtocolError, match="head larger"):
        ResponseParser(max_head=100).feed(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 50)
    with pytest.raises(ProtocolError, match="more than 3 headers"):
        ResponseParser(max_headers=3).feed(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 4 + b"\r\n")
    with pytest.raises(TooLarge):
        ResponseParser(max_body=10).feed(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
    p = ResponseParser(max_body=10)
    p.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(TooLarge):
        p.feed(b"b\r\n" + b"x" * 11 + b"\r\n")
    with pytest.raises(ProtocolError, match="chunk line"):
        ResponseParser().feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 9000)


def test_eof_before_or_in_the_middle_is_truncated():
    p = ResponseParser()
    with pytest.raises(Truncated, match="before the response"):
        p.eof()
    p = ResponseParser()
    p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
    with pytest.raises(Truncated, match="middle"):
        p.eof()
