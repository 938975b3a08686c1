"""Rows the OS owns: each row's parameters filled from the model's defaults so that every
selected parameter has a valid value (their instance numbers: ../instances.py)."""

from .. import datatypes


def template(model, gobj):
    """{parameter name: default value} of the generic object `gobj` ("Device.IP.Interface.{i}."),
    its counters left out (the model keeps those); cached for the session."""
    key = ("rows.template", gobj)
    t = model.cache.get(key)
    if t is None:
        t = {name: datatypes.default_value(p) for name, p in model.meta.params_of(gobj)
             if not name.endswith("NumberOfEntries")}
        model.cache[key] = t
    return t


def fill(out, model, obj, gobj, values):
    """Put the parameters of the object `obj` into `out`: `values` over the defaults."""
    for name, default in template(model, gobj).items():
        v = values.get(name, default)
        out[obj + name] = v if isinstance(v, str) else _wire(v)


def _wire(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)

