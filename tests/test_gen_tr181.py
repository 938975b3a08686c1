"""tools/gen_tr181.py: determinism, --check, the selection rules, and profile coverage."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import gen_tr181
from tr069client import metadata

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(REPO, "tools", "gen_tr181.py")
XML = gen_tr181.DEFAULT_XML
JSON_PATH = os.path.join(REPO, "tr069client", "tr181.json")

needs_xml = pytest.mark.skipif(not os.path.exists(XML), reason="no BBF XML at %s" % XML)


def run_tool(*args):
    return subprocess.run([sys.executable, TOOL] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)


def generate(tmp_path, selection):
    sel = tmp_path / "selection.txt"
    sel.write_text(selection)
    data, summary = gen_tr181.generate(XML, str(sel))
    return json.loads(data.decode("ascii")), summary


def paths(doc):
    return [o[0] for o in doc["objects"]]


def param_names(doc, obj):
    return [p[0] for o in doc["objects"] if o[0] == obj for p in o[2]]


# ---------------------------------------------------------------- determinism, --check

@needs_xml
def test_generation_is_deterministic_and_matches_the_committed_file():
    first, _ = gen_tr181.generate(XML, gen_tr181.DEFAULT_SELECTION)
    second, _ = gen_tr181.generate(XML, gen_tr181.DEFAULT_SELECTION)
    assert first == second
    with open(JSON_PATH, "rb") as f:
        assert f.read() == first, "tr181.json is stale: run tools/gen_tr181.py"


@needs_xml
def test_output_is_compact_ascii_json():
    with open(JSON_PATH, "rb") as f:
        data = f.read()
    data.decode("ascii")
    assert data.endswith(b"}\n") and data.count(b"\n") == 1
    assert b'": ' not in data and b'", "' not in data and b"], [" not in data
    doc = json.loads(data)
    assert doc["format"] == 1 and doc["model"] == "Device:2.19"


@pytest.mark.e2e
@needs_xml
def test_check_passes_on_the_committed_file_and_fails_on_a_changed_one(tmp_path):
    ok = run_tool("--check")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "up to date" in ok.stdout
    changed = tmp_path / "tr181.json"
    with open(JSON_PATH, "rb") as f:
        changed.write_bytes(f.read().replace(b'"Device:2.19"', b'"Device:2.18"'))
    bad = run_tool("--check", "--out", str(changed))
    assert bad.returncode == 1
    assert "OUT OF DATE" in bad.stdout
    missing = run_tool("--check", "--out", str(tmp_path / "absent.json"))
    assert missing.returncode == 1


@pytest.mark.e2e
@needs_xml
def test_writes_the_file_and_prints_a_one_line_summary(tmp_path):
    out = tmp_path / "out.json"
    res = run_tool("--out", str(out))
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r".*: \d+ objects, \d+ parameters, \d+ facet sets, \d+ bytes\n",
                        res.stdout)
    with open(JSON_PATH, "rb") as f:
        assert out.read_bytes() == f.read()


@pytest.mark.e2e
def test_a_bad_selection_gives_a_one_line_error_and_exit_2(tmp_path):
    sel = tmp_path / "sel.txt"
    sel.write_text("Device.NoSuchThing.\n")
    res = run_tool("--selection", str(sel), "--out", str(tmp_path / "x.json"))
    assert res.returncode == 2
    if os.path.exists(XML):
        assert "no object Device.NoSuchThing." in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "x.json").exists()


# ---------------------------------------------------------------- selection rules

@needs_xml
def test_object_line_selects_own_parameters_and_subtree_star_everything(tmp_path):
    doc, _ = generate(tmp_path, "Device.\nDevice.DeviceInfo.\nDevice.DeviceInfo.ProcessStatus.*\n")
    assert paths(doc) == ["Device.", "Device.DeviceInfo.", "Device.DeviceInfo.ProcessStatus.",
                          "Device.DeviceInfo.ProcessStatus.CPU.{i}.",
                          "Device.DeviceInfo.ProcessStatus.Process.{i}."]
    assert "CPUNumberOfEntries" in param_names(doc, "Device.DeviceInfo.ProcessStatus.")


@needs_xml
def test_exclusions_parameter_lines_and_counters_of_missing_tables(tmp_path):
    doc, summary = generate(tmp_path, """
        Device.             # root
        Device.DeviceInfo.*
        -Device.DeviceInfo.ProcessStatus.
        -Device.DeviceInfo.ModelNumber
        Device.Time.Enable
    """)
    assert not any(p.startswith("Device.DeviceInfo.ProcessStatus.") for p in paths(doc))
    names = param_names(doc, "Device.DeviceInfo.")
    assert "ModelNumber" not in names and "Manufacturer" in names
    assert param_names(doc, "Device.Time.") == ["Enable"]
    # InterfaceStack.{i}. is not selected, so its counter would always say 0.
    assert param_names(doc, "Device.") == ["RootDataModelVersion"]
    assert any("InterfaceStackNumberOfEntries" in n for n in summary["notes"])


@needs_xml
def test_deleted_and_obsoleted_items(tmp_path):
    doc, _ = generate(tmp_path, "Device.\nDevice.Time.\n")
    assert "NTPServer1" not in param_names(doc, "Device.Time.")  # deleted in 2.16
    with pytest.raises(gen_tr181.GenError, match="deleted"):
        generate(tmp_path, "Device.\nDevice.Time.\nDevice.Time.NTPServer1\n")
    # DNS.SD.AdvertisedInterfaces is obsoleted: only an explicit line keeps it.
    doc, _ = generate(tmp_path, "Device.\nDevice.DNS.\nDevice.DNS.SD.\n")
    assert "AdvertisedInterfaces" not in param_names(doc, "Device.DNS.SD.")
    doc, _ = generate(tmp_path, "Device.\nDevice.DNS.\nDevice.DNS.SD.\n"
                                "Device.DNS.SD.AdvertisedInterfaces\n")
    assert "AdvertisedInterfaces" in param_names(doc, "Device.DNS.SD.")


@needs_xml
def test_selection_errors(tmp_path):
    with pytest.raises(gen_tr181.GenError, match="parent Device.DeviceInfo.ProcessStatus."):
        generate(tmp_path, "Device.\nDevice.DeviceInfo.\n"
                           "Device.DeviceInfo.ProcessStatus.Process.{i}.\n")
    with pytest.raises(gen_tr181.GenError, match="no parameter Device.DeviceInfo.Nope"):
        generate(tmp_path, "Device.\nDevice.DeviceInfo.Nope\n")
    with pytest.raises(gen_tr181.GenError, match="not a Device. path"):
        generate(tmp_path, "InternetGatewayDevice.\n")


# ---------------------------------------------------------------- helpers

def test_xsd_patterns_become_anchored_python_regexes():
    rx = gen_tr181.xsd_regex
    assert rx(r"\d+") == r"\A(?:[0-9]+)\Z"
    assert re.match(rx(r"2\.\d+"), "2.19") and not re.match(rx(r"2\.\d+"), "2.19x")
    assert not re.match(rx(r"\d+"), "\u0663")          # Arabic-Indic three is no digit here
    assert re.match(rx("a$b^"), "a$b^")                 # literal in XSD
    assert re.match(rx("[^a-c$]x"), "dx") and not re.match(rx("[^a-c$]x"), "$x")
    assert not re.match(rx("a.c"), "a\nc") and not re.match(rx("a.c"), "a\rc")
    assert re.match(rx(""), "") and not re.match(rx(""), "x")
    assert re.match(rx("[\\d.]+"), "1.2") and not re.match(rx("x"), "x\n")
    for unsupported in (r"\p{L}", r"\i\c*", "[a-z-[aeiou]]"):
        with pytest.raises(gen_tr181.GenError):
            rx(unsupported)


def test_target_parent_paths_are_resolved_from_the_containing_object():
    res = gen_tr181.resolve_parent
    assert res("##.IP.Interface.", "Device.NAT.PortMapping.{i}.") == "Device.IP.Interface."
    assert res("###.IP.Interface.", "Device.DNS.Client.Server.{i}.") == "Device.IP.Interface."
    assert res("#.IPv6Prefix.", "Device.IP.Interface.{i}.IPv6Address.{i}.") == \
        "Device.IP.Interface.{i}.IPv6Prefix."
    assert res(".Schedules.Schedule.", "Device.NAT.PortMapping.{i}.") == \
        "Device.Schedules.Schedule."
    assert res("FirmwareImage.", "Device.DeviceInfo.") == "Device.DeviceInfo.FirmwareImage."
    assert res("Device.DynamicDNS.X.", "Device.DynamicDNS.Server.{i}.") == "Device.DynamicDNS.X."


# ---------------------------------------------------------------- profiles

def _profile_requirements(model, name):
    """tools/coverage.py's reading of a profile, with its base and extended profiles."""
    return _coverage_tool().requirements({p.get("name"): p for p in model.findall("profile")}, name)


def _coverage_tool():
    # By file path: the name "coverage" belongs to coverage.py when that is installed.
    import importlib.util
    spec = importlib.util.spec_from_file_location("tr069_coverage_tool",
                                                  os.path.join(REPO, "tools", "coverage.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_xml
@pytest.mark.parametrize("profile", [
    "Baseline:4", "MemoryStatus:1", "ProcessStatus:1", "SupportedDataModel:2", "Time:2",
    "EthernetInterface:2", "IPInterface:2", "Hosts:3"])
def test_the_selection_implements_the_profile(profile):
    model = ET.parse(XML).getroot().find("model")
    meta = metadata.load()
    problems = []
    for obj, (req, params) in _profile_requirements(model, profile).items():
        o = meta.object(obj)
        if o is None:
            problems.append("object %s missing" % obj)
            continue
        if req == "createDelete" and not o.writable:
            problems.append("table %s is not creatable" % obj)
        for name, preq in params.items():
            p = meta.param(obj + name)
            if p is None:
                problems.append("parameter %s%s missing" % (obj, name))
            elif preq == "readWrite" and not p.writable:
                problems.append("parameter %s%s is not writable" % (obj, name))
    assert not problems


@needs_xml
def test_what_the_client_does_not_do_is_not_offered():
    # UDP connection requests (and STUN) are not implemented: their parameters stay out,
    # so an ACS cannot set something that would do nothing.
    model = ET.parse(XML).getroot().find("model")
    meta = metadata.load()
    wanted = _profile_requirements(model, "UDPConnReq:1")["Device.ManagementServer."][1]
    assert [n for n in wanted if meta.param("Device.ManagementServer." + n)] == []
    assert meta.param("Device.ManagementServer.STUNEnable") is None
