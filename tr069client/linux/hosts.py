"""Device.Hosts.: the LAN hosts the kernel's neighbour tables know (/proc/net/arp for IPv4,
netlink for IPv6), keyed by MAC address, with names from the DHCP server's lease file and
the LAN port from the bridge's forwarding database. Neighbours reached through an
upstream interface (one that carries a default route) are the WAN side, not hosts."""

import socket
import struct
import time

from .. import datatypes, instances, log
from ..provider import Provider
from . import files, netdev, netlink, rows

H = "Device.Hosts."
_ATF_COM = 0x2
_NO_MAC = "00:00:00:00:00:00"
_LEASES = ("tmp/dhcp.leases", "var/lib/misc/dnsmasq.leases")
_FDB = struct.Struct("=6sBBIBBH")   # struct __fdb_entry of /sys/class/net/<bridge>/brforward


def provider(memory):
    """`memory`: the network device scan's (see netdev.scan)."""
    seen = {}   # MAC -> when this daemon first saw the host (ActiveLastChange)
    return Provider(H, lambda m: hosts(m, netdev.scan(m, memory), seen))


def hosts(model, s, seen):
    root = model.root
    found = {}
    for line in files.lines(root, "proc/net/arp")[1:]:
        f = line.split()
        if len(f) >= 6 and _flags(f[2]) & _ATF_COM:
            _note(found, s, f[3].lower(), f[5], f[0], "v4")
    try:
        for index, family, addr, mac, state in netlink.neighbours(
                netlink.read(root, netlink.RTM_GETNEIGH)):
            d = s.by_index(index)
            if family == socket.AF_INET6 and state & netlink.NUD_LIVE and d is not None:
                _note(found, s, mac, d["name"], addr, "v6")
    except netlink.NetlinkError as e:
        log.debug("no IPv6 neighbours: %s", e)   # the ARP table still gives every host
    names = _lease_names(root)
    fdb = {}
    now = time.time()
    out = {}
    for mac, n in instances.assign(model.store, H + "Host.", list(found)).items():
        h = found[mac]
        inst = "%sHost.%d." % (H, n)
        l1 = _port(root, s, h["dev"], mac, fdb)
        rows.fill(out, model, inst, H + "Host.{i}.", {
            "PhysAddress": mac, "IPAddress": (h["v4"] + h["v6"])[0],
            "Layer1Interface": s.layer1(l1) if l1 else "",
            "Layer3Interface": s.ip.get(h["dev"], ""),
            "InterfaceType": "Wi-Fi" if l1 and s.devs[l1]["wireless"] else "Ethernet",
            "HostName": names.get(mac, "")[:64], "Active": True,
            "ActiveLastChange": datatypes.format_time(seen.setdefault(mac, now))})
        for kind, gobj in (("v4", "IPv4Address."), ("v6", "IPv6Address.")):
            for addr, m in instances.assign(model.store, inst + gobj, h[kind]).items():
                out["%s%s%d.IPAddress" % (inst, gobj, m)] = addr
    return out


def _flags(text):
    try:
        return int(text, 16)
    except ValueError:
        return 0


def _note(found, s, mac, dev, addr, kind):
    if mac == _NO_MAC or dev not in s.ip or dev in s.upstream:
        return
    h = found.setdefault(mac, {"dev": dev, "v4": [], "v6": []})
    if addr not in h[kind]:
        h[kind].append(addr)


def _lease_names(root):
    """{MAC: host name} from dnsmasq's lease file ("expiry mac ip name client-id")."""
    out = {}
    for name in _LEASES:
        for line in files.lines(root, name):
            f = line.split()
            if len(f) >= 4 and f[3] != "*":
                out[f[1].lower()] = files.printable(f[3])
    return out


def _port(root, s, dev, mac, fdb):
    """The device the host is attached to: `dev` itself, or for a bridge the port its
    forwarding database learnt the MAC on (None when unknown)."""
    d = s.devs.get(dev)
    if d is None or not d["bridge"]:
        return dev
    if dev not in fdb:
        fdb[dev] = _bridge_fdb(root, dev)
    port = fdb[dev].get(mac)
    return port if port in s.devs else None   # a port that left since the scan: unknown


def _bridge_fdb(root, bridge):
    ports = {}
    for port in files.listdir(root, "sys/class/net/%s/brif" % bridge):
        no = files.read_int(root, "sys/class/net/%s/brif/%s/port_no" % (bridge, port), None, 16)
        if no is not None:
            ports[no] = port
    out = {}
    try:
        with open(files.path(root, "sys/class/net/%s/brforward" % bridge), "rb") as f:
            data = f.read(1 << 20)
    except OSError:
        return out
    for off in range(0, len(data) - _FDB.size + 1, _FDB.size):
        raw, port_no, is_local, _, port_hi, _, _ = _FDB.unpack_from(data, off)
        port = ports.get(port_hi << 8 | port_no)
        if port and not is_local:
            out[":".join("%02x" % b for b in bytearray(raw))] = port
    return out
