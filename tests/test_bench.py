"""tools/bench.py runs in its quick mode and prints every row of issue 12's table; no
assertion on any figure."""

import json
import os
import subprocess
import sys

import pytest

# Process-level: the fast subset (pytest -m "not e2e") leaves these out.
pytestmark = pytest.mark.e2e

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "tools", "bench.py")
ROWS = ("http session, 1,000 parameters, x86-64", "https, --ca-file", "https, the system's CA bundle",
        "CPU of one 10,000-name GetParameterValues exchange", "process start to first Inform sent, x86",
        "start to first Inform, mipsel, shipped form, provisioned device",
        "flash cost of what an integrator ships, xz -9", "idle daemon wake-ups",
        "100 MiB download diagnostic: throughput vs curl, daemon peak RSS during vs idle")


def _bench(*args):
    r = subprocess.run([sys.executable, BENCH, "--quick"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    return r.stdout.decode()


def test_quick_bench_prints_every_row_with_its_goal():
    out = _bench()
    for label in ROWS:
        line = [ln for ln in out.splitlines() if ln.startswith(label)]
        assert line, (label, out)
        assert line[0].rstrip().endswith(("PASS", "FAIL", "-")), line
    assert "ship forms:" in out and "folder bundle (build_bundle.py)" in out


def test_quick_bench_json_has_floors_and_verdicts():
    res = json.loads(_bench("--json"))
    assert res["quick"] is True
    rows = {r["key"]: r for r in res["rows"]}
    http = rows["memory-http"]
    assert 5 < http["floor"] < http["value"] < 100
    assert isinstance(http["pass"], bool)
    # The device the session runs on holds about 1,000 parameters, and the daemon saw them.
    assert 990 <= res["device"]["params"] <= 1020 and res["device"]["gpn"] > res["device"]["params"]
    assert res["device"]["provisioned_stored"] >= 990
    cpu = {(s["size"], s["path"]): s for s in res["cpu"]}
    assert cpu[(10000, False)]["values"] == 10000 and cpu[(1000, False)]["values"] == 1000
    assert rows["cpu"]["value"] > 0 and rows["start-x86"]["value"] > 0
    assert rows["flash"]["value"] > 0 and res["ship"][0]["xz9"] < res["ship"][0]["bytes"]


def test_the_download_diagnostic_row_runs_the_real_daemon():
    res = json.loads(_bench("--diag-only", "--diag-mib", "4", "--json"))
    row = [r for r in res["rows"] if r["key"] == "diag"][0]
    assert row["label"].startswith("4 MiB download diagnostic") and isinstance(row["pass"], bool)
    run = res["diag"]["runs"][0]
    assert run["results"]["DiagnosticsState"] == "Complete"
    assert int(run["results"]["TestBytesReceived"]) >= 4 * 1024 * 1024
    assert run["idle_kb"] > 0 and run["peak_kb"] > 0 and run["reset"] is True


def test_bench_bounds_measures_the_bundle_with_its_never_run_functions_emptied():
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "bench_bounds.py"), "--runs", "1", "--https",
                        "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    res = json.loads(r.stdout.decode())
    assert [t["key"] for t in res["targets"]] == ["http", "https-ca"]
    for t in res["targets"]:
        # The session runs most of the package's functions, not all: some were emptied, and the
        # emptied bundle still ran the whole session (bench_session checks it ended cleanly).
        assert t["functions"]["run"] > 300 and t["functions"]["emptied"] > 50, t
        assert sorted(t["peaks"]) == ["session/emptied", "session/shipped", "start/emptied", "start/shipped"]
        assert all(t["floor"] < v < 100 for v in t["peaks"].values()), t
