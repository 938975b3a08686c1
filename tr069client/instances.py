"""Table instance numbers: never reused, and stable for the rows the OS or a binding gives;
owner of the state keys "next_instance", "instances" and "bound_instances"; no I/O.

Every number of a table comes from one counter (state["next_instance"][table]), which
AddObject, OS rows and bound rows share, so that their rows never collide. A row the OS
gives is known by a key (an interface name, an address, a MAC): the same key keeps its
number across reads and restarts (state[space][table][key], `space` "instances" for the
OS's rows, "bound_instances" for a binding's). A row seen for the first time gets its
number during the read that finds it: the ACS may learn it in that very answer, so it is
written then (by this module, the keys' owner), and saved with the state.
"""

from .provider import ProviderError

# Keys of vanished rows remembered per table, so a row that comes back (a cable plugged
# in again, a host that returns) keeps its number; older ones are forgotten.
KEEP_VANISHED = 32
OS_ROWS, BOUND_ROWS = "instances", "bound_instances"
_COUNTERS = "next_instance"


def _known(store, space, table):
    """{key: number} of `table` in `space`, created empty."""
    return store.state.setdefault(space, {}).setdefault(table, {})


def take(store, table, at_least=1):
    """The next free instance number of `table`, at least `at_least`; it is used from now on."""
    counters = store.state.setdefault(_COUNTERS, {})
    n = max(counters.get(table, 1), at_least)
    counters[table] = n + 1
    store.dirty = True
    return n


def reserve(store, table, space=OS_ROWS):
    """A fresh instance number of the concrete table path `table` ("Device.IP.Interface.")."""
    known = store.state.get(space, {}).get(table, {})
    return take(store, table, max([1] + [v + 1 for v in known.values()]))


def number(store, table, key, space=OS_ROWS):
    """The instance number of the row `key` of `table`, given a fresh one if it is new."""
    known = _known(store, space, table)
    n = known.get(key)
    if n is None:
        n = reserve(store, table, space)
        known[key] = n
    return n


def assign(store, table, keys, space=OS_ROWS):
    """{key: instance number} for the rows `keys` of `table`, numbering new keys in order."""
    out = {}
    for key in keys:
        out[key] = number(store, table, key, space)
    known = store.state.get(space, {}).get(table, {})
    if len(known) - len(out) > KEEP_VANISHED:
        gone = sorted((n, k) for k, n in known.items() if k not in out)
        for _, k in gone[:len(gone) - KEEP_VANISHED]:
            del known[k]
        store.dirty = True
    return out


def remember(store, table, key, n, space=OS_ROWS):
    """Record that the row `key` of `table` has the instance number `n` (made by AddObject)."""
    _known(store, space, table)[key] = n
    store.dirty = True


def forget(store, table, key, space=OS_ROWS):
    """Drop the row `key` of `table` (deleted by the ACS); its number stays used."""
    if store.state.get(space, {}).get(table, {}).pop(key, None) is not None:
        store.dirty = True


def key_of(store, table, n, space=OS_ROWS):
    """The key of instance `n` of `table`, or None."""
    for k, v in store.state.get(space, {}).get(table, {}).items():
        if v == n:
            return k
    return None


def forget_below(store, row):
    """The row `row` ("X.N.") was deleted: the counters of the tables under it go with it."""
    counters = store.state.get(_COUNTERS, {})
    for table in [t for t in counters if t.startswith(row)]:
        del counters[table]
        store.dirty = True


def counters(store):
    """A copy of every table's counter, for restore_counters()."""
    got = store.state.get(_COUNTERS)
    return None if got is None else dict(got)


def restore_counters(store, saved):
    """Put the counters back as counters() saw them (an AddObject that is undone)."""
    if saved is None:
        store.state.pop(_COUNTERS, None)
    else:
        store.state[_COUNTERS] = dict(saved)
    store.dirty = True


def alias(n):
    """The Alias the CPE gives instance `n` (TR-181 _AliasCWMP: a value the CPE chooses
    starts with "cpe-")."""
    return "cpe-%d" % n


def present(model, table, provider):
    """Instance numbers of the rows of `table` that the OS `provider` gives this session;
    none when it fails (the model reports that failure)."""
    key = ("instances.present", table)
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
