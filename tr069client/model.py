"""The data model the ACS sees: TR-181 metadata, stored values and OS providers, as one tree.

No I/O of its own: providers (the OS seam) and the store are passed in.
"""

from . import datatypes, listing, metadata
from .actions import apply_changes
from .attributes import default_notification
from .faults import CwmpFault, INTERNAL_ERROR, INVALID_ARGUMENTS, INVALID_NAME, INVALID_VALUE, NOT_WRITABLE
from .provider import ProviderError
from .tables import Tables

PARAMETER_KEY = "Device.ManagementServer.ParameterKey"

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Dict, List, Optional, Sequence, Tuple

    from .provider import Provider
    from .store import Store


class Model:
    """GPN/GPV/SPV over metadata, store and providers; its table rows are `tables`
    (tables.py: AddObject, DeleteObject, NumberOfEntries), attributes are attributes.py's.

    Methods that may leave work for the end of the session (a provider's apply) take
    `later`, the session's action list (actions.py); without one, nothing is deferred."""

    # A GetParameterValues/Names/Attributes answer beyond this many entries is refused with
    # 9004 before any is built (listing.count): 16,384 names of "Device." would otherwise list
    # the whole tree 16,384 times. As many as a request may name (rpcs._MAX_NAMES); a
    # router's whole tree is a few thousand.
    max_answer = 16384

    def __init__(self, store: "Store", meta: "Optional[metadata.Meta]" = None,
                 providers: "Sequence[Provider]" = (), root: str = "/",
                 defaults: "Optional[Dict[str, str]]" = None):
        self.store = store
        self.product_defaults = defaults or {}
        self.meta = meta or metadata.load()
        self.providers = list(providers)
        self.root = root
        self.tables = Tables(self)
        self._defaults = None
        self._default_active = None
        self._view = None
        self._failed = {}
        self._owners = {}
        self.acs_changed = set()   # paths the ACS set in the session that is open or just ended
        self.session_open = False  # while true, the ACS's own changes are not notified back
        self.journal = None        # while an RPC's change may be undone: see journal.py
        # Providers memoize OS reads here (a file, a command's output): emptied whenever
        # the model reads the OS afresh, so one GPV of Device. reads each source once.
        self.cache = {}
        # SetParameterValues hooks of other parts (diagnostics): `checks`, fn(path, value) ->
        # why the value is refused (fault 9007) or None; `on_set`, fn(names, later) once a
        # SetParameterValues is applied.
        self.checks = []
        self.on_set = []

    # --- the per-session view -------------------------------------------------------

    def begin_session(self) -> None:
        """Forget cached provider values so this session reads the OS afresh."""
        self._view = None
        self.cache = {}
        self.acs_changed = set()
        self.session_open = True

    def end_session(self) -> None:
        """The session is over: a later change of what the ACS set is a change to notify."""
        self.session_open = False

    def refresh(self) -> None:
        """Drop the session's cached view (after a change made outside the model)."""
        self._view = None
        self.cache = {}

    def values(self) -> "Dict[str, str]":
        """All current values as a flat dict, each provider read at most once per session."""
        if self._view is None:
            view = dict(self.defaults())
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
                    if isinstance(v, ProviderError):   # this parameter alone failed
                        self._failed[k] = str(v)
                        continue
                    view[k] = v if isinstance(v, str) else str(v)
                    self._owners[k] = p
            self._view = view
            self.tables.reindex(view)
            for prefix in self._failed:
                # Defaults would pass for OS values: a failed provider's parameters fail too.
                for k in [k for k in view if _covers(prefix, k) and k not in self.store.values]:
                    del view[k]
        return self._view

    def value(self, path: str, default: "Optional[str]" = None) -> "Optional[str]":
        """The current value of `path`, or `default`. Until the view is built, a path no
        provider covers (the daemon's settings and timers) is read from the store and the
        defaults, as the view would have it, without reading the OS."""
        if self._view is None and self._os_free(path):
            got = self.store.values.get(path)
            return got if got is not None else self.defaults().get(path, default)
        return self.values().get(path, default)

    def _os_free(self, path):
        # Whether the view's value of `path` is the stored or default one, whatever the OS says.
        return not path.endswith("NumberOfEntries") and self.provider_for(path) is None

    def defaults(self) -> "Dict[str, str]":
        """{path: default value} of every parameter of an object outside any table: they
        exist from the start."""
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

    # --- existence and access ---------------------------------------------------------

    def object_exists(self, path: str) -> bool:
        """Whether the concrete object path `path` ("X." or "X.N.") exists now."""
        return self.tables.exists(path)

    def owner(self, path: str) -> "Optional[Provider]":
        """The provider that supplied the value of `path`, or None for a stored one."""
        if self.provider_for(path) is None:
            return None
        self.values()
        return self._owners.get(path)

    def param_writable(self, path: str, param: "metadata.Param") -> bool:
        if not param.writable:
            return False
        owner = self.owner(path)
        return owner is None or owner.can_set(path)

    def provider_for(self, path: str) -> "Optional[Provider]":
        """The provider with the longest prefix covering `path` (the first of equals), or None."""
        best = None
        for p in self.providers:
            if path.startswith(p.prefix) and (best is None or len(p.prefix) > len(best.prefix)):
                best = p
        return best

    def _failure_for(self, path):
        for prefix, reason in self._failed.items():
            if _covers(prefix, path):
                return reason
        return None

    def param(self, path: str, heads: "Optional[Dict[str, str]]" = None) -> "metadata.Param":
        """Metadata of an existing parameter, or CwmpFault 9005 (9002 if its provider failed).
        `heads`: object path -> its generic path, kept by a caller that asks of many names
        (the 10,000 of a GetParameterValues lie in a few hundred rows)."""
        head, _, name = path.rpartition(".")
        g = heads.get(head) if heads is not None else None
        if g is None:
            g = metadata.generic(head + ".")
            if heads is not None:
                heads[head] = g
        p = self.meta.param_in(g, name)
        view = self._view
        if p is not None and (path in view if view is not None else self.value(path) is not None):
            return p
        reason = self._failure_for(path)
        if reason:
            raise CwmpFault(INTERNAL_ERROR, "cannot read %s: %s" % (path, reason))
        raise CwmpFault(INVALID_NAME, "no such parameter: %s" % path)

    # --- RPC answers (listing.py) -----------------------------------------------------------

    def get_values(self, paths: "Sequence[str]") -> "List[Tuple[str, str, str]]":
        """[(name, value, xsd type)] for GetParameterValues; secured values read as ""."""
        return list(listing.values(self, paths)[1])

    def get_names(self, path: str, next_level: bool) -> "List[Tuple[str, bool]]":
        """[(name, writable)] for GetParameterNames (TR-069 A.3.2.3)."""
        return list(listing.names(self, path, next_level)[1])

    def set_values(self, items: "Sequence[Tuple[str, str, Optional[str]]]", key: "Optional[str]",
                   later: "Optional[list]" = None) -> int:
        """SetParameterValues, all or nothing; returns the Status (1: applied at session end,
        by the ApplyChanges put in `later`)."""
        view = self.values()
        faults, plan, seen = [], [], set()
        for name, value, xsi_type in items:
            if name in seen:
                faults.append((name, INVALID_ARGUMENTS, "parameter given twice"))
                continue
            seen.add(name)
            try:
                p = self.param(name)
                if not self.param_writable(name, p):
                    raise CwmpFault(NOT_WRITABLE, "%s is read-only" % name)
                v = datatypes.normalize(p, value, xsi_type)
                self._check(name, p, v)
                plan.append((name, v))
            except CwmpFault as f:
                faults.append((name, f.code, f.message))
        if not faults:
            faults = self.tables.unique_key_faults(plan)
        if faults:
            first = "%s: %s" % (faults[0][0], faults[0][2])
            raise CwmpFault(INVALID_ARGUMENTS, first if len(faults) == 1 else
                            "%d invalid parameters, the first %s" % (len(faults), first), faults)
        undo = []
        status = 0
        try:
            for name, v in plan:
                owner = self.owner(name)
                old = view[name]
                undo.append((name, old, owner, name in self.store.values))
                if owner is not None and owner.can_set(name):
                    if owner.set(self, name, v):
                        status = 1
                        apply_changes(later, owner)
                    self.note_os_change(lambda o=owner, n=name, v=old: o.set(self, n, v), "%s was set" % name)
                else:
                    self.store.values[name] = v
                view[name] = v
        except ProviderError as e:
            self._rollback(undo)
            raise CwmpFault(INTERNAL_ERROR, "setting %s failed: %s" % (name, e))
        self.acs_changed.update(n for n, _ in plan)
        self.applied([n for n, _ in plan], later)
        self.set_parameter_key(key)
        return status

    def _rollback(self, undo):
        for name, old, owner, stored in reversed(undo):
            try:
                if owner is not None and owner.can_set(name):
                    owner.set(self, name, old)
                elif stored:
                    self.store.values[name] = old
                else:   # it was a model default: do not pin it in the store
                    self.store.values.pop(name, None)
            except ProviderError:
                pass  # best effort: the fault already says the set failed
            self._view[name] = old

    def note_os_change(self, undo, what: str) -> None:
        """Note a provider's change of the OS: `undo()` reverses it (None: it cannot)."""
        if self.journal is not None:
            self.journal.append((undo, what))

    def set_parameter_key(self, key: "Optional[str]") -> None:
        """The ACS's ParameterKey of the change just made (None: it gave none)."""
        if key is not None:
            self.store.values[PARAMETER_KEY] = key
            if self._view is not None:
                self._view[PARAMETER_KEY] = key
        self.store.dirty = True

    def set_local(self, path: str, value: str) -> str:
        """A change made on the device (command line, daemon), validated like an ACS's and
        applied at once."""
        p = self.param(path)
        owner = self.owner(path)
        if owner is not None and not owner.can_set(path):
            raise CwmpFault(NOT_WRITABLE, "%s is owned by the operating system" % path)
        v = datatypes.normalize(p, value)
        self._check(path, p, v)
        if owner is not None:
            if owner.set(self, path, v) and owner.apply is not None:
                owner.apply(self)
        else:
            self.store.values[path] = v
            self.store.dirty = True
        if self._view is not None:
            self._view[path] = v
        return v

    def _check(self, path, p, v):
        """CwmpFault unless the normalized value `v` of `path` (metadata `p`) may be set:
        references to rows that exist, then the other parts' `checks` (fault 9007)."""
        self.tables.check_references(p, v)
        for check in self.checks:
            why = check(path, v)
            if why:
                raise CwmpFault(INVALID_VALUE, why)

    def applied(self, names: "List[str]", later: "Optional[list]") -> None:
        """`names` were set, all of them (by the ACS, or set_local() for the command line):
        the `on_set` hooks act on it; `later` takes their actions, if any."""
        for hook in self.on_set:
            hook(names, later)

    def set_own(self, path: str, value: str) -> None:
        """A value the device itself keeps (ConnectionRequestURL), stored as it is."""
        self.keep({path: value})

    def keep(self, changes: "Dict[str, Optional[str]]") -> None:
        """Values the device itself produces (diagnostics results), stored as they are (a
        result may be a value no ACS may write); None drops one."""
        for path, value in changes.items():
            if value is None:
                self.store.values.pop(path, None)
            else:
                self.store.values[path] = value
        self.store.dirty = True
        self.refresh()

    # --- tables ---------------------------------------------------------------------------

    def instances(self, table: str) -> "Sequence[int]":
        """Instance numbers of the concrete table path `table` ("Device.NAT.PortMapping.")."""
        return self.tables.instances(table)

    def add_object(self, path: str, key: "Optional[str]", later: "Optional[list]" = None) -> "Tuple[int, int]":
        """AddObject: (instance number, status); instance numbers are never reused."""
        return self.tables.add_object(path, key, later)

    def delete_object(self, path: str, key: "Optional[str]", later: "Optional[list]" = None) -> int:
        """DeleteObject of an instance `X.N.`; returns the status."""
        return self.tables.delete_object(path, key, later)

    # --- attributes and notification --------------------------------------------------------

    def params_under(self, path: str) -> "List[Tuple[str, metadata.Param]]":
        """[(path, Param)] of the parameter `path`, or of every one below the object `path`."""
        return listing.params_under(self, path)

    def notified(self, kind: int) -> "List[str]":
        """Paths with notification `kind` (1 passive, 2 active); they may no longer exist."""
        out = [path for path, (n, _) in self.store.attrs.items() if n == kind]
        if kind == 2:
            # Parameters outside tables whose model default is active notification.
            if self._default_active is None:
                self._default_active = [path for path in self.defaults()
                                        if default_notification(self.meta.param(path)) == 2]
            out += [path for path in self._default_active if path not in self.store.attrs]
        return out

    def volatile(self, path: str) -> bool:
        """Whether the value of `path` may change without the ACS or the operator setting it
        (an OS value its provider calls volatile): a notification on it needs polling."""
        p = self.provider_for(path)
        return p is not None and p.volatile(path)

    def poll(self, paths: "Sequence[str]") -> "Dict[str, str]":
        """Fresh values of `paths` (missing ones left out), running only the providers that
        own them: a notification poll must not read the whole OS every minute."""
        out = {}
        self.cache = {}
        defaults = self.defaults()
        owners = {}
        for path in paths:
            if path in self.store.values:
                out[path] = self.store.values[path]
            elif path in defaults:
                out[path] = defaults[path]
            p = self.provider_for(path)
            if p is not None:
                owners.setdefault(p, []).append(path)
        for p, mine in owners.items():
            try:
                got = p.get(self)
            except ProviderError:
                continue
            out.update((path, str(got[path])) for path in mine
                       if path in got and not isinstance(got[path], ProviderError))
        return out


def _covers(prefix, path):
    """Whether a provider's or a failure's `prefix` (an object "X." or one parameter) holds `path`."""
    return path == prefix or (prefix.endswith(".") and path.startswith(prefix))
