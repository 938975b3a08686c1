"""What an integrator ships, for tools/bench.py: the folder tools/build_bundle.py makes, other
candidate forms of the package, and their flash cost as squashfs stores them.

squashfs compresses each file in blocks (here xz, 256 KiB blocks, as OpenWrt builds its
root), so an already deflated zip gains almost nothing, while uncompressed bytecode or
sources compress three to five times. Each candidate is measured as: its own size, `xz -9`
of it (of a tar of it for a folder), and the growth of a squashfs image (mksquashfs, xz)
that holds it; its start-up cost is measured by the caller (bench_session.daemon_run).
"""

import contextlib
import io
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

from bench_proc import TOOLS, BenchError

# (name, how it is made). The first is what an integrator ships (tools/build_bundle.py's
# default); "zipapp" is tools/build_zipapp.py's default (.py beside checked-hash .pyc:
# zipimport hashes each source at import); the others are made here from the sources:
# (container, members, compile mode), mode None: no bytecode, "" / "OO": unchecked-hash
# bytecode, "OO" without docstrings (compile(optimize=2)).
CANDIDATES = [
    ("folder bundle (build_bundle.py)", ("bundle",)),
    ("bundle --line-numbers", ("bundle", "--line-numbers")),
    ("bundle --sources", ("bundle", "--sources")),
    ("zipapp (build_zipapp.py)", ("zipapp",)),
    ("zip stored, .pyc -OO", ("zip-stored", "pyc", "OO")),
    ("folder, .py (compiled at each start)", ("dir", "py", None)),
    ("folder, .pyc -OO", ("dir", "pyc", "OO")),
]
QUICK = 1   # candidates measured by --quick
SHIPPED = CANDIDATES[0][0]


def _builder(name="build_zipapp"):
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    return __import__(name)


def _sources(folder, defusedxml_dir):
    """[(archive name, bytes)] of what build_zipapp.py packs, sources and data only."""
    z = os.path.join(folder, "sources.pyz")
    _builder().build(z, defusedxml_dir, compile_pyc=False, compress=False)
    with zipfile.ZipFile(z) as f:
        entries = [(i.filename, f.read(i)) for i in f.infolist()]
    os.unlink(z)
    return entries


def _pyc(source, arcname, optimize):
    """Unchecked-hash bytecode of `source` (reproducible, never compared with a source)."""
    import importlib.util
    from importlib import _bootstrap_external as ext
    code = compile(source, arcname, "exec", dont_inherit=True, optimize=2 if optimize == "OO" else 0)
    return bytes(ext._code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False))


def _members(entries, members, mode, folder):
    """The candidate's files from the sources: .py, with .pyc beside them (zipimport) or in
    __pycache__ (a folder), or .pyc alone in place of each .py (sourceless)."""
    out = []
    for name, data in entries:
        if not name.endswith(".py"):
            out.append((name, data))
            continue
        if members in ("py", "both"):
            out.append((name, data))
        if members == "both" and folder:
            head, _, base = name.rpartition("/")
            out.append(((head + "/" if head else "") + "__pycache__/%s.%s.pyc" % (
                base[:-3], sys.implementation.cache_tag), _pyc(data, name, mode)))
        elif members != "py":
            out.append((name + "c", _pyc(data, name, mode)))
    return sorted(out)


def build_candidates(folder, defusedxml_dir, child_version, quick=False):
    """Write every candidate (the first QUICK with `quick`) into `folder`; [(name, path)].
    Bytecode is this Python's: the children must run the same minor version (`child_version`,
    a (major, minor) tuple)."""
    if tuple(child_version) != sys.version_info[:2]:
        raise BenchError("the flash candidates need the bench to run under the children's Python "
                         "(%d.%d), not %d.%d" % (tuple(child_version) + sys.version_info[:2]))
    os.makedirs(folder)
    entries = _sources(folder, defusedxml_dir)
    made = []
    for i, (name, how) in enumerate(CANDIDATES[:QUICK] if quick else CANDIDATES):
        path = os.path.join(folder, "c%02d%s" % (i, ".pyz" if how[0].startswith("zip") else ""))
        if how[0] == "bundle":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                ok = _builder("build_bundle").main(["-o", path, "--defusedxml", defusedxml_dir] + list(how[1:]))
            if ok != 0:
                raise BenchError("tools/build_bundle.py %s failed" % " ".join(how[1:]))
        elif how[0] == "zipapp":
            _builder().build(path, defusedxml_dir)
        elif how[0] == "dir":
            for arc, data in _members(entries, how[1], how[2], True):
                dest = os.path.join(path, arc)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with open(dest, "wb") as f:
                    f.write(data)
        else:
            _write_zip(path, _members(entries, how[1], how[2], False), how[0] == "zip-deflate")
        made.append((name, path))
    return made


def _write_zip(path, entries, deflate):
    b = _builder()
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    buf = io.BytesIO()
    buf.write(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(buf, "a", compression=method) as z:
        for arc, data in entries:
            info = zipfile.ZipInfo(arc, b.DATE)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def _tar(path):
    """A deterministic tar of a folder (sorted, no owners or times), as bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for f in sorted(files):
                full = os.path.join(root, f)
                info = tarfile.TarInfo(os.path.relpath(full, path))
                info.size, info.mode = os.path.getsize(full), 0o644
                with open(full, "rb") as fh:
                    t.addfile(info, fh)
    return buf.getvalue()


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def squashfs_cost(path, scratch):
    """Bytes a squashfs image (xz, 256 KiB blocks, no padding) grows by holding `path`, or
    None without mksquashfs."""
    tool = shutil.which("mksquashfs")
    if not tool:
        return None
    sizes = []
    for i, src in enumerate((None, path)):
        root = os.path.join(scratch, "sqroot%d" % i)
        os.makedirs(root)
        if src:
            dest = os.path.join(root, os.path.basename(src))
            (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, dest)
        img = os.path.join(scratch, "img%d.sqfs" % i)
        subprocess.run([tool, root, img, "-comp", "xz", "-b", "256K", "-nopad", "-noappend", "-no-xattrs",
                        "-all-root", "-quiet", "-no-progress"], check=True, stdout=subprocess.DEVNULL)
        sizes.append(os.path.getsize(img))
        shutil.rmtree(root)
        os.unlink(img)
    return sizes[1] - sizes[0]


def flash_costs(made, scratch):
    """[{name, path, bytes, xz9, squashfs}] of the candidates."""
    out = []
    for name, path in made:
        data = open(path, "rb").read() if os.path.isfile(path) else _tar(path)
        out.append({"name": name, "path": path, "bytes": _size(path),
                    "xz9": len(lzma.compress(data, preset=9)), "squashfs": squashfs_cost(path, scratch)})
    return out
