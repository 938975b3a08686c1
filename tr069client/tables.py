"""Table rows of the data model: instance numbers, AddObject and DeleteObject, and the rules
that tie rows together (NumberOfEntries, unique keys, strong references); no I/O."""

import re

from . import datatypes, instances, metadata
from .actions import apply_changes
from .faults import (CwmpFault, INTERNAL_ERROR, INVALID_ARGUMENTS, INVALID_NAME, INVALID_VALUE,
                     REQUEST_DENIED, RESOURCES_EXCEEDED)
from .provider import ProviderError

# TR-106 3.6: an object name, and an instance number (a positive unsignedInt, written
# without leading zeros); anything else ("01", "{i}", "", other scripts' digits) names nothing.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_INSTANCE = re.compile(r"[1-9][0-9]{0,9}\Z")

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Optional, Sequence, Tuple

    from .model import Model


class Tables:
    """The rows of one model.Model (its `tables`), through the model's public surface: its
    view (`values()`), `meta`, `store`, `owner()` and `provider_for()`. It keeps the index of
    instance numbers of the view it last saw."""

    def __init__(self, model: "Model"):
        self.model = model
        self._view = None    # the view the index below was made from
        self._index = None   # {concrete table path: sorted instance numbers}

    def instances(self, table: str) -> "Sequence[int]":
        """Instance numbers of the concrete table path `table` ("Device.NAT.PortMapping.")."""
        view = self.model.values()
        if view is not self._view:
            self.reindex(view)
        return self._index.get(table, ())

    def reindex(self, view: dict, known: "Optional[dict]" = None) -> None:
        """`view` (the model's values) gained or lost rows: index them, and write every
        NumberOfEntries into it. `known`: the index of `view` where the caller has it, with
        every NumberOfEntries already right in the view (fleet mode: a device that has
        only its template's rows), taken as it is."""
        self._view = view
        if known is not None:
            self._index = known
            return
        self._index = _index(view)
        self._count_entries(view)

    def _count_entries(self, view):
        # ...NumberOfEntries always says how many instances the view holds.
        meta = self.model.meta
        for g in meta.objects:
            obj = meta.object(g)
            if obj is None or not obj.table or not obj.num_entries_param:
                continue
            name = g[:-4]                                    # "Device.IP.Interface.{i}.IPv4Address."
            gparent = name[:name.rindex(".", 0, -1) + 1]     # "Device.IP.Interface.{i}."
            counter = obj.num_entries_param[obj.num_entries_param.rindex(".") + 1:]
            for parent in self._concrete(gparent):
                view[parent + counter] = str(len(self.instances(parent + name[len(gparent):])))

    def _concrete(self, gobj):
        """Concrete paths of existing objects matching the generic object path `gobj`."""
        paths = [""]
        for seg in gobj.rstrip(".").split("."):
            if seg == "{i}":
                paths = ["%s%d." % (p, n) for p in paths for n in self.instances(p)]
            else:
                paths = [p + seg + "." for p in paths]
        return paths

    def exists(self, path: str) -> bool:
        """Whether the concrete object path `path` ("X." or "X.N.") exists now: an instance
        that the table holds, or an object the metadata has, under an existing parent."""
        if path == "Device.":
            return True
        if not path.startswith("Device.") or not path.endswith("."):
            return False
        head, _, last = path[:-1].rpartition(".")
        parent = head + "."
        if _INSTANCE.match(last):
            return self.table_meta(parent) is not None and int(last) in self.instances(parent) \
                and self.exists(parent)
        if not _NAME.match(last):
            return False
        if self.model.meta.object(metadata.generic(path)) is None and self.table_meta(path) is None:
            return False
        return self.exists(parent)

    def table_meta(self, path: str) -> "Optional[metadata.Obj]":
        """Metadata of the table whose concrete name object is `path` ("X."), or None."""
        obj = self.model.meta.object(metadata.generic(path) + "{i}.")
        return obj if obj is not None and obj.table else None

    def _table_writable(self, table_path, obj):
        # Tables under a provider's prefix hold rows the OS owns: the ACS adds rows only
        # where the provider takes them.
        p = self.model.provider_for(table_path)
        return obj.writable and (p is None or p.can_add(table_path))

    def _os_row(self, inst):
        """Whether a provider supplied the values of the row `inst` ("X.N.")."""
        model = self.model
        return any(model.owner(inst + name) is not None
                   for name, _ in model.meta.params_of(metadata.generic(inst)))

    def object_writable(self, path: str) -> bool:
        """GetParameterNames' Writable of the object `path` (a table or one of its rows)."""
        # GenieACS sends AddObject/DeleteObject only where GPN said Writable: a table that
        # may grow and each of its instances report true.
        head, _, last = path[:-1].rpartition(".")
        table = head + "." if last.isdigit() else path
        obj = self.table_meta(table)
        if obj is None or not self._table_writable(table, obj):
            return False
        # A row the OS owns is deletable only where its provider can delete it.
        owner = self.model.provider_for(table)
        return table == path or not self._os_row(path) or (owner is not None and owner.delete is not None)

    # --- AddObject and DeleteObject ----------------------------------------------------------

    def add_object(self, path: str, key: "Optional[str]", later: "Optional[list]" = None) -> "Tuple[int, int]":
        """AddObject: (instance number, status); instance numbers are never reused."""
        model = self.model
        obj = self.table_meta(path) if path.endswith(".") else None
        if obj is None or not model.object_exists(path):
            raise CwmpFault(INVALID_NAME, "%s is not a table" % path)
        if not self._table_writable(path, obj):
            raise CwmpFault(REQUEST_DENIED, "the table %s does not allow AddObject" % path)
        existing = self.instances(path)
        if obj.max_entries is not None and len(existing) >= obj.max_entries:
            raise CwmpFault(RESOURCES_EXCEEDED, "the table %s is full (%d entries)" % (path, obj.max_entries))
        owner = model.provider_for(path)
        if owner is not None:
            try:
                n, apply = owner.add(model, path)
            except ProviderError as e:
                raise CwmpFault(INTERNAL_ERROR, "adding a row to %s failed: %s" % (path, e))
            if n is not None:
                row = "%s%d." % (path, n)
                model.note_os_change(owner.delete and (lambda: owner.delete(model, row)),
                                     "the row %s was added to the system" % row)
                if apply:
                    apply_changes(later, owner)
                model.refresh()   # the OS has the row now: read it
                model.set_parameter_key(key)
                return n, 1 if apply else 0
        n = instances.take(model.store, path, (existing[-1] + 1) if existing else 1)
        inst = "%s%d." % (path, n)
        new = {}
        stack = [(inst, metadata.generic(path) + "{i}.")]
        while stack:
            c, g = stack.pop()
            for name, p in model.meta.params_of(g):
                new[c + name] = datatypes.default_value(p)
            stack.extend((c + gc[len(g):], gc) for gc in model.meta.child_objects(g) if not gc.endswith(".{i}."))
        if inst + "Alias" in new:
            new[inst + "Alias"] = self._free_alias(path, n)
        model.store.values.update(new)
        view = model.values()
        view.update(new)
        self.reindex(view)
        model.set_parameter_key(key)
        return n, 0

    def _free_alias(self, table, n):
        # TR-106 _AliasCWMP: a CPE-assigned Alias starts "cpe-"; TR-181: unique in its table,
        # and the ACS may already have given "cpe-N" to another row.
        view = self.model.values()
        taken = set(view.get("%s%d.Alias" % (table, i)) for i in self.instances(table))
        alias, k = instances.alias(n), 1
        while alias in taken:
            k += 1
            alias = "cpe-%d-%d" % (n, k)
        return alias

    def delete_object(self, path: str, key: "Optional[str]", later: "Optional[list]" = None) -> int:
        """DeleteObject of an instance `X.N.`; returns the status."""
        model = self.model
        head, _, last = path[:-1].rpartition(".")
        table = head + "."
        obj = self.table_meta(table) if path.endswith(".") and last.isdigit() else None
        if obj is None or not model.object_exists(path):
            raise CwmpFault(INVALID_NAME, "no such object instance: %s" % path)
        if not self._table_writable(table, obj):
            raise CwmpFault(REQUEST_DENIED, "the table %s does not allow DeleteObject" % table)
        status = 0
        if self._os_row(path):
            owner = model.provider_for(table)
            if owner is None or owner.delete is None:
                raise CwmpFault(REQUEST_DENIED, "%s belongs to the operating system" % path)
            try:
                if owner.delete(model, path):
                    status = 1
                    apply_changes(later, owner)
                model.note_os_change(None, "%s was removed from the system" % path)
            except ProviderError as e:
                raise CwmpFault(INTERNAL_ERROR, "deleting %s failed: %s" % (path, e))
        view = model.values()
        for d in (model.store.values, model.store.attrs, view):
            for k in [k for k in d if k.startswith(path)]:
                del d[k]
        instances.forget_below(model.store, path)
        self._clear_references(path, view)
        self.reindex(view)
        model.set_parameter_key(key)
        return status

    # --- rules between rows --------------------------------------------------------------------

    def check_references(self, param: "metadata.Param", value: str) -> None:
        """CwmpFault 9007 unless every path in the strong reference `value` exists (TR-106 A.2.3.6)."""
        ref = param.facets.get("ref") if param.facets else None
        if not ref or ref[0] != "strong" or not value:
            return
        view = self.model.values()
        for item in value.split(",") if param.list else (value,):
            if item and item not in view and not self.model.object_exists(item.rstrip(".") + "."):
                raise CwmpFault(INVALID_VALUE, "%s does not exist" % item)

    def _clear_references(self, row, view):
        # TR-181: when a strongly referenced object is deleted, the references to it become
        # empty (list items are dropped). Stored values only: providers own the others.
        gone = row[:-1]
        stored = self.model.store.values
        for name, value in list(stored.items()):
            if gone not in value:
                continue
            p = self.model.meta.param(metadata.generic(name))
            ref = p.facets.get("ref") if p is not None and p.facets else None
            if not ref or ref[0] != "strong":
                continue
            items = value.split(",") if p.list else [value]
            kept = [i for i in items if i.rstrip(".") != gone and not i.startswith(row)]
            if len(kept) != len(items):
                stored[name] = view[name] = ",".join(kept)

    def unique_key_faults(self, plan: "Sequence[Tuple[str, str]]") -> list:
        """SetParameterValuesFault triples, in plan order, for rows that `plan` would leave
        equal on a unique key; a functional key binds only enabled rows where the table has
        an Enable (DM schema, uniqueKey)."""
        after = dict(plan)
        touched = {}    # table path -> (Obj, {row: [names of its parameters in the plan]})
        for name in after:
            row, _, pname = name.rpartition(".")
            table, _, num = row.rpartition(".")
            obj = self.table_meta(table + ".") if num.isdigit() else None
            if obj is not None and obj.unique_keys:
                touched.setdefault(table + ".", (obj, {}))[1].setdefault(row + ".", []).append(pname)
        view = self.model.values()

        def value(row, pname):
            return after.get(row + pname, view.get(row + pname))

        faults = []
        for table, (obj, rows) in touched.items():
            enable = obj.enable_param.rpartition(".")[2] if obj.enable_param else None
            for key in obj.unique_keys:
                gate = enable if key in obj.functional_keys else None
                culprits = []
                for row, names in rows.items():
                    hit = [n for n in names if n in key or n == gate]
                    if hit and (gate is None or value(row, gate) == "true"):
                        culprits.append((row, hit[0]))
                if not culprits:
                    continue
                holders = {}
                for n in self.instances(table):
                    row = "%s%d." % (table, n)
                    values = tuple(value(row, k) for k in key)
                    if None not in values and (gate is None or value(row, gate) == "true"):
                        holders.setdefault(values, []).append(row)
                for row, pname in culprits:
                    values = tuple(value(row, k) for k in key)
                    other = [r for r in holders.get(values, ()) if r != row]
                    if other:
                        faults.append((row + pname, INVALID_ARGUMENTS, "%s %s is already used by %s" % (
                            ", ".join(key), ", ".join(map(repr, values)), other[0][:-1])))
        return faults


def _index(view):
    """{concrete table path: sorted instance numbers} from the keys of a flat view."""
    idx = {}
    for key in view:
        parts = key.split(".")
        for i in range(1, len(parts) - 1):
            if parts[i].isdigit():
                idx.setdefault(".".join(parts[:i]) + ".", set()).add(int(parts[i]))
    return {t: sorted(s) for t, s in idx.items()}
