"""NSLookup against a loopback DNS responder (and the system resolver), the DNS messages,
UDP echo and server selection."""

import socket
import struct

import pytest

from _diag_servers import Dns, Echo
from tr069client.diagnostics import common, dnswire, nslookup, serverselection, udpecho


@pytest.fixture
def dns():
    srv = Dns({"a.example": ["192.0.2.7", "2001:db8::7"], "www.example": "cname:a.example",
               "many.example": ["192.0.2.%d" % i for i in range(1, 13)], "empty.example": []},
              rcode={"broken.example": 2}, silent={"slow.example"})
    yield srv
    srv.close()


def lookup(dns, host, **more):
    inputs = dict({"HostName": host, "DNSServer": "127.0.0.1", "Timeout": "300"}, **more)
    return nslookup.run(inputs, common.Cancel(), port=dns.port)


def test_a_and_aaaa_answers_in_one_result_row(dns):
    res = lookup(dns, "a.example", NumberOfRepetitions="2")
    assert res["DiagnosticsState"] == "Complete" and res["SuccessCount"] == "2"
    assert res["Result.1.Status"] == "Success" and res["Result.1.AnswerType"] == "NonAuthoritative"
    assert res["Result.1.IPAddresses"] == "192.0.2.7,2001:db8::7"
    assert res["Result.1.HostNameReturned"] == "a.example" and res["Result.1.DNSServerIP"] == "127.0.0.1"
    assert int(res["Result.1.ResponseTime"]) >= 1 and "Result.3.Status" not in res
    assert sorted(set(dns.queries)) == [("a.example", 1), ("a.example", 28)]


def test_aliases_authority_and_the_ten_address_limit(dns):
    res = lookup(dns, "www.example")
    assert res["Result.1.HostNameReturned"] == "a.example"
    assert len(lookup(dns, "many.example")["Result.1.IPAddresses"].split(",")) == 10
    dns.authoritative = True
    assert lookup(dns, "a.example")["Result.1.AnswerType"] == "Authoritative"


@pytest.mark.parametrize("host, status", [
    ("nx.example", "Error_HostNameNotResolved"), ("empty.example", "Error_HostNameNotResolved"),
    ("broken.example", "Error_DNSServerNotAvailable"), ("slow.example", "Error_Timeout")])
def test_failed_lookups_are_complete_with_a_status_per_result(dns, host, status):
    res = lookup(dns, host)
    assert res["DiagnosticsState"] == "Complete" and res["SuccessCount"] == "0"
    assert res["Result.1.Status"] == status and res["Result.1.AnswerType"] == "None"


def test_a_closed_port_and_an_unknown_server(dns):
    res = nslookup.run({"HostName": "a.example", "DNSServer": "127.0.0.1", "Timeout": "1000"},
                       common.Cancel(), port=1)
    assert res["Result.1.Status"] == "Error_DNSServerNotAvailable"
    with pytest.raises(common.Failure) as e:
        nslookup.run({"HostName": "a.example", "DNSServer": "no-such.invalid"}, common.Cancel())
    assert e.value.state == "Error_DNSServerNotResolved"


def test_resolv_conf_names_the_server_and_without_one_the_system_resolver_answers(dns, tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nsearch lan\nnameserver 127.0.0.1\nnameserver 192.0.2.53\n")
    assert nslookup.nameserver(str(conf)) == "127.0.0.1"
    res = nslookup.run({"HostName": "a.example", "Timeout": "300"}, common.Cancel(), port=dns.port,
                       resolv_conf=str(conf))
    assert res["Result.1.Status"] == "Success"
    res = nslookup.run({"HostName": "localhost"}, common.Cancel(), resolv_conf=str(tmp_path / "none"))
    assert res["Result.1.Status"] == "Success" and res["Result.1.DNSServerIP"] == ""
    assert "127.0.0.1" in res["Result.1.IPAddresses"].split(",") or "::1" in res["Result.1.IPAddresses"]


def test_dns_messages():
    q = dnswire.query("a.example", dnswire.AAAA, 0xBEEF)
    assert q[:4] == b"\xbe\xef\x01\x00" and q.endswith(b"\x01a\x07example\x00\x00\x1c\x00\x01")
    with pytest.raises(ValueError):
        dnswire.query("a..b", dnswire.A, 1)
    loop = struct.pack("!HHHHHH", 1, 0x8180, 0, 1, 0, 0) + b"\xc0\x0c" + b"\0" * 10
    with pytest.raises(dnswire.Malformed):
        dnswire.parse(loop, 1)
    with pytest.raises(dnswire.Malformed):
        dnswire.parse(b"\0\1\x81\x80" + b"\0" * 8, 2)   # another query's answer
    records = [("w", dnswire.CNAME, "a"), ("a", dnswire.A, "192.0.2.1"), ("b", dnswire.A, "192.0.2.2")]
    assert dnswire.addresses("w", records, dnswire.A) == ("a", ["192.0.2.1"])


def test_udp_echo_counts_lost_datagrams():
    srv = Echo(drop=1)
    try:
        res = udpecho.run({"Host": "127.0.0.1", "Port": str(srv.port), "NumberOfRepetitions": "3",
                           "Timeout": "300", "InterTransmissionTime": "1", "DataBlockSize": "100"},
                          common.Cancel())
    finally:
        srv.close()
    assert res["SuccessCount"] == "2" and res["FailureCount"] == "1"
    assert int(res["MinimumResponseTime"]) <= int(res["AverageResponseTime"]) <= int(res["MaximumResponseTime"])
    assert res["IPAddressUsed"] == "127.0.0.1"


def test_server_selection_picks_the_host_that_answers():
    srv = Echo()
    try:
        res = serverselection.run({"HostList": "nothing.invalid,127.0.0.1", "Protocol": "UDP Echo",
                                   "NumberOfRepetitions": "2", "Timeout": "300"},
                                  common.Cancel(), echo_port=srv.port)
    finally:
        srv.close()
    assert res["FastestHost"] == "127.0.0.1" and int(res["AverageResponseTime"]) > 0
    with pytest.raises(common.Failure) as e:
        serverselection.run({"HostList": "nothing.invalid"}, common.Cancel())
    assert e.value.state == "Error_CannotResolveHostName"
    res = serverselection.run({"HostList": "127.0.0.1", "Protocol": "UDP Echo", "Timeout": "100"},
                              common.Cancel(), echo_port=_closed_port())
    assert res["FastestHost"] == "" and res["AverageResponseTime"] == "0"


def _closed_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
