"""The config file: a JSON object of known keys, checked so that a typo is an error, not a
silently ignored line."""

import json
import os
import re

from . import log

# IANA's port for CWMP connection requests: the listener's when cr-port is not set.
CR_PORT = 7547
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
    "cr-port": ("int", None, "connection-request port; default %d" % CR_PORT),
    # The platform data model (tr069client/linux/, bindings.py).
    "platform-providers": ("bool", True, "read TR-181 values from /proc, /sys and /etc "
                                         "(false: stored values and bindings only)"),
    "bindings": ("str", "", "JSON file binding TR-181 parameters and tables to files and commands"),
    "command-timeout": ("int", 10, "seconds a bound command may run before it is killed"),
    "ntp-servers": ("str", "", "NTP servers for Device.Time.Client (comma separated); "
                              "default: from the system's NTP configuration"),
    # The daemon.
    "state-dir": ("str", None, "where the state file lives; default /etc/tr069client on OpenWrt "
                              "(as its init script), else /var/lib/tr069client"),
    "log-level": ("str", "info", "debug, info, warning or error"),
    "cwmp-version": ("str", "1.0", "namespace of the Inform: 1.0, 1.1 or 1.2 (1.2 also serves 1.3/1.4); "
                                   "the ACS's requests are always answered in their own"),
    "syslog": ("bool", False, "log to syslog instead of stderr"),
    "notification-poll-interval": ("int", 60, "seconds between reads of the parameters under notification "
                                   "that the system changes by itself (none are read while none is watched)"),
    "session-timeout": ("int", 600, "seconds a whole session with the ACS may take (each exchange "
                                    "also ends after 120 s)"),
    # Platform commands: JSON lists run without a shell; tr069client appends its own arguments
    # (file paths) as separate items. Left out: not configured.
    "reboot-command": ("argv", ["reboot"], "reboots the device; OpenWrt: [\"reboot\"]"),
    "factory-reset-command": ("argv", None, "resets the device to factory settings and reboots it; "
                              "unset: FactoryReset resets only tr069client's own state; "
                              "OpenWrt: [\"sh\", \"-c\", \"firstboot -y && reboot\"]"),
    "firmware-command": ("argv", None, "installs the downloaded image file(s), given as arguments, "
                         "then tr069client reboots through reboot-command; unset: firmware "
                         "Downloads are refused; OpenWrt: [\"sysupgrade\"]"),
    "config-alter-command": ("argv", None, "applies a downloaded *.alter file (argument: its path) "
                             "on top of the configuration; OpenWrt: "
                             "[\"sh\", \"-c\", \"uci batch < \\\"$1\\\" && uci commit\", \"sh\"]"),
    "config-overwrite-command": ("argv", None, "replaces the configuration with a downloaded "
                                 "*.overwrite file (argument: its path); OpenWrt, a backup archive: "
                                 "[\"sh\", \"-c\", \"sysupgrade -r \\\"$1\\\" && reboot\", \"sh\"]"),
    "vendor-config-command": ("argv", None, "writes the configuration file to Upload into the path "
                              "given as argument; OpenWrt: [\"sysupgrade\", \"-b\"]"),
    "vendor-log-command": ("argv", ["sh", "-c", "dmesg > \"$1\"", "sh"],
                           "writes the log file to Upload into the path given as argument; "
                           "OpenWrt: [\"sh\", \"-c\", \"logread > \\\"$1\\\"\", \"sh\"]"),
    "hook-timeout": ("int", 600, "seconds a platform command may run before it is stopped"),
    "firmware-timeout": ("int", 1800, "seconds firmware-command may run before it is stopped "
                         "(writing an image to slow flash takes long)"),
    "transfer-timeout": ("int", 3600, "seconds a whole download or upload may take (each read "
                         "or write also stops after 30 s without progress)"),
    "download-dir": ("str", "/tmp/tr069client", "private folder for downloaded and uploaded files "
                     "(RAM on OpenWrt; a firmware image must fit)"),
}


_INT = re.compile(r"-?[0-9]+\Z")
_POSITIVE = ("session-timeout",)   # a bound of 0 s would end every session before it began
# The files in the state-dir.
STATE_FILE = "state.json"
CONTROL_SOCKET = "control.sock"

# CWMP 1.3 and 1.4 kept the cwmp-1-2 namespace (cwmp-notes: "cwmp-1-3" does not exist).
CWMP_VERSIONS = {"1.0": "urn:dslforum-org:cwmp-1-0", "1.1": "urn:dslforum-org:cwmp-1-1",
                 "1.2": "urn:dslforum-org:cwmp-1-2"}


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
        if key == "cwmp-version" and str(value) not in CWMP_VERSIONS:
            raise ValueError("expected one of %s, not %r" % (", ".join(sorted(CWMP_VERSIONS)), value))
        if key == "log-level" and value not in log.LEVELS:
            raise ValueError("expected one of %s, not %r" % (", ".join(log.LEVELS), value))
        if kind == "bool":
            return value if isinstance(value, bool) else parse_bool(value)
        if kind == "int":
            if isinstance(value, str) and _INT.match(value.strip()):
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError("expected a whole number, not %r" % (value,))
            if key in _POSITIVE and value < 1:
                raise ValueError("expected at least 1 second, not %d" % value)
            return value
        if kind == "argv":
            if not (isinstance(value, list) and value and all(isinstance(a, str) for a in value)):
                raise ValueError("expected a command as a list of strings, e.g. [\"reboot\"]")
            return value
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError("expected a string, not %r" % (value,))
        return str(value)
    except ValueError as e:
        raise ConfigError("%s: %s" % (key, e))


def read_json(path, what="config file", error=None):
    """The JSON object in the file `path`; `error` (a ConfigError class) with one line
    naming `what` when it cannot be read or is not an object."""
    error = error or ConfigError
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        raise error("cannot read %s %s: %s" % (what, path, e.strerror or e))
    except ValueError as e:
        raise error("%s %s is not valid JSON: %s" % (what, path, e))
    if not isinstance(data, dict):
        raise error("%s %s must hold a JSON object" % (what, path))
    return data


def load(path):
    """Read a config file; an empty dict for None."""
    if path is None:
        return {}
    data = read_json(path)
    out = {}
    for k, v in data.items():
        try:
            out[k] = check(k, v)
        except ConfigError as e:
            raise ConfigError("config file %s: %s" % (path, e))
    return out


def get(config, key):
    value = config.get(key)
    if value is None and key == "state-dir":
        return default_state_dir()
    return KEYS[key][1] if value is None else value


def default_state_dir(root="/"):
    """/etc/tr069client on OpenWrt, where /var is a RAM disk and the init script keeps the
    state on flash; /var/lib/tr069client elsewhere. One rule, so that `tr069client status`
    without --state-dir finds the daemon its init script started."""
    if os.path.exists(os.path.join(root, "etc/openwrt_release")):
        return "/etc/tr069client"
    return "/var/lib/tr069client"
