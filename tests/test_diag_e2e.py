"""Remote diagnostics end to end: the real daemon against the lab ACS, each test against
loopback peers (an HTTP server that serves and accepts N bytes, a UDP DNS responder,
127.0.0.1 for ping and traceroute). The ACS requests the tests, the session ends, the
device runs them, a session carries 8 DIAGNOSTICS COMPLETE and the ACS reads typed results;
the abort rule, retention across SIGKILL, and a loop that serves connection requests and
sessions while a test runs. Every CPE message is schema-checked (make_lab_acs)."""

import signal

import pytest

from _daemon import MS, DaemonProc, events_of, informs, instrument, wait_informs, wait_until
from _diag_servers import Dns, Http
from lab_acs import get_parameter_values, set_parameter_values

pytestmark = pytest.mark.e2e

CR = {"connection-request-username": "cr-user", "connection-request-password": "cr-pass"}
IP = "Device.IP.Diagnostics."
PING, TRACE = IP + "IPPing.", IP + "TraceRoute."
DL, UL = IP + "DownloadDiagnostics.", IP + "UploadDiagnostics."
NS = "Device.DNS.Diagnostics.NSLookupDiagnostics."
DONE = "8 DIAGNOSTICS COMPLETE"
MiB = 1024 * 1024
DNS_HOST = "127.0.53.1"   # a loopback address of its own: port 53 is fixed for NSLookup
UINT, ULONG, STRING, DATETIME = "xsd:unsignedInt", "xsd:unsignedLong", "xsd:string", "xsd:dateTime"


@pytest.fixture
def acs(make_lab_acs):
    return instrument(make_lab_acs())


@pytest.fixture
def http():
    srv = Http()
    yield srv
    srv.close()


@pytest.fixture
def daemon(tmp_path):
    made = []

    def make(acs, **options):
        d = DaemonProc(tmp_path, acs, config=CR, **options)
        made.append(d)
        return d
    yield make
    problems = []
    for d in made:
        if d.running() and d.stop() != 0:
            problems.append("daemon exited badly on SIGTERM")
        if "Traceback" in d.log() or "internal error" in d.log():
            problems.append("internal error in the daemon log:\n" + d.log())
    assert not problems, "\n".join(problems)


def request(obj, *items):
    """A setParameterValues task as GenieACS sends it: the test's parameters, then Requested."""
    return set_parameter_values([(obj + n, v, t) for n, v, t in items] +
                                [(obj + "DiagnosticsState", "Requested", STRING)], "diag")


def cr(acs):
    url = acs.informs[-1]["parameters"][MS + "ConnectionRequestURL"]
    return acs.connection_request(url, "cr-user", "cr-pass")


def values(acs):
    """{name: (value, type)} of every GetParameterValuesResponse so far, the latest winning."""
    out = {}
    for method, got in acs.responses:
        if method == "GetParameterValuesResponse":
            out.update(got)
    return out


def test_each_test_runs_after_the_session_and_the_acs_reads_typed_results(acs, daemon, http):
    try:
        dns = Dns({"router.lab": ["192.0.2.1", "2001:db8::1"]}, host=DNS_HOST, port=53)
    except OSError as e:
        pytest.skip("cannot serve DNS on %s:53 here: %s" % (DNS_HOST, e))
    try:
        acs.queue_session([
            request(PING, ("Host", "127.0.0.1", STRING), ("NumberOfRepetitions", "2", UINT),
                    ("Timeout", "1000", UINT)),
            request(TRACE, ("Host", "127.0.0.1", STRING), ("MaxHopCount", "3", UINT),
                    ("NumberOfTries", "1", UINT)),
            request(DL, ("DownloadURL", "%s/bytes/%d" % (http.url, 4 * MiB), STRING)),
            request(UL, ("UploadURL", http.url + "/up", STRING), ("TestFileLength", str(2 * MiB), UINT)),
            request(NS, ("HostName", "router.lab", STRING), ("DNSServer", DNS_HOST, STRING),
                    ("NumberOfRepetitions", "2", UINT))])
        d = daemon(acs).start()
        acs.wait_sessions(1)
        d.wait_log(r"diagnostics: \w+ ended", count=5, timeout=30)
        assert "Requested" not in [d.get(o + "DiagnosticsState") for o in (PING, TRACE, DL, UL, NS)]
        # The session(s) that follow carry the event; then the ACS reads every object.
        got = wait_until(lambda: [p for p in informs(acs) if DONE in events_of(p)], 15)
        assert got and all(DONE not in events_of(p) for p in informs(acs)[:1])
        wait_until(lambda: not d.status()["pending-events"] and not d.status().get("session-in-progress"), 15)
        sessions = len(informs(acs))
        acs.queue_session([get_parameter_values([PING, TRACE, DL, UL, NS])])
        assert cr(acs) == 200
        acs.wait_sessions(sessions + 1, timeout=15)
    finally:
        dns.close()
    v = values(acs)
    assert v[PING + "DiagnosticsState"] == ("Complete", STRING)
    assert v[PING + "SuccessCount"] == ("2", UINT) and v[PING + "FailureCount"] == ("0", UINT)
    assert v[PING + "AverageResponseTime"][1] == UINT and v[PING + "IPAddressUsed"] == ("127.0.0.1", STRING)
    assert v[TRACE + "DiagnosticsState"] == ("Complete", STRING)
    assert v[TRACE + "RouteHopsNumberOfEntries"] == ("1", UINT)
    assert v[TRACE + "RouteHops.1.HostAddress"] == ("127.0.0.1", STRING)
    assert v[DL + "DiagnosticsState"] == ("Complete", STRING)
    assert int(v[DL + "TestBytesReceived"][0]) >= 4 * MiB and v[DL + "TestBytesReceived"][1] == ULONG
    assert v[DL + "BOMTime"][1] == DATETIME and v[DL + "EOMTime"][0] > v[DL + "BOMTime"][0]
    assert v[UL + "DiagnosticsState"] == ("Complete", STRING) and http.received == [2 * MiB]
    assert v[UL + "TestBytesSent"][1] == ULONG and int(v[UL + "TestBytesSent"][0]) >= 2 * MiB
    assert v[NS + "DiagnosticsState"] == ("Complete", STRING) and v[NS + "SuccessCount"] == ("2", UINT)
    assert v[NS + "Result.1.IPAddresses"] == ("192.0.2.1,2001:db8::1", STRING)
    assert v[NS + "Result.1.DNSServerIP"] == (DNS_HOST, STRING)
    assert v[NS + "Result.2.ResponseTime"][1] == UINT


def test_the_loop_serves_connection_requests_and_sessions_while_a_test_runs(acs, daemon, http):
    acs.queue_session([request(DL, ("DownloadURL", "%s/held/%d" % (http.url, MiB), STRING))])
    d = daemon(acs).start()
    acs.wait_sessions(1)
    assert wait_until(lambda: http.held == 1, 10)      # the test is running, held by the server
    acs.queue_session([get_parameter_values([DL + "DiagnosticsState"])])
    assert cr(acs) == 200
    assert events_of(wait_informs(acs, 2)[1]) == ["6 CONNECTION REQUEST"]
    acs.wait_sessions(2)
    assert values(acs)[DL + "DiagnosticsState"] == ("Requested", STRING)
    assert d.cli("inform").returncode == 0            # an operator's session too
    assert events_of(wait_informs(acs, 3)[2]) == ["6 CONNECTION REQUEST"]
    acs.wait_sessions(3)
    http.release.set()
    assert events_of(wait_informs(acs, 4, timeout=15)[3]) == [DONE]
    acs.wait_sessions(4)
    assert d.get(DL + "DiagnosticsState") == "Complete" and int(d.get(DL + "TestBytesReceived")) >= MiB


def test_setting_another_parameter_of_a_running_test_aborts_it_without_an_event(acs, daemon, http):
    acs.queue_session([request(DL, ("DownloadURL", http.url + "/stall", STRING))])
    d = daemon(acs).start()
    acs.wait_sessions(1)
    d.wait_log(r"diagnostics: DownloadDiagnostics started")
    acs.queue_session([set_parameter_values([(DL + "DownloadURL", http.url + "/bytes/10", STRING)], "abort"),
                       get_parameter_values([DL + "DiagnosticsState"])])
    assert cr(acs) == 200
    acs.wait_sessions(2)
    assert values(acs)[DL + "DiagnosticsState"] == ("None", STRING)
    d.wait_log(r"diagnostics: DownloadDiagnostics stopped")
    http.release.set()
    assert not wait_until(lambda: len(informs(acs)) > 2, 1.5)     # no 8 DIAGNOSTICS COMPLETE
    assert "ended with" not in d.log() and d.get(DL + "DiagnosticsState") == "None"


def test_a_test_and_its_event_survive_sigkill(acs, daemon, http):
    # Retries after a failed session come after 1-2 s instead of 5-10 s.
    acs.queue_session([set_parameter_values([(MS + "CWMPRetryMinimumWaitInterval", "1", UINT)], "fast"),
                       request(DL, ("DownloadURL", "%s/held/%d" % (http.url, MiB), STRING))])
    d = daemon(acs).start()
    acs.wait_sessions(1)
    assert wait_until(lambda: http.held == 1, 10)
    d.kill()                                          # SIGKILL mid-test
    d.start()
    assert wait_until(lambda: http.held == 2, 10)     # the request runs again after the restart
    d.wait_log(r"diagnostics: DownloadDiagnostics started", count=2)
    acs.refusals.append((503, [("Retry-After", "1")]))   # the event's first session fails
    http.release.set()
    assert wait_until(lambda: [p for p in acs.posts if p.refused and DONE in events_of(p)], 15)
    d.wait_log(r"session failed \(8 DIAGNOSTICS COMPLETE", timeout=10)   # logged once saved
    assert d.stop(signal.SIGKILL) == -signal.SIGKILL
    before = len(acs.sessions)
    acs.queue_session([get_parameter_values([DL])])
    d.start()
    assert acs.wait_for(lambda a: len(a.sessions) > before and a.sessions[before].ended, 15), acs.transcript()
    assert DONE in [code for code, _ in acs.sessions[before].inform["events"]]
    v = values(acs)
    assert v[DL + "DiagnosticsState"] == ("Complete", STRING) and int(v[DL + "TestBytesReceived"][0]) >= MiB
    assert d.status()["pending-events"] == []
