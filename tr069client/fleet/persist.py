"""The fleet's state on disk: one file per shard in --state-dir, a store file (store.py: atomic
replace, mode 600, a damaged file set aside) whose state holds every device's record."""

import os

from ..store import Store

FORMAT = "tr069client-fleet-state/1"


def path_for(state_dir, shard, shards):
    """The state file of shard `shard` of `shards` in `state_dir`."""
    name = "fleet.json" if shards == 1 else "fleet-%d-of-%d.json" % (shard, shards)
    return os.path.join(state_dir, name)


def load(path):
    """({"seed": ..., "count": ...}, {index: record}, problem sentence or None)."""
    store = Store.load(path)
    st = store.state
    problem = store.load_problem
    if st and (st.get("format") != FORMAT or not isinstance(st.get("devices"), dict)):
        problem = "%s is not a fleet state file (format %r); starting with new devices" % (
            path, st.get("format"))
        st = {}
    devices = {}
    for key, rec in (st.get("devices") or {}).items():
        if key.isdigit() and isinstance(rec, dict):
            devices[int(key)] = rec
    return st.get("fleet") or {}, devices, problem


def save(path, info, records):
    """Write the fleet's state: `info` (seed, count, shard) and {index: record}."""
    store = Store(path)
    store.state = {"format": FORMAT, "fleet": info,
                   "devices": {str(i): rec for i, rec in records.items()}}
    store.save()
