"""tr069client/linux/netlink.py: dumps of the kernel's address and neighbour tables."""

import os
import re
import shutil
import socket
import subprocess
import sys

import pytest

from tr069client.linux import netlink

from _platform import DEBIAN, OPENWRT

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "linux"))
import make_openwrt  # noqa: E402


def test_parses_the_hand_made_openwrt_dumps():
    addrs = netlink.addresses(netlink.read(OPENWRT, netlink.RTM_GETADDR))
    assert [(a[0], a[2], a[3]) for a in addrs] == [(a[0], a[2], a[3]) for a in make_openwrt.ADDRESSES]
    secondary = [a for a in addrs if a[2] == "192.168.1.2"][0]
    assert secondary[4] & 0x01 and secondary[5] == secondary[6] == netlink.FOREVER
    lease = [a for a in addrs if a[2] == "203.0.113.10"][0]
    assert lease[5:] == (43200, 43200)
    neigh = netlink.neighbours(netlink.read(OPENWRT, netlink.RTM_GETNEIGH))
    assert (6, socket.AF_INET6, "fe80::a8bb:ccff:fe00:1", "aa:bb:cc:00:00:01", 2) in neigh
    assert len(neigh) == len(make_openwrt.NEIGHBOURS)


def test_committed_openwrt_sample_is_what_the_generator_writes(tmp_path):
    make_openwrt.write(str(tmp_path))
    for rel, data in make_openwrt.files().items():
        path = os.path.join(OPENWRT, rel)
        if isinstance(data, tuple):
            assert os.readlink(path) == data[1], rel
        else:
            with open(path, "rb") as f:
                assert f.read() == data, "%s differs: run tests/data/linux/make_openwrt.py" % rel


def test_captured_dump_of_this_kind_of_machine():
    addrs = netlink.addresses(netlink.read(DEBIAN, netlink.RTM_GETADDR))
    assert (1, socket.AF_INET, "127.0.0.1", 8) in [a[:4] for a in addrs]
    assert any(a[1] == socket.AF_INET6 and a[2] == "::1" for a in addrs)


def test_truncated_or_foreign_bytes_give_no_rows_and_no_exception():
    data = netlink.read(OPENWRT, netlink.RTM_GETADDR)
    assert netlink.addresses(data[:37]) == []
    assert len(netlink.addresses(data[:-20])) == len(make_openwrt.ADDRESSES)   # DONE cut off
    assert netlink.addresses(b"\xff" * 64) == [] and netlink.neighbours(b"") == []


def test_a_missing_dump_under_a_test_root_is_a_netlink_error(tmp_path):
    with pytest.raises(netlink.NetlinkError) as e:
        netlink.read(str(tmp_path), netlink.RTM_GETADDR)
    assert "RTM_GETADDR" in str(e.value)


def _ip_addr():
    """{(interface, address/prefix)} that `ip -o addr` shows."""
    out = subprocess.run(["ip", "-o", "addr"], stdout=subprocess.PIPE, universal_newlines=True).stdout
    return {(m.group(1).split("@")[0], m.group(2)) for m in re.finditer(r"^\d+:\s+(\S+)\s+inet6?\s+(\S+)", out, re.M)}


@pytest.mark.skipif(not shutil.which("ip") or not os.path.isdir("/sys/class/net"),
                    reason="needs Linux and the ip command to compare with")
def test_live_dump_shows_what_ip_addr_shows():
    names = {}
    for name in os.listdir("/sys/class/net"):
        with open("/sys/class/net/%s/ifindex" % name) as f:
            names[int(f.read())] = name
    got = {(names.get(a[0], "?"), "%s/%d" % (a[2], a[3]))
           for a in netlink.addresses(netlink.dump(netlink.RTM_GETADDR))}
    assert got == _ip_addr()


def test_the_address_watch_is_non_blocking_and_drains_at_once():
    s = netlink.address_events()
    if s is None:
        pytest.skip("no netlink here")
    try:
        assert s.gettimeout() == 0
        netlink.drain(s)   # nothing queued: returns at once
    finally:
        s.close()
