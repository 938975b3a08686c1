"""DNS messages (RFC 1035) for NSLookup: an A or AAAA query and the parts of a response
it needs; no I/O."""

import socket
import struct

A, CNAME, AAAA = 1, 5, 28
NOERROR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 2, 3, 4, 5
_MAX_JUMPS = 32   # compression pointers followed in one name: a loop ends here


class Malformed(ValueError):
    """The response is not a DNS message we can read."""


def query(name, qtype, ident):
    """A recursive query for `name` (ASCII, IDNA already applied) of type `qtype`."""
    out = [struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)]
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError("a label of %r is empty or longer than 63 bytes" % name)
        out.append(bytes((len(raw),)) + raw)
    out.append(b"\0" + struct.pack("!HH", qtype, 1))
    return b"".join(out)


def _name(data, pos):
    """(the name at `pos`, the offset after it) with compression followed."""
    labels, end, jumps = [], None, 0
    while True:
        if pos >= len(data):
            raise Malformed("name runs past the end")
        n = data[pos]
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(data) or jumps >= _MAX_JUMPS:
                raise Malformed("bad compression pointer")
            if end is None:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            jumps += 1
        elif n & 0xC0:
            raise Malformed("unknown label type")
        elif n == 0:
            return ".".join(labels), end if end is not None else pos + 1
        else:
            labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "replace"))
            pos += 1 + n


def parse(data, ident):
    """(rcode, authoritative, [(owner, type, value)]) of a response to query `ident`;
    values: addresses as text for A/AAAA, the target name for CNAME, None otherwise."""
    if len(data) < 12:
        raise Malformed("shorter than a DNS header")
    got, flags, qd, an = struct.unpack("!HHHH", data[:8])
    if got != ident or not flags & 0x8000:
        raise Malformed("not the answer to our query")
    pos = 12
    for _ in range(qd):
        pos = _name(data, pos)[1] + 4
    records = []
    for _ in range(an):
        owner, pos = _name(data, pos)
        if pos + 10 > len(data):
            raise Malformed("record runs past the end")
        rtype, _, _, size = struct.unpack("!HHIH", data[pos:pos + 10])
        pos += 10
        rdata = data[pos:pos + size]
        if len(rdata) != size:
            raise Malformed("record runs past the end")
        value = None
        if rtype == A and size == 4:
            value = socket.inet_ntop(socket.AF_INET, rdata)
        elif rtype == AAAA and size == 16:
            value = socket.inet_ntop(socket.AF_INET6, rdata)
        elif rtype == CNAME:
            value = _name(data, pos)[0]
        records.append((owner, rtype, value))
        pos += size
    return flags & 0x000F, bool(flags & 0x0400), records


def addresses(name, records, qtype):
    """(the name that holds the addresses after CNAMEs, [addresses of type qtype])."""
    aliases = {o.lower(): v for o, t, v in records if t == CNAME and v}
    current = name.rstrip(".")
    for _ in range(len(aliases)):
        if current.lower() not in aliases:
            break
        current = aliases[current.lower()]
    found = [v for o, t, v in records if t == qtype and v and o.lower() == current.lower()]
    return current, found
