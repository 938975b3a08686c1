"""The fleet's state on disk: one JSON file per shard in --state-dir, written as the daemon
writes its state (store.write_file: atomic replace, mode 600); a damaged one is set aside."""

import json
import os

from ..store import read_or_set_aside, write_file

FORMAT = "tr069client-fleet-state/1"


def path_for(state_dir, shard, shards):
    """The state file of shard `shard` of `shards` in `state_dir`."""
    name = "fleet.json" if shards == 1 else "fleet-%d-of-%d.json" % (shard, shards)
    return os.path.join(state_dir, name)


def load(path):
    """({"seed": ..., "count": ...}, {index: record}, problem sentence or None)."""
    doc, damaged = read_or_set_aside(path, _decode)
    if damaged is not None:
        return {}, {}, "%s is unusable (%s)%s; starting with new devices" % (
            path, damaged[0], "; kept as " + damaged[1] if damaged[1] else "")
    if doc is None:
        return {}, {}, None
    devices = {int(k): rec for k, rec in doc["devices"].items() if k.isdigit() and _record_ok(rec)}
    return doc["fleet"], devices, None


def _decode(raw):
    doc = json.loads(raw.decode("utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or \
            not isinstance(doc.get("devices"), dict) or not isinstance(doc.get("fleet"), dict):
        raise ValueError("not a fleet state file (format %r)" % (
            doc.get("format") if isinstance(doc, dict) else None))
    return doc


def _record_ok(rec):
    """A device's record: values, attributes and state, each an object (cpe.Cpe checks no more:
    the engine copes with state it does not know, as with a daemon's hand-edited file)."""
    return isinstance(rec, dict) and all(isinstance(rec.get(k, {}), dict) for k in "vas")


def save(path, info, records):
    """Write the fleet's state: `info` (seed, count, shard) and {index: record}."""
    write_file(path, json.dumps({"format": FORMAT, "fleet": info,
                                 "devices": {str(i): rec for i, rec in records.items()}},
                                separators=(",", ":"), sort_keys=True).encode())
