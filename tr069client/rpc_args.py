"""Reading an RPC's arguments: required elements, strings, booleans, unsignedInts and
keys, each refused with fault 9003 and a sentence naming it; no I/O."""

from . import soap
from .datatypes import MAX_UINT
from .faults import CwmpFault, INVALID_ARGUMENTS
from .soap import child, local, text

# TR-069 A.3.1: a request naming more than this is refused rather than answered slowly.
MAX_NAMES = 16384
# TR-069 A.3.2.1, A.3.2.9, A.3.2.8: ParameterKey and CommandKey are string(32).
KEY_LENGTH = 32


def required(elem, name):
    """The child element `name`; 9003 when it is missing."""
    c = child(elem, name)
    if c is None:
        raise CwmpFault(INVALID_ARGUMENTS, "argument %s is missing" % name)
    return c


def required_text(elem, name):
    return (required(elem, name).text or "").strip()


def strings(elem, name):
    """The xsd:string items of the array `name` (a list of parameter names)."""
    items = [(c.text or "").strip() for c in required(elem, name) if local(c.tag) == "string"]
    if len(items) > MAX_NAMES:
        raise CwmpFault(INVALID_ARGUMENTS, "too many names in %s (%d)" % (name, len(items)))
    return items


def boolean(elem, name, required_=True):
    """A boolean argument (true/false or 1/0); False when it is absent and not required."""
    c = child(elem, name)
    if c is None:
        if required_:
            raise CwmpFault(INVALID_ARGUMENTS, "argument %s is missing" % name)
        return False
    v = soap.parse_bool(c.text)
    if v is None:
        raise CwmpFault(INVALID_ARGUMENTS, "argument %s must be a boolean, not %r" % (name, c.text))
    return v


def uint(elem, name, low=0, high=MAX_UINT, default=None):
    """An unsignedInt argument within [low, high] (ASCII digits: see soap.digits); when it is
    absent or empty, `default`, or 9003 if there is none."""
    raw = text(elem, name)
    if raw is None or (default is not None and not raw.strip()):
        if default is None:
            raise CwmpFault(INVALID_ARGUMENTS, "argument %s is missing" % name)
        return default
    n = soap.digits(raw)
    if n is None or not low <= n <= high:
        shown = raw.strip()[:40]
        if (low, high) == (0, MAX_UINT):
            raise CwmpFault(INVALID_ARGUMENTS, "%s must be an unsigned integer, not %r" % (name, shown))
        raise CwmpFault(INVALID_ARGUMENTS, "%s must be an integer from %d to %d, not %r"
                        % (name, low, high, shown))
    return n


def string(elem, name, default=None, limit=256, strip=True):
    """A string argument of at most `limit` characters; when it is absent, `default`, or
    9003 if there is none."""
    value = text(elem, name)
    if value is None:
        if default is None:
            raise CwmpFault(INVALID_ARGUMENTS, "argument %s is missing" % name)
        return default
    value = value.strip() if strip else value
    if len(value) > limit:
        raise CwmpFault(INVALID_ARGUMENTS, "%s is longer than %d characters" % (name, limit))
    return value


def key(elem, name, strip=True):
    """A ParameterKey or CommandKey: optional in practice (some ACSs omit it), so None when
    absent."""
    if text(elem, name) is None:
        return None
    return string(elem, name, "", KEY_LENGTH, strip)
