#!/usr/bin/env python3
"""Generate tr069client/tr181.json from the BBF TR-181 XML and tools/tr181-selection.txt.

    python3 tools/gen_tr181.py [--xml FILE] [--selection FILE] [--out FILE] [--check]

--xml defaults to ../shared/bbf/tr-181-2-19-1-cwmp-full.xml next to the repository;
--check writes nothing and exits 1 when --out differs from what would be generated.

Output format (compact JSON, ASCII, no whitespace, same input -> same bytes):

    {"format": 1, "model": "Device:2.19", "source": "<xml file name>",
     "facets": [FACETS, ...],
     "objects": [[PATH, OFLAGS, PARAMS, MIN, MAX, NUM, ENABLE, KEYS], ...]}

objects are in model (XML) order; trailing elements equal to their default are left
out: MIN 1, MAX 1, NUM null, ENABLE null, KEYS [].
  PATH    generic object path, "Device.NAT.PortMapping.{i}."
  OFLAGS  letters: "t" multi-instance table, "w" the ACS may AddObject/DeleteObject
  PARAMS  [[NAME, TYPE, PFLAGS, DEFAULT, FACET], ...] in model order; DEFAULT null =
          none, FACET an index into "facets" or null; trailing nulls left out
  MIN/MAX minEntries / maxEntries (MAX null = unbounded)
  NUM     full generic path of the table's NumberOfEntries parameter
  ENABLE  name of the table's enableParameter
  KEYS    unique keys, each [FUNCTIONAL (0/1), NAME, ...]
TYPE is the base type: string unsignedInt int unsignedLong long boolean dateTime
base64 hexBinary decimal. PFLAGS letters: "w" writable, "l" comma-separated list,
"f" forcedInform, "s" secured/hidden (reads back as the empty string), active notify
"c" canDeny, "e" forceEnabled, "d" forceDefaultEnabled (none = normal).
DEFAULT: the model's default for a new instance (type object, else factory, else
implementation); a list default "[a,b]" is written "a,b".
FACETS is a dict (shared by every parameter with the same one; keys sorted):
  min_len, max_len  length in characters (string) or decoded bytes (base64, hexBinary)
  sizes             [[min, max], ...] instead, when the model allows several lengths
  ranges            [[min, max] or [min, max, step], ...], null = unbounded
  enum              allowed values; enum_ro: those the ACS may not set (access readOnly)
  patterns          Python regexes, each anchored with \\A(?:...)\\Z; one must match
  items             [minItems, maxItems or null] and list_max_len: list parameters,
                    whose other facets apply to each item
  ref               [refType, targetType, [generic target parent paths]] (pathRef)
  command           1: a command parameter (reads back as its null value)
Named data types (IPAddress, MACAddress, _AliasCWMP, StatsCounter64, ...) are resolved
to the base type; a derived type's facets replace its base's facets of the same kind.
Items with status "deleted" are dropped, "obsoleted" ones kept only when the selection
names them on their own line, "deprecated" ones kept like current ones.
"""

import argparse
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_XML = os.path.join(REPO, "..", "shared", "bbf", "tr-181-2-19-1-cwmp-full.xml")
DEFAULT_SELECTION = os.path.join(HERE, "tr181-selection.txt")
DEFAULT_OUT = os.path.join(REPO, "tr069client", "tr181.json")

BASE_TYPES = ("string", "unsignedInt", "int", "unsignedLong", "long", "boolean",
              "dateTime", "base64", "hexBinary", "decimal")
NOTIFY = {"normal": "", "canDeny": "c", "forceEnabled": "e", "forceDefaultEnabled": "d"}
FACET_KINDS = ("size", "range", "enumeration", "pattern", "pathRef")


class GenError(Exception):
    """A problem in the selection or the XML that stops the generation."""


def local(tag):
    return tag.rpartition("}")[2]


def children(elem, name):
    return [c for c in elem if local(c.tag) == name]


def live(elem):
    return elem.get("status") != "deleted"


# --- XSD regular expressions ------------------------------------------------------

def xsd_regex(pattern):
    """Translate an XSD pattern (implicitly anchored) to an anchored Python regex."""
    out = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern):
                raise GenError("pattern %r ends with a backslash" % pattern)
            n = pattern[i + 1]
            i += 2
            if n == "d":  # XSD \d is any Unicode digit; TR-181 means ASCII digits
                out.append("0-9" if in_class else "[0-9]")
            elif n == "D" and not in_class:
                out.append("[^0-9]")
            elif n == "s":  # XSD \s is exactly these four characters
                out.append(" \\t\\n\\r" if in_class else "[ \\t\\n\\r]")
            elif n in "DSiIcCwWpP":
                raise GenError("pattern %r: \\%s is not supported" % (pattern, n))
            else:
                out.append("\\" + n)
            continue
        i += 1
        if in_class:
            if c == "[":
                raise GenError("pattern %r: class subtraction is not supported" % pattern)
            if c == "]":
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
            if pattern[i:i + 1] == "^":
                out.append("^")
                i += 1
        elif c in "^$":  # literal characters in XSD, anchors in Python
            out.append("\\" + c)
        elif c == ".":  # XSD . excludes both line ends
            out.append("[^\\n\\r]")
        else:
            out.append(c)
    if in_class:
        raise GenError("pattern %r: unterminated character class" % pattern)
    result = "\\A(?:" + "".join(out) + ")\\Z"
    re.compile(result)
    return result


# --- data types -------------------------------------------------------------------

def number(text):
    try:
        return int(text)
    except ValueError:
        return float(text)


def facet_data(elem):
    """The facets given directly under elem, by kind (only kinds present)."""
    found = {}
    for c in elem:
        kind = local(c.tag)
        if kind in FACET_KINDS and live(c):
            found.setdefault(kind, []).append(c)
    return found


class Types:
    """Resolves named and anonymous data types to (base type, facets, list element)."""

    def __init__(self, root):
        self.named = {d.get("name"): d for d in children(root, "dataType")}
        self.cache = {}

    def named_type(self, name):
        if name not in self.cache:
            dt = self.named.get(name)
            if dt is None:
                raise GenError("unknown dataType %r" % name)
            self.cache[name] = self.derive(dt)
        return self.cache[name]

    def derive(self, dt):
        """dt is a <dataType> (named or in a syntax) with base=/ref= or a type child."""
        parent = dt.get("base") or dt.get("ref")
        lst = (children(dt, "list") or [None])[0]
        if parent:
            base, facets, plist = self.named_type(parent)
            facets = dict(facets)
            facets.update(facet_data(dt))
            return base, facets, lst if lst is not None else plist
        for c in dt:
            if local(c.tag) in BASE_TYPES:
                return local(c.tag), facet_data(c), lst
        raise GenError("dataType %r has no base type" % dt.get("name"))

    def syntax(self, syn):
        lst = (children(syn, "list") or [None])[0]
        for c in syn:
            tag = local(c.tag)
            if tag in BASE_TYPES:
                return tag, facet_data(c), lst
            if tag == "dataType":
                base, facets, dlist = self.derive(c)
                return base, facets, lst if lst is not None else dlist
        raise GenError("syntax without a type")


def resolve_parent(target, obj_path):
    """TR-106 A.2.3.4 path: "." = from the root, each "#" one level up, else relative."""
    if target.startswith("Device."):
        return target
    if target.startswith("."):
        return "Device" + target
    segs = obj_path.rstrip(".").split(".")
    while target.startswith("#"):
        target = target[1:]
        if segs and segs[-1] == "{i}":
            segs.pop()
        segs.pop()
    if target.startswith("."):
        target = target[1:]
    return ".".join(segs) + "." + target


def build_facets(base, facets, lst, obj_path, notes):
    out = {}
    sizes = [(int(s.get("minLength", 0)), s.get("maxLength")) for s in facets.get("size", ())]
    sizes = [(lo, int(hi) if hi is not None else None) for lo, hi in sizes]
    if len(sizes) == 1:
        lo, hi = sizes[0]
        if lo:
            out["min_len"] = lo
        if hi is not None:
            out["max_len"] = hi
    elif sizes:
        out["sizes"] = [list(s) for s in sizes]
    ranges = []
    for r in facets.get("range", ()):
        item = [number(r.get(k)) if r.get(k) is not None else None
                for k in ("minInclusive", "maxInclusive")]
        if r.get("step", "1") != "1":
            item.append(number(r.get("step")))
        ranges.append(item)
    if ranges:
        out["ranges"] = ranges
    enums = facets.get("enumeration", ())
    if enums:
        out["enum"] = [e.get("value") for e in enums]
        ro = [e.get("value") for e in enums if e.get("access") == "readOnly"]
        if ro:
            out["enum_ro"] = ro
    pats = facets.get("pattern", ())
    if pats:
        out["patterns"] = [xsd_regex(p.get("value")) for p in pats]
    refs = facets.get("pathRef", ())
    if refs:
        r = refs[0]
        parents = []
        for t in (r.get("targetParent") or "").split():
            p = resolve_parent(t, obj_path)
            if p.count(".") > 1:  # "Device." alone is no constraint
                parents.append(p)
            else:
                notes.append("%s: targetParent %r ignored" % (obj_path, t))
        out["ref"] = [r.get("refType"), r.get("targetType", "any"), parents]
    if lst is not None:
        lo, hi = int(lst.get("minItems", 0)), lst.get("maxItems", "unbounded")
        hi = None if hi == "unbounded" else int(hi)
        if lo or hi is not None:
            out["items"] = [lo, hi]
        for s in children(lst, "size"):
            if s.get("maxLength") is not None:
                out["list_max_len"] = int(s.get("maxLength"))
    return out


# --- selection --------------------------------------------------------------------

def read_selection(path):
    inc_obj, inc_tree, inc_param, exc = set(), set(), set(), set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            neg = line.startswith("-")
            if neg:
                line = line[1:].strip()
            if not line.startswith("Device.") or " " in line:
                raise GenError("%s:%d: not a Device. path: %r" % (path, n, line))
            if neg:
                exc.add(line)
            elif line.endswith(".*"):
                inc_tree.add(line[:-1])
            elif line.endswith("."):
                inc_obj.add(line)
            else:
                inc_param.add(line)
    return inc_obj, inc_tree, inc_param, exc


def select(model, selection, notes):
    """[(object element, [parameter elements])] of the selection, in model order."""
    inc_obj, inc_tree, inc_param, exc = selection
    objects = children(model, "object")
    by_name = {o.get("name"): o for o in objects}
    params = {o.get("name") + p.get("name"): p
              for o in objects for p in children(o, "parameter")}
    for path in inc_obj | inc_tree | {e for e in exc if e.endswith(".")}:
        if path not in by_name:
            raise GenError("selection: no object %s in the model" % path)
        if not live(by_name[path]) and path not in exc:
            raise GenError("selection: object %s is deleted in the model" % path)
    for path in inc_param | {e for e in exc if not e.endswith(".")}:
        if path not in params:
            raise GenError("selection: no parameter %s in the model" % path)
        if not live(params[path]) and path not in exc:
            raise GenError("selection: parameter %s is deleted in the model" % path)

    def excluded(name):
        return name in exc or any(name.startswith(e) for e in exc if e.endswith("."))

    def usable(item, name):
        status = item.get("status")
        if status == "deleted":
            return False
        return status != "obsoleted" or name in inc_obj or name in inc_param

    chosen = []
    for o in objects:
        name = o.get("name")
        whole = name in inc_obj or any(name.startswith(t) for t in inc_tree)
        named = [p for p in children(o, "parameter") if name + p.get("name") in inc_param]
        if not (whole or named) or excluded(name) or not usable(o, name):
            continue
        ps = [p for p in children(o, "parameter")
              if (whole or name + p.get("name") in inc_param)
              and usable(p, name + p.get("name")) and not excluded(name + p.get("name"))]
        chosen.append((o, ps))
    names = {o.get("name") for o, _ in chosen}
    for name in sorted(names):
        parent = parent_path(name)
        if parent and parent not in names:
            raise GenError("selection: %s is selected but its parent %s is not"
                           % (name, parent))
    # A NumberOfEntries parameter of a table that is not implemented would always say 0.
    counters = {}
    for o in objects:
        if o.get("numEntriesParameter") and live(o):
            counters[parent_path(o.get("name")) + o.get("numEntriesParameter")] = o.get("name")
    result = []
    for o, ps in chosen:
        keep = []
        for p in ps:
            table = counters.get(o.get("name") + p.get("name"))
            if table and table not in names:
                notes.append("dropped %s%s (table not selected)" % (o.get("name"), p.get("name")))
                continue
            keep.append(p)
        result.append((o, keep))
    return result


def parent_path(name):
    """Generic parent object path ("" for Device.)."""
    segs = name.rstrip(".").split(".")
    if segs[-1] == "{i}":
        segs.pop()
    segs.pop()
    return ".".join(segs) + "." if segs else ""


# --- generation -------------------------------------------------------------------

def default_of(syn, is_list):
    found = {d.get("type"): d.get("value") for d in children(syn, "default") if live(d)}
    for kind in ("object", "factory", "implementation"):
        if kind in found:
            value = found[kind]
            if is_list and value.startswith("[") and value.endswith("]"):
                value = value[1:-1]
            return value
    return None


def generate(xml_path, selection_path):
    """Return (bytes of tr181.json, summary dict)."""
    root = ET.parse(xml_path).getroot()
    models = [m for m in children(root, "model") if m.get("name", "").startswith("Device:")]
    if len(models) != 1:
        raise GenError("%s: expected one Device:2 model" % xml_path)
    model = models[0]
    types = Types(root)
    notes = []
    facet_index = {}
    facet_list = []
    out_objects = []
    n_params = 0
    for o, ps in select(model, read_selection(selection_path), notes):
        path = o.get("name")
        table = path.endswith(".{i}.")
        oflags = ("t" if table else "") + ("w" if table and o.get("access") == "readWrite" else "")
        plist = []
        for p in ps:
            syn = (children(p, "syntax") or [None])[0]
            if syn is None:
                raise GenError("%s%s has no syntax" % (path, p.get("name")))
            base, facets, lst = types.syntax(syn)
            f = build_facets(base, facets, lst, path, notes)
            if syn.get("command") == "true":
                f["command"] = 1
            pflags = ("w" if p.get("access", "readOnly") != "readOnly" else "")
            pflags += "l" if lst is not None else ""
            pflags += "f" if p.get("forcedInform") == "true" else ""
            secured = syn.get("hidden") == "true" or syn.get("secured") == "true"
            pflags += "s" if secured else ""
            pflags += NOTIFY[p.get("activeNotify", "normal")]
            fi = None
            if f:
                key = json.dumps(f, sort_keys=True)
                if key not in facet_index:
                    facet_index[key] = len(facet_list)
                    facet_list.append(f)
                fi = facet_index[key]
            item = [p.get("name"), base, pflags, default_of(syn, lst is not None), fi]
            while item[-1] is None:
                item.pop()
            plist.append(item)
            n_params += 1
        entry = [path, oflags, plist]
        if table:
            hi = o.get("maxEntries", "1")
            num = o.get("numEntriesParameter")
            keys = [[0 if k.get("functional") == "false" else 1]
                    + [r.get("ref") for r in children(k, "parameter")]
                    for k in children(o, "uniqueKey") if live(k)]
            entry += [int(o.get("minEntries", "1")), None if hi == "unbounded" else int(hi),
                      parent_path(path) + num if num else None,
                      o.get("enableParameter"), keys]
            defaults = [1, 1, None, None, []]
            while len(entry) > 3 and entry[-1] == defaults[len(entry) - 4]:
                entry.pop()
        out_objects.append(entry)
    doc = {"format": 1, "model": model.get("name"), "source": os.path.basename(xml_path),
           "facets": facet_list, "objects": out_objects}
    data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    data = (data + "\n").encode("ascii")
    summary = {"objects": len(out_objects), "parameters": n_params, "bytes": len(data),
               "facets": len(facet_list), "notes": notes}
    return data, summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--xml", default=DEFAULT_XML)
    ap.add_argument("--selection", default=DEFAULT_SELECTION)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if --out differs from what would be generated")
    ap.add_argument("-v", "--verbose", action="store_true", help="print notes")
    args = ap.parse_args(argv)
    try:
        data, summary = generate(args.xml, args.selection)
    except (GenError, OSError, ET.ParseError) as e:
        print("gen_tr181: %s" % e, file=sys.stderr)
        return 2
    if args.verbose:
        for note in summary["notes"]:
            print("note: " + note)
    line = "%s: %d objects, %d parameters, %d facet sets, %d bytes" % (
        os.path.relpath(args.out), summary["objects"], summary["parameters"],
        summary["facets"], summary["bytes"])
    if args.check:
        try:
            with open(args.out, "rb") as f:
                same = f.read() == data
        except OSError:
            same = False
        print(line + (" (up to date)" if same else " (OUT OF DATE: run tools/gen_tr181.py)"))
        return 0 if same else 1
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.out)
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
