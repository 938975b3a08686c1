"""Device.Time.: synchronisation status, the local time and time zone, and one
Time.Client.{i}. row whose Servers come from the config ("ntp-servers") or the system's
NTP configuration (OpenWrt uci, systemd-timesyncd, chrony, ntpd)."""

import re
import time

from .. import instances
from ..provider import Provider
from . import files, rows

T = "Device.Time."
# Files that exist only while the clock is synchronised (systemd-timesyncd).
_SYNCED = ("run/systemd/timesync/synchronized",)
_NTP_FILES = (
    ("etc/config/system", re.compile(r"^\s*list\s+server\s+'?([^'\s]+)'?", re.M)),
    ("etc/systemd/timesyncd.conf", re.compile(r"^\s*NTP\s*=\s*(.+)$", re.M)),
    ("etc/chrony/chrony.conf", re.compile(r"^\s*(?:server|pool)\s+(\S+)", re.M)),
    ("etc/chrony.conf", re.compile(r"^\s*(?:server|pool)\s+(\S+)", re.M)),
    ("etc/ntpsec/ntp.conf", re.compile(r"^\s*(?:server|pool)\s+(\S+)", re.M)),
    ("etc/ntp.conf", re.compile(r"^\s*(?:server|pool)\s+(\S+)", re.M)),
)


def provider(configured=""):
    """Device.Time.; `configured` is the config's "ntp-servers" (comma separated), else the
    system's NTP configuration names them."""
    return Provider(T, lambda model: clock(model, configured))


def clock(model, configured=""):
    root = model.root
    enabled = model.store.values.get(T + "Enable", model.product_defaults.get(T + "Enable", "true"))
    servers = ntp_servers(configured, root)
    if enabled == "false":
        status = "Disabled"
    elif any(files.exists(root, f) for f in _SYNCED):
        status = "Synchronized"
    else:
        status = "Unsynchronized"
    out = {T + "Status": status, T + "CurrentLocalTime": local_time(time.time()),
           T + "LocalTimeZone": time_zone(root)[:256]}
    for _, n in instances.assign(model.store, T + "Client.", ["ntp"]).items():
        rows.fill(out, model, "%sClient.%d." % (T, n), T + "Client.{i}.", {
            "Enable": bool(servers), "Status": status if servers else "Disabled",
            "Alias": instances.alias(n), "Mode": "Unicast", "Servers": ",".join(servers)})
    return out


def local_time(t):
    """`t` as a dateTime in the local time zone, with its UTC offset (TR-181 CurrentLocalTime)."""
    lt = time.localtime(t)
    off = (lt.tm_gmtoff or 0) // 60
    zone = "%s%02d:%02d" % ("-" if off < 0 else "+", abs(off) // 60, abs(off) % 60) if off else "Z"
    return time.strftime("%Y-%m-%dT%H:%M:%S", lt) + zone


def time_zone(root):
    """The POSIX TZ string: /etc/TZ (OpenWrt), else the footer of the TZif file
    /etc/localtime (version 2 and later end with one), else "UTC0"."""
    tz = files.read(root, "etc/TZ")
    if tz:
        return files.printable(tz.splitlines()[0])
    try:
        with open(files.path(root, "etc/localtime"), "rb") as f:
            # A zone file is a few KiB; read(1 MiB) would allocate 1 MiB first, which also
            # moves glibc's mmap threshold for the daemon's whole life.
            data = f.read(65536)
    except OSError:
        data = b""
    # The footer sits between the last two newlines; it is empty for a zone that no TZ
    # string can describe.
    if data.startswith(b"TZif") and data[4:5] in (b"2", b"3", b"4") and data.endswith(b"\n"):
        footer = data[:-1].rpartition(b"\n")[2].decode("ascii", "replace")
        if footer and len(footer) < 256 and footer.isprintable():
            return footer
    return "UTC0"


def ntp_servers(given, root):
    """NTP server names: `given` (the config's "ntp-servers", comma or space separated) when
    set, else the system's NTP configuration."""
    if given:
        return [s for s in re.split(r"[,\s]+", given) if s]
    for name, pattern in _NTP_FILES:
        text = files.read(root, name)
        if text:
            found = []
            for m in pattern.finditer(text):
                found.extend(m.group(1).split())
            if found:
                return found
    return []
