"""Device.DNS.: the resolver's servers as Client.Server.{i}. rows (read-only, as TR-181
wants for servers learnt from DHCP or RA), beside which the ACS may add stored rows."""

import socket

from .. import instances
from ..provider import Provider
from . import files, netdev, rows

D = "Device.DNS."
SERVERS = D + "Client.Server."
# Where the upstream servers are, first found wins: OpenWrt's netifd writes the ones learnt
# on the WAN to resolv.conf.auto (/etc/resolv.conf points at the local dnsmasq there);
# systemd-resolved keeps them in its own file. (file, learnt from DHCP/RA?)
_FILES = (("tmp/resolv.conf.d/resolv.conf.auto", True), ("tmp/resolv.conf.auto", True),
          ("run/systemd/resolve/resolv.conf", True), ("etc/resolv.conf", False))


def provider(memory):
    """`memory`: the network device scan's (see netdev.scan)."""
    return Provider(D, lambda m: dns(m, memory), add=_add, can_add=lambda table: table == SERVERS)


def _add(model, table):
    return None, False   # the model keeps the ACS's row in the store


def dns(model, memory):
    root = model.root
    servers, learnt = [], False
    for name, learnt in _FILES:
        text = files.read(root, name)
        if text is not None:
            servers = resolv_conf(text)
            break
    out = {D + "SupportedRecordTypes": "A,AAAA,SRV,PTR", D + "Client.Status": "Enabled"}
    scan = None
    keys = [a for a, _ in servers]
    numbers = instances.assign(model.store, SERVERS, keys)
    for addr, scope in servers:
        n = numbers[addr]
        interface = ""
        if scope:   # fe80::1%eth0: the server is reached over that interface
            if scan is None:
                scan = netdev.scan(model, memory)
            interface = scan.ip.get(scope, "")
        v6 = ":" in addr
        rows.fill(out, model, "%s%d." % (SERVERS, n), SERVERS + "{i}.", {
            "Enable": True, "Status": "Enabled", "Alias": instances.alias(n), "DNSServer": addr,
            "Interface": interface,
            "Type": ("DHCPv6" if v6 else "DHCPv4") if learnt else "Static"})
    return out


def resolv_conf(text):
    """[(address, scope interface or "")] of the nameserver lines, duplicates and what is
    no IP address (the resolver ignores those too) dropped."""
    out, seen = [], set()
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] == "nameserver":
            addr, _, scope = f[1].partition("%")
            if addr not in seen and _is_address(addr):
                seen.add(addr)
                out.append((addr, scope))
    return out


def _is_address(text):
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return True
        except (OSError, ValueError):
            continue
    return False
