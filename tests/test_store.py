"""The state file: atomic, private, and a damaged one never stops the device."""

import json
import os
import stat

from tr069client.store import Store


def _load_damaged(tmp_path, text):
    path = str(tmp_path / "state.json")
    with open(path, "w") as f:
        f.write(text)
    store = Store.load(path)
    assert store.load_problem and "was damaged" in store.load_problem
    assert store.values == {} and store.attrs == {} and os.path.exists(path + ".damaged")
    return store


def test_round_trip_and_mode_0600(tmp_path):
    path = str(tmp_path / "state.json")
    with open(path, "w") as f:
        f.write("{}")
    os.chmod(path, 0o644)
    s = Store(path)
    s.values["Device.ManagementServer.URL"] = "http://acs"
    s.attrs["Device.ManagementServer.URL"] = [2, ["Subscriber"]]
    s.state["retry_count"] = 3
    s.save()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    t = Store.load(path)
    assert (t.values, t.attrs, t.state, t.load_problem) == (s.values, s.attrs, s.state, None)
    assert os.listdir(str(tmp_path)) == ["state.json"]   # no temporary file left behind


def test_json_nested_too_deep_is_a_damaged_file(tmp_path):
    _load_damaged(tmp_path, "[" * 100000 + "]" * 100000)


def test_a_damaged_attribute_is_a_damaged_file(tmp_path):
    _load_damaged(tmp_path, json.dumps({"format": 1, "values": {}, "attributes": {"Device.X": "2"}}))


def test_a_planted_symlink_at_the_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    path = str(tmp_path / "state.json")
    os.symlink(str(victim), "%s.tmp.%d" % (path, os.getpid()))
    Store(path).save()
    assert victim.read_text() == "precious" and Store.load(path).load_problem is None
