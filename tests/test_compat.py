"""The package must run on CPython 3.8: checked statically with vermin (a test dependency)."""

import os
import subprocess
import sys

import pytest

from conftest import REPO

# Process-level: the fast subset (pytest -m "not e2e") leaves these out.
pytestmark = pytest.mark.e2e

VERMIN = [sys.executable, "-c", "import sys, vermin; sys.exit(vermin.main())",
          "-t=3.8-", "--violations", "--eval-annotations", "--no-tips"]


def _vermin(*paths):
    proc = subprocess.run(VERMIN + list(paths), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
    return proc.returncode, proc.stdout


def test_package_needs_no_python_newer_than_3_8():
    code, out = _vermin(os.path.join(REPO, "tr069client"))
    assert "No module named" not in out, "vermin missing: pip install -r tests/requirements.txt"
    assert code == 0, "tr069client/ needs a Python newer than 3.8:\n" + out


def test_vermin_catches_a_3_9_feature(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('x: list[int] = []\ny = "ab".removeprefix("a")\n')
    code, out = _vermin(str(probe))
    assert code != 0 and "removeprefix" in out
