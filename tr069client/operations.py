"""Reboot and FactoryReset: their RPCs, and the work each does once the session is over.

After a reboot command returns the daemon exits, so that its supervisor starts it again (on a
real device the reboot is under way); the next start sends 1 BOOT because the mark of the
ordered reboot says "returned" (boot.py).
"""

from . import boot, log, outcomes, rpc_args
from . import events as ev
from .actions import FactoryReset, Reboot

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Callable, Optional

    from .events import EventQueue
    from .store import Store


def reboot(ctx, req):
    ctx.defer(Reboot(rpc_args.key(req, "CommandKey") or ""))  # TR-069 A.3.2.9
    return ""


def factory_reset(ctx, req):
    ctx.defer(FactoryReset())
    return ""


RPCS = {"Reboot": reboot, "FactoryReset": factory_reset}


class Operations:
    """Runs the actions of Reboot and FactoryReset, and reboots after a firmware upgrade.

    `events` is the planner's EventQueue; `stop()` ends the daemon, `service()` keeps it
    answering while a command runs, `clean()` removes downloaded files."""

    def __init__(self, store: "Store", events: "EventQueue", cfg: dict, stop: "Callable[[], None]",
                 service: "Optional[Callable[[], object]]" = None,
                 clean: "Optional[Callable[[], None]]" = None):
        self.store = store
        self.events = events
        self.cfg = cfg
        self.stop = stop
        self.service = service
        self.clean = clean or (lambda: None)

    def _save(self):
        error = self.store.save_now()
        if error:
            log.error("%s", error)

    def _failed(self, message):
        """A command failed after the ACS was answered: tell the operator (and keep it shown
        past the next session, which would otherwise clear it)."""
        log.error("%s", message)
        outcomes.operation_failed(self.store, message)
        self._save()

    def _run(self, name):
        from . import platform_commands
        argv = platform_commands.command(self.cfg, name)
        if argv is None:
            raise platform_commands.CommandError("%s is not configured on this device" % name)
        platform_commands.run(name, argv, (), platform_commands.timeout(self.cfg, name), None, self.service)

    def restart_device(self, why: str) -> bool:
        """Reboot through reboot-command; True when it returned (the daemon is then stopped),
        False when it failed (nothing else changes)."""
        # Loaded by the first platform command: a device that never runs one never needs it.
        from . import platform_commands
        boot.reboot_starting(self.store)  # saved first: the command may kill us before it returns
        self._save()
        try:
            self._run("reboot-command")
        except platform_commands.CommandError as e:
            boot.reboot_failed(self.store)
            self._failed("%s: the device did not reboot: %s" % (why, e))
            return False
        boot.reboot_returned(self.store)
        self._save()
        log.info("%s: reboot-command returned; tr069client exits so that it starts afresh", why)
        self.stop()
        return True

    def reboot(self, key: str) -> None:
        """The Reboot action: the next session carries 1 BOOT and M Reboot with `key`."""
        self.events.add(ev.M_REBOOT, key)
        if not self.restart_device("Reboot (CommandKey %r)" % key):
            self.events.remove(ev.M_REBOOT, key)

    def factory_reset(self) -> None:
        """The FactoryReset action: tr069client's own state goes first (the command may kill
        us), then factory-reset-command runs; the next session carries 0 BOOTSTRAP and 1 BOOT."""
        from . import platform_commands, state   # neither needed until a FactoryReset
        self.clean()
        state.reset(self.store)
        if platform_commands.command(self.cfg, "factory-reset-command") is None:
            log.info("FactoryReset: no factory-reset-command configured; only tr069client's own "
                     "state was reset")
            boot.reboot_returned(self.store)
            self._save()
        else:
            boot.reboot_starting(self.store)
            self._save()
            try:
                self._run("factory-reset-command")
                boot.reboot_returned(self.store)
            except platform_commands.CommandError as e:
                boot.reboot_failed(self.store)   # the next session says 0 BOOTSTRAP, but no 1 BOOT
                self._failed("FactoryReset: tr069client's state was reset, but the device was "
                             "not: %s" % e)
            self._save()
        self.stop()

