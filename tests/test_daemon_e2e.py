"""The real daemon (`python -m tr069client run`) against the lab ACS on 127.0.0.1: schedule,
retries, connection requests, notifications, persistence, control and logging.

Waits are bounded polls; time windows are correctness checks on the schedule (a lower bound
from the spec plus a tolerance above), never speed benchmarks.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import _secrets
from _daemon import MS, DaemonProc, Held, digest_connection_request, end_before, events_of, informs, instrument, \
    late_answer_lost, wait_informs, wait_until
from _httpd import free_port
from lab_acs import download, get_parameter_values, raw, schedule_inform, set_parameter_attributes, \
    set_parameter_values
from listener_attack import Flood, Slowloris, legit_requests, raise_fd_limit

# Process-level: the fast subset (pytest -m "not e2e") leaves these out.
pytestmark = pytest.mark.e2e

CR = {"connection-request-username": "cr-user", "connection-request-password": _secrets.CR_OTHER}
SLACK = 1.5  # seconds a wait may exceed its window: process start-up, a loaded CI machine


@pytest.fixture
def acs(make_lab_acs):
    return instrument(make_lab_acs())


@pytest.fixture
def daemon(tmp_path):
    """Factory: daemon(acs, **DaemonProc options) -> a DaemonProc, not started. At teardown
    each is stopped with SIGTERM (exit 0 expected) and its log must show no internal error."""
    made = []

    def make(acs=None, name=None, **options):
        folder = tmp_path / (name or "d%d" % len(made))
        folder.mkdir(exist_ok=True)
        d = DaemonProc(folder, acs, **options)
        made.append(d)
        return d

    yield make
    problems = []
    for d in made:
        if d.running():
            code = d.stop()
            if code != 0:
                problems.append("daemon exited with %s on SIGTERM" % code)
        log = d.log()
        if "Traceback" in log or "internal error" in log:
            problems.append("internal error in the daemon log:\n" + log)
    assert not problems, "\n".join(problems)


def quiet(acs, sessions, seconds=1.0):
    """True if no session beyond `sessions` starts within `seconds` (a bounded negative check)."""
    time.sleep(seconds)
    return len(informs(acs)) == sessions


def seconds_until(iso):
    """Seconds from now to a `status` time such as 2026-11-25T10:00:00Z."""
    import calendar
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")) - time.time()


def cr_url(acs):
    return acs.informs[-1]["parameters"][MS + "ConnectionRequestURL"]


# ---------------------------------------------------------------- schedule and retry

def test_first_contact_then_periodic_sessions_at_the_interval(acs, daemon):
    d = daemon(acs, args=["--periodic-inform-interval", "2"]).start()
    got = wait_informs(acs, 3, timeout=15)
    acs.wait_sessions(3)
    assert sorted(events_of(got[0])) == ["0 BOOTSTRAP", "1 BOOT"]
    for prev, post in zip(got, got[1:3]):
        assert events_of(post) == ["2 PERIODIC"]
        # The timer restarts when a session ends: the next Inform comes one interval later.
        wait = post.time - end_before(acs, post.time)
        assert 2 - 0.1 <= wait <= 2 + SLACK, wait
    st = d.status()
    assert st["status"] == "running" and st["retry-count"] == 0 and st["last-session-error"] == ""
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", st["last-successful-session"])
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", st["next-session"])


def test_retry_waits_fall_in_the_spec_windows_and_inform_carries_retry_count(acs, daemon):
    d = daemon(acs)
    d.set(MS + "CWMPRetryMinimumWaitInterval=1")   # windows [1, 2] then [2, 4] (k = 2000)
    acs.refusals.extend([(503, [])] * 2)
    d.start()
    got = wait_informs(acs, 3, timeout=15)
    acs.wait_sessions(1)
    assert [p.refused for p in got] == [True, True, False]
    assert [p.retry_count for p in got] == [0, 1, 2]
    for n, (low, high) in enumerate([(1, 2), (2, 4)]):
        wait = got[n + 1].time - got[n].time
        assert low - 0.05 <= wait <= high + SLACK, (n + 1, wait)
    # The events of the failed attempts were kept for the session that worked.
    assert sorted(events_of(got[2])) == ["0 BOOTSTRAP", "1 BOOT"]
    st = d.status()
    assert st["retry-count"] == 0 and st["last-session-error"] == ""
    d.cli("inform")
    assert wait_informs(acs, 4)[3].retry_count == 0


def test_503_retry_after_is_honoured(acs, daemon):
    d = daemon(acs)
    d.set(MS + "CWMPRetryMinimumWaitInterval=1")   # the spec's wait alone would be 1 to 2 s
    acs.refusals.append((503, [("Retry-After", "3")]))
    d.start()
    wait_informs(acs, 1)
    st = wait_until(lambda: d.status()["retry-count"] == 1 and d.status())
    assert "ACS is overloaded (HTTP 503)" in st["last-session-error"]
    assert "3 s" in st["last-session-error"]
    got = wait_informs(acs, 2)
    wait = got[1].time - got[0].time
    assert 3 - 0.05 <= wait <= 3 + SLACK, wait
    assert got[1].retry_count == 1


def test_schedule_inform_gives_scheduled_session_after_the_delay_even_across_sigkill(acs, daemon):
    d = daemon(acs, cr_port=free_port())
    acs.queue(schedule_inform(3, "sched-1"))
    d.start()
    acs.wait_sessions(1)
    end = end_before(acs, time.monotonic() + 1)
    d.status()   # the daemon has saved the session
    d.kill()  # between sessions: the scheduled Inform is on disk
    d.start()
    got = wait_informs(acs, 2, timeout=10)
    assert events_of(got[1]) == ["3 SCHEDULED", "M ScheduleInform"]
    assert got[1].events[1] == ("M ScheduleInform", "sched-1")
    wait = got[1].time - end
    assert 3 - 0.1 <= wait <= 3 + SLACK + 1, wait   # + the restart
    acs.wait_sessions(2)
    assert quiet(acs, 2)


# ---------------------------------------------------------------- connection requests

def test_connection_request_needs_digest_and_starts_a_session(acs, daemon):
    d = daemon(acs, config=CR).start()
    acs.wait_sessions(1)
    url = cr_url(acs)
    assert url.startswith("http://127.0.0.1:") and url == d.get(MS + "ConnectionRequestURL")
    assert acs.connection_request(url) == 401                          # no credentials
    assert acs.connection_request(url, "cr-user", _secrets.WRONG) == 401      # wrong password
    assert acs.connection_request(url.rsplit("/", 1)[0] + "/guess", "cr-user", _secrets.CR_OTHER) == 404
    assert quiet(acs, 1)
    assert acs.connection_request(url, "cr-user", _secrets.CR_OTHER) == 200
    got = wait_informs(acs, 2, timeout=5)
    assert events_of(got[1]) == ["6 CONNECTION REQUEST"]
    acs.wait_sessions(2)
    assert quiet(acs, 2)


def test_connection_request_without_configured_credentials_is_refused(acs, daemon):
    d = daemon(acs).start()
    acs.wait_sessions(1)
    assert acs.connection_request(cr_url(acs), "", "") == 401
    assert acs.connection_request(cr_url(acs), "any", "thing") == 401
    d.wait_log("ConnectionRequestUsername/Password are not set")
    assert quiet(acs, 1)
    assert d.status()["connection-requests"].endswith(
        "; refusing all: ConnectionRequestUsername/Password are not set")


def test_slow_clients_and_a_flood_leave_the_listener_responsive_and_sessions_bounded(acs, daemon):
    d = daemon(acs, config=CR).start()
    acs.wait_sessions(1)
    url = cr_url(acs)
    port = int(url.split(":")[2].split("/")[0])
    slow = []
    try:
        for _ in range(100):   # more than the listener's client cap; each sends half a request
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(s)
        assert acs.connection_request(url, "cr-user", _secrets.CR_OTHER) == 200
        assert events_of(wait_informs(acs, 2, timeout=5)[1]) == ["6 CONNECTION REQUEST"]
        assert d.status()["status"] == "running"   # the control socket answers too
    finally:
        for s in slow:
            s.close()
    acs.wait_sessions(2)
    statuses = []
    threads = [threading.Thread(target=lambda: statuses.append(acs.connection_request(url, "cr-user", _secrets.CR_OTHER)))
               for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # TR-069 3.2.2: every one is answered; those that come while a session they asked for is
    # still to come join it.
    assert statuses == [200] * 30
    before = 2
    wait_until(lambda: len(acs.sessions) > before and all(s.ended for s in acs.sessions) and quiet(acs, len(
        informs(acs)), 0.5), 15)
    sessions = len(informs(acs)) - before
    assert 1 <= sessions < 30, sessions


def test_sixty_connection_requests_in_a_minute_through_a_flood_each_lead_to_a_session(acs, daemon):
    """Issue 9.1: the rate limit counted unauthenticated GETs and challenges, so GenieACS was
    told 503 ("Device is offline") after some ten requests a minute."""
    d = daemon(acs, config=CR).start()
    acs.wait_sessions(1)
    url = cr_url(acs)
    flood = Flood(int(url.split(":")[2].split("/")[0]), "/" + url.split("/", 3)[3], workers=2, bodies=False,
                  kinds=("no-credentials", "wrong-password")).start()
    try:
        results = legit_requests(acs, url, 60)
    finally:
        flood.stop()
    assert [r[0] for r in results] == [200] * 60
    assert all(r[2] for r in results)   # each led to a session
    assert flood.sent > 60 and all(status in (401, 503) for (_, status) in flood.answers), flood.answers
    assert events_of(informs(acs)[-1]) == ["6 CONNECTION REQUEST"]
    assert d.status()["last-session-error"] == ""


def test_legitimate_requests_get_through_slowloris_floods_and_garbage(acs, daemon):
    """Issue 11.4 in small: under slowloris, floods, big headers, 10 MB bodies and garbage
    at once, each GenieACS-style request is answered and leads to a session."""
    d = daemon(acs, config=CR).start()
    acs.wait_sessions(1)
    url = cr_url(acs)
    port, path = int(url.split(":")[2].split("/")[0]), "/" + url.split("/", 3)[3]
    raise_fd_limit()
    slow = Slowloris(port, 50, path).start()
    flood = Flood(port, path, workers=2).start()
    try:
        wait_until(lambda: slow.opened >= 50 and flood.sent >= 20, 10)
        results = legit_requests(acs, url, 10)
    finally:
        slow.stop()
        flood.stop()
    assert [r[0] for r in results] == [200] * 10
    assert all(r[2] for r in results)
    answers = {status for (_, status) in flood.answers}
    assert 431 in answers and 400 in answers, flood.answers
    # Once the attack stops, all is as before.
    assert legit_requests(acs, url, 1)[0][::2] == (200, True)
    assert d.status()["connection-requests"].startswith("listening on ")


def test_connection_request_during_a_session_gives_exactly_one_more(acs, daemon):
    d = daemon(acs, config=CR).start()
    acs.wait_sessions(1)
    url = cr_url(acs)
    results = []
    busy = [0]

    def kick(a):
        threading.Thread(target=lambda: results.append(a.connection_request(url, "cr-user", _secrets.CR_OTHER))).start()
        return get_parameter_values(MS + "PeriodicInformInterval")

    def keep_busy(a):
        # Keep the session going (the daemon serves the listener between exchanges) until the
        # ACS's connection request is answered.
        if results or busy[0] > 300:
            return None
        busy[0] += 1
        time.sleep(0.02)
        return [get_parameter_values(MS + "PeriodicInformInterval"), keep_busy]

    acs.queue(kick, keep_busy)
    d.cli("inform")
    acs.wait_sessions(3, timeout=15)
    assert results == [200]
    got = informs(acs)
    assert events_of(got[1]) == ["6 CONNECTION REQUEST"]   # the operator's `inform`
    assert events_of(got[2]) == ["6 CONNECTION REQUEST"]   # the request made during it
    assert quiet(acs, 3)


@pytest.mark.parametrize("style", ["delay", "drip", "drip over https"])
def test_a_slow_acs_leaves_the_device_reachable(make_lab_acs, daemon, request, style):
    from tr069client import control
    if style.endswith("https"):
        pki = request.getfixturevalue("pki")
        acs = instrument(make_lab_acs(tls=(pki["cert"], pki["key"])))
        d = daemon(acs, config=dict(CR, **{"ca-file": pki["ca"]})).start()
    else:
        acs = instrument(make_lab_acs())
        d = daemon(acs, config=CR).start()
    acs.wait_sessions(1)
    url = cr_url(acs)
    held = Held(acs, style.split()[0])
    try:
        d.cli("inform")
        assert held.holding.wait(10)
        # The daemon waits on the ACS: the control socket and the listener still answer.
        sock = os.path.join(d.state_dir, "control.sock")
        replies = [control.request(sock, {"cmd": "status"}, timeout=10) for _ in range(3)]
        assert all(r["ok"] and r["status"]["session-in-progress"].startswith("since ") for r in replies)
        assert digest_connection_request(url, "cr-user", _secrets.CR_OTHER) == 200
    finally:
        held.release()
    got = wait_informs(acs, 3, timeout=15)   # the request made during it: one more session
    assert events_of(got[2]) == ["6 CONNECTION REQUEST"]
    acs.wait_sessions(3)
    assert quiet(acs, 3)
    assert d.status()["session-in-progress"] == ""


def test_sigterm_while_the_acs_holds_its_answer_stops_the_daemon_at_once(acs, daemon):
    d = daemon(acs).start()
    acs.wait_sessions(1)
    held = Held(acs, "delay")
    try:
        d.cli("inform")
        assert held.holding.wait(10)
        assert d.stop(timeout=10) == 0   # well before the ACS's answer (60 s)
    finally:
        held.release()
    assert re.search(r"warning session failed \(6 CONNECTION REQUEST\): the daemon is stopping", d.log())
    late_answer_lost(acs, 2)


def test_a_whole_session_is_bounded_by_session_timeout(acs, daemon):
    d = daemon(acs, config={"session-timeout": 2}).start()
    acs.wait_sessions(1)
    held = Held(acs, "delay")
    try:
        d.cli("inform")
        err = wait_until(lambda: d.status()["last-session-error"], 15)
    finally:
        held.release()
    assert err == "session with the ACS took over 2 s (1 message sent); ended", err
    assert d.running()
    late_answer_lost(acs, 2)


# ---------------------------------------------------------------- notifications

def test_passive_rides_along_and_active_starts_a_throttled_value_change_session(acs, daemon):
    d = daemon(acs)
    acs.queue(set_parameter_attributes([(MS + "ConnectionRequestUsername", 2, None), (MS + "UpgradesManaged", 1, None)]),
              set_parameter_values([(MS + "DefaultActiveNotificationThrottle", "3", "xsd:unsignedInt")]))
    d.start()
    acs.wait_sessions(1)
    d.set(MS + "UpgradesManaged=true")          # passive: no session of its own
    assert quiet(acs, 1)
    d.cli("inform")
    got = wait_informs(acs, 2)
    acs.wait_sessions(2)
    assert "4 VALUE CHANGE" in events_of(got[1])
    assert acs.informs[1]["parameters"][MS + "UpgradesManaged"] == "true"
    d.set(MS + "ConnectionRequestUsername=stun1.example")   # active: a session of its own
    got = wait_informs(acs, 3, timeout=5)
    acs.wait_sessions(3)
    assert events_of(got[2]) == ["4 VALUE CHANGE"]
    assert acs.informs[2]["parameters"][MS + "ConnectionRequestUsername"] == "stun1.example"
    assert MS + "UpgradesManaged" not in acs.informs[2]["parameters"]   # already delivered
    end = end_before(acs, time.monotonic() + 1)
    d.set(MS + "ConnectionRequestUsername=stun2.example")   # within the throttle of the last one
    got = wait_informs(acs, 4, timeout=3 + SLACK + 2)
    wait = got[3].time - end
    assert 3 - 0.1 <= wait <= 3 + SLACK, wait
    acs.wait_sessions(4)
    assert acs.informs[3]["parameters"][MS + "ConnectionRequestUsername"] == "stun2.example"


# ---------------------------------------------------------------- persistence, boot, URL

def test_events_and_retry_count_survive_sigkill(acs, daemon):
    d = daemon(acs, cr_port=free_port())
    d.set(MS + "CWMPRetryMinimumWaitInterval=1")
    acs.refusals.append((503, [("Retry-After", "600")]))
    d.start()
    wait_informs(acs, 1)
    wait_until(lambda: d.state()["state"].get("retry_count") == 1)
    d.kill()
    state = d.state()   # still valid JSON after the kill
    assert sorted(c for c, _ in state["state"]["events"]) == ["0 BOOTSTRAP", "1 BOOT"]
    d.start()           # the same boot: the events, the count and the backoff are kept
    assert quiet(acs, 1, seconds=1.5)
    left = seconds_until(d.status()["next-session"])
    assert 500 < left <= 600, left
    d.cli("inform")     # the operator may still ask for a session now
    got = wait_informs(acs, 2)
    assert sorted(events_of(got[1])) == ["0 BOOTSTRAP", "1 BOOT"]
    assert got[1].retry_count == 1
    acs.wait_sessions(1)


def test_boot_versus_bootstrap_across_restart_reboot_and_reset_config(acs, daemon):
    d = daemon(acs, cr_port=free_port())
    d.start()
    acs.wait_sessions(1)
    assert sorted(events_of(informs(acs)[0])) == ["0 BOOTSTRAP", "1 BOOT"]
    assert d.stop() == 0
    d.start()                       # a daemon restart is no boot: nothing to say
    assert quiet(acs, 1)
    d.cli("inform")
    assert events_of(wait_informs(acs, 2)[1]) == ["6 CONNECTION REQUEST"]
    acs.wait_sessions(2)
    assert d.stop() == 0
    d.boot_id = "boot-2"            # a real boot: the kernel's boot id changed
    d.start()
    assert events_of(wait_informs(acs, 3)[2]) == ["1 BOOT"]
    acs.wait_sessions(3)
    d.cli("reset-config")           # forget everything: BOOTSTRAP, but no boot happened
    assert events_of(wait_informs(acs, 4)[3]) == ["0 BOOTSTRAP"]
    acs.wait_sessions(4)
    assert quiet(acs, 4, 0.5)


def test_retry_count_resets_on_reboot_but_not_on_restart(acs, daemon):
    d = daemon(acs, cr_port=free_port())
    acs.refusals.extend([(503, [("Retry-After", "600")])] * 3)
    d.start()
    wait_informs(acs, 1)
    assert d.stop() == 0
    d.start()
    d.cli("inform")                # past the backoff the restart kept
    assert wait_informs(acs, 2)[1].retry_count == 1
    assert d.stop() == 0
    d.boot_id = "boot-2"
    d.start()                      # a boot forgets the backoff: at once
    got = wait_informs(acs, 3)
    assert got[2].retry_count == 0 and "1 BOOT" in events_of(got[2])


def test_url_set_by_the_acs_gets_a_bootstrap_at_once(make_lab_acs, daemon):
    a, b = instrument(make_lab_acs()), instrument(make_lab_acs())
    a.queue(set_parameter_values([(MS + "URL", b.url)]))
    d = daemon(a).start()
    a.wait_sessions(1)
    got = wait_informs(b, 1, timeout=5)
    assert events_of(got[0]) == ["0 BOOTSTRAP"]
    b.wait_sessions(1)
    assert d.get("acs-url") == b.url
    d.set("acs-url=" + a.url)      # the operator's change: BOOTSTRAP to it, at once
    assert events_of(wait_informs(a, 2, timeout=5)[1]) == ["0 BOOTSTRAP"]
    a.wait_sessions(2)


def test_a_bad_url_from_the_acs_falls_back_to_the_last_good_one(acs, daemon):
    dead = "http://127.0.0.1:%d/acs" % free_port()
    d = daemon(acs)
    d.set(MS + "CWMPRetryMinimumWaitInterval=1", MS + "CWMPRetryIntervalMultiplier=1000")
    acs.queue(set_parameter_values([(MS + "URL", dead)]))
    d.start()
    acs.wait_sessions(1)
    got = wait_informs(acs, 2, timeout=15)   # three failed sessions with the dead URL, then back
    assert events_of(got[1]) == ["0 BOOTSTRAP"]
    acs.wait_sessions(2)
    st = d.status()
    assert st["acs-url"] == acs.url
    err = st["last-session-error"]
    assert dead in err and "returned to the last URL that worked" in err and acs.url in err, err
    assert "ACS unreachable: connection refused" in err
    assert st["retry-count"] == 0


# ---------------------------------------------------------------- control

def test_disabled_stops_sessions_and_listening_and_resets_retry_count(acs, daemon):
    d = daemon(acs, config=CR, cr_port=free_port())   # the same URL when it listens again
    acs.refusals.append((503, [("Retry-After", "600")]))
    d.start()
    wait_informs(acs, 1)
    port = int(d.get(MS + "ConnectionRequestURL").split(":")[2].split("/")[0])
    wait_until(lambda: d.status()["retry-count"] == 1)
    d.set("enabled=no")
    st = d.status()
    assert st["status"] == "disabled" and st["retry-count"] == 0 and st["next-session"] == ""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    r = d.cli("inform", check=False)
    assert r.returncode == 1 and "disabled" in r.stderr and len(r.stderr.splitlines()) == 1
    assert quiet(acs, 1)
    d.set("enabled=yes")           # the kept events go out at once
    assert sorted(events_of(wait_informs(acs, 2)[1])) == ["0 BOOTSTRAP", "1 BOOT"]
    acs.wait_sessions(1)
    url = d.get(MS + "ConnectionRequestURL")
    assert acs.connection_request(url, "cr-user", _secrets.CR_OTHER) == 200


def test_the_acs_can_switch_http_connection_requests_off_and_on(acs, daemon):
    d = daemon(acs, config=CR, cr_port=free_port())
    d.start()
    acs.wait_sessions(1)
    url = d.get(MS + "ConnectionRequestURL")
    port = int(url.split(":")[2].split("/")[0])
    acs.queue(set_parameter_values([(MS + "HTTPConnectionRequestEnable", "false", "xsd:boolean")], "off"))
    assert acs.connection_request(url, "cr-user", _secrets.CR_OTHER) == 200
    acs.wait_sessions(2)
    assert wait_until(lambda: _refused(port))
    assert d.get(MS + "SupportedConnReqMethods") == "HTTP"
    d.set(MS + "HTTPConnectionRequestEnable=true")
    assert wait_until(lambda: not _refused(port))
    assert acs.connection_request(url, "cr-user", _secrets.CR_OTHER) == 200


def _refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_ends_cleanly_with_state_saved(acs, daemon):
    d = daemon(acs).start()
    acs.wait_sessions(1)
    assert d.stop(signal.SIGTERM) == 0
    assert d.log().rstrip().endswith("tr069client stopped")
    assert not os.path.exists(os.path.join(d.state_dir, "control.sock"))
    state = d.state()["state"]
    assert state["events"] == [] and state["last_success"] and state["retry_count"] == 0
    st = d.status()
    assert st["daemon"] == "not running" and st["last-successful-session"]


def test_sighup_reloads_the_config(make_lab_acs, daemon):
    a, b = instrument(make_lab_acs()), instrument(make_lab_acs())
    d = daemon(config={"acs-url": a.url, "username": "acs-user", "password": _secrets.ACS}).start()
    a.wait_sessions(1)
    d.write_config({"acs-url": b.url, "username": "acs-user", "password": _secrets.ACS})
    d.send(signal.SIGHUP)
    assert events_of(wait_informs(b, 1, timeout=5)[0]) == ["0 BOOTSTRAP"]
    b.wait_sessions(1)
    with open(d.config_path, "w") as f:
        f.write("{not json")
    d.send(signal.SIGHUP)
    line = d.wait_log(r"error configuration not reloaded: [^\n]*")[0]
    assert "not valid JSON" in line
    d.config_path = None   # the CLI would refuse the broken file too
    assert d.running() and d.status()["acs-url"] == b.url


def test_a_config_refused_at_reload_changes_nothing(acs, daemon):
    d = daemon(acs, config={"notification-poll-interval": 60}).start()
    acs.wait_sessions(1)
    # Periodic informs off alone would do; the interval is out of range, so all is refused.
    d.write_config({"periodic-inform-enabled": False, "periodic-inform-interval": 0})
    d.send(signal.SIGHUP)
    line = d.wait_log(r"error configuration not reloaded: [^\n]*")[0]
    assert "periodic-inform-interval" in line
    d.config_path = None   # the CLI would refuse the file too
    assert d.get("periodic-inform-enabled") == "yes"


# ---------------------------------------------------------------- status sentences, https

def test_last_session_error_sentences(make_lab_acs, daemon, tmp_path):
    strict = instrument(make_lab_acs(auth="digest"))
    d = daemon(strict, password=_secrets.WRONG).start()
    wait_until(lambda: d.status()["retry-count"] >= 1)
    assert d.status()["last-session-error"] == "ACS refused the credentials (HTTP 401) at %s" % strict.url

    dead_port = free_port()
    d.set("acs-url=http://127.0.0.1:%d/acs" % dead_port)
    wait_until(lambda: "unreachable" in d.status()["last-session-error"])
    assert d.status()["last-session-error"] == "ACS unreachable: connection refused (127.0.0.1:%d)" % dead_port

    broken = instrument(make_lab_acs())
    broken.queue(raw("<cwmp:GetParameterValues><oops", whole=True))
    d.set("acs-url=" + broken.url, "password=acs-pass")
    wait_until(lambda: "malformed" in d.status()["last-session-error"])
    err = d.status()["last-session-error"]
    assert err.startswith("ACS sent malformed XML: ") and "\n" not in err
    assert d.running()
    assert d.status()["retry-count"] >= 1


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    trustme = pytest.importorskip("trustme")
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    paths = {k: str(folder / (k + ".pem")) for k in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(paths["ca"])
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    return paths


@pytest.mark.parametrize("auth", ["basic", "digest"])
def test_sessions_over_https(make_lab_acs, daemon, pki, auth):
    acs = instrument(make_lab_acs(tls=(pki["cert"], pki["key"]), auth=auth))
    assert acs.url.startswith("https://")
    d = daemon(acs, args=["--ca-file", pki["ca"]]).start()
    acs.wait_sessions(1)
    assert d.status()["last-session-error"] == ""
    assert sorted(events_of(informs(acs)[0])) == ["0 BOOTSTRAP", "1 BOOT"]


def test_https_with_an_unknown_ca_fails_with_a_sentence(make_lab_acs, daemon, pki):
    acs = instrument(make_lab_acs(tls=(pki["cert"], pki["key"])))
    d = daemon(acs).start()   # no --ca-file: the system's CAs do not know the test CA
    err = wait_until(lambda: d.status()["last-session-error"], 10)
    assert err.startswith("TLS certificate of 127.0.0.1 "), err
    assert acs.sessions == []


# ---------------------------------------------------------------- logging, robustness

def test_one_log_line_per_session_at_the_default_level(acs, daemon):
    d = daemon(acs, args=["--periodic-inform-interval", "1"]).start()
    d.wait_log(r" info session done \(", count=3)
    assert d.stop() == 0
    lines = d.log().splitlines()
    body = [l for l in lines if not re.search(r" info (tr069client (started|stopped)|settings applied)", l)]
    # A session that the stop cut short says so on its one line.
    if body and " warning session failed (" in body[-1] and "): the daemon is stopping; " in body[-1]:
        body.pop()
    sessions = [l for l in body if " info session done (" in l]
    assert len(sessions) >= 3 and sessions == body, lines


def test_debug_log_shows_the_exchange_with_secrets_redacted(make_lab_acs, daemon):
    acs = instrument(make_lab_acs(auth="digest", password=_secrets.ACS_STRONG))
    acs.queue(set_parameter_values([(MS + "ConnectionRequestPassword", _secrets.CR),
                                    (MS + "Password", _secrets.ACS_STRONG)]))
    d = daemon(acs, log_level="debug", password=_secrets.ACS_STRONG).start()
    acs.wait_sessions(1)
    assert acs.responses[0][0] == "SetParameterValuesResponse"
    log = d.log()
    assert "SetParameterValues" in log and "InformResponse" in log   # the exchange is there
    assert log.count("[redacted]") >= 2
    for secret in (_secrets.ACS_STRONG, _secrets.CR, 'response="'):
        assert secret not in log


def _syscalls(d, tmp_path, seconds=3):
    """System calls the daemon makes in `seconds`, counted by strace (skips without it)."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (apt-get install strace)")
    out = tmp_path / "strace.txt"
    tracer = subprocess.Popen([strace, "-f", "-c", "-o", str(out), "-p", str(d.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True)
    time.sleep(seconds)
    tracer.send_signal(signal.SIGINT)
    _, err = tracer.communicate(timeout=10)
    if "attached" not in err:
        pytest.skip("strace cannot trace here: %s" % err.strip())
    report = out.read_text()
    total = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?total\s*$", report, re.M)
    # No "total" line at all means strace saw no system call in that time.
    return (int(total.group(1)) if total else 0), report


def test_idle_daemon_makes_no_system_calls_between_timers(acs, daemon, tmp_path):
    d = daemon(acs).start()
    acs.wait_sessions(1)
    time.sleep(0.3)   # let the loop settle into its select()
    calls, report = _syscalls(d, tmp_path)
    assert calls <= 3, report
    assert d.running()


def test_a_failed_connection_request_session_is_not_retried_and_leaves_the_daemon_idle(acs, daemon, tmp_path):
    # TR-069 3.7.1.5: 6 CONNECTION REQUEST is discarded when its session fails; the expired
    # backoff then wants nothing, and must not wake the loop (it used to poll without pause).
    d = daemon(acs, config=CR)
    d.set(MS + "CWMPRetryMinimumWaitInterval=1")   # the backoff is over within 2 s
    d.start()
    acs.wait_sessions(1)
    acs.refusals.append((500, []))
    assert acs.connection_request(cr_url(acs), "cr-user", _secrets.CR_OTHER) == 200
    line = d.wait_log(r"warning session failed \(6 CONNECTION REQUEST\)[^\n]*")[0]
    assert "retry" not in line.replace("not retried", ""), line
    assert "; not retried (TR-069 3.7.1.5: 6 CONNECTION REQUEST is discarded when the session fails); " \
        "next session at " in line, line
    st = d.status()
    assert st["retry-count"] == 1 and st["pending-events"] == []
    assert quiet(acs, 2, seconds=2.5)   # past the backoff: no retry
    calls, report = _syscalls(d, tmp_path)
    assert calls <= 3, report
    d.cli("inform")                     # the next session still says how many failed before it
    assert wait_informs(acs, 3)[2].retry_count == 1
    acs.wait_sessions(2)


def test_a_damaged_state_file_is_set_aside_and_the_daemon_carries_on(acs, daemon):
    d = daemon(acs)
    os.makedirs(d.state_dir)
    with open(os.path.join(d.state_dir, "state.json"), "w") as f:
        f.write('{"format": 1, "values": [')
    d.start()
    acs.wait_sessions(1)
    line = d.wait_log(r"error state file \S+ was damaged [^\n]*")[0]
    assert "kept as" in line and "state.json.damaged" in line
    assert os.path.exists(os.path.join(d.state_dir, "state.json.damaged"))
    assert sorted(events_of(informs(acs)[0])) == ["0 BOOTSTRAP", "1 BOOT"]
    assert d.state()["state"]["last_success"]


def test_the_status_json_while_waiting_for_a_url(daemon):
    d = daemon().start()
    st = d.status()
    assert st["status"] == "waiting-URL" and st["daemon"] == "running"
    assert st["next-session"] == "" and st["last-session-error"] == "" and st["retry-count"] == 0
    text = d.cli("status").stdout
    assert re.search(r"^ *status: waiting-URL$", text, re.M) and re.search(r"^ *retry-count: 0$", text, re.M)


def test_a_url_from_dhcp_option_43_starts_the_first_session(acs, daemon):
    d = daemon(args=["--username", "acs-user", "--password", _secrets.ACS]).start()
    assert d.status()["status"] == "waiting-URL"
    url, code = acs.url.encode(), b"PC-DHCP"
    opt43 = (bytes([1, len(url)]) + url + bytes([2, len(code)]) + code).hex()   # as udhcpc gives it
    out = d.cli("dhcp", opt43).stdout
    assert out == "from DHCP: acs-url, Device.DeviceInfo.ProvisioningCode\n"
    (inform,) = wait_informs(acs, 1)
    # ProvisioningCode is under active notification by default (TR-181), hence VALUE CHANGE.
    assert sorted(events_of(inform)) == ["0 BOOTSTRAP", "1 BOOT", "4 VALUE CHANGE"]
    assert acs.informs[0]["parameters"]["Device.DeviceInfo.ProvisioningCode"] == "PC-DHCP"
    acs.wait_sessions(1)
    assert d.cli("dhcp", opt43).stdout == "from DHCP: nothing changed\n"   # the lease renewed
    bad = d.cli("dhcp", "0105ab", check=False)
    assert bad.returncode == 1 and "option 43 is cut short" in bad.stderr
    assert d.status()["status"] == "running" and quiet(acs, 1)


def test_readme_dhcp_recipe_without_url_or_cr_address_waits_listens_and_then_informs(acs, daemon):
    # README's DHCP recipe: the init script gives neither an ACS URL nor cr-address.
    port = free_port()
    d = daemon(args=["--username", "acs-user", "--password", _secrets.ACS], cr_address=None,
               cr_port=port, config=CR).start()
    st = d.status()
    assert st["status"] == "waiting-URL" and st["daemon"] == "running" and st["last-session-error"] == ""
    assert d.get(MS + "ConnectionRequestURL") == ""        # no address to put in it yet
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:   # but listening
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert s.recv(64).startswith(b"HTTP/1.1 ")
    url = acs.url.encode()
    assert d.cli("dhcp", (bytes([1, len(url)]) + url).hex()).stdout == "from DHCP: acs-url\n"
    (inform,) = wait_informs(acs, 1)
    assert "0 BOOTSTRAP" in events_of(inform)
    # The address that routes to the ACS is in the first Inform.
    assert cr_url(acs).startswith("http://127.0.0.1:%d/" % port)
    acs.wait_sessions(1)
    assert acs.connection_request(cr_url(acs), "cr-user", _secrets.CR_OTHER) == 200
    assert events_of(wait_informs(acs, 2)[1]) == ["6 CONNECTION REQUEST"]
    assert d.status()["status"] == "running"


def test_a_second_daemon_on_the_same_state_is_refused_with_one_line(acs, daemon):
    d = daemon(acs).start()
    acs.wait_sessions(1)
    r = subprocess.run([sys.executable, "-m", "tr069client", "run", "--state-dir", d.state_dir, "--cr-port", "0"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=d.env(),
                       timeout=30)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "another tr069client daemon is running" in r.stderr
    assert d.running() and d.status()["daemon"] == "running"


def test_a_busy_port_is_said_retried_and_notified_and_a_port_change_too(acs, daemon):
    """Issue 9.8: with the port taken, `status` said nothing of it and the URL stayed empty."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    d = daemon(acs, config=CR, cr_port=port).start()   # the default poll interval: 60 s
    acs.wait_sessions(1)   # no listener, but sessions work
    st = d.status()
    assert re.match(r"cannot listen on (\[::\]|0\.0\.0\.0):%d: address in use; trying again in \d+ s$" % port,
                    st["connection-requests"]), st
    assert st["status"] == "running" and st["last-session-error"] == ""
    assert d.get(MS + "ConnectionRequestURL") == ""
    busy.close()
    got = wait_informs(acs, 2, timeout=30)   # the next try, on its timer (5 s, then 10 s)
    assert events_of(got[1]) == ["4 VALUE CHANGE"]
    assert acs.informs[1]["parameters"][MS + "ConnectionRequestURL"].startswith("http://127.0.0.1:%d/" % port)
    assert re.match(r"listening on (\[::\]|0\.0\.0\.0):%d$" % port, d.status()["connection-requests"])
    assert d.log().count("error cannot listen") == 1   # said once, not at every retry
    assert "listening for connection requests on" in d.log()
    other = free_port()
    d.set("cr-port=%d" % other)
    got = wait_informs(acs, 3, timeout=5)
    assert events_of(got[2]) == ["4 VALUE CHANGE"]
    url = d.get(MS + "ConnectionRequestURL")
    assert url.startswith("http://127.0.0.1:%d/" % other)
    acs.wait_sessions(3)
    assert acs.connection_request(url, "cr-user", _secrets.CR_OTHER) == 200
    assert events_of(wait_informs(acs, 4)[3]) == ["6 CONNECTION REQUEST"]


def test_cwmp_version_setting_chooses_the_inform_namespace(acs, daemon):
    d = daemon(acs, config={"cwmp-version": "1.2"}).start()
    acs.wait_sessions(1)
    assert acs.sessions[0].namespace == "urn:dslforum-org:cwmp-1-2"
    assert b'xmlns:cwmp="urn:dslforum-org:cwmp-1-2"' in acs.messages[0]
    assert d.running()


def test_a_second_daemon_leaves_the_state_file_alone(acs, daemon):
    d = daemon(acs).start()
    acs.wait_sessions(1)
    before = d.state()
    r = subprocess.run([sys.executable, "-m", "tr069client", "run", "--state-dir", d.state_dir, "--cr-port", "0",
                        "--acs-url", "http://other.example/acs", "--periodic-inform-interval", "77"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=d.env(),
                       timeout=30)
    assert r.returncode == 1 and "another tr069client daemon is running" in r.stderr
    assert d.state() == before
    assert d.get("acs-url") == acs.url and d.get("periodic-inform-interval") == "3600"


def test_a_state_file_that_cannot_be_written_is_said_and_the_daemon_carries_on(acs, daemon):
    d = daemon(acs).start()
    acs.wait_sessions(1)
    # A directory where the temporary state file goes: every save fails, as on a full flash.
    blocker = os.path.join(d.state_dir, "state.json.tmp.%d" % d.proc.pid)
    os.mkdir(blocker)
    d.cli("inform")
    acs.wait_sessions(2)
    d.cli("inform")
    acs.wait_sessions(3)
    line = d.wait_log(r"error cannot save the state[^\n]*")[0]
    assert "state.json" in line and "Is a directory" in line
    assert d.log().count("cannot save the state") == 1   # said once, not at every save
    assert d.running() and d.status()["daemon"] == "running"
    os.rmdir(blocker)
    d.cli("inform")
    acs.wait_sessions(4)
    d.wait_log(r"info the state is saved again")
    wait_until(lambda: d.state()["state"]["last_success"] > 0 and len(acs.sessions) == 4)
    assert d.stop() == 0


def test_a_huge_poll_interval_with_nothing_else_planned_does_not_stop_the_daemon(acs, daemon):
    d = daemon(acs, config={"notification-poll-interval": 10 ** 12},
               args=["--periodic-inform-enabled", "no"]).start()
    acs.wait_sessions(1)
    time.sleep(0.5)   # the loop is in its select() now, with no timer for ~30,000 years
    assert d.running() and d.status()["daemon"] == "running"
    d.cli("inform")
    acs.wait_sessions(2)


def test_sigterm_during_a_session_ends_it_without_waiting_for_the_acs(acs, daemon):
    # procd gives a daemon 5 s between SIGTERM and SIGKILL: a long session must not run on,
    # nor wait for a slow ACS's next answer.
    d = daemon(acs).start()
    acs.wait_sessions(1)
    first = len(acs.posts)
    acs.queue(*[get_parameter_values([MS + "PeriodicInformInterval"]) for _ in range(10)])
    inner = acs._handle

    def handle(h, method):
        if method == "POST" and len(acs.posts) == first + 3:   # the answer to the 2nd GPV comes
            d.send(signal.SIGTERM)
        return inner(h, method)
    acs._handle = handle
    d.cli("inform")
    assert d.proc.wait(15) == 0
    assert len(acs.posts) == first + 4   # the 3rd GPV, asked after the signal, is not answered
    assert re.search(r"warning session failed \(6 CONNECTION REQUEST\): the daemon is stopping", d.log())
    assert d.log().rstrip().endswith("tr069client stopped")
    state = d.state()["state"]
    assert state["events"] == [] and state["retry_count"] == 1
    late_answer_lost(acs, 2)   # the daemon may be gone before the ACS wrote its 3rd GPV


def test_reset_config_waits_for_a_device_operation_to_end(acs, daemon, tmp_path):
    started, go = tmp_path / "started", tmp_path / "go"
    hook = ("import os, time\nopen(%r, 'w').close()\n"
            "while not os.path.exists(%r): time.sleep(0.02)\n" % (str(started), str(go)))
    d = daemon(acs, config={"config-alter-command": [sys.executable, "-c", hook],
                            "download-dir": str(tmp_path / "dl")})
    acs.queue(download("k1", "3 Vendor Configuration File", acs.add_file("a.alter", b"set x\n")))
    d.start()
    try:
        assert wait_until(started.exists, 15), d.log()
        # The daemon answers while the command runs, but does not pull its state away under it.
        r = d.cli("reset-config", check=False)
        assert r.returncode == 1 and "in progress" in r.stderr, r.stderr
        assert d.status()["daemon"] == "running"
    finally:
        go.write_text("")
    acs.wait_sessions(2, timeout=15)
    assert d.cli("reset-config").returncode == 0
    # The forgotten device bootstraps at once: stopping it in that session would cut it short.
    sessions = acs.wait_sessions(3, timeout=15)
    assert ("0 BOOTSTRAP", "") in sessions[2].inform["events"]


# A sitecustomize that writes, when `tr069client run` exits, the modules it had loaded.
_MODULES_HOOK = r'''
import atexit, os, sys
if sys.argv[1:2] == ["run"]:
    def _dump():
        with open(os.environ["TR069_TEST_MODULES"], "w") as f:
            f.write("\n".join(sorted(sys.modules)))
    atexit.register(_dump)
'''


def test_an_http_daemon_loads_no_heavy_module(acs, daemon, tmp_path):
    """An http-only daemon, through a whole session, loads neither OpenSSL (ssl, hashlib) nor
    what it does not need at all (logging, typing, subprocess, tempfile, argparse, ...).
    (threading is cheap, and CPython 3.8's bz2, which shutil loads, imports it.)"""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_MODULES_HOOK)
    out = tmp_path / "modules.txt"
    d = daemon(acs)
    base_env = d.env
    d.env = lambda: dict(base_env(), TR069_TEST_MODULES=str(out),
                         PYTHONPATH=str(hook) + os.pathsep + base_env()["PYTHONPATH"])
    d.start()
    wait_informs(acs, 1)
    d.wait_log(r"session done")
    assert d.stop() == 0
    loaded = set(out.read_text().split())
    assert "tr069client.daemon" in loaded and "tr069client.device" in loaded
    heavy = {"ssl", "_ssl", "hashlib", "_hashlib", "secrets", "logging", "typing", "subprocess",
             "tempfile", "dataclasses", "http.server", "argparse", "signal", "_sha256", "_sha2"}
    assert sorted(heavy & loaded) == []
    # Loaded where used: bindings by a bindings file (control_commands and dhcp by the CLI,
    # which this test's harness asks; see test_daemon.py).
    assert sorted({"tr069client.bindings", "tr069client.binding_commands"} & loaded) == []
