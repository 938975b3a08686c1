"""Every key of the persisted state has one owner (state.py): the package's modules are read
(AST) and a write to a key from any other module fails; so does raw access to the state
outside its owners."""

import ast
import os

import pytest

import tr069client
from tr069client import state
from tr069client.store import Store

PACKAGE = os.path.dirname(tr069client.__file__)
# Whole-state operations (load, save, snapshot, reset) are the store's and state.py's own.
_WHOLE = {"store", "state"}
# Methods that change the object they are called on.
_MUTATORS = {"append", "extend", "insert", "remove", "clear", "update", "sort", "add", "discard",
             "pop", "popitem", "setdefault", "__setitem__", "__delitem__"}
# Methods whose first argument names the key they change.
_KEYED = {"setdefault", "pop", "__setitem__", "__delitem__"}


def modules():
    """{module name relative to the package ("planner", "linux.deviceinfo"): AST}."""
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, PACKAGE)[:-3].replace(os.sep, ".")
                with open(path, encoding="utf-8") as f:
                    out[rel.replace(".__init__", "")] = ast.parse(f.read(), path)
    return out


def _constants(tree):
    """Module-level NAME = "string" assignments."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = node.value.value
    return out


def _key(node, consts):
    """The state key `node` names (a literal or a module constant), or None."""
    if isinstance(node, getattr(ast, "Index", ())):   # CPython 3.8 wraps a subscript's slice
        node = node.value
    if isinstance(node, ast.Constant) and node.value in state.KEYS:
        return node.value
    if isinstance(node, ast.Name) and consts.get(node.id) in state.KEYS:
        return consts[node.id]
    return None


def _keys_in_chain(node, consts):
    """Keys subscripted (or fetched with get/setdefault/pop) along `a["k"].b[...]`."""
    found = []
    while True:
        if isinstance(node, ast.Subscript):
            k = _key(node.slice, consts)
            if k:
                found.append(k)
            node = node.value
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("get", "setdefault", "pop") and node.args:
                k = _key(node.args[0], consts)
                if k:
                    found.append(k)
            node = node.func.value
        else:
            return found


def writes(tree):
    """[(key, line)] of every write to a state key in `tree`; key "*" for the whole state."""
    consts = _constants(tree)
    out = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        while targets:
            t = targets.pop()
            if isinstance(t, (ast.Tuple, ast.List)):
                targets.extend(t.elts)
            else:
                out.extend((k, node.lineno) for k in _keys_in_chain(t, consts))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _MUTATORS:
            recv = node.func.value
            if node.func.attr in _KEYED and node.args and _key(node.args[0], consts):
                out.append((_key(node.args[0], consts), node.lineno))
            out.extend((k, node.lineno) for k in _keys_in_chain(recv, consts))
            if node.func.attr == "update":
                out.extend((kw.arg, node.lineno) for kw in node.keywords if kw.arg in state.KEYS)
                for arg in node.args:
                    if isinstance(arg, ast.Dict):
                        out.extend((_key(k, consts), node.lineno) for k in arg.keys if _key(k, consts))
            if node.func.attr == "clear" and _is_state(recv):
                out.append(("*", node.lineno))
    return out


def _is_state(node):
    """Whether `node` is `<something>.store.state` or `store.state`."""
    return isinstance(node, ast.Attribute) and node.attr == "state" and (
        isinstance(node.value, ast.Name) and node.value.id == "store"
        or isinstance(node.value, ast.Attribute) and node.value.attr in ("store", "_store"))


def test_every_key_has_an_owner_module_a_default_and_a_meaning():
    mods = modules()
    for key in state.KEYS.values():
        assert key.owner in mods, "%s: owner %s is no module of the package" % (key.name, key.owner)
        assert key.meaning, key.name


def test_only_the_owner_writes_a_key():
    wrong = []
    for name, tree in modules().items():
        for key, line in writes(tree):
            if key == "*":
                if name not in _WHOLE:
                    wrong.append("%s.py:%d writes the whole state" % (name.replace(".", "/"), line))
            elif state.KEYS[key].owner != name:
                wrong.append("%s.py:%d writes %r, owned by %s.py" % (
                    name.replace(".", "/"), line, key, state.KEYS[key].owner))
    assert wrong == []


def test_only_owners_touch_the_state_at_all():
    owners = {k.owner for k in state.KEYS.values()} | _WHOLE
    wrong = []
    for name, tree in modules().items():
        if name in owners:
            continue
        for node in ast.walk(tree):
            if _is_state(node):
                wrong.append("%s.py:%d" % (name.replace(".", "/"), node.lineno))
    assert wrong == [], "raw state access outside its owners (use the owner's functions)"


@pytest.mark.parametrize("source, expected", [
    ('st["retry_count"] = 0', [("retry_count", 1)]),
    ('store.state.setdefault("events", []).append(1)', [("events", 1), ("events", 1)]),
    ('st["url_trial"]["failures"] += 1', [("url_trial", 1)]),
    ('del st["cr_path"]', [("cr_path", 1)]),
    ('st.pop("expect_boot", None)', [("expect_boot", 1)]),
    ('K = "transfers"\nst[K] = []', [("transfers", 2)]),
    ('st.update(first_use=1)', [("first_use", 1)]),
    ('st.update({"dhcp_url": "x"})', [("dhcp_url", 1)]),
    ('model.store.state.clear()', [("*", 1)]),
    ('x = st.get("boot_id")', []),
    ('rec["state"] = "done"', []),
])
def test_the_walk_sees_every_kind_of_write(source, expected):
    assert sorted(writes(ast.parse(source))) == sorted(expected)


def test_a_whole_device_writes_only_declared_keys(tmp_path):
    from tr069client.device import Device
    from _engine import END_204, INFORM_RESPONSE, drive, genieacs
    store = Store()
    d = Device(store, {"platform-providers": False}, {"manufacturer": "Acme", "oui": "00D0C9",
                                                       "product-class": "R", "serial-number": "S1"})
    from tr069client import settings
    settings.put(d.model, "acs-url", "http://acs.example/")
    d.planner.start("boot-1", 0.0, 1764064800.0)
    s = d.planner.begin(1764064800.0, lambda: "id")
    drive(s, [genieacs(INFORM_RESPONSE), END_204])
    d.planner.finish(s, "http://acs.example/", 1.0, 1764064801.0)
    assert set(store.state) <= set(state.KEYS), set(store.state) - set(state.KEYS)


def test_reset_keeps_only_the_boot_id():
    store = Store()
    store.state.update({"boot_id": "b", "retry_count": 3, "events": [["1 BOOT", ""]]})
    store.values["Device.X"] = "1"
    state.reset(store)
    assert store.state == {"boot_id": "b"} and store.values == {} and store.dirty
