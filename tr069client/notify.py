"""Value-change detection for parameters with passive or active notification; no I/O.

The baseline is what the ACS last learned (or set); a poll compares the model with it.
"""


class Watcher:
    """Compares notified parameters with their baseline, kept in `state` (the store's)."""

    def __init__(self, model, state):
        self.model = model
        self.state = state
        self.baseline = state.setdefault("notify_baseline", {})
        # Changed paths not yet delivered in an Inform, by kind: {"1": [...], "2": [...]}.
        self.pending = state.setdefault("notify_pending", {"1": [], "2": []})
        # Paths that changed again after the last Inform was built: its delivery does not
        # cover their new value.
        self._since_inform = set()

    def poll(self):
        """Read the watched values; return (passive, active) lists of newly changed paths."""
        kinds = {p: 1 for p in self.model.notified(1)}
        kinds.update((p, 2) for p in self.model.notified(2))
        view = self.model.poll(list(kinds))
        changed = {1: [], 2: []}
        for path, kind in kinds.items():
            value = view.get(path)
            if value is None:
                continue
            old = self.baseline.get(path)
            if old is None:
                self.baseline[path] = value   # newly watched: nothing to report yet
            elif old != value:
                self.baseline[path] = value
                if self.model.session_open and path in self.model.acs_changed:
                    continue                  # TR-069 3.2.1: the ACS's own changes are not notified
                lst = self.pending[str(kind)]
                if path not in lst:
                    lst.append(path)
                self._since_inform.add(path)
                changed[kind].append(path)
        for path in [p for p in self.baseline if p not in kinds]:
            del self.baseline[path]
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
        for kind in ("1", "2"):
            self.pending[kind] = [p for p in self.pending[kind] if p not in done]

    def has_active(self):
        return bool(self.pending["2"])
