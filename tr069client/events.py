"""Inform events and their retention rules (TR-069 3.7.1.5, Table 7); no I/O."""

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import List, Tuple

    from .store import Store

BOOTSTRAP = "0 BOOTSTRAP"
BOOT = "1 BOOT"
PERIODIC = "2 PERIODIC"
SCHEDULED = "3 SCHEDULED"
VALUE_CHANGE = "4 VALUE CHANGE"
CONNECTION_REQUEST = "6 CONNECTION REQUEST"
TRANSFER_COMPLETE = "7 TRANSFER COMPLETE"
DIAGNOSTICS_COMPLETE = "8 DIAGNOSTICS COMPLETE"
HEARTBEAT = "14 HEARTBEAT"


def method_event(method):
    """The event of a method ("M Reboot", "M Download"...): it carries the method's CommandKey."""
    return "M " + method


M_REBOOT = method_event("Reboot")
M_SCHEDULE_INFORM = method_event("ScheduleInform")
M_DOWNLOAD = method_event("Download")
M_UPLOAD = method_event("Upload")

# Dropped when a session fails: the ACS asked for this session, a retry would be stale.
_NOT_RETRIED = frozenset((CONNECTION_REQUEST, HEARTBEAT))
# Delivered only when the TransferComplete they announce is acknowledged.
_TRANSFER = frozenset((TRANSFER_COMPLETE, M_DOWNLOAD, M_UPLOAD))
# TR-069 A.3.3.1: at most 64 EventStructs in one Inform.
MAX_EVENTS = 64


class EventQueue:
    """Pending events as `[code, command_key]` pairs, in the state's "events" list (this
    module owns that key); every change marks the store dirty. A device has one, made by
    its planner and handed to those that raise events (transfers, operations)."""

    def __init__(self, store: "Store"):
        self._store = store

    @property
    def items(self) -> list:
        """The pending events, oldest first (read them; change them through the methods)."""
        return self._store.state.setdefault("events", [])

    def _changed(self):
        self._store.dirty = True

    def add(self, code: str, command_key: str = "") -> bool:
        """Queue an event; a single event (no "M ") is never queued twice. True if added."""
        items = self.items
        for c, k in items:
            if c == code and (not code.startswith("M ") or k == command_key):
                return False
        if len(items) >= MAX_EVENTS:
            # Full (an ACS sent ScheduleInform after ScheduleInform): the oldest of those
            # makes room for anything else, so BOOTSTRAP or a transfer's event is never lost.
            old = [e for e in items if e[0] == M_SCHEDULE_INFORM]
            if not old or code == M_SCHEDULE_INFORM:
                return False
            items.remove(old[0])
        items.append([code, command_key])
        self._changed()
        return True

    def has(self, code: str) -> bool:
        return any(c == code for c, _ in self.items)

    def discard(self, code: str) -> None:
        self._keep(lambda e: e[0] != code)

    def remove(self, code: str, command_key: str) -> None:
        """Drop the event `code` with `command_key` (an M event whose method did not happen)."""
        self._keep(lambda e: list(e) != [code, command_key])

    def remove_last(self, code: str) -> None:
        """Drop the event `code` queued last, if any."""
        mine = [e for e in self.items if e[0] == code][-1:]
        for e in mine:
            self.items.remove(e)
            self._changed()

    def _keep(self, wanted):
        items = self.items
        kept = [e for e in items if wanted(e)]
        if len(kept) != len(items):
            items[:] = kept
            self._changed()

    def pending(self) -> "List[Tuple[str, str]]":
        """What the next Inform carries, BOOTSTRAP first as ACSs expect."""
        return sorted((tuple(e) for e in self.items), key=_order)

    def session_failed(self, sent, informed: bool) -> None:
        """Apply the rules for a failed session whose Inform carried `sent`."""
        if informed:
            self.delivered(sent)
        else:
            sent = set(map(tuple, sent))
            self._keep(lambda e: e[0] not in _NOT_RETRIED or tuple(e) not in sent)

    def delivered(self, sent) -> None:
        """The InformResponse arrived: drop what the Inform carried, except transfer events
        (and events raised since the Inform was built)."""
        sent = set(map(tuple, sent))
        self._keep(lambda e: e[0] in _TRANSFER or tuple(e) not in sent)

    def transfer_acknowledged(self, method: str, command_key: str, more_pending: bool) -> None:
        """The ACS acknowledged the TransferComplete of a Download or Upload."""
        self.remove(method_event(method), command_key)
        if not more_pending:
            self.discard(TRANSFER_COMPLETE)


def _order(event):
    code = event[0]
    head = code.split(" ", 1)[0]
    return (0, int(head)) if head.isdigit() else (1, 0)
