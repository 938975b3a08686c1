"""Inform events and their retention rules (TR-069 3.7.1.5, Table 7); no I/O."""

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
    """Pending events as `[code, command_key]` pairs in a list the store persists."""

    def __init__(self, items):
        self.items = items

    def add(self, code, command_key=""):
        """Queue an event; a single event (no "M ") is never queued twice. True if added."""
        for c, k in self.items:
            if c == code and (not code.startswith("M ") or k == command_key):
                return False
        if len(self.items) >= MAX_EVENTS:
            # Full (an ACS sent ScheduleInform after ScheduleInform): the oldest of those
            # makes room for anything else, so BOOTSTRAP or a transfer's event is never lost.
            old = [e for e in self.items if e[0] == M_SCHEDULE_INFORM]
            if not old or code == M_SCHEDULE_INFORM:
                return False
            self.items.remove(old[0])
        self.items.append([code, command_key])
        return True

    def has(self, code):
        return any(c == code for c, _ in self.items)

    def discard(self, code):
        self.items[:] = [e for e in self.items if e[0] != code]

    def pending(self):
        """What the next Inform carries, BOOTSTRAP first as ACSs expect."""
        return sorted((tuple(e) for e in self.items), key=_order)

    def session_failed(self, sent, informed):
        """Apply the rules for a failed session whose Inform carried `sent`."""
        if informed:
            self.delivered(sent)
        else:
            sent = set(map(tuple, sent))
            self.items[:] = [e for e in self.items if e[0] not in _NOT_RETRIED or tuple(e) not in sent]

    def delivered(self, sent):
        """The InformResponse arrived: drop what the Inform carried, except transfer events
        (and events raised since the Inform was built)."""
        sent = set(map(tuple, sent))
        self.items[:] = [e for e in self.items if e[0] in _TRANSFER or tuple(e) not in sent]

    def transfer_acknowledged(self, method, command_key, more_pending):
        """The ACS acknowledged the TransferComplete of a Download or Upload."""
        self.items[:] = [e for e in self.items
                         if not (e[0] == method_event(method) and e[1] == command_key)]
        if not more_pending:
            self.discard(TRANSFER_COMPLETE)


def _order(event):
    code = event[0]
    head = code.split(" ", 1)[0]
    return (0, int(head)) if head.isdigit() else (1, 0)
