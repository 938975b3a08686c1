"""Device operations end to end: the real daemon (a subprocess) against the lab ACS and its
file server on loopback, with platform commands that are small scripts recording their argv.
Covers Reboot, FactoryReset, every file type, descriptors, auth, failures, HoldRequests,
queued transfers, and a SIGKILL of the daemon in every transfer state. The lab_acs fixture
checks every CPE message against the CWMP schema at teardown."""

import json
import os
import sys

import pytest

import _secrets
from _daemon import DaemonProc, wait_until
from lab_acs import (cancel_transfer, download, factory_reset, get_all_queued_transfers,
                     get_parameter_values, get_queued_transfers, get_rpc_methods, reboot,
                     set_parameter_values, upload)

# Process-level: the fast subset (pytest -m "not e2e") leaves these out.
pytestmark = pytest.mark.e2e

CWMP_1_2 = "urn:dslforum-org:cwmp-1-2"
FW = "1 Firmware Upgrade Image"
CFG = "3 Vendor Configuration File"
PI = "Device.ManagementServer.PeriodicInformInterval"

# hook.py RECORD NAME ARGS...: records its call; behaviour from the file mode-NAME beside it
# ("fail", or "block": wait for go-NAME); vendor-* commands write the file to upload.
HOOK = r'''
import json, os, sys, time
record, name, args = sys.argv[1], sys.argv[2], sys.argv[3:]
folder = os.path.dirname(record)
mode_file = os.path.join(folder, "mode-" + name)
mode = open(mode_file).read().strip() if os.path.exists(mode_file) else "ok"
if name.startswith("vendor-"):
    with open(args[-1], "w") as f:
        f.write("%s of instance %r\n" % (name, os.environ.get("TR069_INSTANCE")))
files = {}
for p in args:
    if os.path.isfile(p):
        with open(p, "rb") as f:
            files[p] = f.read().decode("latin-1")
with open(record, "a") as f:
    f.write(json.dumps({"name": name, "argv": args, "files": files, "pid": os.getpid(),
                        "type": os.environ.get("TR069_FILE_TYPE")}) + "\n")
if mode == "fail":
    print("cannot apply: bad file")
    sys.exit(1)
if mode == "block":
    while not os.path.exists(os.path.join(folder, "go-" + name)):
        time.sleep(0.02)
'''
COMMANDS = ("reboot", "factory-reset", "firmware", "config-alter", "config-overwrite", "vendor-config",
            "vendor-log")


class Rig:
    """A daemon, the ACS, a file server (the same lab ACS unless told), and the hooks' records."""

    def __init__(self, tmp_path, acs):
        self.dir = tmp_path
        self.acs = acs
        self.hooks = tmp_path / "hooks"
        self.hooks.mkdir()
        (self.hooks / "hook.py").write_text(HOOK)
        self.record = self.hooks / "calls.jsonl"
        cfg = {name + "-command": [sys.executable, str(self.hooks / "hook.py"), str(self.record), name]
               for name in COMMANDS}
        cfg.update({"download-dir": str(tmp_path / "dl"), "hook-timeout": 60, "software-version": "1.0"})
        self.cfg = cfg
        # At debug level the whole SOAP exchange is logged: passwords must still not show.
        self.d = DaemonProc(tmp_path, acs, config=cfg, log_level="debug")

    def new_image(self, version):
        """What the device runs from now on reports SoftwareVersion `version`."""
        self.cfg["software-version"] = version
        self.d.write_config(self.cfg)

    def calls(self, name=None):
        if not self.record.exists():
            return []
        out = [json.loads(line) for line in self.record.read_text().splitlines()]
        return [c for c in out if name is None or c["name"] == name]

    def wait_calls(self, name, n=1, timeout=20):
        if not wait_until(lambda: len(self.calls(name)) >= n, timeout):
            raise AssertionError("%s ran %d times, not %d; log:\n%s\n%s" % (
                name, len(self.calls(name)), n, self.d.log(), self.acs.transcript()))
        return self.calls(name)

    def mode(self, name, mode):
        (self.hooks / ("mode-" + name)).write_text(mode)

    def release(self, name):
        (self.hooks / ("go-" + name)).write_text("")

    def start(self):
        self.d.start()
        return self

    def kick(self, rpcs, hold=None):
        """Plan the next session and ask the running daemon for it now."""
        self.acs.queue_session(list(rpcs), hold_requests=hold)
        self.d.cli("inform")

    def wait_sessions(self, n, timeout=20):
        return self.acs.wait_sessions(n, timeout)

    def wait_exit(self, timeout=20):
        """The daemon ends by itself after a reboot command; its exit status."""
        if not wait_until(lambda: self.d.proc.poll() is not None, timeout):
            raise AssertionError("daemon still running; log:\n" + self.d.log())
        return self.d.proc.returncode

    def transfers(self):
        return self.d.state()["state"].get("transfers", [])

    def wait_state(self, state, timeout=20):
        if not wait_until(lambda: [t for t in self.transfers() if t["state"] == state], timeout):
            raise AssertionError("no transfer became %r: %r; log:\n%s" % (state, self.transfers(), self.d.log()))

    def transfer_completes(self, n=1, timeout=20):
        done = self.acs.wait_for(lambda a: len(self.tcs()) >= n, timeout)
        if not done:
            raise AssertionError("%d TransferComplete(s) expected; log:\n%s\n%s" % (
                n, self.d.log(), self.acs.transcript()))
        return self.tcs()

    def tcs(self):
        return [p for m, p in self.acs.requests if m == "TransferComplete"]

    def events(self, n):
        """Events of the n-th Inform (from 1), without 4 VALUE CHANGE: with --cr-port 0 every
        start listens on a new port, and a new ConnectionRequestURL is always notified."""
        return [e for e in self.acs.informs[n - 1]["events"] if e[0] != "4 VALUE CHANGE"]

    def tc_session(self, key, acs=None):
        """(number, events) of the session whose TransferComplete carried CommandKey `key`."""
        tag = ("<CommandKey>%s</CommandKey>" % key).encode()
        for s in (acs or self.acs).sessions:
            if any(x.cpe_message == "TransferComplete" and tag in x.request_body for x in s):
                return s.number, [e for e in s.inform["events"] if e[0] != "4 VALUE CHANGE"]
        raise AssertionError("no TransferComplete for %r" % key)

    def responses(self, method):
        return [p for m, p in self.acs.responses if m == method]

    def faults(self):
        return [(p["request"], p["FaultCode"], p["FaultString"]) for m, p in self.acs.responses if m == "Fault"]


@pytest.fixture
def rig(request, tmp_path, make_lab_acs):
    """The rig; parametrize it indirectly with LabAcs options (e.g. the ACS's namespace)."""
    r = Rig(tmp_path, make_lab_acs(**getattr(request, "param", {})))
    r.make_lab_acs = make_lab_acs
    yield r
    for name in COMMANDS:
        r.release(name)
    if r.d.running():
        r.d.stop()
    for c in r.calls():  # blocked hooks of a killed daemon were released above
        wait_until(lambda: not _alive(c["pid"]), 10)
    if os.path.isdir(str(tmp_path / "dl")):
        assert [n for n in os.listdir(str(tmp_path / "dl")) if n.endswith(".part")] == []


def _alive(pid):
    """True while `pid` runs (a zombie left to a PID 1 that does not reap counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _started(rig):
    """Start the daemon and let its first (BOOTSTRAP) session end."""
    rig.start()
    rig.wait_sessions(1)
    assert rig.events(1) == [("0 BOOTSTRAP", ""), ("1 BOOT", "")]
    return rig


def test_reboot_then_boot_with_the_command_key(rig):
    _started(rig)
    rig.kick([get_rpc_methods(), reboot("rk-1")])
    assert rig.wait_exit() == 0  # the supervisor restarts it, as after a real reboot
    assert [c["argv"] for c in rig.calls()] == [[]]
    rig.start()
    rig.wait_sessions(3)
    assert rig.events(3) == [("1 BOOT", ""), ("M Reboot", "rk-1")]
    # GetRPCMethods lists exactly the RPC table, less what the session's cwmp-1-0 lacks.
    from tr069client import identity, namespaces
    from tr069client.device import Device
    from tr069client.store import Store
    table = set(Device(Store(), {}, identity.resolve({})).handlers)
    (methods,) = rig.responses("GetRPCMethodsResponse")
    assert sorted(methods["MethodList"]) == sorted(table - {"GetAllQueuedTransfers", "CancelTransfer"})
    assert {"Download", "Upload", "Reboot", "FactoryReset", "GetQueuedTransfers", "GetAllQueuedTransfers",
            "CancelTransfer"} <= table and table - namespaces.methods(namespaces.CWMP_1_2) == set()


def test_factory_reset_wipes_our_state(rig):
    _started(rig)
    rig.kick([set_parameter_values([(PI, "1234", "xsd:unsignedInt")], "pk"), factory_reset()])
    assert rig.wait_exit() == 0
    assert [c["name"] for c in rig.calls()] == ["factory-reset"]
    rig.acs.queue_session([get_parameter_values([PI, "Device.ManagementServer.ParameterKey"])])
    rig.start()
    rig.wait_sessions(3)
    assert rig.events(3) == [("0 BOOTSTRAP", ""), ("1 BOOT", "")]
    values = rig.responses("GetParameterValuesResponse")[-1]
    assert values[PI][0] == "3600" and values["Device.ManagementServer.ParameterKey"][0] == ""


def test_firmware_descriptor_with_several_links_then_reboot(rig):
    acs = rig.acs
    parts = [os.urandom(150000), b"second part", os.urandom(1000)]
    links = [acs.add_file("p%d.bin" % n, data, auth="basic", username="fu", password=_secrets.FIRMWARE)
             for n, data in enumerate(parts, 1)]
    desc = ('<?xml version="1.0"?><upgrade version="1" type="links"><config/><software-version>2.0'
            '</software-version><links>%s</links></upgrade>' % "".join("<link><url>%s</url></link>" % u
                                                                       for u in links)).encode()
    url = acs.add_file("upgrade.xml", desc, auth="basic", username="fu", password=_secrets.FIRMWARE)
    _started(rig)
    rig.kick([download("fw-1", FW, url, "fu", _secrets.FIRMWARE, file_size=len(desc))])
    assert rig.wait_exit() == 0
    (fw,) = rig.calls("firmware")
    assert [fw["files"][p].encode("latin-1") for p in fw["argv"]] == parts  # all of them, in order
    assert fw["type"] == FW
    assert len(rig.calls("reboot")) == 1
    assert rig.tcs() == []  # reported only after the boot
    rig.new_image("2.0")
    rig.start()
    rig.wait_sessions(3)
    assert rig.events(3) == [("1 BOOT", ""), ("7 TRANSFER COMPLETE", ""), ("M Download", "fw-1")]
    (tc,) = rig.transfer_completes()
    assert rig.tc_session("fw-1")[0] == 3
    assert (tc["CommandKey"], tc["FaultCode"], tc["FaultString"]) == ("fw-1", 0, "")
    assert tc["StartTime"] != "0001-01-01T00:00:00Z" and tc["CompleteTime"] >= tc["StartTime"]
    assert wait_until(lambda: rig.transfers() == [] and rig.d.state()["state"]["events"] == [], 10)
    assert "<Password>[redacted]</Password>" in rig.d.log()
    assert _secrets.FIRMWARE not in rig.d.log()  # never a password in the log


def test_vendor_configuration_files(rig):
    acs = rig.acs
    alter = acs.add_file("site.alter", b"set wifi.ssid=lab\n", auth="digest", username="fu", password=_secrets.FILE)
    over = acs.add_file("blob", b"whole configuration\n")
    _started(rig)
    rig.kick([download("c-1", CFG, alter, "fu", _secrets.FILE),
              download("c-2", CFG, over, target_file_name="router.overwrite"),
              download("c-3", CFG, acs.add_file("x.cfg", b"?"))])
    tcs = rig.transfer_completes(2)
    assert sorted((t["CommandKey"], t["FaultCode"]) for t in tcs) == [("c-1", 0), ("c-2", 0)]
    (a,), (o,) = rig.calls("config-alter"), rig.calls("config-overwrite")
    assert list(a["files"].values()) == ["set wifi.ssid=lab\n"] and a["argv"][0].endswith("-site.alter")
    assert list(o["files"].values()) == ["whole configuration\n"]
    (_, code, text), = rig.faults()
    assert code == 9003 and "must be named *.alter" in text and "'x.cfg' is neither" in text
    assert [n for n in acs.file_requests if n["name"] == "x.cfg"] == []  # refused, not fetched


@pytest.mark.parametrize("file_type, hook", [("1 Vendor Configuration File", "vendor-config"),
                                             ("4 Vendor Log File 2", "vendor-log")])
def test_upload(rig, file_type, hook):
    url = rig.acs.upload_url("up.txt", auth="digest", username="uu", password=_secrets.UPLOAD)
    _started(rig)
    rig.kick([upload("up-1", file_type, url, "uu", _secrets.UPLOAD)])
    (tc,) = rig.transfer_completes()
    assert (tc["CommandKey"], tc["FaultCode"]) == ("up-1", 0)
    assert rig.tc_session("up-1")[1] == [("7 TRANSFER COMPLETE", ""), ("M Upload", "up-1")]
    instance = "2" if file_type.startswith("4") else ""
    assert rig.acs.uploads["up.txt"] == ("%s of instance %r\n" % (hook, instance)).encode()


@pytest.mark.parametrize("rig, codes", [({}, (9010, 9010)), ({"namespace": CWMP_1_2}, (9018, 9017))],
                         indirect=["rig"], ids=["cwmp-1-0", "cwmp-1-2"])
def test_download_failures(rig, codes):
    """cwmp-1-0 knows no 9017/9018 in TransferComplete: 9010 then, with the same sentence."""
    acs = rig.acs
    _started(rig)
    rig.mode("config-alter", "fail")
    rig.kick([download("size", CFG, acs.add_file("a.alter", b"x" * 3000), file_size=2000),
              download("dies", CFG, acs.add_file("b.alter", os.urandom(300000), die_after=150000),
                       file_size=300000),
              download("auth", CFG, acs.add_file("c.alter", b"x", auth="digest"), "file-user", _secrets.WRONG),
              download("hook", CFG, acs.add_file("d.alter", b"set x\n")),
              download("ftp", CFG, "ftp://127.0.0.1/e.alter"),
              download("web", "2 Web Content", acs.file_url("a.alter"))])
    tcs = {t["CommandKey"]: (t["FaultCode"], t["FaultString"]) for t in rig.transfer_completes(4)}
    assert tcs["size"][0] == codes[0] and "larger than the 2000 bytes allowed" in tcs["size"][1]
    assert tcs["dies"][0] == codes[1] and "lost in the middle of a response" in tcs["dies"][1]
    assert tcs["auth"][0] == 9012 and "refused the credentials" in tcs["auth"][1]
    assert tcs["hook"] == (9002, "config-alter-command failed (exit status 1): cannot apply: bad file")
    assert [(r, c) for r, c, _ in rig.faults()] == [("Download", 9013), ("Download", 9003)]
    assert len(rig.calls("config-alter")) == 1
    # The operator sees the last failure even though the session that reported it went well.
    assert wait_until(lambda: rig.transfers() == [], 10)
    assert "failed with fault" in rig.d.status()["last-session-error"]


def test_transfer_complete_held_while_hold_requests(rig):
    _started(rig)
    rig.acs.queue_session([download("held", CFG, rig.acs.add_file("h.alter", b"set y\n"))])
    rig.kick([get_rpc_methods()], hold=True)  # the session after it, which reports it, is held
    (tc,) = rig.transfer_completes()
    # The held session carried the events but no TransferComplete (the lab ACS would also flag
    # one as a problem); the next session brought it.
    (held,) = [s for s in rig.acs.sessions if s.hold_requests]
    assert ("7 TRANSFER COMPLETE", "") in held.inform["events"] and ("M Download", "held") in held.inform["events"]
    assert "TransferComplete" not in [x.cpe_message for x in held]
    number, events = rig.tc_session("held")
    assert number == held.number + 1 and events == [("7 TRANSFER COMPLETE", ""), ("M Download", "held")]


@pytest.mark.parametrize("rig", [{"namespace": CWMP_1_2}], indirect=True)
def test_queued_transfers_and_cancel(rig):
    _started(rig)
    later = rig.acs.file_url("later.alter")
    rig.kick([download("a", CFG, later, file_size=5, delay_seconds=3600),
              download("b", FW, rig.acs.file_url("fw.bin"), target_file_name="fw.bin", delay_seconds=3600),
              upload("c", "2 Vendor Log File", rig.acs.upload_url("log"), delay=3600),
              get_all_queued_transfers(), get_queued_transfers(),
              cancel_transfer("a"), cancel_transfer("nope"), get_all_queued_transfers()])
    rig.wait_sessions(2)
    first, last = rig.responses("GetAllQueuedTransfersResponse")
    assert first["TransferList"] == [
        {"CommandKey": "a", "State": "1", "IsDownload": "true", "FileType": CFG, "FileSize": "5", "TargetFileName": ""},
        {"CommandKey": "b", "State": "1", "IsDownload": "true", "FileType": FW, "FileSize": "0",
         "TargetFileName": "fw.bin"},
        {"CommandKey": "c", "State": "1", "IsDownload": "false", "FileType": "2 Vendor Log File", "FileSize": "0",
         "TargetFileName": ""}]
    assert [t["CommandKey"] for t in last["TransferList"]] == ["b", "c"]
    (queued,) = rig.responses("GetQueuedTransfersResponse")
    assert queued["TransferList"] == [{"CommandKey": k, "State": "1"} for k in "abc"]
    assert [(r, c) for r, c, _ in rig.faults()] == [("CancelTransfer", 9021)]
    assert [t["key"] for t in rig.transfers()] == ["b", "c"]


# --- a SIGKILL in every transfer state -----------------------------------------------------------

def test_kill_while_pending(rig):
    _started(rig)
    rig.kick([download("p", CFG, rig.acs.add_file("p.alter", b"set p\n"), delay_seconds=3)])
    rig.wait_sessions(2)
    rig.d.kill()
    assert [t["state"] for t in rig.transfers()] == ["queued"]
    rig.start()  # same boot: no session until the transfer is done
    (tc,) = rig.transfer_completes()
    assert (tc["CommandKey"], tc["FaultCode"]) == ("p", 0)
    assert rig.tc_session("p")[1] == [("7 TRANSFER COMPLETE", ""), ("M Download", "p")]
    assert len(rig.calls("config-alter")) == 1


def test_kill_while_downloading(rig):
    data = os.urandom(400000)
    url = rig.acs.add_file("slow.alter", data, stall_after=100000)
    _started(rig)
    rig.kick([download("dl", CFG, url, file_size=len(data))])
    assert rig.acs.wait_for(lambda a: "slow.alter" in a.stalled, 20)
    rig.wait_state("transferring")
    rig.d.kill()
    rig.acs.release_file("slow.alter")
    rig.start()  # partial file removed, downloaded again from the start
    (tc,) = rig.transfer_completes()
    assert (tc["CommandKey"], tc["FaultCode"]) == ("dl", 0)
    (call,) = rig.calls("config-alter")
    assert list(call["files"].values()) == [data.decode("latin-1")]
    whole = rig.acs.wait_for(lambda a: [r["sent"] for r in a.file_requests
                                        if r["name"] == "slow.alter" and not r.get("held")])
    assert whole == [len(data)]


def test_kill_while_applying(rig):
    rig.mode("config-alter", "block")
    _started(rig)
    rig.kick([download("ap", CFG, rig.acs.add_file("ap.alter", b"set a\n"))])
    (call,) = rig.wait_calls("config-alter")
    rig.wait_state("applying")
    rig.d.kill()
    rig.release("config-alter")
    assert wait_until(lambda: not _alive(call["pid"]), 10)
    rig.start()  # same boot: whether the command finished is unknown
    (tc,) = rig.transfer_completes()
    assert (tc["CommandKey"], tc["FaultCode"], tc["FaultString"]) == (
        "ap", 9002, "tr069client stopped while config-alter-command ran; its outcome is unknown")
    assert len(rig.calls("config-alter")) == 1  # never run twice


@pytest.mark.parametrize("image, outcome", [
    ("2.0", (0, "")),
    ("1.0", (9010, "the device restarted while firmware-command ran but still runs SoftwareVersion '1.0', "
                   "as before the upgrade: the new firmware did not take effect")),
], ids=["new-image-runs", "old-image-runs"])
def test_kill_by_a_firmware_command_that_reboots(rig, image, outcome):
    """sysupgrade kills every process and reboots: after the boot the upgrade counts as done
    if the device runs another SoftwareVersion than before."""
    rig.mode("firmware", "block")
    _started(rig)
    rig.kick([download("sysup", FW, rig.acs.add_file("fw.bin", b"\x27\x05\x19\x56image"))])
    rig.wait_calls("firmware")
    rig.wait_state("applying")
    rig.d.kill()
    rig.release("firmware")
    rig.d.boot_id = "boot-2"
    rig.new_image(image)
    rig.start()
    rig.wait_sessions(3)
    assert rig.events(3) == [("1 BOOT", ""), ("7 TRANSFER COMPLETE", ""), ("M Download", "sysup")]
    (tc,) = rig.transfer_completes()
    assert (tc["CommandKey"], tc["FaultCode"], tc["FaultString"]) == ("sysup",) + outcome
    assert rig.calls("reboot") == []


def test_kill_after_the_download_before_the_firmware_command_started(rig):
    """Issue 15.2: the image is downloaded, the daemon is killed before the firmware command
    starts, the next start sees a new boot. The state is the one such a kill left before the
    start was recorded with "applying": applying, with no sign that the command started."""
    _started(rig)
    rig.kick([download("never", FW, rig.acs.file_url("fw.bin"), delay_seconds=3600)])
    rig.wait_sessions(2)
    rig.d.kill()
    saved = rig.d.state()
    (rec,) = saved["state"]["transfers"]
    os.makedirs(str(rig.dir / "dl"), exist_ok=True)
    image = str(rig.dir / "dl" / ("t%d-0-fw.bin" % rec["id"]))
    with open(image, "wb") as f:
        f.write(b"\x27\x05\x19\x56image")
    rec.update(state="applying", files=[image], boot=saved["state"]["boot_id"], tries=1,
               start=rec["due"] - 3600)
    with open(os.path.join(rig.d.state_dir, "state.json"), "w") as f:
        json.dump(saved, f)
    rig.d.boot_id = "boot-2"
    rig.new_image("2.0")   # even a new version is no proof: nothing of ours installed it
    rig.start()
    (tc,) = rig.transfer_completes()
    assert (tc["CommandKey"], tc["FaultCode"], tc["FaultString"]) == (
        "never", 9002, "the device restarted before firmware-command started; nothing was installed")
    assert rig.calls("firmware") == [] and not os.path.exists(image)


def test_kill_when_completed_but_not_acknowledged(rig):
    files = rig.make_lab_acs()
    url = files.add_file("c.alter", b"set c\n")
    _started(rig)
    rig.kick([download("ack", CFG, url)])
    rig.wait_sessions(2)
    port = rig.acs.port
    rig.acs.stop()  # the ACS is gone: the TransferComplete cannot be delivered
    rig.wait_state("done")
    rig.d.kill()
    acs = rig.make_lab_acs(port=port)
    rig.start()
    tc = acs.wait_for(lambda a: [p for m, p in a.requests if m == "TransferComplete"], 20)
    assert tc, rig.d.log()
    assert (tc[0]["CommandKey"], tc[0]["FaultCode"]) == ("ack", 0)
    assert rig.tc_session("ack", acs) == (1, [("7 TRANSFER COMPLETE", ""), ("M Download", "ack")])
    assert wait_until(lambda: rig.transfers() == [], 10)
    assert len(rig.calls("config-alter")) == 1
