#!/usr/bin/env python3
"""Copy what tr069client/linux reads from this machine into a sample root folder.

    python3 tests/data/linux/capture.py tests/data/linux/debian

Files are copied as text; the sysfs entries whose presence tells something ("device",
"bridge", "wireless", lower_*) become empty files (git keeps no empty folders), and
"master" stays a link to its device; the
netlink dumps are the raw bytes tr069client.linux.netlink.dump() returns. Only a few
processes are kept.
"""

import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, REPO)

from tr069client.linux import netlink  # noqa: E402

TEXT = ["proc/uptime", "proc/meminfo", "proc/net/dev", "proc/net/route", "proc/net/arp",
        "proc/net/if_inet6", "proc/sys/kernel/hostname", "proc/sys/kernel/osrelease",
        "etc/resolv.conf", "etc/os-release", "etc/openwrt_release", "etc/TZ"]
NET = ["ifindex", "type", "flags", "operstate", "carrier", "mtu", "address", "speed", "duplex"]


def copy_text(src, dest, limit=None):
    try:
        with open(src, "rb") as f:
            data = f.read()
    except OSError:
        return
    if limit:
        data = b"\n".join(data.split(b"\n")[:limit]) + b"\n"
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "wb") as f:
        f.write(data)


def main(out):
    for name in TEXT:
        copy_text("/" + name, os.path.join(out, name))
    copy_text("/proc/stat", os.path.join(out, "proc/stat"), limit=1)
    for pid in ("1", "2", str(os.getpid())):
        for part in ("stat", "cmdline"):
            copy_text("/proc/%s/%s" % (pid, part), os.path.join(out, "proc", pid, part))
    for dev in os.listdir("/sys/class/net"):
        base = os.path.join("/sys/class/net", dev)
        for name in NET:
            copy_text(os.path.join(base, name), os.path.join(out, "sys/class/net", dev, name))
        copy_text("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % dev,
                  os.path.join(out, "proc/sys/net/ipv6/conf", dev, "disable_ipv6"))
        for entry in os.listdir(base):
            if entry in ("device", "bridge", "wireless", "phy80211") or entry.startswith("lower_"):
                open(os.path.join(out, "sys/class/net", dev, entry), "wb").close()
            elif entry == "master":
                target = os.path.join(out, "sys/class/net", dev, "master")
                if not os.path.lexists(target):
                    os.symlink("../" + os.path.basename(os.readlink(os.path.join(base, entry))), target)
    os.makedirs(os.path.join(out, "netlink"), exist_ok=True)
    for kind, name in ((netlink.RTM_GETADDR, "RTM_GETADDR"), (netlink.RTM_GETNEIGH, "RTM_GETNEIGH")):
        with open(os.path.join(out, "netlink", name), "wb") as f:
            f.write(netlink.dump(kind))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if os.path.exists(sys.argv[1]):
        shutil.rmtree(sys.argv[1])
    main(sys.argv[1])
