"""One device's whole state as one object: its store, data model, RPC table, session planner
(with the one event queue), transfer queue, device operations and diagnostics, and the table
that runs the actions a session leaves for its end (actions.py). Nothing mutable is shared
between two Devices, so one process can hold several (a fleet of simulated CPEs) as well as one
(the daemon, which adds the loop's callbacks: `stop`, `service`, `wait`).
"""

import random as _random

from . import config, diagnostics, linux, log, operations, rpcs, settings
from . import actions as actions_mod
from . import events as ev
from . import transfers as transfers_mod
from .actions import ApplyChanges, FactoryReset, Reboot, ScheduleInform, SettleDiagnostic
from .diagnostics.service import Diagnostics
from .model import Model
from .planner import Planner

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Callable, Dict, Iterable, Optional

    from . import fetch
    from .store import Store

_VERSION = "Device.DeviceInfo.SoftwareVersion"


def product_defaults() -> "Dict[str, str]":
    """The values a new device starts with where TR-181's defaults do not suit a CPE agent."""
    return dict(linux.PRODUCT_DEFAULTS, **settings.PRODUCT_DEFAULTS, **diagnostics.defaults())


class Device:
    """Built from a store, a config dict (config.py's keys) and an identity (identity.py).

    The loop's part: `timers`, objects with `deadline(mono, wall)` and `tick(mono, wall)` to
    serve; `run(actions, wall, late)` after each session. Set by the daemon: `stop()` ends it
    (after a reboot command, so that the supervisor restarts it); `service()` answers
    connection requests and control requests during long work; `wait`, the transport's wait
    that does the same while a file server is slow."""

    def __init__(self, store: "Store", cfg: dict, ident: "Dict[str, str]", root: str = "/",
                 random: "Callable[[], float]" = _random.random,
                 commit: "Optional[Callable[[], Optional[str]]]" = None,
                 model: "Optional[Model]" = None, worker: "Optional[fetch.Worker]" = None):
        """`model` and `worker`, if given, replace the data model and the transfer worker
        that `cfg` would give (fleet mode: a model over a template that many devices share,
        transfers done by the fleet's own loop)."""
        self.store = store
        self.cfg = cfg
        self.identity = ident
        self.stop = None     # type: Optional[Callable[[], None]]
        self.service = None  # type: Optional[Callable[[], object]]
        self.wait = None
        if model is None:
            platform = linux.providers(ident, config.get(cfg, "ntp-servers")) \
                if config.get(cfg, "platform-providers") else []
            model = Model(store, providers=platform, root=root, defaults=product_defaults())
            # Bindings win over the built-in providers (a longer or, listed first, an equal
            # prefix), and numbering their rows first gives them the low instance numbers of
            # a new device. Their modules are loaded only for a device that has a bindings file.
            if config.get(cfg, "bindings"):
                from . import bindings
                model.providers[:0] = bindings.providers(model, config.get(cfg, "bindings"),
                                                         config.get(cfg, "command-timeout"))
        self.model = model
        self._given_worker = worker
        # The RPC table, in the order GetRPCMethods lists it.
        self.handlers = dict(rpcs.RPCS)
        self.planner = Planner(store, model, ident, random, self.handlers,
                               config.CWMP_VERSIONS[config.get(cfg, "cwmp-version")], commit)
        self.events = self.planner.events
        self.operations = operations.Operations(store, self.events, cfg, stop=self._stop, service=self._service,
                                                clean=lambda: self.transfers.worker.clean())
        self.transfers = transfers_mod.Queue(
            store, self.events, self._worker, reboot=self.operations.restart_device,
            timeout=self._timeout,
            version=lambda: model.poll([_VERSION]).get(_VERSION), session_due=self.planner.due)
        self.handlers.update(operations.RPCS)
        self.handlers.update(transfers_mod.rpcs(self.transfers))
        self.planner.cpe_requests.append(self.transfers.requests)
        self.planner.on_acknowledged.append(self.transfers.acknowledged)
        # Remote diagnostics (TR-143): SPV hooks in the model, a timer for the results.
        self.diagnostics = Diagnostics(model, self.events)
        model.checks.append(self.diagnostics.refuse)
        model.on_set.append(self.diagnostics.changed)
        self.timers = [self.transfers, self.diagnostics]
        # The one table of deferred work: action type -> fn(action, wall).
        self._runners = {
            ScheduleInform: lambda a, wall: self.planner.schedule_inform(a.delay, a.command_key, wall),
            ApplyChanges: self._apply,
            Reboot: lambda a, wall: self.operations.reboot(a.command_key),
            FactoryReset: lambda a, wall: self.operations.factory_reset(),
            SettleDiagnostic: lambda a, wall: self.diagnostics.settle(a.kind),
        }
        log.debug("RPC methods: %s", ", ".join(self.handlers))

    def start(self, boot_id: "Optional[str]", mono: float, wall: float,
              instead: "Optional[Dict[type, Callable]]" = None) -> None:
        """The daemon started in the boot `boot_id` (planner.start), and runs what a session
        accepted but a power cut or a kill kept from running (actions.hold): a Reboot the
        device did meanwhile (another boot) is only reported (M Reboot). `instead`: as run()'s."""
        self.planner.start(boot_id, mono, wall)
        for action, accepted_in in actions_mod.take(self.store):
            log.info("carrying out the %s the ACS was told was accepted before tr069client stopped",
                     type(action).__name__)
            if isinstance(action, Reboot) and None not in (accepted_in, boot_id) and accepted_in != boot_id:
                self.events.add(ev.M_REBOOT, action.command_key)
            else:
                self._runner(action, instead)(action, wall)

    def run(self, actions: "Iterable[tuple]", wall: float, late: bool,
            instead: "Optional[Dict[type, Callable]]" = None) -> None:
        """Run the session's `actions` that are `late` (after its outcome is saved and logged)
        or not (as it is recorded), in the order the session gave them. `instead` maps an
        action type to a runner fn(action, wall) used in place of this device's own (fleet
        mode simulates Reboot and FactoryReset)."""
        for action in actions:
            if action.late == late:
                actions_mod.release(self.store, action)   # its note goes with the next save
                self._runner(action, instead)(action, wall)

    def _runner(self, action, instead):
        runner = instead.get(type(action)) if instead else None
        return runner or self._runners[type(action)]

    def _apply(self, action, wall):
        provider = action.provider
        try:
            provider.apply(self.model)
        except Exception as e:  # an integrator's apply hook must not stop the daemon
            log.error("applying changes under %s failed: %s", provider.prefix, e)

    def _worker(self):
        if self._given_worker is not None:
            return self._given_worker
        # fetch.py (with descriptor.py and platform_commands.py) comes with the first transfer.
        from . import fetch
        return fetch.Worker(self.cfg, ca_file=lambda: settings.get(self.model, "ca-file") or None,
                            service=self._service, wait=lambda: self.wait)

    def _timeout(self, name):
        from .platform_commands import timeout
        return timeout(self.cfg, name)

    def _stop(self):
        if self.stop is not None:
            self.stop()

    def _service(self):
        return self.service and self.service()
