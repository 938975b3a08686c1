"""diagnostics.runner: tests in worker threads, results through a pipe the loop selects on,
one test per kind, canceled tests never delivered."""

import os
import select
import subprocess
import sys
import threading

import pytest

from tr069client.diagnostics.common import Failure
from tr069client.diagnostics.runner import Runner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wait_results(runner, timeout=10.0):
    """What collect() gives once select() says the pipe is readable."""
    ready, _, _ = select.select(runner.fds(), [], [], timeout)
    assert ready, "no wake-up from the runner"
    return runner.collect()


def blocking(started, seen):
    def fn(inputs, cancel, **kwargs):
        seen.append((inputs, kwargs))
        started.set()
        cancel.wait(30)
        return {"DiagnosticsState": "Complete"}
    return fn


def test_a_result_wakes_the_loop_and_is_collected_once():
    runner = Runner({"IPPing": lambda inputs, cancel, **kw: {"DiagnosticsState": "Complete",
                                                            "Echo": inputs["Host"]}})
    assert runner.fds() == [] and runner.collect() == []
    runner.start("IPPing", {"Host": "h"})
    assert wait_results(runner) == [("IPPing", {"DiagnosticsState": "Complete", "Echo": "h"}, None)]
    assert runner.collect() == [] and runner.running() == []
    runner.close()


def test_failures_and_bugs_become_error_states_with_a_note():
    def fails(inputs, cancel, **kw):
        raise Failure("Error_CannotResolveHostName", "cannot resolve x")

    def bug(inputs, cancel, **kw):
        return {}["missing"]
    runner = Runner({"IPPing": fails, "TraceRoute": bug})
    runner.start("IPPing", {})
    runner.start("TraceRoute", {})
    got = []
    while len(got) < 2:
        got += wait_results(runner)
    got = dict((k, (r, n)) for k, r, n in got)
    assert got["IPPing"] == ({"DiagnosticsState": "Error_CannotResolveHostName"}, "cannot resolve x")
    assert got["TraceRoute"][0] == {"DiagnosticsState": "Error_Internal"}
    assert "KeyError" in got["TraceRoute"][1]
    runner.close()


def test_cancel_stops_the_worker_and_drops_its_result():
    started, seen = threading.Event(), []
    runner = Runner({"IPPing": blocking(started, seen)})
    runner.start("IPPing", {"Host": "a"}, device="eth9")
    assert started.wait(5)
    assert seen[0][1] == {"device": "eth9"}
    assert runner.running() == ["IPPing"]
    worker = [t for t in threading.enumerate() if t.name == "diagnostics-IPPing"][0]
    assert runner.cancel("IPPing") and not runner.cancel("IPPing")
    worker.join(5)
    assert not worker.is_alive()
    assert runner.collect() == [] and runner.running() == []
    runner.close()


def test_a_new_request_cancels_the_running_test_of_the_same_kind_only():
    started, seen = threading.Event(), []
    fast = {"DiagnosticsState": "Complete"}
    runner = Runner({"IPPing": blocking(started, seen), "NSLookupDiagnostics": lambda i, c, **k: fast})
    runner.start("IPPing", {"Host": "first"})
    assert started.wait(5)
    started.clear()
    runner.start("IPPing", {"Host": "second"})
    assert started.wait(5)
    assert [s[0]["Host"] for s in seen] == ["first", "second"]
    runner.start("NSLookupDiagnostics", {})
    assert wait_results(runner) == [("NSLookupDiagnostics", fast, None)]
    assert runner.running() == ["IPPing"]   # the second ping is still going
    runner.close()
    assert runner.fds() == []


def test_the_clock_is_passed_to_the_test():
    clock = object()
    runner = Runner({"IPPing": lambda i, c, **k: {"DiagnosticsState": "Complete",
                                                  "same": str(k["clock"] is clock)}}, clock=clock)
    runner.start("IPPing", {})
    assert wait_results(runner)[0][1]["same"] == "True"
    runner.close()


@pytest.mark.e2e
def test_threading_and_the_tests_load_only_when_a_test_starts():
    code = ("import sys; base = set(sys.modules)\n"
            "from tr069client import diagnostics\n"
            "from tr069client.diagnostics import rules, runner\n"
            "diagnostics.defaults()\n"
            "r = runner.Runner()\n"
            "new = set(sys.modules) - base\n"
            "print(sorted(m for m in new if not m.startswith('tr069client')))\n"
            "print(sorted(m for m in new if m.startswith('tr069client.diagnostics.')))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                         universal_newlines=True, check=True).stdout.splitlines()
    assert "threading" not in out[0] and "subprocess" not in out[0] and "http" not in out[0]
    assert eval(out[1]) == ["tr069client.diagnostics.common", "tr069client.diagnostics.rules",
                            "tr069client.diagnostics.runner"]
