"""The kernel's address and neighbour tables over rtnetlink, what `ip addr` and `ip neigh`
show, so that routers without the `ip` binary report every address.

Why netlink and not the SIOCGIFCONF ioctl: the ioctl returns one IPv4 address per label,
so it misses the secondary addresses that `ip addr add` creates, and knows no IPv6;
netlink gives both families, secondaries, flags and lifetimes in one dump. Under a root
other than "/" (tests) a dump is replayed from ROOT/netlink/<request>, the raw bytes
that dump() returned on a real system.
"""

import errno
import socket
import struct

from . import files

RTM_GETADDR = 22
RTM_GETNEIGH = 30
_NEWADDR, _NEWNEIGH = 20, 28
_DONE, _ERROR = 3, 2
_DUMP_REQUEST = 0x301          # NLM_F_REQUEST | NLM_F_DUMP
_HDR = struct.Struct("=IHHII")         # nlmsghdr
_IFADDRMSG = struct.Struct("=BBBBI")   # family, prefixlen, flags, scope, index
_NDMSG = struct.Struct("=BBHiHBB")     # family, pad, pad, ifindex, state, flags, type
_RTA = struct.Struct("=HH")
_NAMES = {RTM_GETADDR: "RTM_GETADDR", RTM_GETNEIGH: "RTM_GETNEIGH"}
# IFA_F_* flags
DADFAILED, OPTIMISTIC, DEPRECATED, TENTATIVE, PERMANENT = 0x08, 0x04, 0x20, 0x40, 0x80
FOREVER = 0xFFFFFFFF
# NUD_* neighbour states that mean "the host answered recently enough to be listed"
NUD_LIVE = 0x02 | 0x04 | 0x08 | 0x10 | 0x80   # REACHABLE STALE DELAY PROBE PERMANENT


class NetlinkError(Exception):
    """The kernel refused or did not answer a dump request."""


def dump(kind, timeout=2.0):
    """The raw reply of a dump request `kind` (RTM_GETADDR, RTM_GETNEIGH), up to NLMSG_DONE."""
    body = (_IFADDRMSG.pack(0, 0, 0, 0, 0) if kind == RTM_GETADDR
            else _NDMSG.pack(0, 0, 0, 0, 0, 0, 0))
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)   # 0: NETLINK_ROUTE
    try:
        s.settimeout(timeout)
        s.bind((0, 0))
        s.send(_HDR.pack(_HDR.size + len(body), kind, _DUMP_REQUEST, 1, 0) + body)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                raise NetlinkError("the kernel closed the netlink socket")
            chunks.append(data)
            for mtype, payload in _messages(data):
                if mtype == _ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                    raise NetlinkError("the kernel refused %s (errno %d)" % (_NAMES[kind], code))
                if mtype == _DONE:
                    return b"".join(chunks)
    except OSError as e:
        raise NetlinkError("netlink %s failed: %s" % (_NAMES[kind], e))
    finally:
        s.close()


def read(root, kind):
    """dump(kind) on the real system, the replayed file under any other root."""
    if root in ("/", ""):
        return dump(kind)
    name = "netlink/" + _NAMES[kind]
    try:
        with open(files.path(root, name), "rb") as f:
            return f.read()
    except OSError as e:
        raise NetlinkError("no netlink dump %s under %s: %s" % (name, root, e.strerror))


def _messages(data):
    off = 0
    while off + _HDR.size <= len(data):
        length, mtype = _HDR.unpack_from(data, off)[:2]
        if length < _HDR.size or off + length > len(data):
            break
        yield mtype, data[off + _HDR.size:off + length]
        off += (length + 3) & ~3


def _attrs(payload, off):
    out = {}
    while off + _RTA.size <= len(payload):
        length, kind = _RTA.unpack_from(payload, off)
        if length < _RTA.size:
            break
        out.setdefault(kind & 0x3FFF, payload[off + _RTA.size:off + length])
        off += (length + 3) & ~3
    return out


def addresses(data):
    """[(ifindex, family, address, prefix length, flags, preferred s, valid s)] of a dump."""
    out = []
    for mtype, p in _messages(data):
        if mtype != _NEWADDR or len(p) < _IFADDRMSG.size:
            continue
        family, plen, flags, _, index = _IFADDRMSG.unpack_from(p)
        a = _attrs(p, _IFADDRMSG.size)
        # IFA_LOCAL is the local address (IFA_ADDRESS the peer on point-to-point links).
        raw = a.get(2) or a.get(1)
        if raw is None or family not in (socket.AF_INET, socket.AF_INET6):
            continue
        if len(a.get(8, b"")) >= 4:                   # IFA_FLAGS: all 32 bits
            flags = struct.unpack_from("=I", a[8])[0]
        preferred = valid = FOREVER
        if len(a.get(6, b"")) >= 8:                   # IFA_CACHEINFO
            preferred, valid = struct.unpack_from("=II", a[6])
        out.append((index, family, socket.inet_ntop(family, raw), plen, flags, preferred, valid))
    return out


def neighbours(data):
    """[(ifindex, family, address, MAC "aa:bb:..", NUD state)] of a RTM_GETNEIGH dump."""
    out = []
    for mtype, p in _messages(data):
        if mtype != _NEWNEIGH or len(p) < _NDMSG.size:
            continue
        family, _, _, index, state = _NDMSG.unpack_from(p)[:5]
        a = _attrs(p, _NDMSG.size)
        dst, mac = a.get(1), a.get(2)
        if dst is None or mac is None or family not in (socket.AF_INET, socket.AF_INET6):
            continue
        out.append((index, family, socket.inet_ntop(family, dst),
                    ":".join("%02x" % b for b in bytearray(mac)), state))
    return out


RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR = 0x10, 0x100


def address_events():
    """A non-blocking netlink socket that turns readable when an address is added or removed
    (what `ip monitor address` shows), or None where the system has none."""
    try:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)   # 0: NETLINK_ROUTE
    except (OSError, AttributeError):   # not Linux, or no netlink in this sandbox
        return None
    try:
        s.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        s.setblocking(False)
    except OSError:
        s.close()
        return None
    return s


def drain(sock):
    """Read away what the kernel queued on an address_events() socket (what changed does not
    matter: the caller looks again); an overrun (ENOBUFS) means the same."""
    while True:
        try:
            if not sock.recv(65536):
                return
        except OSError as e:   # ENOBUFS: events were lost, which says as much
            if e.errno != errno.ENOBUFS:
                return
