"""Per-device values stamped from a template string; no I/O.

Placeholders: {i} the device's index (0-based) and {i:SPEC} with a format spec of digits and
d/x/X ({i:06}, {i:x}, {i:08X}); {serial} the device's serial number; {mac:BASE} the MAC
address BASE + i (BASE's separators and case kept); {ip:CIDR} the (i+1)-th address of the
network CIDR, IPv4 or IPv6; {rand:N} N hex digits from the device's own seeded generator.
{{ and }} are literal braces.
"""

import re

_FIELD = re.compile(r"\{\{|\}\}|\{([a-z]+)(?::([^{}]*))?\}|[{}]")
_SPEC = re.compile(r"0?[0-9]{0,2}[dxX]?\Z")
_MAC = re.compile(r"([0-9A-Fa-f]{2})([:-]?)((?:[0-9A-Fa-f]{2}\2){4}[0-9A-Fa-f]{2})\Z")


class StampError(ValueError):
    """A placeholder that cannot work, or a device that does not fit its pool; one line."""


class Stamp:
    """A template string compiled once; calling it with a device's index gives its value."""

    __slots__ = ("text", "parts", "fields")

    def __init__(self, text):
        self.text = text
        self.parts = []      # literal strings and (kind, argument) pairs
        self.fields = set()
        pos = 0
        for m in _FIELD.finditer(text):
            self._literal(text[pos:m.start()])
            pos = m.end()
            token = m.group(0)
            if token in ("{{", "}}"):
                self._literal(token[0])
            elif m.group(1) is None:
                raise StampError("unmatched %r in %r (write {{ or }} for a brace)" % (token, text))
            else:
                self.parts.append(_compile(m.group(1), m.group(2), text))
                self.fields.add(m.group(1))
        self._literal(text[pos:])

    def _literal(self, s):
        if s:
            self.parts.append(s)

    @property
    def constant(self):
        return not self.fields

    def __call__(self, i, serial="", rand=None):
        """The value for device `i`; `rand()` gives floats in [0, 1) for {rand:N}."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            kind, arg = part
            if kind == "i":
                out.append(format(i, arg))
            elif kind == "serial":
                out.append(serial)
            elif kind == "rand":
                out.append("".join("%x" % int(rand() * 16) for _ in range(arg)))
            elif kind == "mac":
                out.append(_mac(arg, i, self.text))
            else:
                out.append(_ip(arg, i, self.text))
        return "".join(out)


def _compile(kind, arg, text):
    if kind == "i":
        arg = arg or "d"
        if not _SPEC.match(arg):
            raise StampError("{i:%s} in %r: the format is digits then d, x or X ({i:06}, {i:x})" % (arg, text))
        return ("i", arg)
    if kind == "serial":
        return ("serial", None)
    if kind == "rand":
        if not (arg or "").isdigit() or not 1 <= int(arg) <= 64:
            raise StampError("{rand:N} in %r: N is a number of hex digits from 1 to 64" % text)
        return ("rand", int(arg))
    if kind == "mac":
        m = _MAC.match(arg or "")
        if m is None:
            raise StampError("{mac:BASE} in %r: BASE is a MAC address such as 02:00:00:00:00:00" % text)
        digits = re.sub(r"[:-]", "", arg)
        return ("mac", (int(digits, 16), m.group(2), digits.isupper() or digits.isdigit()))
    if kind == "ip":
        import ipaddress
        try:
            net = ipaddress.ip_network(arg or "", strict=False)
        except ValueError as e:
            raise StampError("{ip:CIDR} in %r: %s" % (text, e))
        return ("ip", net)
    raise StampError("unknown placeholder {%s} in %r (known: i, serial, mac, ip, rand)" % (kind, text))


def _mac(arg, i, text):
    base, sep, upper = arg
    value = base + i
    if value >= 1 << 48:
        raise StampError("%r: device %d runs past the last MAC address" % (text, i))
    digits = "%012X" % value if upper else "%012x" % value
    return sep.join(digits[k:k + 2] for k in range(0, 12, 2))


def _ip(net, i, text):
    # The network's own address is skipped, and IPv4's broadcast address never reached
    # (but for /31 and /32, and their IPv6 likes, where every address is a host's).
    skip = 1 if net.num_addresses > 2 else 0
    last = net.num_addresses - skip - (skip if net.version == 4 else 0)
    if i >= last:
        raise StampError("%r: device %d does not fit in %s (%d addresses)" % (text, i, net, last))
    return str(net.network_address + skip + i)
