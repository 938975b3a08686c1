"""The session planner's decisions, driven with a fake clock, fixed randomness and the real engine fed
literal ACS answers: no sockets, no sleeps."""

import itertools
import json

import pytest

from tr069client import planner as planner_mod
from tr069client import settings, url_trials
from tr069client.actions import ScheduleInform
from tr069client.model import Model
from tr069client.provider import Provider
from tr069client.store import Store

from _engine import END_204, IDENTITY, INFORM_RESPONSE, drive, genieacs, parse

MS = "Device.ManagementServer."
URL_A, URL_B = "http://acs-a.example/acs", "http://acs-b.example/acs"
IDENT = {"manufacturer": "Acme", "oui": "00D0C9", "product-class": "Router", "serial-number": "SN0001"}
T0 = 1764064800.0   # 2025-11-25T10:00:00Z


class Clock:
    def __init__(self):
        self.mono, self.wall = 1000.0, T0

    def advance(self, seconds):
        self.mono += seconds
        self.wall += seconds


def make(url=URL_A, random=lambda: 0.5, boot="boot-1", values=None, start=True):
    store = Store()
    model = Model(store, providers=[Provider("Device.DeviceInfo.", lambda m: dict(IDENTITY))],
                  defaults=settings.PRODUCT_DEFAULTS)
    if url:
        settings.put(model, "acs-url", url)
    for k, v in (values or {}).items():
        model.set_local(k, v)
    a = planner_mod.Planner(store, model, IDENT, random)
    clock = Clock()
    if start:
        a.start(boot, clock.mono, clock.wall)
    return a, clock


_ids = itertools.count(1)


def session(a, clock, *acs_requests, url=None):
    """One successful session in which the ACS sends `acs_requests` (inner XML); the session."""
    url = url or settings.get(a.model, "acs-url")   # the URL this session goes to
    s = a.begin(clock.wall, lambda: "cpe-%d" % next(_ids))
    answers = [genieacs(INFORM_RESPONSE)] + [genieacs(r, "r%d" % i) for i, r in enumerate(acs_requests)] + [END_204]
    posts = drive(s, answers)
    a.finish(s, url, clock.mono, clock.wall)
    for action in s.actions:   # the one action the planner runs (device.py's table)
        if isinstance(action, ScheduleInform):
            a.schedule_inform(action.delay, action.command_key, clock.wall)
    s.posts = posts
    return s


def failed(a, clock, error="ACS unreachable: connection refused (acs-a.example:80)", status=None, headers=None):
    """One failed session (the transport's error, or an HTTP status for the Inform)."""
    s = a.begin(clock.wall, lambda: "cpe-%d" % next(_ids))
    s.next_post()
    if status is None:
        s.abort(error)
    else:
        s.receive(status, headers or {}, b"")
    a.finish(s, settings.get(a.model, "acs-url"), clock.mono, clock.wall)
    return s


def codes(events):
    return sorted(c for c, _ in events)


def spv(name, value, xsd="xsd:string"):
    return ('<cwmp:SetParameterValues><ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[1]">'
            '<ParameterValueStruct><Name>%s</Name><Value xsi:type="%s">%s</Value></ParameterValueStruct>'
            '</ParameterList><ParameterKey></ParameterKey></cwmp:SetParameterValues>' % (name, xsd, value))


def spa(name, notification):
    return ('<cwmp:SetParameterAttributes><ParameterList soap-enc:arrayType="cwmp:SetParameterAttributesStruct[1]">'
            '<SetParameterAttributesStruct><Name>%s</Name><NotificationChange>1</NotificationChange>'
            '<Notification>%d</Notification><AccessListChange>0</AccessListChange>'
            '<AccessList soap-enc:arrayType="xsd:string[0]"></AccessList></SetParameterAttributesStruct>'
            '</ParameterList></cwmp:SetParameterAttributes>' % (name, notification))


# ---------------------------------------------------------------- boot, bootstrap, status

def test_first_start_is_bootstrap_and_boot_and_due_at_once():
    a, clock = make()
    assert codes(a.events.pending()) == ["0 BOOTSTRAP", "1 BOOT"]
    assert a.status() == "running" and a.due(clock.mono)
    s = session(a, clock)
    assert codes(s.events) == ["0 BOOTSTRAP", "1 BOOT"]
    assert a.events.pending() == [] and not a.due(clock.mono)
    # The periodic timer restarts at the end of the session (default interval 3600 s).
    assert a.deadline(clock.mono, clock.wall) == pytest.approx(clock.mono + 3600)
    rep = a.report(clock.mono, clock.wall)
    assert rep["last-successful-session"] == "2025-11-25T10:00:00Z"
    assert rep["next-session"] == "2025-11-25T11:00:00Z"
    assert rep["retry-count"] == 0 and rep["last-session-error"] == ""


def test_restart_is_no_boot_but_a_new_boot_id_or_an_ordered_reboot_is():
    a, clock = make()
    session(a, clock)
    again = planner_mod.Planner(a.store, a.model, IDENT, None)
    again.start("boot-1", clock.mono, clock.wall)
    assert again.events.pending() == []
    again.start("boot-2", clock.mono, clock.wall)
    assert codes(again.events.pending()) == ["1 BOOT"]
    session(again, clock)
    a.store.state["expect_boot"] = "returned"   # tr069client rebooted the device; the command only restarted us
    again.start("boot-2", clock.mono, clock.wall)
    assert codes(again.events.pending()) == ["1 BOOT"]


def test_an_ordered_reboot_that_never_happened_is_not_reported():
    # The reboot command started, the daemon died before it returned, the boot is the same.
    a, clock = make()
    session(a, clock)
    a.events.add("M Reboot", "earlier")     # a real reboot's, not yet delivered
    a.events.add("M Reboot", "rk")
    a.store.state["expect_boot"] = "started"
    again = planner_mod.Planner(a.store, a.model, IDENT, None)
    again.start("boot-1", clock.mono, clock.wall)
    assert again.events.pending() == [("M Reboot", "earlier")]
    assert again.report(clock.mono, clock.wall)["last-session-error"] == (
        "the reboot ordered before tr069client stopped did not happen: reboot-command did not finish and "
        "the device did not restart")
    a.store.state["expect_boot"] = "started"   # the same, but the device did restart
    again.start("boot-2", clock.mono, clock.wall)
    assert codes(again.events.pending()) == ["1 BOOT", "M Reboot"]


def test_status_values():
    a, clock = make(url="")
    assert a.status() == "waiting-URL" and not a.due(clock.mono) and a.deadline(clock.mono, clock.wall) is None
    settings.put(a.model, "acs-url", URL_A)
    a.settings_changed(clock.mono, clock.wall)
    assert a.status() == "running" and codes(a.events.pending()) == ["0 BOOTSTRAP", "1 BOOT"]
    settings.put(a.model, "enabled", False)
    a.settings_changed(clock.mono, clock.wall)
    assert a.status() == "disabled" and not a.due(clock.mono)
    assert a.report(clock.mono, clock.wall)["next-session"] == ""


# ---------------------------------------------------------------- retry

@pytest.mark.parametrize("r", [0.0, 1.0])
def test_retry_waits_follow_the_spec_windows(r):
    a, clock = make(random=lambda: r)
    windows = [(5, 10), (10, 20), (20, 40), (40, 80)]   # m = 5, k = 2000 (the defaults)
    for n, (low, high) in enumerate(windows, 1):
        s = failed(a, clock)
        assert s.retry_count == n - 1          # RetryCount of the Inform that failed
        assert a.retry_count == n
        wait = a.retry_at - clock.mono
        assert wait == pytest.approx(low if r == 0.0 else high)
        assert not a.due(clock.mono)
        assert a.deadline(clock.mono, clock.wall) == pytest.approx(a.retry_at)
        clock.advance(wait)
        assert a.due(clock.mono)
    s = session(a, clock)
    assert "<RetryCount>4</RetryCount>" in s.posts[0].decode()
    assert a.retry_count == 0 and a.retry_at is None
    assert a.store.state["last_error"] == ""


def test_retry_uses_the_acs_set_minimum_and_multiplier():
    a, clock = make(random=lambda: 1.0, values={MS + "CWMPRetryMinimumWaitInterval": "1",
                                                MS + "CWMPRetryIntervalMultiplier": "3000"})
    failed(a, clock)
    assert a.retry_at - clock.mono == pytest.approx(3)
    failed(a, clock)
    assert a.retry_at - clock.mono == pytest.approx(9)


def test_the_largest_retry_parameters_still_give_a_status():
    # Both at their TR-181 maximum: after a few failures the wait outgrows any calendar.
    a, clock = make(values={MS + "CWMPRetryMinimumWaitInterval": "65535",
                            MS + "CWMPRetryIntervalMultiplier": "65535"})
    for _ in range(6):
        failed(a, clock)
    rep = a.report(clock.mono, clock.wall)   # TR-106: 9999-12-31T23:59:59Z is "never"
    assert rep["retry-count"] == 6 and rep["next-session"] == "9999-12-31T23:59:59Z"
    a.inform_now()
    assert a.report(clock.mono, clock.wall)["next-session"] == "2025-11-25T10:00:00Z"


def test_503_retry_after_is_honoured_when_longer_than_the_backoff():
    a, clock = make(random=lambda: 0.0)
    s = failed(a, clock, status=503, headers={"retry-after": "60"})
    assert a.retry_at - clock.mono == pytest.approx(60)
    assert a.store.state["last_error"] == "ACS is overloaded (HTTP 503), it asks to come back in 60 s"
    assert s.retry_after == 60
    failed(a, clock, status=503, headers={"retry-after": "1"})
    assert a.retry_at - clock.mono == pytest.approx(10)   # the backoff is longer


def test_a_connection_request_skips_the_backoff_and_is_not_retried():
    a, clock = make()
    session(a, clock)
    failed(a, clock)   # nothing pending: the failure still counts
    assert a.retry_count == 1 and not a.due(clock.mono)
    a.connection_request(in_session=False)
    assert a.due(clock.mono)
    s = failed(a, clock)
    assert codes(s.events) == ["6 CONNECTION REQUEST"] and s.retry_count == 1
    assert a.events.pending() == []   # 6 CONNECTION REQUEST is discarded on failure


def test_an_expired_backoff_with_nothing_to_retry_is_no_deadline():
    # The loop sleeps until deadline(): a past one with nothing due made it spin until the
    # next periodic Inform.
    a, clock = make(random=lambda: 0.0, values={MS + "PeriodicInformInterval": "3600"})
    session(a, clock)
    a.connection_request(in_session=False)
    s = failed(a, clock)
    assert a.retry_at == pytest.approx(clock.mono + 5)
    assert a.failure_note(s, clock.mono, clock.wall) == (
        "not retried (TR-069 3.7.1.5: 6 CONNECTION REQUEST is discarded when the session fails); "
        "next session at 2025-11-25T11:00:00Z")
    assert a.deadline(clock.mono, clock.wall) == pytest.approx(clock.mono + 3600)
    clock.advance(10)                    # past the backoff: still nothing due before the periodic
    assert not a.due(clock.mono)
    assert a.deadline(clock.mono, clock.wall) == pytest.approx(clock.mono + 3590)
    assert a.report(clock.mono, clock.wall)["next-session"] == "2025-11-25T11:00:00Z"
    clock.advance(3590)
    a.on_timers(clock.mono, clock.wall)
    assert a.due(clock.mono) and a.begin(clock.wall, lambda: "x").retry_count == 1


def test_a_timer_during_the_backoff_waits_for_its_end_and_a_kept_event_is_retried():
    a, clock = make(random=lambda: 0.0, values={MS + "PeriodicInformInterval": "3600"})
    session(a, clock)
    a.schedule_inform(2, "k", clock.wall)
    a.connection_request(in_session=False)
    s = failed(a, clock)                 # wait 5 s; the ScheduleInform falls due within it
    assert a.deadline(clock.mono, clock.wall) == pytest.approx(clock.mono + 5)
    clock.advance(2)
    a.on_timers(clock.mono, clock.wall)
    assert not a.due(clock.mono) and a.deadline(clock.mono, clock.wall) == pytest.approx(clock.mono + 3)
    a, clock = make(random=lambda: 0.0)
    s = failed(a, clock)                 # BOOTSTRAP and BOOT are kept: a retry follows
    assert a.failure_note(s, clock.mono, clock.wall) == "retry 1 in 5 s"
    assert a.deadline(clock.mono, clock.wall) == pytest.approx(clock.mono + 5)
    settings.put(a.model, "periodic-inform-enabled", False)
    a.settings_changed(clock.mono, clock.wall)
    clock.advance(5)
    s = a.begin(clock.wall, lambda: "x")     # the ACS takes the Inform, then the session fails
    s.next_post()
    status, headers, body = genieacs(INFORM_RESPONSE)
    s.receive(status, headers, body.encode())
    s.abort("ACS did not answer within 30 s (%s)" % URL_A)
    a.finish(s, URL_A, clock.mono, clock.wall)
    assert a.retry_count == 2 and a.deadline(clock.mono, clock.wall) is None
    assert a.failure_note(s, clock.mono, clock.wall) == (
        "nothing is left to retry (the ACS took the Inform); no session planned")


def test_kept_events_survive_failures_and_a_new_store_load():
    a, clock = make()
    failed(a, clock)
    failed(a, clock)
    assert codes(a.events.pending()) == ["0 BOOTSTRAP", "1 BOOT"]
    again = planner_mod.Planner(a.store, a.model, IDENT, None)
    again.start("boot-1", clock.mono, clock.wall)
    assert codes(again.events.pending()) == ["0 BOOTSTRAP", "1 BOOT"] and again.retry_count == 2
    again.start("boot-2", clock.mono, clock.wall)
    assert again.retry_count == 0   # reset on reboot


def test_a_restarted_daemon_waits_out_the_backoff_but_a_boot_does_not():
    a, clock = make(random=lambda: 0.0)
    failed(a, clock)
    failed(a, clock)                                   # wait 10 s from now
    clock.advance(4)

    def restart(boot="boot-1", mono_base=50.0):
        # A new process: its monotonic clock has nothing to do with the old one's.
        store = Store()
        store.state = json.loads(json.dumps(a.store.state))   # as saved, then loaded
        again = planner_mod.Planner(store, a.model, IDENT, None)
        again.start(boot, mono_base, clock.wall)
        return again
    again = restart()
    assert again.retry_at == pytest.approx(50.0 + 6) and not again.due(50.0)
    assert again.due(56.0)
    clock.wall -= 3600                                 # the clock was set back while we were down
    assert restart().retry_at == pytest.approx(50.0 + 10)   # never more than the wait itself
    clock.wall += 3600 + 7                             # past the end: no wait left
    assert restart().retry_at is None
    clock.wall -= 7
    booted = restart(boot="boot-2")
    assert booted.retry_at is None and "retry_backoff" not in booted.store.state  # at once


def test_a_success_or_a_connection_request_forgets_the_saved_backoff():
    a, clock = make()
    failed(a, clock)
    assert "retry_backoff" in a.store.state
    a.connection_request(in_session=False)
    assert "retry_backoff" not in a.store.state and a.store.dirty
    failed(a, clock)
    clock.advance(a.retry_at - clock.mono)
    session(a, clock)
    assert "retry_backoff" not in a.store.state


def test_disabling_resets_the_retry_count():
    a, clock = make()
    failed(a, clock)
    settings.put(a.model, "enabled", False)
    a.settings_changed(clock.mono, clock.wall)
    assert a.retry_count == 0 and a.retry_at is None


# ---------------------------------------------------------------- what makes a session

def test_a_connection_request_during_a_session_gives_one_more_with_its_event():
    a, clock = make()
    s = a.begin(clock.wall, lambda: "x")
    a.connection_request(in_session=True)
    drive(s, [genieacs(INFORM_RESPONSE), END_204])
    a.finish(s, URL_A, clock.mono, clock.wall)
    assert a.due(clock.mono)
    s = session(a, clock)
    assert codes(s.events) == ["6 CONNECTION REQUEST"]
    assert not a.due(clock.mono)


def test_inform_now_says_connection_request_only_when_nothing_else_is_pending():
    a, clock = make()
    a.inform_now()
    assert codes(session(a, clock).events) == ["0 BOOTSTRAP", "1 BOOT"]
    a.inform_now()
    assert codes(session(a, clock).events) == ["6 CONNECTION REQUEST"]


def test_periodic_timer_and_clock_going_back():
    a, clock = make(values={MS + "PeriodicInformInterval": "60"})
    session(a, clock)
    clock.advance(59)
    a.on_timers(clock.mono, clock.wall)
    assert not a.due(clock.mono)
    clock.advance(1)
    a.on_timers(clock.mono, clock.wall)
    assert a.due(clock.mono) and codes(a.events.pending()) == ["2 PERIODIC"]
    session(a, clock)
    clock.wall -= 86400   # NTP puts the wall clock a day back
    a.on_timers(clock.mono, clock.wall)
    assert a.deadline(clock.mono, clock.wall) == pytest.approx(clock.mono + 60)


def test_periodic_inform_time_anchors_the_schedule():
    a, clock = make(values={MS + "PeriodicInformInterval": "600",
                            MS + "PeriodicInformTime": "2025-11-25T09:55:00Z"})
    assert a.periodic_at == T0 + 300   # 10:05, not 10:10
    session(a, clock)
    assert a.periodic_at == T0 + 300   # a session does not move an anchored schedule
    clock.advance(300)
    a.on_timers(clock.mono, clock.wall)
    assert codes(a.events.pending()) == ["2 PERIODIC"]
    session(a, clock)
    assert a.periodic_at == T0 + 900


def test_an_anchored_schedule_follows_the_clock_going_back():
    a, clock = make(values={MS + "PeriodicInformInterval": "600",
                            MS + "PeriodicInformTime": "2025-11-25T09:55:00Z"})
    session(a, clock)
    clock.wall -= 86400   # NTP puts the wall clock a day back
    a.on_timers(clock.mono, clock.wall)
    # The next slot of the anchor after the new time, not a day and 5 minutes away.
    assert a.deadline(clock.mono, clock.wall) == pytest.approx(clock.mono + 300)


def test_schedule_inform_raises_scheduled_after_the_delay():
    a, clock = make()
    session(a, clock, "<cwmp:ScheduleInform><DelaySeconds>30</DelaySeconds>"
                      "<CommandKey>k1</CommandKey></cwmp:ScheduleInform>")
    assert a.deadline(clock.mono, clock.wall) == pytest.approx(clock.mono + 30)
    clock.advance(29)
    a.on_timers(clock.mono, clock.wall)
    assert not a.due(clock.mono)
    clock.advance(1)
    a.on_timers(clock.mono, clock.wall)
    assert sorted(a.events.pending()) == [("3 SCHEDULED", ""), ("M ScheduleInform", "k1")]
    failed(a, clock)   # kept on failure
    assert sorted(a.events.pending()) == [("3 SCHEDULED", ""), ("M ScheduleInform", "k1")]


# ---------------------------------------------------------------- ACS URL

def test_a_url_set_by_the_acs_gets_a_bootstrap_at_once():
    a, clock = make()
    session(a, clock)
    session(a, clock, spv(MS + "URL", URL_B))
    assert settings.get(a.model, "acs-url") == URL_B
    assert a.due(clock.mono) and codes(a.events.pending()) == ["0 BOOTSTRAP"]
    s = session(a, clock)
    assert codes(s.events) == ["0 BOOTSTRAP"] and "url_trial" not in a.store.state


def test_a_failing_url_from_the_acs_falls_back_after_bounded_attempts():
    a, clock = make()
    session(a, clock)
    session(a, clock, spv(MS + "URL", URL_B))
    for n in range(url_trials.MAX_FAILURES):
        assert settings.get(a.model, "acs-url") == URL_B
        failed(a, clock, error="ACS unreachable: connection refused (acs-b.example:80)")
    assert settings.get(a.model, "acs-url") == URL_A
    note = a.store.state["last_error"]
    assert note == ("ACS URL %s set by the ACS failed 3 sessions (last: ACS unreachable: connection refused "
                    "(acs-b.example:80)); returned to the last URL that worked, %s" % (URL_B, URL_A))
    assert a.due(clock.mono) and a.retry_count == 0
    s = session(a, clock)
    assert codes(s.events) == ["0 BOOTSTRAP"]   # the URL changed back: the old ACS hears it at once
    assert a.report(clock.mono, clock.wall)["last-session-error"] == note   # still said after success
    settings.put(a.model, "acs-url", URL_A + "2")   # a new choice clears it
    a.settings_changed(clock.mono, clock.wall)
    session(a, clock)
    assert a.store.state["last_error"] == ""


def test_a_password_in_a_url_from_the_acs_is_not_shown():
    a, clock = make()
    session(a, clock)
    secret = "http://cpe:hunter2@acs-b.example/acs"
    session(a, clock, spv(MS + "URL", secret))
    failed(a, clock)
    assert a.report(clock.mono, clock.wall)["url-on-trial"].startswith(
        "http://cpe:********@acs-b.example/acs (1 failed")
    for _ in range(url_trials.MAX_FAILURES - 1):
        failed(a, clock)
    assert settings.get(a.model, "acs-url") == URL_A
    assert "hunter2" not in a.store.state["last_error"]
    assert "http://cpe:********@acs-b.example/acs" in a.store.state["last_error"]


def test_an_operator_url_change_is_tried_at_once_without_trial():
    a, clock = make()
    session(a, clock)
    failed(a, clock)
    settings.put(a.model, "acs-url", URL_B)
    a.settings_changed(clock.mono, clock.wall)
    assert a.due(clock.mono) and codes(a.events.pending()) == ["0 BOOTSTRAP"]
    for _ in range(url_trials.MAX_FAILURES + 1):
        failed(a, clock)
    assert settings.get(a.model, "acs-url") == URL_B


# ---------------------------------------------------------------- notifications

def test_active_notification_is_throttled_and_passive_rides_along():
    a, clock = make()
    session(a, clock, spa(MS + "ConnectionRequestUsername", 2), spa(MS + "UpgradesManaged", 1),
            spv(MS + "DefaultActiveNotificationThrottle", "30", "xsd:unsignedInt"))
    a.poll_notifications(clock.mono)   # the daemon polls after each session: baselines
    a.model.set_local(MS + "UpgradesManaged", "true")
    assert a.poll_notifications(clock.mono) == ([MS + "UpgradesManaged"], [])
    assert not a.due(clock.mono)       # passive: waits for the next session
    a.model.set_local(MS + "ConnectionRequestUsername", "stun1.example")
    assert a.poll_notifications(clock.mono) == ([], [MS + "ConnectionRequestUsername"])
    assert a.due(clock.mono)
    s = session(a, clock)
    assert codes(s.events) == ["4 VALUE CHANGE"]
    assert s.inform_params == [MS + "ConnectionRequestUsername", MS + "UpgradesManaged"]
    clock.advance(10)
    a.model.set_local(MS + "ConnectionRequestUsername", "stun2.example")
    a.poll_notifications(clock.mono)
    assert not a.due(clock.mono)
    assert a.deadline(clock.mono, clock.wall) == pytest.approx(clock.mono + 20)
    clock.advance(20)
    assert a.due(clock.mono)


def test_changes_made_by_the_acs_are_not_notified_back():
    a, clock = make()
    session(a, clock, spa(MS + "ConnectionRequestUsername", 2))
    a.poll_notifications(clock.mono)
    session(a, clock, spv(MS + "ConnectionRequestUsername", "acs.example"))
    assert a.poll_notifications(clock.mono) == ([], [])
    assert not a.due(clock.mono)


def test_a_local_change_of_what_the_acs_set_is_notified_after_its_session():
    # Issue 9.2: the ACS's change is the baseline at its session's end, and no longer exempt.
    a, clock = make()
    x = MS + "ConnectionRequestUsername"
    session(a, clock, spa(x, 2), spv(x, "acs.example"))
    assert a.poll_notifications(clock.mono) == ([], [])
    a.model.set_local(x, "local.example")
    assert a.poll_notifications(clock.mono) == ([], [x])
    assert a.due(clock.mono)
    s = session(a, clock)
    assert codes(s.events) == ["4 VALUE CHANGE"] and s.inform_params == [x]


def test_a_change_seen_during_a_session_keeps_its_event():
    a, clock = make()
    session(a, clock, spa(MS + "UpgradesManaged", 1))
    a.poll_notifications(clock.mono)
    s = a.begin(clock.wall, lambda: "x")
    posts = drive(s, [genieacs(INFORM_RESPONSE), END_204])
    a.model.set_local(MS + "UpgradesManaged", "true")   # after the Inform was built
    a.poll_notifications(clock.mono)
    a.finish(s, URL_A, clock.mono, clock.wall)
    assert parse(posts[0])[1] == "Inform"
    assert codes(a.events.pending()) == ["4 VALUE CHANGE"]
    assert a.watcher.inform_params() == [MS + "UpgradesManaged"]


def held(inner):
    """A GenieACS message with HoldRequests true."""
    status, headers, body = genieacs(inner)
    return status, headers, body.replace("</soap-env:Header>", '<cwmp:HoldRequests soap-env:mustUnderstand="1">'
                                         "1</cwmp:HoldRequests></soap-env:Header>")


def test_what_the_acs_does_not_settle_does_not_loop_sessions():
    from tr069client.session import CpeRequest, transfer_complete
    a, clock = make()
    session(a, clock)
    request = CpeRequest("TransferComplete", transfer_complete("k", 0, "", "2025-11-25T10:00:00Z",
                                                               "2025-11-25T10:00:05Z"), "t1")
    a.cpe_requests.append(lambda: [request])   # never acknowledged in this test
    a.events.add("7 TRANSFER COMPLETE")
    a.events.add("M Download", "k")
    assert a.due(clock.mono)
    for n in (1, 2):   # the ACS holds requests all session, twice
        s = a.begin(clock.wall, lambda: "x")
        posts = drive(s, [held(INFORM_RESPONSE), END_204])
        a.finish(s, URL_A, clock.mono, clock.wall)
        assert s.ok and posts[1] == b"" and s.acknowledged == []
        assert ("7 TRANSFER COMPLETE", "") in a.events.pending()
        # Once more at once after the first; then no loop: the next trigger carries them.
        assert a.due(clock.mono) == (n == 1)
    a.connection_request(in_session=False)
    assert a.due(clock.mono)
    s = session(a, clock)
    assert b"<cwmp:TransferComplete>" in s.posts[1]
    assert not a.due(clock.mono)   # still not acknowledged (this ACS answered 204)


def test_an_active_change_seen_during_a_value_change_session_waits_for_the_throttle():
    a, clock = make()
    session(a, clock, spa(MS + "ConnectionRequestUsername", 2),
            spv(MS + "DefaultActiveNotificationThrottle", "30", "xsd:unsignedInt"))
    a.poll_notifications(clock.mono)
    a.model.set_local(MS + "ConnectionRequestUsername", "one")
    a.poll_notifications(clock.mono)
    s = a.begin(clock.wall, lambda: "x")
    drive(s, [genieacs(INFORM_RESPONSE), END_204])
    a.model.set_local(MS + "ConnectionRequestUsername", "two")   # while the session runs
    a.poll_notifications(clock.mono)
    a.finish(s, URL_A, clock.mono, clock.wall)
    assert codes(a.events.pending()) == ["4 VALUE CHANGE"] and not a.due(clock.mono)
    clock.advance(30)
    assert a.due(clock.mono)


def test_an_empty_url_from_the_acs_is_not_taken():
    a, clock = make()
    session(a, clock, spv(MS + "URL", ""))
    assert settings.get(a.model, "acs-url") == URL_A and not a.due(clock.mono)
    assert a.report(clock.mono, clock.wall)["last-session-error"] == "the ACS set an empty ACS URL; kept %s" % URL_A
