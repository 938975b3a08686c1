"""HTTP Basic and Digest auth (RFC 7617, RFC 7616/2617), client and server side; no I/O."""

import binascii
import os
import re

try:
    from _md5 import md5  # builtin: Digest without loading OpenSSL
except ImportError:  # pragma: no cover - CPython built without _md5
    from hashlib import md5


_SHA256 = []   # the constructor found (or None), once looked for


def sha256():
    """The builtin SHA-256 constructor, or None (no builtin SHA-2: MD5 only). Loaded when a
    challenge first names SHA-256: an MD5 ACS never needs the module (0.07 MB). Looked for
    once: on 3.12+ the failing import of _sha256 searches the whole path each time."""
    if not _SHA256:
        found = None
        for builtin in ("_sha256", "_sha2"):  # CPython <= 3.11, >= 3.12
            try:
                found = __import__(builtin).sha256
                break
            except (ImportError, AttributeError):
                pass
        _SHA256.append(found)
    return _SHA256[0]


# Digest algorithms we can compute without OpenSSL, strongest first.
_HASHES = {"MD5": lambda: md5, "MD5-SESS": lambda: md5, "SHA-256": sha256, "SHA-256-SESS": sha256}
_STRENGTH = ("SHA-256", "SHA-256-SESS", "MD5", "MD5-SESS")


def _hash(algorithm):
    """The hash constructor of a Digest `algorithm` (upper case), or None."""
    get = _HASHES.get(algorithm)
    return get() if get is not None else None

# RFC 7235 section 2.1: token, quoted-string (with quoted-pair), token68.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*[ \t]*(?=,|$)")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_UNQUOTE = re.compile(r"\\(.)", re.S)


def equal(a, b):
    """Compare two secrets in constant time (hmac.compare_digest would load OpenSSL)."""
    a = a.encode("utf-8") if isinstance(a, str) else bytes(a)
    b = b.encode("utf-8") if isinstance(b, str) else bytes(b)
    diff = len(a) ^ len(b)
    for x, y in zip(a, b if len(a) == len(b) else a):
        diff |= x ^ y
    return diff == 0


def parse_challenges(values):
    """Parse WWW-Authenticate header values into [(scheme_lower, {param_lower: value})]."""
    if isinstance(values, str):
        values = [values]
    found = []
    for text in values or ():
        found.extend(_parse_list(text, many=True))
    return found


def parse_authorization(value):
    """Parse one Authorization header into (scheme_lower, params), or (None, {}) if malformed."""
    found = _parse_list(value or "", many=False)
    return found[0] if found else (None, {})


def _parse_list(text, many):
    items, current, pos, n = [], None, 0, len(text)
    while pos < n:
        while pos < n and text[pos] in " \t,":
            pos += 1
        m = _TOKEN.match(text, pos)
        if not m:
            break  # garbage: keep what parsed so far
        name, pos = m.group(0), m.end()
        rest = pos
        while rest < n and text[rest] in " \t":
            rest += 1
        if rest < n and text[rest] == "=" and current is not None:
            pos = rest + 1
            while pos < n and text[pos] in " \t":
                pos += 1
            q = _QUOTED.match(text, pos)
            if q:
                value, pos = _UNQUOTE.sub(r"\1", q.group(1)), q.end()
            else:
                v = _TOKEN.match(text, pos)
                value, pos = (v.group(0), v.end()) if v else ("", pos)
            current[1].setdefault(name.lower(), value)
            continue
        if current is not None and not many:
            break
        current = (name.lower(), {})
        items.append(current)
        pos = rest
        t68 = _TOKEN68.match(text, pos)
        if t68:  # e.g. "Negotiate abc==": not ours, but must not derail parsing
            current[1][""] = t68.group(0).strip()
            pos = t68.end()
    return items


def _h(algorithm, text):
    return _hash(algorithm)(text.encode("utf-8")).hexdigest()


def _response(algorithm, username, password, realm, method, uri, nonce, qop, nc, cnonce):
    """RFC 7616 section 3.4.1 response; qop None is the RFC 2069 legacy form."""
    ha1 = _h(algorithm, "%s:%s:%s" % (username, realm, password))
    if algorithm.endswith("-SESS"):
        ha1 = _h(algorithm, "%s:%s:%s" % (ha1, nonce, cnonce))
    ha2 = _h(algorithm, "%s:%s" % (method, uri))
    if qop is None:
        return _h(algorithm, "%s:%s:%s" % (ha1, nonce, ha2))
    return _h(algorithm, "%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))


def _quote(value):
    # CR/LF from a hostile challenge must not split our header
    value = value.replace("\r", "").replace("\n", "")
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def _usable_digest(params):
    """(algorithm, qop) we would answer this Digest challenge with, or None."""
    algorithm = params.get("algorithm", "MD5").upper()
    if "nonce" not in params or _hash(algorithm) is None:
        return None
    if "qop" not in params:
        return algorithm, None
    offered = [q.strip().lower() for q in params["qop"].split(",")]
    return (algorithm, "auth") if "auth" in offered else None  # auth-int: not supported


class Client:
    """Answers an HTTP server's challenges; keeps the Digest nonce and nc between requests."""

    def __init__(self, username, password):
        self.username = username
        self.password = password or ""
        self.scheme = None  # "digest" or "basic" once a challenge was accepted
        self.stale = False  # the last Digest challenge said stale=true
        self._params = {}
        self._nc = 0

    def reset(self):
        """Forget the challenge (new server or new session): no preemptive header any more."""
        self.scheme, self.stale, self._params, self._nc = None, False, {}, 0

    def answer(self, values):
        """Take the WWW-Authenticate values of a 401; True if a supported scheme was offered."""
        digests, basic = [], False
        for scheme, params in parse_challenges(values):
            if scheme == "digest" and _usable_digest(params):
                digests.append(params)
            elif scheme == "basic":
                basic = True
        if digests:
            params = min(digests, key=lambda p: _STRENGTH.index(_usable_digest(p)[0]))
            self.stale = params.get("stale", "").lower() == "true"
            if params.get("nonce") != self._params.get("nonce"):
                self._nc = 0  # RFC 7616 3.4: nc counts requests per nonce
            self.scheme, self._params = "digest", params
            return True
        self.stale = False
        if basic:
            self.scheme, self._params = "basic", {}
            return True
        self.reset()
        return False

    def header(self, method, uri):
        """The Authorization value for the next request, or None before any challenge."""
        if self.scheme == "basic":
            raw = ("%s:%s" % (self.username, self.password)).encode("utf-8")
            return "Basic " + binascii.b2a_base64(raw, newline=False).decode("ascii")
        if self.scheme != "digest":
            return None
        p = self._params
        algorithm, qop = _usable_digest(p)
        realm, nonce = p.get("realm", ""), p["nonce"]
        parts = ["username=" + _quote(self.username), "realm=" + _quote(realm),
                 "nonce=" + _quote(nonce), "uri=" + _quote(uri)]
        if "algorithm" in p:
            parts.append("algorithm=" + p["algorithm"])
        nc = cnonce = None
        if qop or algorithm.endswith("-SESS"):
            cnonce = binascii.hexlify(os.urandom(8)).decode("ascii")
        if qop:
            self._nc += 1
            nc = "%08x" % self._nc
        digest = _response(algorithm, self.username, self.password, realm, method, uri,
                           nonce, qop, nc, cnonce)
        parts.append("response=" + _quote(digest))
        if "opaque" in p:
            parts.append("opaque=" + _quote(p["opaque"]))
        if qop:
            parts += ["qop=" + qop, "nc=" + nc, "cnonce=" + _quote(cnonce)]
        elif cnonce:
            parts.append("cnonce=" + _quote(cnonce))
        return "Digest " + ", ".join(parts)


# -- server side (connection-request listener, lab ACS) --

def new_nonce():
    """A fresh random nonce or opaque value (hex, from os.urandom)."""
    return binascii.hexlify(os.urandom(16)).decode("ascii")


def challenge(realm, nonce, opaque=None, stale=False, algorithm="MD5"):
    """A Digest WWW-Authenticate value with qop=auth."""
    parts = ["realm=" + _quote(realm), 'qop="auth"', "nonce=" + _quote(nonce)]
    if opaque is not None:
        parts.append("opaque=" + _quote(opaque))
    parts.append("algorithm=" + algorithm)
    if stale:
        parts.append("stale=true")
    return "Digest " + ", ".join(parts)


def basic_challenge(realm):
    """A Basic WWW-Authenticate value."""
    return "Basic realm=" + _quote(realm) + ', charset="UTF-8"'


def verify(authorization, method, uri, username, password, realm=None):
    """Check a Digest Authorization header; its fields (nc as int) if right, else None.

    The caller still checks that `nonce` is one it issued and fresh, and that `nc` grows.
    """
    scheme, p = parse_authorization(authorization)
    if scheme != "digest" or not username:
        return None
    algorithm = p.get("algorithm", "MD5").upper()
    qop = p.get("qop")
    if qop not in (None, "auth") or _hash(algorithm) is None:
        return None
    for field in ("username", "realm", "nonce", "uri", "response"):
        if field not in p:
            return None
    if qop and ("nc" not in p or "cnonce" not in p):
        return None
    if algorithm.endswith("-SESS") and "cnonce" not in p:
        return None
    try:
        nc = int(p["nc"], 16) if qop else None
    except ValueError:
        return None
    if p["uri"] != uri or (realm is not None and p["realm"] != realm):
        return None
    expected = _response(algorithm, username, password, p["realm"], method, p["uri"],
                         p["nonce"], qop, p.get("nc"), p.get("cnonce"))
    ok = equal(p["username"], username) & equal(p["response"].lower(), expected)
    if not ok:
        return None
    fields = dict(p)
    fields["nc"] = nc
    return fields


def verify_basic(authorization, username, password):
    """Check a Basic Authorization header against the expected credentials."""
    scheme, p = parse_authorization(authorization)
    if scheme != "basic" or not username or "" not in p:
        return False
    try:
        raw = binascii.a2b_base64(p[""]).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, sep, secret = raw.partition(":")
    return bool(sep) & equal(user, username) & equal(secret, password or "")
