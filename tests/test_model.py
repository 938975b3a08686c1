"""The data model: names, values, tables, attributes and providers, over the real TR-181 metadata."""

import pytest

from tr069client import attributes
from tr069client.faults import CwmpFault
from tr069client.provider import Provider, ProviderError
from tr069client.store import Store

from _engine import IDENTITY, make_model

PM = "Device.NAT.PortMapping."
DNS = "Device.DNS.Client.Server."


def fault(fn, *args):
    with pytest.raises(CwmpFault) as e:
        fn(*args)
    return e.value


def test_get_parameter_names_root_and_next_level():
    m = make_model()
    assert m.get_names("", True) == [("Device.", False)]
    everything = m.get_names("", False)
    assert everything[0] == ("Device.", False)
    assert ("Device.ManagementServer.URL", True) in everything
    assert ("Device.DeviceInfo.UpTime", False) in everything
    top = dict(m.get_names("Device.", True))
    assert "Device.DeviceInfo." in top and "Device.DeviceInfo.UpTime" not in top
    assert "Device.DeviceInfo." not in dict(m.get_names("Device.DeviceInfo.", True))
    assert m.get_names("Device.ManagementServer.URL", False) == [("Device.ManagementServer.URL", True)]
    assert fault(m.get_names, "Device.ManagementServer.URL", True).code == 9003
    assert fault(m.get_names, "Device.Nope.", False).code == 9005
    assert fault(m.get_names, "Device.NAT.PortMapping.1.", False).code == 9005


def test_tables_instance_numbers_never_reused_and_counts_stay_right():
    store = Store()
    m = make_model(store)
    assert m.get_values([PM]) == []   # an empty table is an empty list, not a fault
    assert [m.add_object(PM, "a")[0] for _ in range(3)] == [1, 2, 3]
    assert m.value("Device.NAT.PortMappingNumberOfEntries") == "3"
    assert m.delete_object(PM + "3.", "d") == 0
    assert m.add_object(PM, "b")[0] == 4
    assert m.delete_object(PM + "4.", "d") == 0
    # A restart (new model over the same store) keeps the counter.
    m2 = make_model(store)
    assert m2.add_object(PM, "c")[0] == 5
    assert m2.instances(PM) == [1, 2, 5]
    assert m2.value("Device.NAT.PortMappingNumberOfEntries") == "3"
    assert m2.value(PM + "5.Alias") == "cpe-5"
    assert m2.value("Device.ManagementServer.ParameterKey") == "c"
    assert fault(m2.delete_object, PM + "3.", "x").code == 9005
    assert fault(m2.add_object, "Device.DeviceInfo.", "x").code == 9005


def test_dns_servers_are_acs_creatable_and_stored():
    store = Store()
    m = make_model(store)
    n, _ = m.add_object(DNS, "k")
    m.set_values([(DNS + "%d.DNSServer" % n, "192.0.2.53", "xsd:string"),
                  (DNS + "%d.Enable" % n, "1", "xsd:boolean")], "k2")
    assert store.values[DNS + "%d.DNSServer" % n] == "192.0.2.53"
    assert store.values[DNS + "%d.Enable" % n] == "true"
    assert m.value("Device.DNS.Client.ServerNumberOfEntries") == "1"


def test_set_values_validates_everything_before_applying_anything():
    m = make_model()
    n, _ = m.add_object(PM, "k")
    base = PM + "%d." % n
    f = fault(m.set_values, [(base + "ExternalPort", "70000", "xsd:unsignedInt"),
                             (base + "Protocol", "SCTP", "xsd:string"),
                             (base + "Enable", "maybe", "xsd:boolean"),
                             (base + "Status", "Enabled", "xsd:string"),
                             (base + "Description", "ok", "xsd:string"),
                             (base + "Description", "twice", "xsd:string")], "k2")
    assert f.code == 9003
    assert [(d[0].rpartition(".")[2], d[1]) for d in f.details] == [
        ("ExternalPort", 9007), ("Protocol", 9007), ("Enable", 9007), ("Status", 9008), ("Description", 9003)]
    assert m.value(base + "Description") == ""
    assert m.value("Device.ManagementServer.ParameterKey") == "k"


def test_alias_must_stay_unique_within_a_table():
    m = make_model()
    m.add_object(PM, "k")
    m.add_object(PM, "k")
    f = fault(m.set_values, [(PM + "2.Alias", "cpe-1", "xsd:string")], "k")
    assert f.code == 9003 and f.details[0][1] == 9003


def test_attributes_and_active_notification_rules():
    m = make_model()
    assert attributes.get(m, ["Device.ManagementServer.URL"]) == [("Device.ManagementServer.URL", 0, [])]
    attributes.put(m, [("Device.ManagementServer.URL", 2, None)])
    assert attributes.get(m, ["Device.ManagementServer.URL"]) == [("Device.ManagementServer.URL", 2, [])]
    f = fault(attributes.put, m, [("Device.DeviceInfo.UpTime", 2, None)])
    assert f.code == 9009
    attributes.put(m, [("Device.DeviceInfo.UpTime", 1, None)])   # passive is fine
    assert fault(attributes.put, m, [("Device.ManagementServer.URL", 3, None)]).code == 9003
    assert fault(attributes.put, m, [("Device.Nope", 1, None)]).code == 9005
    # Forced-default parameters start active (ConnectionRequestURL is always reported).
    assert dict((n, k) for n, k, _ in attributes.get(m, ["Device.ManagementServer."]))[
        "Device.ManagementServer.ConnectionRequestURL"] == 2
    assert "Device.ManagementServer.ConnectionRequestURL" in m.notified(2)
    assert "Device.DeviceInfo.UpTime" in m.notified(1)


def test_providers_are_read_once_per_session_and_failures_stay_local():
    calls = []

    def uptime(model):
        calls.append(1)
        return dict(IDENTITY)

    def broken(model):
        raise ProviderError("cannot read /proc/net/route: permission denied")

    m = make_model(providers=[Provider("Device.DeviceInfo.", uptime), Provider("Device.Routing.", broken)])
    m.begin_session()
    m.get_values(["Device."])
    m.get_values(["Device.DeviceInfo."])
    m.get_names("Device.", False)
    assert len(calls) == 1
    f = fault(m.get_values, ["Device.Routing.RouterNumberOfEntries"])
    assert f.code == 9002 and "permission denied" in f.message
    assert m.get_values(["Device.DeviceInfo.UpTime"])[0][1] == "1234"
    m.begin_session()
    m.get_values(["Device.DeviceInfo.UpTime"])
    assert len(calls) == 2


def test_provider_owned_values_are_read_only_unless_the_provider_sets_them():
    written = {}

    def get(model):
        return {"Device.Time.LocalTimeZone": written.get("Device.Time.LocalTimeZone", "UTC")}

    def set_(model, path, value):
        written[path] = value
        return True

    p = Provider("Device.Time.", get, set=set_)
    m = make_model(providers=[Provider("Device.DeviceInfo.", lambda m: dict(IDENTITY)), p])
    assert m.set_values([("Device.Time.LocalTimeZone", "CET-1CEST,M3.5.0,M10.5.0/3", "xsd:string")], "k") == 1
    assert written == {"Device.Time.LocalTimeZone": "CET-1CEST,M3.5.0,M10.5.0/3"} and m.pending_apply == [p]
    assert "Device.Time.LocalTimeZone" not in m.store.values
    assert fault(m.set_values, [("Device.DeviceInfo.SerialNumber", "x", "xsd:string")], "k").details[0][1] == 9008


def test_set_local_validates_like_the_acs():
    m = make_model()
    assert m.set_local("Device.ManagementServer.PeriodicInformInterval", "60") == "60"
    assert fault(m.set_local, "Device.ManagementServer.PeriodicInformInterval", "0").code == 9007
