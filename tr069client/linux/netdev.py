"""One scan per session of the kernel's network devices (/sys/class/net, /proc/net/dev,
/proc/net/route): their facts, their TR-181 rows with stable instance numbers, and how
those rows stack; shared by the interface, host and routing providers via model.cache."""

from .. import datatypes, instances
from ..provider import ProviderError
from . import files

ETH_IF = "Device.Ethernet.Interface."
ETH_LINK = "Device.Ethernet.Link."
SSID = "Device.WiFi.SSID."
IP_IF = "Device.IP.Interface."
_ARPHRD_ETHER = 1
_ARPHRD_LOOPBACK = 772
_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_RX = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "rx_fifo", "rx_frame",
       "rx_compressed", "rx_multicast")
_TX = ("tx_bytes", "tx_packets", "tx_errors", "tx_dropped", "tx_fifo", "collisions",
       "tx_carrier", "tx_compressed")
_STATUS = {"up": "Up", "down": "Down", "dormant": "Dormant", "notpresent": "NotPresent",
           "lowerlayerdown": "LowerLayerDown", "testing": "Down"}


def scan(model, memory):
    """The session's scan (see _scan); `memory` keeps what must outlive a session."""
    got = model.cache.get("linux.netdev")
    if got is None:
        got = model.cache["linux.netdev"] = _scan(model, memory)
    return got


class Scan:
    """devs: {name: dict of facts}, in ifindex order; eth/ssid/link/ip: {name: object path};
    stack: [(higher path, lower path)]; upstream: names that carry a default route or lie
    under one; routes: the rows of /proc/net/route as dicts."""

    def __init__(self):
        self.devs = {}
        self.eth = {}
        self.ssid = {}
        self.link = {}
        self.ip = {}
        self.stack = []
        self.upstream = set()
        self.routes = []

    def layer1(self, name):
        """The Ethernet.Interface or WiFi.SSID path of the device `name`, or ""."""
        return self.eth.get(name) or self.ssid.get(name) or ""

    def lower_layers(self, path):
        return ",".join(low for high, low in self.stack if high == path)

    def by_index(self, index):
        for d in self.devs.values():
            if d["index"] == index:
                return d
        return None


def _scan(model, memory):
    root = model.root
    names = files.listdir(root, "sys/class/net")
    if not names:
        raise ProviderError("no network devices in %s" % files.path(root, "sys/class/net"))
    stats = _proc_net_dev(root)
    now = files.uptime(root) or 0
    s = Scan()
    devs = [_device(root, n, stats.get(n, {})) for n in names]
    for d in sorted(devs, key=lambda d: (d["index"], d["name"])):
        s.devs[d["name"]] = d
        d["last_change"] = _last_change(memory, d, now)
    devs = list(s.devs.values())
    eth = [d["name"] for d in devs if d["type"] == _ARPHRD_ETHER and d["physical"]
           and not d["wireless"] and not d["bridge"]]
    ssids = [d["name"] for d in devs if d["type"] == _ARPHRD_ETHER and d["wireless"]]
    # IP runs on a bridge or bond, not on its ports: enslaved devices get no IP row.
    links = [d["name"] for d in devs if d["type"] == _ARPHRD_ETHER and not d["master"]]
    ips = [d["name"] for d in devs if not d["master"]]
    for table, names_, target in ((ETH_IF, eth, s.eth), (SSID, ssids, s.ssid),
                                  (ETH_LINK, links, s.link), (IP_IF, ips, s.ip)):
        for name, n in instances.assign(model.store, table, names_).items():
            target[name] = "%s%d" % (table, n)
    for name, path in s.ip.items():
        if name in s.link:
            s.stack.append((path, s.link[name]))
    for name, path in s.link.items():
        if name in s.eth or name in s.ssid:
            s.stack.append((path, s.eth.get(name) or s.ssid[name]))
            continue
        for low in s.devs[name]["lowers"]:
            lower = s.eth.get(low) or s.ssid.get(low) or s.link.get(low)
            if lower:
                s.stack.append((path, lower))
    s.routes = _routes(root)
    todo = [r["iface"] for r in s.routes if r["dest"] == 0 and r["mask"] == 0]
    while todo:
        name = todo.pop()
        if name in s.devs and name not in s.upstream:
            s.upstream.add(name)
            todo.extend(s.devs[name]["lowers"])
    return s


def _device(root, name, stats):
    base = "sys/class/net/%s/" % name
    entries = files.listdir(root, base)
    flags = files.read_int(root, base + "flags", 0, 16)
    return {
        "name": name,
        "index": files.read_int(root, base + "ifindex", 0),
        "type": files.read_int(root, base + "type", 0),
        "flags": flags,
        "up": bool(flags & _IFF_UP),
        "loopback": bool(flags & _IFF_LOOPBACK),
        "status": _status(files.read(root, base + "operstate", "unknown"), flags,
                          files.read_int(root, base + "carrier")),
        "mtu": files.read_int(root, base + "mtu", 0),
        "mac": files.read(root, base + "address", ""),
        "physical": "device" in entries,
        "wireless": "wireless" in entries or "phy80211" in entries,
        "bridge": "bridge" in entries,
        "master": files.link_name(root, base + "master") if "master" in entries else None,
        "lowers": [e[6:] for e in entries if e.startswith("lower_")],
        "speed": files.read_int(root, base + "speed", -1),
        "duplex": files.read(root, base + "duplex", ""),
        # No such file: a kernel without IPv6 (or booted with ipv6.disable=1).
        "ipv6_disabled": files.read(root, "proc/sys/net/ipv6/conf/%s/disable_ipv6" % name) != "0",
        "stats": stats,
    }


def _status(operstate, flags, carrier):
    if not flags & _IFF_UP:
        return "Down"
    if operstate in _STATUS:
        return _STATUS[operstate]
    # "unknown": drivers without operstate support (loopback, tunnels, some virtual ones).
    return "Up" if carrier == 1 else "Unknown"


def _last_change(memory, d, now):
    # TR-181 LastChange: seconds in the current status. Before the first change we saw,
    # the status is taken to date from the boot (or from the daemon's first look).
    seen = memory.get(d["name"])
    if seen is None or seen[0] != d["status"]:
        seen = memory[d["name"]] = (d["status"], 0 if seen is None else now)
    return min(max(0, now - seen[1]), datatypes.MAX_UINT)


def _proc_net_dev(root):
    out = {}
    for line in files.lines(root, "proc/net/dev")[2:]:
        name, sep, rest = line.partition(":")
        values = rest.split()
        if sep and len(values) >= 16:
            out[name.strip()] = dict(zip(_RX + _TX, (int(v) for v in values[:16])))
    return out


def _routes(root):
    out = []
    for line in files.lines(root, "proc/net/route")[1:]:
        f = line.split()
        if len(f) < 11:
            continue
        try:
            out.append({"iface": f[0], "dest": int(f[1], 16), "gateway": int(f[2], 16),
                        "flags": int(f[3], 16), "metric": int(f[6]), "mask": int(f[7], 16)})
        except ValueError:
            continue
    return out


def ipv4(n):
    """The dotted quad of a little-endian 32-bit value from /proc/net/route or /proc/net/arp."""
    return "%d.%d.%d.%d" % (n & 255, (n >> 8) & 255, (n >> 16) & 255, n >> 24)


def stats(d, collisions):
    """TR-181 Stats.* values of a device from /proc/net/dev (32-bit counters wrap)."""
    s = d["stats"]
    if not s:
        return {}
    w = 1 << 32
    out = {
        "BytesSent": s["tx_bytes"], "BytesReceived": s["rx_bytes"],
        "PacketsSent": s["tx_packets"], "PacketsReceived": s["rx_packets"],
        "ErrorsSent": s["tx_errors"] % w, "ErrorsReceived": s["rx_errors"] % w,
        # The kernel counts received multicast only; the rest of the packets are unicast
        # or broadcast, which it does not tell apart.
        "UnicastPacketsSent": s["tx_packets"],
        "UnicastPacketsReceived": max(0, s["rx_packets"] - s["rx_multicast"]),
        "MulticastPacketsReceived": s["rx_multicast"],
        "DiscardPacketsSent": s["tx_dropped"] % w, "DiscardPacketsReceived": s["rx_dropped"] % w,
    }
    if collisions:
        out["Collisions"] = s["collisions"]
    return out
