"""The transfer queue: RPCs, the persisted life cycle, restarts in every state, TransferComplete.
A hand-written worker stands in for fetch.Worker; the clock is a parameter; the store is a
real file, read back from disk to prove each step was saved before it ran."""

import json

import pytest
from defusedxml.ElementTree import fromstring

import _secrets
from tr069client import fetch, soap, transfers
from tr069client.events import EventQueue
from tr069client.faults import CwmpFault
from tr069client.rpcs import Context
from tr069client.store import Store

T0 = 1700000000.0
CWMP = "urn:dslforum-org:cwmp-1-2"


class Worker:
    """Records each step with the transfer's state as saved on disk at that moment."""

    def __init__(self, store):
        self.store, self.steps, self.faults = store, [], {}

    def _on_disk(self, rec):
        return self._on_disk_rec(rec)["state"]

    def _on_disk_rec(self, rec):
        with open(self.store.path) as f:
            return next(r for r in json.load(f)["state"]["transfers"] if r["id"] == rec["id"])

    def plan(self, rec):
        fetch.check_url(rec["url"])
        rec["hook"] = "firmware-command" if rec["file_type"] == fetch.FIRMWARE else "config-alter-command"

    def transfer(self, rec):
        self.steps.append(("transfer", rec["id"], self._on_disk(rec)))
        if ("transfer", rec["id"]) in self.faults:
            raise self.faults[("transfer", rec["id"])]
        return [] if rec["kind"] == "Upload" else ["/dl/t%d-0-file" % rec["id"]]

    def apply(self, rec, files, started=None):
        self.steps.append(("apply", rec["id"], self._on_disk(rec), files))
        if started is not None:
            started(4242)
            self.steps.append(("started", self._on_disk_rec(rec)["pid"]))
        if ("apply", rec["id"]) in self.faults:
            raise self.faults[("apply", rec["id"])]

    def clean(self, keep=()):
        self.steps.append(("clean", sorted(keep)))


class Planner:
    """Whether a session is due, as the planner says."""

    def __init__(self):
        self.due_now = False

    def due(self, mono):
        return self.due_now


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def q(tmp_path):
    store = Store(str(tmp_path / "state.json"))
    store.state["boot_id"] = "boot-A"
    clock = Clock()
    reboots = []
    version = {"now": "1.0"}   # DeviceInfo.SoftwareVersion as the device runs it
    planner = Planner()
    queue = transfers.Queue(store, EventQueue(store), lambda: Worker(store), clock=clock,
                            reboot=lambda why: reboots.append(why) or True, session_due=planner.due,
                            version=lambda: version["now"])
    queue.planner = planner
    queue.clock_, queue.reboots, queue.version_ = clock, reboots, version
    queue.ctx = Context(None, handlers=transfers.rpcs(queue))
    queue.tick(0.0, T0)  # the first tick settles what a restart left: nothing here, so no worker
    assert queue._worker is None
    return queue


def req(method, ns=None, **fields):
    return fromstring('<cwmp:%s xmlns:cwmp="%s">%s</cwmp:%s>' % (
        method, ns or CWMP, "".join("<%s>%s</%s>" % (k, soap.escape(str(v)), k) for k, v in fields.items()), method))


def download(q, key="k1", url="http://fs/fw.bin", file_type=fetch.FIRMWARE, delay=0, **more):
    return call(q, "Download", CommandKey=key, FileType=file_type, URL=url, Username="u", Password=_secrets.TRANSFER,
                FileSize=more.pop("size", 0), TargetFileName="", DelaySeconds=delay, **more)


def config(q, key="k1", **more):
    """A Download whose command does not reboot: done once the command returns."""
    return download(q, key=key, url="http://fs/c.alter", file_type=fetch.VENDOR_CONFIG, **more)


def call(q, method, ns=CWMP, **fields):
    """Run an RPC as the session engine does; its response (or fault) validated by the schema."""
    q.ctx.ns = ns   # the session engine's choice: the namespace of the answer
    try:
        inner = q.ctx.handlers[method](q.ctx, req(method, ns, **fields))
        body = "<cwmp:%sResponse>%s</cwmp:%sResponse>" % (method, inner, method)
        result = inner
    except CwmpFault as f:
        body = soap.fault(f.code, f.message)
        result = f
    _valid(body, ns)
    return result


def _valid(body, ns=CWMP):
    import cwmp_schema
    cwmp_schema.validate(b"".join(soap.envelope(ns, "id-1", [body])))


def on_disk(q):
    with open(q.store.path) as f:
        return json.load(f)["state"]


def test_download_is_saved_before_it_is_answered(q):
    assert download(q, size=1234) == (
        "<Status>1</Status><StartTime>0001-01-01T00:00:00Z</StartTime><CompleteTime>0001-01-01T00:00:00Z</CompleteTime>")
    (rec,) = on_disk(q)["transfers"]
    assert (rec["state"], rec["key"], rec["url"], rec["size"], rec["hook"]) == (
        "queued", "k1", "http://fs/fw.bin", 1234, "firmware-command")
    assert rec["password"] == _secrets.TRANSFER  # needed after a restart; the state file is 0600


@pytest.mark.parametrize("fields, code, why", [
    ({"URL": "ftp://fs/fw.bin"}, 9013, "unsupported protocol 'ftp'"),
    ({"CommandKey": "k" * 33}, 9003, "CommandKey is longer than 32 characters"),
    ({"FileSize": "-1"}, 9003, "FileSize must be an unsigned integer"),
    ({"DelaySeconds": "4294967296"}, 9003, "DelaySeconds must be an unsigned integer"),
    ({"FileSize": "\u00b2"}, 9003, "FileSize must be an unsigned integer"),       # isdigit(), int() fails
    ({"DelaySeconds": "\u0661\u0662"}, 9003, "DelaySeconds must be an unsigned integer"),  # not xsd digits
])
def test_download_arguments_checked(q, fields, code, why):
    args = dict(CommandKey="k", FileType=fetch.FIRMWARE, URL="http://fs/x", FileSize=0, DelaySeconds=0)
    args.update(fields)
    f = call(q, "Download", **args)
    assert isinstance(f, CwmpFault) and f.code == code and why in f.message
    assert q.items == []


def test_missing_url_is_9003(q):
    f = call(q, "Download", CommandKey="k", FileType=fetch.FIRMWARE)
    assert (f.code, f.message) == (9003, "argument URL is missing")


def test_queue_is_bounded(q):
    for n in range(transfers.MAX_TRANSFERS):
        download(q, key="k%d" % n, delay=3600)
    f = download(q, key="one-too-many")
    assert (f.code, f.message) == (9004, "the transfer queue is full (16 transfers)")
    # The full list is still schema-valid (TransferList allows 16 entries).
    call(q, "GetAllQueuedTransfers")
    call(q, "GetQueuedTransfers")


def test_delay_and_life_cycle(q):
    download(q, delay=30)
    assert q.deadline(100.0, T0) == 130.0
    q.tick(129.0, T0 + 29)
    assert q.worker.steps == [] and q.items[0]["state"] == "queued"
    q.clock_.now = T0 + 30
    q.tick(130.0, T0 + 30)
    assert q.worker.steps[:3] == [("transfer", 1, "transferring"), ("apply", 1, "applying", ["/dl/t1-0-file"]),
                                  ("started", 4242)]  # the command's process group, saved at once
    (rec,) = on_disk(q)["transfers"]
    # Firmware: the command returned, the reboot decides; the start was saved before it ran.
    assert (rec["state"], rec["returned"], rec["launched"], rec["version"]) == ("applying", True, T0 + 30, "1.0")
    assert q.reboots == ["firmware upgrade (Download CommandKey 'k1')"]
    assert q.requests() == [] and "events" not in on_disk(q)
    q.version_["now"] = "2.0"   # the new image
    q.clock_.now = T0 + 90
    again = restart(q, wall=T0 + 90)   # the daemon after the reboot (expect_boot: maybe the same boot id)
    (rec,) = again.items
    assert (rec["state"], rec["fault"], rec["start"], rec["complete"]) == ("done", [0, ""], T0 + 30, T0 + 90)
    assert again.store.state["events"] == [["7 TRANSFER COMPLETE", ""], ["M Download", "k1"]]
    assert again.deadline(130.0, T0 + 90) is None


def test_transfer_complete_until_acknowledged(q):
    download(q, key="fw", delay=0)
    q.worker.faults[("transfer", 1)] = CwmpFault(9017, "connection to the file server was lost")
    q.clock_.now = T0 + 5
    q.tick(0.0, T0)
    (tc,) = q.requests()
    assert tc.method == "TransferComplete"
    _valid(tc.body(CWMP))
    assert tc.body(CWMP) == ("<cwmp:TransferComplete><CommandKey>fw</CommandKey><FaultStruct><FaultCode>9017</FaultCode>"
                       "<FaultString>connection to the file server was lost</FaultString></FaultStruct>"
                       "<StartTime>2023-11-14T22:13:25Z</StartTime><CompleteTime>2023-11-14T22:13:25Z</CompleteTime>"
                       "</cwmp:TransferComplete>")
    assert q.store.state["last_error"].startswith("Download 1 (CommandKey 'fw') failed with fault 9017")
    assert q.reboots == []
    q.acknowledged(("something-else", 1))
    assert len(q.requests()) == 1
    q.acknowledged(tc.token)
    assert q.requests() == [] and q.items == [] and q.store.state["events"] == []


def test_same_command_key_keeps_its_event_until_the_last_ack(q):
    download(q, key="same", file_type=fetch.VENDOR_CONFIG, url="http://fs/a.alter")
    call(q, "Upload", CommandKey="same", FileType="2 Vendor Log File", URL="http://fs/up", DelaySeconds=0)
    call(q, "Upload", CommandKey="same", FileType="2 Vendor Log File", URL="http://fs/up2", DelaySeconds=0)
    for _ in range(3):
        q.tick(0.0, T0)
    a, b, c = q.requests()
    assert sorted(map(tuple, q.store.state["events"])) == [
        ("7 TRANSFER COMPLETE", ""), ("M Download", "same"), ("M Upload", "same")]
    q.acknowledged(b.token)
    assert sorted(map(tuple, q.store.state["events"])) == [
        ("7 TRANSFER COMPLETE", ""), ("M Download", "same"), ("M Upload", "same")]
    q.acknowledged(a.token)
    q.acknowledged(c.token)
    assert q.store.state["events"] == []


def test_a_due_session_goes_first(q):
    config(q)
    q.planner.due_now = True
    q.tick(0.0, T0)
    assert q.worker.steps == []
    q.planner.due_now = False
    q.tick(0.0, T0)
    assert q.items[0]["state"] == "done"


def test_queued_transfers_listed_with_their_states(q):
    download(q, key="a", delay=3600, size=77)
    config(q, key="b")
    call(q, "Upload", CommandKey="c", FileType="3 Vendor Configuration File 2", URL="http://fs/u", DelaySeconds=9)
    q.tick(0.0, T0)  # runs b
    all_ = call(q, "GetAllQueuedTransfers")
    assert all_.count("<AllQueuedTransferStruct>") == 3
    assert ("<AllQueuedTransferStruct><CommandKey>a</CommandKey><State>1</State><IsDownload>true</IsDownload>"
            "<FileType>1 Firmware Upgrade Image</FileType><FileSize>77</FileSize><TargetFileName></TargetFileName>"
            "</AllQueuedTransferStruct>") in all_
    assert "<CommandKey>b</CommandKey><State>3</State>" in all_
    assert "<CommandKey>c</CommandKey><State>1</State><IsDownload>false</IsDownload>" in all_
    assert call(q, "GetQueuedTransfers") == (
        '<TransferList SOAP-ENC:arrayType="cwmp:QueuedTransferStruct[3]">'
        "<QueuedTransferStruct><CommandKey>a</CommandKey><State>1</State></QueuedTransferStruct>"
        "<QueuedTransferStruct><CommandKey>b</CommandKey><State>3</State></QueuedTransferStruct>"
        "<QueuedTransferStruct><CommandKey>c</CommandKey><State>1</State></QueuedTransferStruct></TransferList>")


def test_cancel(q):
    download(q, key="later", delay=3600)
    config(q, key="now")
    q.tick(0.0, T0)
    f = call(q, "CancelTransfer", CommandKey="now")
    assert (f.code, f.message) == (9021, "the transfer with CommandKey 'now' is completed")
    f = call(q, "CancelTransfer", CommandKey="nobody")
    assert (f.code, f.message) == (9021, "no queued transfer has CommandKey 'nobody'")
    q.items[1]["state"] = "transferring"
    assert call(q, "CancelTransfer", CommandKey="now").message.endswith("is in progress")
    download(q, key="after", delay=3600)
    q.store.save_now = lambda: "cannot write state.json: No space left on device"
    f = call(q, "CancelTransfer", CommandKey="later")
    assert (f.code, f.message) == (9002, "the cancellation could not be saved to the state file")
    assert [r["key"] for r in q.items] == ["later", "now", "after"]
    del q.store.save_now
    assert call(q, "CancelTransfer", CommandKey="later") == ""
    assert [r["key"] for r in on_disk(q)["transfers"]] == ["now", "after"]


def restart(q, wall=T0, boot="boot-A", timeout=lambda name: 600):
    """A new daemon over the same state file (after SIGKILL or power loss)."""
    store = Store.load(q.store.path)
    store.state["boot_id"] = boot
    again = transfers.Queue(store, EventQueue(store), lambda: Worker(store), clock=q.clock_,
                            reboot=lambda why: q.reboots.append(why) or True,
                            timeout=timeout, version=lambda: q.version_["now"])
    again.clock_, again.reboots, again.ctx = q.clock_, q.reboots, Context(None, transfers.rpcs(again))
    again.tick(0.0, wall)
    return again


def test_restart_while_queued_keeps_the_delay(q):
    download(q, delay=600)
    again = restart(q, wall=T0 + 100)
    assert again.items[0]["state"] == "queued" and again.deadline(0.0, T0 + 100) == 500.0
    # A clock that went back (no RTC, NTP not yet synced) never makes it wait longer than asked.
    again = restart(q, wall=T0 - 86400)
    assert again.deadline(0.0, T0 - 86400) == 600.0


def test_restart_while_transferring_starts_over_then_gives_up(q):
    config(q)
    for n in range(1, transfers.MAX_TRIES + 1):
        q.store.state["transfers"][0].update(state="transferring", tries=n, start=T0)
        q.store.save()
        if n < transfers.MAX_TRIES:
            again = restart(q)
            assert again.worker.steps[0] == ("clean", [])  # partial files removed
            assert again.items[0]["state"] == "done" and again.items[0]["start"] == T0  # ran again
    again = restart(q)
    (rec,) = again.items
    assert rec["state"] == "done" and rec["fault"] == [9010, "the transfer was interrupted 3 times "
                                                       "(tr069client stopped during it)"]
    assert [s[0] for s in again.worker.steps] == ["clean"]


def test_restart_while_applying_without_a_boot_is_9002(q):
    download(q, file_type=fetch.VENDOR_CONFIG, url="http://fs/c.alter")
    q.store.state["transfers"][0].update(state="applying", boot="boot-A", start=T0)
    q.store.save()
    again = restart(q)
    (rec,) = again.items
    assert rec["fault"] == [9002, "tr069client stopped while config-alter-command ran; its outcome is unknown"]
    assert sorted(map(tuple, again.store.state["events"])) == [("7 TRANSFER COMPLETE", ""), ("M Download", "k1")]


def test_restart_while_the_command_still_runs_waits_for_it(q):
    # The command outlives a killed daemon (its own session): its files stay, and nothing
    # else runs, until it ends.
    import subprocess
    import sys
    download(q, file_type=fetch.VENDOR_CONFIG, url="http://fs/c.alter")
    download(q, key="k2")
    cmd = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        q.store.state["transfers"][0].update(state="applying", boot="boot-A", start=T0, pid=cmd.pid,
                                             files=["/dl/t1-0-c.alter"])
        q.store.save()
        again = restart(q)
        assert again.worker.steps == [("clean", [1])]
        assert [r["state"] for r in again.items] == ["applying", "queued"]
        assert again.deadline(100.0, T0) == 100.0 + transfers.POLL
        again.tick(100.0, T0)
        assert again.worker.steps == [("clean", [1])] and again.items[0]["state"] == "applying"
    finally:
        cmd.kill()
        cmd.wait()
    again.tick(105.0, T0 + 5)
    assert again.items[0]["fault"] == [9002, "tr069client stopped while config-alter-command ran; its outcome "
                                       "is unknown"]
    assert again.worker.steps[1:3] == [("clean", [2]), ("transfer", 2, "transferring")]  # now the next one


def test_a_command_left_running_is_waited_for_no_longer_than_hook_timeout(q):
    import os
    download(q)
    q.store.state["transfers"][0].update(state="applying", boot="boot-A", start=T0, pid=os.getpgid(0),
                                         since=T0 - 600)   # our own group: alive
    q.store.save()
    again = restart(q)
    assert again.items[0]["fault"][0] == 9002 and again.deadline(0.0, T0) is None


def test_a_firmware_command_left_running_is_waited_for_as_long_as_its_own_timeout(q):
    import os
    download(q)
    q.store.state["transfers"][0].update(state="applying", boot="boot-A", start=T0, pid=os.getpgid(0),
                                         since=T0 - 600)
    q.store.save()
    again = restart(q, timeout=lambda name: 1800 if name == "firmware-command" else 600)
    assert again.items[0]["state"] == "applying" and again.deadline(0.0, T0) is not None


def _applying(q, **fields):
    """The state a restart finds: a firmware Download applying, as `fields` say."""
    download(q)
    q.store.state["transfers"][0].update(state="applying", boot="boot-A", start=T0, **fields)
    q.store.save()


@pytest.mark.parametrize("mark", [{"launched": T0}, {"pid": 4242}, {"launched": T0, "pid": 4242}])
def test_a_restart_after_the_command_started_and_the_version_changed_is_success(q, mark):
    _applying(q, version="1.0", **mark)
    q.version_["now"] = "2.0"
    again = restart(q, boot="boot-B")
    assert again.items[0]["fault"] == [0, ""] and again.items[0]["state"] == "done"
    assert again.reboots == []  # it already rebooted


def test_a_restart_before_the_command_started_is_no_success(q):
    # Issue 15.2: downloaded, killed before the firmware command started, then a new boot.
    _applying(q, version="1.0")
    q.version_["now"] = "2.0"   # even a version that looks new: nothing of ours installed it
    again = restart(q, boot="boot-B")
    assert again.items[0]["fault"] == [9002, "the device restarted before firmware-command started; "
                                       "nothing was installed"]


def test_a_restart_that_left_the_old_version_is_a_failure(q):
    _applying(q, version="1.0", launched=T0, pid=4242)
    again = restart(q, boot="boot-B")
    assert again.items[0]["fault"] == [9010, "the device restarted while firmware-command ran but still runs "
                                       "SoftwareVersion '1.0', as before the upgrade: the new firmware did not "
                                       "take effect"]


@pytest.mark.parametrize("now, fault", [
    ("2.1", [0, ""]),
    ("1.0", [0, ""]),   # the same version flashed again: the descriptor says it is the one wanted
    ("2.0", [9010, "the device restarted after firmware-command returned but runs SoftwareVersion '2.0', "
             "not '1.0' as the upgrade descriptor says"]),
])
def test_the_version_an_upgrade_descriptor_names_decides(q, now, fault):
    _applying(q, version="1.0", launched=T0, returned=True, expect_version="2.1" if now == "2.1" else "1.0")
    q.version_["now"] = now
    if now == "2.0":
        q.store.state["transfers"][0]["expect_version"] = "1.0"
        q.store.save()
    again = restart(q)   # the same boot id: our reboot (expect_boot) counts as one
    assert again.items[0]["fault"] == fault


def test_a_configuration_command_that_started_and_rebooted_is_done(q):
    download(q, file_type=fetch.VENDOR_CONFIG, url="http://fs/c.overwrite")
    q.store.state["transfers"][0].update(state="applying", boot="boot-A", start=T0, launched=T0)
    q.store.save()
    assert restart(q, boot="boot-B").items[0]["fault"] == [0, ""]


def test_a_firmware_whose_reboot_fails_is_a_failure(q):
    download(q)
    q.reboot = lambda why: False
    q.tick(0.0, T0)
    assert q.items[0]["state"] == "done" and q.items[0]["fault"] == [
        9002, "firmware-command finished, but reboot-command failed: the new firmware does not run"]


def test_a_command_whose_start_cannot_be_recorded_is_not_started(q):
    download(q)
    q.store.save_now = lambda: "cannot write state.json: No space left on device"
    q.tick(0.0, T0)
    assert [s[0] for s in q.worker.steps] == ["transfer", "clean"]
    assert q.items[0]["fault"] == [9002, "firmware-command was not started: the state file cannot be written, "
                                   "so a restart could not tell whether it ran"]


def test_restart_when_done_still_reports(q):
    config(q)
    q.tick(0.0, T0)
    q.store.state["events"][:] = []  # even if the events were lost, they come back
    q.store.save()
    again = restart(q)
    assert len(again.requests()) == 1
    assert sorted(map(tuple, again.store.state["events"])) == [("7 TRANSFER COMPLETE", ""), ("M Download", "k1")]


def test_a_transfer_that_cannot_be_saved_is_refused(q, tmp_path):
    q.store.path = str(tmp_path)  # a folder: the save fails
    f = download(q)
    assert (f.code, f.message) == (9002, "the transfer could not be saved to the state file")
    assert q.items == []


CWMP_1_0, CWMP_1_1 = "urn:dslforum-org:cwmp-1-0", "urn:dslforum-org:cwmp-1-1"


@pytest.mark.parametrize("download_ns", [CWMP_1_0, CWMP])
@pytest.mark.parametrize("ns, codes", [(CWMP_1_0, (9010, 9011)), (CWMP_1_1, (9017, 9016)), (CWMP, (9017, 9016))])
def test_transfer_complete_codes_fit_the_namespace_it_is_sent_in(q, download_ns, ns, codes):
    # The session that reports it may speak another version than the one that asked for it.
    call(q, "Download", ns=download_ns, CommandKey="k", FileType=fetch.FIRMWARE, URL="http://fs/x")
    call(q, "Upload", ns=download_ns, CommandKey="u", FileType="2 Vendor Log File", URL="http://fs/u")
    q.worker.faults[("transfer", 1)] = CwmpFault(9017, "connection to the file server was lost")
    q.worker.faults[("transfer", 2)] = CwmpFault(9016, "file server answered HTTP 403")
    q.tick(0.0, T0)
    q.tick(0.0, T0)
    down, up = q.requests()
    for tc, code in zip((down, up), codes):
        _valid(tc.body(ns), ns)
        assert "<FaultCode>%d</FaultCode>" % code in tc.body(ns)
    assert "<FaultString>connection to the file server was lost<" in down.body(ns)


def test_all_queued_transfers_use_the_file_types_of_cwmp_1_1(q):
    download(q, key="a", delay=3600)
    call(q, "Upload", CommandKey="b", FileType="1 Vendor Configuration File", URL="http://fs/u", DelaySeconds=9)
    call(q, "Upload", CommandKey="c", FileType="4 Vendor Log File 2", URL="http://fs/u", DelaySeconds=9)
    types = [fromstring(x).text for x in
             call(q, "GetAllQueuedTransfers", ns=CWMP_1_1).replace("</FileType>", "</FileType>\n").split("\n")
             for x in [x[x.find("<FileType>"):]] if x.startswith("<FileType>")]
    assert types == [fetch.FIRMWARE, "3 Vendor Configuration File", "4 Vendor Log File"]
    assert "<FileType>4 Vendor Log File 2</FileType>" in call(q, "GetAllQueuedTransfers", ns=CWMP)


def test_a_loop_that_moves_the_bytes_itself_uses_due_begin_and_finish(q):
    """Fleet mode: the queue picks the transfer (due), saves its start (begin) and reports it
    (finish); the worker only plans it, and a session due goes first as with tick()."""
    download(q, key="a", delay=10)
    assert q.due(0.0, T0) is None
    q.planner.due_now = True
    assert q.due(0.0, T0 + 10) is None
    q.planner.due_now = False
    rec = q.due(0.0, T0 + 10)
    assert rec["key"] == "a" and rec["state"] == "queued"
    q.clock_.now = T0 + 11
    q.begin(rec)
    assert on_disk(q)["transfers"][0]["state"] == "transferring" and rec["tries"] == 1
    q.clock_.now = T0 + 12
    q.finish(rec, 9016, "file server unreachable")
    saved = on_disk(q)["transfers"][0]
    assert (saved["state"], saved["fault"], saved["start"], saved["complete"]) == (
        "done", [9016, "file server unreachable"], T0 + 11, T0 + 12)
    assert [m for m, _ in map(tuple, q.events.items)] == ["7 TRANSFER COMPLETE", "M Download"]
    assert [r.method for r in q.requests()] == ["TransferComplete"]
    assert q.worker.steps == []     # no transfer() nor apply(): the caller did the work
