"""The real daemon with the Linux providers and a bindings file, against the lab ACS: a
GetParameterValues of Device. tells the truth about this machine in valid TR-181 values,
and SetParameterValues on bound parameters runs each set command once and each apply
command once per session."""

import json
import os
import re
import shutil
import subprocess

import pytest

import _fakes
from _daemon import DaemonProc, wait_until
from lab_acs import get_parameter_values, set_parameter_values
from tr069client import datatypes, metadata
from tr069client.faults import CwmpFault

# Process-level: the fast subset (pytest -m "not e2e") leaves these out.
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not os.path.isdir("/sys/class/net") or not os.path.exists("/proc/uptime"),
                                reason="needs Linux /proc and /sys")]
HOST, TZ = "Device.DeviceInfo.HostName", "Device.Time.LocalTimeZone"


def uptime():
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]))


def ip_addr():
    """{(interface, address, prefix length)} that `ip -o addr` shows, or None without `ip`."""
    if not shutil.which("ip"):
        return None
    out = subprocess.run(["ip", "-o", "addr"], stdout=subprocess.PIPE, universal_newlines=True).stdout
    return {(m.group(1).split("@")[0], m.group(2), int(m.group(3)))
            for m in re.finditer(r"^\d+:\s+(\S+)\s+inet6?\s+([^/\s]+)/(\d+)", out, re.M)}


def gpv_addresses(values):
    """{(interface name, address, prefix length)} of the IP.Interface rows in a GPV answer."""
    out = set()
    for name, (value, _) in values.items():
        m = re.match(r"(Device\.IP\.Interface\.\d+\.)IPv([46])Address\.\d+\.IPAddress$", name)
        if m:
            iface = values[m.group(1) + "Name"][0]
            if m.group(2) == "4":
                mask = values[name[:-len("IPAddress")] + "SubnetMask"][0]
                plen = sum(bin(int(x)).count("1") for x in mask.split("."))
            else:
                plen = None
            out.add((iface, value, plen))
    return out


def commits(fakes):
    return [c for c in _fakes.calls(fakes) if c[:2] == ["uci", "commit"]]


def test_gpv_of_device_tells_the_truth_and_bound_spv_runs_its_commands(make_lab_acs, tmp_path, monkeypatch):
    fakes = _fakes.install(tmp_path)
    for k in ("PATH", "FAKE_UCI_STATE", "FAKE_LOG"):
        monkeypatch.setenv(k, fakes["env"][k])
    apply = [["uci", "commit", "system"], [fakes["record"], "/etc/init.d/system", "reload"]]
    spec = {HOST: {"command": ["uci", "-q", "get", "system.@system[0].hostname"],
                   "set": ["uci", "set", "system.@system[0].hostname={value}"], "apply": apply},
            TZ: {"command": ["uci", "-q", "get", "system.@system[0].timezone"],
                 "set": ["uci", "set", "system.@system[0].timezone={value}"], "apply": apply}}
    (tmp_path / "bindings.json").write_text(json.dumps(spec))
    acs = make_lab_acs()
    acs.queue_session([get_parameter_values(["Device."]),
                       set_parameter_values([(HOST, "router1"), (TZ, "CET-1CEST,M3.5.0,M10.5.0/3")], "k1")])
    acs.queue_session([set_parameter_values([(HOST, "router2")], "k2"), get_parameter_values([HOST, TZ])])
    (tmp_path / "d").mkdir()
    d = DaemonProc(tmp_path / "d", acs, args=["--periodic-inform-enabled", "no"],
                   config={"bindings": str(tmp_path / "bindings.json"), "command-timeout": 5})
    before = uptime()
    d.start()
    try:
        acs.wait_sessions(1, 20)
        after = uptime()
        assert wait_until(lambda: len(commits(fakes)) == 1), d.log()
        d.cli("inform")
        acs.wait_sessions(2, 20)
        assert wait_until(lambda: len(commits(fakes)) == 2), d.log()
    finally:
        assert d.stop() == 0, d.log()
    assert "Traceback" not in d.log()

    answers = [(m, r) for m, r in acs.responses]
    values = [r for m, r in answers if m == "GetParameterValuesResponse"][0]
    # Every value is valid for its TR-181 type and carries that type.
    bad = []
    for name, (value, xsi) in values.items():
        p = metadata.load().param(metadata.generic(name))
        try:
            datatypes._normalize(p, value, False)   # the device's value: read-only enums allowed
        except CwmpFault as f:
            bad.append("%s=%r: %s" % (name, value, f.message))
        if xsi != datatypes.xsd_type(p):
            bad.append("%s has xsi:type %s" % (name, xsi))
    assert not bad, "\n".join(bad)
    # True values: the uptime, and the interfaces and addresses `ip addr` shows.
    assert before <= int(values["Device.DeviceInfo.UpTime"][0]) <= after
    assert values["Device.RootDataModelVersion"][0] == "2.19"
    names = {v for k, (v, _) in values.items() if re.match(r"Device\.IP\.Interface\.\d+\.Name$", k)}
    assert names == {n for n in os.listdir("/sys/class/net")
                     if not os.path.exists("/sys/class/net/%s/master" % n)}
    shown = ip_addr()
    if shown is not None:
        got = gpv_addresses(values)
        assert {(i, a) for i, a, _ in got} == {(i, a) for i, a, _ in shown}
        assert {x for x in got if x[2] is not None} == {x for x in shown if ":" not in x[1]}
    assert values[HOST][0] == "OpenWrt"            # the binding, not the kernel's host name
    # Each SPV ran its set commands once; each session ran the shared apply commands once.
    statuses = [r["Status"] for m, r in answers if m == "SetParameterValuesResponse"]
    assert statuses == [1, 1]
    calls = _fakes.calls(fakes)
    sets = [c for c in calls if c[:2] == ["uci", "set"]]
    assert sets == [["uci", "set", "system.@system[0].hostname=router1"],
                    ["uci", "set", "system.@system[0].timezone=CET-1CEST,M3.5.0,M10.5.0/3"],
                    ["uci", "set", "system.@system[0].hostname=router2"]]
    assert [c for c in calls if c[0] == "record"] == [["record", "/etc/init.d/system", "reload"]] * 2
    last = [r for m, r in answers if m == "GetParameterValuesResponse"][-1]
    assert last[HOST][0] == "router2" and last[TZ][0] == "CET-1CEST,M3.5.0,M10.5.0/3"
