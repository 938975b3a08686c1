"""tools/coverage.py: what the running model implements, and the profiles it completes."""

import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

from _platform import OPENWRT

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "coverage.py")
XML = os.path.join(os.environ.get("TR069_BBF_DIR", os.path.join(REPO, "..", "shared", "bbf")),
                   "tr-181-2-19-1-cwmp-full.xml")
needs_xml = pytest.mark.skipif(not os.path.exists(XML), reason="no BBF XML at %s" % XML)


def load_tool():
    # By path: the name `coverage` belongs to coverage.py when that is installed.
    spec = importlib.util.spec_from_file_location("tr181_coverage", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(*args):
    return subprocess.run([sys.executable, TOOL, "--xml", XML] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)


@pytest.mark.e2e
@needs_xml
def test_baseline_4_is_complete_on_this_machine_and_on_openwrt():
    for root in ("/", OPENWRT):
        res = run("--root", root)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Profile Baseline:4: complete" in res.stdout
        assert re.search(r"Device.InterfaceStack. +5 / 5", res.stdout)


@pytest.mark.e2e
@needs_xml
def test_json_report_and_an_incomplete_profile_fails_with_the_reason():
    res = run("--root", OPENWRT, "--json", "--profile", "Baseline:4", "--profile", "Time:2",
              "--profile", "IPInterface:2")
    assert res.returncode == 1
    r = json.loads(res.stdout)
    assert r["profiles"]["Baseline:4"] == []
    assert r["profiles"]["Time:2"] == [
        "parameter Device.Time.LocalTimeZone is read-only here (bind a set command)"]
    assert "table Device.IP.Interface.{i}. does not accept AddObject/DeleteObject here" in \
        r["profiles"]["IPInterface:2"]
    assert r["xml_parameters"] > 7000 and r["parameters"] == sum(r["by_top_object"][k][0] for k in r["by_top_object"])


@pytest.mark.e2e
@needs_xml
def test_a_binding_with_a_set_command_completes_a_profile(tmp_path):
    (tmp_path / "b.json").write_text(json.dumps({"Device.Time.LocalTimeZone": {
        "file": "/etc/TZ", "set": ["true"]}}))
    (tmp_path / "c.json").write_text(json.dumps({"bindings": str(tmp_path / "b.json")}))
    res = run("--root", OPENWRT, "--config", str(tmp_path / "c.json"), "--profile", "Time:2")
    assert res.returncode == 0 and "Profile Time:2: complete" in res.stdout


@needs_xml
def test_profiles_check_what_the_running_model_shows():
    tool = load_tool()
    model = tool.build_model({"platform-providers": False}, OPENWRT)
    r = tool.report(model, XML, ["Baseline:4", "ProcessStatus:1"])
    # Without the Linux providers the tables are empty but still there; values are stored.
    assert r["profiles"]["Baseline:4"] == []
    model = tool.build_model({}, OPENWRT)
    values = tool.gpv_device(model)
    assert ("Device.DeviceInfo.ProcessStatus.Process.1234.Command",
            "/usr/sbin/dnsmasq -C /var/etc/dnsmasq.conf.cfg01411c -k", "xsd:string") in values
    seen = tool._Seen(model)
    assert "Device.DNS.Client.Server.{i}.DNSServer" not in seen.writable   # OS rows: read-only
    assert seen.table_takes_rows("Device.DNS.Client.Server.{i}.")           # but the ACS may add rows


@pytest.mark.e2e
def test_unknown_config_is_a_one_line_error(tmp_path):
    (tmp_path / "c.json").write_text('{"bindingz": "x"}')
    res = subprocess.run([sys.executable, TOOL, "--config", str(tmp_path / "c.json")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    assert res.returncode == 2 and "unknown setting 'bindingz'" in res.stderr and "Traceback" not in res.stderr
