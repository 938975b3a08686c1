"""One device's remote diagnostics between its data model and the runner: what an applied
SetParameterValues does to a test, the tests that start once the session has ended, and what
a finished test writes into the model and the event queue (rules.py says which). The
measuring happens in the runner's threads; this module does no I/O of its own. The rules and
the runner are imported when a test's parameter is first set or a test first starts: a
daemon that runs no test does not load them."""

from .. import log
from ..actions import SettleDiagnostic
from . import OBJECTS, STATE, interface_device

_OBJECTS = tuple(OBJECTS.values())
_STATES = [obj + STATE for obj in _OBJECTS]


class Diagnostics:
    """The tests of one device, on a runner of its own (two Devices share none), made when
    the first test starts; `runner` (diagnostics.runner.Runner) may be given instead.

    The model calls `refuse` (its `checks`) and `changed` (its `on_set`) from
    SetParameterValues; the session's SettleDiagnostic actions reach `settle`; the loop adds
    `fds()` to its select between sessions and serves `tick` like any timer; `resume()` at
    start, `close()` at stop."""

    def __init__(self, model, events, runner=None):
        self.model = model
        self.events = events
        self.runner = runner

    def take_over(self, other: "Diagnostics") -> None:
        """A reloaded device keeps the tests the old one was running that its state still
        says Requested (after reset-config, none)."""
        self.runner = other.runner
        if self.runner is None:
            return
        states = self.model.poll(_STATES)
        for kind in self.runner.running():
            if states.get(OBJECTS[kind] + STATE) != "Requested":
                self._stop(kind)

    # --- SetParameterValues ------------------------------------------------------------

    def refuse(self, path, value):
        """Why the SPV of `path` to `value` is refused (fault 9007), or None."""
        if not path.startswith(_OBJECTS):
            return None
        from . import rules
        return rules.refuse(path, value)

    def changed(self, names, later):
        """An applied SetParameterValues set `names`: each test it touched loses its results
        now (state None unless Requested), and is settled when the session has ended."""
        if not any(name.startswith(_OBJECTS) for name in names):
            return
        from . import rules
        for kind, action in rules.on_set(names, self.model.values()).items():
            self.model.keep(rules.changes(kind, action, list(self.model.store.values)))
            if later is not None:
                later.append(SettleDiagnostic(kind))

    def settle(self, kind: str) -> None:
        """After the session: start `kind` anew if its state says Requested, else stop it."""
        values = self.model.values()
        if values.get(OBJECTS[kind] + STATE) != "Requested":
            self._stop(kind)
            return
        self._start(kind, values)

    def _stop(self, kind):
        if self.runner is not None and self.runner.cancel(kind):
            log.info("diagnostics: %s stopped", kind)

    def _start(self, kind, values):
        from . import rules
        if self.runner is None:
            from .runner import Runner
            self.runner = Runner()
        interface = values.get(OBJECTS[kind] + "Interface", "")
        self.runner.start(kind, rules.inputs(kind, values), interface_device(values, interface))
        log.info("diagnostics: %s started", kind)

    # --- the loop ----------------------------------------------------------------------

    def resume(self) -> None:
        """At start: the tests a stop interrupted (their state still says Requested) run again."""
        states = self.model.poll(_STATES)
        if "Requested" not in states.values():
            return
        from . import rules
        values = self.model.values()
        for kind in rules.on_boot(states):
            self._start(kind, values)

    def fds(self) -> list:
        return self.runner.fds() if self.runner is not None else []

    def deadline(self, mono, wall):
        return None   # results wake the loop through fds()

    def tick(self, mono, wall) -> None:
        """Between sessions: write the results of the tests that finished into the model and
        queue 8 DIAGNOSTICS COMPLETE (a session follows: the planner wants one for it)."""
        if not self.fds():
            return   # no test has run: no pipe to read
        from . import rules
        for kind, results, note in self.runner.collect():
            writes, event = rules.on_result(kind, results, list(self.model.store.values))
            self.model.keep(writes)
            self.events.add(event)
            state = writes[OBJECTS[kind] + STATE]
            if note:
                log.warning("diagnostics: %s ended with %s: %s", kind, state, note)
            else:
                log.info("diagnostics: %s ended with %s", kind, state)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
