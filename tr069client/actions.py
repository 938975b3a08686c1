"""The work a session leaves for its end: what the engine returns in `Session.actions`, the
one channel of deferred work; the daemon's loop runs each through one table (device.py); no
I/O. Like catawampus's "run at end": RPCs answer at once, the work waits for the session to
close.

`late` actions run after the session's outcome is saved and logged (they may restart the
device or end the daemon); the others run as the outcome is recorded, before it is saved.
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


def apply_changes(later, provider):
    """Add ApplyChanges(provider) to the action list `later`, unless it is there already."""
    action = ApplyChanges(provider)
    if later is not None and action not in later:
        later.append(action)
