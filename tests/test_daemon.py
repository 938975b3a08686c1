"""The daemon object in this process, without its loop: what it does between timers."""

import socket
import time

import pytest

from tr069client import daemon


@pytest.fixture
def made(tmp_path):
    made = []

    def make(**overrides):
        d = daemon.Daemon(str(tmp_path / "state"), overrides=dict({"cr-port": 0}, **overrides))
        made.append(d)
        return d
    yield make
    for d in made:
        if d.listener is not None:
            d.listener.close()
        d.control.close()


def test_notification_polls_do_not_look_up_the_acs_name_each_time(made, monkeypatch):
    asked = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args):
        if host in (b"acs.example", "acs.example"):
            asked.append(host)
            return [(socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("127.0.0.1", port))]
        return real(host, port, *args)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    d = made(**{"acs-url": "http://acs.example/acs"})
    d._sync_listener()
    for _ in range(3):
        d._poll_notifications(time.monotonic())
    assert len(asked) == 1
    assert d.model.value("Device.ManagementServer.ConnectionRequestURL").startswith("http://127.0.0.1:")

