"""Device.Ethernet (Interface, Link), Device.WiFi.SSID, Device.IP (Interface with
IPv4Address, IPv6Address and Stats) and Device.InterfaceStack, from the network device
scan and the kernel's address table (netlink)."""

import socket
import time

from .. import datatypes, instances
from ..provider import Provider, ProviderError
from . import netdev, netlink, routing, rows

_ETH = "Device.Ethernet.Interface.{i}."
_LINK = "Device.Ethernet.Link.{i}."
_SSID = "Device.WiFi.SSID.{i}."
_IP = "Device.IP.Interface.{i}."
_V4 = "Device.IP.Interface.{i}.IPv4Address.{i}."
_V6 = "Device.IP.Interface.{i}.IPv6Address.{i}."
# ARPHRD_ types of tunnel devices: tunnel, tunnel6, sit, ipgre, ip6gre, none (tun)
_TUNNELS = (768, 769, 776, 778, 823, 65534)
_MAX_MTU = 65535   # IP.Interface.MaxMTUSize range; the loopback device says 65536


def providers(memory):
    """Providers of Device.Ethernet., Device.WiFi., Device.IP. and Device.InterfaceStack.;
    `memory`: the network device scan's (see netdev.scan), shared by every provider."""
    return [Provider("Device.Ethernet.", lambda m: ethernet(m, netdev.scan(m, memory))),
            Provider("Device.WiFi.", lambda m: wifi(m, netdev.scan(m, memory))),
            Provider("Device.IP.", lambda m: ip(m, netdev.scan(m, memory))),
            Provider("Device.InterfaceStack.", lambda m: stack(m, netdev.scan(m, memory)))]


def _common(s, name, path, **more):
    """The parameters every interface row has, from the device `name` at `path`."""
    d = s.devs[name]
    return dict({"Enable": d["up"], "Status": d["status"], "Alias": instances.alias(int(path.rpartition(".")[2])),
                 "Name": name, "LastChange": d["last_change"], "LowerLayers": s.lower_layers(path)}, **more)


def ethernet(model, s):
    out = {"Device.Ethernet.WoLSupported": "false", "Device.Ethernet.FlowControlSupported": "false"}
    for name, path in s.eth.items():
        d = s.devs[name]
        duplex = d["duplex"].capitalize()
        rows.fill(out, model, path + ".", _ETH, _common(
            s, name, path, Upstream=name in s.upstream, MaxBitRate=-1, MACAddress=d["mac"],
            CurrentBitRate=max(d["speed"], 0),
            DuplexMode="Auto", CurrentDuplexMode=duplex if duplex in ("Half", "Full") else "Unknown",
            EEEStatus="Unsupported", EDPDStatus="Unsupported", MDIX="Auto", CurrentMDIX="Unknown"))
        rows.fill(out, model, path + ".Stats.", _ETH + "Stats.", netdev.stats(d, True))
    for name, path in s.link.items():
        d = s.devs[name]
        rows.fill(out, model, path + ".", _LINK, _common(s, name, path, MTU=d["mtu"], MACAddress=d["mac"]))
        rows.fill(out, model, path + ".Stats.", _LINK + "Stats.", netdev.stats(d, False))
    return out


def wifi(model, s):
    """WiFi.SSID rows of the wireless devices; the SSID itself is not in /sys (it takes
    nl80211), so it reads "" unless a binding supplies it."""
    out = {}
    for name, path in s.ssid.items():
        d = s.devs[name]
        rows.fill(out, model, path + ".", _SSID, _common(
            s, name, path, Upstream=name in s.upstream, BSSID=d["mac"], MACAddress=d["mac"]))
        rows.fill(out, model, path + ".Stats.", _SSID + "Stats.", netdev.stats(d, False))
    return out


def ip(model, s):
    try:
        table = netlink.addresses(netlink.read(model.root, netlink.RTM_GETADDR))
    except netlink.NetlinkError as e:
        raise ProviderError("cannot read the kernel's address table: %s" % e)
    v6 = any(not d["ipv6_disabled"] for d in s.devs.values()) and any(
        a[1] == socket.AF_INET6 for a in table)
    out = {"Device.IP.IPv4Capable": "true", "Device.IP.IPv4Status": "Enabled",
           "Device.IP.IPv6Capable": "true" if v6 else "false",
           "Device.IP.IPv6Status": "Enabled" if v6 else "Disabled"}
    now = time.time()
    router = routing.router(model)
    for name, path in s.ip.items():
        d = s.devs[name]
        obj = path + "."
        kind = "Loopback" if d["loopback"] else "Tunnel" if d["type"] in _TUNNELS else "Normal"
        rows.fill(out, model, obj, _IP, _common(
            s, name, path, IPv4Enable=True, Router=router, IPv6Enable=not d["ipv6_disabled"],
            MaxMTUSize=min(max(d["mtu"], 64), _MAX_MTU), Type=kind, Loopback=d["loopback"]))
        rows.fill(out, model, obj + "Stats.", _IP + "Stats.", netdev.stats(d, False))
        mine = [a for a in table if a[0] == d["index"]]
        v4 = [a for a in mine if a[1] == socket.AF_INET]
        for addr, m in instances.assign(model.store, obj + "IPv4Address.", [a[2] for a in v4]).items():
            a = [x for x in v4 if x[2] == addr][0]
            rows.fill(out, model, "%sIPv4Address.%d." % (obj, m), _V4, {
                "Enable": True, "Status": "Enabled", "Alias": instances.alias(m), "IPAddress": addr,
                "SubnetMask": _mask(a[3]), "AddressingType": _addressing(a)})
        v6 = [a for a in mine if a[1] == socket.AF_INET6]
        for addr, m in instances.assign(model.store, obj + "IPv6Address.", [a[2] for a in v6]).items():
            a = [x for x in v6 if x[2] == addr][0]
            rows.fill(out, model, "%sIPv6Address.%d." % (obj, m), _V6, {
                "Enable": True, "Status": "Enabled", "IPAddressStatus": _v6_status(a[4]),
                "Alias": instances.alias(m), "IPAddress": addr, "Origin": _v6_origin(a),
                "PreferredLifetime": _lifetime(a[5], now), "ValidLifetime": _lifetime(a[6], now)})
    return out


def stack(model, s):
    out = {}
    keys = ["%s,%s" % pair for pair in s.stack]
    for key, n in instances.assign(model.store, "Device.InterfaceStack.", keys).items():
        higher, _, lower = key.partition(",")
        rows.fill(out, model, "Device.InterfaceStack.%d." % n, "Device.InterfaceStack.{i}.", {
            "Alias": instances.alias(n), "HigherLayer": higher, "LowerLayer": lower,
            "HigherAlias": instances.alias(int(higher.rpartition(".")[2])),
            "LowerAlias": instances.alias(int(lower.rpartition(".")[2]))})
    return out


def _mask(plen):
    bits = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0
    return "%d.%d.%d.%d" % (bits >> 24, (bits >> 16) & 255, (bits >> 8) & 255, bits & 255)


def _addressing(a):
    if a[2].startswith("169.254."):
        return "AutoIP"
    # A DHCP client gives the kernel the lease time; static addresses live forever.
    return "Static" if a[6] == netlink.FOREVER else "DHCP"


def _v6_status(flags):
    if flags & netlink.DADFAILED:
        return "Duplicate"
    if flags & netlink.TENTATIVE:
        return "Tentative"
    if flags & netlink.OPTIMISTIC:
        return "Optimistic"
    if flags & netlink.DEPRECATED:
        return "Deprecated"
    return "Preferred"


def _v6_origin(a):
    # TR-181 (RFC 4293 ipOrigin): WellKnown is ::1; link-local addresses are AutoConfigured
    # even though the kernel marks them permanent.
    if a[2] == "::1":
        return "WellKnown"
    if a[2].lower().startswith("fe80:") or not a[4] & netlink.PERMANENT:
        return "AutoConfigured"
    return "Static"


def _lifetime(seconds, now):
    return datatypes.INFINITE_TIME if seconds == netlink.FOREVER else datatypes.format_time(now + seconds)
