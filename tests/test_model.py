"""The data model: names, values, tables, attributes and providers, over the real TR-181 metadata."""

import pytest

from tr069client import attributes, datatypes
from tr069client.actions import ApplyChanges
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
    later = []
    assert m.set_values([("Device.Time.LocalTimeZone", "CET-1CEST,M3.5.0,M10.5.0/3", "xsd:string")], "k", later) == 1
    assert written == {"Device.Time.LocalTimeZone": "CET-1CEST,M3.5.0,M10.5.0/3"} and later == [ApplyChanges(p)]
    assert "Device.Time.LocalTimeZone" not in m.store.values
    assert fault(m.set_values, [("Device.DeviceInfo.SerialNumber", "x", "xsd:string")], "k").details[0][1] == 9008


def test_set_local_validates_like_the_acs():
    m = make_model()
    assert m.set_local("Device.ManagementServer.PeriodicInformInterval", "60") == "60"
    assert fault(m.set_local, "Device.ManagementServer.PeriodicInformInterval", "0").code == 9007


@pytest.mark.parametrize("bad", ["01", "0", "\u0661", "9" * 5000, "{i}", "-1", " 1"])
def test_instance_numbers_are_canonical_and_anything_else_names_nothing(bad):
    m = make_model()
    m.add_object(PM, "k")
    obj = PM + bad + "."
    for call in (lambda: m.get_names(obj, False), lambda: m.get_names(obj, True),
                 lambda: m.get_values([obj]), lambda: m.get_values([obj + "Enable"]),
                 lambda: attributes.get(m, [obj]), lambda: m.delete_object(obj, "d"),
                 lambda: m.add_object(obj + "X.", "a")):
        assert fault(call).code == 9005
    assert m.instances(PM) == [1] and m.value("Device.ManagementServer.ParameterKey") == "k"


def test_a_generic_path_from_the_acs_is_not_an_object():
    m = make_model()
    assert fault(m.get_names, "Device.IP.Interface.{i}.", False).code == 9005
    assert fault(m.add_object, "Device.IP.Interface.{i}.IPv4Address.", "k").code == 9005
    assert not [k for k in m.store.values if "{" in k]


def test_unique_keys_are_judged_on_the_values_after_the_whole_set():
    m = make_model()
    for _ in range(3):
        m.add_object(PM, "k")
    # Two rows given the same Alias in one request: both refused, nothing applied.
    f = fault(m.set_values, [(PM + "1.Alias", "web", None), (PM + "2.Alias", "web", None)], "k2")
    assert [(d[0], d[1]) for d in f.details] == [(PM + "1.Alias", 9003), (PM + "2.Alias", 9003)]
    assert m.value(PM + "1.Alias") == "cpe-1"
    # Swapping two Aliases in one request is fine.
    m.set_values([(PM + "1.Alias", "cpe-2", None), (PM + "2.Alias", "cpe-1", None)], "k3")
    assert (m.value(PM + "1.Alias"), m.value(PM + "2.Alias")) == ("cpe-2", "cpe-1")


def test_a_functional_unique_key_binds_enabled_rows_only():
    m = make_model()
    rule = {"ExternalPort": "8080", "Protocol": "TCP", "InternalClient": "192.0.2.7"}
    for _ in range(2):
        n, _ = m.add_object(PM, "k")
        m.set_values([(PM + "%d.%s" % (n, k), v, None) for k, v in rule.items()], "k")  # disabled: fine
    m.set_values([(PM + "1.Enable", "true", None)], "k")
    f = fault(m.set_values, [(PM + "2.Enable", "true", None)], "k2")
    assert [(d[0], d[1]) for d in f.details] == [(PM + "2.Enable", 9003)]
    assert "Device.NAT.PortMapping.1" in f.details[0][2]
    f = fault(m.set_values, [(PM + "2.ExternalPort", "8080", None), (PM + "2.Enable", "1", None),
                             (PM + "1.Description", "x", None)], "k2")
    assert [d[0] for d in f.details] == [PM + "2.ExternalPort"]
    m.set_values([(PM + "2.ExternalPort", "8081", None), (PM + "2.Enable", "1", None)], "k3")
    assert m.value(PM + "2.Enable") == "true"


def test_a_cpe_assigned_alias_never_repeats_one_the_acs_gave():
    m = make_model()
    m.add_object(PM, "k")
    m.set_values([(PM + "1.Alias", "cpe-2", None)], "k")
    n, _ = m.add_object(PM, "k")
    assert n == 2 and m.value(PM + "2.Alias") not in ("cpe-2", "") and m.value(PM + "2.Alias").startswith("cpe-")


def test_strong_references_must_exist_and_are_cleared_when_their_row_goes():
    m = make_model()
    ip, _ = m.add_object("Device.IP.Interface.", "k")
    n, _ = m.add_object(PM, "k")
    f = fault(m.set_values, [(PM + "1.Interface", "Device.IP.Interface.9", None)], "k2")
    assert [(d[0], d[1]) for d in f.details] == [(PM + "1.Interface", 9007)]
    assert fault(m.set_local, PM + "1.Interface", "Device.IP.Interface.9").code == 9007
    m.set_values([(PM + "1.Interface", "Device.IP.Interface.%d" % ip, None)], "k3")
    m.delete_object("Device.IP.Interface.%d." % ip, "k4")
    assert m.value(PM + "1.Interface") == "" and m.store.values[PM + "1.Interface"] == ""


def test_deleting_a_row_forgets_the_counters_of_its_sub_tables():
    store = Store()
    m = make_model(store)
    ip, _ = m.add_object("Device.IP.Interface.", "k")
    sub = "Device.IP.Interface.%d.IPv4Address." % ip
    m.add_object(sub, "k")
    assert sub in store.state["next_instance"]
    m.delete_object("Device.IP.Interface.%d." % ip, "k")
    assert sub not in store.state["next_instance"] and "Device.IP.Interface." in store.state["next_instance"]


def test_an_answer_listing_the_tree_over_and_over_is_refused():
    m = make_model()
    names = ["Device."] * 16384
    assert fault(m.get_values, names).code == 9004
    assert fault(attributes.get, m, names).code == 9004


def test_an_answer_over_its_budget_is_refused_before_any_entry_is_built(monkeypatch):
    m = make_model()
    m.max_answer = 30
    built = []
    monkeypatch.setattr(datatypes, "readback", lambda p, v: built.append(p) or v)
    monkeypatch.setattr(m, "params_under", lambda path: built.append(path) or [])
    assert fault(m.get_values, ["Device."]).message == "the answer would hold more than 30 values"
    assert fault(attributes.get, m, ["Device.DeviceInfo."] * 2).code == 9004
    assert fault(m.get_names, "Device.", False).message == "the answer would hold more than 30 names"
    assert built == []
    assert len(m.get_values(["Device.DeviceInfo."])) == 24 and len(m.get_names("Device.", True)) == 13


def test_a_failed_set_does_not_pin_model_defaults_in_the_store():
    def get(model):
        return {"Device.Time.LocalTimeZone": "UTC"}

    def set_(model, path, value):
        raise ProviderError("read-only file system")

    m = make_model(providers=[Provider("Device.DeviceInfo.", lambda m: dict(IDENTITY)),
                              Provider("Device.Time.", get, set=set_)])
    before = dict(m.store.values)
    f = fault(m.set_values, [("Device.ManagementServer.PeriodicInformInterval", "60", None),
                             ("Device.Time.LocalTimeZone", "CET", None)], "k")
    assert f.code == 9002 and m.store.values == before
    assert m.value("Device.ManagementServer.PeriodicInformInterval") != "60"


def test_attributes_on_an_object_skip_what_a_parameter_cannot_take():
    m = make_model()
    # Off for everything: SoftwareVersion (forceEnabled) stays active, the rest goes off.
    attributes.put(m, [("Device.", 0, None)])
    got = dict((n, k) for n, k, _ in attributes.get(m, ["Device.DeviceInfo."]))
    assert got["Device.DeviceInfo.SoftwareVersion"] == 2 and got["Device.DeviceInfo.Manufacturer"] == 0
    assert "Device.ManagementServer.ConnectionRequestURL" in m.notified(2)   # the ACS must hear of it
    # Active for an object: UpTime (canDeny) keeps what it had; named alone it is refused.
    attributes.put(m, [("Device.DeviceInfo.", 2, None)])
    got = dict((n, k) for n, k, _ in attributes.get(m, ["Device.DeviceInfo."]))
    assert got["Device.DeviceInfo.UpTime"] == 0 and got["Device.DeviceInfo.Manufacturer"] == 2
    f = fault(attributes.put, m, [("Device.DeviceInfo.SoftwareVersion", 0, None)])
    assert f.code == 9009 and "always has active notification" in f.message
    assert fault(attributes.put, m, [("Device.ManagementServer.ConnectionRequestURL", 1, None)]).code == 9009
