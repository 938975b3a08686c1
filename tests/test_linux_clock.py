"""tr069client/linux/clock.py: Device.Time from the system's time zone and NTP settings."""

import os
import time

from tr069client.linux import clock

from _platform import OPENWRT, copy_root, gpv, invalid, make_model

T = "Device.Time."


def test_openwrt_time_zone_and_uci_ntp_servers():
    m = make_model(OPENWRT)
    v = gpv(m, T)
    assert not invalid(m, v)
    assert v[T + "LocalTimeZone"] == "CET-1CEST,M3.5.0,M10.5.0/3"
    assert v[T + "Client.1.Servers"] == "0.openwrt.pool.ntp.org,1.openwrt.pool.ntp.org"
    assert v[T + "Client.1.Enable"] == "true" and v[T + "Status"] == "Unsynchronized"
    assert v[T + "Enable"] == "true"                       # product default, stored


def test_config_servers_win_and_disabled_time_says_so(tmp_path):
    m = make_model(OPENWRT, {"ntp-servers": "ntp1.example, ntp2.example"})
    assert gpv(m, T)[T + "Client.1.Servers"] == "ntp1.example,ntp2.example"
    m.set_values([(T + "Enable", "false", "xsd:boolean")], "k")
    assert gpv(m, T)[T + "Status"] == "Disabled"


def test_synchronised_marker_and_tzif_footer(tmp_path):
    root = copy_root(OPENWRT, tmp_path)
    os.remove(os.path.join(root, "etc/TZ"))
    with open(os.path.join(root, "etc/localtime"), "wb") as f:
        f.write(b"TZif2" + b"\0" * 60 + b"\nEST5EDT,M3.2.0,M11.1.0\n")
    os.makedirs(os.path.join(root, "run/systemd/timesync"))
    open(os.path.join(root, "run/systemd/timesync/synchronized"), "w").close()
    v = gpv(make_model(root), T)
    assert v[T + "LocalTimeZone"] == "EST5EDT,M3.2.0,M11.1.0"
    assert v[T + "Status"] == "Synchronized"


def test_time_zone_never_binary_or_control_characters(tmp_path):
    root = str(tmp_path)
    os.makedirs(os.path.join(root, "etc"))
    with open(os.path.join(root, "etc/localtime"), "wb") as f:
        f.write(b"TZif2" + b"\0\x01binary\nmore\x02" + b"\n\n")    # an empty footer
    assert clock.time_zone(root) == "UTC0"
    with open(os.path.join(root, "etc/TZ"), "w") as f:
        f.write("CET-1\x01CEST\n")
    assert clock.time_zone(root) == "CET-1?CEST"


def test_ntp_servers_from_other_daemons(tmp_path):
    root = str(tmp_path)
    os.makedirs(os.path.join(root, "etc/systemd"))
    with open(os.path.join(root, "etc/systemd/timesyncd.conf"), "w") as f:
        f.write("[Time]\n#NTP=commented\nNTP=a.example b.example\n")
    assert clock.ntp_servers({}, root) == ["a.example", "b.example"]
    os.remove(os.path.join(root, "etc/systemd/timesyncd.conf"))
    with open(os.path.join(root, "etc/chrony.conf"), "w") as f:
        f.write("pool 2.debian.pool.ntp.org iburst\nserver 192.0.2.123\n")
    assert clock.ntp_servers({}, root) == ["2.debian.pool.ntp.org", "192.0.2.123"]
    assert clock.time_zone(root) == "UTC0"


def test_local_time_carries_the_offset(monkeypatch):
    try:
        monkeypatch.setenv("TZ", "CET-1")
        time.tzset()
        assert clock.local_time(0) == "1970-01-01T01:00:00+01:00"
        monkeypatch.setenv("TZ", "UTC0")
        time.tzset()
        assert clock.local_time(0) == "1970-01-01T00:00:00Z"
    finally:
        monkeypatch.undo()
        time.tzset()
