"""identity.resolve(): the device's identity from the config file or the machine."""

import pytest

from tr069client import identity


def write(root, path, text):
    p = root / path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def test_serial_and_oui_come_from_a_hardware_interface_not_a_virtual_one(tmp_path):
    # dummy0, docker0 and bond0 sort before eth0 and get a new random MAC when recreated:
    # a serial number from them would make the ACS see a new device after a reboot.
    write(tmp_path, "sys/class/net/dummy0/address", "ae:41:0c:9d:22:17\n")
    write(tmp_path, "sys/class/net/docker0/address", "02:42:5f:1a:2b:3c\n")
    write(tmp_path, "sys/class/net/eth0/address", "00:d0:c9:12:34:56\n")
    write(tmp_path, "sys/class/net/eth0/device/vendor", "0x8086\n")
    write(tmp_path, "sys/class/net/lo/address", "00:00:00:00:00:00\n")
    ident = identity.resolve({}, str(tmp_path))
    assert (ident["oui"], ident["serial-number"]) == ("00D0C9", "00D0C9123456")


def test_without_a_hardware_interface_the_first_with_a_mac_is_taken(tmp_path):
    write(tmp_path, "sys/class/net/br-lan/address", "94:83:c4:00:00:01\n")
    write(tmp_path, "sys/class/net/lo/address", "00:00:00:00:00:00\n")
    assert identity.resolve({}, str(tmp_path))["serial-number"] == "9483C4000001"


def test_a_configured_oui_must_be_six_hex_digits(tmp_path):
    with pytest.raises(identity.IdentityError) as e:
        identity.resolve({"oui": "00D0C"}, str(tmp_path))
    assert str(e.value) == "oui must be six hexadecimal digits (IEEE OUI), not '00D0C'"
