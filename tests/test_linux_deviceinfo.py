"""tr069client/linux deviceinfo.py and processes.py: DeviceInfo, MemoryStatus, ProcessStatus."""

import json
import os

import pytest

from tr069client import identity, outcomes
from tr069client.linux import deviceinfo
from tr069client.store import Store

from _platform import DEBIAN, OPENWRT, copy_root, gpv, invalid, make_model, write

DI = "Device.DeviceInfo."
XML = os.path.join(os.environ.get("TR069_BBF_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                                 "shared", "bbf")),
                   "tr-181-2-19-1-cwmp-full.xml")


def test_identity_versions_uptime_and_host_name_of_an_openwrt_router():
    m = make_model(OPENWRT, {"manufacturer": "Acme", "oui": "00D0C9", "serial-number": "SN1"})
    v = gpv(m, DI)
    assert not invalid(m, v)
    assert (v[DI + "Manufacturer"], v[DI + "ManufacturerOUI"], v[DI + "SerialNumber"]) == ("Acme", "00D0C9", "SN1")
    # Not configured: from /etc/openwrt_release (identity.resolve).
    assert v[DI + "SoftwareVersion"] == "23.05.2-r23630-842932a63d"
    assert v[DI + "UpTime"] == "3600" and v[DI + "HostName"] == "OpenWrt"
    assert v[DI + "AdditionalSoftwareVersion"] == "Linux 5.15.137"
    assert v[DI + "FirstUseDate"] == "0001-01-01T00:00:00Z"
    assert v[DI + "VendorConfigFileNumberOfEntries"] == "0"
    assert m.get_values([DI + "VendorConfigFile."]) == []
    # ProvisioningCode stays the ACS's (stored, writable) as Baseline:4 wants.
    assert dict(m.get_names(DI, True))[DI + "ProvisioningCode"] is True
    assert dict(m.get_names(DI, True))[DI + "UpTime"] is False


def test_identity_fields_are_the_ones_identity_resolved():
    ident = identity.resolve({}, DEBIAN)
    v = gpv(make_model(DEBIAN), DI)
    for key, path in identity.PARAMS.items():
        assert v[path] == ident[key]


def test_supported_data_model_names_the_xml_the_metadata_came_from():
    v = gpv(make_model(OPENWRT), DI + "SupportedDataModel.")
    assert v[DI + "SupportedDataModel.1.URL"].endswith("/tr-181-2-19-1-cwmp-full.xml")
    if os.path.exists(XML):
        with open(XML, "rb") as f:
            head = f.read(4096).decode("utf-8")
        assert 'spec="%s"' % v[DI + "SupportedDataModel.1.URN"] in head
    assert v[DI + "SupportedDataModel.1.UUID"] == deviceinfo.DATA_MODEL["UUID"]


def test_first_use_date_is_the_first_successful_session_and_stays():
    store = Store()
    m = make_model(OPENWRT, store=store)
    assert gpv(m, DI + "FirstUseDate")[DI + "FirstUseDate"] == "0001-01-01T00:00:00Z"
    outcomes.succeeded(store, 1500000000)   # a clock before 2020: no absolute time yet
    assert gpv(m, DI + "FirstUseDate")[DI + "FirstUseDate"] == "0001-01-01T00:00:00Z"
    outcomes.succeeded(store, 1764000000.5)
    assert gpv(m, DI + "FirstUseDate")[DI + "FirstUseDate"] == "2025-11-24T16:00:00Z"
    outcomes.succeeded(store, 1800000000)
    assert gpv(m, DI + "FirstUseDate")[DI + "FirstUseDate"] == "2025-11-24T16:00:00Z"


def test_reading_the_device_info_writes_nothing():
    store = Store()
    m = make_model(OPENWRT, store=store)
    gpv(m, DI)                  # numbers SupportedDataModel.1 (instances.py's to write)
    store.state["last_success"] = 1764000000   # a session succeeded meanwhile
    before, store.dirty = json.dumps(store.state, sort_keys=True), False
    gpv(m, DI)
    assert json.dumps(store.state, sort_keys=True) == before and not store.dirty


def test_memory_status_from_meminfo_and_statvfs():
    v = gpv(make_model(OPENWRT), DI + "MemoryStatus.")
    assert v[DI + "MemoryStatus.Total"] == "250000"
    assert v[DI + "MemoryStatus.Free"] == "120000"      # MemAvailable: what can be used
    st = os.statvfs(OPENWRT)
    assert v[DI + "MemoryStatus.TotalPersistent"] == str(st.f_blocks * st.f_frsize // 1024)


def test_process_table_rows_are_keyed_by_pid():
    m = make_model(OPENWRT)
    v = gpv(m, DI + "ProcessStatus.")
    ps = DI + "ProcessStatus.Process."
    assert v[DI + "ProcessStatus.ProcessNumberOfEntries"] == "3"
    assert v[ps + "1.Command"] == "/sbin/procd" and v[ps + "1.State"] == "Sleeping"
    assert v[ps + "1234.Command"] == "/usr/sbin/dnsmasq -C /var/etc/dnsmasq.conf.cfg01411c -k"
    assert v[ps + "1234.State"] == "Running"
    tick = os.sysconf("SC_CLK_TCK")
    assert v[ps + "1234.CPUTime"] == str((40 + 60) * 1000 // tick)
    assert v[ps + "1234.Size"] == str(410 * os.sysconf("SC_PAGE_SIZE") // 1024)
    assert v[ps + "77.Command"] == "[kworker/0:1-events]" and v[ps + "77.State"] == "Idle"
    assert v[ps + "77.Priority"] == "0"                 # real-time (-51) is the highest
    assert not invalid(m, v)


def test_cpu_usage_is_since_boot_first_then_since_the_last_look(tmp_path):
    root = copy_root(OPENWRT, tmp_path)
    m = make_model(root)
    busy, total = 12000 + 6000 + 500, 12000 + 6000 + 160000 + 2000 + 500
    assert gpv(m, DI + "ProcessStatus.CPUUsage")[DI + "ProcessStatus.CPUUsage"] == str(round(100.0 * busy / total))
    with open(os.path.join(root, "proc/stat"), "w") as f:
        f.write("cpu  12300 0 6100 160100 2000 0 500 0 0 0\n")   # 400 busy of 500 ticks
    assert gpv(m, DI + "ProcessStatus.CPUUsage")[DI + "ProcessStatus.CPUUsage"] == "80"
    with open(os.path.join(root, "proc/stat"), "w") as f:
        f.write("cpu  12301 0 6100 160101 2000 0 500 0 0 0\n")   # too soon to say more
    assert gpv(m, DI + "ProcessStatus.CPUUsage")[DI + "ProcessStatus.CPUUsage"] == "80"


def test_a_broken_meminfo_fails_only_memory_status(tmp_path):
    root = copy_root(OPENWRT, tmp_path)
    os.remove(os.path.join(root, "proc/meminfo"))
    m = make_model(root)
    v = gpv(m)
    assert DI + "MemoryStatus.Total" not in v and DI + "UpTime" in v
    from tr069client.faults import CwmpFault
    with pytest.raises(CwmpFault) as e:
        m.get_values([DI + "MemoryStatus.Total"])
    assert e.value.code == 9002 and "MemTotal" in e.value.message


def test_odd_process_names_and_a_garbled_proc_stat(tmp_path):
    root = copy_root(OPENWRT, tmp_path)
    # Any process may name itself (prctl PR_SET_NAME), with ")" and control characters.
    write(root, "proc/77/stat", "77 (ev\x1bil) S (x) I 2 0 0 0 -1 69238880 0 0 0 0 0 12 0 0 -51 0 1 0 60 0 0 1 0\n")
    write(root, "proc/sys/kernel/hostname", "router\x07\n")
    m = make_model(root)
    v = gpv(m)
    assert not invalid(m, v)
    assert v[DI + "ProcessStatus.Process.77.Command"] == "[ev?il) S (x]"
    assert v[DI + "ProcessStatus.Process.77.State"] == "Idle" and v[DI + "HostName"] == "router?"
    write(root, "proc/stat", "cpu  12300 0 x 160100 2000 0 500 0 0 0\n")
    v = gpv(m)   # only ProcessStatus fails
    assert DI + "ProcessStatus.CPUUsage" not in v and DI + "UpTime" in v
    from tr069client.faults import CwmpFault
    with pytest.raises(CwmpFault) as e:
        m.get_values([DI + "ProcessStatus.CPUUsage"])
    assert e.value.code == 9002 and "proc/stat" in e.value.message
