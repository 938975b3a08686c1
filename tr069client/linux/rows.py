"""Rows the OS owns: stable instance numbers kept in the store, and each row's parameters
filled from the model's defaults so that every selected parameter has a valid value.

Instance numbers: the same key (an interface name, an address, a MAC) keeps its number
across reads and restarts (store.state["instances"][table][key]), and a number is never
given to another key: new numbers come from the counter AddObject uses
(store.state["next_instance"][table]), so OS rows and ACS rows never collide either.
"""

import time

from .. import datatypes
from ..provider import ProviderError

# Keys of vanished rows remembered per table, so a row that comes back (a cable plugged
# in again, a host that returns) keeps its number; older ones are forgotten.
KEEP_VANISHED = 32


def reserve(model, table, space="instances"):
    """A fresh instance number of the concrete table path `table` ("Device.IP.Interface.")."""
    state = model.store.state
    known = state.setdefault(space, {}).get(table, {})
    counters = state.setdefault("next_instance", {})
    n = max([counters.get(table, 1)] + [v + 1 for v in known.values()])
    counters[table] = n + 1
    model.store.dirty = True
    return n


def number(model, table, key, space="instances"):
    """The instance number of the row `key` of `table`, given a fresh one if it is new.
    `space` separates key sets that share a table (the OS's rows, a binding's)."""
    known = model.store.state.setdefault(space, {}).setdefault(table, {})
    n = known.get(key)
    if n is None:
        n = known[key] = reserve(model, table, space)
    return n


def assign(model, table, keys, space="instances"):
    """{key: instance number} for the rows `keys` of `table`, numbering new keys in order."""
    out = {}
    for key in keys:
        out[key] = number(model, table, key, space)
    known = model.store.state[space][table] if keys else model.store.state.get(space, {}).get(table, {})
    if len(known) - len(out) > KEEP_VANISHED:
        gone = sorted((n, k) for k, n in known.items() if k not in out)
        for _, k in gone[:len(gone) - KEEP_VANISHED]:
            del known[k]
        model.store.dirty = True
    return out


def present(model, table, provider):
    """Instance numbers of the rows of `table` that the OS `provider` gives this session;
    none when it fails (the model reports that failure)."""
    key = ("rows.present", table)
    got = model.cache.get(key)
    if got is None:
        try:
            values = provider.get(model)
        except ProviderError:
            values = ()
        got = model.cache[key] = set()
        for path in values:
            n = path[len(table):].partition(".")[0]
            if path.startswith(table) and n.isdigit():
                got.add(int(n))
    return got


def remember(model, table, key, n, space="instances"):
    """Record that the row `key` of `table` has the instance number `n` (made by AddObject)."""
    model.store.state.setdefault(space, {}).setdefault(table, {})[key] = n
    model.store.dirty = True


def forget(model, table, key, space="instances"):
    """Drop the row `key` of `table` (deleted by the ACS); its number stays used."""
    if model.store.state.get(space, {}).get(table, {}).pop(key, None) is not None:
        model.store.dirty = True


def key_of(model, table, n, space="instances"):
    """The key of instance `n` of `table`, or None."""
    for k, v in model.store.state.get(space, {}).get(table, {}).items():
        if v == n:
            return k
    return None


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


def alias(n):
    # TR-181 _AliasCWMP: a value the CPE chooses starts with "cpe-".
    return "cpe-%d" % n


def iso_time(t):
    """A Unix time as a TR-181 dateTime in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


MAX_UINT = 4294967295   # the largest unsignedInt
INFINITE = "9999-12-31T23:59:59Z"   # TR-181: an infinite lifetime
UNKNOWN_TIME = "0001-01-01T00:00:00Z"
