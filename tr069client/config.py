"""The config file: a JSON object of known keys, checked so that a typo is an error, not a
silently ignored line."""

import json

# key -> (kind, default, help). Kinds: str, int, bool, argv (a command as a list of strings).
KEYS = {
    # Identity (Device.DeviceInfo and the Inform's DeviceId); empty = derived from the machine.
    "manufacturer": ("str", "", "Device.DeviceInfo.Manufacturer"),
    "oui": ("str", "", "IEEE OUI, six hex digits; default: from the first interface's MAC"),
    "product-class": ("str", "", "Device.DeviceInfo.ProductClass"),
    "serial-number": ("str", "", "Device.DeviceInfo.SerialNumber; default: the first MAC"),
    "model-name": ("str", "", "Device.DeviceInfo.ModelName"),
    "description": ("str", "", "Device.DeviceInfo.Description"),
    "hardware-version": ("str", "", "Device.DeviceInfo.HardwareVersion"),
    "software-version": ("str", "", "Device.DeviceInfo.SoftwareVersion; default: from os-release"),
    # Settings; a value here is applied when it changes, like the command-line flags.
    "enabled": ("bool", None, "run CWMP sessions at all"),
    "acs-url": ("str", None, "the ACS URL"),
    "username": ("str", None, "user name towards the ACS"),
    "password": ("str", None, "password towards the ACS"),
    "periodic-inform-enabled": ("bool", None, "send periodic Informs"),
    "periodic-inform-interval": ("int", None, "seconds between periodic Informs"),
    "client-certificate": ("str", None, "PEM file with certificate and key for mutual TLS"),
    "ca-file": ("str", None, "PEM file of CAs that verify the ACS; default: the system's"),
    "connection-request-username": ("str", None, "user name the ACS uses for connection requests"),
    "connection-request-password": ("str", None, "password the ACS uses for connection requests"),
    "cr-address": ("str", None, "address in ConnectionRequestURL; default: the route to the ACS"),
    "cr-port": ("int", None, "connection-request port; default 7547"),
    # The daemon.
    "state-dir": ("str", "/var/lib/tr069client", "where the state file lives"),
    "log-level": ("str", "info", "debug, info, warning or error"),
    "syslog": ("bool", False, "log to syslog instead of stderr"),
}
SETTING_KEYS = ("enabled", "acs-url", "username", "password", "periodic-inform-enabled",
                "periodic-inform-interval", "client-certificate", "ca-file",
                "connection-request-username", "connection-request-password", "cr-address", "cr-port")


class ConfigError(Exception):
    """A config file or value that cannot be used; the message is one line for the operator."""


def parse_bool(value):
    v = str(value).strip().lower()
    if v in ("yes", "true", "1", "on"):
        return True
    if v in ("no", "false", "0", "off"):
        return False
    raise ValueError("expected yes or no, not %r" % value)


def check(key, value):
    """The value of `key` in its kind, or ConfigError."""
    if key not in KEYS:
        raise ConfigError("unknown setting %r" % key)
    kind = KEYS[key][0]
    try:
        if kind == "bool":
            return value if isinstance(value, bool) else parse_bool(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("expected a number, not %r" % value)
            return int(value)
        if kind == "argv":
            if not (isinstance(value, list) and value and all(isinstance(a, str) for a in value)):
                raise ValueError("expected a command as a list of strings, e.g. [\"reboot\"]")
            return value
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError("expected a string, not %r" % (value,))
        return str(value)
    except ValueError as e:
        raise ConfigError("%s: %s" % (key, e))


def load(path):
    """Read a config file; an empty dict for None."""
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        raise ConfigError("cannot read config file %s: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise ConfigError("config file %s is not valid JSON: %s" % (path, e))
    if not isinstance(data, dict):
        raise ConfigError("config file %s must hold a JSON object" % path)
    out = {}
    for k, v in data.items():
        try:
            out[k] = check(k, v)
        except ConfigError as e:
            raise ConfigError("config file %s: %s" % (path, e))
    return out


def get(config, key):
    value = config.get(key)
    return KEYS[key][1] if value is None else value
