"""Undoing an RPC's change of the model when it cannot be saved: a copy of the stored state
taken before, and a journal of what providers did to the OS meanwhile; no I/O."""

from . import instances
from .provider import ProviderError


class Checkpoint:
    """The model as it was; `restore()` goes back to it, `close()` forgets it (always call it).

    What providers change is undone through them where they can (a value set back, a row
    added deleted again); what they cannot undo is listed by `restore()`."""

    def __init__(self, model):
        st = model.store
        self.model = model
        self.values, self.attrs = dict(st.values), dict(st.attrs)
        self.counters = instances.counters(st)
        self.acs_changed = set(model.acs_changed)
        # (undo callable or None, what was done), appended by the model as providers act.
        self.os = []
        model.journal = self.os

    def close(self):
        if self.model.journal is self.os:
            self.model.journal = None

    def restore(self):
        """Put the model back; sentences for the OS changes that could not be undone."""
        model, st = self.model, self.model.store
        self.close()
        left = []
        for undo, what in reversed(self.os):
            try:
                if undo is None:
                    left.append(what)
                else:
                    undo()
            except ProviderError as e:
                left.append("%s (%s)" % (what, e))
        # In place: other parts of the daemon hold these dicts.
        st.values.clear()
        st.values.update(self.values)
        st.attrs.clear()
        st.attrs.update(self.attrs)
        instances.restore_counters(st, self.counters)
        model.acs_changed.intersection_update(self.acs_changed)
        model.refresh()
        return left
