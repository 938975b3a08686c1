"""Fleet templates: stamping placeholders, drift, the per-device generator, and the checks that
turn a wrong template into one line."""

import json

import pytest

from tr069client.fleet.drift import Drift, DriftError, Rng, device_seed
from tr069client.fleet.stamp import Stamp, StampError
from tr069client.fleet.template import DEFAULT, SERIAL, Template, TemplateError, read

MS = "Device.ManagementServer."


def const(x):
    return lambda: x


@pytest.mark.parametrize("text, i, out", [
    ("SN{i}", 7, "SN7"),
    ("SN{i:06}", 42, "SN000042"),
    ("{i:x}", 255, "ff"),
    ("{i:08X}", 255, "000000FF"),
    ("{mac:02:00:00:00:00:FE}", 3, "02:00:00:00:01:01"),
    ("{mac:02-aa-00-00-00-00}", 16, "02-aa-00-00-00-10"),
    ("{mac:020000000000}", 1, "020000000001"),
    ("{ip:10.0.0.0/24}", 0, "10.0.0.1"),
    ("{ip:10.0.0.0/24}", 253, "10.0.0.254"),
    ("{ip:192.0.2.7/32}", 0, "192.0.2.7"),
    ("{ip:2001:db8::/64}", 9, "2001:db8::a"),
    ("{{literal}} {i}", 1, "{literal} 1"),
    ("user-{serial}", 5, "user-SN5"),
])
def test_placeholders(text, i, out):
    assert Stamp(text)(i, "SN5") == out


def test_rand_is_the_devices_own_and_reproducible():
    a, b = Rng(device_seed(1, 3)), Rng(device_seed(1, 3))
    s = Stamp("{rand:12}")
    first = s(3, "", a.random)
    assert len(first) == 12 and int(first, 16) >= 0 and first == s(3, "", b.random)
    assert first != s(4, "", Rng(device_seed(1, 4)).random)


@pytest.mark.parametrize("text, why", [
    ("{i:y}", "format is digits"),
    ("{mac:zz}", "BASE is a MAC"),
    ("{ip:10.0.0.300/8}", "CIDR"),
    ("{rand:0}", "1 to 64"),
    ("{nope}", "unknown placeholder"),
    ("a}b", "unmatched"),
])
def test_bad_placeholders(text, why):
    with pytest.raises(StampError, match=why):
        Stamp(text)


def test_a_device_beyond_its_pool_is_named():
    with pytest.raises(StampError, match="device 254 does not fit in 10.0.0.0/24 .254 addresses"):
        Stamp("{ip:10.0.0.0/24}")(254)
    with pytest.raises(StampError, match="past the last MAC"):
        Stamp("{mac:FF:FF:FF:FF:FF:FF}")(1)


def test_generator_streams_are_uniform_and_unrelated():
    r = Rng(device_seed(7, 0))
    xs = [r.random() for _ in range(20000)]
    assert 0 <= min(xs) and max(xs) < 1 and abs(sum(xs) / len(xs) - 0.5) < 0.01
    assert Rng(device_seed(7, 1)).random() != Rng(device_seed(7, 2)).random()
    assert Rng(device_seed(7, 1)).random() != Rng(device_seed(8, 1)).random()


def test_drift_kinds():
    up = Drift("X", {"uptime": True}, "unsignedInt")
    assert up.next("5", 10, 1234.9, const(0.5)) == "1234"
    counter = Drift("X", {"counter": [10, 20]}, "unsignedInt")
    assert counter.next("100", 2.0, 0, const(0.5)) == "130"
    assert counter.next(str(2 ** 32 - 1), 1.0, 0, const(0.0)) == "9"     # wraps like a real counter
    walk = Drift("X", {"walk": 10, "min": 0, "max": 15}, "int")
    assert walk.next("10", 1, 0, const(1.0)) == "15" and walk.next("3", 1, 0, const(0.0)) == "0"
    for spec, ptype in (({"counter": [5, 1]}, "unsignedInt"), ({"walk": -1}, "int"), ({}, "int"),
                        ({"uptime": True}, "string")):
        with pytest.raises(DriftError):
            Drift("X", spec, ptype)


def test_default_template_shares_all_but_the_stamped_values():
    t = Template(DEFAULT, {MS + "URL": "http://acs.example/"})
    values = t.stamp(12, Rng(1).random)
    assert values[SERIAL] == "FLEET0000012"
    assert values[MS + "ConnectionRequestUsername"] == "FLEET0000012"
    assert values["Device.IP.Interface.1.IPv4Address.1.IPAddress"] == "10.64.0.13"
    assert len(values) < 10 and t.shared[MS + "URL"] == "http://acs.example/"
    # Rows named in the template get every parameter, with its default and a CPE alias.
    assert t.shared["Device.Ethernet.Interface.1.Stats.Collisions"] == "0"
    assert t.shared["Device.Ethernet.Interface.1.Alias"] == "cpe-1"
    assert "Device.DeviceInfo.UpTime" in [d.path for d in t.drifts]


def test_serial_pattern_and_template_file(tmp_path):
    doc = {"values": {"Device.DeviceInfo.Manufacturer": "Acme", "Device.DeviceInfo.ManufacturerOUI": "00D0C9",
                      "Device.DeviceInfo.ProductClass": "Box", SERIAL: "ignored{i}"}}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    t = Template(read(str(path)), serial_pattern="ACME-{i:04}")
    assert t.stamp(3, Rng(1).random)[SERIAL] == "ACME-0003"


@pytest.mark.parametrize("change, why", [
    ({"values": {"Device.Nope.X": "1"}}, "Device.Nope.X is not a parameter"),
    ({"values": {"Device.DeviceInfo.UpTime": "minus"}}, "Device.DeviceInfo.UpTime"),
    ({"values": {"Device.DeviceInfo.ManufacturerOUI": "00d0c9"}}, "ManufacturerOUI"),
    ({"values": {SERIAL: "{serial}"}}, "cannot be made from .serial"),
    ({"values": {SERIAL: ""}}, "no serial-number"),
    ({"values": {"Device.IP.Interface.1.Name": "{ip:bad}"}}, "Device.IP.Interface.1.Name"),
    ({"drift": {"Device.DeviceInfo.Manufacturer": {"uptime": True}}}, "only integer parameters"),
    ({"format": "other/1"}, "format"),
    ({"extra": 1}, "an object with"),
])
def test_template_errors_are_one_line(change, why):
    doc = json.loads(json.dumps(DEFAULT))
    for key, value in change.items():
        if isinstance(value, dict):
            doc.setdefault(key, {}).update(value)
        else:
            doc[key] = value
    with pytest.raises(TemplateError, match=why) as e:
        Template(doc)
    assert "\n" not in str(e.value)


def test_unreadable_template(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(TemplateError, match="not valid JSON"):
        read(str(bad))
