"""ACS discovery by DHCP (TR-069 3.1): the CWMP sub-options of DHCPv4 option 43, as a DHCP
client's script hands them over, turned into settings.

A URL from DHCP never replaces one that the ACS or the operator set: it is taken while
the device has no URL, or has the one DHCP gave before (`state["dhcp_url"]`).
"""

import re

from . import log, settings

MS = settings.MS
# Sub-option code: (what it is called in messages, the setting or parameter it sets)
SUBOPTIONS = {
    1: ("URL", "acs-url"),
    2: ("ProvisioningCode", "Device.DeviceInfo.ProvisioningCode"),
    3: ("CWMPRetryMinimumWaitInterval", MS + "CWMPRetryMinimumWaitInterval"),
    4: ("CWMPRetryIntervalMultiplier", MS + "CWMPRetryIntervalMultiplier"),
}
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})+$")
_COLON_HEX = re.compile(r"^[0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{1,2})+$")


class DhcpError(Exception):
    """Option 43 that holds no usable CWMP sub-option; the message says why."""


def decode(value):
    """{code: text} of the CWMP sub-options in option 43. `value` is what the DHCP client
    gives: hex digits (udhcpc's `$opt43`), colon-separated hex (dhclient), or the text of
    a server that sends a bare URL instead of sub-options."""
    value = value.strip()
    if _HEX.match(value):
        raw = bytes.fromhex(value)
    elif _COLON_HEX.match(value):
        raw = bytes(int(b, 16) for b in value.split(":"))
    else:
        raw = value.encode("utf-8")
    if not raw:
        raise DhcpError("option 43 is empty")
    if raw.lower().startswith((b"http://", b"https://")):
        return {1: _text(1, raw)}
    out, i = {}, 0
    while i < len(raw):
        code = raw[i]
        if code == 0:        # pad
            i += 1
            continue
        if code == 255:      # end
            break
        if i + 1 >= len(raw) or i + 2 + raw[i + 1] > len(raw):
            raise DhcpError("option 43 is cut short: sub-option %d at byte %d runs past its "
                            "end (%d bytes)" % (code, i, len(raw)))
        data = raw[i + 2:i + 2 + raw[i + 1]]
        i += 2 + raw[i + 1]
        if code in SUBOPTIONS:   # vendors put their own sub-options beside ours: skipped
            out[code] = _text(code, data)
    if not out:
        raise DhcpError("option 43 holds none of the CWMP sub-options (1 URL, 2 "
                        "ProvisioningCode, 3 CWMPRetryMinimumWaitInterval, 4 "
                        "CWMPRetryIntervalMultiplier)")
    return out


def _text(code, data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DhcpError("option 43 sub-option %d (%s) is not UTF-8 text" % (code, SUBOPTIONS[code][0]))
    return text.rstrip("\x00")   # some servers count a C string's terminator


def apply(model, options):
    """Apply decoded `options` ({code: text}; JSON gives str codes) all or nothing;
    (applied, kept): the keys set, and sentences for what was left as it was."""
    state = model.store.state
    items, kept = [], []
    for code, text in sorted((int(c), t) for c, t in options.items()):
        if code not in SUBOPTIONS:
            raise DhcpError("unknown CWMP sub-option %d" % code)
        key = SUBOPTIONS[code][1]
        # A stored URL that is no URL (a hand-edited state file) is as good as none.
        current = "" if settings.problems(model, [key]) else settings.get_values(model, [key])[key]
        if str(current) == text:
            continue   # a renewed lease: nothing changes, nothing is written to flash
        if code == 1 and current and current != state.get("dhcp_url"):
            kept.append("acs-url stays %s: set by the ACS or the operator, not by DHCP"
                        % log.shown_url(current))
            continue
        items.append([key, text])
    if items:
        settings.set_values(model, items)
    if any(k == "acs-url" for k, _ in items):
        state["dhcp_url"] = settings.get(model, "acs-url")
    return [k for k, _ in items], kept
