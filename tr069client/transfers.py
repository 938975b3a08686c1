"""The persisted queue of Download and Upload transfers: their RPCs, their life cycle, and the
TransferComplete requests that report them (fetch.py does the work of one transfer).

Each step is saved before it starts, so a restart (SIGKILL, power loss) knows where it stopped:

    queued --DelaySeconds elapsed--> transferring --Download: files on disk--> applying --> done
                                                  --Upload: file sent---------------------> done
    done --TransferComplete acknowledged by the ACS--> removed from the queue
    found transferring at start: partial files removed, queued again (MAX_TRIES tries in all)
    found applying at start: while the command itself still runs (it outlives the daemon), its
        files stay and nothing else starts; else done, judged by `_after_boot` if the device
        restarted meanwhile (the command rebooted it, as sysupgrade does, or it returned and
        tr069client rebooted it), else 9002 because the outcome is unknown

"applying" is saved right before the command starts, with the time (`launched`) and the
SoftwareVersion the device runs then: a restart is never proof of success by itself, only a
command known to have started can have changed the device.
"""

import time

from . import boot, log, namespaces, outcomes
from . import events as ev
from .datatypes import UNKNOWN_TIME, format_time
from .faults import (CwmpFault, CANCEL_NOT_PERMITTED, INTERNAL_ERROR, RESOURCES_EXCEEDED,
                     TRANSFER_FAILURE)
from .rpc_args import key, string, uint
from .session import CpeRequest, transfer_complete
from .soap import array, element

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Callable, List, Optional

    from . import fetch
    from .events import EventQueue
    from .store import Store

QUEUED, TRANSFERRING, APPLYING, DONE = "queued", "transferring", "applying", "done"
# TR-069 A.4.1.1 TransferState: 1 not yet started, 2 in progress, 3 completed.
_STATE = {QUEUED: 1, TRANSFERRING: 2, APPLYING: 2, DONE: 3}
# The schema's TransferList holds at most 16 entries; beyond that a new one gets 9004.
MAX_TRANSFERS = 16
MAX_TRIES = 3
POLL = 5.0   # seconds between looks at a command that an earlier daemon left running
_TOKEN = "transfer"


class Queue:
    """The transfers in the state's "transfers" list (this module owns it and
    "transfers_next"); a timer of the daemon's loop (`deadline`, `tick`) that runs them one at
    a time through `worker()` (making the fetch.Worker when a transfer first needs it: a
    device that never transfers a file never loads fetch.py) between sessions, raising their events in
    `events` (the planner's EventQueue). `reboot(reason)` restarts the device after a firmware
    upgrade (False if it could not); a command an earlier daemon left running is waited for
    at most `timeout(hook name)` seconds from its start; `version()` is
    Device.DeviceInfo.SoftwareVersion as the device runs now; `session_due(mono)` says whether
    a session is due, which goes first."""

    def __init__(self, store: "Store", events: "EventQueue", worker: "Callable[[], fetch.Worker]",
                 clock: "Callable[[], float]" = time.time,
                 reboot: "Optional[Callable[[str], bool]]" = None,
                 timeout: "Callable[[str], float]" = lambda name: 600,
                 version: "Callable[[], Optional[str]]" = lambda: None,
                 session_due: "Callable[[float], bool]" = lambda mono: False):
        self.store = store
        self.events = events
        self._make_worker = worker
        self._worker = None
        self.clock = clock
        self.reboot = reboot
        self.timeout = timeout
        self.version = version
        self.session_due = session_due
        self._recovered = False

    @property
    def worker(self) -> "fetch.Worker":
        if self._worker is None:
            self._worker = self._make_worker()
        return self._worker

    @property
    def items(self) -> "List[dict]":
        return self.store.state.setdefault("transfers", [])

    def _save(self):
        error = self.store.save_now()
        if error:
            log.error("transfer queue not saved: %s", error)
        return error is None

    # --- what the RPCs do ----------------------------------------------------------------

    def add(self, rec: dict) -> dict:
        """Queue a transfer (kind, key, file_type, url, username, password, size, target,
        delay) and save it before the ACS hears it was accepted; the stored record."""
        if len(self.items) >= MAX_TRANSFERS:
            raise CwmpFault(RESOURCES_EXCEEDED, "the transfer queue is full (%d transfers)" % MAX_TRANSFERS)
        self.worker.plan(rec)
        st = self.store.state
        rec.update(id=st.get("transfers_next", 1), state=QUEUED, due=self.clock() + rec["delay"],
                   tries=0, start=None, complete=None, fault=[0, ""], files=[])
        st["transfers_next"] = rec["id"] + 1
        self.items.append(rec)
        if not self._save():
            self.items.remove(rec)
            raise CwmpFault(INTERNAL_ERROR, "the transfer could not be saved to the state file")
        log.info("%s %d queued: %s from %s, CommandKey %r%s", rec["kind"], rec["id"], rec["file_type"],
                 log.shown_url(rec["url"]), rec["key"], ", in %d s" % rec["delay"] if rec["delay"] else "")
        return rec

    def cancel(self, key: str) -> None:
        """CancelTransfer: drop the transfers with CommandKey `key`, all not yet started."""
        found = [r for r in self.items if r["key"] == key]
        if not found:
            raise CwmpFault(CANCEL_NOT_PERMITTED, "no queued transfer has CommandKey %r" % key)
        busy = [r for r in found if r["state"] != QUEUED]
        if busy:
            raise CwmpFault(CANCEL_NOT_PERMITTED, "the transfer with CommandKey %r is %s" % (
                key, "completed" if busy[0]["state"] == DONE else "in progress"))
        where = [(self.items.index(r), r) for r in found]
        for r in found:
            self.items.remove(r)
        if not self._save():   # after a power cut it would run all the same
            for i, r in where:
                self.items.insert(i, r)
            raise CwmpFault(INTERNAL_ERROR, "the cancellation could not be saved to the state file")
        for r in found:
            log.info("%s %d (CommandKey %r) cancelled by the ACS", r["kind"], r["id"], key)

    # --- TransferComplete ------------------------------------------------------------------

    def requests(self) -> "List[CpeRequest]":
        """TransferComplete requests for every finished transfer the ACS has not acknowledged."""
        return [CpeRequest("TransferComplete", transfer_complete(
            r["key"], r["fault"][0], r["fault"][1], format_time(r["start"]), format_time(r["complete"]),
            upload=r["kind"] == "Upload"), (_TOKEN, r["id"])) for r in self.items if r["state"] == DONE]

    def acknowledged(self, token: object) -> None:
        """The ACS answered a TransferComplete: the transfer leaves the queue, its events too."""
        if not (isinstance(token, tuple) and len(token) == 2 and token[0] == _TOKEN):
            return
        rec = next((r for r in self.items if r["id"] == token[1]), None)
        if rec is None:
            return
        self.items.remove(rec)
        done = [r for r in self.items if r["state"] == DONE]
        self.events.transfer_acknowledged(rec["kind"], rec["key"], bool(done))
        for r in done:  # another transfer with the same CommandKey still needs its M event
            self.events.add(ev.method_event(r["kind"]), r["key"])
        self.store.dirty = True

    # --- the timer ---------------------------------------------------------------------------

    def deadline(self, mono: float, wall: float) -> "Optional[float]":
        times = [mono + max(0.0, r["due"] - wall) for r in self.items if r["state"] == QUEUED]
        if not self._recovered:
            times.append(mono)
        elif any(r["state"] == APPLYING for r in self.items):
            return mono + POLL   # only a look at the command left running: nothing else starts
        return min(times) if times else None

    def tick(self, mono: float, wall: float) -> None:
        rec = self.due(mono, wall)
        if rec is not None:
            self._run(rec)

    def due(self, mono: float, wall: float) -> "Optional[dict]":
        """The transfer to start now, or None (recovering first after a start). tick() runs
        it here; a loop that does the work itself (fleet mode) calls begin() and finish()."""
        if not self._recovered:
            self._recovered = True
            self.recover(wall)
        if self._left_running(wall):
            return None
        # A due session goes first: it reports finished transfers before the next one starts.
        if self.session_due(mono):
            return None
        for rec in self.items:
            if rec["state"] == QUEUED and rec["due"] <= wall:
                return rec
        return None

    def begin(self, rec: dict) -> None:
        """The transfer `rec` starts (saved first: a restart queues it again)."""
        rec["state"] = TRANSFERRING
        rec["tries"] += 1
        rec["start"] = rec["start"] or self.clock()
        self._save()

    def finish(self, rec: dict, code: int, message: str) -> None:
        """The transfer `rec` is over (fault `code`, 0 for success): its TransferComplete is
        queued, with 7 TRANSFER COMPLETE and its M event."""
        self._finish(rec, code, message)

    def recover(self, wall: float) -> None:
        """At start: settle what a restart interrupted (see the module docstring)."""
        for rec in list(self.items):
            state = rec["state"]
            if state == QUEUED and rec["due"] - wall > rec["delay"]:
                rec["due"] = wall + rec["delay"]  # the clock went back: never wait longer than asked
            elif state == TRANSFERRING:
                if rec["tries"] >= MAX_TRIES:
                    self._finish(rec, TRANSFER_FAILURE, "the transfer was interrupted %d times "
                                 "(tr069client stopped during it)" % rec["tries"])
                else:
                    log.info("%s %d was interrupted; it starts again", rec["kind"], rec["id"])
                    rec["state"], rec["due"] = QUEUED, wall
            elif state == APPLYING:
                # A firmware command that returned was followed by our reboot, which the
                # planner counts as a boot even when only the daemon restarted (boot.py).
                if rec.get("boot") is None or rec.get("boot") != boot.boot_id(self.store) \
                        or rec.get("returned"):
                    self._finish(rec, *self._after_boot(rec))
                elif _alive(rec.get("pid")):
                    log.info("%s, started before tr069client stopped, still runs; waiting for it",
                             rec["hook"])
                else:
                    self._unknown(rec)
            elif state == DONE:
                self._announce(rec)
        # Every file left is a leftover, but those of a command that still runs. Files exist
        # only while their transfer is in the queue (a finished one's go before it leaves).
        if self.items:   # else nothing to settle: no fetch.py, no write (and fsync) of the state
            self.worker.clean(keep=[r["id"] for r in self.items if r["state"] == APPLYING])
            self._save()

    def _left_running(self, wall):
        """True while a command that an earlier daemon started still runs; it finishes the
        transfers whose command has ended (or ran past its timeout)."""
        waiting = False
        for rec in [r for r in self.items if r["state"] == APPLYING]:
            if _alive(rec.get("pid")) and wall < rec.get("since", wall) + self.timeout(rec["hook"]):
                waiting = True
            else:
                self._unknown(rec)
                self.worker.clean(keep=[r["id"] for r in self.items if r is not rec])
        return waiting

    def _after_boot(self, rec):
        """(fault code, sentence) of an applying transfer once the device has restarted."""
        hook = rec["hook"]
        if not (rec.get("launched") or rec.get("pid")):
            return INTERNAL_ERROR, "the device restarted before %s started; nothing was installed" % hook
        if hook != "firmware-command":
            # Configuration commands may end in a reboot (sysupgrade -r ... && reboot).
            log.info("the device restarted after %s started: taken as done", hook)
            return 0, ""
        now, want, before = self.version(), rec.get("expect_version"), rec.get("version")
        how = "after %s returned" % hook if rec.get("returned") else "while %s ran" % hook
        if want and now != want:
            return TRANSFER_FAILURE, ("the device restarted %s but runs SoftwareVersion %r, not %r as "
                                      "the upgrade descriptor says" % (how, now, want))
        if not want and before and now == before:
            # An image of the same version reads the same: its descriptor names the version.
            return TRANSFER_FAILURE, ("the device restarted %s but still runs SoftwareVersion %r, as "
                                      "before the upgrade: the new firmware did not take effect" % (how, now))
        log.info("the device restarted %s and runs SoftwareVersion %r: the upgrade is done", how, now)
        return 0, ""

    def _unknown(self, rec):
        self._finish(rec, INTERNAL_ERROR, "tr069client stopped while %s ran; its outcome is "
                     "unknown" % rec["hook"])

    def _started(self, rec, pgid):
        # Saved before the command gets far: a restart must know it may still run.
        rec.update(pid=pgid, since=self.clock())
        self._save()

    def _run(self, rec):
        self.begin(rec)
        reboot = False
        try:
            files = self.worker.transfer(rec)
            if rec["kind"] == "Download":
                self._launch(rec, files)
                self.worker.apply(rec, files, started=lambda pgid: self._started(rec, pgid))
                reboot = rec["hook"] == "firmware-command" and self.reboot is not None
                if reboot:
                    # The new image runs after a reboot, and whether it does decides the
                    # TransferComplete, sent with 1 BOOT after it (TR-069 3.7.1.5).
                    rec["returned"] = True
                    self._save()
        except CwmpFault as f:
            self._finish(rec, f.code, f.message)
        else:
            if not reboot:
                self._finish(rec, 0, "")
        finally:
            self.worker.clean(keep=[r["id"] for r in self.items if r is not rec])
        if reboot and rec in self.items and not self.reboot(
                "firmware upgrade (Download CommandKey %r)" % rec["key"]):
            self._finish(rec, INTERNAL_ERROR, "firmware-command finished, but reboot-command failed: "
                         "the new firmware does not run")

    def _launch(self, rec, files):
        """Record, before the command starts, that it is about to (see the module docstring)."""
        rec.update(state=APPLYING, files=files, boot=boot.boot_id(self.store),
                   launched=self.clock(), version=self.version())
        if not self._save():
            raise CwmpFault(INTERNAL_ERROR, "%s was not started: the state file cannot be written, "
                            "so a restart could not tell whether it ran" % rec["hook"])

    def _finish(self, rec, code, message):
        if rec not in self.items:
            return  # the queue was reset meanwhile
        rec.update(state=DONE, fault=[code, message[:256]], complete=self.clock(), files=[])
        if code:
            text_ = "%s %d (CommandKey %r) failed with fault %d: %s" % (rec["kind"], rec["id"], rec["key"],
                                                                     code, message)
            log.warning("%s", text_)
            # For `status`: shown until the session after the one that reports it.
            outcomes.operation_failed(self.store, text_)
        else:
            log.info("%s %d done", rec["kind"], rec["id"])
        self._announce(rec)
        self._save()

    def _announce(self, rec):
        self.events.add(ev.TRANSFER_COMPLETE)
        self.events.add(ev.method_event(rec["kind"]), rec["key"])

    def listing(self) -> "List[dict]":
        """Every transfer still in the queue, oldest first (GetAllQueuedTransfers)."""
        return list(self.items)


# --- RPCs (TR-069 A.3.2.8, A.4.1.1, A.4.1.5, A.4.1.7, A.4.1.9) -------------------------------
# Which namespace has which of them is namespaces.py's, checked by the session engine.


def _alive(pid):
    from .platform_commands import alive   # only for a command an earlier daemon left running
    return alive(pid)


def _request(req, kind):
    return {"kind": kind, "key": _command_key(req), "file_type": string(req, "FileType", None, 64),
            "url": string(req, "URL", None, 1024), "username": string(req, "Username", "", 256, False),
            "password": string(req, "Password", "", 256, False),
            "size": uint(req, "FileSize", default=0) if kind == "Download" else 0,
            "target": string(req, "TargetFileName", "", 256) if kind == "Download" else "",
            "delay": uint(req, "DelaySeconds", default=0)}


def _command_key(req):
    return key(req, "CommandKey") or ""


# The work happens after the session (Status 1), so both times are the unknown time.
_ACCEPTED = element("Status", "1") + element("StartTime", UNKNOWN_TIME) + element("CompleteTime", UNKNOWN_TIME)


def rpcs(queue: Queue) -> dict:
    """The RPC table rows of the transfers that `queue` holds: {method name: fn(ctx, req)}."""

    def download(ctx, req):
        # Saved before the ACS hears it was accepted (Queue.add); the queue's timer runs it.
        queue.add(_request(req, "Download"))
        return _ACCEPTED

    def upload(ctx, req):
        queue.add(_request(req, "Upload"))
        return _ACCEPTED

    def get_queued_transfers(ctx, req):
        return array("TransferList", "cwmp:QueuedTransferStruct", [
            "<QueuedTransferStruct>%s%s</QueuedTransferStruct>" % (
                element("CommandKey", r["key"]), element("State", str(_STATE[r["state"]])))
            for r in queue.listing()])

    def get_all_queued_transfers(ctx, req):
        return array("TransferList", "cwmp:AllQueuedTransferStruct", [
            "<AllQueuedTransferStruct>%s%s%s%s%s%s</AllQueuedTransferStruct>" % (
                element("CommandKey", r["key"]), element("State", str(_STATE[r["state"]])),
                element("IsDownload", "true" if r["kind"] == "Download" else "false"),
                element("FileType", namespaces.queued_file_type(ctx.ns, r["file_type"])),
                element("FileSize", str(r["size"])),
                element("TargetFileName", r["target"]))
            for r in queue.listing()])

    def cancel_transfer(ctx, req):
        queue.cancel(_command_key(req))
        return ""

    return {
        "Download": download,
        "Upload": upload,
        "GetQueuedTransfers": get_queued_transfers,
        "GetAllQueuedTransfers": get_all_queued_transfers,
        "CancelTransfer": cancel_transfer,
    }
