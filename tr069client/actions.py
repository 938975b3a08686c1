"""The work a session leaves for its end: what the engine returns in `Session.actions`, the
one channel of deferred work; the daemon's loop runs each through one table (device.py); no
I/O. Like catawampus's "run at end": RPCs answer at once, the work waits for the session to
close.

`late` actions run after the session's outcome is saved and logged (they may restart the
device or end the daemon); the others run as the outcome is recorded, before it is saved.

ScheduleInform, Reboot and FactoryReset are `held`: saved (the "deferred" key of the state,
owned here) before the ACS hears them accepted, released as they run, and the ones a power
cut or a kill left are run at the next start (device.py).
"""

from collections import namedtuple


class ScheduleInform(namedtuple("ScheduleInform", "delay command_key")):
    """ScheduleInform: "3 SCHEDULED" + "M ScheduleInform" `delay` seconds after the session."""
    __slots__ = ()
    late = False


class ApplyChanges(namedtuple("ApplyChanges", "provider")):
    """Apply what the ACS changed through `provider` (its `apply(model)`: commit and reload
    a service), once per provider however many changes it took."""
    __slots__ = ()
    late = False


class Reboot(namedtuple("Reboot", "command_key")):
    """Reboot (TR-069 A.3.2.9: after the session ends); "M Reboot" carries `command_key`."""
    __slots__ = ()
    late = True


class FactoryReset(namedtuple("FactoryReset", "")):
    """FactoryReset: tr069client's own state, then the device's."""
    __slots__ = ()
    late = True


class SettleDiagnostic(namedtuple("SettleDiagnostic", "kind")):
    """The session requested, canceled or reset the diagnostic test `kind` (diagnostics.OBJECTS):
    once it has ended, the test starts anew if its DiagnosticsState still says Requested
    (TR-181: not before the session ends), else a running one stops."""
    __slots__ = ()
    late = False


_HELD = {"ScheduleInform": ScheduleInform, "Reboot": Reboot, "FactoryReset": FactoryReset}


def hold(store, action, boot_id):
    """Note `action` (held: ScheduleInform, Reboot, FactoryReset), accepted in the boot
    `boot_id`, in the state: the caller saves it before the ACS hears it accepted."""
    store.state.setdefault("deferred", []).append([type(action).__name__, list(action), boot_id])
    store.dirty = True


def release(store, action):
    """`action` runs now: forget the oldest note of it (none for an action that is not held)."""
    held = store.state.get("deferred")
    if not held or type(action).__name__ not in _HELD:
        return
    entry = [type(action).__name__, list(action)]
    for i, note in enumerate(held):
        if note[:2] == entry:
            _forget(store, held, i)
            return


def unhold(store):
    """The action hold() just noted was not accepted after all: forget that note."""
    _forget(store, store.state["deferred"], -1)


def _forget(store, held, i):
    del held[i]
    if not held:
        del store.state["deferred"]
    store.dirty = True


def take(store):
    """[(action, boot id it was accepted in)] that a session accepted and never ran, forgotten
    once read; a note that is not one (a damaged or foreign state) is dropped."""
    out = []
    for e in store.state.pop("deferred", None) or ():
        try:
            out.append((_HELD[e[0]](*e[1]), e[2]))
        except (KeyError, TypeError, IndexError):
            continue
        store.dirty = True
    return out


def apply_changes(later, provider):
    """Add ApplyChanges(provider) to the action list `later`, unless it is there already."""
    action = ApplyChanges(provider)
    if later is not None and action not in later:
        later.append(action)
