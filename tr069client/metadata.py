"""TR-181 metadata of the implemented model, loaded from tr181.json; no I/O beyond reading it.

The file is written by tools/gen_tr181.py (its docstring describes the format). Paths
here are generic: every instance number is replaced by "{i}" (see generic()).
Returned lists, Param/Obj tuples and facet dicts are shared: do not modify them.
"""

import json
import os
from collections import namedtuple

# type: string unsignedInt int unsignedLong long boolean dateTime base64 hexBinary decimal
# default: the model's default value (wire string) or None; list: comma-separated list;
# active_notify: "normal" | "canDeny" | "forceEnabled" | "forceDefaultEnabled";
# secured: hidden/secured, reads back as ""; facets: dict described in gen_tr181.py, or None.
Param = namedtuple("Param", "type writable default list active_notify forced_inform "
                            "secured facets")

# writable: the ACS may AddObject/DeleteObject; max_entries None = unbounded;
# num_entries_param: full generic path; unique_keys: lists of parameter names;
# enable_param: full generic path of the table's Enable parameter or None;
# functional_keys: the unique_keys (same list objects) that are functional: with an
# enable_param their uniqueness only binds enabled rows (DM schema, uniqueKey).
Obj = namedtuple("Obj", "table writable min_entries max_entries num_entries_param "
                        "unique_keys enable_param functional_keys")

_NOTIFY = (("c", "canDeny"), ("e", "forceEnabled"), ("d", "forceDefaultEnabled"))
_SCALAR = Obj(False, False, 1, 1, None, [], None, [])
_NONE = {}
_cached = None


def generic(path):
    """Return path with every all-digit segment replaced by "{i}"."""
    return ".".join(["{i}" if s.isdigit() and s.isascii() else s for s in path.split(".")])


class Meta:
    """The metadata of one model: objects, their parameters and children, in model order."""

    def __init__(self, doc):
        self.model = doc["model"]
        self.objects = []
        self.forced_inform = []
        self._obj = {}
        self._par = {}
        self._kids = {}
        facets = doc.get("facets", [])
        interned = {}
        for entry in doc["objects"]:
            path, flags, plist = entry[0], entry[1], entry[2]
            if "t" in flags:
                obj = _table(path, flags, entry[3:])
            else:
                obj = _SCALAR
            self.objects.append(path)
            self._obj[path] = obj
            params = {}
            for p in plist:
                key = tuple(p[1:])
                param = interned.get(key)
                if param is None:
                    param = interned[key] = _param(p, facets)
                params[p[0]] = param
                if param.forced_inform:
                    self.forced_inform.append(path + p[0])
            self._par[path] = params
            parent = _parent(path)
            if parent in self._kids:
                self._kids[parent].append(path)
            elif parent:
                self._kids[parent] = [path]

    def param(self, path):
        """Param of a generic parameter path, or None."""
        head, _, name = path.rpartition(".")
        return self.param_in(head + ".", name)

    def param_in(self, obj, name):
        """Param `name` of the generic object path `obj`, or None."""
        return self._par.get(obj, _NONE).get(name) if name else None

    def object(self, path):
        """Obj of a generic object path ("X.{i}." for a table), or None."""
        return self._obj.get(path)

    def params_of(self, path):
        """[(name, Param)] of the object's own parameters, in model order."""
        params = self._par.get(path)
        return list(params.items()) if params else []

    def child_objects(self, path):
        """Generic paths of the direct child objects, in model order ("X.{i}." for tables)."""
        return self._kids.get(path, [])


def _parent(path):
    segs = path[:-1].split(".")
    if segs[-1] == "{i}":
        segs.pop()
    segs.pop()
    return ".".join(segs) + "." if segs else ""


def _table(path, flags, rest):
    rest = list(rest) + [1, 1, None, None, []][len(rest):]
    low, high, num, enable, keys = rest
    unique, functional = [], []
    for key in keys:
        names = key[1:]
        unique.append(names)
        if key[0]:
            functional.append(names)
    return Obj(True, "w" in flags, low, high, num, unique,
               path + enable if enable else None, functional)


def _param(p, facets):
    ptype, flags = p[1], p[2]
    default = p[3] if len(p) > 3 else None
    facet = facets[p[4]] if len(p) > 4 and p[4] is not None else None
    notify = "normal"
    for letter, value in _NOTIFY:
        if letter in flags:
            notify = value
    return Param(ptype, "w" in flags, default, "l" in flags, notify, "f" in flags,
                 "s" in flags, facet)


def _read_json():
    # What pkgutil.get_data does (works from a zipapp too), without pkgutil's imports:
    # on 3.11 it loads typing, about 1 MB.
    path = os.path.join(os.path.dirname(__file__), "tr181.json")
    loader = globals().get("__loader__")
    if hasattr(loader, "get_data"):
        return loader.get_data(path)
    import pkgutil
    return pkgutil.get_data(__package__, "tr181.json")


def load(data=None):
    """The Meta of tr181.json (cached), or of `data` (bytes, str or dict; not cached)."""
    global _cached
    if data is None:
        if _cached is None:
            _cached = Meta(json.loads(_read_json()))
        return _cached
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    if isinstance(data, str):
        data = json.loads(data)
    return Meta(data)
