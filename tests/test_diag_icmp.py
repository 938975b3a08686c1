"""IPPing and TraceRoute: ICMP packets, the ping/traceroute output forms, and live tests on
127.0.0.1 with each method this sandbox allows (skipped with the reason otherwise)."""

import socket
import stat
import struct
import threading
import time

import pytest

from tr069client import diagnostics
from tr069client.diagnostics import commands, common, icmp, ping, traceroute

RAW = icmp.method(socket.AF_INET) == "raw"
V6 = socket.has_ipv6 and icmp.method(socket.AF_INET6) is not None


def dgram_allowed():
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close()
        return True
    except OSError:
        return False


needs_raw = pytest.mark.skipif(not RAW, reason="no raw ICMP socket (not root, or no CAP_NET_RAW)")
needs_dgram = pytest.mark.skipif(not dgram_allowed(), reason="net.ipv4.ping_group_range "
                                 "does not admit this process to ICMP datagram sockets")


def cancel():
    return common.Cancel()


# ---------------------------------------------------------------- packets

def ipv4(payload, proto=1, src=b"\x7f\0\0\x01"):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0, src,
                       b"\x7f\0\0\x01") + payload


def test_an_echo_request_carries_a_valid_checksum():
    pkt = icmp.echo_request(socket.AF_INET, 0x1234, 7, 10)
    assert len(pkt) == 18 and pkt[:1] == b"\x08"
    assert icmp.checksum(pkt) == 0
    assert icmp.echo_request(socket.AF_INET6, 1, 2, 0)[:1] == b"\x80"


def test_replies_and_errors_are_matched_to_our_probes():
    reply = struct.pack("!BBHHH", 0, 0, 0, 0x1234, 7) + b"data"
    assert icmp.parse(socket.AF_INET, ipv4(reply), 0x1234, True) == ("reply", 7, 0, 0)
    assert icmp.parse(socket.AF_INET, ipv4(reply), 0x9999, True) is None
    assert icmp.parse(socket.AF_INET, reply, None, False) == ("reply", 7, 0, 0)
    sent = ipv4(icmp.echo_request(socket.AF_INET, 0x1234, 9, 8))
    exceeded = struct.pack("!BBHI", 11, 0, 0, 0) + sent
    assert icmp.parse(socket.AF_INET, ipv4(exceeded), 0x1234, True) == ("error", 9, 11, 0)
    unreachable = struct.pack("!BBHI", 3, 1, 0, 0) + sent
    assert icmp.parse(socket.AF_INET, ipv4(unreachable), 0x1234, True) == ("error", 9, 3, 1)
    own_request = icmp.echo_request(socket.AF_INET, 0x1234, 9, 8)
    assert icmp.parse(socket.AF_INET, ipv4(own_request), 0x1234, True) is None
    assert icmp.parse(socket.AF_INET, b"\x45" + b"\0" * 10, 1, True) is None
    inner6 = b"\x60" + b"\0" * 5 + b"\x3a\x40" + b"\0" * 32 + icmp.echo_request(socket.AF_INET6, 5, 3, 4)
    exceeded6 = struct.pack("!BBHI", 3, 0, 0, 0) + inner6
    assert icmp.parse(socket.AF_INET6, exceeded6, 5, True) == ("error", 3, 3, 0)
    assert icmp.parse(socket.AF_INET6, struct.pack("!BBHHH", 129, 0, 0, 5, 3), 5, True) == ("reply", 3, 129, 0)


# ---------------------------------------------------------------- program output

IPUTILS = """PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.
64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.784 ms
64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.900 ms (DUP!)
64 bytes from 127.0.0.1: icmp_seq=3 ttl=64 time=12 ms

--- 127.0.0.1 ping statistics ---
3 packets transmitted, 2 received, +1 duplicates, 33% packet loss, time 2003ms
"""
BUSYBOX = """PING 127.0.0.1 (127.0.0.1): 56 data bytes
64 bytes from 127.0.0.1: seq=0 ttl=64 time=0.023 ms
64 bytes from 127.0.0.1: seq=1 ttl=64 time=0.040 ms
"""
UNREACHABLE = """PING 10.255.255.1 (10.255.255.1) 56(84) bytes of data.
From 192.0.2.1 icmp_seq=1 Destination Host Unreachable
"""


def feed(parser, text):
    for line in text.splitlines(True):
        parser.line(line)
    return parser


def test_ping_output_of_iputils_and_busybox():
    out = feed(commands.PingOutput(), IPUTILS)
    assert out.times.count == 2 and out.times.low == pytest.approx(0.000784)
    assert out.times.high == pytest.approx(0.012) and not out.unreachable
    out = feed(commands.PingOutput(), BUSYBOX)
    assert out.times.count == 2 and out.times.high == pytest.approx(0.00004)
    out = feed(commands.PingOutput(), UNREACHABLE)
    assert out.times.count == 0 and out.unreachable


TRACEROUTE = """traceroute to 10.0.0.9 (10.0.0.9), 30 hops max, 60 byte packets
 1  192.0.2.1  0.220 ms  0.165 ms  0.150 ms
 2  * * *
 3  198.51.100.1  1.000 ms 198.51.100.2  2.000 ms *
 4  10.0.0.9  3.100 ms  3.200 ms  3.300 ms
"""
BUSYBOX_TRACEROUTE = """traceroute to 10.0.0.9 (10.0.0.9), 3 hops max, 46 byte packets
 1  192.0.2.1  0.104 ms  0.064 ms
 2  *  21.4.2.53  0.393 ms
 3  *  0.280 ms !H
"""


def test_traceroute_output_of_traceroute_and_busybox():
    hops = feed(commands.TracerouteOutput(), TRACEROUTE).hops
    assert [h for h, _ in hops] == [1, 2, 3, 4]
    assert hops[1][1] == [(None, None, None)] * 3
    assert hops[2][1] == [("198.51.100.1", 0.001, None), ("198.51.100.2", 0.002, None), (None, None, None)]
    hops = feed(commands.TracerouteOutput(), BUSYBOX_TRACEROUTE).hops
    assert hops[1][1] == [(None, None, None), ("21.4.2.53", pytest.approx(0.000393), None)]
    # busybox leaves out an address that did not change: it is the last one seen.
    assert hops[2][1] == [(None, None, None), ("21.4.2.53", pytest.approx(0.00028), 1)]


def test_argument_lists_never_need_a_shell_and_busybox_gets_no_dscp(tmp_path):
    box = tmp_path / "busybox"
    box.write_text("")
    (tmp_path / "ping").symlink_to(box)
    argv = commands.ping_argv(str(tmp_path / "ping"), socket.AF_INET, "192.0.2.1", 3, 1500, 56, 10, "eth0")
    assert argv[1:] == ["-4", "-n", "-c", "3", "-W", "2", "-w", "7", "-s", "56", "-I", "eth0", "192.0.2.1"]
    argv = commands.ping_argv("/usr/bin/ping", socket.AF_INET6, "::1", 1, 100, 8, 10, None)
    assert "-Q" in argv and argv[argv.index("-Q") + 1] == "40" and argv[-1] == "::1"
    argv = commands.traceroute_argv("/usr/bin/traceroute", socket.AF_INET, "192.0.2.1", 2, 5000, 38, 0, 30, None)
    assert argv[1:] == ["-4", "-n", "-q", "2", "-w", "5", "-m", "30", "192.0.2.1", "66"]


@pytest.mark.parametrize("host", ["-c1", "a b", "x;reboot", "", "a" * 254, "$(id)"])
def test_acs_strings_that_are_no_host_never_reach_a_program(host):
    with pytest.raises(common.Failure) as e:
        ping.run({"Host": host}, cancel(), how="command")
    assert e.value.state == "Error_CannotResolveHostName"


def fake_program(tmp_path, monkeypatch, name, output):
    """A `name` program on PATH that prints `output` and records its arguments."""
    script = tmp_path / name
    script.write_text("#!/bin/sh\necho \"$@\" > %s/args\ncat <<'EOF'\n%sEOF\n" % (tmp_path, output))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path))
    return tmp_path / "args"


def test_ping_through_the_program_when_no_socket_is_allowed(tmp_path, monkeypatch):
    args = fake_program(tmp_path, monkeypatch, "ping", BUSYBOX)
    res = ping.run({"Host": "127.0.0.1", "NumberOfRepetitions": "3", "Timeout": "1000",
                    "DataBlockSize": "20"}, cancel(), how="command")
    assert res["SuccessCount"] == "2" and res["FailureCount"] == "1"
    assert res["MaximumResponseTimeDetailed"] == "40" and res["MaximumResponseTime"] == "1"
    assert res["DiagnosticsState"] == "Complete" and res["IPAddressUsed"] == "127.0.0.1"
    assert args.read_text().split() == ["-4", "-n", "-c", "3", "-W", "1", "-w", "4", "-s", "20", "127.0.0.1"]


def test_traceroute_through_the_program(tmp_path, monkeypatch):
    fake_program(tmp_path, monkeypatch, "traceroute",
                 " 1  127.0.0.1  0.104 ms  0.064 ms  2.6 ms\n")
    res = traceroute.run({"Host": "127.0.0.1"}, cancel(), how="command", names=False)
    assert res["DiagnosticsState"] == "Complete" and res["ResponseTime"] == "1"
    assert res["RouteHops.1.Host"] == "127.0.0.1" and res["RouteHops.1.RTTimes"] == "1,1,3"
    assert res["RouteHops.1.ErrorCode"] == "3"   # the target's port unreachable


def test_no_socket_and_no_program_is_an_internal_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(diagnostics, "PROGRAM_PATH", ())
    with pytest.raises(common.Failure) as e:
        ping.run({"Host": "127.0.0.1"}, cancel(), how="command")
    assert e.value.state == "Error_Internal"


def test_canceling_kills_the_program(tmp_path, monkeypatch):
    script = tmp_path / "ping"
    script.write_text("#!/bin/sh\necho start\nexec sleep 30\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    c = cancel()
    threading.Timer(0.2, c.set).start()
    start = time.monotonic()
    with pytest.raises(common.Canceled):
        ping.run({"Host": "127.0.0.1"}, c, how="command")
    assert time.monotonic() - start < 20


# ---------------------------------------------------------------- live on loopback

def check_ping(res, count):
    assert res["DiagnosticsState"] == "Complete"
    assert res["SuccessCount"] == str(count) and res["FailureCount"] == "0"
    assert int(res["MinimumResponseTimeDetailed"]) <= int(res["AverageResponseTimeDetailed"]) \
        <= int(res["MaximumResponseTimeDetailed"])
    assert int(res["MinimumResponseTime"]) >= 1


@needs_raw
def test_ping_raw_socket():
    res = ping.run({"Host": "127.0.0.1", "NumberOfRepetitions": "3", "DataBlockSize": "100",
                    "DSCP": "10"}, cancel(), interval=0.01, how="raw")
    check_ping(res, 3)
    assert res["IPAddressUsed"] == "127.0.0.1"


@needs_raw
@pytest.mark.skipif(not V6, reason="no IPv6")
def test_ping_raw_socket_ipv6():
    check_ping(ping.run({"Host": "::1", "NumberOfRepetitions": "2", "ProtocolVersion": "IPv6"},
                        cancel(), interval=0.01, how="raw"), 2)


@needs_dgram
def test_ping_datagram_socket():
    check_ping(ping.run({"Host": "127.0.0.1", "NumberOfRepetitions": "2"}, cancel(),
                        interval=0.01, how="dgram"), 2)


@pytest.mark.skipif(commands.find("ping") is None, reason="no ping program")
def test_ping_program():
    check_ping(ping.run({"Host": "127.0.0.1", "NumberOfRepetitions": "2"}, cancel(),
                        how="command"), 2)


@needs_raw
def test_traceroute_raw_socket():
    res = traceroute.run({"Host": "127.0.0.1", "NumberOfTries": "2", "Timeout": "2000"},
                         cancel(), how="raw")
    assert res["DiagnosticsState"] == "Complete" and res["IPAddressUsed"] == "127.0.0.1"
    assert res["RouteHops.1.ErrorCode"] == "0" and len(res["RouteHops.1.RTTimes"].split(",")) == 2
    assert "127.0.0.1" in (res["RouteHops.1.Host"], res["RouteHops.1.HostAddress"])
    assert "RouteHops.2.Host" not in res


@needs_dgram
def test_traceroute_datagram_socket():
    res = traceroute.run({"Host": "127.0.0.1", "NumberOfTries": "1"}, cancel(), how="dgram",
                         names=False)
    assert res["DiagnosticsState"] == "Complete" and res["RouteHops.1.Host"] == "127.0.0.1"


@pytest.mark.skipif(commands.find("traceroute") is None, reason="no traceroute program")
def test_traceroute_program():
    res = traceroute.run({"Host": "127.0.0.1", "NumberOfTries": "1", "Timeout": "2000"},
                         cancel(), how="command", names=False)
    assert res["DiagnosticsState"] == "Complete" and res["RouteHops.1.Host"] == "127.0.0.1"


def test_hops_results_follow_the_model():
    hops = [("192.0.2.1", [0.0004, None, 0.002], 0), (None, [None, None, None], None),
            ("192.0.2.9", [0.003, 0.005, 0.004], 0)]
    res = traceroute.results(hops, "192.0.2.9", socket.AF_INET, 30, "192.0.2.2", names=False)
    assert res["RouteHops.1.RTTimes"] == "1,0,2" and res["RouteHops.2.Host"] == ""
    assert res["DiagnosticsState"] == "Complete" and res["ResponseTime"] == "4"
    res = traceroute.results(hops[:2], "192.0.2.9", socket.AF_INET, 2, "192.0.2.2", names=False)
    assert res["DiagnosticsState"] == "Error_MaxHopCountExceeded" and res["ResponseTime"] == "0"
    res = traceroute.results([("192.0.2.1", [0.001], 1)], "192.0.2.9", socket.AF_INET, 30, "x", names=False)
    assert res["DiagnosticsState"] == "Error_NoRouteToHost" and res["RouteHops.1.ErrorCode"] == "1"


@needs_raw
def test_cancel_ends_a_long_ping():
    c = cancel()
    threading.Timer(0.3, c.set).start()
    with pytest.raises(common.Canceled):
        ping.run({"Host": "127.0.0.1", "NumberOfRepetitions": "1000"}, c, interval=0.5, how="raw")


def test_dscp_and_priority_are_set_on_the_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        common.prepare(s, socket.AF_INET, {"DSCP": "46", "EthernetPriority": "5"})
        assert s.getsockopt(socket.IPPROTO_IP, socket.IP_TOS) == 46 << 2
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY) == 5
        with pytest.raises(common.Failure):
            common.prepare(s, socket.AF_INET, {}, device="")
    finally:
        s.close()
