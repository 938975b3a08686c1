"""tr069client.metadata: facts from the TR-181 XML as the package sees them, the API, loading."""

import json
import os
import subprocess
import sys
import zipfile

import pytest

from tr069client import datatypes, metadata

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def meta():
    return metadata.load()


def test_generic_replaces_instance_numbers_only():
    g = metadata.generic
    assert g("Device.NAT.PortMapping.3.Enable") == "Device.NAT.PortMapping.{i}.Enable"
    assert g("Device.IP.Interface.12.IPv4Address.1.") == "Device.IP.Interface.{i}.IPv4Address.{i}."
    assert g("Device.NAT.PortMapping.") == "Device.NAT.PortMapping."
    assert g("Device.X1.3a.007") == "Device.X1.3a.{i}"
    assert g("Device.X.\u0663.") == "Device.X.\u0663."     # non-ASCII digits are no instance


def test_model_and_forced_inform(meta):
    assert meta.model == "Device:2.19"
    # The seven forcedInform="true" parameters of TR-181 2.19 (shared/bbf/README.md).
    assert sorted(meta.forced_inform) == sorted([
        "Device.RootDataModelVersion", "Device.DeviceInfo.HardwareVersion",
        "Device.DeviceInfo.SoftwareVersion", "Device.DeviceInfo.ProvisioningCode",
        "Device.ManagementServer.ParameterKey", "Device.ManagementServer.ConnectionRequestURL",
        "Device.ManagementServer.AliasBasedAddressing"])
    assert all(meta.param(p).forced_inform for p in meta.forced_inform)


def test_management_server_facts(meta):
    p = meta.param("Device.ManagementServer.PeriodicInformInterval")
    assert (p.type, p.writable, p.list, p.secured) == ("unsignedInt", True, False, False)
    assert p.facets == {"ranges": [[1, None]]}
    pw = meta.param("Device.ManagementServer.Password")
    assert (pw.type, pw.writable, pw.secured, pw.facets["max_len"]) == ("string", True, True, 256)
    assert meta.param("Device.ManagementServer.ConnectionRequestPassword").secured
    assert not meta.param("Device.ManagementServer.Username").secured
    assert meta.param("Device.ManagementServer.URL").facets == {"max_len": 2048}  # URL type
    key = meta.param("Device.ManagementServer.ParameterKey")
    assert (key.writable, key.active_notify) == (False, "canDeny")
    cr = meta.param("Device.ManagementServer.ConnectionRequestURL")
    assert cr.active_notify == "forceDefaultEnabled"
    retry = meta.param("Device.ManagementServer.CWMPRetryIntervalMultiplier")
    assert retry.facets["ranges"] == [[1000, 65535]]
    assert meta.param("Device.ManagementServer.EnableCWMP").default == "true"
    assert meta.param("Device.ManagementServer.PeriodicInformEnable").active_notify == "normal"


def test_port_mapping_table(meta):
    t = meta.object("Device.NAT.PortMapping.{i}.")
    assert t.table and t.writable
    assert (t.min_entries, t.max_entries) == (0, None)
    assert t.num_entries_param == "Device.NAT.PortMappingNumberOfEntries"
    assert meta.param(t.num_entries_param).type == "unsignedInt"
    assert t.enable_param == "Device.NAT.PortMapping.{i}.Enable"
    assert t.unique_keys == [["Alias"], ["RemoteHost", "ExternalPort", "Protocol"]]
    assert t.functional_keys == [["RemoteHost", "ExternalPort", "Protocol"]]
    proto = meta.param("Device.NAT.PortMapping.{i}.Protocol")
    assert proto.facets["enum"] == ["TCP", "UDP"]
    assert meta.param("Device.NAT.PortMapping.{i}.Enable").default == "false"
    port = meta.param("Device.NAT.PortMapping.{i}.ExternalPort")
    assert port.facets["ranges"] == [[0, 65535]]
    iface = meta.param("Device.NAT.PortMapping.{i}.Interface")
    assert iface.facets["ref"] == ["strong", "row", ["Device.IP.Interface."]]


def test_tables_and_objects(meta):
    assert meta.object("Device.DNS.Client.Server.{i}.").writable
    stack = meta.object("Device.InterfaceStack.{i}.")
    assert stack.table and not stack.writable
    assert stack.num_entries_param == "Device.InterfaceStackNumberOfEntries"
    assert not meta.object("Device.Hosts.Host.{i}.").writable
    assert meta.object("Device.IP.Interface.{i}.IPv4Address.{i}.").num_entries_param == \
        "Device.IP.Interface.{i}.IPv4AddressNumberOfEntries"
    info = meta.object("Device.DeviceInfo.")
    assert (info.table, info.writable, info.num_entries_param, info.unique_keys) == \
        (False, False, None, [])
    assert meta.object("Device.NAT.PortMapping.") is None       # tables go by "X.{i}."
    assert meta.object("Device.Firewall.") is None              # not selected
    assert meta.param("Device.WiFi.Radio.{i}.Channel") is None
    assert meta.param("Device.NAT.") is None and meta.param("") is None


def test_value_facts(meta):
    mac = meta.param("Device.Ethernet.Interface.{i}.MACAddress").facets
    assert mac["max_len"] == 17 and len(mac["patterns"]) == 2    # "" or xx:xx:...
    ip4 = meta.param("Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress").facets
    assert ip4["max_len"] == 15                                    # IPv4Address over IPAddress
    stats = meta.param("Device.IP.Interface.{i}.Stats.BytesSent")
    assert stats.type == "unsignedLong"                            # StatsCounter64
    servers = meta.param("Device.Time.Client.{i}.Servers")
    assert servers.list and servers.default == ""                  # "[]" in the XML
    reset = meta.param("Device.IP.Interface.{i}.Reset")
    assert reset.type == "boolean" and reset.facets == {"command": 1}
    assert meta.param("Device.RootDataModelVersion").facets["patterns"] == [r"\A(?:2\.[0-9]+)\Z"]
    alias = meta.param("Device.NAT.PortMapping.{i}.Alias")
    assert alias.writable and alias.facets == {"max_len": 64}      # _AliasCWMP
    # Deleted in the model: never present.
    assert meta.param("Device.Time.NTPServer1") is None
    assert meta.param("Device.Hosts.Host.{i}.Alias") is None


def test_every_default_is_a_valid_value(meta):
    # Read-only identity strings with a fixed format have no valid empty value: the
    # device always supplies them.
    no_default = {"Device.RootDataModelVersion", "Device.DeviceInfo.ManufacturerOUI",
                  "Device.DeviceInfo.SupportedDataModel.{i}.UUID"}
    for obj in meta.objects:
        for name, p in meta.params_of(obj):
            value = datatypes.default_value(p)
            if obj + name in no_default:
                assert value == "" and not p.writable
                continue
            if obj + name == "Device.IP.Diagnostics.TraceRoute.RouteHops.{i}.RTTimes":
                assert not p.writable   # a row exists only as a test wrote it, RTTimes given
                continue
            # A diagnostic's DiagnosticsState starts at None, a value only the device sets.
            assert datatypes._normalize(p, value, False) == value, obj + name


def test_tree_walk_api(meta):
    assert meta.objects[0] == "Device."
    assert meta.child_objects("Device.")[:3] == ["Device.DeviceInfo.", "Device.ManagementServer.",
                                                 "Device.Time."]
    assert meta.child_objects("Device.IP.Interface.{i}.") == [
        "Device.IP.Interface.{i}.IPv4Address.{i}.", "Device.IP.Interface.{i}.Stats.",
        "Device.IP.Interface.{i}.IPv6Address.{i}."]
    assert meta.child_objects("Device.NAT.PortMapping.{i}.") == []
    assert meta.child_objects("Device.Nope.") == []
    names = [n for n, _ in meta.params_of("Device.ManagementServer.")]
    assert names[:3] == ["EnableCWMP", "URL", "Username"]
    assert "ManageableDeviceNumberOfEntries" not in names         # its table is not selected
    assert meta.params_of("Device.Nope.") == []
    seen = set()
    for obj in meta.objects:                                      # every object reachable once
        for child in meta.child_objects(obj):
            assert child not in seen
            seen.add(child)
    assert seen == set(meta.objects) - {"Device."}
    for obj in meta.objects:
        for name, p in meta.params_of(obj):
            assert meta.param(obj + name) is p


@pytest.mark.e2e
def test_load_is_cached_and_takes_synthetic_data():
    assert metadata.load() is metadata.load()
    doc = {"format": 1, "model": "Device:2.19", "facets": [{"enum": ["A", "B"]}],
           "objects": [["Device.", "", [["X", "string", "wf", "A", 0]]],
                       ["Device.T.{i}.", "tw", [["N", "unsignedInt", "e"]], 0, 8,
                        "Device.TNumberOfEntries", "Enable", [[1, "N"], [0, "Alias"]]],
                       ["Device.U.{i}.", "t", []]]}
    for data in (doc, json.dumps(doc), json.dumps(doc).encode()):
        m = metadata.load(data)
        assert m is not metadata.load()
        x = m.param("Device.X")
        assert (x.type, x.writable, x.forced_inform, x.default, x.facets) == \
            ("string", True, True, "A", {"enum": ["A", "B"]})
        assert m.forced_inform == ["Device.X"]
        assert m.param("Device.T.{i}.N").active_notify == "forceEnabled"
        t = m.object("Device.T.{i}.")
        assert t == metadata.Obj(True, True, 0, 8, "Device.TNumberOfEntries", [["N"], ["Alias"]],
                                 "Device.T.{i}.Enable", [["N"]])
        u = m.object("Device.U.{i}.")                             # trailing defaults
        assert (u.writable, u.min_entries, u.max_entries, u.unique_keys) == (False, 1, 1, [])
        assert m.child_objects("Device.") == ["Device.T.{i}.", "Device.U.{i}."]


def _python(code, path_entry, cwd):
    env = dict(os.environ, PYTHONPATH=path_entry)
    return subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)


def test_loads_from_a_zipapp(tmp_path):
    archive = str(tmp_path / "app.pyz")
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("__init__.py", "faults.py", "metadata.py", "datatypes.py", "tr181.json"):
            z.write(os.path.join(REPO, "tr069client", name), "tr069client/" + name)
    res = _python("from tr069client import metadata; m = metadata.load(); "
                  "print(m.model, len(m.objects), metadata.__file__)", archive, str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Device:2.19 %d " % len(metadata.load().objects)) and "app.pyz" in res.stdout


def test_imports_stay_lean(tmp_path):
    # Module-top imports the design forbids, plus pkgutil and datetime (each pulls in
    # about 1 MB here and nothing else in the daemon needs them).
    res = _python("import sys; from tr069client import metadata, datatypes; metadata.load(); "
                  "print(' '.join(sorted(sys.modules)))", REPO, str(tmp_path))
    assert res.returncode == 0, res.stderr
    loaded = set(res.stdout.split())
    assert "tr069client.datatypes" in loaded
    assert not loaded & {"typing", "dataclasses", "logging", "pkgutil", "datetime", "decimal",
                         "ssl", "hashlib", "subprocess", "tempfile"}
