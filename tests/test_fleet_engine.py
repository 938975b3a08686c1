"""The fleet's adapter to the engine: a simulated device is a device.Device whose model is the
template's shared values plus its own overrides, answers as the daemon's model does, and keeps
no copy of the template nor, between sessions, a view of it."""

import itertools

from tr069client import state
from tr069client.device import Device
from tr069client.fleet import engine
from tr069client.fleet.cpe import Cpe
from tr069client.fleet.template import DEFAULT, Template

import _engine

MS = "Device.ManagementServer."
PM = "Device.NAT.PortMapping."


def booted(template, i=0):
    c = Cpe(i, template, 1)
    c.boot(template, "1.0", "boot-1", 100.0, 1e9)
    return c


def template_with_a_port_mapping():
    doc = {"values": dict(DEFAULT["values"], **{PM + "1.Description": "from the template",
                                                PM + "1.InternalClient": "192.168.1.10"})}
    return Template(doc, {MS + "URL": "http://acs.example/"})


def test_two_devices_share_the_template_and_differ_in_their_own_values():
    t = Template(DEFAULT, {MS + "URL": "http://acs.example/"})
    c1, c2 = booted(t, 1), booted(t, 2)
    m1, m2 = c1.dev.model, c2.dev.model
    assert isinstance(c1.dev, Device) and c1.dev is not c2.dev and c1.dev.events is not c2.dev.events
    assert m1.value("Device.DeviceInfo.SerialNumber") == "FLEET0000001"
    assert m2.value("Device.DeviceInfo.SerialNumber") == "FLEET0000002"
    assert m1.defaults() is m2.defaults() is t.shared
    # The store holds what differs (stamped values, and this run's ConnectionRequestURL is
    # set by the runner), nothing more.
    assert set(c1.store.values) == set(t.stamps)
    names = [n for n, _, _ in m1.get_values(["Device."])]
    assert "Device.Ethernet.Interface.1.Stats.BytesSent" in names and len(names) == len(set(names))
    m1.set_values([("Device.DeviceInfo.ProvisioningCode", "abc", None)], "k1")
    assert m1.value("Device.DeviceInfo.ProvisioningCode") == "abc"
    assert m2.value("Device.DeviceInfo.ProvisioningCode") == ""
    m1.refresh()
    assert not m1._viewing
    assert m1.value("Device.DeviceInfo.ProvisioningCode") == "abc" and not m1._viewing


def test_rows_added_and_deleted_on_one_device_only():
    t = template_with_a_port_mapping()
    c1, c2 = booted(t, 1), booted(t, 2)
    m1, m2 = c1.dev.model, c2.dev.model
    assert m1.value("Device.NAT.PortMappingNumberOfEntries") == "1"
    m1.delete_object(PM + "1.", "k")
    m1.refresh()
    assert list(m1.instances(PM)) == [] and m1.value("Device.NAT.PortMappingNumberOfEntries") == "0"
    assert m1.value(PM + "1.Description") is None
    n, _ = m1.add_object(PM, "k2")
    assert n == 2      # never the deleted row's number again
    m1.refresh()
    assert m1.instances(PM) == [2] and m1.value("Device.NAT.PortMappingNumberOfEntries") == "1"
    assert m2.instances(PM) == [1] and m2.value(PM + "1.Description") == "from the template"
    assert c1.store.snapshot()[2]["deleted_rows"] == [PM + "1."]
    assert set(c1.store.snapshot()[2]) <= set(state.KEYS)
    # FactoryReset brings the template's row back.
    engine.factory_reset(c1.dev, Cpe(1, t, 1).store.values)
    assert m1.instances(PM) == [1] and m1.value(PM + "1.Description") == "from the template"


def test_a_whole_session_over_the_fleet_device_is_schema_valid():
    t = Template(DEFAULT, {MS + "URL": "http://acs.example/"})
    c = booted(t, 7)
    ids = itertools.count(1)
    s = engine.begin_session(c.dev, 100.0, 1e9, lambda: "id-%d" % next(ids))
    posts = _engine.drive(s, [
        _engine.genieacs(_engine.INFORM_RESPONSE),
        _engine.genieacs("<cwmp:GetParameterNames><ParameterPath>Device.</ParameterPath>"
                         "<NextLevel>false</NextLevel></cwmp:GetParameterNames>"),
        _engine.genieacs("<cwmp:GetParameterValues><ParameterNames><string>Device.</string>"
                         "</ParameterNames></cwmp:GetParameterValues>"),
        _engine.genieacs("<cwmp:ScheduleInform><DelaySeconds>30</DelaySeconds>"
                         "<CommandKey>sk</CommandKey></cwmp:ScheduleInform>"),
        _engine.END_204,
    ])
    assert s.ok and b"FLEET0000007" in posts[0] and b"Device.IP.Interface.1.IPv4Address.1.IPAddress" in posts[2]
    assert [type(a).__name__ for a in s.actions] == ["ScheduleInform"]
    engine.finish_session(c.dev, s, "http://acs.example/", 101.0, 1e9 + 1)
    engine.run_actions(c.dev, s.actions, 1e9 + 1, False, {})
    engine.after_session(c.dev, 101.0, 1e9 + 1)
    assert not c.dev.model._viewing
    # The planner's ScheduleInform comes due after its delay, as on a real device.
    assert engine.next_step(c.dev, 102.0, 1e9 + 2)[0] == "sleep"
    assert engine.next_step(c.dev, 140.0, 1e9 + 40) == ("session", None)
    assert ["3 SCHEDULED", ""] in c.dev.events.items and ["M ScheduleInform", "sk"] in c.dev.events.items


def test_a_reboot_is_a_boot_with_its_event_and_a_record_comes_back():
    t = Template(DEFAULT, {MS + "URL": "http://acs.example/"})
    c = booted(t, 3)
    engine.order_reboot(c.dev, "r1")
    c.boot(t, "1.0", "boot-1", 200.0, 1e9 + 100)   # the same boot id: only the mark makes it one
    assert sorted(map(tuple, c.dev.events.items)) == [("0 BOOTSTRAP", ""), ("1 BOOT", ""), ("M Reboot", "r1")]
    again = Cpe(3, t, 1, c.record(t, 1))
    assert again.store.snapshot() == c.store.snapshot()
    assert c.record(t, 1)["v"] == {}     # nothing but the factory values


def test_the_template_indexes_and_counts_its_rows_as_the_tables_do():
    from tr069client.tables import _index
    t = template_with_a_port_mapping()
    c = booted(t, 4)
    view = c.dev.model.values()
    assert t.index == _index(view) and t.index[PM] == [1]
    assert view["Device.NAT.PortMappingNumberOfEntries"] == "1" == t.shared["Device.NAT.PortMappingNumberOfEntries"]
    assert c.dev.model.instances("Device.IP.Interface.1.IPv4Address.") == [1]


def test_a_damaged_state_file_is_set_aside_and_the_fleet_starts_anew(tmp_path):
    from tr069client.fleet import persist
    path = str(tmp_path / "fleet.json")
    persist.save(path, {"seed": 3}, {0: {"v": {}, "a": {}, "s": {"retry_count": 1}}, 1: {"v": []}})
    info, records, problem = persist.load(path)
    assert info == {"seed": 3} and list(records) == [0] and problem is None   # a bad record is left out
    with open(path, "w") as f:
        f.write("{not json")
    info, records, problem = persist.load(path)
    assert (info, records) == ({}, {}) and "kept as %s.damaged" % path in problem
    assert (tmp_path / "fleet.json.damaged").read_text() == "{not json"
