"""Device.Routing.: one Router.{i}. row for the kernel's main table, whose IPv4 routes
(/proc/net/route) are its IPv4Forwarding.{i}. rows."""

from .. import instances
from ..provider import Provider
from . import netdev, rows

R = "Device.Routing."
_RTF_UP, _RTF_GATEWAY, _RTF_REJECT, _RTF_DYNAMIC = 0x1, 0x2, 0x200, 0x10


def provider(memory):
    """`memory`: the network device scan's (see netdev.scan)."""
    return Provider(R, lambda m: routing(m, netdev.scan(m, memory)))


def router(model):
    """The path of the main table's Router row ("Device.Routing.Router.1")."""
    return "%sRouter.%d" % (R, instances.assign(model.store, R + "Router.", ["main"])["main"])


def routing(model, s):
    base = router(model) + "."
    out = {}
    rows.fill(out, model, base, R + "Router.{i}.", {
        "Enable": True, "Status": "Enabled", "Alias": instances.alias(int(base[:-1].rpartition(".")[2]))})
    keys = {}
    for r in s.routes:
        keys["%s/%s/%s/%s/%d" % (netdev.ipv4(r["dest"]), netdev.ipv4(r["mask"]),
                                 netdev.ipv4(r["gateway"]), r["iface"], r["metric"])] = r
    for key, n in instances.assign(model.store, base + "IPv4Forwarding.", list(keys)).items():
        r = keys[key]
        default = r["dest"] == 0 and r["mask"] == 0   # TR-181: both empty
        rows.fill(out, model, "%sIPv4Forwarding.%d." % (base, n), R + "Router.{i}.IPv4Forwarding.{i}.", {
            "Enable": True, "Status": "Enabled" if r["flags"] & _RTF_UP else "Disabled",
            "Alias": instances.alias(n), "Type": "Unreachable" if r["flags"] & _RTF_REJECT else "Normal",
            # /proc/net/route does not say who made a route; one through a gateway that no
            # redirect changed is taken as configured.
            "StaticRoute": bool(r["flags"] & _RTF_GATEWAY) and not r["flags"] & _RTF_DYNAMIC,
            "DestIPAddress": "" if default else netdev.ipv4(r["dest"]),
            "DestSubnetMask": "" if default else netdev.ipv4(r["mask"]),
            "ForwardingPolicy": -1,
            "GatewayIPAddress": netdev.ipv4(r["gateway"]) if r["gateway"] else "",
            "Interface": s.ip.get(r["iface"], ""), "Origin": "Static",
            "ForwardingMetric": r["metric"]})
    return out
