"""The daemon object in this process, without its loop: what it does between timers."""

import socket
import time

import pytest

from tr069client import control_commands, daemon


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
        d.poll_notifications(time.monotonic())
    assert len(asked) == 1
    assert d.model.value("Device.ManagementServer.ConnectionRequestURL").startswith("http://127.0.0.1:")



def test_a_busy_port_is_retried_on_a_backing_off_timer_and_said_by_status(made, monkeypatch):
    busy = socket.socket()
    busy.bind(("", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    d = made(**{"cr-port": port, "cr-address": "127.0.0.1"})
    now = [1000.0]
    monkeypatch.setattr(daemon.time, "monotonic", lambda: now[0])
    waits = []
    for _ in range(9):
        d._sync_listener()
        assert d.listener is None and d._listener_deadline() == now[0] + d._listen_retry[1]
        waits.append(d._listen_retry[1])
        now[0] += waits[-1]
    assert waits == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    now[0] -= 1
    d._sync_listener()   # a settings change tries at once, before its time: the wait stays
    assert d._listen_retry == (now[0] + 300, 300)
    status = control_commands.handle(d, {"cmd": "status"})["status"]
    assert status["connection-requests"].endswith(":%d: address in use; trying again in 300 s" % port)
    assert status["connection-requests"].startswith("cannot listen on ")
    assert status["last-session-error"] == ""
    now[0] += 299
    d._service([], [])
    assert d.listener is None   # not before its time
    busy.close()
    now[0] += 1
    d._service([], [])
    assert d.listener is not None and d.listener.port == port
    assert d._listen_retry is None and d._listener_deadline() is None
    assert control_commands.handle(d, {"cmd": "status"})["status"]["connection-requests"].startswith("listening on ")


@pytest.mark.e2e
def test_the_daemon_s_modules_leave_out_what_only_the_cli_or_bindings_need():
    # control_commands (with dhcp) comes with the first CLI request, bindings with a bindings file.
    import json
    import subprocess
    import sys
    from _daemon import REPO
    code = ("import json, sys\nsys.path.insert(0, %r)\nimport tr069client.cli, tr069client.daemon\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tr069client.'))))" % REPO)
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-I", "-c", code])))
    assert "tr069client.device" in loaded
    assert sorted(loaded & {"tr069client.control_commands", "tr069client.dhcp", "tr069client.bindings",
                            "tr069client.binding_commands"}) == []
