"""A simulated device's data model (fleet mode): the daemon's Model over a template's values that
every device shares, its own store holding only what differs; owner of the state key
"deleted_rows" (the template's rows the ACS deleted from this device); no I/O."""

from .. import instances, state
from ..identity import PARAMS
from ..model import Model
from ..tables import Tables

DELETED = "deleted_rows"


class FleetModel(Model):
    """A Model whose defaults are `template.shared`, never copied. The whole view (and the
    tables' index of it) exists only during a session: refresh() drops both, and between
    sessions value() reads the store, then the template, without building it."""

    def __init__(self, store, template):
        Model.__init__(self, store, template.meta)
        self.template = template
        self._viewing = False   # a view may be built (values() ran since the last refresh())
        self.tables = _TemplateTables(self)

    def _deleted(self):
        return tuple(self.store.state.get(DELETED, ()))

    def defaults(self):
        dead = self._deleted()
        if not dead:
            return self.template.shared
        return {k: v for k, v in self.template.shared.items() if not k.startswith(dead)}

    def values(self):
        self._viewing = True
        return Model.values(self)

    def refresh(self):
        Model.refresh(self)
        self._viewing = False
        self.tables = _TemplateTables(self)   # its index holds the old view too

    def own_rows(self):
        """Whether this device added or deleted table rows (paths the template lacks)."""
        shared = self.template.shared
        return bool(self._deleted()) or any(k not in shared for k in self.store.values)

    def value(self, path, default=None):
        # Between sessions the planner asks a few settings: answered without building a view.
        if self._viewing or (path.endswith("NumberOfEntries") and self.own_rows()):
            return Model.value(self, path, default)
        v = self.store.values.get(path)
        if v is not None:
            return v
        dead = self.store.state.get(DELETED)
        if dead and path.startswith(tuple(dead)):
            return default
        return self.template.shared.get(path, default)

    def notified(self, kind):
        if kind != 2:
            return Model.notified(self, kind)
        # The template knows its parameters whose default is active notification.
        attrs = self.store.attrs
        return [p for p, (n, _) in attrs.items() if n == 2] + \
            [p for p in self.template.default_active if p not in attrs]

    def delete_object(self, path, key, later=None):
        status = Model.delete_object(self, path, key, later)
        if any(k.startswith(path) for k in self.template.shared):
            # A template row is gone for this device alone: remembered, and its number taken
            # from the table's counter as if AddObject had made it, so it is never given again.
            self.store.state.setdefault(DELETED, []).append(path)
            table, _, n = path[:-1].rpartition(".")
            instances.take(self.store, table + ".", int(n))
        return status

    def factory_reset(self, factory):
        """FactoryReset: the device's state is forgotten (state.reset), its stored values are
        its `factory` ones again."""
        state.reset(self.store)
        self.store.values.update(factory)
        self.refresh()


class _TemplateTables(Tables):
    """A device's rows: those of its template, indexed and counted once for every device,
    until it has its own."""

    def reindex(self, view, known=None):
        if known is None and not self.model.own_rows():
            # A copy: the table code may change the index it is given.
            known = {table: list(numbers) for table, numbers in self.model.template.index.items()}
        Tables.reindex(self, view, known)


class Identity:
    """The planner's identity mapping ("manufacturer", ...), read from the model: a device
    holds no copy of it."""

    __slots__ = ("model",)

    def __init__(self, model):
        self.model = model

    def __getitem__(self, key):
        return self.model.value(PARAMS[key], "")
