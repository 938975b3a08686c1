"""The fleet's adapter to the engine: a device's model is the template's shared values plus its
own overrides, answers as the daemon's model does, and keeps no copy of the template."""

import itertools

from tr069client.fleet import engine
from tr069client.fleet.template import DEFAULT, Template

import _engine

MS = "Device.ManagementServer."
PM = "Device.NAT.PortMapping."


def device(template, i=0):
    store = engine.new_store(template.stamp(i, lambda: 0.5))
    return store, engine.build(store, template, lambda: 0.5)


def template_with_a_port_mapping():
    doc = {"values": dict(DEFAULT["values"], **{PM + "1.Description": "from the template",
                                                PM + "1.InternalClient": "192.168.1.10"})}
    return Template(doc, {MS + "URL": "http://acs.example/"})


def test_two_devices_share_the_template_and_differ_in_their_own_values():
    t = Template(DEFAULT, {MS + "URL": "http://acs.example/"})
    (s1, (m1, _, _)), (s2, (m2, _, _)) = device(t, 1), device(t, 2)
    assert m1.value("Device.DeviceInfo.SerialNumber") == "FLEET0000001"
    assert m2.value("Device.DeviceInfo.SerialNumber") == "FLEET0000002"
    assert m1._defaults is m2._defaults is t.shared
    assert set(s1.values) == set(t.stamps)       # the store holds what differs, nothing more
    names = [n for n, _, _ in m1.get_values(["Device."])]
    assert "Device.Ethernet.Interface.1.Stats.BytesSent" in names and len(names) == len(set(names))
    m1.set_values([("Device.DeviceInfo.ProvisioningCode", "abc", None)], "k1")
    assert m1.value("Device.DeviceInfo.ProvisioningCode") == "abc"
    assert m2.value("Device.DeviceInfo.ProvisioningCode") == ""
    m1.refresh()
    assert m1._view is None and m1.value("Device.DeviceInfo.ProvisioningCode") == "abc"


def test_rows_added_and_deleted_on_one_device_only():
    t = template_with_a_port_mapping()
    (s1, (m1, _, _)), (_, (m2, _, _)) = device(t, 1), device(t, 2)
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
    assert s1.state["deleted_rows"] == [PM + "1."]


def test_a_whole_session_over_the_fleet_model_is_schema_valid():
    t = Template(DEFAULT, {MS + "URL": "http://acs.example/"})
    store, (model, agent, _) = device(t, 7)
    agent.start("boot-1", 100.0, 1e9)
    ids = itertools.count(1)
    s = agent.begin(1e9, lambda: "id-%d" % next(ids))
    posts = _engine.drive(s, [
        _engine.genieacs(_engine.INFORM_RESPONSE),
        _engine.genieacs("<cwmp:GetParameterNames><ParameterPath>Device.</ParameterPath>"
                         "<NextLevel>false</NextLevel></cwmp:GetParameterNames>"),
        _engine.genieacs("<cwmp:GetParameterValues><ParameterNames><string>Device.</string>"
                         "</ParameterNames></cwmp:GetParameterValues>"),
        _engine.END_204,
    ])
    assert s.ok and b"FLEET0000007" in posts[0] and b"Device.IP.Interface.1.IPv4Address.1.IPAddress" in posts[2]
