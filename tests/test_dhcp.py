"""ACS discovery by DHCP option 43: the forms DHCP clients hand over, and which settings a
lease may change."""

import pytest

from tr069client import dhcp, settings
from tr069client.model import Model
from tr069client.store import Store

MS = "Device.ManagementServer."


def tlv(*pairs):
    return b"".join(bytes([code, len(value)]) + value for code, value in pairs)


URL = b"http://acs.example:7547/cwmp"


@pytest.mark.parametrize("form", [
    lambda raw: raw.hex(),                                   # udhcpc's $opt43
    lambda raw: raw.hex().upper(),
    lambda raw: ":".join("%x" % b for b in raw),             # dhclient
    lambda raw: "  %s\n" % raw.hex(),
])
def test_suboptions_in_every_form(form):
    raw = tlv((1, URL), (2, b"PC-7"), (3, b"10"), (4, b"2500"))
    assert dhcp.decode(form(raw)) == {1: URL.decode(), 2: "PC-7", 3: "10", 4: "2500"}


def test_a_bare_url_pads_vendor_suboptions_and_a_c_string_terminator():
    assert dhcp.decode("https://acs.example/x") == {1: "https://acs.example/x"}
    assert dhcp.decode(("http://a.example/").encode().hex()) == {1: "http://a.example/"}   # text, hex-encoded
    raw = b"\x00\x00" + tlv((200, b"vendor"), (1, URL + b"\x00")) + b"\xff" + b"junk after the end"
    assert dhcp.decode(raw.hex()) == {1: URL.decode()}


@pytest.mark.parametrize("value, message", [
    ("", "option 43 is empty"),
    ("0105414243", "option 43 is cut short: sub-option 1 at byte 0 runs past its end (5 bytes)"),
    ("01", "option 43 is cut short: sub-option 1 at byte 0 runs past its end (1 bytes)"),
    (tlv((200, b"x")).hex(), "option 43 holds none of the CWMP sub-options"),
    (tlv((1, b"\xff\xfe")).hex(), "option 43 sub-option 1 (URL) is not UTF-8 text"),
])
def test_unusable_option_43_says_why(value, message):
    with pytest.raises(dhcp.DhcpError) as e:
        dhcp.decode(value)
    assert str(e.value).startswith(message)


def model():
    return Model(Store(), defaults=settings.PRODUCT_DEFAULTS)


def test_a_device_without_url_takes_it_and_a_later_lease_may_change_it():
    m = model()
    assert dhcp.apply(m, {"1": "http://a.example/", "2": "PC-1"}) == (
        ["acs-url", "Device.DeviceInfo.ProvisioningCode"], [])
    assert settings.get(m, "acs-url") == "http://a.example/"
    assert m.store.state["dhcp_url"] == "http://a.example/"
    assert dhcp.apply(m, {1: "http://b.example/"}) == (["acs-url"], [])   # DHCP's own URL: replaced
    m.store.dirty = False
    assert dhcp.apply(m, {1: "http://b.example/", 2: "PC-1"}) == ([], [])  # a renewed lease
    assert not m.store.dirty


def test_a_url_set_by_the_acs_or_the_operator_stays():
    m = model()
    dhcp.apply(m, {1: "http://a.example/"})
    settings.set_values(m, [["acs-url", "http://acs.example/"]])   # e.g. the operator
    applied, kept = dhcp.apply(m, {1: "http://a.example/", 3: "30"})
    assert applied == [MS + "CWMPRetryMinimumWaitInterval"]
    assert kept == ["acs-url stays http://acs.example/: set by the ACS or the operator, not by DHCP"]
    assert settings.get(m, "acs-url") == "http://acs.example/"


def test_a_bad_value_changes_nothing():
    m = model()
    with pytest.raises(settings.SettingError) as e:
        dhcp.apply(m, {1: "http://a.example/", 2: "PC-2", 4: "999"})
    assert "CWMPRetryIntervalMultiplier" in str(e.value)
    assert settings.get(m, "acs-url") == "" and "dhcp_url" not in m.store.state
    assert settings.get_values(m, ["Device.DeviceInfo.ProvisioningCode"]) == {"Device.DeviceInfo.ProvisioningCode": ""}
