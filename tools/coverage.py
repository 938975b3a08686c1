#!/usr/bin/env python3
"""What the running model implements of TR-181 Device:2.19, and which profiles it completes.

    python3 tools/coverage.py [--config FILE] [--root DIR] [--xml FILE]
                              [--profile NAME ...] [--all-profiles] [--json]

The model is built the way the daemon builds it (device.Device: the Linux providers and
the config's bindings) over an empty store, and seen the way an ACS sees it: through
GetParameterNames on "Device.". A profile is complete when every object it names exists
(a createDelete table accepts AddObject), every parameter exists, and every readWrite
parameter is writable: directly, or in the rows the ACS may create. --profile checks
Baseline:4 unless told otherwise; the exit status is 1 when a checked profile is
incomplete.

Importable (tools/ on sys.path, e.g. by tools/bench.py; load it by file path, since the
name `coverage` may clash with the coverage.py package):

    build_model(config=None, root="/", store=None) -> tr069client.model.Model
    gpv_device(model) -> [(name, value, xsd type)]   # GPV "Device." as a fresh session does
    report(model, xml_path, profiles) -> dict
"""

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tr069client import config as config_mod  # noqa: E402
from tr069client import identity, metadata  # noqa: E402
from tr069client.device import Device  # noqa: E402
from tr069client.store import Store  # noqa: E402

# TR069_BBF_DIR: the folder of the BBF XML files, as for the tests.
DEFAULT_XML = os.path.join(os.environ.get("TR069_BBF_DIR") or os.path.join(REPO, "..", "shared", "bbf"),
                           "tr-181-2-19-1-cwmp-full.xml")


def build_model(config=None, root="/", store=None):
    """The daemon's model (device.Device) for a config dict or file path, over `store`
    (default: an empty in-memory one) and the filesystem `root`."""
    if isinstance(config, str):
        config = config_mod.load(config)
    cfg = dict(config or {})
    return Device(store or Store(), cfg, identity.resolve(cfg, root), root).model


def gpv_device(model):
    """GetParameterValues of "Device." at the start of a session (the OS read afresh)."""
    model.begin_session()
    return model.get_values(["Device."])


def xml_model(path):
    """(objects {generic path: [parameter names]}, profiles {name: element}) of the XML."""
    root = ET.parse(path).getroot()
    model = [c for c in root if c.tag.rpartition("}")[2] == "model"][0]
    objects = {}
    for o in model.findall("object"):
        if o.get("status") == "deleted":
            continue
        objects[o.get("name")] = [p.get("name") for p in o.findall("parameter")
                                  if p.get("status") != "deleted"]
    profiles = {p.get("name"): p for p in model.findall("profile")}
    return objects, profiles


def requirements(profiles, name):
    """{object: [requirement, {parameter: requirement}]} of a profile, with its base and
    the profiles it extends."""
    prof = profiles[name]
    out = {}
    for ref in (prof.get("base") or "").split() + (prof.get("extends") or "").split():
        for obj, (req, params) in requirements(profiles, ref).items():
            out.setdefault(obj, [req, {}])[1].update(params)
    for o in prof.findall("object"):
        if o.get("status") == "deleted":
            continue
        entry = out.setdefault(o.get("ref"), [o.get("requirement"), {}])
        entry[0] = o.get("requirement")
        entry[1].update((p.get("ref"), p.get("requirement")) for p in o.findall("parameter")
                        if p.get("status") != "deleted")
    return out


class _Seen:
    """What GetParameterNames "Device." shows, by generic path."""

    def __init__(self, model):
        model.begin_session()
        self.model = model
        self.names = model.get_names("Device.", False)
        self.present = set()
        self.writable = set()
        self.concrete = {}
        for name, w in self.names:
            g = metadata.generic(name)
            if name.endswith(".") and name[:-1].rpartition(".")[2].isdigit():
                continue   # a row; its table's name object says whether it takes rows
            self.present.add(g)
            self.concrete.setdefault(g, name)
            if w:
                self.writable.add(g)

    def table_takes_rows(self, gtable):
        """Whether the ACS may AddObject to the table (generic "X.{i}.")."""
        name = gtable[:-4]
        if name in self.present:
            return name in self.writable
        obj = self.model.meta.object(gtable)   # no parent row now: ask the model directly
        return obj is not None and self.model._table_writable(name.replace("{i}", "1"), obj)

    def problems(self, reqs):
        meta = self.model.meta
        out = []
        for obj, (req, params) in sorted(reqs.items()):
            if meta.object(obj) is None:
                out.append("object %s is not implemented" % obj)
                continue
            table = _table_of(meta, obj)
            if req in ("create", "createDelete", "delete") and not self.table_takes_rows(obj):
                out.append("table %s does not accept AddObject/DeleteObject here" % obj)
            for name, preq in sorted(params.items()):
                g = obj + name
                p = meta.param(g)
                if p is None or (table is None and g not in self.present):
                    out.append("parameter %s is not implemented" % g)
                elif preq == "readWrite" and g not in self.writable and not (
                        p.writable and table is not None and self.table_takes_rows(table)):
                    out.append("parameter %s is read-only here (bind a set command)" % g)
        return out


def _table_of(meta, gobj):
    """The innermost table ("X.{i}.") containing the generic object, or None."""
    idx = gobj.rfind(".{i}.")
    return gobj[:idx + 5] if idx >= 0 else None


def report(model, xml_path=DEFAULT_XML, profiles=("Baseline:4",), all_profiles=False):
    """Coverage figures and profile results as a dict (what --json prints)."""
    objects, profs = xml_model(xml_path)
    seen = _Seen(model)
    meta = model.meta
    xml_params = sum(len(v) for v in objects.values())
    ours = [(o, [n for n, _ in meta.params_of(o)]) for o in meta.objects]
    by_top = {}
    for o, names in objects.items():
        top = ".".join(o.split(".")[:2]) + "." if o != "Device." else "Device."
        entry = by_top.setdefault(top, [0, 0])
        entry[1] += len(names)
        entry[0] += sum(1 for n in names if meta.param(o + n) is not None)
    result = {
        "model": meta.model, "xml": os.path.basename(xml_path),
        "xml_objects": len(objects), "xml_parameters": xml_params,
        "objects": len(ours), "parameters": sum(len(n) for _, n in ours),
        "instances_now": sum(1 for n, _ in seen.names if not n.endswith(".")),
        "by_top_object": {k: v for k, v in sorted(by_top.items()) if v[0]},
        "profiles": {},
    }
    names = list(profiles)
    if all_profiles:
        names += sorted(n for n, p in profs.items() if not n.startswith("_") and n not in names
                        and p.get("status") not in ("deleted", "obsoleted"))
    for name in names:
        if name not in profs:
            raise SystemExit("coverage: no profile %r in %s" % (name, xml_path))
        result["profiles"][name] = seen.problems(requirements(profs, name))
    result["checked"] = list(profiles)
    return result


def text(r):
    lines = ["TR-181 %s (%s): %d objects, %d parameters" % (
        r["model"], r["xml"], r["xml_objects"], r["xml_parameters"]),
        "Implemented: %d objects, %d parameters (%.1f %%); GetParameterValues of Device. "
        "now returns %d values" % (r["objects"], r["parameters"],
                                    100.0 * r["parameters"] / r["xml_parameters"], r["instances_now"]),
        "", "Parameters implemented / defined, by top-level object:"]
    for top, (have, total) in r["by_top_object"].items():
        lines.append("  %-28s %4d / %d" % (top, have, total))
    lines.append("")
    for name in r["checked"]:
        problems = r["profiles"][name]
        lines.append("Profile %s: %s" % (name, "complete" if not problems else "incomplete"))
        lines.extend("  - " + p for p in problems)
    others = [(n, p) for n, p in r["profiles"].items() if n not in r["checked"]]
    if others:
        lines.append("Other complete profiles: %s" % (", ".join(n for n, p in others if not p) or "none"))
        near = [n for n, p in others if p and all(x.endswith("(bind a set command)") for x in p)]
        lines.append("Complete but for read-only parameters (bind set commands): %s"
                     % (", ".join(near) or "none"))
        lines.append("Incomplete: %d other profiles" % sum(1 for n, p in others if p and n not in near))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", metavar="FILE", help="tr069client JSON config (bindings, ...)")
    ap.add_argument("--root", default="/", help="filesystem root the providers read (default /)")
    ap.add_argument("--xml", default=DEFAULT_XML, help="the TR-181 2.19 full XML")
    ap.add_argument("--profile", action="append", metavar="NAME",
                    help="profile to check (repeatable; default Baseline:4)")
    ap.add_argument("--all-profiles", action="store_true",
                    help="also check every other profile of the model")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    try:
        model = build_model(args.config, args.root)
    except (config_mod.ConfigError, identity.IdentityError) as e:
        sys.stderr.write("coverage: %s\n" % e)
        return 2
    wanted = args.profile or ["Baseline:4"]
    r = report(model, args.xml, wanted, args.all_profiles)
    print(json.dumps(r, indent=1, sort_keys=True) if args.json else text(r))
    return 1 if any(r["profiles"][n] for n in wanted) else 0


if __name__ == "__main__":
    sys.exit(main())
