"""Diagnostics wired into a Device (diagnostics/service.py), driven by literal GenieACS SOAP:
a test starts only once the session that requested it has ended, another parameter aborts
it, results stay until the next request, 8 DIAGNOSTICS COMPLETE follows the retention rules
and survives a restart; the tests themselves are fakes run by the real runner."""

import select
import threading

import pytest

from tr069client import actions, events, settings
from tr069client.device import Device
from tr069client.diagnostics.runner import Runner
from tr069client.store import Store

from _engine import END_204, INFORM_RESPONSE, drive, fault_of, genieacs, parse, values_of

T0 = 1764064800.0
PING = "Device.IP.Diagnostics.IPPing."
DL = "Device.IP.Diagnostics.DownloadDiagnostics."
TRACE = "Device.IP.Diagnostics.TraceRoute."
DONE = events.DIAGNOSTICS_COMPLETE


def device(serial="D1", store=None):
    d = Device(store or Store(), {"platform-providers": False},
               {"manufacturer": "Acme", "oui": "00D0C9", "product-class": "R", "serial-number": serial})
    settings.put(d.model, "acs-url", "http://acs.example/")
    d.planner.start("boot-1", 0.0, T0)
    return d


class Fake:
    """Test functions for the runner: `results` returned at once, or, with `hold`, after
    `release` (a running test); `calls` records the inputs and device of each start."""

    def __init__(self, results=None, hold=False):
        self.results = results or {"DiagnosticsState": "Complete", "SuccessCount": "3",
                                   "AverageResponseTime": "1"}
        self.hold, self.calls = hold, []
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, inputs, cancel, device=None):
        self.calls.append((inputs, device))
        self.started.set()
        if self.hold:
            while not self.release.is_set():
                cancel.check()
                self.release.wait(0.02)
        return dict(self.results)


def spv(*items, key="k"):
    structs = "".join('<ParameterValueStruct><Name>%s</Name><Value xsi:type="%s">%s</Value>'
                      '</ParameterValueStruct>' % (n, t, v) for n, v, t in items)
    return genieacs('<cwmp:SetParameterValues><ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[%d]">'
                    '%s</ParameterList><ParameterKey>%s</ParameterKey></cwmp:SetParameterValues>'
                    % (len(items), structs, key))


def gpv(*names):
    return genieacs('<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[%d]">%s'
                    '</ParameterNames></cwmp:GetParameterValues>'
                    % (len(names), "".join("<string>%s</string>" % n for n in names)))


def session(d, *answers, ok=True, wall=T0 + 10):
    """One session of `d` with the ACS `answers` (after the InformResponse, before the 204),
    finished and its actions run as the daemon does; the CPE's posts."""
    s = d.planner.begin(wall, lambda: "id")
    tail = [END_204] if ok else []
    if ok:
        posts = drive(s, [genieacs(INFORM_RESPONSE)] + list(answers) + tail)
    else:
        s.next_post()
        s.abort("the ACS went away")
        posts = []
    d.planner.finish(s, "http://acs.example/", 1.0, wall)
    d.run(s.actions, wall, late=False)
    d.run(s.actions, wall, late=True)
    return s, posts


def finished(d, timeout=10.0):
    """Wait for the runner's wake-up, then let the device's timer take the results."""
    ready, _, _ = select.select(d.diagnostics.fds(), [], [], timeout)
    assert ready, "no diagnostic test finished"
    d.diagnostics.tick(2.0, T0 + 20)


def pinging(store=None):
    """A device whose IPPing, requested by a session, is running (held): (device, Fake)."""
    d = device(store=store)
    fake = Fake(hold=True)
    d.diagnostics.runner = Runner({"IPPing": fake})
    session(d, REQUEST_PING)
    assert fake.started.wait(5)
    return d, fake


REQUEST_PING = spv((PING + "Host", "127.0.0.1", "xsd:string"), (PING + "NumberOfRepetitions", "3", "xsd:unsignedInt"),
                   (PING + "DiagnosticsState", "Requested", "xsd:string"))


def test_a_test_starts_only_when_the_session_that_requested_it_has_ended():
    d = device()
    fake = Fake()
    d.diagnostics.runner = Runner({"IPPing": fake})
    s = d.planner.begin(T0 + 10, lambda: "id")
    drive(s, [genieacs(INFORM_RESPONSE), REQUEST_PING, gpv(PING + "DiagnosticsState"), END_204])
    assert s.actions == [actions.SettleDiagnostic("IPPing")]
    assert not fake.started.is_set() and d.diagnostics.runner.running() == []
    d.planner.finish(s, "http://acs.example/", 1.0, T0 + 10)
    d.run(s.actions, T0 + 10, late=False)
    finished(d)
    inputs, dev = fake.calls[0]
    assert inputs["Host"] == "127.0.0.1" and inputs["NumberOfRepetitions"] == "3" and dev is None
    assert inputs["Timeout"] == "1000"   # TR-181's SHOULD default
    assert d.model.value(PING + "DiagnosticsState") == "Complete"
    assert d.model.value(PING + "SuccessCount") == "3"
    assert (DONE, "") in d.events.pending() and d.planner.due(2.0)
    # The next session carries the event, and the ACS reads typed results.
    _, posts = session(d, gpv(PING))
    assert b"<EventCode>8 DIAGNOSTICS COMPLETE</EventCode>" in posts[0]
    got = values_of(parse(posts[2])[2])
    assert got[PING + "DiagnosticsState"] == ("Complete", "xsd:string")
    assert got[PING + "SuccessCount"] == ("3", "xsd:unsignedInt")
    assert d.events.pending() == []


def test_requested_reads_back_while_the_test_runs_and_the_loop_is_not_held():
    d, fake = pinging()
    d.diagnostics.tick(2.0, T0 + 20)      # nothing finished: nothing written, no event
    assert d.model.value(PING + "DiagnosticsState") == "Requested" and not d.events.pending()
    _, posts = session(d, gpv(PING + "DiagnosticsState"))   # another session meanwhile
    assert values_of(parse(posts[2])[2])[PING + "DiagnosticsState"][0] == "Requested"
    fake.release.set()
    finished(d)
    assert d.model.value(PING + "DiagnosticsState") == "Complete"
    d.diagnostics.close()


@pytest.mark.parametrize("change", [(PING + "Host", "192.0.2.9", "xsd:string"),
                                    (PING + "DiagnosticsState", "Canceled", "xsd:string")])
def test_another_parameter_or_canceled_aborts_a_running_test_without_an_event(change):
    d, fake = pinging()
    worker = [t for t in threading.enumerate() if t.name == "diagnostics-IPPing"][0]
    s, posts = session(d, spv(change), gpv(PING + "DiagnosticsState"))
    assert values_of(parse(posts[3])[2])[PING + "DiagnosticsState"][0] == "None"
    worker.join(5)
    assert not worker.is_alive() and d.diagnostics.runner.running() == []
    d.diagnostics.tick(2.0, T0 + 20)
    assert d.model.value(PING + "DiagnosticsState") == "None" and DONE not in dict(d.events.pending())


def test_another_parameter_of_a_complete_test_drops_its_results():
    d = device()
    d.diagnostics.runner = Runner({"TraceRoute": Fake({"DiagnosticsState": "Complete", "ResponseTime": "2",
                                                      "RouteHops.1.Host": "a", "RouteHops.1.RTTimes": "2"})})
    session(d, spv((TRACE + "Host", "127.0.0.1", "xsd:string"), (TRACE + "DiagnosticsState", "Requested",
                                                                  "xsd:string")))
    finished(d)
    assert list(d.model.instances(TRACE + "RouteHops.")) == [1]
    session(d, spv((TRACE + "MaxHopCount", "5", "xsd:unsignedInt")))
    assert d.model.value(TRACE + "DiagnosticsState") == "None"
    assert list(d.model.instances(TRACE + "RouteHops.")) == [] and d.model.value(TRACE + "ResponseTime") == "0"
    assert d.model.value(TRACE + "MaxHopCount") == "5" and d.model.value(TRACE + "Host") == "127.0.0.1"


def test_results_stay_until_the_next_request_which_clears_them_at_once():
    d = device()
    fake = Fake()
    d.diagnostics.runner = Runner({"IPPing": fake})
    session(d, REQUEST_PING)
    finished(d)
    session(d)
    assert d.model.value(PING + "SuccessCount") == "3"     # kept across sessions
    fake.hold = True
    fake.started.clear()
    _, posts = session(d, spv((PING + "DiagnosticsState", "Requested", "xsd:string")), gpv(PING + "SuccessCount"))
    assert values_of(parse(posts[3])[2])[PING + "SuccessCount"][0] == "0"   # gone with the new request
    assert fake.started.wait(5) and len(fake.calls) == 2
    d.diagnostics.close()


def test_requested_then_reset_in_one_session_runs_nothing():
    d = device()
    fake = Fake()
    d.diagnostics.runner = Runner({"IPPing": fake})
    s, _ = session(d, REQUEST_PING, spv((PING + "Timeout", "500", "xsd:unsignedInt")))
    assert s.actions == [actions.SettleDiagnostic("IPPing")] * 2
    assert d.diagnostics.runner.running() == [] and fake.calls == []
    assert d.model.value(PING + "DiagnosticsState") == "None"


def test_inconsistent_parameters_are_refused_all_or_nothing_with_9007():
    d = device()
    d.diagnostics.runner = Runner({"DownloadDiagnostics": Fake()})
    s, posts = session(d, spv((DL + "DownloadURL", "ftp://127.0.0.1/f", "xsd:string"),
                              (DL + "NumberOfConnections", "9", "xsd:unsignedInt"),
                              (DL + "DiagnosticsState", "Requested", "xsd:string")))
    code, details = fault_of(parse(posts[2])[2])
    assert code == 9003 and details == [(DL + "DownloadURL", 9007), (DL + "NumberOfConnections", 9007)]
    assert s.actions == [] and d.model.value(DL + "DiagnosticsState") == "None"
    assert d.model.value(DL + "DownloadURL") == ""


def test_the_event_is_kept_by_a_failed_session_and_survives_a_restart(tmp_path):
    path = str(tmp_path / "state.json")
    d = device(store=Store.load(path))
    d.diagnostics.runner = Runner({"IPPing": Fake()})
    session(d, REQUEST_PING)
    finished(d)
    d.store.save()
    session(d, ok=False)       # TR-069 3.7.1.5: kept until delivered
    assert (DONE, "") in d.events.pending()
    d.store.save()
    again = device(store=Store.load(path))   # a restart (the same boot)
    assert (DONE, "") in again.events.pending()
    assert again.model.value(PING + "DiagnosticsState") == "Complete"
    assert again.model.value(PING + "SuccessCount") == "3"
    _, posts = session(again)
    assert b"8 DIAGNOSTICS COMPLETE" in posts[0] and again.events.pending() == []


def test_a_request_a_stop_interrupted_runs_again_at_start(tmp_path):
    path = str(tmp_path / "state.json")
    d, fake = pinging(Store.load(path))
    d.store.save()
    d.diagnostics.close()      # the daemon stopped mid-test
    again = device(store=Store.load(path))
    rerun = Fake()
    again.diagnostics.runner = Runner({"IPPing": rerun})
    again.diagnostics.resume()
    finished(again)
    assert rerun.calls[0][0]["Host"] == "127.0.0.1"
    assert again.model.value(PING + "DiagnosticsState") == "Complete" and (DONE, "") in again.events.pending()


@pytest.mark.parametrize("reset", [False, True])
def test_a_reload_keeps_running_tests_and_reset_config_stops_them(reset):
    from tr069client import state
    d, fake = pinging()
    if reset:
        state.reset(d.store)
    reloaded = Device(d.store, {"platform-providers": False}, d.identity)
    reloaded.diagnostics.take_over(d.diagnostics)
    assert reloaded.diagnostics.runner.running() == ([] if reset else ["IPPing"])
    fake.release.set()
    if not reset:
        finished(reloaded)
        assert reloaded.model.value(PING + "DiagnosticsState") == "Complete"
    reloaded.diagnostics.close()


def test_an_error_state_is_written_and_raises_the_event_too():
    from tr069client.diagnostics.common import Failure

    def fails(inputs, cancel, device=None):
        raise Failure("Error_CannotResolveHostName", "no address for %s" % inputs["Host"])
    d = device()
    d.diagnostics.runner = Runner({"IPPing": fails})
    session(d, spv((PING + "Host", "nowhere.invalid", "xsd:string"),
                   (PING + "DiagnosticsState", "Requested", "xsd:string")))
    finished(d)
    assert d.model.value(PING + "DiagnosticsState") == "Error_CannotResolveHostName"
    assert (DONE, "") in d.events.pending()


def test_two_devices_share_no_runner_and_no_results():
    a, b = device("A1"), device("B2")
    assert a.diagnostics is not b.diagnostics and a.diagnostics.runner is b.diagnostics.runner is None
    a.diagnostics.runner = Runner({"IPPing": Fake()})
    session(a, REQUEST_PING)
    finished(a)
    assert a.model.value(PING + "DiagnosticsState") == "Complete"
    assert b.model.value(PING + "DiagnosticsState") == "None" and DONE not in dict(b.events.pending())
    assert b.diagnostics.fds() == [] and b.diagnostics.runner is None


_LAZY = r"""
import sys
from _engine import END_204, INFORM_RESPONSE, drive, genieacs
from tr069client import settings
from tr069client.device import Device
from tr069client.store import Store

def spv(name, value):
    return genieacs('<cwmp:SetParameterValues><ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[1]">'
                    '<ParameterValueStruct><Name>%s</Name><Value xsi:type="xsd:string">%s</Value>'
                    '</ParameterValueStruct></ParameterList><ParameterKey>k</ParameterKey>'
                    '</cwmp:SetParameterValues>' % (name, value))

def loaded():
    return sorted(m for m in sys.modules if m.startswith("tr069client.diagnostics"))

d = Device(Store(), {}, {"manufacturer": "A", "oui": "00D0C9", "product-class": "R", "serial-number": "S"})
settings.put(d.model, "acs-url", "http://acs.example/")
d.planner.start("boot-1", 0.0, 1e9)
for name in ("Device.DeviceInfo.ProvisioningCode", "Device.IP.Diagnostics.IPPing.Host"):
    s = d.planner.begin(1e9, lambda: "id")
    drive(s, [genieacs(INFORM_RESPONSE), spv(name, "192.0.2.1"), END_204])
    d.planner.finish(s, "http://acs.example/", 1.0, 1e9)
    d.run(s.actions, 1e9, late=False)
    d.diagnostics.tick(1.0, 1e9)
    print(loaded())
"""


@pytest.mark.e2e
def test_a_device_that_runs_no_test_loads_neither_the_rules_nor_the_runner():
    # A session without a diagnostics parameter loads neither; one that sets a test's
    # parameter (no request) loads the rules only.
    import os
    import subprocess
    import sys
    tests = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(tests), tests]))
    out = subprocess.run([sys.executable, "-c", _LAZY], cwd=tests, env=env, stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout.splitlines()
    assert eval(out[0]) == ["tr069client.diagnostics", "tr069client.diagnostics.service"]
    assert eval(out[1]) == ["tr069client.diagnostics", "tr069client.diagnostics.common",
                            "tr069client.diagnostics.rules", "tr069client.diagnostics.service"]


def test_a_local_set_to_requested_starts_the_test_as_an_acs_s_would():
    # `tr069client set ...DiagnosticsState=Requested` to a running daemon: the same rules as
    # an ACS's SetParameterValues (checked, results dropped), the test starts at once.
    d = device()
    fake = Fake()
    d.diagnostics.runner = Runner({"IPPing": fake})
    with pytest.raises(settings.SettingError, match="DiagnosticsState"):
        settings.set_values(d.model, [(PING + "DiagnosticsState", "Complete")], [])
    later = []
    settings.set_values(d.model, [(PING + "Host", "127.0.0.1"), (PING + "DiagnosticsState", "Requested")], later)
    assert later == [actions.SettleDiagnostic("IPPing")] and not fake.started.is_set()
    d.run(later, T0 + 10, late=False)
    finished(d)
    assert fake.calls[0][0]["Host"] == "127.0.0.1"
    assert d.model.value(PING + "DiagnosticsState") == "Complete" and (DONE, "") in d.events.pending()
    # Another parameter set locally drops the results, as an ACS's would.
    settings.set_values(d.model, [(PING + "Host", "127.0.0.2")], [])
    assert d.model.value(PING + "DiagnosticsState") == "None" and d.model.value(PING + "SuccessCount") == "0"
