"""The operator's settings (MikroTik's names) and where each lives: a ManagementServer
parameter or a local value in the store; the KEY=VALUE commands over settings and TR-181
paths; no I/O."""

from . import config, datatypes, log
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
    MS + "SupportedConnReqMethods": "HTTP",   # TR-069 3.2.2; no UDP (TR-111) nor XMPP
}
SECRET = ("password", "connection-request-password")
LOCAL_DEFAULTS = {"client-certificate": "", "ca-file": "", "cr-address": "", "cr-port": config.CR_PORT}
# Every setting, in the order `status` shows them.
NAMES = tuple(PARAMS) + tuple(LOCAL_DEFAULTS)


class SettingError(Exception):
    """A setting name or value the operator got wrong; one line."""


def get(model, name):
    """The setting's value in effect, in its config kind (bool, int or str): a stored value
    that is invalid (a hand-edited state file) gives way to the default, but for acs-url,
    whose sessions then fail with the reason; SettingError for an unknown name."""
    raw = _stored(model, name)
    value, why = _checked(model, name, raw)
    if why is None:
        return value
    if name == "acs-url":
        return raw
    if name in PARAMS:
        path = PARAMS[name]
        return _check(model, name, PRODUCT_DEFAULTS.get(path) or datatypes.default_value(
            model.meta.param(path)))[0]
    return LOCAL_DEFAULTS[name]


# (metadata, setting, stored value) -> what _check() said of it: settings are read at every
# turn of the loop (the planner's status), and change rarely (fleet mode reads them for
# 10,000 devices that share most of them).
_CHECKED = {}


def _checked(model, name, raw):
    if type(raw) not in (str, int):
        return _check(model, name, raw)   # a hand-edited list, object or true: not kept
    key = (model.meta, name, raw)
    found = _CHECKED.get(key)
    if found is None:
        if len(_CHECKED) >= 256:
            _CHECKED.clear()
        found = _CHECKED[key] = _check(model, name, raw)
    return found


def problems(model, names=NAMES):
    """{setting: sentence} for the settings among `names` whose stored value is invalid."""
    out = {}
    for name in names:
        if name in NAMES:
            why = _check(model, name, _stored(model, name))[1]
            if why is not None:
                used = get(model, name)
                if name != "acs-url":
                    why += "; %s is in effect" % _text(used)
                out[name] = why
    return out


def _stored(model, name):
    if name in PARAMS:
        return model.value(PARAMS[name], "")
    if name in LOCAL_DEFAULTS:
        return _local(model.store.state).get(name, LOCAL_DEFAULTS[name])
    raise SettingError("unknown setting %r (known: %s)" % (name, ", ".join(NAMES)))


def _check(model, name, raw):
    """(`raw` in the setting's config kind, None) or (None, why it is invalid)."""
    try:
        if name in PARAMS:
            text = datatypes.normalize(model.meta.param(PARAMS[name]), raw)
            if name == "acs-url" and text and _url_problem(text):
                return None, _url_problem(text)
            kind = config.KEYS[name][0]
            return (text == "true") if kind == "bool" else int(text) if kind == "int" else text, None
        value = config.check(name, raw)
    except CwmpFault as f:
        return None, f.message
    except config.ConfigError as e:
        return None, str(e).split(": ", 1)[-1]
    if name == "cr-port" and not 0 <= value <= 65535:
        return None, "must be between 0 (any free port) and 65535"
    return value, None


def _local(state):
    settings = state.get("settings")
    return settings if isinstance(settings, dict) else {}   # {} for a hand-edited mistake


def _text(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) if value != "" else "the empty value"


def put(model, name, value):
    """Validate and store one setting; returns the stored value."""
    if name not in NAMES:
        raise SettingError("unknown setting %r (known: %s)" % (name, ", ".join(NAMES)))
    try:
        value = config.check(name, value)
    except config.ConfigError as e:
        raise SettingError(str(e))
    if name == "acs-url" and value:
        check_url(value)
    if name in PARAMS:
        wire = ("true" if value else "false") if isinstance(value, bool) else str(value)
        try:
            model.set_local(PARAMS[name], wire)
        except CwmpFault as f:
            raise SettingError(_about(name, f.message))
    else:
        value, why = _check(model, name, value)
        if why is not None:
            raise SettingError("%s: %s" % (name, why))
        state = model.store.state
        state["settings"] = dict(_local(state), **{name: value})
        model.store.dirty = True
    return value


def check_url(url):
    """SettingError unless `url` is an ACS URL the transport can use, with no credentials in it
    to show or log."""
    why = _url_problem(url)
    if why is not None:
        raise SettingError("acs-url: " + why)
    if "@" in url.partition("://")[2].partition("/")[0]:
        raise SettingError("acs-url: give the credentials as username and password, not in the URL")


def _url_problem(url):
    """Why the transport cannot use `url` (one an ACS set may carry credentials), or None."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a port that is no number or out of range
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or any(c <= " " or c == "\x7f" for c in url)):
        return "expected an http:// or https:// URL, not %r" % log.shown_url(url)
    return None


def apply_initial(model, given):
    """Apply settings from flags or the config file, each only when it differs from what was
    last applied from there (an init script's fixed --acs-url must not undo the ACS's change);
    all or nothing. The names applied."""
    applied = model.store.state.get("applied")
    applied = applied if isinstance(applied, dict) else {}
    items = [[name, value] for name, value in given.items()
             if value is not None and applied.get(name) != value]
    if items:
        set_values(model, items)
        model.store.state["applied"] = dict(applied, **dict(items))
    return [name for name, _ in items]


def show(model, reveal=False):
    """{setting: value} with secrets masked unless `reveal`; an invalid stored value is
    shown as stored (problems() says why)."""
    out = {}
    bad = problems(model)
    for n in NAMES:
        v = _stored(model, n) if n in bad else get(model, n)
        if not reveal and n in SECRET:
            v = "*" * 8 if v else ""
        elif not reveal and n == "acs-url":
            v = log.shown_url(v)   # one the ACS set may carry a password
        out[n] = v
    return out


def get_values(model, names):
    """{name: value} for settings and TR-181 paths (secrets masked)."""
    out = {}
    for n in names:
        if n.startswith("Device."):
            for full, value, _ in model.get_values([n]):
                out[full] = value
        else:
            get(model, n)   # an unknown name is an error
            out[n] = show(model)[n]
    return out


def set_values(model, items, later=None):
    """Apply KEY=VALUE pairs (settings or TR-181 paths) all or nothing; `later`, a list, takes
    the actions that follow (a diagnostic test set to Requested starts: actions.py)."""
    store = model.store
    saved = store.snapshot()
    paths = []
    try:
        for k, v in items:
            if k.startswith("Device."):
                try:
                    model.set_local(k, v)
                except CwmpFault as f:
                    raise SettingError(_about(k, f.message))
                paths.append(k)
            else:
                put(model, k, v)
    except Exception:  # whatever went wrong, nothing of it stays
        store.restore(saved)
        model.refresh()
        raise
    if paths:
        model.applied(paths, later)
    store.dirty = True


def _about(name, message):
    """`message` about `name`, naming it once."""
    return message if name in message else "%s: %s" % (name, message)
