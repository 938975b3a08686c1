"""Basic/Digest tests: RFC test vectors, challenge parsing, client answers checked by hashlib."""

import base64
import hashlib

import pytest

from tr069client import auth

RFC7616 = dict(username="Mufasa", password="Circle of Life", realm="http-auth@example.org",
               nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
               opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", uri="/dir/index.html",
               cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")


def rfc7616_header(algorithm, response):
    return ('Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
            'algorithm=%s, nonce="%s", nc=00000001, cnonce="%s", qop=auth, response="%s", '
            'opaque="%s"' % (algorithm, RFC7616["nonce"], RFC7616["cnonce"], response,
                             RFC7616["opaque"]))


def test_rfc7616_md5_vector():
    h = rfc7616_header("MD5", "8ca523f5e9506fed4657c9700eebdbec")
    fields = auth.verify(h, "GET", "/dir/index.html", "Mufasa", "Circle of Life",
                         "http-auth@example.org")
    assert fields["nc"] == 1 and fields["nonce"] == RFC7616["nonce"]
    assert fields["opaque"] == RFC7616["opaque"] and fields["cnonce"] == RFC7616["cnonce"]


@pytest.mark.skipif(auth.sha256() is None, reason="no builtin SHA-256 module")
def test_rfc7616_sha256_vector():
    h = rfc7616_header("SHA-256",
                       "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
    assert auth.verify(h, "GET", "/dir/index.html", "Mufasa", "Circle of Life")


def test_rfc2617_vector_and_refusals():
    h = ('Digest username="Mufasa", realm="testrealm@host.com", '
         'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
         'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
         'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    assert auth.verify(h, "GET", "/dir/index.html", "Mufasa", "Circle Of Life")
    assert not auth.verify(h, "GET", "/dir/index.html", "Mufasa", "Circle of Life")
    assert not auth.verify(h, "POST", "/dir/index.html", "Mufasa", "Circle Of Life")
    assert not auth.verify(h, "GET", "/other", "Mufasa", "Circle Of Life")
    assert not auth.verify(h, "GET", "/dir/index.html", "Simba", "Circle Of Life")
    assert not auth.verify(h, "GET", "/dir/index.html", "Mufasa", "Circle Of Life",
                           realm="other")
    assert not auth.verify(h, "GET", "/dir/index.html", "", "")
    assert not auth.verify(h.replace("Digest", "Basic"), "GET", "/dir/index.html",
                           "Mufasa", "Circle Of Life")
    assert not auth.verify(None, "GET", "/dir/index.html", "Mufasa", "Circle Of Life")
    assert not auth.verify('Digest username="Mufasa"', "GET", "/", "Mufasa", "x")


def test_parse_several_challenges_in_one_and_several_headers():
    values = ['Newauth realm="apps", type=1, title="Login to \\"apps\\"", '
              'Basic realm="simple, with comma"',
              'Digest realm="a, b", qop="auth,auth-int", nonce="n=1", algorithm=MD5',
              'Negotiate abc/def==, Bearer']
    got = auth.parse_challenges(values)
    assert got == [
        ("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}),
        ("basic", {"realm": "simple, with comma"}),
        ("digest", {"realm": "a, b", "qop": "auth,auth-int", "nonce": "n=1",
                    "algorithm": "MD5"}),
        ("negotiate", {"": "abc/def=="}),
        ("bearer", {}),
    ]
    assert auth.parse_challenges("") == [] and auth.parse_challenges(None) == []


def _md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def _client_fields(values, method="POST", uri="/acs", user="cpe", password="p@ss"):
    c = auth.Client(user, password)
    assert c.answer(values)
    scheme, fields = auth.parse_authorization(c.header(method, uri))
    return c, scheme, fields


def test_client_prefers_digest_and_its_answer_checks_with_hashlib():
    values = ['Basic realm="acs"', 'Digest realm="acs", nonce="abc", qop="auth-int, auth", '
                                   'opaque="xyz"']
    c, scheme, f = _client_fields(values)
    assert scheme == "digest" and c.scheme == "digest"
    assert (f["username"], f["realm"], f["nonce"], f["uri"], f["opaque"], f["qop"],
            f["nc"]) == ("cpe", "acs", "abc", "/acs", "xyz", "auth", "00000001")
    ha1, ha2 = _md5("cpe:acs:p@ss"), _md5("POST:/acs")
    assert f["response"] == _md5("%s:abc:00000001:%s:auth:%s" % (ha1, f["cnonce"], ha2))
    second = auth.parse_authorization(c.header("POST", "/acs"))[1]
    assert second["nc"] == "00000002" and second["cnonce"] != f["cnonce"]
    assert auth.verify(c.header("POST", "/acs"), "POST", "/acs", "cpe", "p@ss")["nc"] == 3


def test_client_md5_sess_and_legacy_no_qop():
    _, _, f = _client_fields(['Digest realm="r", nonce="n", algorithm=MD5-sess, qop=auth'])
    ha1 = _md5("%s:n:%s" % (_md5("cpe:r:p@ss"), f["cnonce"]))
    assert f["algorithm"] == "MD5-sess"
    assert f["response"] == _md5("%s:n:00000001:%s:auth:%s" % (ha1, f["cnonce"],
                                                               _md5("POST:/acs")))
    _, _, f = _client_fields(['Digest realm="r", nonce="n"'])
    assert "qop" not in f and "nc" not in f and "cnonce" not in f
    assert f["response"] == _md5("%s:n:%s" % (_md5("cpe:r:p@ss"), _md5("POST:/acs")))


def test_client_new_nonce_restarts_nc_and_stale_is_reported():
    c = auth.Client("cpe", "pw")
    c.answer('Digest realm="r", nonce="n1", qop=auth')
    c.header("GET", "/"), c.header("GET", "/")
    assert c.answer('Digest realm="r", nonce="n2", qop=auth, stale=TRUE') and c.stale
    assert auth.parse_authorization(c.header("GET", "/"))[1]["nc"] == "00000001"


def test_client_basic_and_unsupported():
    c = auth.Client("cpe", "pä:ss")
    assert c.header("POST", "/") is None  # nothing before a challenge
    assert c.answer(['Basic realm="x"', 'Digest realm="x", nonce="n", qop="auth-int"'])
    h = c.header("POST", "/")
    assert h == "Basic " + base64.b64encode("cpe:pä:ss".encode()).decode()
    assert auth.verify_basic(h, "cpe", "pä:ss")
    assert not auth.verify_basic(h, "cpe", "other") and not auth.verify_basic(h, "x", "pä:ss")
    assert not auth.verify_basic("Basic !!!", "cpe", "pä:ss")
    assert not c.answer(['Negotiate abc', 'Digest realm="x", nonce="n", algorithm=SHA-512'])
    assert c.header("POST", "/") is None


@pytest.mark.skipif(auth.sha256() is None, reason="no builtin SHA-256 module")
def test_client_prefers_sha256():
    values = ['Digest realm="r", nonce="n", qop=auth, algorithm=MD5',
              'Digest realm="r", nonce="n", qop=auth, algorithm=SHA-256']
    _, _, f = _client_fields(values)
    assert f["algorithm"] == "SHA-256"
    ha1 = hashlib.sha256(b"cpe:r:p@ss").hexdigest()
    ha2 = hashlib.sha256(b"POST:/acs").hexdigest()
    assert f["response"] == hashlib.sha256(
        ("%s:n:00000001:%s:auth:%s" % (ha1, f["cnonce"], ha2)).encode()).hexdigest()


def test_server_challenge_round_trip():
    nonce = auth.new_nonce()
    assert len(nonce) == 32 and nonce != auth.new_nonce()
    value = auth.challenge('realm "q"', nonce, opaque="o", stale=True)
    (scheme, p), = auth.parse_challenges(value)
    assert (scheme, p["realm"], p["nonce"], p["opaque"], p["qop"], p["stale"]) == \
        ("digest", 'realm "q"', nonce, "o", "auth", "true")
    c = auth.Client('us"er', "pw")
    c.answer(value)
    fields = auth.verify(c.header("GET", "/cr/x?y=1"), "GET", "/cr/x?y=1", 'us"er', "pw",
                         'realm "q"')
    assert fields["username"] == 'us"er' and fields["nc"] == 1


def test_equal():
    assert auth.equal("abc", "abc") and auth.equal(b"", b"")
    assert not auth.equal("abc", "abd") and not auth.equal("abc", "abcd")
    assert not auth.equal("abcd", "abc")


def test_sha256_is_loaded_only_for_a_challenge_that_names_it():
    import json
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys, json\nsys.path.insert(0, %r)\nfrom tr069client import auth\nc = auth.Client('u', 'p')\n"
            "c.answer('Digest realm=\"r\", nonce=\"n\", qop=\"auth\", algorithm=MD5')\nc.header('POST', '/acs')\n"
            "md5 = [m for m in ('_sha256', '_sha2') if m in sys.modules]\n"
            "c.answer('Digest realm=\"r\", nonce=\"n\", qop=\"auth\", algorithm=SHA-256')\n"
            "print(json.dumps([md5, c.scheme]))" % root)
    out = json.loads(subprocess.check_output([sys.executable, "-I", "-S", "-c", code]).decode())
    assert out == [[], "digest"]
