"""tr069client/linux interfaces: Ethernet, Wi-Fi, IP and InterfaceStack from sample roots."""

import os
import shutil

import pytest

from tr069client import instances
from tr069client.faults import CwmpFault
from tr069client.store import Store

from _platform import DEBIAN, OPENWRT, copy_root, gpv, invalid, make_model


def by_name(values, table):
    """{Name: instance path} of the rows of `table` ("Device.IP.Interface.")."""
    return {v: k[:-len("Name")] for k, v in values.items()
            if k.startswith(table) and k.count(".") == table.count(".") + 1 and k.endswith(".Name")}


def test_openwrt_router_layers_and_rows():
    m = make_model(OPENWRT)
    v = gpv(m)
    assert not invalid(m, v)
    eth = by_name(v, "Device.Ethernet.Interface.")
    links = by_name(v, "Device.Ethernet.Link.")
    ips = by_name(v, "Device.IP.Interface.")
    ssids = by_name(v, "Device.WiFi.SSID.")
    assert sorted(eth) == ["eth0", "lan1", "lan2", "wan"]      # physical, not wireless
    assert sorted(ssids) == ["phy0-ap0"]
    assert sorted(links) == ["br-lan", "eth0", "wan"]           # bridge ports have no Link
    assert sorted(ips) == ["br-lan", "eth0", "lo", "wan"]       # nor an IP interface
    assert v[ips["br-lan"] + "LowerLayers"] == links["br-lan"][:-1]
    assert v[links["br-lan"] + "LowerLayers"].split(",") == [
        eth["lan1"][:-1], eth["lan2"][:-1], ssids["phy0-ap0"][:-1]]
    assert v[links["wan"] + "LowerLayers"] == eth["wan"][:-1]
    assert v[ips["lo"] + "LowerLayers"] == "" and v[ips["lo"] + "Type"] == "Loopback"
    assert v[ips["lo"] + "MaxMTUSize"] == "65535"              # the kernel says 65536
    assert v[eth["lan2"] + "Status"] == "LowerLayerDown"
    assert v[eth["lan1"] + "CurrentBitRate"] == "1000" and v[eth["lan1"] + "CurrentDuplexMode"] == "Full"
    # The WAN port and the conduit under it carry the default route.
    assert [n for n in eth if v[eth[n] + "Upstream"] == "true"] == ["eth0", "wan"]
    assert v[ips["br-lan"] + "IPv6Enable"] == "true" and v["Device.IP.IPv6Status"] == "Enabled"


def test_stack_matches_every_lower_layers_value():
    m = make_model(OPENWRT)
    v = gpv(m)
    pairs = set()
    for k, val in v.items():
        if k.endswith(".LowerLayers") and val:
            for low in val.split(","):
                assert low + ".Name" in v, "%s points at a missing row %s" % (k, low)
                pairs.add((k[:-len(".LowerLayers")], low))
    stack = {(v[k], v[k[:-len("HigherLayer")] + "LowerLayer"]) for k in v
             if k.startswith("Device.InterfaceStack.") and k.endswith(".HigherLayer")}
    assert stack == pairs and len(pairs) == 8
    assert v["Device.InterfaceStackNumberOfEntries"] == "8"
    for k in v:
        if k.startswith("Device.InterfaceStack.") and k.endswith(".HigherAlias"):
            assert v[k] == v[v[k[:-len("HigherAlias")] + "HigherLayer"] + ".Alias"]


def test_addresses_come_from_the_kernel_table_with_secondaries_and_flags():
    m = make_model(OPENWRT)
    v = gpv(m)
    ips = by_name(v, "Device.IP.Interface.")
    lan, wan = ips["br-lan"], ips["wan"]

    def rows_of(obj, table):
        return {v[k]: k[:-len("IPAddress")] for k in v if k.startswith(obj + table) and k.endswith(".IPAddress")}
    v4 = rows_of(lan, "IPv4Address.")
    assert sorted(v4) == ["192.168.1.1", "192.168.1.2"]       # the secondary too
    assert v[v4["192.168.1.1"] + "SubnetMask"] == "255.255.255.0"
    assert v[v4["192.168.1.1"] + "AddressingType"] == "Static"
    wan4 = rows_of(wan, "IPv4Address.")
    assert v[wan4["203.0.113.10"] + "AddressingType"] == "DHCP"   # it has a lease time
    wan6 = rows_of(wan, "IPv6Address.")
    assert v[wan6["2001:db8:0:1::10"] + "Origin"] == "AutoConfigured"
    assert v[wan6["2001:db8:0:1::99"] + "IPAddressStatus"] == "Deprecated"
    assert v[wan6["fe80::9683:c4ff:fe00:2"] + "IPAddressStatus"] == "Tentative"
    assert v[wan6["2001:db8:0:1::10"] + "ValidLifetime"] > v[wan6["2001:db8:0:1::10"] + "PreferredLifetime"]
    lan6 = rows_of(lan, "IPv6Address.")
    assert v[lan6["fd12:3456:789a::1"] + "Origin"] == "Static"
    assert v[lan6["fd12:3456:789a::1"] + "ValidLifetime"] == "9999-12-31T23:59:59Z"
    assert v[rows_of(ips["lo"], "IPv6Address.")["::1"] + "Origin"] == "WellKnown"
    assert v[lan + "IPv4AddressNumberOfEntries"] == "2"


def test_stats_come_from_proc_net_dev_and_32_bit_counters_wrap():
    m = make_model(OPENWRT)
    v = gpv(m)
    wan = by_name(v, "Device.Ethernet.Interface.")["wan"]
    assert v[wan + "Stats.BytesReceived"] == "9753108642"          # 64-bit counter
    assert v[wan + "Stats.ErrorsReceived"] == str(5000000000 % 2 ** 32)
    lan1 = by_name(v, "Device.Ethernet.Interface.")["lan1"]
    assert v[lan1 + "Stats.MulticastPacketsReceived"] == "4567"
    assert v[lan1 + "Stats.UnicastPacketsReceived"] == str(345678 - 4567)
    assert v[lan1 + "Stats.Collisions"] == "3"


def test_instance_numbers_stay_with_their_interface_across_changes_and_restarts(tmp_path):
    root = copy_root(OPENWRT, tmp_path)
    store = Store(str(tmp_path / "state.json"))
    first = by_name(gpv(make_model(root, store=store)), "Device.IP.Interface.")
    store.save()
    # A new device appears with a low ifindex, and wan disappears for a while.
    net = os.path.join(root, "sys/class/net")
    shutil.copytree(os.path.join(net, "lan2"), os.path.join(net, "aaa0"), symlinks=True)
    os.remove(os.path.join(net, "aaa0", "master"))
    with open(os.path.join(net, "aaa0", "ifindex"), "w") as f:
        f.write("0\n")
    shutil.move(os.path.join(net, "wan"), str(tmp_path / "wan"))
    second = by_name(gpv(make_model(root, store=Store.load(store.path))), "Device.IP.Interface.")
    assert {n: p for n, p in second.items() if n in first} == {n: p for n, p in first.items() if n != "wan"}
    assert second["aaa0"] not in first.values()                # wan's number is not reused
    shutil.move(str(tmp_path / "wan"), os.path.join(net, "wan"))
    third = by_name(gpv(make_model(root, store=Store.load(store.path))), "Device.IP.Interface.")
    assert third["wan"] == first["wan"]


def test_vanished_rows_are_forgotten_beyond_a_limit_but_numbers_never_come_back(monkeypatch):
    monkeypatch.setattr(instances, "KEEP_VANISHED", 2)
    m = make_model(OPENWRT)
    t = "Device.X.Table."
    got = [instances.assign(m.store, t, ["k%d" % i]) for i in range(5)]
    assert [g["k%d" % i] for i, g in enumerate(got)] == [1, 2, 3, 4, 5]
    assert sorted(m.store.state["instances"][t]) == ["k2", "k3", "k4"]
    assert instances.assign(m.store, t, ["k0"]) == {"k0": 6}


def test_failing_address_table_fails_only_the_ip_parameters(tmp_path):
    root = copy_root(OPENWRT, tmp_path)
    os.remove(os.path.join(root, "netlink", "RTM_GETADDR"))
    m = make_model(root)
    v = gpv(m)
    assert not any(k.startswith("Device.IP.") for k in v)
    assert "Device.Ethernet.Interface.1.Name" in v and "Device.DeviceInfo.UpTime" in v
    with pytest.raises(CwmpFault) as e:
        m.get_values(["Device.IP.Interface.1.Name"])
    assert e.value.code == 9002 and "address table" in e.value.message


def test_captured_debian_machine():
    m = make_model(DEBIAN)
    v = gpv(m)
    assert not invalid(m, v)
    ips = by_name(v, "Device.IP.Interface.")
    assert "lo" in ips and "eth0" in ips
    addrs = {v[k] for k in v if k.startswith(ips["eth0"] + "IPv4Address.") and k.endswith("IPAddress")}
    assert addrs and all(a.count(".") == 3 for a in addrs)
    assert v[by_name(v, "Device.Ethernet.Link.")["eth0"] + "LowerLayers"] == \
        by_name(v, "Device.Ethernet.Interface.")["eth0"][:-1]


def test_a_kernel_without_ipv6_reports_it_disabled(tmp_path):
    root = copy_root(OPENWRT, tmp_path)
    shutil.rmtree(os.path.join(root, "proc/sys/net/ipv6"))   # booted with ipv6.disable=1
    m = make_model(root)
    v = gpv(m, "Device.IP.")
    assert not invalid(m, v)
    enables = [val for k, val in v.items() if k.startswith("Device.IP.Interface.") and k.endswith(".IPv6Enable")]
    assert enables and set(enables) == {"false"} and v["Device.IP.IPv6Capable"] == "false"
