"""The event queue's retention rules (TR-069 3.7.1.5, the notes' table); no I/O."""

from tr069client import events as ev
from tr069client.store import Store


def queue(*codes):
    q = ev.EventQueue(Store())
    for c in codes:
        q.add(*c) if isinstance(c, tuple) else q.add(c)
    return q


def test_single_events_once_m_events_per_command_key():
    q = queue(ev.PERIODIC, ev.PERIODIC, (ev.M_SCHEDULE_INFORM, "a"), (ev.M_SCHEDULE_INFORM, "a"),
              (ev.M_SCHEDULE_INFORM, "b"))
    assert q.items == [["2 PERIODIC", ""], ["M ScheduleInform", "a"], ["M ScheduleInform", "b"]]


def test_bootstrap_goes_first_and_m_events_last():
    q = queue((ev.M_REBOOT, "k"), ev.VALUE_CHANGE, ev.BOOT, ev.BOOTSTRAP, ev.HEARTBEAT)
    assert [c for c, _ in q.pending()] == ["0 BOOTSTRAP", "1 BOOT", "4 VALUE CHANGE", "14 HEARTBEAT", "M Reboot"]


def test_a_failed_session_drops_only_connection_request_and_heartbeat():
    q = queue(ev.BOOTSTRAP, ev.BOOT, ev.PERIODIC, ev.SCHEDULED, (ev.M_SCHEDULE_INFORM, "s"), ev.VALUE_CHANGE,
              ev.CONNECTION_REQUEST, ev.TRANSFER_COMPLETE, (ev.M_DOWNLOAD, "d"), (ev.M_REBOOT, "r"),
              ev.HEARTBEAT)
    sent = q.pending()
    q.session_failed(sent, informed=False)
    assert sorted(c for c, _ in q.items) == sorted(["0 BOOTSTRAP", "1 BOOT", "2 PERIODIC", "3 SCHEDULED",
                                                    "M ScheduleInform", "4 VALUE CHANGE",
                                                    "7 TRANSFER COMPLETE", "M Download", "M Reboot"])


def test_a_connection_request_raised_after_the_inform_is_kept():
    q = queue(ev.BOOT)
    sent = q.pending()
    q.add(ev.CONNECTION_REQUEST)
    q.session_failed(sent, informed=False)
    assert q.has(ev.CONNECTION_REQUEST)


def test_delivery_keeps_transfer_events_until_acknowledged():
    q = queue(ev.BOOT, ev.TRANSFER_COMPLETE, (ev.M_DOWNLOAD, "d1"), (ev.M_UPLOAD, "u1"))
    q.delivered(q.pending())
    assert sorted(c for c, _ in q.items) == ["7 TRANSFER COMPLETE", "M Download", "M Upload"]
    q.transfer_acknowledged("Download", "d1", more_pending=True)
    assert sorted(c for c, _ in q.items) == ["7 TRANSFER COMPLETE", "M Upload"]
    q.transfer_acknowledged("Upload", "u1", more_pending=False)
    assert q.items == []


def test_a_full_queue_sheds_schedule_informs_but_keeps_the_rest():
    q = ev.EventQueue(Store())
    for i in range(ev.MAX_EVENTS):
        assert q.add(ev.M_SCHEDULE_INFORM, "k%d" % i)
    assert not q.add(ev.M_SCHEDULE_INFORM, "one-too-many")
    assert q.add(ev.BOOTSTRAP)
    assert len(q.items) == ev.MAX_EVENTS and q.has(ev.BOOTSTRAP)
    assert ["M ScheduleInform", "k0"] not in q.items and ["M ScheduleInform", "k1"] in q.items


def test_events_retention():
    q = ev.EventQueue(Store())
    for code in ("0 BOOTSTRAP", "1 BOOT", "6 CONNECTION REQUEST", "2 PERIODIC"):
        q.add(code)
    assert not q.add("1 BOOT")
    q.add("M Reboot", "k1")
    q.add("M Download", "d1")
    q.add("7 TRANSFER COMPLETE")
    sent = q.pending()
    assert [c for c, _ in sent][:4] == ["0 BOOTSTRAP", "1 BOOT", "2 PERIODIC", "6 CONNECTION REQUEST"]
    q.session_failed(sent, informed=False)
    assert not q.has("6 CONNECTION REQUEST") and q.has("0 BOOTSTRAP") and q.has("M Reboot")
    q.add("4 VALUE CHANGE")  # raised during the session: not part of what was sent
    q.delivered(sent)
    assert sorted(c for c, _ in q.items) == ["4 VALUE CHANGE", "7 TRANSFER COMPLETE", "M Download"]
    q.transfer_acknowledged("Download", "d1", more_pending=False)
    assert [c for c, _ in q.items] == ["4 VALUE CHANGE"]
