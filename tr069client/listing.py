"""The tree as GetParameterNames, GetParameterValues and GetParameterAttributes list it: the
walk in model order, the count of an answer before it is built, and answers made as they
are written; no I/O.

An answer is (how many entries, an iterator making them): every fault is raised before it
is returned, and a large answer is never whole in memory. The iterator reads the model as it
is when it runs: nothing may change the model before the answer is written
(session.Session.answering).
"""

from . import datatypes, metadata
from .faults import CwmpFault, INVALID_ARGUMENTS, INVALID_NAME, RESOURCES_EXCEEDED

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Iterator, List, Optional, Sequence, Tuple

    from .model import Model


def walk(model: "Model", obj: str, params_only: bool, depth: "Optional[int]" = None
         ) -> "Iterator[Tuple[str, Optional[metadata.Param]]]":
    """(path, Param, or None for an object) below the existing object `obj`, in model order."""
    view = model.values()
    tables = model.tables
    table = tables.table_meta(obj) if not obj[:-1].rpartition(".")[2].isdigit() else None
    if table is not None:  # a table's name object: its children are the instances
        for n in tables.instances(obj):
            inst = "%s%d." % (obj, n)
            if not params_only:
                yield inst, None
            if depth != 1:
                yield from walk(model, inst, params_only, depth and depth - 1)
        return
    g = metadata.generic(obj)
    for name, p in model.meta.params_of(g):
        full = obj + name
        if full in view:
            yield full, p
    for gc in model.meta.child_objects(g):
        child = obj + gc[len(g):]
        if child.endswith(".{i}."):
            child = child[:-4]
        if not params_only:
            yield child, None
        if depth != 1:
            yield from walk(model, child, params_only, depth and depth - 1)


def count(model: "Model", paths: "Sequence[str]", what: str, params_only: bool = True,
          depth: "Optional[int]" = None) -> int:
    """How many entries an answer listing `paths` (an object: what is below it, itself too
    unless `params_only`) holds; CwmpFault 9004 beyond model.max_answer."""
    n = 0
    for path in paths:
        path = path or "Device."
        if not path.endswith("."):
            n += 1
        elif model.object_exists(path):
            n += not params_only
            for _ in walk(model, path, params_only, depth):
                n += 1
                if n > model.max_answer:
                    break
        if n > model.max_answer:
            raise CwmpFault(RESOURCES_EXCEEDED, "the answer would hold more than %d %s"
                            % (model.max_answer, what))
    return n


def params(model: "Model", paths: "Sequence[str]",
           what: str) -> "Tuple[int, Iterator[Tuple[str, metadata.Param]]]":
    """(how many, (path, Param) of each) of the parameters `paths` name (a parameter, or every
    one below an object), counted against the budget and each path checked before any is
    walked; the answer of GetParameterValues and GetParameterAttributes alike."""
    n = count(model, paths, what)
    found = []   # the Param of each parameter path, None for an object's
    heads = {}
    for path in paths:
        path = path or "Device."
        if not path.endswith("."):
            found.append(model.param(path, heads))
        elif model.object_exists(path):
            found.append(None)
        else:
            raise CwmpFault(INVALID_NAME, "no such object: %s" % path)
    return n, _params(model, paths, found)


def _params(model, paths, found):
    for path, param in zip(paths, found):
        if param is None:
            yield from walk(model, path or "Device.", True)
        else:
            yield path, param


def values(model: "Model", paths: "Sequence[str]") -> "Tuple[int, Iterator[Tuple[str, str, str]]]":
    """GetParameterValues: (name, value, xsd type) entries; secured values read as ""."""
    n, found = params(model, paths, "values")
    return n, _values(model, found)


def _values(model, found):
    view = model.values()
    for full, p in found:
        yield full, datatypes.readback(p, view[full]), datatypes.xsd_type(p)


def names(model: "Model", path: str, next_level: bool) -> "Tuple[int, Iterator[Tuple[str, bool]]]":
    """GetParameterNames (TR-069 A.3.2.3): (name, writable) entries."""
    if path == "":
        if next_level:
            return 1, iter((("Device.", False),))
        path, include_self = "Device.", True
    else:
        include_self = not next_level
    if not path.endswith("."):
        p = model.param(path)
        if next_level:
            raise CwmpFault(INVALID_ARGUMENTS, "NextLevel must be false for the parameter %s" % path)
        return 1, iter(((path, model.param_writable(path, p)),))
    if not model.object_exists(path):
        raise CwmpFault(INVALID_NAME, "no such object: %s" % path)
    depth = 1 if next_level else None
    # The count includes the object itself, which a NextLevel answer leaves out.
    return count(model, [path], "names", False, depth) - (not include_self), \
        _names(model, path, include_self, depth)


def _names(model, path, include_self, depth):
    tables = model.tables
    if include_self:
        yield path, tables.object_writable(path)
    for full, p in walk(model, path, False, depth):
        yield full, tables.object_writable(full) if p is None else model.param_writable(full, p)


def params_under(model: "Model", path: str) -> "List[Tuple[str, metadata.Param]]":
    """[(path, Param)] of the parameter `path`, or of every one below the object `path`."""
    if path.endswith(".") or path == "":
        path = path or "Device."
        if not model.object_exists(path):
            raise CwmpFault(INVALID_NAME, "no such object: %s" % path)
        return list(walk(model, path, True))
    return [(path, model.param(path))]
