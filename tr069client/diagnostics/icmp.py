"""ICMP echo probes on a raw socket (root) or an unprivileged ICMP datagram socket (where
net.ipv4.ping_group_range admits us): send one, wait for its reply or the ICMP error a
router sends back (traceroute's Time Exceeded)."""

import os
import select
import socket
import struct

from . import icmp_method as method   # noqa: F401 (the probe lives in the package: cheap at start)
from .common import prepare

# (echo request, echo reply, the error types a probe can meet on its way)
_TYPES = {socket.AF_INET: (8, 0, (3, 11, 12)), socket.AF_INET6: (128, 129, (1, 3, 4))}
_PROTO = {socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6}
# <linux/in.h> IP_RECVERR, <linux/in6.h> IPV6_RECVERR: the datagram socket's ICMP errors
# arrive on its error queue (Python names neither).
_RECVERR = {socket.AF_INET: (socket.IPPROTO_IP, 11), socket.AF_INET6: (socket.IPPROTO_IPV6, 25)}
_SLICE = 0.25   # the longest a wait goes without looking at the cancel flag


def _socket(family, kind):
    return socket.socket(family, socket.SOCK_RAW if kind == "raw" else socket.SOCK_DGRAM,
                         _PROTO[family])


def checksum(data):
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(family, ident, seq, size):
    """An echo request with `size` bytes of data."""
    request = _TYPES[family][0]
    payload = bytes((i & 0xFF for i in range(size)))
    header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
    if family == socket.AF_INET:   # the kernel sums ICMPv6 (and datagram ICMP) itself
        header = struct.pack("!BBHHH", request, 0, checksum(header + payload), ident, seq)
    return header + payload


def parse(family, data, ident, raw):
    """(kind, seq, type, code) of a received packet that answers one of our probes, kind
    "reply" or "error"; None for anything else. `ident` None: any identifier (a datagram
    socket's own, which the kernel sets and filters)."""
    request, reply, errors = _TYPES[family]
    if raw and family == socket.AF_INET:   # a raw IPv4 socket hands over the IP header
        if len(data) < 20:
            return None
        data = data[(data[0] & 0x0F) * 4:]
    if len(data) < 8:
        return None
    typ, code, _, got_id, seq = struct.unpack("!BBHHH", data[:8])
    if typ == reply:
        return ("reply", seq, typ, code) if ident is None or got_id == ident else None
    if typ not in errors:
        return None
    inner = data[8:]   # the start of the packet we sent
    if family == socket.AF_INET:
        if len(inner) < 28 or inner[9] != socket.IPPROTO_ICMP:
            return None
        inner = inner[(inner[0] & 0x0F) * 4:]
    else:
        if len(inner) < 48 or inner[6] != socket.IPPROTO_ICMPV6:
            return None
        inner = inner[40:]
    if len(inner) < 8 or inner[0] != request:
        return None
    got_id, seq = struct.unpack("!HH", inner[4:8])
    return ("error", seq, typ, code) if ident is None or got_id == ident else None


class Prober:
    """One ICMP socket sending echo requests and matching what comes back."""

    def __init__(self, family, kind, inputs, device, cancel, clock):
        self.family, self.raw = family, kind == "raw"
        self.cancel, self.clock = cancel, clock
        self.sock = _socket(family, kind)
        self.ident = None if not self.raw else int.from_bytes(os.urandom(2), "big")
        self.sent = {}
        try:
            prepare(self.sock, family, inputs, device)
            if not self.raw:
                self.sock.setsockopt(_RECVERR[family][0], _RECVERR[family][1], 1)
        except BaseException:
            self.sock.close()
            raise

    def close(self):
        self.sock.close()

    def send(self, address, seq, size, ttl=None):
        """Send probe `seq`; an OSError (no route, ...) is the caller's to judge."""
        if ttl is not None:
            if self.family == socket.AF_INET6:
                self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
            else:
                self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        packet = echo_request(self.family, self.ident or 0, seq, size)
        self.sent[seq] = self.clock.mono()
        self.sock.sendto(packet, (address, 0))
        return self.sent[seq]

    def wait(self, seq, deadline):
        """(kind, responder address, type, code, round-trip seconds) for probe `seq`, or
        None when `deadline` (monotonic) passes first."""
        while True:
            self.cancel.check()
            left = deadline - self.clock.mono()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], min(left, _SLICE))
            if not ready:
                continue
            now = self.clock.mono()
            for got in self._read():
                if got is not None and got[1] == seq:
                    kind, _, typ, code, peer = got[0], got[1], got[2], got[3], got[4]
                    return kind, peer, typ, code, now - self.sent[seq]

    def _read(self):
        """What is queued on the socket, as (kind, seq, type, code, peer) or None each."""
        out = []
        if not self.raw:
            out.extend(self._errors())
        while True:
            try:
                data, peer = self.sock.recvfrom(65535, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return out
            except OSError:
                # A datagram socket reports an ICMP error once more as a socket error;
                # the error queue already gave it with its details.
                if self.raw:
                    raise
                out.extend(self._errors())
                continue
            got = parse(self.family, data, self.ident, self.raw)
            out.append(got + (peer[0],) if got else None)

    def _errors(self):
        out = []
        level, name = _RECVERR[self.family]
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(512, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return out
            for lvl, typ, blob in anc:
                if lvl != level or typ != name or len(blob) < 16 + 8 or len(data) < 8:
                    continue
                # struct sock_extended_err, then the offender's sockaddr.
                _, origin, icmp_type, icmp_code = struct.unpack("=IBBB", blob[:7])
                if origin not in (2, 3):   # SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6
                    continue
                offender = blob[16:]
                if self.family == socket.AF_INET:
                    peer = socket.inet_ntop(socket.AF_INET, offender[4:8])
                else:
                    peer = socket.inet_ntop(socket.AF_INET6, offender[8:24])
                seq = struct.unpack("!H", data[6:8])[0]
                out.append(("error", seq, icmp_type, icmp_code, peer))
