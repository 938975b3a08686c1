"""Helpers for the platform tests: the daemon's model over a sample root folder, and a
check that every value is valid for its TR-181 type."""

import os
import shutil

from tr069client import datatypes, identity, metadata
from tr069client.device import Device
from tr069client.faults import CwmpFault
from tr069client.store import Store

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "linux")
OPENWRT = os.path.join(SAMPLES, "openwrt")
DEBIAN = os.path.join(SAMPLES, "debian")


def make_model(root=OPENWRT, cfg=None, store=None):
    """The model of the daemon's Device, reading `root` instead of /."""
    cfg = dict(cfg or {})
    return Device(store if store is not None else Store(), cfg, identity.resolve(cfg, root), root).model


def gpv(model, *paths):
    """{name: value} of a fresh session's GetParameterValues."""
    model.begin_session()
    return {n: v for n, v, _ in model.get_values(list(paths) or ["Device."])}


def invalid(model, values):
    """[(name, value, reason)] of the values that are not valid and canonical for their type."""
    bad = []
    for name, value in values.items():
        p = model.meta.param(metadata.generic(name))
        try:
            # A local time keeps its zone offset; everything else is in canonical form. As the
            # device's value: read-only enumeration values (DiagnosticsState None) are valid.
            if datatypes._normalize(p, value, False) != value and p.type != "dateTime":
                bad.append((name, value, "not canonical"))
        except CwmpFault as f:
            bad.append((name, value, f.message))
    return bad


def copy_root(src, tmp_path, name="root"):
    """A writable copy of a sample root (symbolic links kept)."""
    dest = os.path.join(str(tmp_path), name)
    shutil.copytree(src, dest, symlinks=True)
    return dest


def write(root, name, text, mode="w"):
    """Write (mode "a": append) `text` to the file `name` of a sample root copy."""
    with open(os.path.join(root, name), mode) as f:
        f.write(text)
