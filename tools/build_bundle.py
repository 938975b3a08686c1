#!/usr/bin/env python3
"""Make the folder an integrator copies onto a router: tr069client and defusedxml as
bytecode, the rarely used modules as sources, run with `python3 FOLDER run ...`.

    python3 tools/build_bundle.py [-o tr069client-bundle] [--defusedxml DIR]
                                  [--python PY] [--sources]

Why this form: squashfs compresses each file (xz), so plain files cost what xz makes of
them, where a deflated zipapp gains nothing; bytecode spares the router compiling the
package at every start (its flash is read-only). The folder holds:

- __main__.py, which runs tr069client.cli.main (and says so when the Python is not the
  one the bytecode was made for), with its bytecode in __pycache__;
- every module the daemon loads as unchecked-hash bytecode without its source (PEP 552:
  never compared with a source, so its hash is left zero), compiled with -OO (no
  docstrings; the package has no assert); annotations and `if TYPE_CHECKING:` imports
  are left out (the package never evaluates them). On 3.11+ a traceback names each
  function and the line it starts on, not the line that failed (--line-numbers keeps
  those: 16 KiB more of xz, a tenth), and a function's __qualname__ is its name (what
  3.11's tracebacks show);
- COLD, the modules only some work loads (remote diagnostics, a bindings file, a
  Download or Upload, a DHCP hook, a command-line request to the running daemon, the debug
  log), as sources without comments and docstrings but with their line numbers: compiled
  when first used;
- tr181.json, the defusedxml modules the package imports, and the licences.

The bytecode is that of --python (default: the Python running this tool): build with a
python3 of the router's minor version (3.11 for OpenWrt 23.05/24.10 and Debian 12). With
--sources everything ships as sources, for any version, compiled at every start. The same
sources give the same bytes. tr069client/fleet (the simulated fleet, a lab tool) stays out.
"""

import argparse
import ast
import io
import json
import os
import shutil
import subprocess
import sys
import tokenize

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from build_zipapp import BuildError, find_defusedxml, licence_of, package_files  # noqa: E402

PACKAGE = os.path.join(REPO, "tr069client")
# Modules (and packages) that only some work loads: shipped as sources. What the daemon
# loads to start and run a session must not be here: it would be compiled at every start
# (test_deploy checks the daemon's modules against this list).
COLD = tuple("tr069client." + m for m in (
    "bindings", "binding_commands", "fetch", "file_transfer", "descriptor", "platform_commands",
    "dhcp",
    # the running daemon's answers to the command line (loaded by its first request, with
    # dhcp), the debug log's SOAP redaction, `python3 -m tr069client` with the folder on the path
    "control_commands", "redact", "__main__",
    # every test module of diagnostics/ (its __init__ and service.py run at every start)
    "diagnostics.rules", "diagnostics.runner", "diagnostics.common", "diagnostics.commands",
    "diagnostics.icmp", "diagnostics.ping", "diagnostics.traceroute", "diagnostics.transfer",
    "diagnostics.nslookup", "diagnostics.dnswire", "diagnostics.udpecho",
    "diagnostics.serverselection"))
LEFT_OUT = ("tr069client.fleet",)
DEFUSEDXML = ("__init__", "common", "ElementTree")   # what the package imports
# (No docstring or comment: its text is flash too.)
MAIN = '''import sys

BYTECODE = %(version)s
if BYTECODE and sys.version_info[:2] != BYTECODE:
    sys.exit("tr069client: this folder holds bytecode for CPython %%d.%%d, not %%d.%%d: build it "
             "with the device's python3 (tools/build_bundle.py)" %% (BYTECODE + sys.version_info[:2]))

from tr069client.cli import main

sys.exit(main())
'''

# Run by the bytecode's Python (-OO, -X no_debug_ranges): compiles the sources listed in
# the JSON on stdin, writing NAME.pyc beside each NAME.py and removing the source.
_COMPILE = r'''
import ast, importlib.util, json, os, sys
from importlib import _bootstrap_external as ext


class Unannotated(ast.NodeTransformer):
    def visit_arg(self, node):
        node.annotation = None
        return node

    def visit_FunctionDef(self, node):
        node.returns = None
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node):
        if node.value is None or node.simple == 0:
            return node
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)

    def visit_If(self, node):
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" and not node.orelse:
            return ast.copy_location(ast.Pass(), node)
        self.generic_visit(node)
        return node


def by_function(code):
    """`code` with every instruction on its function's first line: 3.11's location table
    holds an entry per line change (high-entropy bytes, a tenth of the compressed
    bytecode); this one is two bytes per 8 code units, all alike."""
    units, table = len(code.co_code) // 2, bytearray()
    while units > 0:
        n = min(8, units)
        units -= n
        table += bytes((0x80 | 13 << 3 | (n - 1), 0))   # NO_COLUMNS, line delta 0
    consts = tuple(by_function(c) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_linetable=bytes(table), co_consts=consts)


def plain_names(code):
    """`code` with each function's qualified name ("Class.method") replaced by its name, as
    3.11's tracebacks show it anyway: those strings are 2.4 KiB of xz, and 16 KiB of memory."""
    consts = tuple(plain_names(c) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_qualname=code.co_name, co_consts=consts)


paths, lines = json.load(sys.stdin)
for path, name, cache in paths:
    with open(path, "rb") as f:
        source = f.read()
    tree = ast.fix_missing_locations(Unannotated().visit(ast.parse(source, name)))
    code = compile(tree, name, "exec", dont_inherit=True, optimize=2)
    if not lines and sys.version_info >= (3, 11):   # the format of 3.11's co_linetable
        code = by_function(code)
    if not cache and sys.version_info >= (3, 11):
        code = plain_names(code)
    if cache:   # the source stays; its bytecode goes where this Python alone looks
        folder = os.path.join(os.path.dirname(path), "__pycache__")
        os.makedirs(folder, exist_ok=True)
        out = os.path.join(folder, "%s.%s.pyc" % (name.rpartition("/")[2][:-3], sys.implementation.cache_tag))
    else:
        out = path + "c"
    # A sourceless .pyc's hash is never read (no source to compare it with): zeros, which
    # xz stores for next to nothing where the sources' hashes cost 8 bytes a file.
    digest = importlib.util.source_hash(source) if cache else bytes(8)
    with open(out, "wb") as f:
        f.write(ext._code_to_hash_pyc(code, digest, checked=False))
    if not cache:
        os.unlink(path)
print("%d.%d" % sys.version_info[:2])
'''


def _module(arc):
    """"tr069client/linux/files.py" -> "tr069client.linux.files"."""
    name = arc[:-3].replace("/", ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def _under(name, names):
    return any(name == n or name.startswith(n + ".") for n in names)


def strip_source(source):
    """`source` without comments and docstrings, each line where it was (a traceback's line
    numbers still match the repository); blank lines instead."""
    text = source.decode("utf-8")
    lines = text.splitlines(True)
    keep = [list(line) for line in lines]
    blank = set()
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) or not body:
            continue
        doc = body[0]
        if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                and isinstance(doc.value.value, str)):
            continue
        first = lines[doc.lineno - 1]
        if first[:doc.col_offset].strip() or lines[doc.end_lineno - 1][doc.end_col_offset:].strip():
            continue   # shares a line with code: left as it is
        blank.update(range(doc.lineno, doc.end_lineno + 1))
        if len(body) == 1:   # the body was the docstring alone
            keep[doc.lineno - 1] = list(first[:doc.col_offset] + "pass\n")
            blank.discard(doc.lineno)
    for tok in tokenize.tokenize(io.BytesIO(source).readline):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            keep[row - 1][col:col + len(tok.string)] = []
    out = []
    for n, chars in enumerate(keep, 1):
        line = "" if n in blank else "".join(chars).rstrip()
        out.append(line + "\n")
    return "".join(out).encode("utf-8")


def build(out, defusedxml_dir=None, python=None, sources=False, line_numbers=False):
    """Write the folder `out` (replacing it); (bytes, files, bytecode version or None)."""
    dx = find_defusedxml(defusedxml_dir)
    entries = []
    for path, arc in package_files(PACKAGE, "tr069client"):
        if not _under(_module(arc), LEFT_OUT):
            entries.append((path, arc))
    entries += [(os.path.join(dx, m + ".py"), "defusedxml/%s.py" % m) for m in DEFUSEDXML]
    if not any(arc == "tr069client/tr181.json" for _, arc in entries):
        raise BuildError("tr069client/tr181.json is missing: run tools/gen_tr181.py")
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    compiled = []
    for path, arc in entries:
        with open(path, "rb") as f:
            data = f.read()
        dest = os.path.join(tmp, arc)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if arc.endswith(".py") and (sources or _under(_module(arc), COLD)):
            data = strip_source(data)
        elif arc.endswith(".py"):
            compiled.append((dest, arc))
        with open(dest, "wb") as f:
            f.write(data)
    for path, arc in ((os.path.join(REPO, "LICENSE"), "LICENSE"), (None, "defusedxml/LICENSE")):
        data = licence_of(dx) if path is None else open(path, "rb").read()
        if data:
            with open(os.path.join(tmp, arc), "wb") as f:
                f.write(data)
    version = None
    if compiled:
        version = _compile([(dest, arc, False) for dest, arc in compiled], python or sys.executable,
                           line_numbers)
    with open(os.path.join(tmp, "__main__.py"), "w") as f:
        f.write(MAIN % {"version": repr(tuple(int(v) for v in version.split("."))) if version else "None"})
    if version:
        # Its bytecode in __pycache__ (unchecked: never compared with the source): compiling
        # even these lines at every start would leave the daemon 0.2 MB larger (the compiler's
        # memory); another Python finds no bytecode of its own and runs the source, which says why.
        _compile([(os.path.join(tmp, "__main__.py"), "__main__.py", True)], python or sys.executable, line_numbers)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    files = [os.path.join(r, f) for r, _, fs in os.walk(out) for f in fs]
    return sum(os.path.getsize(f) for f in files), len(files), version


def _compile(paths, python, line_numbers):
    """Compile `paths` [(file, archive name)] with `python`; its "major.minor"."""
    try:
        probe = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise BuildError("cannot run %s: %s" % (python, e))
    flags = ["-OO", "-X", "no_debug_ranges"] if tuple(map(int, probe.stdout.split(b"."))) >= (3, 11) else ["-OO"]
    r = subprocess.run([python, "-I"] + flags + ["-c", _COMPILE], input=json.dumps([paths, line_numbers]).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise BuildError("compiling with %s failed: %s" % (python, r.stderr.decode("utf-8", "replace")[-2000:]))
    return r.stdout.decode().strip()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default="tr069client-bundle", help="the folder to write (default %(default)s)")
    p.add_argument("--defusedxml", metavar="DIR", help="defusedxml package folder (default: the installed one)")
    p.add_argument("--python", metavar="PY", help="the Python whose bytecode to ship (default: this one)")
    p.add_argument("--sources", action="store_true", help="sources only, for any Python (compiled at every start)")
    p.add_argument("--line-numbers", action="store_true", help="keep each line's number in the bytecode "
                   "(tracebacks then name the line, not only the function's first; 16 KiB more of xz)")
    args = p.parse_args(argv)
    try:
        size, files, version = build(args.output, args.defusedxml, args.python, args.sources, args.line_numbers)
    except (BuildError, OSError, SyntaxError, ValueError) as e:
        sys.stderr.write("build_bundle: %s\n" % e)
        return 1
    print("%s: %d files, %d bytes (%.1f KiB); %s" % (
        args.output, files, size, size / 1024.0,
        "bytecode for CPython %s" % version if version else "sources only (any Python 3.8+)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
