"""Who the device is: manufacturer, OUI, product class, serial and versions, from the config
file or, where it is silent, from the machine itself."""

import os
import re

from . import __version__

KEYS = ("manufacturer", "oui", "product-class", "serial-number", "model-name", "description",
        "hardware-version", "software-version")
# DeviceInfo parameters that carry the identity (TR-181 Device.DeviceInfo.*).
PARAMS = {
    "manufacturer": "Device.DeviceInfo.Manufacturer",
    "oui": "Device.DeviceInfo.ManufacturerOUI",
    "product-class": "Device.DeviceInfo.ProductClass",
    "serial-number": "Device.DeviceInfo.SerialNumber",
    "model-name": "Device.DeviceInfo.ModelName",
    "description": "Device.DeviceInfo.Description",
    "hardware-version": "Device.DeviceInfo.HardwareVersion",
    "software-version": "Device.DeviceInfo.SoftwareVersion",
}
_OUI = re.compile(r"^[0-9A-F]{6}$")


class IdentityError(Exception):
    """A configured identity value the ACS would refuse."""


def _read(root, path):
    try:
        with open(os.path.join(root, path.lstrip("/")), "rb") as f:
            return f.read(4096).decode("utf-8", "replace").strip("\x00 \n\t")
    except OSError:
        return ""


def _release(root):
    """(distribution name, version) from /etc/openwrt_release or /etc/os-release."""
    fields = {}
    for name in ("etc/openwrt_release", "etc/os-release", "usr/lib/os-release"):
        for line in _read(root, name).splitlines():
            k, sep, v = line.partition("=")
            if sep:
                fields.setdefault(k.strip(), v.strip().strip("'\""))
        if fields:
            break
    name = fields.get("DISTRIB_ID") or fields.get("NAME") or os.uname().sysname
    version = (fields.get("DISTRIB_RELEASE") or fields.get("VERSION_ID")
               or fields.get("BUILD_ID") or os.uname().release)
    revision = fields.get("DISTRIB_REVISION")
    return name, version + ("-" + revision if revision else "")


def _first_mac(root):
    """MAC address of the first network interface, as 12 upper-case hex digits: one backed by
    hardware (a `device` link) first, as virtual ones (dummy0, docker0, bond0) may get a new
    random MAC at each boot, and the serial number must not change."""
    base = os.path.join(root, "sys/class/net")
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return ""
    names.sort(key=lambda n: not os.path.exists(os.path.join(base, n, "device")))
    for name in names:
        mac = _read(root, "sys/class/net/%s/address" % name).replace(":", "").upper()
        if re.match(r"^[0-9A-F]{12}$", mac) and mac != "000000000000":
            return mac
    return ""


def _model(root):
    return (_read(root, "tmp/sysinfo/model") or _read(root, "proc/device-tree/model")
            or _read(root, "sys/class/dmi/id/product_name"))


def resolve(config, root="/"):
    """The identity as a dict of KEYS, from `config` where given, else from the machine."""
    out = {}
    mac = _first_mac(root)
    dist, version = _release(root)
    model = _model(root)
    defaults = {
        "manufacturer": _read(root, "sys/class/dmi/id/sys_vendor") or dist or "Linux",
        # An OUI names a manufacturer; the interface MAC's first half is the honest default.
        "oui": mac[:6] or "000000",
        "product-class": re.sub(r"[^A-Za-z0-9_-]+", "-", model).strip("-")[:64] or os.uname().machine or "Linux",
        "serial-number": (mac or _read(root, "etc/machine-id")[:12].upper() or "000000000000"),
        "model-name": model or os.uname().machine,
        "description": "%s %s with tr069client %s" % (dist, version, __version__),
        "hardware-version": model or os.uname().machine or "unknown",
        "software-version": version or "unknown",
    }
    for k in KEYS:
        v = config.get(k)
        out[k] = str(v) if v not in (None, "") else defaults[k]
    out["oui"] = out["oui"].upper()
    if not _OUI.match(out["oui"]):
        raise IdentityError("oui must be six hexadecimal digits (IEEE OUI), not %r" % config.get("oui"))
    if not out["serial-number"]:
        raise IdentityError("serial-number must not be empty")
    return out
