"""Declarative bindings: a JSON file (config key "bindings") that ties TR-181 parameters and
tables to the OS without Python.

    {"Device.X.Param": SOURCE,                 a parameter
     "Device.X.Table.": {"rows": SOURCE,        a table: one row per key the source gives
                         "params": {"Name": SOURCE, "Sub.Name": SOURCE, ...},
                         "add": ARGV or {"command": ARGV or [ARGV...], "key": "k{instance}"},
                         "delete": ARGV or [ARGV...], "apply": [ARGV...]},
     "# any key starting with #": "a comment"}

SOURCE: exactly one of "value" (a constant; for "rows" a list of keys), "file" (read
under the model's root), "command" (ARGV: a list of strings, run without a shell); then
optionally "match" (a regex, or a list of them tried in order; the value is the first
group of the first match in the output, the rows the first group of each match),
"default" (when nothing matches; else the TR-181 default),
"map" ({"os value": "TR-181 value"}, inverted for writes), "split" (true: whitespace
separated items become a comma-separated list), "set" (ARGV run with the value as its last
argument, or [ARGV...] run in order; "{value}" in an item is replaced by the value and an
item with "{item}" runs once per list item; the value is also in the environment as
TR069_VALUE, and a command that names TR069_VALUE gets it only from there, out of `ps`)
and "apply" ([ARGV...] run once at the end of
a session that set, added or deleted anything bound). In a table, "{key}" and
"{instance}" stand for the row's key and instance number in commands, file names and
match. "[name]" in a path instead of an instance number names the OS row with that key
("Device.IP.Interface.[br-lan].IPv4Address."); while the OS has no such row, the binding
offers nothing (a row is whole or absent).

Every value read is checked and normalised against the metadata; a failing command, file
or value fails only the parameters of its own binding (fault 9002 with the reason), and in
a table only that row's parameter; each failure is logged once, not at every read.
Commands are killed after config "command-timeout" seconds; outputs and files are read
once per session (model.cache).
"""

import re

from . import datatypes, instances, metadata
from .config import ConfigError, read_json
from .binding_commands import Runner
from .faults import CwmpFault
from .provider import Provider, ProviderError

_SOURCE = ("value", "file", "command")
_PARAM_KEYS = _SOURCE + ("match", "default", "map", "split", "set", "apply")
_TABLE_KEYS = ("rows", "params", "add", "delete", "apply")
_SPACE = instances.BOUND_ROWS   # bound rows are numbered apart from the OS's
_KEY = re.compile(r"\[([^\]]+)\]")


class BindingError(ConfigError):
    """A bindings file that cannot be used; the message is one line for the operator."""


def providers(model, path, timeout=10):
    """Providers for the bindings file at `path` (none when path is empty)."""
    if not path:
        return []
    spec = read_json(path, "bindings file", BindingError)
    runner = Runner(timeout)
    out = []
    for name, b in spec.items():
        if name.startswith("#"):
            continue
        try:
            full, needs = _resolve(model, name)
            if not isinstance(b, dict):
                raise BindingError("expected an object")
            p = (_table if full.endswith(".") else _param)(model, full, b, runner)
        except BindingError as e:
            raise BindingError("bindings file %s: %s: %s" % (path, name, e))
        p.get = _watched(p.get, full, needs, runner)
        out.append(p)
    return out


def _resolve(model, name):
    """(`name` with each "[key]" replaced by the instance number of that OS row, [(table,
    key, number, the OS provider of the table)] of those rows)."""
    needs = []
    while True:
        m = _KEY.search(name)
        if m is None:
            return name, needs
        table = name[:m.start()]
        if model.meta.object(metadata.generic(table) + "{i}.") is None:
            raise BindingError("%s is not a table" % table)
        owners = [p for p in model.providers if table.startswith(p.prefix)]
        if not owners:
            raise BindingError("[%s] names a row the operating system gives, but no built-in "
                               "provider gives %s (is platform-providers false?)" % (m.group(1), table))
        n = instances.number(model.store, table, m.group(1))
        needs.append((table, m.group(1), n, max(owners, key=lambda p: len(p.prefix))))
        name = "%s%d%s" % (table, n, name[m.end():])


def _watched(get, path, needs, runner):
    """`get` that offers nothing while a row it lies under is missing from the OS, and that
    logs each failure once."""
    def watched(m):
        # Read first: a binding's rows take their numbers before the OS's rows it hides.
        try:
            got, error = get(m), None
        except ProviderError as e:
            got, error = None, e
        for table, key, n, owner in needs:
            gone = n not in instances.present(m, table, owner)
            runner.report("%s[%s]" % (table, key), "the system has no such row, so the parameters "
                          "bound under it are left out until it appears" if gone else None)
            if gone:
                return {}
        runner.report(path, error and str(error))
        if error is not None:
            raise error
        return got
    return watched


class Source:
    """How one parameter (or a table's row keys, param None) is read and written."""

    def __init__(self, d, param):
        if not isinstance(d, dict):
            raise BindingError("expected an object with one of %s" % ", ".join(_SOURCE))
        unknown = sorted(set(d) - set(_PARAM_KEYS))
        if unknown:
            raise BindingError("unknown key %r (known: %s)" % (unknown[0], ", ".join(_PARAM_KEYS)))
        kinds = [k for k in _SOURCE if k in d]
        if len(kinds) != 1:
            raise BindingError("give exactly one of %s" % ", ".join(_SOURCE))
        self.param, self.kind, self.arg = param, kinds[0], d[kinds[0]]
        if self.kind == "command":
            _argv(self.arg)
        elif self.kind == "file" and not isinstance(self.arg, str):
            raise BindingError("file must be a path")
        elif self.kind == "value":
            self.arg = _constant(self.arg, param is None)
        match = d.get("match")
        self.match = [match] if isinstance(match, str) else match
        if match is not None and not (isinstance(self.match, list) and self.match
                                      and all(isinstance(x, str) for x in self.match)):
            raise BindingError("match must be a regex or a list of them")
        for pattern in self.match or ():
            try:
                re.compile(_fill(pattern, {"{key}": "k", "{instance}": "1"}))
            except re.error as e:
                raise BindingError("match is not a valid regex: %s" % e)
        self.default = None if d.get("default") is None else _constant(d["default"], False, "default")
        self.map = d.get("map") or {}
        if not isinstance(self.map, dict) or not all(isinstance(v, str) for v in self.map.values()):
            raise BindingError("map must be an object of strings")
        self.unmap = {v: k for k, v in self.map.items()}
        self.split = bool(d.get("split"))
        self.set = _commands(d.get("set"))
        self.apply = _commands(d.get("apply"))
        if self.set and (param is None or not param.writable):
            raise BindingError("a set command needs a parameter that TR-181 makes writable")
        if param is not None and self.kind == "value":
            self.check(self.arg, BindingError, {})

    def text(self, model, runner, subs):
        """The raw text the source gives (before match)."""
        if self.kind == "value":
            return self.arg
        if self.kind == "file":
            return runner.file(model, _fill(self.arg, subs))
        return runner.output(model, [_fill(a, subs) for a in self.arg])

    def keys(self, model, runner):
        """Row keys: the value list, the first group of each match, or the non-empty lines."""
        got = self.text(model, runner, {})
        if isinstance(got, list):
            return got
        if self.match is not None:
            keys = [m.group(1) if m.groups() else m.group(0)
                    for pattern in self.match for m in re.finditer(pattern, got, re.M)]
            return list(dict.fromkeys(keys))
        return [line.strip() for line in got.splitlines() if line.strip()]

    def read(self, model, runner, subs):
        text = self.text(model, runner, subs)
        if self.match is not None:
            found = None
            for pattern in self.match:
                m = re.search(_fill(pattern, {k: re.escape(v) for k, v in subs.items()}), text, re.M)
                if m:
                    found = m.group(1) if m.groups() else m.group(0)
                    break
            text = found
        else:
            text = text.strip()
        if text is None:
            text = self.default if self.default is not None else datatypes.default_value(self.param)
        if self.split:
            text = ",".join(text.split())
        return self.check(self.map.get(text, text), ProviderError, subs)

    def check(self, text, error, subs):
        try:
            return datatypes.normalize(self.param, str(text))
        except CwmpFault as f:
            row = " for the row %s" % subs["{key}"] if subs.get("{key}") else ""
            what = "the value is invalid" if self.kind == "value" else "the %s gives an invalid value" % self.kind
            raise error("%s%s: %s" % (what, row, f.message))

    def write(self, runner, value, subs):
        os_value = self.unmap.get(value, value)
        secrets = (value, os_value) if self.param.secured else ()
        single = len(self.set) == 1
        for argv in self.set:
            if any("{item}" in a for a in argv):
                for item in [i for i in value.split(",") if i] if value else []:
                    os_item = self.unmap.get(item, item)
                    runner.run([_fill(a, dict(subs, **{"{item}": os_item})) for a in argv], secrets, os_item)
            elif single and not any("{value}" in a or "TR069_VALUE" in a for a in argv):
                runner.run([_fill(a, subs) for a in argv] + [os_value], secrets, os_value)
            else:
                runner.run([_fill(a, dict(subs, **{"{value}": os_value})) for a in argv], secrets, os_value)


def _param(model, path, d, runner):
    p = model.meta.param(metadata.generic(path))
    if p is None or "{i}" in path:
        raise BindingError("not a parameter of the model (tables are bound by their path, \"X.\")")
    src = Source(d, p)

    def get(m):
        return {path: src.read(m, runner, {})}

    def set_(m, name, value):
        src.write(runner, value, {})
        return runner.schedule(src.apply)
    return Provider(path, get, set=set_ if src.set else None, apply=runner.apply)


def _table(model, table, d, runner):
    g = metadata.generic(table) + "{i}."
    obj = model.meta.object(g)
    if obj is None or not obj.table or "{i}" in table:
        raise BindingError("not a table of the model")
    unknown = sorted(set(d) - set(_TABLE_KEYS))
    if unknown or "rows" not in d:
        raise BindingError("unknown key %r" % unknown[0] if unknown else "a table needs \"rows\"")
    keys = Source(d["rows"], None)
    columns = _columns(model.meta, g)
    params = {}
    for name, pd in (d.get("params") or {}).items():
        if name not in columns:
            raise BindingError("%s is not a parameter of %s" % (name, g))
        params[name] = Source(pd, columns[name])
    add, delete = d.get("add"), _commands(d.get("delete"))
    if (add or delete) and not obj.writable:
        raise BindingError("TR-181 does not let the ACS add or delete rows of this table")
    add_key = add.get("key") if isinstance(add, dict) else None
    add_cmds = _commands(add.get("command") if isinstance(add, dict) else add)
    if add is not None and not add_cmds:
        raise BindingError("add needs a command")
    apply = _commands(d.get("apply"))

    def row(m, path):
        n = int(path[len(table):].partition(".")[0])
        rel = path[len(table):].partition(".")[2]
        return n, rel, {"{key}": instances.key_of(m.store, table, n, _SPACE) or "", "{instance}": str(n)}

    def get(m):
        out = {}
        for key, n in instances.assign(m.store, table, keys.keys(m, runner), _SPACE).items():
            inst = "%s%d." % (table, n)
            subs = {"{key}": key, "{instance}": str(n)}
            for rel, p in columns.items():
                src = params.get(rel)
                if src is not None:
                    try:
                        out[inst + rel] = src.read(m, runner, subs)
                        runner.report(inst + rel, None)
                    except ProviderError as e:   # this value alone: the other rows stay
                        out[inst + rel] = e
                        runner.report(inst + rel, str(e))
                elif inst + rel in m.store.values:
                    out[inst + rel] = m.store.values[inst + rel]
                else:
                    out[inst + rel] = instances.alias(n) if rel == "Alias" else datatypes.default_value(p)
        return out

    def can_set(path):
        rel = path[len(table):].partition(".")[2]
        src = params.get(rel)
        return bool(src.set) if src is not None else rel in columns and columns[rel].writable

    def set_(m, path, value):
        n, rel, subs = row(m, path)
        src = params.get(rel)
        if src is None:   # an unbound writable column: kept in the store
            m.store.values[path] = value
            m.store.dirty = True
            return False
        src.write(runner, value, subs)
        return runner.schedule(apply + src.apply)

    def add_row(m, path):
        if add_key is not None:
            n = instances.reserve(m.store, table, _SPACE)
            key = add_key.replace("{instance}", str(n))
            for argv in add_cmds:
                runner.run([_fill(a, {"{key}": key, "{instance}": str(n)}) for a in argv])
        else:
            out = runner.run(add_cmds[0]).strip()
            if not out:
                raise ProviderError("`%s` printed no key for the new row" % " ".join(add_cmds[0]))
            key = out.splitlines()[-1].strip()
            n = instances.number(m.store, table, key, _SPACE)
        instances.remember(m.store, table, key, n, _SPACE)
        return n, runner.schedule(apply)

    def delete_row(m, path):
        n, _, subs = row(m, path)
        for argv in delete:
            runner.run([_fill(a, subs) for a in argv])
        instances.forget(m.store, table, subs["{key}"], _SPACE)
        return runner.schedule(apply)

    return Provider(table, get, set=set_, can_set=can_set, apply=runner.apply,
                    add=add_row if add_cmds else None, delete=delete_row if delete else None)


def _columns(meta, g):
    """{relative name: Param} of a row's parameters, sub-objects included, tables not."""
    out = {}
    stack = [(g, "")]
    while stack:
        obj, rel = stack.pop()
        for name, p in meta.params_of(obj):
            if not name.endswith("NumberOfEntries"):
                out[rel + name] = p
        stack.extend((c, rel + c[len(obj):]) for c in meta.child_objects(obj) if not c.endswith(".{i}."))
    return out


def _fill(text, subs):
    for k, v in subs.items():
        text = text.replace(k, v)
    return text


def _argv(a):
    if not (isinstance(a, list) and a and all(isinstance(x, str) for x in a)):
        raise BindingError("a command is a list of strings, e.g. [\"uci\", \"get\", \"x.y.z\"]")
    return a


def _commands(c):
    """[ARGV...] from ARGV or [ARGV...] (None: [])."""
    if c is None:
        return []
    if isinstance(c, list) and c and all(isinstance(x, str) for x in c):
        return [c]
    if isinstance(c, list) and c:
        return [_argv(x) for x in c]
    raise BindingError("expected a command (list of strings) or a list of commands")


def _constant(v, many, what="value"):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (str, int, float)):
        return str(v) if not many else [str(v)]
    if many and isinstance(v, list) and all(isinstance(x, str) for x in v):
        return v
    raise BindingError("%s must be a string, number or boolean%s"
                       % (what, " (or a list of keys)" if many else ""))
