"""tools/bench.py runs in its quick mode and prints its figures; no assertion on any of them."""

import json
import os
import subprocess
import sys

import pytest

# Process-level: the fast subset (pytest -m "not e2e") leaves these out.
pytestmark = pytest.mark.e2e

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "tools", "bench.py")


def _bench(*args):
    r = subprocess.run([sys.executable, BENCH, "--quick"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    return r.stdout.decode()


def test_quick_bench_prints_its_table():
    out = _bench()
    for line in ("Peak RSS (VmHWM at exit)", "floor: the daemon's", "lean floor (STYLE.md",
                 "daemon, real model, GPV Device.", "daemon, synthetic model, GPV Device.",
                 "Start to first Inform at the ACS:", "CPU of one session", "real model of this machine",
                 "Targets", "daemon at 1,000 params <= floor + 4 MB"):
        assert line in out, out


def test_quick_bench_json_has_every_figure():
    res = json.loads(_bench("--json"))
    assert res["quick"] is True
    assert res["floor_kb"] > 0 and res["lean_kb"] > 0
    assert res["modules"] and not [m for m in res["modules"] if m.startswith("tr069client")]
    assert "http.client" in res["modules"] and "ssl" not in res["modules"]
    daemon = res["daemon"][0]
    assert daemon["peak_kb"] > 0 and daemon["first_inform"] > 0 and daemon["params"] > 50
    sizes = {e["size"]: e for e in res["engine"]}
    assert sorted(sizes) == [100, 1000]
    # The synthetic table brings the session to about the asked number of parameters.
    assert 900 <= sizes[1000]["params"] <= 1100
    assert res["daemon_sizes"][0]["params"] == sizes[1000]["params"]  # the daemon saw the same model
    for e in res["engine"] + [res["default_model"]]:
        assert e["first"] > 0 and e["best"] > 0 and e["peak_kb"] > 0 and e["bytes"] > 0
    assert set(res["targets"]) >= {"rss_over_floor_mb", "rss_ok", "cpu_missed"}
