"""Device.DeviceInfo.: identity and versions (identity.resolve(), i.e. the config file or
/etc/openwrt_release, /etc/os-release), UpTime, HostName, MemoryStatus., an empty
VendorConfigFile. table and SupportedDataModel.{i}."""

import os

from .. import datatypes, identity, instances, outcomes
from ..provider import Provider, ProviderError
from . import files, rows

DI = "Device.DeviceInfo."
# The data model this client implements (the BBF XML that tools/gen_tr181.py reads) and a
# fixed UUID for it (uuid5 of a URL naming our selection): the pair must not change while
# tr181.json stays the same.
DATA_MODEL = {
    "URL": "https://www.broadband-forum.org/cwmp/tr-181-2-19-1-cwmp-full.xml",
    "URN": "urn:broadband-forum-org:tr-181-2-19-1-cwmp",
    "UUID": "7095732c-79f0-5fb8-90ee-6c9e4a9d02c8",
    "Features": "",
}


def providers(ident):
    """Device.DeviceInfo. (identity and the rest) and Device.DeviceInfo.MemoryStatus."""
    params = {identity.PARAMS[k]: v for k, v in ident.items() if k in identity.PARAMS}
    # Of DeviceInfo's own values only these change while the system runs (SoftwareVersion
    # changes with a new firmware, after a reboot): the others need no notification polls.
    running = (DI + "UpTime", DI + "HostName")
    return [Provider(DI, lambda m: deviceinfo(m, params), volatile=lambda path: path in running),
            Provider(DI + "MemoryStatus.", memory)]


def deviceinfo(model, params):
    root = model.root
    out = dict(params)
    up = files.uptime(root)
    if up is not None:
        out[DI + "UpTime"] = str(min(up, datatypes.MAX_UINT))
    host = files.read(root, "proc/sys/kernel/hostname")
    if host:
        out[DI + "HostName"] = files.printable(host[:255])
    kernel = files.read(root, "proc/sys/kernel/osrelease")
    if kernel:
        out[DI + "AdditionalSoftwareVersion"] = ("Linux " + kernel).replace(",", " ")[:64]
    out[DI + "FirstUseDate"] = outcomes.first_use(model.store)
    for name, n in instances.assign(model.store, DI + "SupportedDataModel.", [DATA_MODEL["URL"]]).items():
        rows.fill(out, model, "%sSupportedDataModel.%d." % (DI, n), DI + "SupportedDataModel.{i}.",
                  dict(DATA_MODEL, Alias=instances.alias(n)))
    return out


def memory(model):
    """MemoryStatus from /proc/meminfo (KiB) and the persistent file system's statvfs."""
    root = model.root
    info = {}
    for line in files.lines(root, "proc/meminfo"):
        k, _, v = line.partition(":")
        f = v.split()
        if f and f[0].isdigit():
            info[k] = int(f[0])
    if "MemTotal" not in info:
        raise ProviderError("no MemTotal in %s" % files.path(root, "proc/meminfo"))
    out = {"Total": info["MemTotal"], "Free": info.get("MemAvailable", info.get("MemFree", 0))}
    # OpenWrt keeps what survives a reboot on /overlay; elsewhere the root file system.
    for name in ("overlay", ""):
        try:
            st = os.statvfs(files.path(root, name))
        except OSError:
            continue
        out["TotalPersistent"] = st.f_blocks * st.f_frsize // 1024
        out["FreePersistent"] = st.f_bavail * st.f_frsize // 1024
        break
    return {DI + "MemoryStatus." + k: str(min(v, datatypes.MAX_UINT)) for k, v in out.items()}
