"""The operator's settings (MikroTik's names) and where each lives: a ManagementServer
parameter or a local value in the store; no I/O."""

from . import config
from .faults import CwmpFault

MS = "Device.ManagementServer."
# setting -> TR-181 parameter; the others are local (store.state["settings"]).
PARAMS = {
    "enabled": MS + "EnableCWMP",
    "acs-url": MS + "URL",
    "username": MS + "Username",
    "password": MS + "Password",
    "periodic-inform-enabled": MS + "PeriodicInformEnable",
    "periodic-inform-interval": MS + "PeriodicInformInterval",
    "connection-request-username": MS + "ConnectionRequestUsername",
    "connection-request-password": MS + "ConnectionRequestPassword",
}
# Where the model's default does not suit a CPE agent (TR-181 leaves these to the vendor).
PRODUCT_DEFAULTS = {
    MS + "EnableCWMP": "true",
    MS + "PeriodicInformEnable": "true",
    MS + "PeriodicInformInterval": "3600",
    # TR-069 3.2.1.1's retry policy; TR-181 names these values only in its descriptions, so
    # without them the model's minimums (1 s, x1) would retry every second, in lockstep.
    MS + "CWMPRetryMinimumWaitInterval": "5",
    MS + "CWMPRetryIntervalMultiplier": "2000",
}
SECRET = ("password", "connection-request-password")
LOCAL_DEFAULTS = {"client-certificate": "", "ca-file": "", "cr-address": "", "cr-port": 7547}


class SettingError(Exception):
    """A setting name or value the operator got wrong; one line."""


def get(model, name):
    """The setting's current value, in its config kind (bool, int or str)."""
    if name in PARAMS:
        raw = model.value(PARAMS[name], "")
        kind = config.KEYS[name][0]
        if kind == "bool":
            return raw in ("true", "1")
        if kind == "int":
            return int(raw or 0)
        return raw
    if name in LOCAL_DEFAULTS:
        return model.store.state.get("settings", {}).get(name, LOCAL_DEFAULTS[name])
    raise SettingError("unknown setting %r (known: %s)" % (name, ", ".join(names())))


def put(model, name, value):
    """Validate and store one setting; returns the stored value."""
    if name not in PARAMS and name not in LOCAL_DEFAULTS:
        raise SettingError("unknown setting %r (known: %s)" % (name, ", ".join(names())))
    try:
        value = config.check(name, value)
    except config.ConfigError as e:
        raise SettingError(str(e))
    if name in PARAMS:
        wire = ("true" if value else "false") if isinstance(value, bool) else str(value)
        try:
            model.set_local(PARAMS[name], wire)
        except CwmpFault as f:
            raise SettingError("%s: %s" % (name, f.message))
    else:
        if name == "cr-port" and not 0 <= value <= 65535:
            raise SettingError("cr-port: must be between 0 (any free port) and 65535")
        model.store.state.setdefault("settings", {})[name] = value
        model.store.dirty = True
    return value


def apply_initial(model, given):
    """Apply settings from flags or the config file, each only when it differs from what was
    last applied from there: an init script's fixed --acs-url must not undo the ACS's change."""
    applied = model.store.state.setdefault("applied", {})
    changed = []
    for name, value in given.items():
        if value is None or applied.get(name) == value:
            continue
        put(model, name, value)
        applied[name] = value
        model.store.dirty = True
        changed.append(name)
    return changed


def names():
    return list(PARAMS) + list(LOCAL_DEFAULTS)


def show(model, reveal=False):
    """{setting: value} with secrets masked unless `reveal`."""
    out = {}
    for n in names():
        v = get(model, n)
        out[n] = ("*" * 8 if v else "") if n in SECRET and not reveal else v
    return out
