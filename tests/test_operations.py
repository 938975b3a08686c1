"""Reboot and FactoryReset: the RPCs defer their work; the runners run the platform command,
leave the events for the next start, and stop the daemon (or say why they could not)."""

import json
import sys

import pytest
from defusedxml.ElementTree import fromstring

from tr069client import operations
from tr069client.actions import FactoryReset, Reboot
from tr069client.events import EventQueue
from tr069client.faults import CwmpFault
from tr069client.rpcs import Context
from tr069client.store import Store

# Writes its argv and the state file as it was when it ran: was everything saved first?
HOOK = r'''
import json, sys
record, state, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(state) as f:
    saved = json.load(f)["state"]
with open(record, "a") as f:
    f.write(json.dumps({"argv": sys.argv[4:], "saved": saved}) + "\n")
if code:
    print("reboot: permission denied")
sys.exit(code)
'''


@pytest.fixture
def ops(tmp_path):
    (tmp_path / "hook.py").write_text(HOOK)
    store = Store(str(tmp_path / "state.json"))
    store.values["Device.ManagementServer.URL"] = "http://acs/"
    store.state.update({"events": [["2 PERIODIC", ""]], "bootstrap_url": "http://acs/", "transfers": [{"id": 1}]})
    store.save()
    record = tmp_path / "calls.jsonl"

    def hook(code=0):
        return [sys.executable, str(tmp_path / "hook.py"), str(record), store.path, str(code)]
    stops, cleaned = [], []
    o = operations.Operations(store, EventQueue(store), {"reboot-command": hook(), "factory-reset-command": hook(),
                                      "hook-timeout": 30},
                              stop=lambda: stops.append(1), clean=lambda: cleaned.append(1))
    o.hook, o.stops, o.cleaned = hook, stops, cleaned
    o.calls = lambda: [json.loads(x) for x in record.read_text().splitlines()] if record.exists() else []
    return o


def test_rpcs_only_queue_actions():
    ctx = Context(None, handlers=operations.RPCS)
    assert operations.reboot(ctx, fromstring("<Reboot><CommandKey> rk </CommandKey></Reboot>")) == ""
    assert operations.factory_reset(ctx, fromstring("<FactoryReset/>")) == ""
    assert ctx.actions == [Reboot("rk"), FactoryReset()]
    assert [type(a) for a in ctx.actions] == [Reboot, FactoryReset]
    with pytest.raises(CwmpFault) as e:
        operations.reboot(ctx, fromstring("<Reboot><CommandKey>%s</CommandKey></Reboot>" % ("k" * 33)))
    assert e.value.code == 9003


def test_reboot(ops):
    ops.reboot("rk")
    (call,) = ops.calls()
    # Saved before the command ran: it may never return on a real device.
    assert call["saved"]["expect_boot"] == "started"
    assert ["M Reboot", "rk"] in call["saved"]["events"]
    assert ops.stops == [1] and ops.store.state["expect_boot"] == "returned"


def test_reboot_command_failure(ops):
    ops.cfg["reboot-command"] = ops.hook(1)
    ops.reboot("rk")
    st = ops.store.state
    assert ops.stops == [] and "expect_boot" not in st
    assert st["events"] == [["2 PERIODIC", ""]]
    assert st["last_error"] == st["operation_error"] == (
        "Reboot (CommandKey 'rk'): the device did not reboot: reboot-command failed (exit status 1): "
        "reboot: permission denied")
    with open(ops.store.path) as f:
        assert json.load(f)["state"]["operation_error"] == st["operation_error"]


def test_factory_reset(ops):
    ops.factory_reset()
    (call,) = ops.calls()
    assert call["saved"] == {"expect_boot": "started"}  # own state wiped first, then the command
    assert ops.store.values == {} and ops.store.state == {"expect_boot": "returned"}
    assert ops.cleaned == [1] and ops.stops == [1]


def test_factory_reset_without_a_command_resets_our_state(ops):
    del ops.cfg["factory-reset-command"]
    ops.factory_reset()
    assert ops.calls() == []
    assert ops.store.state == {"expect_boot": "returned"} and ops.stops == [1]


def test_factory_reset_command_failure_is_reported(ops):
    ops.cfg["factory-reset-command"] = ops.hook(2)
    ops.factory_reset()
    assert ops.store.state["last_error"].startswith(
        "FactoryReset: tr069client's state was reset, but the device was not: factory-reset-command failed (exit status 2)")
    assert ops.stops == [1] and "expect_boot" not in ops.store.state   # 0 BOOTSTRAP, but no 1 BOOT


def test_restart_device_after_firmware(ops):
    assert ops.restart_device("firmware upgrade") is True
    assert ops.store.state["expect_boot"] == "returned" and ops.stops == [1]
    ops.cfg["reboot-command"] = ["/nonexistent/reboot"]
    assert ops.restart_device("firmware upgrade") is False
    assert "expect_boot" not in ops.store.state
    assert ops.store.state["last_error"] == ("firmware upgrade: the device did not reboot: reboot-command could "
                                             "not start /nonexistent/reboot: No such file or directory")
