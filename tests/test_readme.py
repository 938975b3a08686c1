"""README.md stays true: its two commands, and every config key and `run` flag documented."""

import os
import re

import pytest

from tr069client import cli, config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = "python3 -m pip install . && python3 tools/demo.py"
TESTS = "python3 -m pip install . -r tests/requirements.txt && python3 -m pytest -q"


def _read(name):
    with open(os.path.join(REPO, name), encoding="utf-8") as f:
        return f.read()


def test_the_first_two_commands_are_the_demo_and_the_tests():
    commands = re.findall(r"^    (python3 .*)$", _read("README.md"), re.M)
    assert commands[:2] == [DEMO, TESTS]


def test_ci_runs_the_readme_test_command():
    # .ci/run installs into a venv, then runs what follows "&&" in README's test command.
    assert TESTS.split("&& ", 1)[1] in _read(".ci/run")


def test_every_config_key_is_documented():
    readme = _read("README.md")
    missing = [k for k in config.KEYS if "`%s`" % k not in readme]
    assert missing == []


def test_every_run_flag_is_documented():
    readme = _read("README.md")
    run = cli._parser()._subparsers._group_actions[0].choices["run"]
    flags = [s for a in run._actions for s in a.option_strings if s.startswith("--") and s != "--help"]
    assert flags and [f for f in flags if f not in readme] == []


@pytest.mark.e2e
def test_what_the_readme_commands_leave_behind_is_ignored_by_git():
    import shutil
    import subprocess
    if shutil.which("git") is None or not os.path.exists(os.path.join(REPO, ".git")):
        import pytest
        pytest.skip("not a git checkout")
    left = ["build/lib/tr069client/cli.py", "tr069client.egg-info/PKG-INFO", "tr069client-bundle/__main__.py",
            "tr069client.pyz",
            "tests/__pycache__/x.pyc", ".pytest_cache/v"]
    r = subprocess.run(["git", "check-ignore", "--no-index"] + left, cwd=REPO,
                       stdout=subprocess.PIPE, universal_newlines=True)
    assert r.stdout.split() == left


def test_the_acs_named_as_tested_are_the_ones_that_were():
    # README's first paragraph says exactly what ran: the real ACS of the Tests section, and
    # the dialects tests/_engine.py writes (a new dialect there must be named here).
    import inspect
    import _engine
    readme = _read("README.md")
    intro = readme.split("\n\n")[1]
    real = re.findall(r"has run against a real (\w+ [\d.]+)", intro)
    assert real == ["GenieACS 1.2.9"] and "run against a real GenieACS 1.2.9" in readme.split("## Tests")[1]
    named = re.search(r"wire dialects of (.*?)\s+\(", intro).group(1).replace(" and ", ", ").split(", ")
    dialects = [fn.__doc__.split()[0].rstrip(":") for _, fn in inspect.getmembers(_engine, inspect.isfunction)
                if fn.__doc__ and fn.__doc__.split()[0].rstrip(":").endswith("ACS")]
    assert sorted(named) == sorted(dialects)
    assert "No other ACS has been tried." in intro


def test_the_layout_names_every_module_and_only_those():
    readme = _read("README.md")
    layout = readme[readme.index("## Layout"):readme.index("## Tests")]
    first_column = "".join(line.split("|")[1] for line in layout.splitlines() if line.startswith("| `"))
    named = set(re.findall(r"`([\w/]+\.py)`", first_column))
    package = os.path.join(REPO, "tr069client")
    top = {n for n in os.listdir(package) if n.endswith(".py") and n not in ("__init__.py", "__main__.py")}
    assert top - named == set(), "modules missing from README's Layout"
    assert {n for n in named if "/" not in n} - top == set(), "README's Layout names modules that do not exist"
