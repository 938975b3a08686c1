"""Validation and canonical wire form of TR-181 parameter values (TR-106 A.2.3); no I/O.

Canonical forms: booleans "true"/"false"; integers in decimal without sign or leading
zeros ("-5", "7"); decimals likewise, without trailing fraction zeros; dateTime
"YYYY-MM-DDTHH:MM:SS[.fff]Z" in UTC (an offset is converted, a value without zone is
taken as UTC, except years below 1000, which TR-106's dateTime type reserves for
relative time since boot and which stay without zone); the fraction keeps only its
significant digits. base64 loses its whitespace. Strings and hexBinary are kept as given; list items
lose the whitespace around commas. Non-string values may have whitespace around them
(XSD whiteSpace collapse); a leading "+" is accepted on numbers.

xsi:type rule (9006): the prefix is ignored and names compare case-insensitively. The
ACS's type is refused only when it names a known XSD type that cannot describe the
parameter: a string parameter takes any type; xsd:string, xsd:anySimpleType and unknown
types fit any parameter (GenieACS and others send xsd:string for everything); integer
types (int, unsignedInt, long, short, ...) and decimal/double/float fit integer and
decimal parameters (the range check then decides), integer types also fit booleans
(for 0/1); otherwise the type must be the parameter's own (base64 = base64Binary).
"""

import re
import time

from .faults import CwmpFault, INVALID_TYPE, INVALID_VALUE
from .metadata import generic

MAX_UINT = 4294967295                 # the largest unsignedInt
UNKNOWN_TIME = "0001-01-01T00:00:00Z"   # TR-106 3.2.1: the unknown time
INFINITE_TIME = "9999-12-31T23:59:59Z"  # TR-106 3.2.1: the infinite time ("never")
_INFINITE = 253402300799                # INFINITE_TIME as a Unix time

_LIMITS = {
    "unsignedInt": (0, MAX_UINT),
    "int": (-2147483648, 2147483647),
    "unsignedLong": (0, 18446744073709551615),
    "long": (-9223372036854775808, 9223372036854775807),
}
_NULL = {"boolean": "false", "dateTime": UNKNOWN_TIME, "decimal": "0",
         "unsignedInt": "0", "int": "0", "unsignedLong": "0", "long": "0"}
# The xsi:type of each TR-181 type, one string each (not one per value of an answer).
_XSD = dict({t: "xsd:" + t for t in ("string", "unsignedInt", "int", "unsignedLong", "long", "boolean",
                                     "dateTime", "hexBinary", "decimal")}, base64="xsd:base64Binary")
_WS = " \t\n\r"
_NO_FACETS = {}

# The complement of XML 1.0's Char production (section 2.2), lone surrogates included;
# written this way round it compiles in 0.1 ms instead of 4.
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_INT = re.compile(r"[+-]?[0-9]{1,40}\Z")
# Patterns of the types a start and most sessions never see: compiled (by re, which keeps
# them) when first used, not at every start (each costs about 1 M instructions on a router).
_DEC = r"([+-]?)([0-9]*)(?:\.([0-9]*))?\Z"
_DATETIME = (r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
             r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?\Z")
_B64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z"
_B64_WS = r"[ \t\n\r]+"
_HEX = r"(?:[0-9A-Fa-f]{2})*\Z"
_PATH = r"Device(?:\.[A-Za-z_][A-Za-z0-9_-]*|\.[0-9]+)*\.?\Z"
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# xsi:type families: s string-like, n integer, d decimal, b boolean, t dateTime,
# 6 base64, x hexBinary. _FITS: the families each parameter type accepts.
_FAMILY = {"string": "s", "anysimpletype": "s", "anytype": "s", "normalizedstring": "s",
           "token": "s", "anyuri": "s", "boolean": "b", "datetime": "t",
           "base64": "6", "base64binary": "6", "hexbinary": "x",
           "decimal": "d", "double": "d", "float": "d"}
for _name in ("int", "unsignedint", "long", "unsignedlong", "integer", "short",
              "unsignedshort", "byte", "unsignedbyte", "nonnegativeinteger",
              "positiveinteger", "negativeinteger", "nonpositiveinteger"):
    _FAMILY[_name] = "n"
_FITS = {"boolean": "bn", "dateTime": "t", "base64": "6", "hexBinary": "x", "decimal": "nd",
         "unsignedInt": "nd", "int": "nd", "unsignedLong": "nd", "long": "nd"}


def normalize(param, value, xsi_type=None):
    """Check a value the ACS writes and return its canonical wire string.

    Raises CwmpFault 9007 for a bad value and 9006 for an xsi:type that cannot fit."""
    if value is None:
        value = ""
    bad = _BAD_XML.search(value)
    if bad:
        raise _fault("contains the character U+%04X, which XML 1.0 does not allow"
                     % ord(bad.group()))
    if xsi_type:
        _check_xsi(param, xsi_type)
    return _normalize(param, value, True)


def xsd_type(param):
    """The xsi:type to emit for the parameter's values ("xsd:string" for lists)."""
    if param.list:
        return "xsd:string"
    return _XSD.get(param.type) or "xsd:" + param.type


def readback(param, value):
    """What the ACS reads of a stored value: "" for a secured (password-like) parameter, and
    the null value for a command parameter, whose value is an action, not configuration."""
    if param.secured:
        return ""
    if param.facets and "command" in param.facets:
        return default_value(param)
    return value


def format_time(wall):
    """A Unix time as a dateTime in UTC; None gives the unknown time, a time beyond year
    9999 the infinite one."""
    if wall is None:
        return UNKNOWN_TIME
    if wall >= _INFINITE:
        return INFINITE_TIME
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


def parse_time(value):
    """The Unix time of a dateTime (its fraction and zone ignored: UTC), None for the
    unknown time or anything that is no dateTime."""
    import calendar
    if not value or value.startswith("0001-"):
        return None
    try:
        t = time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return calendar.timegm(t)


def default_value(param):
    """Value of a freshly created parameter: the model's default, else the type's null
    value ("", "0", "false", "0001-01-01T00:00:00Z"), else the first allowed value."""
    if param.default is not None:
        return param.default
    value = "" if param.list else _NULL.get(param.type, "")
    try:
        return _normalize(param, value, False)
    except CwmpFault:
        pass
    facets = param.facets or _NO_FACETS
    if facets.get("enum"):
        return facets["enum"][0]
    if facets.get("ranges"):
        low, high = facets["ranges"][0][:2]
        return str(low if low is not None else high)
    return value


def _fault(reason):
    return CwmpFault(INVALID_VALUE, reason)


def _shown(value, secured):
    if secured:
        return "the value"
    if len(value) > 40:
        value = value[:37] + "..."
    return '"%s"' % value


def _check_xsi(param, xsi_type):
    name = xsi_type.rpartition(":")[2].strip()
    family = _FAMILY.get(name.lower(), "s")
    if family == "s" or param.list or param.type == "string":
        return
    if family not in _FITS.get(param.type, family):
        raise CwmpFault(INVALID_TYPE, "xsi:type %s does not fit a parameter of type %s"
                        % (xsi_type, param.type))


def _normalize(param, value, from_acs):
    facets = param.facets or _NO_FACETS
    if not param.list:
        return _one(param.type, value, facets, param.secured, from_acs)
    items = [i.strip(_WS) for i in value.split(",")] if value.strip(_WS) else []
    low, high = facets.get("items", (0, None))
    if len(items) < low:
        raise _fault("has %d list items, fewer than the minimum %d" % (len(items), low))
    if high is not None and len(items) > high:
        raise _fault("has %d list items, more than the maximum %d" % (len(items), high))
    out = ",".join(_one(param.type, i, facets, param.secured, from_acs) for i in items)
    limit = facets.get("list_max_len")
    if limit is not None and len(out) > limit:
        raise _fault("is %d characters long, more than the list maximum %d"
                     % (len(out), limit))
    return out


def _one(ptype, value, facets, secured, from_acs):
    if ptype == "string":
        _check_string(value, facets, secured, from_acs)
        return value
    text = value.strip(_WS)
    if ptype == "boolean":
        low = text.lower()
        if low in ("true", "1"):
            return "true"
        if low in ("false", "0"):
            return "false"
        raise _fault("%s is not a boolean (true, false, 1 or 0)" % _shown(value, secured))
    if ptype in _LIMITS:
        return _integer(ptype, text, facets, secured)
    if ptype == "dateTime":
        return _datetime(text, secured)
    if ptype == "base64":
        text = re.sub(_B64_WS, "", text)
        if not re.match(_B64, text):
            raise _fault("is not valid base64")
        _check_length(len(text) // 4 * 3 - text.count("="), facets, "bytes")
        return text
    if ptype == "hexBinary":
        if not re.match(_HEX, text):
            raise _fault("is not hexBinary (an even number of hex digits)")
        _check_length(len(text) // 2, facets, "bytes")
        return text
    if ptype == "decimal":
        return _decimal(text, facets, secured)
    raise ValueError("unknown TR-181 base type %r" % ptype)


def _integer(ptype, text, facets, secured):
    low, high = _LIMITS[ptype]
    if not _INT.match(text):
        kind = "an unsigned integer" if low == 0 else "an integer"
        raise _fault("%s is not %s" % (_shown(text, secured), kind))
    n = int(text)
    if n < low or n > high:
        raise _fault("%d is outside the %s range %d to %d" % (n, ptype, low, high))
    _check_ranges(n, facets)
    return str(n)


def _decimal(text, facets, secured):
    m = re.match(_DEC, text)
    if not m or not (m.group(2) or m.group(3)):
        raise _fault("%s is not a decimal number" % _shown(text, secured))
    sign, whole, frac = m.group(1), m.group(2).lstrip("0") or "0", (m.group(3) or "").rstrip("0")
    out = whole + ("." + frac if frac else "")
    if sign == "-" and out != "0":
        out = "-" + out
    _check_ranges(float(out), facets)
    return out


def _check_ranges(n, facets):
    ranges = facets.get("ranges")
    if not ranges:
        return
    for r in ranges:
        if ((r[0] is None or n >= r[0]) and (r[1] is None or n <= r[1])
                and (len(r) < 3 or (n - (r[0] or 0)) % r[2] == 0)):
            return
    raise _fault("%s is not allowed: the value must be %s" % (n, " or ".join(map(_range_text, ranges))))


def _range_text(r):
    if r[0] is not None and r[0] == r[1]:
        return str(r[0])
    if r[1] is None:
        text = "at least %s" % r[0]
    elif r[0] is None:
        text = "at most %s" % r[1]
    else:
        text = "from %s to %s" % (r[0], r[1])
    return text + (" in steps of %s" % r[2] if len(r) > 2 else "")


def _datetime(text, secured):
    m = re.match(_DATETIME, text)
    if not m:
        raise _fault("%s is not a dateTime (YYYY-MM-DDThh:mm:ss with optional fraction "
                     "and zone)" % _shown(text, secured))
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, zone = (m.group(7) or "").rstrip("0"), m.group(8)
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if (year < 1 or not 1 <= month <= 12 or hour > 23 or minute > 59 or second > 59
            or not 1 <= day <= _MONTH_DAYS[month - 1] or (month == 2 and day == 29 and not leap)):
        raise _fault("%s is not a valid date and time" % _shown(text, secured))
    if zone is None and year < 1000:
        zone = ""  # TR-106: relative time since boot, always without zone
    elif zone is None or zone in ("+00:00", "-00:00"):
        zone = "Z"
    elif zone != "Z":
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 14 or zm > 59 or (zh == 14 and zm):
            raise _fault("%s has an invalid time zone offset" % _shown(text, secured))
        shift = (zh * 60 + zm) * 60 * (1 if zone[0] == "+" else -1)
        days, secs = divmod(_days(year, month, day) * 86400 + hour * 3600 + minute * 60
                            + second - shift, 86400)
        year, month, day = _civil(days)
        if not 1 <= year <= 9999:
            raise _fault("%s is outside the years 1 to 9999 in UTC" % _shown(text, secured))
        hour, minute, second = secs // 3600, secs // 60 % 60, secs % 60
        zone = "Z"
    return "%04d-%02d-%02dT%02d:%02d:%02d%s%s" % (
        year, month, day, hour, minute, second, "." + frac if frac else "", zone)


def _days(y, m, d):
    # Days since 0000-03-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil);
    # datetime would cost 0.7 MB where nothing else loads it.
    y -= m <= 2
    era, yoe = divmod(y, 400)
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy


def _civil(z):
    era, doe = divmod(z, 146097)
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, doy - (153 * mp + 2) // 5 + 1


def _check_length(n, facets, unit):
    sizes = facets.get("sizes")
    if sizes is None:
        low, high = facets.get("min_len", 0), facets.get("max_len")
        if n < low:
            raise _fault("is %d %s long, shorter than the minimum %d" % (n, unit, low))
        if high is not None and n > high:
            raise _fault("is %d %s long, longer than the maximum %d" % (n, unit, high))
        return
    for low, high in sizes:
        if n >= low and (high is None or n <= high):
            return
    allowed = " or ".join(str(lo) if lo == hi else "%s to %s" % (lo, hi) for lo, hi in sizes)
    raise _fault("is %d %s long; the allowed lengths are %s" % (n, unit, allowed))


def _check_string(value, facets, secured, from_acs):
    if facets is _NO_FACETS:
        return
    _check_length(len(value), facets, "characters")
    enum = facets.get("enum")
    if enum is not None:
        if value not in enum:
            allowed = ", ".join(enum[:12]) + (", ..." if len(enum) > 12 else "")
            raise _fault("%s is not one of the allowed values: %s" % (_shown(value, secured),
                                                                    allowed))
        if from_acs and value in facets.get("enum_ro", ()):
            raise _fault("%s is a value only the device may set" % _shown(value, secured))
    patterns = facets.get("patterns")
    if patterns and not any(re.match(p, value) for p in patterns):
        shown = " or ".join(p[5:-3] or "empty" for p in patterns)
        raise _fault("%s does not match the required pattern %s" % (_shown(value, secured),
                                                                    shown))
    ref = facets.get("ref")
    if ref and value:
        _check_ref(value, ref, secured)


def _check_ref(value, ref, secured):
    # TR-106 A.2.3.6: a path name; a row reference ends in an instance number, under
    # one of the target parents when the model names them. Existence is model.py's job.
    ok = re.match(_PATH, value) is not None
    path = generic(value.rstrip("."))
    if ok and ref[1] == "row":
        ok = path.endswith(".{i}") and (not ref[2] or path[:-3] in ref[2])
    if not ok:
        target = " or ".join(ref[2]) if ref[2] else "a table"
        raise _fault("%s is not a reference to a row of %s" % (_shown(value, secured), target))
