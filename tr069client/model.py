"""The data model the ACS sees: TR-181 metadata, stored values and OS providers, as one tree.

No I/O of its own: providers (the OS seam) and the store are passed in.
"""

from . import datatypes, metadata
from .attributes import default_notification
from .provider import ProviderError
from .faults import (CwmpFault, INTERNAL_ERROR, INVALID_ARGUMENTS, INVALID_NAME,
                     NOT_WRITABLE, REQUEST_DENIED, RESOURCES_EXCEEDED)

PARAMETER_KEY = "Device.ManagementServer.ParameterKey"


class Model:
    """GPN/GPV/SPV/AddObject/DeleteObject over metadata, store and providers (attributes:
    attributes.py)."""

    def __init__(self, store, meta=None, providers=(), config=None, root="/", defaults=None):
        self.store = store
        self.product_defaults = defaults or {}
        self.meta = meta or metadata.load()
        self.providers = list(providers)
        self.config = config or {}
        self.root = root
        self._defaults = None
        self._view = None
        self._index = None
        self._failed = {}
        self._owners = {}
        self.acs_changed = set()   # paths the ACS set this session: never notified back
        self.pending_apply = []    # providers whose apply() runs when the session ends
        # Providers memoize OS reads here (a file, a command's output): emptied whenever
        # the model reads the OS afresh, so one GPV of Device. reads each source once.
        self.cache = {}

    # --- the per-session view -------------------------------------------------------

    def begin_session(self):
        """Forget cached provider values so this session reads the OS afresh."""
        self._view = None
        self._index = None
        self.cache = {}
        self.acs_changed = set()
        self.pending_apply = []

    def refresh(self):
        """Drop the session's cached view (after a change made outside the model)."""
        self._view = None
        self._index = None
        self.cache = {}

    def _reindex(self):
        self._index = _index(self._view)
        self._count_entries()

    def values(self):
        """All current values as a flat dict, each provider read at most once per session."""
        if self._view is None:
            view = dict(self._static_defaults())
            view.update(self.store.values)
            self._failed = {}
            self._owners = {}
            for i, p in enumerate(self.providers):
                try:
                    got = p.get(self)
                except ProviderError as e:
                    self._failed[p.prefix] = str(e)
                    continue
                inner = [q.prefix for j, q in enumerate(self.providers) if j != i and q.prefix.startswith(
                    p.prefix) and (len(q.prefix) > len(p.prefix) or j < i)]
                for k, v in got.items():
                    if inner and any(k.startswith(q) for q in inner):
                        continue   # a more specific provider (a binding) owns this path
                    view[k] = v if isinstance(v, str) else str(v)
                    self._owners[k] = p
            self._view = view
            self._index = _index(view)
            self._count_entries()
            for prefix in self._failed:
                # Defaults would pass for OS values: a failed provider's parameters fail too.
                for k in [k for k in view if k.startswith(prefix) and k not in self.store.values]:
                    del view[k]
        return self._view

    def value(self, path, default=None):
        return self.values().get(path, default)

    def _static_defaults(self):
        # Every parameter of an object outside any table exists from the start.
        if self._defaults is None:
            d = {}
            stack = ["Device."]
            while stack:
                g = stack.pop()
                for name, p in self.meta.params_of(g):
                    d[g + name] = datatypes.default_value(p)
                stack.extend(c for c in self.meta.child_objects(g) if not c.endswith(".{i}."))
            if "Device.RootDataModelVersion" in d:
                d["Device.RootDataModelVersion"] = self.meta.model.partition(":")[2]   # "2.19"
            d.update((k, v) for k, v in self.product_defaults.items() if k in d)
            self._defaults = d
        return self._defaults

    def instances(self, table):
        """Instance numbers of the concrete table path `table` ("Device.NAT.PortMapping.")."""
        if self._index is None:
            self._index = _index(self.values())
        return self._index.get(table, ())

    def _count_entries(self):
        # ...NumberOfEntries always says how many instances the view holds.
        for g in self.meta.objects:
            obj = self.meta.object(g)
            if obj is None or not obj.table or not obj.num_entries_param:
                continue
            name = g[:-4]                                    # "Device.IP.Interface.{i}.IPv4Address."
            gparent = name[:name.rindex(".", 0, -1) + 1]     # "Device.IP.Interface.{i}."
            counter = obj.num_entries_param[obj.num_entries_param.rindex(".") + 1:]
            for parent in self._concrete(gparent):
                self._view[parent + counter] = str(len(self.instances(parent + name[len(gparent):])))

    def _concrete(self, gobj):
        """Concrete paths of existing objects matching the generic object path `gobj`."""
        paths = [""]
        for seg in gobj.rstrip(".").split("."):
            if seg == "{i}":
                paths = ["%s%d." % (p, n) for p in paths for n in self.instances(p)]
            else:
                paths = [p + seg + "." for p in paths]
        return paths

    # --- existence and access ---------------------------------------------------------

    def _table_meta(self, path):
        """Metadata of the table whose concrete name object is `path` ("X."), or None."""
        obj = self.meta.object(metadata.generic(path) + "{i}.")
        return obj if obj is not None and obj.table else None

    def object_exists(self, path):
        if path == "Device.":
            return True
        if not path.startswith("Device.") or not path.endswith(".") or ".." in path:
            return False
        head, _, last = path[:-1].rpartition(".")
        parent = head + "."
        if last.isdigit():
            return self._table_meta(parent) is not None and int(last) in self.instances(parent) \
                and self.object_exists(parent)
        g = metadata.generic(path)
        if self.meta.object(g) is None and self._table_meta(path) is None:
            return False
        return self.object_exists(parent)

    def _owner(self, path):
        """The provider that supplied the value of `path`, or None for a stored one."""
        self.values()
        return self._owners.get(path)

    def param_writable(self, path, param):
        if not param.writable:
            return False
        owner = self._owner(path)
        return owner is None or owner.can_set(path)

    def _provider_for(self, path):
        """The provider with the longest prefix covering `path` (the first of equals), or None."""
        best = None
        for p in self.providers:
            if path.startswith(p.prefix) and (best is None or len(p.prefix) > len(best.prefix)):
                best = p
        return best

    def _table_writable(self, table_path, obj):
        # Tables under a provider's prefix hold rows the OS owns: the ACS adds rows only
        # where the provider takes them.
        p = self._provider_for(table_path)
        return obj.writable and (p is None or p.can_add(table_path))

    def _os_row(self, inst):
        """Whether a provider supplied the values of the row `inst` ("X.N.")."""
        self.values()
        return any(inst + name in self._owners for name, _ in self.meta.params_of(metadata.generic(inst)))

    def _failure_for(self, path):
        for prefix, reason in self._failed.items():
            if path.startswith(prefix):
                return reason
        return None

    def _param(self, path):
        """Metadata of an existing parameter, or CwmpFault 9005 (9002 if its provider failed)."""
        view = self.values()
        p = self.meta.param(metadata.generic(path)) if not path.endswith(".") else None
        if p is not None and path in view:
            return p
        reason = self._failure_for(path)
        if reason:
            raise CwmpFault(INTERNAL_ERROR, "cannot read %s: %s" % (path, reason))
        raise CwmpFault(INVALID_NAME, "no such parameter: %s" % path)

    # --- walking the tree ---------------------------------------------------------------

    def _walk(self, obj, params_only, depth=None):
        """Yield (path, param_or_None) below the existing object `obj`, in model order."""
        view = self.values()
        table = self._table_meta(obj) if not obj[:-1].rpartition(".")[2].isdigit() else None
        if table is not None:  # a table's name object: its children are the instances
            for n in self.instances(obj):
                inst = "%s%d." % (obj, n)
                if not params_only:
                    yield inst, None
                if depth != 1:
                    yield from self._walk(inst, params_only, depth and depth - 1)
            return
        g = metadata.generic(obj)
        for name, p in self.meta.params_of(g):
            full = obj + name
            if full in view:
                yield full, p
        for gc in self.meta.child_objects(g):
            child = obj + gc[len(g):]
            if child.endswith(".{i}."):
                child = child[:-4]
            if not params_only:
                yield child, None
            if depth != 1:
                yield from self._walk(child, params_only, depth and depth - 1)

    # --- RPCs ---------------------------------------------------------------------------

    def get_values(self, paths):
        """[(name, value, xsd type)] for GetParameterValues; secured values read as ""."""
        view = self.values()
        out = []
        for path in paths:
            path = path or "Device."
            if path.endswith("."):
                if not self.object_exists(path):
                    raise CwmpFault(INVALID_NAME, "no such object: %s" % path)
                for full, p in self._walk(path, True):
                    out.append((full, _shown(p, view[full]), datatypes.xsd_type(p)))
            else:
                p = self._param(path)
                out.append((path, _shown(p, view[path]), datatypes.xsd_type(p)))
        return out

    def get_names(self, path, next_level):
        """[(name, writable)] for GetParameterNames (TR-069 A.3.2.3)."""
        if path == "":
            if next_level:
                return [("Device.", False)]
            path, include_self = "Device.", True
        else:
            include_self = not next_level
        if not path.endswith("."):
            p = self._param(path)
            if next_level:
                raise CwmpFault(INVALID_ARGUMENTS, "NextLevel must be false for the parameter %s" % path)
            return [(path, self.param_writable(path, p))]
        if not self.object_exists(path):
            raise CwmpFault(INVALID_NAME, "no such object: %s" % path)
        out = [(path, self._object_writable(path))] if include_self else []
        for full, p in self._walk(path, False, 1 if next_level else None):
            out.append((full, self._object_writable(full) if p is None else self.param_writable(full, p)))
        return out

    def _object_writable(self, path):
        # GenieACS sends AddObject/DeleteObject only where GPN said Writable: a table that
        # may grow and each of its instances report true.
        head, _, last = path[:-1].rpartition(".")
        table = head + "." if last.isdigit() else path
        obj = self._table_meta(table)
        if obj is None or not self._table_writable(table, obj):
            return False
        # A row the OS owns is deletable only where its provider can delete it.
        owner = self._provider_for(table)
        return table == path or not self._os_row(path) or (owner is not None and owner.delete is not None)

    def set_values(self, items, key):
        """SetParameterValues, all or nothing; returns the Status (1: applied at session end)."""
        view = self.values()
        faults, plan, seen = [], [], set()
        for name, value, xsi_type in items:
            if name in seen:
                faults.append((name, INVALID_ARGUMENTS, "parameter given twice"))
                continue
            seen.add(name)
            try:
                p = self._param(name)
                if not self.param_writable(name, p):
                    raise CwmpFault(NOT_WRITABLE, "%s is read-only" % name)
                plan.append((name, datatypes.normalize(p, value, xsi_type)))
            except CwmpFault as f:
                faults.append((name, f.code, f.message))
        if not faults:
            faults = self._unique_alias_faults(plan)
        if faults:
            first = "%s: %s" % (faults[0][0], faults[0][2])
            raise CwmpFault(INVALID_ARGUMENTS, first if len(faults) == 1 else
                            "%d invalid parameters, the first %s" % (len(faults), first), faults)
        undo = []
        status = 0
        try:
            for name, v in plan:
                owner = self._owner(name)
                old = view[name]
                if owner is not None and owner.can_set(name):
                    if owner.set(self, name, v):
                        status = 1
                        self._apply_later(owner)
                else:
                    self.store.values[name] = v
                undo.append((name, old, owner))
                view[name] = v
        except ProviderError as e:
            self._rollback(undo)
            raise CwmpFault(INTERNAL_ERROR, "setting %s failed: %s" % (name, e))
        self.acs_changed.update(n for n, _ in plan)
        self._set_key(key)
        return status

    def _rollback(self, undo):
        for name, old, owner in reversed(undo):
            try:
                if owner is not None and owner.can_set(name):
                    owner.set(self, name, old)
                else:
                    self.store.values[name] = old
            except ProviderError:
                pass  # best effort: the fault already says the set failed
            self._view[name] = old

    def _unique_alias_faults(self, plan):
        faults = []
        view = self.values()
        for name, v in plan:
            if not name.endswith(".Alias"):
                continue
            inst = name[:-len("Alias")]
            table = inst[:-1].rpartition(".")[0] + "."
            for n in self.instances(table):
                other = "%s%d.Alias" % (table, n)
                if other != name and view.get(other) == v:
                    faults.append((name, INVALID_ARGUMENTS, "Alias %r is already used by %s" % (v, other[:-5])))
        return faults

    def _apply_later(self, provider):
        if provider not in self.pending_apply:
            self.pending_apply.append(provider)

    def _set_key(self, key):
        if key is not None:
            self.store.values[PARAMETER_KEY] = key
            if self._view is not None:
                self._view[PARAMETER_KEY] = key
        self.store.dirty = True

    def add_object(self, path, key):
        """AddObject: (instance number, status); instance numbers are never reused."""
        obj = self._table_meta(path) if path.endswith(".") else None
        if obj is None or not self.object_exists(path):
            raise CwmpFault(INVALID_NAME, "%s is not a table" % path)
        if not self._table_writable(path, obj):
            raise CwmpFault(REQUEST_DENIED, "the table %s does not allow AddObject" % path)
        existing = self.instances(path)
        if obj.max_entries is not None and len(existing) >= obj.max_entries:
            raise CwmpFault(RESOURCES_EXCEEDED, "the table %s is full (%d entries)" % (path, obj.max_entries))
        owner = self._provider_for(path)
        if owner is not None:
            try:
                n, apply = owner.add(self, path)
            except ProviderError as e:
                raise CwmpFault(INTERNAL_ERROR, "adding a row to %s failed: %s" % (path, e))
            if n is not None:
                if apply:
                    self._apply_later(owner)
                self.refresh()   # the OS has the row now: read it
                self._set_key(key)
                return n, 1 if apply else 0
        counters = self.store.state.setdefault("next_instance", {})
        n = max(counters.get(path, 1), (existing[-1] + 1) if existing else 1)
        counters[path] = n + 1
        inst = "%s%d." % (path, n)
        new = {}
        stack = [(inst, metadata.generic(path) + "{i}.")]
        while stack:
            c, g = stack.pop()
            for name, p in self.meta.params_of(g):
                new[c + name] = datatypes.default_value(p)
            stack.extend((c + gc[len(g):], gc) for gc in self.meta.child_objects(g) if not gc.endswith(".{i}."))
        if inst + "Alias" in new:
            new[inst + "Alias"] = "cpe-%d" % n  # TR-181: CPE-assigned Alias values start "cpe-"
        self.store.values.update(new)
        self.values().update(new)
        self._reindex()
        self._set_key(key)
        return n, 0

    def delete_object(self, path, key):
        """DeleteObject of an instance `X.N.`; returns the status."""
        head, _, last = path[:-1].rpartition(".")
        table = head + "."
        obj = self._table_meta(table) if path.endswith(".") and last.isdigit() else None
        if obj is None or not self.object_exists(path):
            raise CwmpFault(INVALID_NAME, "no such object instance: %s" % path)
        if not self._table_writable(table, obj):
            raise CwmpFault(REQUEST_DENIED, "the table %s does not allow DeleteObject" % table)
        status = 0
        if self._os_row(path):
            owner = self._provider_for(table)
            if owner is None or owner.delete is None:
                raise CwmpFault(REQUEST_DENIED, "%s belongs to the operating system" % path)
            try:
                if owner.delete(self, path):
                    status = 1
                    self._apply_later(owner)
            except ProviderError as e:
                raise CwmpFault(INTERNAL_ERROR, "deleting %s failed: %s" % (path, e))
        for d in (self.store.values, self.store.attrs, self.values()):
            for k in [k for k in d if k.startswith(path)]:
                del d[k]
        self._reindex()
        self._set_key(key)
        return status

    def set_local(self, path, value):
        """A change made on the device (command line, daemon), validated like an ACS's."""
        p = self._param(path)
        owner = self._owner(path)
        if owner is not None and not owner.can_set(path):
            raise CwmpFault(NOT_WRITABLE, "%s is owned by the operating system" % path)
        v = datatypes.normalize(p, value)
        if owner is not None:
            if owner.set(self, path, v) and owner.apply is not None:
                owner.apply(self)
        else:
            self.store.values[path] = v
            self.store.dirty = True
        self.values()[path] = v
        return v

    # --- attributes and notification --------------------------------------------------------

    def params_under(self, path):
        """[(path, Param)] of the parameter `path`, or of every one below the object `path`."""
        if path.endswith(".") or path == "":
            path = path or "Device."
            if not self.object_exists(path):
                raise CwmpFault(INVALID_NAME, "no such object: %s" % path)
            return list(self._walk(path, True))
        return [(path, self._param(path))]

    def notified(self, kind):
        """Paths with notification `kind` (1 passive, 2 active); they may no longer exist."""
        out = [path for path, (n, _) in self.store.attrs.items() if n == kind]
        if kind == 2:
            # Parameters outside tables whose model default is active notification.
            for path in self._static_defaults():
                if path not in self.store.attrs and default_notification(self.meta.param(path)) == 2:
                    out.append(path)
        return out

    def poll(self, paths):
        """Fresh values of `paths` (missing ones left out), running only the providers that
        own them: a notification poll must not read the whole OS every minute."""
        out = {}
        self.cache = {}
        defaults = self._static_defaults()
        owners = {}
        for path in paths:
            if path in self.store.values:
                out[path] = self.store.values[path]
            elif path in defaults:
                out[path] = defaults[path]
            p = self._provider_for(path)
            if p is not None:
                owners.setdefault(p, []).append(path)
        for p, mine in owners.items():
            try:
                got = p.get(self)
            except ProviderError:
                continue
            out.update((path, str(got[path])) for path in mine if path in got)
        return out


def _shown(param, value):
    """What the ACS reads: secured values as "", command parameters as their default."""
    if param.secured:
        return ""
    if param.facets and "command" in param.facets:
        return datatypes.default_value(param)
    return value


def _index(view):
    """{concrete table path: sorted instance numbers} from the keys of a flat view."""
    idx = {}
    for key in view:
        parts = key.split(".")
        for i in range(1, len(parts) - 1):
            if parts[i].isdigit():
                idx.setdefault(".".join(parts[:i]) + ".", set()).add(int(parts[i]))
    return {t: sorted(s) for t, s in idx.items()}
