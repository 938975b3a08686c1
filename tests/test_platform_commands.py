"""Platform commands: argument lists without a shell, a timeout, clear error sentences."""

import json
import os
import sys

import pytest

from tr069client import platform_commands

RECORDER = r'''
import json, os, sys, time
record, mode = sys.argv[1], sys.argv[2]
with open(record, "a") as f:
    f.write(json.dumps({"argv": sys.argv[3:], "type": os.environ.get("TR069_FILE_TYPE"),
                        "pid": os.getpgid(0)}) + "\n")
if mode == "fail":
    print("first line")
    print("image check failed: bad magic")
    sys.exit(3)
if mode == "hang":
    with open(record + ".pid", "w") as f:
        f.write(str(os.getpid()))
    time.sleep(120)
if mode.startswith("wait:"):
    while not os.path.exists(mode[5:]):
        time.sleep(0.02)
'''


@pytest.fixture
def hook(tmp_path):
    script = tmp_path / "hook.py"
    script.write_text(RECORDER)
    record = tmp_path / "record.jsonl"

    def make(mode="ok"):
        return [sys.executable, str(script), str(record), mode]

    def calls():
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text().splitlines()]
    make.calls = calls
    make.record = record
    return make


def test_acs_text_stays_one_argument_each(hook):
    hostile = ["/tmp/x; rm -rf /", "$(reboot)", "a b", "`id`", "-rf"]
    platform_commands.run("config-alter-command", hook(), hostile, timeout=30, env={"TR069_FILE_TYPE": "3 Vendor Configuration File"})
    assert [(c["argv"], c["type"]) for c in hook.calls()] == [(hostile, "3 Vendor Configuration File")]


def test_returns_the_last_line_printed(tmp_path):
    assert platform_commands.run("x", [sys.executable, "-c", "print('one'); print('two')"]) == "two"


def test_failure_gives_status_and_last_line(hook):
    with pytest.raises(platform_commands.CommandError) as e:
        platform_commands.run("firmware-command", hook("fail"), ["/tmp/img"])
    assert str(e.value) == "firmware-command failed (exit status 3): image check failed: bad magic"


def test_killed_by_a_signal(tmp_path):
    argv = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    with pytest.raises(platform_commands.CommandError) as e:
        platform_commands.run("reboot-command", argv)
    assert str(e.value) == "reboot-command failed (killed by signal 9)"


def test_missing_program(tmp_path):
    with pytest.raises(platform_commands.CommandError) as e:
        platform_commands.run("reboot-command", [str(tmp_path / "no-such-reboot")])
    assert str(e.value) == "reboot-command could not start %s: No such file or directory" % (
        tmp_path / "no-such-reboot")


def test_timeout_stops_the_command(hook):
    with pytest.raises(platform_commands.CommandError) as e:
        platform_commands.run("vendor-log-command", hook("hang"), timeout=1)
    assert str(e.value) == "vendor-log-command did not finish within 1 s and was stopped"
    pid = int(open(str(hook.record) + ".pid").read())
    with pytest.raises(OSError):  # gone: killed and reaped
        os.kill(pid, 0)


def test_service_runs_while_the_command_does(hook, tmp_path):
    go = tmp_path / "go"
    seen = []

    def service():
        seen.append(1)
        go.write_text("")  # the command waits for this: it ends only if service() ran
    platform_commands.run("firmware-command", hook("wait:%s" % go), timeout=60, service=service, poll=0.01)
    assert seen


def test_started_gets_the_process_group_and_alive_follows_it(hook):
    got = []
    platform_commands.run("firmware-command", hook(), started=got.append)
    (pgid,) = got
    assert pgid == hook.calls()[0]["pid"] and not platform_commands.alive(pgid)  # its own group, now gone
    assert platform_commands.alive(os.getpgid(0)) and not platform_commands.alive(None)


def test_command_from_config():
    assert platform_commands.command({}, "reboot-command") == ["reboot"]
    assert platform_commands.command({}, "firmware-command") is None
    assert platform_commands.command({"firmware-command": ["sysupgrade", "-v"]}, "firmware-command") == ["sysupgrade", "-v"]


def test_firmware_command_has_its_own_timeout():
    cfg = {"hook-timeout": 5}
    assert platform_commands.timeout(cfg, "reboot-command") == 5 and platform_commands.timeout(cfg, "firmware-command") == 1800
    assert platform_commands.timeout({"firmware-timeout": 7200}, "firmware-command") == 7200
