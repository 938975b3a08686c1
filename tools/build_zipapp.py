#!/usr/bin/env python3
"""Pack tr069client and defusedxml into one zipapp file to copy onto a router's flash.

    python3 tools/build_zipapp.py [-o tr069client.pyz] [--defusedxml DIR]
                                  [--python "/usr/bin/env python3"] [--no-compile] [--store]
                                  [--fleet]

The archive is what `python3 -m zipapp` makes (a shebang line, then a zip with a
__main__.py), built entry by entry so that the same sources give the same bytes: sorted
names, fixed timestamps. It holds tr069client/ (with tr181.json), the defusedxml package
(found with importlib, or taken from --defusedxml, the package folder or its parent) with
its licence, and __main__.py, which runs tr069client.cli.main. Run it with
`python3 tr069client.pyz run ...`: nothing needs to be installed but python3 itself.

A .pyc made by the Python running this tool goes beside each .py (checked-hash pycs,
PEP 552): a device with the same Python minor version skips compiling the package at every
start (on an emulated mipsel router, 1.1 G instructions and 1 MB of RSS without them, 0.36 G
with them); any other version ignores them and compiles the sources. --no-compile leaves
them out (a file a third the size); --store leaves the entries uncompressed (for a python3
without zlib). Fleet mode (tr069client/fleet/, a load-testing tool no router runs: a quarter
more bytes) is left out unless --fleet is given.
"""

import argparse
import importlib.util
import io
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PACKAGE = os.path.join(REPO, "tr069client")
DATE = (1980, 1, 1, 0, 0, 0)       # the earliest a zip can say: builds are reproducible
MAIN = b'''"""tr069client zipapp: `python3 tr069client.pyz COMMAND ...`."""
import sys

from tr069client.cli import main

sys.exit(main())
'''
_SKIP_DIRS = ("__pycache__",)
_SUFFIXES = (".py", ".json")


class BuildError(Exception):
    """The archive cannot be built; the message says why."""


def find_defusedxml(path=None):
    """The folder of the defusedxml package: `path` (the package or its parent) or the installed one."""
    if path:
        for cand in (path, os.path.join(path, "defusedxml")):
            if os.path.isfile(os.path.join(cand, "__init__.py")) and os.path.basename(
                    os.path.normpath(cand)) == "defusedxml":
                return os.path.abspath(cand)
        raise BuildError("%s holds no defusedxml package" % path)
    spec = importlib.util.find_spec("defusedxml")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("defusedxml is not installed here: install it or give --defusedxml DIR")
    return list(spec.submodule_search_locations)[0]


def licence_of(package_dir):
    """The licence text of an installed distribution beside `package_dir`, or None."""
    parent = os.path.dirname(package_dir)
    name = os.path.basename(package_dir)
    try:
        entries = sorted(os.listdir(parent))
    except OSError:
        return None
    for entry in entries:
        if entry.lower().startswith(name.lower() + "-") and entry.endswith((".dist-info", ".egg-info")):
            folder = os.path.join(parent, entry)
            for root, _, files in os.walk(folder):
                for f in sorted(files):
                    if f.upper().startswith(("LICENSE", "LICENCE", "COPYING")):
                        with open(os.path.join(root, f), "rb") as fh:
                            return fh.read()
    return None


def package_files(folder, arc_prefix, skip=()):
    """(path on disk, name in the archive) of the package's sources and data, sorted."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS + tuple(skip) and not d.startswith("."))
        for f in files:
            if f.endswith(_SUFFIXES):
                path = os.path.join(root, f)
                rel = os.path.relpath(path, folder).replace(os.sep, "/")
                out.append((path, arc_prefix + "/" + rel))
    return sorted(out, key=lambda item: item[1])


def _pyc(source, arcname, scratch):
    """Checked-hash .pyc bytes of `source` (PEP 552): zipimport checks them against the .py."""
    import py_compile
    src, pyc = os.path.join(scratch, "m.py"), os.path.join(scratch, "m.pyc")
    with open(src, "wb") as f:
        f.write(source)
    py_compile.compile(src, pyc, dfile=arcname, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    with open(pyc, "rb") as f:
        return f.read()


def build(out, defusedxml_dir=None, interpreter="/usr/bin/env python3", compile_pyc=True,
          compress=True, fleet=False):
    """Write the zipapp to `out`; return its size in bytes."""
    sources = package_files(PACKAGE, "tr069client", () if fleet else ("fleet",)) + \
        package_files(find_defusedxml(defusedxml_dir), "defusedxml")
    if not any(arc == "tr069client/tr181.json" for _, arc in sources):
        raise BuildError("tr069client/tr181.json is missing: run tools/gen_tr181.py")
    entries = [("__main__.py", MAIN)]
    for path, arc in sources:
        with open(path, "rb") as f:
            entries.append((arc, f.read()))
    for path, arc in ((os.path.join(REPO, "LICENSE"), "LICENSE"),):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                entries.append((arc, f.read()))
    licence = licence_of(find_defusedxml(defusedxml_dir))
    if licence:
        entries.append(("defusedxml/LICENSE", licence))
    if compile_pyc:
        import tempfile
        scratch = tempfile.mkdtemp()
        try:
            entries += [(arc + "c", _pyc(data, arc, scratch)) for arc, data in list(entries)
                        if arc.endswith(".py")]
        finally:
            for f in os.listdir(scratch):
                os.unlink(os.path.join(scratch, f))
            os.rmdir(scratch)
    entries.sort(key=lambda e: e[0])
    buf = io.BytesIO()
    buf.write(b"#!" + interpreter.encode("utf-8") + b"\n")
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "a", compression=method) as z:
        for arc, data in entries:
            info = zipfile.ZipInfo(arc, DATE)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)
    return os.path.getsize(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default="tr069client.pyz", help="the file to write (default %(default)s)")
    p.add_argument("--defusedxml", metavar="DIR", help="defusedxml package folder (default: the installed one)")
    p.add_argument("-p", "--python", default="/usr/bin/env python3", help="interpreter of the shebang line")
    p.add_argument("--no-compile", action="store_true", help="leave out the .pyc files made by this Python")
    p.add_argument("--store", action="store_true", help="do not compress (for a python3 without zlib)")
    p.add_argument("--fleet", action="store_true", help="include fleet mode (load tests; not for routers)")
    args = p.parse_args(argv)
    try:
        size = build(args.output, args.defusedxml, args.python, not args.no_compile, not args.store,
                     args.fleet)
    except (BuildError, OSError, SyntaxError, ValueError) as e:
        sys.stderr.write("build_zipapp: %s\n" % e)
        return 1
    print("%s: %d bytes (%.1f KiB)%s" % (args.output, size, size / 1024.0, "" if args.no_compile else
          "; bytecode for CPython %d.%d (other versions compile the sources)" % sys.version_info[:2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
