"""tr069client.datatypes: canonical values, 9007 for bad ones, 9006 for contradicting xsi:types."""

import pytest

from tr069client import datatypes, metadata
from tr069client.faults import CwmpFault

META = metadata.load()


def real(path):
    return META.param(path)


def param(ptype, facets=None, lst=False, secured=False, default=None):
    return metadata.Param(ptype, True, default, lst, "normal", False, secured, facets)


def ok(p, value, xsi=None):
    return datatypes.normalize(p, value, xsi)


def fault(p, value, xsi=None, code=9007):
    with pytest.raises(CwmpFault) as info:
        datatypes.normalize(p, value, xsi)
    assert info.value.code == code, info.value.message
    return info.value.message


INTERVAL = real("Device.ManagementServer.PeriodicInformInterval")
ENABLE = real("Device.ManagementServer.PeriodicInformEnable")
TIME = real("Device.ManagementServer.PeriodicInformTime")


# ---------------------------------------------------------------- boolean

@pytest.mark.parametrize("value,want", [("true", "true"), ("TRUE", "true"), ("1", "true"),
                                        ("false", "false"), ("False", "false"), ("0", "false"),
                                        (" true\n", "true")])
def test_boolean_accepts_words_and_digits(value, want):
    assert ok(ENABLE, value) == want


@pytest.mark.parametrize("value", ["", "yes", "2", "t", "01", "true false"])
def test_boolean_rejects_other_text(value):
    assert "not a boolean" in fault(ENABLE, value)


# ---------------------------------------------------------------- integers

@pytest.mark.parametrize("value,want", [("1", "1"), ("4294967295", "4294967295"), ("+7", "7"),
                                        ("007", "7"), (" 300 ", "300")])
def test_unsigned_int_canonical_form(value, want):
    assert ok(INTERVAL, value) == want


@pytest.mark.parametrize("value", ["", "-1", "4294967296", "1.0", "1e3", "0x10", "1_000",
                                   "\u0663", "five", "1 2", "9" * 50])
def test_unsigned_int_rejects(value):
    fault(INTERVAL, value)


def test_range_facet_and_type_limits_are_named():
    assert fault(INTERVAL, "0").endswith("0 is not allowed: the value must be at least 1")
    assert "unsignedInt range 0 to 4294967295" in fault(INTERVAL, "4294967296")
    retry = real("Device.ManagementServer.CWMPRetryIntervalMultiplier")
    assert fault(retry, "999").endswith("999 is not allowed: the value must be from 1000 to 65535")
    assert ok(retry, "65535") == "65535"


def test_signed_and_64_bit_limits():
    i32, u64, i64 = param("int"), param("unsignedLong"), param("long")
    assert ok(i32, "-2147483648") == "-2147483648" and ok(i32, "-0") == "0"
    fault(i32, "2147483648")
    fault(i32, "-2147483649")
    assert ok(u64, "18446744073709551615") == "18446744073709551615"
    fault(u64, "18446744073709551616")
    assert ok(i64, "-9223372036854775808") == "-9223372036854775808"
    fault(i64, "9223372036854775808")
    assert ok(real("Device.IP.Interface.{i}.Stats.BytesSent"), "5000000000") == "5000000000"
    assert ok(real("Device.Ethernet.Interface.{i}.MaxBitRate"), "-1") == "-1"
    fault(real("Device.Ethernet.Interface.{i}.MaxBitRate"), "-2")


def test_several_ranges_and_steps():
    ipver = real("Device.Time.Client.{i}.IPVersion")        # 4, 6 or -1
    assert [ok(ipver, v) for v in ("4", "6", "-1")] == ["4", "6", "-1"]
    assert "4 or 6 or -1" in fault(ipver, "5")
    stepped = param("int", {"ranges": [[-25, 25, 25]]})
    assert [ok(stepped, v) for v in ("-25", "0", "25")] == ["-25", "0", "25"]
    assert "in steps of 25" in fault(stepped, "10")


def test_decimal():
    dec = param("decimal", {"ranges": [[-10, 10]]})
    for value, want in [("1.50", "1.5"), ("+0.0", "0"), ("-0", "0"), ("-.5", "-0.5"),
                        ("007.10", "7.1"), ("1.", "1"), (" 2 ", "2")]:
        assert ok(dec, value) == want
    for value in ("", ".", "1e3", "1,5", "--1", "11"):
        fault(dec, value)


# ---------------------------------------------------------------- dateTime

@pytest.mark.parametrize("value,want", [
    ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
    ("2024-01-02T03:04:05", "2024-01-02T03:04:05Z"),                # no zone: UTC
    ("2024-01-02T03:04:05.000Z", "2024-01-02T03:04:05Z"),
    ("2024-01-02T03:04:05.120+00:00", "2024-01-02T03:04:05.12Z"),
    ("2024-03-01T01:00:00+02:00", "2024-02-29T23:00:00Z"),          # back over a leap day
    ("1999-12-31T23:30:00-01:00", "2000-01-01T00:30:00Z"),
    ("2024-06-30T20:00:00-05:30", "2024-07-01T01:30:00Z"),
    ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),               # the unknown time
    ("0001-01-03T03:04:05", "0001-01-03T03:04:05"),                 # relative to boot
    (" 2024-01-02T03:04:05Z ", "2024-01-02T03:04:05Z"),
])
def test_datetime_canonical_form(value, want):
    assert ok(TIME, value) == want


@pytest.mark.parametrize("value", [
    "", "now", "2024-01-02", "2024-01-02 03:04:05Z", "2023-02-29T00:00:00Z",
    "2024-13-01T00:00:00Z", "2024-04-31T00:00:00Z", "2024-01-01T24:00:00Z",
    "2024-01-01T00:60:00Z", "2024-01-01T00:00:60Z", "2024-01-01T00:00:00+15:00",
    "2024-01-01T00:00:00+0200", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:00:00-02:00", "12024-01-01T00:00:00Z", "2024-01-01T00:00:00.Z"])
def test_datetime_rejects(value):
    fault(TIME, value)


# ---------------------------------------------------------------- strings

def test_string_length_is_counted_in_characters():
    user = real("Device.ManagementServer.Username")             # maxLength 256
    assert ok(user, "\u00e9" * 256) == "\u00e9" * 256
    assert "257 characters long, longer than the maximum 256" in fault(user, "x" * 257)
    assert ok(user, "  spaces kept  ") == "  spaces kept  "
    oui = real("Device.DeviceInfo.ManufacturerOUI")             # exactly 6 hex digits
    assert ok(oui, "00D09E") == "00D09E"
    assert "shorter than the minimum 6" in fault(oui, "00D0")
    assert "pattern" in fault(oui, "00d09e")


def test_enumerations():
    proto = real("Device.NAT.PortMapping.{i}.Protocol")
    assert ok(proto, "UDP") == "UDP"
    assert "allowed values: TCP, UDP" in fault(proto, "ICMP")
    fault(proto, "tcp")
    diag = param("string", {"enum": ["None", "Requested", "Complete"],
                            "enum_ro": ["None", "Complete"]})
    assert ok(diag, "Requested") == "Requested"
    assert "only the device may set" in fault(diag, "Complete")


def test_patterns():
    mac = real("Device.Ethernet.Interface.{i}.MACAddress")
    assert ok(mac, "") == "" and ok(mac, "00:1a:2B:3c:4D:5e") == "00:1a:2B:3c:4D:5e"
    assert "does not match the required pattern" in fault(mac, "00-1a-2b-3c-4d-5e")
    ip = real("Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress")
    assert ok(ip, "192.168.1.1") == "192.168.1.1"
    for bad in ("256.1.1.1", "1.2.3", "1.2.3.4\n", "1.2.3.4 "):
        fault(ip, bad)


def test_secured_values_are_never_echoed():
    pw = real("Device.ManagementServer.Password")
    message = fault(pw, "s3cret-" * 40)
    assert "s3cret" not in message and "longer than the maximum 256" in message
    assert ok(pw, "s3cret") == "s3cret"
    pin = param("string", {"patterns": [r"\A(?:[0-9]{4})\Z"], "enum": ["1234", "s3cret"]},
                secured=True)
    message = fault(pin, "s3cret")
    assert "s3cret" not in message and "the value does not match" in message


def test_references():
    iface = real("Device.NAT.PortMapping.{i}.Interface")      # a row of Device.IP.Interface.
    assert ok(iface, "") == ""
    assert ok(iface, "Device.IP.Interface.2") == "Device.IP.Interface.2"
    assert ok(iface, "Device.IP.Interface.2.") == "Device.IP.Interface.2."
    assert "row of Device.IP.Interface." in fault(iface, "Device.PPP.Interface.1")
    for bad in ("Device.IP.Interface.", "Device.IP.Interface.1.Name", "IP.Interface.1",
                "Device..IP.Interface.1", "Device.IP.Interface.1 "):
        fault(iface, bad)


def test_lists():
    lower = real("Device.IP.Interface.{i}.LowerLayers")       # list of row references
    assert ok(lower, "") == ""
    assert ok(lower, "Device.Ethernet.Interface.1, Device.PPP.Interface.2") == \
        "Device.Ethernet.Interface.1,Device.PPP.Interface.2"
    fault(lower, "Device.Ethernet.Interface.1,Device.Ethernet.")
    assert "list maximum 1024" in fault(lower, ",".join(["Device.Ethernet.Interface.1"] * 40))
    jids = param("string", {"items": [0, 32], "max_len": 256}, lst=True)   # at most 32 items
    assert "more than the maximum 32" in fault(jids, ",".join(["a@b"] * 33))
    nums = param("unsignedInt", {"items": [2, None], "ranges": [[1, 9]]}, lst=True)
    assert ok(nums, " 1, 2 ,3") == "1,2,3"
    assert "fewer than the minimum 2" in fault(nums, "1")
    fault(nums, "1,10")
    fault(nums, "1,,2")
    kinds = real("Device.DNS.SupportedRecordTypes")
    assert kinds.list and ok(kinds, "A,AAAA") == "A,AAAA"
    fault(kinds, "A,MX")


# ---------------------------------------------------------------- binary

def test_base64():
    b64 = param("base64", {"max_len": 3})
    assert ok(b64, "AAEC") == "AAEC"
    assert ok(b64, " AA EC\n") == "AAEC"
    assert ok(b64, "AAE=") == "AAE=" and ok(b64, "AA==") == "AA==" and ok(b64, "") == ""
    for bad in ("AAE", "A===", "AA=C", "AA*C", "AAECAA=="):
        fault(b64, bad)
    assert "4 bytes long, longer than the maximum 3" in fault(b64, "AAECAw==")


def test_hex_binary():
    hexa = param("hexBinary", {"sizes": [[0, 0], [2, 3]]})
    assert ok(hexa, "") == "" and ok(hexa, "00fF") == "00fF" and ok(hexa, "001122") == "001122"
    assert "allowed lengths are 0 or 2 to 3" in fault(hexa, "00")
    for bad in ("0", "zz", "0x00", "00112233"):
        fault(hexa, bad)


# ---------------------------------------------------------------- XML 1.0 characters

@pytest.mark.parametrize("char", ["\x00", "\x08", "\x1f", "\ud800", "\udfff", "\ufffe",
                                  "\uffff"])
def test_characters_outside_xml_are_refused(char):
    user = real("Device.ManagementServer.Username")
    message = fault(user, "a" + char + "b")
    assert "U+%04X" % ord(char) in message and char not in message


def test_allowed_xml_characters_pass():
    user = real("Device.ManagementServer.Username")
    value = "tab\tnl\ncr\r\ue000\U0001f600&<>\"'"
    assert ok(user, value) == value


# ---------------------------------------------------------------- xsi:type

@pytest.mark.parametrize("xsi", ["xsd:string", "string", "soapenc:string", "xs:unsignedInt",
                                 "xsd:int", "xsd:unsignedLong", "xsd:anySimpleType",
                                 "xsd:madeUp", "", None])
def test_xsi_types_that_fit_an_unsigned_int(xsi):
    assert ok(INTERVAL, "5", xsi) == "5"


@pytest.mark.parametrize("p,xsi,value", [
    (INTERVAL, "xsd:boolean", "1"), (INTERVAL, "xsd:dateTime", "5"),
    (ENABLE, "xsd:dateTime", "true"), (ENABLE, "xsd:hexBinary", "01"),
    (TIME, "xsd:unsignedInt", "5"), (TIME, "xsd:boolean", "true"),
    (param("base64"), "xsd:hexBinary", "AAEC")])
def test_contradicting_xsi_types_give_9006(p, xsi, value):
    assert "xsi:type" in fault(p, value, xsi, code=9006)


def test_xsi_leniency_details():
    assert ok(ENABLE, "1", "xsd:int") == "true"                # 0/1 sent as integers
    assert ok(ENABLE, "true", "xsd:string") == "true"
    assert ok(TIME, "2024-01-02T03:04:05Z", "xsd:datetime") == "2024-01-02T03:04:05Z"
    assert ok(param("base64"), "AAEC", "xsd:base64") == "AAEC"
    assert ok(param("base64"), "AAEC", "xsd:base64Binary") == "AAEC"
    user = real("Device.ManagementServer.Username")
    assert ok(user, "true", "xsd:boolean") == "true"           # a string takes any type
    fault(INTERVAL, "abc", "xsd:unsignedInt")                  # the value is at fault: 9007
    fault(INTERVAL, "-5", "xsd:int")                           # fits the type, not the range
    lower = real("Device.IP.Interface.{i}.LowerLayers")
    assert ok(lower, "", "xsd:string") == ""


# ---------------------------------------------------------------- xsd_type, default_value

def test_xsd_type():
    assert datatypes.xsd_type(INTERVAL) == "xsd:unsignedInt"
    assert datatypes.xsd_type(ENABLE) == "xsd:boolean"
    assert datatypes.xsd_type(TIME) == "xsd:dateTime"
    assert datatypes.xsd_type(real("Device.IP.Interface.{i}.Stats.BytesSent")) == \
        "xsd:unsignedLong"
    assert datatypes.xsd_type(real("Device.Ethernet.Interface.{i}.MaxBitRate")) == "xsd:int"
    assert datatypes.xsd_type(real("Device.IP.Interface.{i}.LowerLayers")) == "xsd:string"
    assert datatypes.xsd_type(param("unsignedInt", lst=True)) == "xsd:string"
    assert datatypes.xsd_type(param("base64")) == "xsd:base64Binary"
    assert datatypes.xsd_type(param("hexBinary")) == "xsd:hexBinary"
    assert datatypes.xsd_type(param("decimal")) == "xsd:decimal"


def test_default_value():
    dv = datatypes.default_value
    assert dv(real("Device.ManagementServer.EnableCWMP")) == "true"          # the model's
    assert dv(real("Device.NAT.PortMapping.{i}.Status")) == "Disabled"
    assert dv(real("Device.Time.Client.{i}.Port")) == "123"
    assert dv(INTERVAL) == "1"                       # null value 0 is out of range
    assert dv(real("Device.ManagementServer.DefaultActiveNotificationThrottle")) == "0"
    assert dv(ENABLE) == "false"
    assert dv(TIME) == "0001-01-01T00:00:00Z"
    assert dv(real("Device.ManagementServer.URL")) == ""
    assert dv(real("Device.NAT.PortMapping.{i}.Protocol")) == "TCP"           # first allowed
    assert dv(real("Device.IP.Interface.{i}.MaxMTUSize")) == "64"
    assert dv(real("Device.Time.Client.{i}.Servers")) == ""
    assert dv(real("Device.IP.Interface.{i}.Reset")) == "false"               # command
    assert dv(param("decimal")) == "0" and dv(param("long")) == "0"
    assert dv(param("string", {"enum": ["On", "Off"]}, lst=True)) == ""
