"""The daemon object in this process, without its loop: what it does between timers."""

import select
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
        if d.cr is not None:
            d.cr.close()
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
    d.cr.sync()
    for _ in range(3):
        d.poll_notifications(time.monotonic())
    assert len(asked) == 1
    assert d.model.value("Device.ManagementServer.ConnectionRequestURL").startswith("http://127.0.0.1:")
    # Without netlink a timer's poll looks again at our address toward the ACS, not at its name.
    assert d._addresses is None
    for _ in range(3):
        d.poll_notifications(time.monotonic(), timer=True)
    assert len(asked) == 1 and d.cr.route[2] == "127.0.0.1"
    d.cr.forget_route()   # as at a session's end
    d.poll_notifications(time.monotonic())
    assert len(asked) == 2



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
        d.cr.sync()
        assert d.cr.listener is None and d.cr.deadline() == now[0] + d.cr.retry[1]
        waits.append(d.cr.retry[1])
        now[0] += waits[-1]
    assert waits == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    now[0] -= 1
    d.cr.sync()   # a settings change tries at once, before its time: the wait stays
    assert d.cr.retry == (now[0] + 300, 300)
    status = control_commands.handle(d, {"cmd": "status"})["status"]
    assert status["connection-requests"].endswith(":%d: address in use; trying again in 300 s" % port)
    assert status["connection-requests"].startswith("cannot listen on ")
    assert status["last-session-error"] == ""
    now[0] += 299
    d._service([], [])
    assert d.cr.listener is None   # not before its time
    busy.close()
    now[0] += 1
    d._service([], [])
    assert d.cr.listener is not None and d.cr.listener.port == port
    assert d.cr.retry is None and d.cr.deadline() is None
    assert control_commands.handle(d, {"cmd": "status"})["status"]["connection-requests"].startswith("listening on ")


@pytest.mark.e2e
def test_the_daemon_s_modules_leave_out_what_only_the_cli_bindings_or_transfers_need():
    # control_commands (with dhcp) comes with the first CLI request, bindings with a bindings
    # file, fetch (with descriptor and platform_commands) with the first transfer or command,
    # connreq with the first connection request.
    import json
    import subprocess
    import sys
    from _daemon import REPO
    code = ("import json, sys\nsys.path.insert(0, %r)\nimport tr069client.cli, tr069client.daemon\n"
            "from tr069client import device, store\n"
            "d = device.Device(store.Store(), {}, {k: 'x' for k in ('manufacturer', 'oui', 'product-class',"
            " 'serial-number')})\nd.transfers.tick(0.0, 0.0)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('tr069client.'))))" % REPO)
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-I", "-c", code])))
    assert "tr069client.device" in loaded
    assert sorted(loaded & {"tr069client.control_commands", "tr069client.dhcp", "tr069client.bindings",
                            "tr069client.binding_commands", "tr069client.fetch", "tr069client.descriptor",
                            "tr069client.platform_commands", "tr069client.connreq",
                            "tr069client.file_transfer"}) == []


def test_nothing_wakes_the_daemon_while_no_volatile_value_is_watched(made):
    # Watched by default: ConnectionRequestURL, SoftwareVersion, ProvisioningCode, none of
    # which the OS changes by itself; an address change comes through netlink instead.
    d = made(**{"cr-address": "127.0.0.1", "periodic-inform-enabled": False})
    d._addresses, other = socket.socketpair()
    d._addresses.setblocking(False)
    try:
        now, wall = time.monotonic(), time.time()
        d.planner.start("boot-1", now, wall)
        d.cr.sync()
        d.poll_notifications(now)
        for t in d.device.timers:
            t.tick(now, wall)
        assert d.model.value("Device.ManagementServer.ConnectionRequestURL").startswith("http://127.0.0.1:")
        assert d._next_poll is None and d.deadline(now, wall) is None
        d._addresses.close()
        d._addresses = None   # no netlink: only a timer can see the address change
        d.poll_notifications(now)
        assert d._next_poll == now + 60
    finally:
        other.close()


def test_a_watched_volatile_value_is_polled_on_a_timer_alone(made, monkeypatch):
    d = made(**{"cr-address": "127.0.0.1"})
    d._addresses, other = socket.socketpair()
    d._addresses.setblocking(False)
    uptime = "Device.DeviceInfo.UpTime"
    try:
        d.model.store.attrs[uptime] = [1, []]
        now = time.monotonic()
        d.poll_notifications(now)
        assert d._next_poll == now + 60
        polled = []
        real = d.model.poll
        monkeypatch.setattr(d.model, "poll", lambda paths: polled.append(sorted(paths)) or real(paths))
        d.poll_notifications(now + 60, timer=True)
        assert polled == [[uptime]]
        # An address change: all watched values are read at once (ConnectionRequestURL among them).
        other.send(b"x")
        d.cr.route = ("kept", None, None)
        d._service([d._addresses], [])
        assert d.cr.route is None and len(polled[1]) > 1
        del d.model.store.attrs[uptime]
        d.poll_notifications(now + 61)
        assert d._next_poll is None
    finally:
        other.close()
        d._addresses.close()


def test_a_local_set_to_requested_runs_the_diagnostic_in_the_running_daemon(made):
    from tr069client.diagnostics.runner import Runner
    ping = "Device.IP.Diagnostics.IPPing."
    calls = []
    d = made(**{"cr-address": "127.0.0.1"})
    d.device.diagnostics.runner = Runner({"IPPing": lambda inputs, cancel, device=None: calls.append(inputs) or {
        "DiagnosticsState": "Complete", "SuccessCount": "1"}})
    reply = control_commands.handle(d, {"cmd": "set", "items": [[ping + "Host", "127.0.0.1"],
                                                                [ping + "DiagnosticsState", "Requested"]]})
    assert reply["ok"], reply
    ready, _, _ = select.select(d.device.diagnostics.fds(), [], [], 10)
    assert ready and calls and calls[0]["Host"] == "127.0.0.1"
    d.device.diagnostics.tick(time.monotonic(), time.time())
    assert d.model.value(ping + "DiagnosticsState") == "Complete"
    d.device.diagnostics.close()
