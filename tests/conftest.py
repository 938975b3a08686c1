"""Shared pytest fixtures. One section per concern; add new ones in their own section."""

import os
import sys
import warnings

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# tools/ (lab_acs) and tests/ (cwmp_schema) are plain folders, not packages.
for _path in (os.path.join(REPO, "tools"), os.path.join(REPO, "tests")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import _secrets  # noqa: E402
import cwmp_schema  # noqa: E402
from lab_acs import LabAcs  # noqa: E402

_secrets.record()


# ---------------------------------------------------------------- markers

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e: process-level (starts the daemon, a tool or another Python); "
                   "`pytest -m \"not e2e\"` is the fast subset")


# ---------------------------------------------------------------- CWMP schema

@pytest.fixture(scope="session")
def schema_validate():
    """cwmp_schema.validate: raises AssertionError listing a message's problems."""
    return cwmp_schema.validate


# ---------------------------------------------------------------- lab ACS

def check_lab_acs(acs):
    """Fails unless every CPE message is schema-valid and the ACS saw no problem.
    A test that provokes problems on purpose takes them with acs.take_problems()."""
    unique = list(dict.fromkeys(acs.messages))
    problems, schema_used = cwmp_schema.check_all(unique)
    problems += ["lab ACS: " + p for p in acs.problems]
    if problems:
        pytest.fail("CPE misbehaved towards the lab ACS:\n  - %s\ntranscript:\n%s" % (
            "\n  - ".join(problems), acs.transcript()), pytrace=False)
    if not schema_used:
        warnings.warn("CWMP schema validation skipped: set %s" % cwmp_schema.ENV_VAR)


@pytest.fixture
def make_lab_acs():
    """Factory: make_lab_acs(**LabAcs options) -> a started LabAcs on 127.0.0.1, port 0,
    stopped and checked (check_lab_acs) at teardown."""
    started = []

    def make(**options):
        options.setdefault("host", "127.0.0.1")
        options.setdefault("port", 0)
        acs = LabAcs(**options).start()
        started.append(acs)
        return acs

    yield make
    for acs in started:
        acs.stop()
    for acs in started:
        check_lab_acs(acs)


@pytest.fixture
def lab_acs(make_lab_acs):
    """A started LabAcs with default options (no auth, session cookie, 204 at the end)."""
    return make_lab_acs()


# ---------------------------------------------------------------- the daemon's log

@pytest.fixture
def logged(monkeypatch):
    """What tr069client.log writes at info level and above, as a StringIO."""
    import io
    from tr069client import log
    buf = io.StringIO()
    monkeypatch.setattr(log, "_stream", buf)
    monkeypatch.setattr(log, "_syslog", None)
    monkeypatch.setattr(log, "_level", log.INFO)
    return buf


# ---------------------------------------------------------------- no password in any log line

def pytest_sessionfinish(session, exitstatus):
    """Fail the run if a log line of any test holds a password the tests use (see _secrets.py)."""
    lines = _secrets.all_lines()
    found = _secrets.leaks(lines)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if found:
        if reporter is not None:
            reporter.write_line("\n%d log line(s) of this run hold a password; the first:" % len(found), red=True)
            for password, line in found[:10]:
                reporter.write_line("  %r in: %s" % (password, line[:300]))
        session.exitstatus = 1
    elif reporter is not None and lines:
        reporter.write_line("\nno password in the %d log lines of this run (%d passwords looked for)"
                            % (len(lines), len(_secrets.ALL)))
