"""Fleet templates: a JSON model file of TR-181 values (some stamped per device, see stamp.py)
and drifts (see drift.py), checked against the metadata; and the default template, made of the
daemon's own model defaults, an identity and one WAN interface. No I/O but reading the file.

    {"format": "tr069client-fleet-template/1",
     "values": {"Device.DeviceInfo.SerialNumber": "ACME{i:06}", ...},
     "drift": {"Device.DeviceInfo.UpTime": {"uptime": true}, ...}}

Every device shares one dict of the values no placeholder touches (`shared`); its own store
holds only what differs: stamped values, drifted values and what the ACS changed.
"""


from .. import config, datatypes, identity, metadata
from ..device import product_defaults
from ..faults import CwmpFault
from ..model import Model
from ..store import Store
from ..tables import Tables
from .drift import Drift, DriftError
from .model import FleetModel
from .stamp import Stamp, StampError

FORMAT = "tr069client-fleet-template/1"
MS = "Device.ManagementServer."
SERIAL = identity.PARAMS["serial-number"]
OUI = identity.PARAMS["oui"]
_ETH, _IP, _SSID = "Device.Ethernet.Interface.1.", "Device.IP.Interface.1.", "Device.WiFi.SSID.1."

DEFAULT = {
    "format": FORMAT,
    "values": {
        "Device.DeviceInfo.Manufacturer": "tr069client",
        OUI: "02F1EE",
        "Device.DeviceInfo.ProductClass": "FleetRouter",
        SERIAL: "FLEET{i:07}",
        "Device.DeviceInfo.ModelName": "tr069client fleet device",
        "Device.DeviceInfo.Description": "a CPE simulated by tr069client fleet",
        "Device.DeviceInfo.HardwareVersion": "sim-1",
        "Device.DeviceInfo.SoftwareVersion": "1.0.0",
        "Device.DeviceInfo.MemoryStatus.Total": "262144",
        "Device.DeviceInfo.MemoryStatus.Free": "131072",
        MS + "ConnectionRequestUsername": "{serial}",
        MS + "ConnectionRequestPassword": "cr-{serial}",
        _ETH + "Enable": "true", _ETH + "Status": "Up", _ETH + "Name": "eth0",
        _ETH + "Upstream": "true", _ETH + "MACAddress": "{mac:02:F1:EE:00:00:00}",
        _ETH + "MaxBitRate": "1000", _ETH + "CurrentBitRate": "1000",
        _IP + "Enable": "true", _IP + "IPv4Enable": "true", _IP + "Status": "Up", _IP + "Name": "wan",
        _IP + "LowerLayers": "Device.Ethernet.Interface.1",
        _IP + "IPv4Address.1.Enable": "true", _IP + "IPv4Address.1.Status": "Enabled",
        _IP + "IPv4Address.1.IPAddress": "{ip:10.64.0.0/10}",
        _IP + "IPv4Address.1.SubnetMask": "255.192.0.0", _IP + "IPv4Address.1.AddressingType": "DHCP",
        _SSID + "Enable": "true", _SSID + "Status": "Up", _SSID + "Name": "wlan0",
        _SSID + "SSID": "fleet-{i:x}", _SSID + "MACAddress": "{mac:06:F1:EE:00:00:00}",
        _SSID + "BSSID": "{mac:06:F1:EE:00:00:00}",
    },
    "drift": {
        "Device.DeviceInfo.UpTime": {"uptime": True},
        "Device.DeviceInfo.MemoryStatus.Free": {"walk": 4096, "min": 16384, "max": 245760},
        "Device.DeviceInfo.ProcessStatus.CPUUsage": {"walk": 5, "min": 0, "max": 100},
        _ETH + "Stats.BytesSent": {"counter": [1000, 20000]},
        _ETH + "Stats.BytesReceived": {"counter": [5000, 200000]},
        _ETH + "Stats.PacketsSent": {"counter": [10, 100]},
        _ETH + "Stats.PacketsReceived": {"counter": [20, 400]},
    },
}


class TemplateError(ValueError):
    """A template the fleet cannot use; one line naming the file, parameter or device."""


def read(path):
    """The template document in the JSON file `path`."""
    return config.read_json(path, "template", TemplateError)


class Template:
    """A checked template: `shared` values (every ...NumberOfEntries counting its rows),
    `stamps` {path: (Stamp, Param)}, `drifts`, and `default_active` (paths whose model
    default is active notification)."""

    def __init__(self, doc, overrides=None, serial_pattern=None, meta=None):
        if not isinstance(doc, dict) or set(doc) - {"format", "values", "drift"}:
            raise TemplateError("a template is an object with \"values\" and \"drift\" (and \"format\")")
        if doc.get("format", FORMAT) != FORMAT:
            raise TemplateError("template format %r is not %r" % (doc.get("format"), FORMAT))
        values, drift = doc.get("values", {}), doc.get("drift", {})
        if not (isinstance(values, dict) and isinstance(drift, dict)
                and all(isinstance(v, str) for v in values.values())):
            raise TemplateError("template \"values\" maps paths to strings, \"drift\" paths to specs")
        self.meta = meta or metadata.load()
        # The daemon's model as it starts: every parameter outside tables, with its default.
        daemon = Model(Store(), self.meta, defaults=product_defaults())
        self.shared = dict(daemon.defaults())
        self.default_active = daemon.notified(2)
        self.stamps = {}
        self._rows = set()
        values = dict(values, **(overrides or {}))
        if serial_pattern is not None:
            values[SERIAL] = serial_pattern
        for path in sorted(values, key=lambda p: p != SERIAL):   # {serial} needs the serial first
            self._value(path, values[path])
        self.drifts = []
        for path, spec in drift.items():
            p = self._param(path)
            self._fill_rows(path)
            try:
                self.drifts.append(Drift(path, spec, p.type))
            except DriftError as e:
                raise TemplateError(str(e))
        for key in ("manufacturer", "oui", "product-class", "serial-number"):
            path = identity.PARAMS[key]
            if not self.shared.get(path) and path not in self.stamps:
                raise TemplateError("the template gives no %s (%s): the ACS needs it" % (key, path))
        if "serial" in getattr(self.stamps.get(SERIAL, (None,))[0], "fields", ()):
            raise TemplateError("the serial number cannot be made from {serial}")
        # The template's rows indexed and counted once for every device (a device's own rows
        # are indexed and counted in its view).
        self.index = {}
        for row in self._rows:
            table, _, n = row[:-1].rpartition(".")
            self.index.setdefault(table + ".", []).append(int(n))
        for numbers in self.index.values():
            numbers.sort()
        scratch = FleetModel(Store(), self)
        view = scratch.values()
        Tables(scratch).reindex(view)     # indexed and counted as the daemon does it
        self.shared.update((k, v) for k, v in view.items() if k.endswith("NumberOfEntries"))
        self.stamp(0, lambda: 0.5)    # a placeholder that fails, fails now and not at device 4,711

    def _param(self, path):
        p = self.meta.param(metadata.generic(path)) if isinstance(path, str) else None
        if p is None or not path.startswith("Device."):
            raise TemplateError("%s is not a parameter of the TR-181 model tr069client implements" % path)
        return p

    def _value(self, path, text):
        p = self._param(path)
        self._fill_rows(path)
        try:
            stamp = Stamp(text)
        except StampError as e:
            raise TemplateError("%s: %s" % (path, e))
        if stamp.constant:
            self.shared[path] = _check(p, path, stamp(0))
        else:
            self.stamps[path] = (stamp, p)

    def _fill_rows(self, path):
        """Every parameter of each table row on `path` exists, with its default (as AddObject
        makes it), unless the template gives it."""
        parts = path.split(".")
        for k in range(1, len(parts) - 1):
            if not parts[k].isdigit():
                continue
            row = ".".join(parts[:k + 1]) + "."
            if row in self._rows:
                continue
            self._rows.add(row)
            stack = [(row, metadata.generic(row))]
            while stack:
                c, g = stack.pop()
                for name, p in self.meta.params_of(g):
                    self.shared.setdefault(c + name, datatypes.default_value(p))
                stack.extend((c + gc[len(g):], gc) for gc in self.meta.child_objects(g)
                             if not gc.endswith(".{i}."))
            if row + "Alias" in self.shared and not self.shared[row + "Alias"]:
                self.shared[row + "Alias"] = "cpe-" + parts[k]

    def stamp(self, i, random):
        """The stamped values of device `i` (its store's factory values); `random()` is the
        device's own generator, for {rand:N}."""
        out = {}
        serial = self.shared.get(SERIAL, "")
        for path, (stamp, p) in self.stamps.items():
            try:
                out[path] = _check(p, path, stamp(i, serial, random), i)
            except StampError as e:
                raise TemplateError("%s: %s" % (path, e))
            if path == SERIAL:
                serial = out[path]
        oui = out.get(OUI, self.shared.get(OUI, ""))
        if len(oui) != 6 or oui.strip("0123456789ABCDEF"):   # as identity.py checks an OUI
            raise TemplateError("device %d: %s %r is not six upper-case hex digits" % (i, OUI, oui))
        return out


def _check(param, path, value, device=None):
    try:
        return datatypes.normalize(param, value)
    except CwmpFault as f:
        raise TemplateError("%s%s: %s" % ("" if device is None else "device %d: " % device, path, f.message))
