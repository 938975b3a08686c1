"""Power cuts (issue 11.3): a fixed-size slice of tools/kill_loop.py, and the defects it found,
each shown by a kill at the one moment that matters."""

import contextlib
import os
import re
import subprocess
import sys
import threading

import pytest

import _secrets
from _daemon import REPO, DaemonProc, events_of, informs, instrument, wait_until
from lab_acs import factory_reset, reboot, schedule_inform, set_parameter_values

# Process-level: the fast subset (pytest -m "not e2e") leaves these out.
pytestmark = pytest.mark.e2e


def test_twenty_kills_lose_nothing(tmp_path):
    # In a process of its own: the loop makes itself the subreaper of the daemons' orphans.
    _secrets.log_file(str(tmp_path / "daemon.log"))
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "kill_loop.py"), "--kills", "20", "--seed", "3",
                        "--work", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=600)
    assert r.returncode == 0 and "problems: 0" in r.stdout, r.stdout[-3000:]
    figures = dict((name, int(n.replace(",", ""))) for n, name in re.findall(r"^ +([\d,]+)  (.+)$", r.stdout, re.M))
    assert figures["kills"] == 20 and figures["SetParameterValues acknowledged"] > 0
    assert figures["Downloads acknowledged"] == figures["TransferCompletes received"]


def _killed_after(acs, d, response):
    """Start the daemon `d`; SIGKILL it once the lab ACS `acs` has the CPE's `response`, while the
    session is still open; start it again."""
    answered, killed = threading.Event(), threading.Event()

    def hold(name, parsed):     # the session waits on the ACS while the daemon is killed
        if name == response:
            answered.set()
            killed.wait(10)
    acs.on_response = hold
    d.spawn()
    try:
        assert answered.wait(15), d.log()
        d.kill()
    finally:
        killed.set()
        acs.on_response = None
    d.spawn()


@contextlib.contextmanager
def _killed_once_accepted(make_lab_acs, tmp_path, name, request, config=None):
    """The lab ACS asks `request` (its method `name`), then a SetParameterValues; the daemon is
    SIGKILLed once the ACS has its answer, and started again. Yields (acs, daemon); at the end the
    daemon is stopped and the only problems the ACS may have seen are the kill's."""
    acs = instrument(make_lab_acs())
    acs.queue(request, set_parameter_values([("Device.DeviceInfo.ProvisioningCode", "x")]))
    d = DaemonProc(tmp_path, acs, config=config)
    try:
        _killed_after(acs, d, name + "Response")
        yield acs, d
    finally:
        d.stop()
    assert all("Broken pipe" in p or "Connection reset" in p for p in acs.take_problems())


def _recorder(record):
    """A reboot- or factory-reset-command that notes each run in the file `record`."""
    return [sys.executable, "-c", "open(%r, 'a').write('ran\\n')" % str(record)]


def _held_start_ends_there(d, name, record):
    """The start after the kill carried out the held `name` (its command noted in `record`), and
    went no further: no listener, no "started", then it stopped."""
    assert wait_until(lambda: d.proc.poll() is not None, 15), d.log()
    assert record.read_text() == "ran\n"
    held_start = d.log().split("carrying out the " + name, 1)[1]
    assert "tr069client started" not in held_start and "listen" not in held_start, held_start
    assert held_start.rstrip().endswith("tr069client stopped"), held_start


def test_a_schedule_inform_answered_just_before_a_power_cut_is_not_lost(make_lab_acs, tmp_path):
    # Found by the kill loop: the planner dated a ScheduleInform only when the session ended, so a
    # kill after the ACS heard "accepted" lost it (no 3 SCHEDULED, no M ScheduleInform, ever).
    with _killed_once_accepted(make_lab_acs, tmp_path, "ScheduleInform", schedule_inform(1, "sched-7")) as (acs, d):
        scheduled = lambda: [p for p in informs(acs) if ("M ScheduleInform", "sched-7") in p.events]  # noqa: E731
        assert wait_until(scheduled, 10), acs.transcript()
        assert events_of(scheduled()[0]) == ["3 SCHEDULED", "M ScheduleInform"]


def test_a_reboot_answered_just_before_the_daemon_is_killed_still_happens(make_lab_acs, tmp_path):
    # Reboot and FactoryReset run after the session (TR-069 A.3.2.9): a kill after the ACS heard
    # "accepted" lost the reboot and its M Reboot. Now the next start carries it out.
    record = tmp_path / "reboots"
    with _killed_once_accepted(make_lab_acs, tmp_path, "Reboot", reboot("rb-1"),
                               {"reboot-command": _recorder(record)}) as (acs, d):
        _held_start_ends_there(d, "Reboot", record)     # the same boot: the daemon only was killed
        d.boot_id = "boot-2"
        d.start()
        rebooted = lambda: [p for p in informs(acs) if ("M Reboot", "rb-1") in p.events]  # noqa: E731
        assert wait_until(rebooted, 10), acs.transcript()
        assert {"1 BOOT", "M Reboot"} <= set(events_of(rebooted()[0]))


def test_a_start_that_carries_out_a_held_factory_reset_ends_there(make_lab_acs, tmp_path):
    # Found against GenieACS: the start that ran a held FactoryReset went on starting with the
    # wiped state (listener on the default port 7547, "cannot listen ... address in use",
    # "started: status waiting-URL") before it exited to start afresh.
    record = tmp_path / "resets"
    with _killed_once_accepted(make_lab_acs, tmp_path, "FactoryReset", factory_reset(),
                               {"factory-reset-command": _recorder(record)}) as (acs, d):
        _held_start_ends_there(d, "FactoryReset", record)


def test_a_temporary_state_file_left_by_a_kill_is_removed_at_the_next_start(tmp_path):
    # Found by the kill loop: state.json.tmp.<pid> of a killed daemon stayed for ever.
    d = DaemonProc(tmp_path)
    os.makedirs(d.state_dir)
    left = os.path.join(d.state_dir, "state.json.tmp.4194999")
    with open(left, "w") as f:
        f.write('{"format": 1, "val')
    keep = os.path.join(d.state_dir, "state.json.tmp.notes")   # not one of ours: no pid
    open(keep, "w").close()
    try:
        d.start()
        assert not os.path.exists(left) and os.path.exists(keep)
    finally:
        d.stop()


def _hold_state(state_dir):
    """What an offline command or a starting daemon holds on the state folder."""
    from tr069client.store import lock_writer
    fd = lock_writer(state_dir)
    assert fd is not None
    return fd


def test_a_daemon_starting_while_an_offline_set_writes_reads_what_it_wrote(tmp_path):
    # Found by the kill loop: `tr069client set` (or `dhcp` at boot) found no daemon and wrote the
    # state file, while a daemon that had just read it started: its first save undid the change.
    from tr069client.store import Store
    d = DaemonProc(tmp_path)
    fd = _hold_state(d.state_dir)       # the offline command is half-way
    try:
        d.spawn()
        assert wait_until(lambda: os.path.exists(os.path.join(d.state_dir, "control.sock")), 10), d.log()
        store = Store.load(os.path.join(d.state_dir, "state.json"))
        store.values["Device.DeviceInfo.ProvisioningCode"] = "written-offline"
        store.save()
    finally:
        os.close(fd)
    try:
        assert wait_until(lambda: d.cli("get", "Device.DeviceInfo.ProvisioningCode", check=False).stdout.strip()
                          == "written-offline", 10), d.log()
    finally:
        d.stop()
    assert Store.load(os.path.join(d.state_dir, "state.json")).values["Device.DeviceInfo.ProvisioningCode"] \
        == "written-offline"


def test_an_offline_set_does_not_write_while_a_daemon_holds_the_state(tmp_path, monkeypatch, capsys):
    from tr069client import cli
    monkeypatch.setattr(cli, "_START_WAIT", 0.3)
    state = str(tmp_path / "state")
    fd = _hold_state(state)             # a daemon that has not answered yet
    try:
        code = cli.main(["set", "--state-dir", state, "Device.DeviceInfo.ProvisioningCode=x"])
    finally:
        os.close(fd)
    assert code == 1 and capsys.readouterr()[1] == (
        "tr069client: a tr069client daemon holds %s but does not answer; try again\n" % state)
    assert not os.path.exists(os.path.join(state, "state.json"))
    assert cli.main(["set", "--state-dir", state, "Device.DeviceInfo.ProvisioningCode=x"]) == 0
