"""Value-change detection for parameters with passive or active notification; no I/O.

The baseline is what the ACS last learned (or set); a poll compares the model with it.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from .model import Model


class Watcher:
    """Compares notified parameters with their baseline, kept in `state` (the store's; this
    module owns its keys "notify_baseline" and "notify_pending")."""

    def __init__(self, model: "Model", state: dict):
        self.model = model
        self.state = state
        # Paths that changed again after the last Inform was built: its delivery does not
        # cover their new value.
        self._since_inform = set()
        # Whether, at the last poll, a watched value may change without the ACS or the
        # operator setting it (an OS value: see model.volatile): only a timer can see it change.
        self.any_volatile = False

    @property
    def baseline(self) -> dict:
        """{path: value} the ACS last learned (or set)."""
        return self.state.setdefault("notify_baseline", {})

    @property
    def pending(self) -> dict:
        """Changed paths not yet delivered in an Inform, by kind: {"1": [...], "2": [...]}."""
        return self.state.setdefault("notify_pending", {"1": [], "2": []})

    def _watched(self):
        kinds = {p: 1 for p in self.model.notified(1)}
        kinds.update((p, 2) for p in self.model.notified(2))
        return kinds

    def poll(self, volatile_only=False):
        """Read the watched values (`volatile_only`: only the volatile ones, for a timer: the
        others change only by a set, after which the whole is polled); return (passive,
        active) lists of newly changed paths."""
        kinds = self._watched()
        volatile = [p for p in kinds if self.model.volatile(p)]
        self.any_volatile = bool(volatile)
        view = self.model.poll(volatile if volatile_only else list(kinds))
        changed = {1: [], 2: []}
        baseline = self.baseline
        for path, kind in kinds.items():
            value = view.get(path)
            if value is None:
                continue
            old = baseline.get(path)
            if old is None:
                baseline[path] = value   # newly watched: nothing to report yet
            elif old != value:
                baseline[path] = value
                if self.model.session_open and path in self.model.acs_changed:
                    continue                  # TR-069 3.2.1: the ACS's own changes are not notified
                lst = self.pending[str(kind)]
                if path not in lst:
                    lst.append(path)
                self._since_inform.add(path)
                changed[kind].append(path)
        for path in [p for p in baseline if p not in kinds]:
            del baseline[path]
        return changed[1], changed[2]

    def accept_acs_changes(self):
        """At a session's end: what the ACS set, read afresh, becomes the baseline, not a
        change to report; from then on a change of it is notified again."""
        watched = set(self.model.notified(1)) | set(self.model.notified(2))
        self.baseline.update(self.model.poll([p for p in self.model.acs_changed if p in watched]))
        self.model.end_session()

    def inform_params(self):
        """Changed paths the next Inform must carry."""
        return self.pending["2"] + [p for p in self.pending["1"] if p not in self.pending["2"]]

    def begin_inform(self):
        """inform_params() for an Inform being built now."""
        self._since_inform = set()
        return self.inform_params()

    def delivered(self, sent):
        """The Inform carrying `sent` was answered; what changed since stays pending."""
        done = set(sent) - self._since_inform
        pending = self.pending
        for kind in ("1", "2"):
            pending[kind] = [p for p in pending[kind] if p not in done]

    def has_active(self):
        return bool(self.pending["2"])
