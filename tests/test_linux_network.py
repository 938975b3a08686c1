"""tr069client/linux dns.py, hosts.py and routing.py over the OpenWrt sample root."""

import pytest

from tr069client.faults import CwmpFault

from _platform import OPENWRT, copy_root, gpv, invalid, make_model, write

SRV = "Device.DNS.Client.Server."


def test_dns_servers_are_the_upstream_ones_with_their_origin():
    m = make_model(OPENWRT)
    v = gpv(m, "Device.DNS.")
    assert not invalid(m, v)
    servers = {v[k]: k[:-len("DNSServer")] for k in v if k.endswith(".DNSServer")}
    assert sorted(servers) == ["2001:db8::53", "203.0.113.53", "203.0.113.54", "fe80::1"]
    assert v[servers["203.0.113.53"] + "Type"] == "DHCPv4"
    assert v[servers["2001:db8::53"] + "Type"] == "DHCPv6"
    wan = [k[:-5] for k, val in gpv(m, "Device.IP.").items() if k.endswith(".Name") and val == "wan"][0]
    assert v[servers["fe80::1"] + "Interface"] == wan        # fe80::1%wan


def test_acs_rows_live_beside_the_os_rows_of_the_dns_table():
    m = make_model(OPENWRT)
    gpv(m)
    names = dict(m.get_names(SRV, False))
    assert names[SRV] is True                                # AddObject allowed (Baseline:4)
    assert names[SRV + "1."] is False and names[SRV + "1.DNSServer"] is False
    n, status = m.add_object(SRV, "k1")
    assert (n, status) == (5, 0)                             # after the four OS rows
    m.set_values([(SRV + "5.DNSServer", "192.0.2.53", "xsd:string")], "k2")
    assert m.store.values[SRV + "5.DNSServer"] == "192.0.2.53"
    assert dict(m.get_names(SRV + "5.", False))[SRV + "5.DNSServer"] is True
    v = gpv(m, SRV)                                          # a new session keeps it
    assert v[SRV + "5.DNSServer"] == "192.0.2.53" and v[SRV + "1.DNSServer"] == "203.0.113.53"
    with pytest.raises(CwmpFault) as e:
        m.delete_object(SRV + "1.", "k3")
    assert e.value.code == 9001
    assert m.delete_object(SRV + "5.", "k4") == 0
    assert gpv(m, "Device.DNS.Client.ServerNumberOfEntries")["Device.DNS.Client.ServerNumberOfEntries"] == "4"


def test_hosts_are_the_lan_neighbours_with_names_and_ports():
    m = make_model(OPENWRT)
    v = gpv(m)
    assert not invalid(m, v)
    hosts = {v[k]: k[:-len("PhysAddress")] for k in v if k.startswith("Device.Hosts.Host.") and k.endswith("PhysAddress")}
    # The WAN gateway and the incomplete entry are not LAN hosts.
    assert sorted(hosts) == ["aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02"]
    laptop, phone = hosts["aa:bb:cc:00:00:01"], hosts["aa:bb:cc:00:00:02"]
    assert v[laptop + "HostName"] == "laptop" and v[phone + "HostName"] == ""
    assert v[laptop + "IPAddress"] == "192.168.1.100" and v[laptop + "Active"] == "true"
    assert v[v[laptop + "Layer1Interface"] + ".Name"] == "lan1"     # from the bridge's FDB
    assert v[v[phone + "Layer1Interface"] + ".Name"] == "phy0-ap0"
    assert v[phone + "InterfaceType"] == "Wi-Fi" and v[laptop + "InterfaceType"] == "Ethernet"
    assert v[v[laptop + "Layer3Interface"] + ".Name"] == "br-lan"
    assert v[laptop + "IPv6AddressNumberOfEntries"] == "2"
    assert {v[laptop + "IPv6Address.%d.IPAddress" % i] for i in (1, 2)} == {
        "fe80::a8bb:ccff:fe00:1", "fd12:3456:789a::100"}


def test_a_host_on_a_bridge_port_that_left_since_the_scan_is_still_listed(tmp_path):
    # The Wi-Fi interface went away (wifi down) while the bridge still lists it as a port.
    import os
    import shutil
    root = copy_root(OPENWRT, tmp_path)
    shutil.rmtree(os.path.join(root, "sys/class/net/phy0-ap0"))
    m = make_model(root)
    v = gpv(m, "Device.Hosts.")
    assert not invalid(m, v)
    phone = [k[:-len("PhysAddress")] for k in v if v[k] == "aa:bb:cc:00:00:02"][0]
    assert v[phone + "Layer1Interface"] == "" and v[phone + "InterfaceType"] == "Ethernet"


def test_routes_of_the_main_table():
    m = make_model(OPENWRT)
    v = gpv(m)
    fw = "Device.Routing.Router.1.IPv4Forwarding."
    assert v["Device.Routing.Router.1.IPv4ForwardingNumberOfEntries"] == "3"
    default = [k[:-len("GatewayIPAddress")] for k in v if k.startswith(fw) and k.endswith("GatewayIPAddress")
               and v[k] == "203.0.113.1"][0]
    assert v[default + "DestIPAddress"] == "" and v[default + "DestSubnetMask"] == ""
    assert v[default + "StaticRoute"] == "true"
    assert v[v[default + "Interface"] + ".Name"] == "wan"
    lan = [k[:-len("DestIPAddress")] for k in v if k.startswith(fw) and v[k] == "192.168.1.0"][0]
    assert v[lan + "DestSubnetMask"] == "255.255.255.0" and v[lan + "GatewayIPAddress"] == ""
    assert all(v[k] == "Device.Routing.Router.1" for k in v if k.endswith(".Router"))


def test_odd_lines_in_the_arp_table_and_resolv_conf_are_skipped(tmp_path):
    root = copy_root(OPENWRT, tmp_path)
    write(root, "proc/net/arp", "192.168.1.9  0x1  junk  aa:bb:cc:00:00:09  *  br-lan\n", "a")
    write(root, "tmp/resolv.conf.d/resolv.conf.auto", "nameserver dns.example\nnameserver 10.0.0.1.5\n", "a")
    m = make_model(root)
    v = gpv(m)
    assert not invalid(m, v)
    assert v["Device.Hosts.HostNumberOfEntries"] == "2"
    assert sorted(v[k] for k in v if k.endswith(".DNSServer")) == [
        "2001:db8::53", "203.0.113.53", "203.0.113.54", "fe80::1"]
