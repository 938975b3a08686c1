#!/usr/bin/env python3
"""Write the hand-made OpenWrt sample root (tests/data/linux/openwrt): a DSA router with
ports lan1, lan2 and wan on the conduit eth0, lan1 + lan2 + phy0-ap0 (the Wi-Fi access
point, as 23.05 names it) bridged as br-lan, a DHCP lease on wan, two LAN hosts (one
wired, one on Wi-Fi) and the WAN gateway.

    python3 tests/data/linux/make_openwrt.py [DIR]

The text files are what OpenWrt 23.05 (kernel 5.15) shows; the netlink dumps and the
bridge's brforward are encoded here in the kernel's binary layouts.
"""

import os
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FOREVER = 0xFFFFFFFF

# name: (ifindex, type, flags, operstate, mtu, MAC, entries that mark it, master, speed)
DEVICES = {
    "lo": (1, 772, 0x9, "unknown", 65536, "00:00:00:00:00:00", [], None, None),
    "eth0": (2, 1, 0x1003, "up", 1504, "94:83:c4:00:00:01", ["device", "upper_lan1"], None, 1000),
    "lan1": (3, 1, 0x1003, "up", 1500, "94:83:c4:00:00:01", ["device", "lower_eth0"], "br-lan", 1000),
    "lan2": (4, 1, 0x1003, "lowerlayerdown", 1500, "94:83:c4:00:00:01", ["device", "lower_eth0"],
             "br-lan", None),
    "wan": (5, 1, 0x1003, "up", 1500, "94:83:c4:00:00:02", ["device", "lower_eth0"], None, 1000),
    "br-lan": (6, 1, 0x1003, "up", 1500, "94:83:c4:00:00:01",
               ["bridge", "lower_lan1", "lower_lan2", "lower_phy0-ap0"], None, None),
    "phy0-ap0": (7, 1, 0x1003, "up", 1500, "94:83:c4:00:00:03", ["device", "phy80211"], "br-lan", None),
}
#        rx: bytes packets errs drop fifo frame compressed multicast | tx: bytes packets errs drop fifo colls carrier compressed
NET_DEV = {
    "lo": (81234, 900, 0, 0, 0, 0, 0, 0, 81234, 900, 0, 0, 0, 0, 0, 0),
    "eth0": (9876543210, 7654321, 0, 12, 0, 0, 0, 0, 1234567890, 2345678, 0, 0, 0, 0, 0, 0),
    "lan1": (123456789, 345678, 1, 2, 0, 0, 0, 4567, 987654321, 456789, 0, 1, 0, 3, 0, 0),
    "lan2": (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    "wan": (9753108642, 7300000, 5000000000, 10, 0, 0, 0, 120, 1111111111, 1888888, 0, 0, 0, 0, 0, 0),
    "br-lan": (120000000, 340000, 0, 0, 0, 0, 0, 4000, 980000000, 450000, 0, 0, 0, 0, 0, 0),
    "phy0-ap0": (5555555, 22222, 0, 0, 0, 0, 0, 10, 6666666, 33333, 0, 0, 0, 0, 0, 0),
}
# (ifindex, family, address, prefix length, IFA flags, preferred s, valid s)
ADDRESSES = [
    (1, socket.AF_INET, "127.0.0.1", 8, 0x80, FOREVER, FOREVER),
    (6, socket.AF_INET, "192.168.1.1", 24, 0x80, FOREVER, FOREVER),
    (6, socket.AF_INET, "192.168.1.2", 24, 0x81, FOREVER, FOREVER),   # secondary, no label
    (5, socket.AF_INET, "203.0.113.10", 24, 0x00, 43200, 43200),      # from udhcpc
    (1, socket.AF_INET6, "::1", 128, 0x80, FOREVER, FOREVER),
    (6, socket.AF_INET6, "fd12:3456:789a::1", 60, 0x80, FOREVER, FOREVER),
    (6, socket.AF_INET6, "fe80::9683:c4ff:fe00:1", 64, 0x80, FOREVER, FOREVER),
    (5, socket.AF_INET6, "2001:db8:0:1::10", 128, 0x00, 3600, 7200),
    (5, socket.AF_INET6, "2001:db8:0:1::99", 64, 0x20, 0, 600),        # deprecated
    (5, socket.AF_INET6, "fe80::9683:c4ff:fe00:2", 64, 0xC0, FOREVER, FOREVER),   # tentative
]
# (ifindex, family, address, MAC, NUD state)
NEIGHBOURS = [
    (6, socket.AF_INET6, "fe80::a8bb:ccff:fe00:1", "aa:bb:cc:00:00:01", 0x02),
    (6, socket.AF_INET6, "fd12:3456:789a::100", "aa:bb:cc:00:00:01", 0x04),
    (6, socket.AF_INET6, "ff02::1", "33:33:00:00:00:01", 0x40),         # NOARP: not a host
    (5, socket.AF_INET6, "fe80::1", "00:00:5e:00:53:01", 0x02),          # the WAN router
    (6, socket.AF_INET6, "fe80::dead", "aa:bb:cc:00:00:09", 0x20),        # FAILED
]
ARP = [
    ("192.168.1.100", "0x2", "aa:bb:cc:00:00:01", "br-lan"),
    ("192.168.1.101", "0x2", "aa:bb:cc:00:00:02", "br-lan"),
    ("192.168.1.102", "0x0", "00:00:00:00:00:00", "br-lan"),   # incomplete
    ("203.0.113.1", "0x2", "00:00:5e:00:53:01", "wan"),
]
# (MAC, port number, is local)
FDB = [("aa:bb:cc:00:00:01", 1, 0), ("aa:bb:cc:00:00:02", 3, 0), ("94:83:c4:00:00:01", 1, 1)]
PORTS = {"lan1": 1, "lan2": 2, "phy0-ap0": 3}
ROUTES = [  # iface, dest, gateway, flags, metric, mask (hex, little-endian like the kernel)
    ("wan", "00000000", "017100CB", "0003", 0, "00000000"),
    ("wan", "007100CB", "00000000", "0001", 0, "00FFFFFF"),
    ("br-lan", "0001A8C0", "00000000", "0001", 0, "00FFFFFF"),
]

TEXT = {
    "proc/uptime": "3600.52 7020.33\n",
    "proc/stat": "cpu  12000 0 6000 160000 2000 0 500 0 0 0\ncpu0 6000 0 3000 80000 1000 0 250 0 0 0\n",
    "proc/meminfo": ("MemTotal:         250000 kB\nMemFree:           90000 kB\n"
                     "MemAvailable:     120000 kB\nBuffers:            4000 kB\n"),
    "proc/sys/kernel/hostname": "OpenWrt\n",
    "proc/sys/kernel/osrelease": "5.15.137\n",
    "proc/1/stat": ("1 (procd) S 0 1 1 0 -1 4194560 1200 90000 12 300 150 250 500 900 20 0 1 0 "
                    "5 1900544 320 4294967295 1 1 0 0 0 0 0 4096 1260 0 0 0 17 0 0 0 0 0 0\n"),
    "proc/1/cmdline": "/sbin/procd\x00",
    "proc/1234/stat": ("1234 (dnsmasq) R 1 1234 1234 0 -1 4194560 800 0 0 0 40 60 0 0 20 0 1 0 "
                       "900 2400256 410 4294967295 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"),
    "proc/1234/cmdline": "/usr/sbin/dnsmasq\x00-C\x00/var/etc/dnsmasq.conf.cfg01411c\x00-k\x00",
    "proc/77/stat": ("77 (kworker/0:1-events) I 2 0 0 0 -1 69238880 0 0 0 0 0 12 0 0 -51 0 1 0 "
                     "60 0 0 4294967295 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0 0\n"),
    "proc/77/cmdline": "",
    "etc/openwrt_release": ("DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='23.05.2'\n"
                            "DISTRIB_REVISION='r23630-842932a63d'\nDISTRIB_TARGET='mediatek/filogic'\n"
                            "DISTRIB_ARCH='aarch64_cortex-a53'\nDISTRIB_DESCRIPTION='OpenWrt 23.05.2 r23630-842932a63d'\n"),
    "etc/TZ": "CET-1CEST,M3.5.0,M10.5.0/3\n",
    "etc/config/system": ("config system\n\toption hostname 'OpenWrt'\n\toption timezone 'CET-1CEST,M3.5.0,M10.5.0/3'\n\n"
                          "config timeserver 'ntp'\n\tlist server '0.openwrt.pool.ntp.org'\n"
                          "\tlist server '1.openwrt.pool.ntp.org'\n\toption enabled '1'\n"),
    "etc/resolv.conf": "search lan\nnameserver 127.0.0.1\nnameserver ::1\n",
    "tmp/resolv.conf.d/resolv.conf.auto": ("# Interface wan\nnameserver 203.0.113.53\n"
                                           "nameserver 203.0.113.54\n# Interface wan6\n"
                                           "nameserver 2001:db8::53\nnameserver fe80::1%wan\n"),
    "tmp/dhcp.leases": ("1700043200 aa:bb:cc:00:00:01 192.168.1.100 laptop 01:aa:bb:cc:00:00:01\n"
                        "1700043300 aa:bb:cc:00:00:02 192.168.1.101 * 01:aa:bb:cc:00:00:02\n"),
    "proc/sys/net/ipv6/conf/lan2/disable_ipv6": "1\n",
}


def rta(kind, data):
    return struct.pack("=HH", 4 + len(data), kind) + data + b"\0" * (-len(data) % 4)


def message(kind, body, seq=1):
    return struct.pack("=IHHII", 16 + len(body), kind, 2, seq, 0) + body + b"\0" * (-len(body) % 4)


def encode_addresses(addresses):
    """RTM_GETADDR dump bytes: RTM_NEWADDR messages (as the kernel sends them) and DONE."""
    out = b""
    for index, family, addr, plen, flags, preferred, valid in addresses:
        raw = socket.inet_pton(family, addr)
        body = struct.pack("=BBBBI", family, plen, flags & 0xFF, 0, index)
        body += rta(1, raw) + rta(2, raw) if family == socket.AF_INET else rta(1, raw)
        body += rta(6, struct.pack("=IIII", preferred, valid, 100, 100)) + rta(8, struct.pack("=I", flags))
        out += message(20, body)
    return out + message(3, struct.pack("=i", 0))


def encode_neighbours(neighbours):
    """RTM_GETNEIGH dump bytes: RTM_NEWNEIGH messages and DONE."""
    out = b""
    for index, family, addr, mac, state in neighbours:
        body = struct.pack("=BBHiHBB", family, 0, 0, index, state, 0, 1)
        body += rta(1, socket.inet_pton(family, addr))
        body += rta(2, bytes(bytearray(int(x, 16) for x in mac.split(":"))))
        out += message(28, body)
    return out + message(3, struct.pack("=i", 0))


def encode_fdb(entries):
    out = b""
    for mac, port, local in entries:
        out += struct.pack("=6sBBIBBH", bytes(bytearray(int(x, 16) for x in mac.split(":"))),
                           port & 0xFF, local, 0, port >> 8, 0, 0)
    return out


def files():
    """{relative path: bytes or ("link", target)} of the whole sample root."""
    out = {k: v.encode() for k, v in TEXT.items()}
    for name, (index, kind, flags, oper, mtu, mac, marks, master, speed) in DEVICES.items():
        base = "sys/class/net/%s/" % name
        for attr, value in (("ifindex", index), ("type", kind), ("flags", "0x%x" % flags),
                            ("operstate", oper), ("mtu", mtu), ("address", mac),
                            ("carrier", 1 if oper in ("up", "unknown") else 0)):
            out[base + attr] = ("%s\n" % value).encode()
        if speed:
            out[base + "speed"] = ("%d\n" % speed).encode()
            out[base + "duplex"] = b"full\n"
        for m in marks:
            out[base + m] = b""
        if master:
            out[base + "master"] = ("link", "../" + master)
        out.setdefault("proc/sys/net/ipv6/conf/%s/disable_ipv6" % name, b"0\n")
    for port, no in PORTS.items():
        out["sys/class/net/br-lan/brif/%s/port_no" % port] = ("0x%x\n" % no).encode()
    out["sys/class/net/br-lan/brforward"] = encode_fdb(FDB)
    head = ("Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    "
            "packets errs drop fifo colls carrier compressed\n")
    out["proc/net/dev"] = (head + "".join("%6s: %s\n" % (n, " ".join(str(v) for v in c))
                                          for n, c in NET_DEV.items())).encode()
    out["proc/net/route"] = ("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                             + "".join("%s\t%s\t%s\t%s\t0\t0\t%d\t%s\t0\t0\t0\n" % r for r in ROUTES)).encode()
    out["proc/net/arp"] = ("IP address       HW type     Flags       HW address            Mask     Device\n"
                           + "".join("%-16s 0x1         %-11s %-21s *        %s\n" % a for a in ARP)).encode()
    out["netlink/RTM_GETADDR"] = encode_addresses(ADDRESSES)
    out["netlink/RTM_GETNEIGH"] = encode_neighbours(NEIGHBOURS)
    return out


def write(root):
    for rel, data in sorted(files().items()):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            os.remove(path)
        if isinstance(data, tuple):
            os.symlink(data[1], path)
        else:
            with open(path, "wb") as f:
                f.write(data)


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "openwrt"))
