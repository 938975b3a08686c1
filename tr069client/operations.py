"""Reboot and FactoryReset: their RPCs, and the work each does once the session is over.

After a reboot command returns the daemon exits, so that its supervisor starts it again (on a
real device the reboot is under way); the next start sends 1 BOOT because `expect_boot` says
"returned". It says "started" from just before the command starts until it returns: a start
that finds "started" and the same boot knows the reboot never happened (planner.py).
"""

from . import log, platform_commands, rpc_args
from . import events as ev
from .settings import reset


def reboot(ctx, req):
    key = rpc_args.key(req, "CommandKey") or ""
    ctx.actions.append(("reboot", key))  # TR-069 A.3.2.9: after the session ends
    return ""


def factory_reset(ctx, req):
    ctx.actions.append(("factory_reset",))
    return ""


RPCS = {"Reboot": reboot, "FactoryReset": factory_reset}
# state["expect_boot"]: the reboot command is about to run or runs / it returned.
STARTED, RETURNED = "started", "returned"


class Operations:
    """Runs the actions of Reboot and FactoryReset, and reboots after a firmware upgrade.

    `stop()` ends the daemon, `service()` keeps it answering while a command runs, `clean()`
    removes downloaded files."""

    def __init__(self, store, cfg, stop, service=None, clean=None):
        self.store = store
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
        st = self.store.state
        st["last_error"] = st["operation_error"] = message
        self._save()

    def _run(self, name):
        argv = platform_commands.command(self.cfg, name)
        if argv is None:
            raise platform_commands.CommandError("%s is not configured on this device" % name)
        platform_commands.run(name, argv, (), platform_commands.timeout(self.cfg, name), None, self.service)

    def restart_device(self, why):
        """Reboot through reboot-command; True when it returned (the daemon is then stopped),
        False when it failed (nothing else changes)."""
        st = self.store.state
        st["expect_boot"] = STARTED  # saved first: the command may kill us before it returns
        self._save()
        try:
            self._run("reboot-command")
        except platform_commands.CommandError as e:
            st.pop("expect_boot", None)
            self._failed("%s: the device did not reboot: %s" % (why, e))
            return False
        st["expect_boot"] = RETURNED
        self._save()
        log.info("%s: reboot-command returned; tr069client exits so that it starts afresh", why)
        self.stop()
        return True

    def reboot(self, key):
        """The Reboot action: the next session carries 1 BOOT and M Reboot with `key`."""
        items = self.store.state.setdefault("events", [])
        ev.EventQueue(items).add(ev.M_REBOOT, key)
        if not self.restart_device("Reboot (CommandKey %r)" % key):
            items[:] = [e for e in items if list(e) != [ev.M_REBOOT, key]]
            self.store.dirty = True

    def factory_reset(self):
        """The FactoryReset action: tr069client's own state goes first (the command may kill
        us), then factory-reset-command runs; the next session carries 0 BOOTSTRAP and 1 BOOT."""
        self.clean()
        reset(self.store)
        st = self.store.state
        if platform_commands.command(self.cfg, "factory-reset-command") is None:
            log.info("FactoryReset: no factory-reset-command configured; only tr069client's own "
                     "state was reset")
            st["expect_boot"] = RETURNED
            self._save()
        else:
            st["expect_boot"] = STARTED
            self._save()
            try:
                self._run("factory-reset-command")
                st["expect_boot"] = RETURNED
            except platform_commands.CommandError as e:
                st.pop("expect_boot")   # the next session says 0 BOOTSTRAP, but no 1 BOOT
                self._failed("FactoryReset: tr069client's state was reset, but the device was "
                             "not: %s" % e)
            self._save()
        self.stop()


def install(parts, store, cfg, clean=None):
    """Plug Reboot and FactoryReset into the daemon's parts; returns the Operations."""
    ops = Operations(store, cfg, stop=lambda: parts.stop and parts.stop(),
                     service=lambda: parts.service and parts.service(),
                     clean=clean)
    parts.handlers.update(RPCS)
    parts.runners["reboot"] = ops.reboot
    parts.runners["factory_reset"] = ops.factory_reset
    return ops
