"""A device's whole state is one object: two Devices live side by side in one process, their
sessions interleaved message by message against literal ACS SOAP, and nothing of one shows in
the other (values, ParameterKey, instance numbers, attributes, events, actions)."""

import sys

import pytest

import cwmp_schema
from tr069client import actions, settings
from tr069client.device import Device
from tr069client.store import Store

from _engine import END_204, INFORM_RESPONSE, body, genieacs, parse, values_of

T0 = 1764064800.0
PM = "Device.NAT.PortMapping."
CODE = "Device.DeviceInfo.ProvisioningCode"
KEY = "Device.ManagementServer.ParameterKey"


def device(serial):
    d = Device(Store(), {"platform-providers": False},
               {"manufacturer": "Acme", "oui": "00D0C9", "product-class": "R", "serial-number": serial})
    settings.put(d.model, "acs-url", "http://acs.example/" + serial)
    d.planner.start("boot-" + serial, 0.0, T0)
    return d


def spv(name, value, key):
    return ('<cwmp:SetParameterValues><ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[1]">'
            '<ParameterValueStruct><Name>%s</Name><Value xsi:type="xsd:string">%s</Value>'
            '</ParameterValueStruct></ParameterList><ParameterKey>%s</ParameterKey>'
            '</cwmp:SetParameterValues>' % (name, value, key))


def add(table, key):
    return ("<cwmp:AddObject><ObjectName>%s</ObjectName><ParameterKey>%s</ParameterKey>"
            "</cwmp:AddObject>" % (table, key))


def interleave(*runs):
    """Drive several (session, ACS answers) one message at a time each, in turn; the CPE's
    posts of each, every one checked against the schema."""
    posts = [[] for _ in runs]
    pending = [list(answers) for _, answers in runs]
    while any(not s.done for s, _ in runs):
        for i, (s, _) in enumerate(runs):
            out = s.next_post()
            if out is None:
                continue
            out = body(out)
            cwmp_schema.validate(out)
            posts[i].append(out)
            status, headers, data = pending[i].pop(0)
            s.receive(status, headers, data if isinstance(data, bytes) else data.encode())
    assert pending == [[] for _ in runs]
    return posts


@pytest.fixture
def pair():
    a, b = device("A1"), device("B2")
    sa, sb = a.planner.begin(T0, lambda: "a"), b.planner.begin(T0, lambda: "b")
    posts = interleave(
        (sa, [genieacs(INFORM_RESPONSE), genieacs(spv(CODE, "code-A", "ka")), genieacs(add(PM, "ka2")),
              genieacs(add(PM, "ka3")),
              genieacs('<cwmp:SetParameterAttributes><ParameterList soap-enc:arrayType='
                       '"cwmp:SetParameterAttributesStruct[1]"><SetParameterAttributesStruct>'
                       '<Name>%s</Name><NotificationChange>true</NotificationChange>'
                       '<Notification>1</Notification><AccessListChange>false</AccessListChange>'
                       '<AccessList></AccessList></SetParameterAttributesStruct></ParameterList>'
                       '</cwmp:SetParameterAttributes>' % (PM + "1.Description")),
              genieacs("<cwmp:ScheduleInform><DelaySeconds>60</DelaySeconds><CommandKey>sa"
                       "</CommandKey></cwmp:ScheduleInform>"), END_204]),
        (sb, [genieacs(INFORM_RESPONSE), genieacs(spv(CODE, "code-B", "kb")), genieacs(add(PM, "kb2")),
              genieacs("<cwmp:Reboot><CommandKey>rb</CommandKey></cwmp:Reboot>"), END_204]))
    for d, s in ((a, sa), (b, sb)):
        assert s.ok
        d.planner.finish(s, "http://acs.example/", 1.0, T0 + 1)
        d.run(s.actions, T0 + 1, late=False)
    return a, b, sa, sb, posts


def test_two_devices_keep_their_own_values_keys_rows_and_attributes(pair):
    a, b, sa, sb, posts = pair
    assert [parse(p)[1] for p in posts[0][1:] if p] == ["SetParameterValuesResponse", "AddObjectResponse",
                                                       "AddObjectResponse", "SetParameterAttributesResponse",
                                                       "ScheduleInformResponse"]
    assert [parse(p)[1] for p in posts[1][1:] if p] == ["SetParameterValuesResponse", "AddObjectResponse",
                                                       "RebootResponse"]
    assert a.model.value(CODE) == "code-A" and b.model.value(CODE) == "code-B"
    assert a.model.value(KEY) == "ka3" and b.model.value(KEY) == "kb2"
    assert list(a.model.instances(PM)) == [1, 2] and list(b.model.instances(PM)) == [1]
    assert a.model.value("Device.NAT.PortMappingNumberOfEntries") == "2"
    assert b.model.value("Device.NAT.PortMappingNumberOfEntries") == "1"
    assert a.store.attrs == {PM + "1.Description": [1, []]} and b.store.attrs == {}
    # Each Inform carried its own device.
    assert values_of(parse(posts[0][0])[2])[CODE] == ("", "xsd:string")
    assert b"<SerialNumber>A1</SerialNumber>" in posts[0][0] and b"<SerialNumber>B2</SerialNumber>" in posts[1][0]


def test_two_devices_keep_their_own_actions_and_events(pair):
    a, b, sa, sb, _ = pair
    assert sa.actions == [actions.ScheduleInform(60, "sa")] and sb.actions == [actions.Reboot("rb")]
    for d in (a, b):
        d.planner.on_timers(61.0, T0 + 61)
    assert ("M ScheduleInform", "sa") in a.events.pending() and a.planner.due(61.0)
    assert b.events.pending() == [] and not b.planner.due(61.0)
    assert a.store.state["events"] is not b.store.state["events"]


def test_two_devices_share_nothing_mutable():
    a, b = device("A1"), device("B2")
    for name in ("store", "model", "planner", "events", "transfers", "operations", "handlers", "timers"):
        assert getattr(a, name) is not getattr(b, name), name
    assert a.model.tables is not b.model.tables and a.model.cache is not b.model.cache
    assert a.planner.watcher is not b.planner.watcher
    assert a.handlers["Download"] is not b.handlers["Download"]   # bound to each queue
    assert a.model.meta is b.model.meta   # the TR-181 metadata: read-only, shared on purpose


def test_every_action_has_a_runner():
    d = device("A1")
    kinds = [c for c in vars(actions).values() if isinstance(c, type) and hasattr(c, "late")]
    assert sorted(k.__name__ for k in kinds) == sorted(k.__name__ for k in d._runners)


def _held_device(tmp_path, deferred):
    record = tmp_path / "reboots"
    store = Store(str(tmp_path / "state.json"))
    store.state.update({"boot_id": "b1", "deferred": deferred})
    d = Device(store, {"platform-providers": False, "reboot-command": [
        sys.executable, "-c", "open(%r, 'a').write('reboot\\n')" % str(record)]},
        {"manufacturer": "Acme", "oui": "00D0C9", "product-class": "R", "serial-number": "SN1"})
    d.stops = []
    d.stop = lambda: d.stops.append(1)
    d.reboots = lambda: record.read_text().count("reboot") if record.exists() else 0
    return d


def test_what_a_session_accepted_before_a_kill_runs_at_the_next_start(tmp_path):
    # Issue 11.3: a daemon killed after the ACS heard ScheduleInform and Reboot accepted (same boot).
    d = _held_device(tmp_path, [["ScheduleInform", [30, "s1"], "b1"], ["Reboot", ["r1"], "b1"]])
    d.start("b1", 0.0, T0)
    assert d.store.state["scheduled"] == [[T0 + 30, "s1"]]
    assert d.reboots() == 1 and d.stops == [1] and d.store.state["expect_boot"] == "returned"
    assert ("M Reboot", "r1") in d.events.pending() and "deferred" not in d.store.state
    assert Store.load(d.store.path).state.get("deferred") is None     # saved so, before the reboot-command


def test_a_reboot_accepted_before_a_power_cut_is_reported_not_done_again(tmp_path):
    d = _held_device(tmp_path, [["Reboot", ["r1"], "b1"]])
    d.start("b2", 0.0, T0)
    assert d.reboots() == 0 and d.stops == []
    assert d.events.pending() == [("1 BOOT", ""), ("M Reboot", "r1")] and "deferred" not in d.store.state


def test_a_factory_reset_accepted_before_a_power_cut_happens_at_the_next_start(tmp_path):
    d = _held_device(tmp_path, [["FactoryReset", [], "b1"], ["Bogus", [], "b1"]])
    settings.put(d.model, "acs-url", "http://acs.example/")
    d.store.values[CODE] = "kept?"
    d.start("b2", 0.0, T0)
    assert d.stops == [1] and CODE not in d.store.values and d.store.state["expect_boot"] == "returned"
    assert "deferred" not in d.store.state


def test_an_action_run_at_the_session_end_is_no_longer_held(tmp_path):
    d = _held_device(tmp_path, [["ScheduleInform", [30, "s1"], "b1"], ["ScheduleInform", [30, "s1"], "b1"]])
    d.run([actions.ScheduleInform(30, "s1")], T0, late=False)
    assert d.store.state["deferred"] == [["ScheduleInform", [30, "s1"], "b1"]]
    d.run([actions.ScheduleInform(30, "s1")], T0, late=False)
    assert "deferred" not in d.store.state and d.store.state["scheduled"] == [[T0 + 30, "s1"]] * 2
