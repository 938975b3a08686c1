"""Fleet mode end to end against the lab ACS: a small fleet completes its sessions with no
problem, connection requests reach the right device, a download is fetched and counted, and
Reboot, FactoryReset and a second run give the events the spec asks for."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from lab_acs import download, factory_reset, reboot, set_parameter_values, upload
from tr069client import outcomes
from tr069client.fleet import engine
from tr069client.fleet.runner import Fleet, shard_range
from tr069client.fleet.template import DEFAULT, Template

from _httpd import free_port
from conftest import REPO

MS = "Device.ManagementServer."


def make_fleet(acs, count=50, credentials=None, **options):
    settings = {MS + "URL": acs.url}
    if credentials:
        settings.update({MS + "Username": credentials[0], MS + "Password": credentials[1]})
    template = Template(DEFAULT, settings)
    options.setdefault("reboot_time", 0.05)
    options.setdefault("cr_port", 0)
    return Fleet(template, acs_url=acs.url, count=count, cr_address="127.0.0.1", **options).start()


def step_until(fleet, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out; %s" % json.dumps(fleet.summary())
        fleet.step(0.02)


def connection_request(fleet, acs, d, username=None, password=None, url=None):
    """The lab ACS's connection request to device `d` (its own credentials and URL unless
    given), while the fleet serves; the HTTP status."""
    serial = engine.value(d.dev, "Device.DeviceInfo.SerialNumber")
    out = []
    t = threading.Thread(target=lambda: out.append(acs.connection_request(
        url or engine.value(d.dev, MS + "ConnectionRequestURL"), username or serial, password or "cr-" + serial)))
    t.start()
    step_until(fleet, lambda: not t.is_alive())
    return out[0]


def informs_of(acs, serial):
    return [i for i in acs.informs if i["device_id"].get("SerialNumber") == serial]


def events(inform):
    return sorted(code for code, _ in inform["events"])


@pytest.fixture
def fleet_run():
    made = []

    def run(acs, count=50, **options):
        f = make_fleet(acs, count, **options)
        made.append(f)
        step_until(f, lambda: f.stats.informed == len(f.devices))
        return f
    yield run
    for f in made:
        f.close()


def test_fifty_devices_inform_once_each_with_no_problem(lab_acs, fleet_run):
    f = fleet_run(lab_acs, 50, max_sessions=20)
    serials = set(i["device_id"]["SerialNumber"] for i in lab_acs.informs)
    assert serials == set("FLEET%07d" % i for i in range(50))
    assert all(events(i) == ["0 BOOTSTRAP", "1 BOOT"] for i in lab_acs.informs)
    s = f.summary()
    assert s["sessions"]["ok"] == 50 and s["sessions"]["failed"] == 0 and s["informed"] == 50
    # Each device its own connection-request path on the fleet's one port.
    urls = [engine.value(d.dev, MS + "ConnectionRequestURL") for d in f.devices]
    assert len(set(urls)) == 50 and len(set(u.rsplit("/", 2)[0] for u in urls)) == 1
    # The whole view of the model lives only during a session.
    assert not any(d.dev.model._viewing for d in f.devices)


def test_connection_requests_reach_the_right_device(lab_acs, fleet_run):
    f = fleet_run(lab_acs, 10)
    d3, d4 = f.devices[3], f.devices[4]
    assert connection_request(f, lab_acs, d4, "FLEET0000003", "cr-FLEET0000003") == 401
    assert connection_request(f, lab_acs, d3) == 200
    step_until(f, lambda: len(informs_of(lab_acs, "FLEET0000003")) == 2)
    assert events(informs_of(lab_acs, "FLEET0000003")[1]) == ["6 CONNECTION REQUEST"]
    assert len(informs_of(lab_acs, "FLEET0000004")) == 1
    unknown = engine.value(d3.dev, MS + "ConnectionRequestURL").rsplit("/", 1)[0] + "/000000000000"
    assert connection_request(f, lab_acs, d3, url=unknown) == 404
    assert f.summary()["cr-accepted"] == 1 and f.summary()["cr-refused"] == 1


def test_a_firmware_download_is_fetched_counted_and_reported_after_the_boot(lab_acs, fleet_run):
    f = fleet_run(lab_acs, 5)
    image = os.urandom(150000)
    url = lab_acs.add_file("router-2.0.bin", image)
    lab_acs.queue_session([download("fw1", "1 Firmware Upgrade Image", url, file_size=len(image))])
    d = f.devices[2]
    assert connection_request(f, lab_acs, d) == 200
    step_until(f, lambda: any(m == "TransferComplete" for m, _ in lab_acs.requests))
    step_until(f, lambda: not d.busy)
    last = informs_of(lab_acs, "FLEET0000002")[-1]
    # SoftwareVersion has forced active notification: the new image's version is a change.
    assert events(last) == ["1 BOOT", "4 VALUE CHANGE", "7 TRANSFER COMPLETE", "M Download"]
    assert last["parameters"]["Device.DeviceInfo.SoftwareVersion"] == "router-2.0"
    done = [p for m, p in lab_acs.requests if m == "TransferComplete"]
    assert done == [dict(done[0], CommandKey="fw1", FaultCode=0)]
    s = f.summary()
    assert (s["downloads"], s["download-bytes"], s["reboots"]) == (1, len(image), 1)
    assert [r["status"] for r in lab_acs.file_requests] == [200]


def test_a_rebooting_device_does_not_answer_connection_requests(lab_acs, fleet_run):
    f = fleet_run(lab_acs, 3, reboot_time=30)
    lab_acs.queue_session([reboot("r9")])
    d = f.devices[1]
    assert connection_request(f, lab_acs, d) == 200
    step_until(f, lambda: d.down)
    out = []

    def get():
        try:
            out.append(connection_request_raw(engine.value(d.dev, MS + "ConnectionRequestURL")))
        except Exception as e:  # noqa: B902 - what the ACS would see
            out.append(type(e).__name__)
    t = threading.Thread(target=get)
    t.start()
    step_until(f, lambda: not t.is_alive())
    assert out == ["RemoteDisconnected"]     # no answer at all, as from a device that is off


def connection_request_raw(url):
    import http.client
    from urllib.parse import urlsplit
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request("GET", u.path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_diagnostic_runs_and_completes_between_sessions(lab_acs, fleet_run):
    """An NSLookup the ACS requests runs (the daemon's runner, for real) and its results come
    back in an 8 DIAGNOSTICS COMPLETE session, as on the daemon."""
    f = fleet_run(lab_acs, 2)
    ns = "Device.DNS.Diagnostics.NSLookupDiagnostics."
    lab_acs.queue_session([set_parameter_values([
        (ns + "HostName", "localhost"), (ns + "Timeout", "2000"),
        (ns + "DiagnosticsState", "Requested")], "d1")])
    d = f.devices[1]
    assert connection_request(f, lab_acs, d) == 200
    step_until(f, lambda: len(informs_of(lab_acs, "FLEET0000001")) == 3)
    assert events(informs_of(lab_acs, "FLEET0000001")[2]) == ["8 DIAGNOSTICS COMPLETE"]
    assert engine.value(d.dev, ns + "DiagnosticsState") != "Requested"


def test_reboot_and_factory_reset_are_simulated(lab_acs, fleet_run):
    f = fleet_run(lab_acs, 8)
    lab_acs.queue_session([reboot("r1")])
    assert connection_request(f, lab_acs, f.devices[5]) == 200
    step_until(f, lambda: len(informs_of(lab_acs, "FLEET0000005")) == 3)
    assert events(informs_of(lab_acs, "FLEET0000005")[2]) == ["1 BOOT", "M Reboot"]
    assert informs_of(lab_acs, "FLEET0000005")[2]["events"][1] == ("M Reboot", "r1")
    lab_acs.queue_session([factory_reset()])
    assert connection_request(f, lab_acs, f.devices[6]) == 200
    step_until(f, lambda: len(informs_of(lab_acs, "FLEET0000006")) == 3)
    assert events(informs_of(lab_acs, "FLEET0000006")[2]) == ["0 BOOTSTRAP", "1 BOOT"]
    assert f.summary()["factory-resets"] == 1 and f.summary()["reboots"] == 2
    # Stopped in the middle of that session, the fleet would cut it short (the lab ACS says so).
    step_until(f, lambda: all(s.ended for s in lab_acs.sessions))


def test_a_second_run_is_a_fleet_of_known_devices(lab_acs, tmp_path):
    port = free_port()
    for run in (1, 2):
        f = make_fleet(lab_acs, 6, state_dir=str(tmp_path), once=True, cr_port=port)
        summary = f.run(signals=False)
        assert summary["informed"] == 6 and summary["sessions"]["failed"] == 0
    assert os.listdir(str(tmp_path)) == ["fleet.json"]
    assert [events(i) for i in lab_acs.informs[6:]] == [["1 BOOT"]] * 6
    assert all(events(i) == ["0 BOOTSTRAP", "1 BOOT"] for i in lab_acs.informs[:6])
    # On another port each device's ConnectionRequestURL changes: the ACS hears of it.
    summary = make_fleet(lab_acs, 6, state_dir=str(tmp_path), once=True).run(signals=False)
    assert summary["informed"] == 6
    assert [events(i) for i in lab_acs.informs[12:]] == [["1 BOOT", "4 VALUE CHANGE"]] * 6
    assert all(MS + "ConnectionRequestURL" in i["parameters"] for i in lab_acs.informs[12:])


def test_an_upload_sends_a_generated_file(lab_acs, fleet_run):
    f = fleet_run(lab_acs, 3)
    lab_acs.queue_session([upload("up1", "1 Vendor Configuration File", lab_acs.upload_url("cfg"))])
    assert connection_request(f, lab_acs, f.devices[1]) == 200
    step_until(f, lambda: any(m == "TransferComplete" for m, _ in lab_acs.requests))
    assert b"Device.DeviceInfo.SerialNumber=FLEET0000001" in lab_acs.uploads["cfg"]
    assert [p["FaultCode"] for m, p in lab_acs.requests if m == "TransferComplete"] == [0]
    assert f.summary()["uploads"] == 1 and f.summary()["upload-bytes"] == len(lab_acs.uploads["cfg"])


def test_https_and_digest_towards_the_acs(make_lab_acs, tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    pem, ca_pem = str(tmp_path / "server.pem"), str(tmp_path / "ca.pem")
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(pem)
    ca.cert_pem.write_to_path(ca_pem)
    acs = make_lab_acs(tls=(pem, pem), auth="digest")
    f = make_fleet(acs, 5, credentials=("acs-user", "acs-pass"), ca_file=ca_pem, once=True)
    summary = f.run(signals=False)
    assert summary["informed"] == 5 and summary["sessions"]["failed"] == 0
    assert acs.auth_challenges == 5 and acs.auth_failures == 0


def test_failures_are_counted_by_cause_and_retried_with_backoff():
    dead = "http://127.0.0.1:%d/acs" % free_port()
    template = Template(DEFAULT, {MS + "URL": dead})
    f = Fleet(template, acs_url=dead, count=4, cr_port=0, cr_address="127.0.0.1", duration=0.5).start()
    summary = f.run(signals=False)
    # CWMPRetryMinimumWaitInterval is 5 s: one attempt each within half a second.
    assert summary["sessions"]["failures-by-cause"] == {"connect": 4} and summary["informed"] == 0
    assert list(summary["sessions"]["errors"]) == ["ACS unreachable: connection refused (%s)" % dead[7:-4]]
    assert all(outcomes.retry_count(d.store) == 1 for d in f.devices)


def test_shards_split_the_serial_space():
    slices = [shard_range(1000003, k, 7) for k in range(7)]
    assert slices[0][0] == 0 and slices[-1][1] == 1000003
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:]))


def _cli(*args, timeout=60):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "tr069client"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=timeout)


@pytest.mark.e2e
def test_command_line_runs_a_fleet_and_prints_a_summary(lab_acs):
    r = _cli("fleet", "--acs-url", lab_acs.url, "--count", "20", "--cr-port", "0", "--once",
             "--duration", "30", "--shard", "1/2", "--serial-pattern", "LAB{i:03}")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["devices"], summary["informed"], summary["first-index"]) == (10, 10, 10)
    assert "informed 10/10" in r.stderr
    assert sorted(i["device_id"]["SerialNumber"] for i in lab_acs.informs) == ["LAB%03d" % i for i in range(10, 20)]


@pytest.mark.e2e
def test_command_line_errors_are_one_line(tmp_path):
    r = _cli("fleet", "--count", "3")
    assert r.returncode == 2 and r.stderr == "tr069client fleet: --acs-url is required\n"
    r = _cli("fleet", "--acs-url", "http://127.0.0.1:1/", "--shard", "2/2")
    assert r.returncode == 2 and "0 <= K < N" in r.stderr
    (tmp_path / "t.json").write_text('{"values": {"Device.Nope": "1"}}')
    r = _cli("fleet", "--acs-url", "http://127.0.0.1:1/", "--template", str(tmp_path / "t.json"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Device.Nope" in r.stderr
    r = _cli("fleet", "--print-template")
    assert json.loads(r.stdout)["values"]["Device.DeviceInfo.SerialNumber"] == "FLEET{i:07}"
    # The ACS URL is judged as the daemon's acs-url setting is: one line, no traceback.
    for url in ("http://[::1", "http://acs:99999/", "http://a b/", "http://u:p@acs/"):
        r = _cli("fleet", "--acs-url", url, "--count", "1")
        assert r.returncode == 2 and r.stderr.startswith("tr069client fleet: --acs-url: ") \
            and r.stderr.count("\n") == 1, r.stderr


_RUN_AND_LIST = """
import json, os, signal, sys, threading, time
from tr069client import cli
state = os.path.join(sys.argv[1], "state.json")
def report():
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open(state) as f:
                if json.load(f)["state"].get("last_success"):
                    break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    print(sorted(m for m in sys.modules if m.startswith("tr069client.fleet")), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=report, daemon=True).start()
sys.exit(cli.main(["run", "--state-dir", sys.argv[1], "--acs-url", sys.argv[2], "--cr-port", "0",
                   "--config", sys.argv[3]]))
"""


@pytest.mark.e2e
def test_the_daemon_loads_nothing_of_fleet_mode(lab_acs, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text('{"platform-providers": false}')
    r = subprocess.run([sys.executable, "-c", _RUN_AND_LIST, str(tmp_path), lab_acs.url, str(cfg)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                       env=dict(os.environ, PYTHONPATH=REPO), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]" and len(lab_acs.informs) == 1   # after a whole session
    assert "fleet" in _cli("--help").stdout
