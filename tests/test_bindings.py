"""tr069client/bindings.py: the declarative JSON mapping, with a fake `uci` (tests/_fakes.py),
and the model hooks it relies on (overrides, per-session cache, bound table rows)."""

import json
import os
import re
import shutil
import sys

import pytest

import _secrets
import _fakes
from tr069client import bindings
from tr069client.actions import ApplyChanges
from tr069client.faults import CwmpFault
from tr069client.model import Model
from tr069client.provider import Provider, ProviderError
from tr069client.store import Store

from _platform import DEBIAN, OPENWRT, copy_root, gpv, invalid, make_model

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
LAN = "Device.IP.Interface.1.IPv4Address."     # [br-lan] is numbered first on a new device
PM = "Device.NAT.PortMapping."


def readme_example():
    """The bindings file README.md shows, exactly as written there."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    block = re.search(r"A complete OpenWrt example.*?```json\n(.*?)```", text, re.S)
    return json.loads(block.group(1))


def localize(spec, fakes):
    """The README's example with service scripts replaced by the fake `record`."""
    if isinstance(spec, list) and spec and all(isinstance(x, str) for x in spec):
        return [fakes["record"]] + spec if spec[0].startswith("/etc/init.d/") or spec[0] == "wifi" else spec
    if isinstance(spec, list):
        return [localize(x, fakes) for x in spec]
    if isinstance(spec, dict):
        return {k: localize(v, fakes) for k, v in spec.items()}
    return spec


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    f = _fakes.install(tmp_path)
    for k in ("PATH", "FAKE_UCI_STATE", "FAKE_LOG"):
        monkeypatch.setenv(k, f["env"][k])
    return f


def example_model(fakes, tmp_path, extra=None, timeout=10, store=None, root=OPENWRT):
    spec = localize(readme_example(), fakes)
    spec.update(extra or {})
    path = str(tmp_path / "bindings.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    return make_model(root, {"bindings": path, "command-timeout": timeout}, store=store)


def uci_calls(fakes, *prefix):
    return [c[1:] for c in _fakes.calls(fakes) if c[0] == "uci" and c[1:1 + len(prefix)] == list(prefix)]


def run_apply(model, later):
    """What the daemon does when the session ends: the ApplyChanges the session left."""
    for action in later:
        assert isinstance(action, ApplyChanges)
        action.provider.apply(model)
    del later[:]


def test_openwrt_example_reads_uci_and_overrides_the_kernel(fakes, tmp_path):
    m = example_model(fakes, tmp_path)
    v = gpv(m)
    assert not invalid(m, v)
    assert v[LAN + "1.IPAddress"] == "192.168.1.1" and v[LAN + "1.SubnetMask"] == "255.255.255.0"
    assert v["Device.IP.Interface.1.Name"] == "br-lan"
    assert v["Device.IP.Interface.1.IPv4AddressNumberOfEntries"] == "1"   # the kernel's two are replaced
    assert v["Device.WiFi.SSID.1.SSID"] == "OpenWrt" and v["Device.WiFi.SSID.1.Name"] == "phy0-ap0"
    assert v["Device.Time.Client.1.Servers"] == "0.openwrt.pool.ntp.org,1.openwrt.pool.ntp.org"
    assert v["Device.Time.LocalTimeZone"] == "UTC" and v["Device.DeviceInfo.HostName"] == "OpenWrt"
    assert v[PM + "1.ExternalPort"] == "2222" and v[PM + "1.InternalClient"] == "192.168.1.10"
    assert v[PM + "1.Protocol"] == "TCP" and v[PM + "1.Enable"] == "true" and v[PM + "1.Status"] == "Enabled"
    assert v[PM + "1.Alias"] == "cpe-1" and v[PM + "1.Description"] == "ssh"
    # One GetParameterValues of Device. runs each command once (9 columns share one).
    assert len(uci_calls(fakes, "-X", "show", "firewall")) == 1
    assert len(_fakes.calls(fakes)) == 7
    names = dict(m.get_names("Device.", False))
    assert names["Device.DeviceInfo.HostName"] is True and names["Device.DeviceInfo.UpTime"] is False
    assert names[PM] is True and names[PM + "1."] is True and names[PM + "1.Status"] is False
    assert names[LAN + "1.IPAddress"] is True and names[LAN] is False


def test_spv_runs_each_set_command_once_and_shared_apply_commands_once(fakes, tmp_path):
    m = example_model(fakes, tmp_path)
    gpv(m)
    before = len(_fakes.calls(fakes))
    later = []
    status = m.set_values([("Device.DeviceInfo.HostName", "router1", "xsd:string"),
                           ("Device.Time.LocalTimeZone", "CET-1CEST,M3.5.0,M10.5.0/3", "xsd:string")], "k", later)
    assert status == 1
    run_apply(m, later)
    done = _fakes.calls(fakes)[before:]
    assert done == [["uci", "set", "system.@system[0].hostname=router1"],
                    ["uci", "set", "system.@system[0].timezone=CET-1CEST,M3.5.0,M10.5.0/3"],
                    ["uci", "commit", "system"], ["record", "/etc/init.d/system", "reload"]]
    assert gpv(m, "Device.DeviceInfo.HostName")["Device.DeviceInfo.HostName"] == "router1"
    run_apply(m, later)                                       # a session that set nothing
    assert not any(c[1:2] == ["commit"] for c in _fakes.calls(fakes)[before + 4:])


def test_writes_are_validated_before_any_command_runs(fakes, tmp_path):
    m = example_model(fakes, tmp_path)
    gpv(m)
    before = len(_fakes.calls(fakes))
    later = []
    with pytest.raises(CwmpFault) as e:
        m.set_values([("Device.DeviceInfo.HostName", "ok", "xsd:string"),
                      (LAN + "1.IPAddress", "300.1.1.1", "xsd:string")], "k", later)
    assert e.value.code == 9003 and [d[1] for d in e.value.details] == [9007]
    assert _fakes.calls(fakes)[before:] == [] and later == []


def test_a_list_parameter_runs_the_item_command_once_per_item(fakes, tmp_path):
    m = example_model(fakes, tmp_path)
    gpv(m)
    m.set_values([("Device.Time.Client.1.Servers", "a.example,b.example", None)], "k")
    assert uci_calls(fakes, "-q", "delete") == [["-q", "delete", "system.ntp.server"]]
    assert uci_calls(fakes, "add_list") == [["add_list", "system.ntp.server=a.example"],
                                            ["add_list", "system.ntp.server=b.example"]]
    assert gpv(m, "Device.Time.Client.1.Servers")["Device.Time.Client.1.Servers"] == "a.example,b.example"


def test_bound_table_takes_add_set_and_delete(fakes, tmp_path):
    m = example_model(fakes, tmp_path)
    gpv(m)
    later = []
    n, status = m.add_object(PM, "k1", later)
    assert (n, status) == (2, 1)
    assert uci_calls(fakes, "set", "firewall.tr069_pm2=redirect")
    m.set_values([(PM + "2.ExternalPort", "8080", "xsd:unsignedInt"), (PM + "2.Enable", "true", "xsd:boolean"),
                  (PM + "2.Protocol", "UDP", "xsd:string"), (PM + "2.Alias", "web", "xsd:string")], "k2", later)
    assert uci_calls(fakes, "set", "firewall.tr069_pm2.src_dport=8080")
    assert uci_calls(fakes, "set", "firewall.tr069_pm2.enabled=1")        # mapped back
    assert uci_calls(fakes, "set", "firewall.tr069_pm2.proto=udp")
    assert m.store.values[PM + "2.Alias"] == "web"                        # unbound: stored
    v = gpv(m, PM)                                                        # the next session
    assert v[PM + "2.ExternalPort"] == "8080" and v[PM + "2.Protocol"] == "UDP"
    assert v[PM + "2.Status"] == "Enabled" and v[PM + "2.Alias"] == "web"
    assert m.delete_object(PM + "1.", "k3", later) == 1
    assert uci_calls(fakes, "delete") == [["delete", "firewall.ssh"]]
    run_apply(m, later)
    assert uci_calls(fakes, "commit") == [["commit", "firewall"]]
    assert sorted(int(k.split(".")[3]) for k in gpv(m, PM) if k.endswith(".ExternalPort")) == [2]
    assert m.add_object(PM, "k4")[0] == 3                                 # never reused


def test_a_failing_or_slow_command_fails_only_its_own_parameters(fakes, tmp_path):
    extra = {"Device.DeviceInfo.ModelNumber": {"command": [fakes["fail"]]},
             "Device.DeviceInfo.Description": {"command": [fakes["sleep-forever"]]}}
    m = example_model(fakes, tmp_path, extra, timeout=1)
    v = gpv(m)
    assert "Device.DeviceInfo.ModelNumber" not in v and "Device.DeviceInfo.Description" not in v
    assert v["Device.DeviceInfo.HostName"] == "OpenWrt" and "Device.DeviceInfo.UpTime" in v
    for name, reason in (("ModelNumber", "exited with status 3: fail: the device said no"),
                         ("Description", "did not finish within 1 s")):
        with pytest.raises(CwmpFault) as e:
            m.get_values(["Device.DeviceInfo." + name])
        assert e.value.code == 9002 and reason in e.value.message


def test_a_failing_set_of_a_password_does_not_tell_the_password(fakes, tmp_path):
    # A command on PATH with a short name: a long interpreter path (a CI venv) would push
    # the arguments out of the shortened command line the message shows.
    script = os.path.join(fakes["bin"], "failset")
    with open(script, "w") as f:
        f.write("#!%s\nimport sys\nsys.stderr.write('bad key %%s\\n' %% sys.argv[-1])\nsys.exit(1)\n"
                % sys.executable)
    os.chmod(script, 0o755)
    m = example_model(fakes, tmp_path, {"Device.ManagementServer.ConnectionRequestPassword": {
        "value": "", "set": ["failset", "stun.key={value}"]}})
    m.begin_session()
    with pytest.raises(CwmpFault) as e:
        m.set_values([("Device.ManagementServer.ConnectionRequestPassword", _secrets.BINDING, None)], "k")
    assert _secrets.BINDING not in e.value.message and e.value.message.endswith(
        "stun.key=[redacted]` exited with status 1: bad key stun.key=[redacted]")


def test_a_set_command_naming_tr069_value_gets_the_value_only_from_the_environment(fakes, tmp_path):
    out = tmp_path / "out"
    # $0 would be the value if it were appended as the last argument, as it is for the SSID.
    script = 'printf "%s|%s|%s" "$TR069_VALUE" "$0" "$#" > ' + str(out)
    m = example_model(fakes, tmp_path, {"Device.ManagementServer.ConnectionRequestPassword": {
        "value": "", "set": ["sh", "-c", script]}})
    m.begin_session()
    m.set_values([("Device.ManagementServer.ConnectionRequestPassword", _secrets.BINDING_SPACED, None)], "k")
    assert out.read_text() == _secrets.BINDING_SPACED + "|sh|0"
    m.set_values([("Device.WiFi.SSID.1.SSID", "lab", None)], "k2")
    assert uci_calls(fakes, "set", "wireless.default_radio0.ssid=lab")


def test_file_and_static_sources_and_output_checked_against_the_type(fakes, tmp_path):
    extra = {"Device.DeviceInfo.ModelNumber": {"file": "/etc/TZ", "match": "^(CET)"},
             "Device.DeviceInfo.DeviceCategory": {"value": "Router"},
             "Device.DeviceInfo.Description": {"command": ["uci", "-q", "get", "network.lan.proto"],
                                               "map": {"static": "a static LAN"}},
             "Device.Time.Client.1.Port": {"command": ["uci", "-q", "get", "network.lan.ipaddr"]}}
    m = example_model(fakes, tmp_path, extra)
    v = gpv(m)
    assert v["Device.DeviceInfo.ModelNumber"] == "CET"
    assert v["Device.DeviceInfo.DeviceCategory"] == "Router"
    assert v["Device.DeviceInfo.Description"] == "a static LAN"
    with pytest.raises(CwmpFault) as e:
        m.get_values(["Device.Time.Client.1.Port"])
    assert e.value.code == 9002 and "invalid value" in e.value.message


def test_a_notification_poll_runs_only_the_owning_binding(fakes, tmp_path):
    m = example_model(fakes, tmp_path)
    assert m.poll(["Device.DeviceInfo.HostName"]) == {"Device.DeviceInfo.HostName": "OpenWrt"}
    assert _fakes.calls(fakes) == [["uci", "-q", "get", "system.@system[0].hostname"]]


@pytest.mark.parametrize("spec, message", [
    ({"Device.DeviceInfo.UpTime": {"value": "1", "set": ["x"]}}, "set command needs a parameter"),
    ({"Device.DeviceInfo.UpTime": {"value": "abc"}}, "the value is invalid"),
    ({"Device.DeviceInfo.Nope": {"value": "1"}}, "not a parameter of the model"),
    ({"Device.DeviceInfo.HostName": {"value": "a", "file": "/x"}}, "exactly one of"),
    ({"Device.DeviceInfo.HostName": {"valeu": "a"}}, "unknown key 'valeu'"),
    ({"Device.DeviceInfo.HostName": {"command": "uci get x"}}, "list of strings"),
    ({"Device.DeviceInfo.HostName": {"command": ["x"], "match": "("}}, "not a valid regex"),
    ({"Device.DeviceInfo.HostName": {"command": ["x"], "default": ["a"], "split": True}},
     "default must be a string"),
    ({"Device.NAT.PortMapping.": {"params": {}}}, "needs \"rows\""),
    ({"Device.NAT.PortMapping.": {"rows": {"value": "a"}, "params": {"Nope": {"value": "1"}}}},
     "Nope is not a parameter"),
    ({"Device.Hosts.Host.": {"rows": {"value": "a"}, "add": ["x"]}}, "does not let the ACS add"),
    ({"Device.DeviceInfo.[x].HostName": {"value": "a"}}, "is not a table"),
    ({"Device.NAT.PortMapping.[x].Enable": {"value": True}}, "no built-in provider gives Device.NAT.PortMapping."),
])
def test_bad_bindings_are_one_line_errors_naming_the_entry(tmp_path, spec, message):
    path = str(tmp_path / "b.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    with pytest.raises(bindings.BindingError) as e:
        make_model(OPENWRT, {"bindings": path})
    assert message in str(e.value) and list(spec)[0] in str(e.value) and "\n" not in str(e.value)


def test_unreadable_or_invalid_bindings_file(tmp_path):
    with pytest.raises(bindings.BindingError, match="cannot read bindings file"):
        make_model(OPENWRT, {"bindings": str(tmp_path / "missing.json")})
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(bindings.BindingError, match="not valid JSON"):
        make_model(OPENWRT, {"bindings": str(tmp_path / "bad.json")})


# ---------------------------------------------------------------- the model's provider hooks

def test_a_more_specific_provider_wins_whatever_the_order():
    general = Provider("Device.DeviceInfo.", lambda m: {"Device.DeviceInfo.HostName": "os",
                                                        "Device.DeviceInfo.UpTime": "5"})
    specific = Provider("Device.DeviceInfo.HostName", lambda m: {"Device.DeviceInfo.HostName": "bound"})
    for order in ([general, specific], [specific, general]):
        m = Model(Store(), providers=order)
        assert m.value("Device.DeviceInfo.HostName") == "bound" and m.value("Device.DeviceInfo.UpTime") == "5"

    def broken(m):
        raise ProviderError("the hook is broken")
    m = Model(Store(), providers=[general, Provider("Device.DeviceInfo.HostName", broken)])
    assert m.value("Device.DeviceInfo.UpTime") == "5"
    with pytest.raises(CwmpFault) as e:
        m.get_values(["Device.DeviceInfo.HostName"])
    assert e.value.code == 9002 and "the hook is broken" in e.value.message


def test_model_cache_lives_for_one_session():
    reads = []

    def get(m):
        if "x" not in m.cache:
            reads.append(1)
            m.cache["x"] = "1"
        return {"Device.DeviceInfo.UpTime": m.cache["x"]}
    m = Model(Store(), providers=[Provider("Device.DeviceInfo.", get), Provider("Device.Time.", lambda m: get(m) and {})])
    m.begin_session()
    m.values()
    assert reads == [1]
    m.begin_session()
    m.values()
    m.poll(["Device.DeviceInfo.UpTime"])
    assert reads == [1, 1, 1]


def test_readme_claim_lan_address_and_ssid_in_one_session(fakes, tmp_path):
    m = example_model(fakes, tmp_path)
    gpv(m)
    before = len(_fakes.calls(fakes))
    later = []
    assert m.set_values([(LAN + "1.IPAddress", "192.168.2.1", "xsd:string"),
                         ("Device.WiFi.SSID.1.SSID", "Home", "xsd:string")], "k", later) == 1
    run_apply(m, later)
    assert _fakes.calls(fakes)[before:] == [
        ["uci", "set", "network.lan.ipaddr=192.168.2.1"], ["uci", "set", "wireless.default_radio0.ssid=Home"],
        ["uci", "commit", "network"], ["record", "/etc/init.d/network", "reload"],
        ["uci", "commit", "wireless"], ["record", "wifi", "reload"]]


# ---------------------------------------------------------------- what OpenWrt really holds

LUCI_RULES = {
    # LuCI's "TCP+UDP" forward of a port range, made without an internal port.
    "cfg0b92bd": {".type": "redirect", "name": "game", "src": "wan", "src_dport": "27015-27030",
                  "dest": "lan", "dest_ip": "192.168.1.20", "proto": "tcp udp", "target": "DNAT"},
    # No proto at all: OpenWrt's default, both protocols.
    "cfg0c92bd": {".type": "redirect", "name": "web", "src": "wan", "src_dport": "8080",
                  "dest": "lan", "dest_ip": "192.168.1.30", "dest_port": "80", "target": "DNAT"},
    # Both protocols as a uci list.
    "cfg0d92bd": {".type": "redirect", "name": "dns", "src": "wan", "src_dport": "5353",
                  "dest": "lan", "dest_ip": "192.168.1.2", "proto": ["tcp", "udp"], "target": "DNAT"},
    # One protocol, a range, switched off.
    "cfg0e92bd": {".type": "redirect", "name": "voip", "src": "wan", "src_dport": "5000-5010",
                  "dest": "lan", "dest_ip": "192.168.1.40", "proto": "udp", "target": "DNAT",
                  "enabled": "0"},
}


def luci_model(fakes, tmp_path):
    state = json.loads(json.dumps(_fakes.OPENWRT))
    state["firewall"].update(LUCI_RULES)
    with open(fakes["state"], "w") as f:
        json.dump(state, f)
    return example_model(fakes, tmp_path)


def rows_by_name(v):
    return {v[PM + "%d.Description" % n]: PM + "%d." % n
            for n in range(1, 10) if PM + "%d.Description" % n in v}


def test_readme_port_mappings_show_every_luci_rule_and_fail_only_the_unfit_value(fakes, tmp_path, logged):
    m = luci_model(fakes, tmp_path)
    v = gpv(m)
    assert not invalid(m, v)
    assert v["Device.NAT.PortMappingNumberOfEntries"] == "5"
    row = rows_by_name(v)
    assert sorted(row) == ["dns", "game", "ssh", "voip", "web"]
    game, web, dns, voip, ssh = (row[k] for k in ("game", "web", "dns", "voip", "ssh"))
    assert [v[game + k] for k in ("ExternalPort", "ExternalPortEndRange", "InternalPort", "InternalClient")] \
        == ["27015", "27030", "27015", "192.168.1.20"]
    assert [v[voip + k] for k in ("ExternalPort", "ExternalPortEndRange", "InternalPort", "Protocol")] \
        == ["5000", "5010", "5000", "UDP"]
    assert v[voip + "Enable"] == "false" and v[voip + "Status"] == "Disabled"
    assert v[web + "InternalPort"] == "80" and v[web + "ExternalPortEndRange"] == "0"
    assert v[ssh + "Protocol"] == "TCP" and v[game + "Origin"] == "User"
    for r in (game, web, dns):   # both protocols: TR-181 has no value for that
        assert r + "Protocol" not in v and v[r + "Enable"] == "true"
        with pytest.raises(CwmpFault) as e:
            m.get_values([r + "Protocol"])
        assert e.value.code == 9002 and '"tcp udp" is not one of the allowed values: TCP, UDP' in e.value.message
    assert m.poll([game + "Protocol", game + "ExternalPort"]) == {game + "ExternalPort": "27015"}
    lines = [line for line in logged.getvalue().splitlines() if "Protocol" in line]
    assert len(lines) == 3 and any("cfg0b92bd" in line and '"tcp udp"' in line for line in lines)
    gpv(m)                                                      # the next session says nothing new
    assert len([line for line in logged.getvalue().splitlines() if "Protocol" in line]) == 3


def test_readme_port_mapping_writes_keep_the_range_and_new_rules_are_the_acs(fakes, tmp_path):
    m = luci_model(fakes, tmp_path)
    game = rows_by_name(gpv(m))["game"]
    m.set_values([(game + "ExternalPort", "27100", None)], "k1")
    assert gpv(m, game)[game + "ExternalPortEndRange"] == "27030"
    assert uci_calls(fakes, "set", "firewall.cfg0b92bd.src_dport=27100-27030")
    m.set_values([(game + "ExternalPortEndRange", "0", None)], "k2")
    v = gpv(m, game)
    assert v[game + "ExternalPort"] == "27100" and v[game + "ExternalPortEndRange"] == "0"
    m.set_values([(game + "ExternalPortEndRange", "27200", None)], "k3")
    assert uci_calls(fakes, "set", "firewall.cfg0b92bd.src_dport=27100-27200")
    n, _ = m.add_object(PM, "k4")
    v = gpv(m, "%s%d." % (PM, n))
    assert v["%s%d.Origin" % (PM, n)] == "Controller" and v["%s%d.Protocol" % (PM, n)] == "TCP"


def without_wifi(tmp_path):
    root = copy_root(OPENWRT, tmp_path)
    shutil.rmtree(os.path.join(root, "sys/class/net/phy0-ap0"))
    os.remove(os.path.join(root, "sys/class/net/br-lan/lower_phy0-ap0"))
    return root


def test_a_bound_row_the_system_lacks_is_left_out_whole_and_said_once(fakes, tmp_path, logged):
    m = example_model(fakes, tmp_path, root=without_wifi(tmp_path))
    v = gpv(m)
    assert not any(k.startswith("Device.WiFi.SSID.") for k in v)
    assert v["Device.WiFi.SSIDNumberOfEntries"] == "0"
    with pytest.raises(CwmpFault) as e:
        m.get_values(["Device.WiFi.SSID.1.SSID"])
    assert e.value.code == 9005
    assert v[LAN + "1.IPAddress"] == "192.168.1.1"              # br-lan is there
    gpv(m)
    said = [line for line in logged.getvalue().splitlines() if "phy0-ap0" in line]
    assert len(said) == 1 and "Device.WiFi.SSID.[phy0-ap0]" in said[0] and "left out" in said[0]


def test_a_system_without_the_bound_interfaces_gets_no_half_rows(fakes, tmp_path, logged):
    m = example_model(fakes, tmp_path, root=DEBIAN)                  # no br-lan, no Wi-Fi
    v = gpv(m)
    names = set(v[k] for k in v if re.match(r"Device\.IP\.Interface\.\d+\.Name$", k))
    for k in v:
        hit = re.match(r"(Device\.IP\.Interface\.\d+\.)", k)
        assert not hit or hit.group(1) + "Name" in v, k              # every row has its Name
    assert "br-lan" not in names and not any(k.startswith("Device.WiFi.SSID.") for k in v)
    gpv(m)
    said = [line for line in logged.getvalue().splitlines() if "the system has no such row" in line]
    assert sorted(re.search(r"binding (\S+):", s).group(1) for s in said) == [
        "Device.IP.Interface.[br-lan]", "Device.WiFi.SSID.[phy0-ap0]"]
