"""diagnostics.rules and the diagnostics objects of the model: the TR-069 rules of
DiagnosticsState, the inputs a test gets, what a result writes and the event it raises."""

import pytest

from tr069client import diagnostics, events, metadata
from tr069client.diagnostics import rules
from tr069client.faults import CwmpFault
from tr069client.model import Model
from tr069client.store import Store

PING = "Device.IP.Diagnostics.IPPing."
TRACE = "Device.IP.Diagnostics.TraceRoute."
NS = "Device.DNS.Diagnostics.NSLookupDiagnostics."


def model():
    return Model(Store(), defaults=diagnostics.defaults(probe=False))


def test_the_rules_know_exactly_the_writable_parameters_of_each_test_object():
    meta = metadata.load()
    for kind, obj in diagnostics.OBJECTS.items():
        writable = {name for name, p in meta.params_of(obj) if p.writable}
        assert writable == set(rules._inputs_of(kind)), kind


def test_objects_exist_from_the_start_with_state_none_and_the_should_defaults():
    m = model()
    assert m.value(PING + "DiagnosticsState") == "None"
    assert m.value(NS + "DiagnosticsState") == "None"
    assert m.value(TRACE + "MaxHopCount") == "30" and m.value(TRACE + "Timeout") == "5000"
    assert m.value("Device.IP.Diagnostics.DownloadDiagnostics.DownloadTransports") == "HTTP"
    assert m.instances(TRACE + "RouteHops.") == ()
    assert m.value(TRACE + "RouteHopsNumberOfEntries") == "0"


def test_the_acs_may_write_requested_and_canceled_only():
    m = model()
    m.set_values([(PING + "DiagnosticsState", "Requested", "xsd:string")], None)
    m.set_values([(PING + "DiagnosticsState", "Canceled", "xsd:string")], None)
    for value in ("None", "Complete", "Error_Internal"):
        with pytest.raises(CwmpFault) as e:
            m.set_values([(PING + "DiagnosticsState", value, "xsd:string")], None)
        assert e.value.code == 9003 and e.value.details[0][1] == 9007
    with pytest.raises(CwmpFault):   # results are read-only
        m.set_values([(PING + "SuccessCount", "3", "xsd:unsignedInt")], None)


def test_requested_starts_canceled_cancels_any_other_parameter_resets():
    values = {PING + "DiagnosticsState": "Requested", TRACE + "DiagnosticsState": "Canceled"}
    assert rules.on_set([PING + "Host", PING + "DiagnosticsState", TRACE + "DiagnosticsState",
                         NS + "HostName", "Device.ManagementServer.URL"], values) == {
        "IPPing": rules.REQUEST, "TraceRoute": rules.CANCEL, "NSLookupDiagnostics": rules.RESET}


def test_a_request_keeps_the_inputs_and_drops_results_and_rows():
    keys = [PING + "Host", PING + "DiagnosticsState", PING + "SuccessCount",
            TRACE + "RouteHops.1.Host", TRACE + "Host", TRACE + "ResponseTime"]
    assert rules.changes("IPPing", rules.REQUEST, keys) == {PING + "SuccessCount": None}
    assert rules.changes("TraceRoute", rules.RESET, keys) == {
        TRACE + "RouteHops.1.Host": None, TRACE + "ResponseTime": None,
        TRACE + "DiagnosticsState": "None"}
    assert rules.changes("IPPing", rules.CANCEL, [])[PING + "DiagnosticsState"] == "None"


def test_inputs_are_read_from_the_model_values():
    m = model()
    m.set_values([(PING + "Host", "192.0.2.1", "xsd:string")], None)
    got = rules.inputs("IPPing", m.values())
    assert got["Host"] == "192.0.2.1" and got["Timeout"] == "1000" and "DiagnosticsState" not in got
    assert "SuccessCount" not in got


def test_a_result_replaces_the_old_one_and_raises_diagnostics_complete():
    m = model()
    m.store.values.update({TRACE + "RouteHops.1.Host": "old", TRACE + "RouteHops.2.Host": "old"})
    results = {"DiagnosticsState": "Complete", "ResponseTime": "3", "RouteHops.1.Host": "a",
               "RouteHops.1.HostAddress": "", "RouteHops.1.ErrorCode": "0", "RouteHops.1.RTTimes": "3"}
    writes, event = rules.on_result("TraceRoute", results, list(m.store.values))
    assert event == events.DIAGNOSTICS_COMPLETE == "8 DIAGNOSTICS COMPLETE"
    for path, value in writes.items():
        if value is None:
            m.store.values.pop(path, None)
        else:
            m.store.values[path] = value
    m.refresh()
    assert list(m.instances(TRACE + "RouteHops.")) == [1]
    assert m.value(TRACE + "RouteHopsNumberOfEntries") == "1"
    got = dict((n, v) for n, v, _ in m.get_values([TRACE]))
    assert got[TRACE + "DiagnosticsState"] == "Complete" and got[TRACE + "RouteHops.1.RTTimes"] == "3"


def test_a_result_without_a_state_is_an_internal_error():
    writes, _ = rules.on_result("IPPing", {}, [])
    assert writes[PING + "DiagnosticsState"] == "Error_Internal"


def test_requested_at_boot_runs_again():
    assert rules.on_boot({PING + "DiagnosticsState": "Requested",
                          TRACE + "DiagnosticsState": "Complete"}) == ["IPPing"]


def test_inconsistent_transfer_parameters_are_refused_by_the_spv():
    dl = "Device.IP.Diagnostics.DownloadDiagnostics."
    assert rules.refuse(dl + "DownloadURL", "ftp://h/f") is not None
    assert rules.refuse(dl + "DownloadURL", "http://u:p@h/f") is not None
    assert rules.refuse(dl + "DownloadURL", "http://h:99999/f") is not None
    assert rules.refuse(dl + "DownloadURL", "http://h/f") is None
    assert rules.refuse(dl + "NumberOfConnections", "9") is not None
    assert rules.refuse(dl + "NumberOfConnections", "8") is None
    assert rules.refuse(PING + "Host", "anything") is None


def test_interface_device_is_the_referenced_objects_name():
    values = {"Device.IP.Interface.1.Name": "eth0"}
    assert diagnostics.interface_device(values, "") is None
    assert diagnostics.interface_device(values, "Device.IP.Interface.1") == "eth0"
    assert diagnostics.interface_device(values, "Device.IP.Interface.1.") == "eth0"
    assert diagnostics.interface_device(values, "Device.IP.Interface.2") == ""


def test_capabilities_say_what_this_process_can_run():
    d = diagnostics.defaults()
    assert d["Device.IP.Diagnostics.IPv4DownloadDiagnosticsSupported"] == "true"
    assert d["Device.IP.Diagnostics.IPLayerCapacitySupported"] == "false"
    assert d["Device.IP.Diagnostics.IPv4PingSupported"] in ("true", "false")
    m = Model(Store(), defaults=d)
    assert m.value("Device.IP.Diagnostics.IPv4PingSupported") == d["Device.IP.Diagnostics.IPv4PingSupported"]
