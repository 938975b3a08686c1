"""An applied change is saved before the ACS hears of it (issue 9.9): the engine calls its
`commit` before answering SetParameterValues, SetParameterAttributes, AddObject and
DeleteObject; when commit fails, the change is undone and the answer is fault 9002."""

import copy

import pytest

from tr069client import operations, rpcs
from tr069client.actions import FactoryReset, Reboot, ScheduleInform
from tr069client.provider import Provider

from _engine import END_204, IDENTITY, INFORM_RESPONSE, drive, fault_of, genieacs, make_model, make_session, parse

MS = "Device.ManagementServer."
PM = "Device.NAT.PortMapping."


class Commit:
    """A fake store.save_now: records what would be on disk at each call; fails on demand."""

    def __init__(self, store):
        self.store, self.saved, self.error = store, [], None

    def __call__(self):
        if self.error:
            return self.error
        self.saved.append(copy.deepcopy((self.store.values, self.store.attrs, self.store.state)))
        return None


def run(model, *requests, fail=None, session=None):
    commit = Commit(model.store)
    commit.error = fail
    s = make_session(model, commit=commit, handlers=dict(rpcs.RPCS, **operations.RPCS))
    posts = drive(s, [genieacs(INFORM_RESPONSE)] + [genieacs(r, "r%d" % i) for i, r in enumerate(requests)]
                  + [END_204])
    if session is not None:
        session.append(s)
    return commit, [parse(p) for p in posts[2:]]


def spv(name, value, key="pk", xsd="xsd:string"):
    return ('<cwmp:SetParameterValues><ParameterList><ParameterValueStruct><Name>%s</Name>'
            '<Value xsi:type="%s">%s</Value></ParameterValueStruct></ParameterList>'
            "<ParameterKey>%s</ParameterKey></cwmp:SetParameterValues>" % (name, xsd, value, key))


def spa(name, note):
    return ("<cwmp:SetParameterAttributes><ParameterList><SetParameterAttributesStruct><Name>%s</Name>"
            "<NotificationChange>1</NotificationChange><Notification>%d</Notification>"
            "<AccessListChange>0</AccessListChange></SetParameterAttributesStruct></ParameterList>"
            "</cwmp:SetParameterAttributes>" % (name, note))


def add(table, key="ka"):
    return "<cwmp:AddObject><ObjectName>%s</ObjectName><ParameterKey>%s</ParameterKey></cwmp:AddObject>" % (table, key)


def delete(row, key="kd"):
    return ("<cwmp:DeleteObject><ObjectName>%s</ObjectName><ParameterKey>%s</ParameterKey>"
            "</cwmp:DeleteObject>" % (row, key))


def test_each_change_is_saved_before_it_is_answered():
    m = make_model()
    commit, answers = run(m, spv(MS + "PeriodicInformInterval", "600", "k1", "xsd:unsignedInt"),
                          spa(MS + "PeriodicInformInterval", 1), add(PM, "k2"), delete(PM + "1.", "k3"),
                          "<cwmp:GetRPCMethods/>")
    assert [a[1] for a in answers] == ["SetParameterValuesResponse", "SetParameterAttributesResponse",
                                       "AddObjectResponse", "DeleteObjectResponse", "GetRPCMethodsResponse"]
    (v1, _, _), (_, a2, _), (v3, _, s3), (v4, _, _) = commit.saved   # one save per change, none for reads
    assert v1[MS + "PeriodicInformInterval"] == "600" and v1[MS + "ParameterKey"] == "k1"
    assert a2[MS + "PeriodicInformInterval"] == [1, []]
    assert v3[PM + "1.Enable"] == "false" and v3[MS + "ParameterKey"] == "k2"
    assert s3["next_instance"] == {PM: 2}
    assert PM + "1.Enable" not in v4 and v4[MS + "ParameterKey"] == "k3"


def test_a_set_that_cannot_be_saved_is_undone_and_refused():
    m = make_model()
    before, interval = dict(m.store.values), m.value(MS + "PeriodicInformInterval")
    commit, ((_, method, elem),) = run(m, spv(MS + "PeriodicInformInterval", "600", "k1", "xsd:unsignedInt"),
                                       fail="cannot write /x/state.json: No space left on device")
    assert method == "Fault" and fault_of(elem)[0] == 9002
    assert elem.find(".//FaultString").text == (
        "the change was not made because it could not be saved: cannot write /x/state.json: "
        "No space left on device")
    assert m.store.values == before and m.acs_changed == set()
    assert m.value(MS + "PeriodicInformInterval") == interval and m.value(MS + "ParameterKey") == ""


def test_attributes_and_rows_that_cannot_be_saved_are_undone():
    m = make_model()
    run(m, add(PM, "k1"), spa(PM + "1.Enable", 2))
    values, attrs, counters = dict(m.store.values), dict(m.store.attrs), dict(m.store.state["next_instance"])
    _, answers = run(m, add(PM, "k2"), delete(PM + "1.", "k3"), spa(PM + "1.Enable", 0), fail="disk full")
    assert [fault_of(e)[0] for _, _, e in answers] == [9002, 9002, 9002]
    assert (m.store.values, m.store.attrs, m.store.state["next_instance"]) == (values, attrs, counters)
    assert m.instances(PM) == [1] and m.value("Device.NAT.PortMappingNumberOfEntries") == "1"
    _, ((_, method, elem),) = run(m, add(PM))
    assert elem.find("InstanceNumber").text == "2"   # numbering went on as if nothing had happened


def test_what_a_provider_did_is_undone_through_it_or_named():
    os_values = {"Device.Time.LocalTimeZone": "UTC"}
    rows = {1: "eth0"}

    def add_row(model, table):
        rows[2] = "new"
        return 2, False

    def delete_row(model, row):
        del rows[int(row.split(".")[-2])]
        return False

    time_ = Provider("Device.Time.", lambda m: dict(os_values), set=lambda m, p, v: os_values.update({p: v}))
    nat = Provider(PM, lambda m: {PM + "%d.Description" % n: d for n, d in rows.items()},
                   add=add_row, delete=delete_row, can_set=lambda p: False)
    m = make_model(providers=[Provider("Device.DeviceInfo.", lambda m: dict(IDENTITY)), time_, nat])
    _, answers = run(m, spv("Device.Time.LocalTimeZone", "CET-1"), add(PM), delete(PM + "1."),
                     fail="read-only file system")
    assert [fault_of(e)[0] for _, _, e in answers] == [9002, 9002, 9002]
    assert os_values == {"Device.Time.LocalTimeZone": "UTC"}   # set back
    assert rows == {}                                           # the added row deleted again...
    assert answers[2][2].find(".//FaultString").text.endswith(  # ...but a deleted one is gone
        "read-only file system; not undone: Device.NAT.PortMapping.1. was removed from the system")
    assert m.value(MS + "ParameterKey") == "" and list(m.instances(PM)) == []


def test_schedule_inform_reboot_and_factory_reset_are_saved_before_they_are_accepted():
    # Issue 11.3, found by the kill loop: the work these leave for the session's end was only in
    # memory, so a power cut after the ACS heard "accepted" lost it. Now each is on disk first
    # (device.py runs what a cut left at the next start); not saved, it is refused with 9002.
    m = make_model()
    m.store.state["boot_id"] = "b-1"
    requests = ("<cwmp:ScheduleInform><DelaySeconds>30</DelaySeconds><CommandKey>s1</CommandKey></cwmp:ScheduleInform>",
                "<cwmp:Reboot><CommandKey>r1</CommandKey></cwmp:Reboot>", "<cwmp:FactoryReset/>")
    sessions = []
    commit, answers = run(m, *requests, session=sessions)
    assert [method for _, method, _ in answers] == ["ScheduleInformResponse", "RebootResponse", "FactoryResetResponse"]
    assert [saved[2]["deferred"] for saved in commit.saved] == [
        [["ScheduleInform", [30, "s1"], "b-1"]],
        [["ScheduleInform", [30, "s1"], "b-1"], ["Reboot", ["r1"], "b-1"]],
        [["ScheduleInform", [30, "s1"], "b-1"], ["Reboot", ["r1"], "b-1"], ["FactoryReset", [], "b-1"]]]
    assert sessions[0].actions == [ScheduleInform(30, "s1"), Reboot("r1"), FactoryReset()]
    m = make_model()
    commit, answers = run(m, *requests, fail="disk full", session=sessions)
    assert [(method, fault_of(e)[0]) for _, method, e in answers] == [("Fault", 9002)] * 3
    assert answers[0][2].find(".//FaultString").text == \
        "the ScheduleInform was not accepted because it could not be saved: disk full"
    assert "deferred" not in m.store.state and commit.saved == [] and sessions[1].actions == []


def test_a_refused_hold_forgets_its_own_note_not_an_older_one():
    # Found by the fuzzer: FactoryReset accepted, ScheduleInform accepted, a second FactoryReset
    # refused (9002) took the first one's note away, so memory and disk disagreed on the order
    # (after a power cut, the FactoryReset would have wiped the ScheduleInform).
    m = make_model()
    calls = []

    class FailsThird(Commit):
        def __call__(self):
            calls.append(1)
            self.error = "disk full" if len(calls) == 3 else None
            return Commit.__call__(self)
    commit = FailsThird(m.store)
    s = make_session(m, commit=commit, handlers=dict(rpcs.RPCS, **operations.RPCS))
    si = "<cwmp:ScheduleInform><DelaySeconds>30</DelaySeconds><CommandKey>s1</CommandKey></cwmp:ScheduleInform>"
    drive(s, [genieacs(INFORM_RESPONSE)] + [genieacs(r) for r in ("<cwmp:FactoryReset/>", si, "<cwmp:FactoryReset/>")]
          + [END_204])
    assert s.actions == [FactoryReset(), ScheduleInform(30, "s1")]
    assert m.store.state["deferred"] == commit.saved[-1][2]["deferred"] == [
        ["FactoryReset", [], None], ["ScheduleInform", [30, "s1"], None]]


def test_a_refused_change_leaves_no_work_for_the_session_s_end():
    # Undone and answered 9002, a change must not be applied (nor a test settled) after all.
    applied = []
    time_ = Provider("Device.Time.", lambda m: {"Device.Time.LocalTimeZone": "UTC"},
                     set=lambda m, p, v: True, apply=applied.append)
    m = make_model(providers=[Provider("Device.DeviceInfo.", lambda m: dict(IDENTITY)), time_])
    sessions = []
    _, answers = run(m, spv("Device.Time.LocalTimeZone", "CET-1"), fail="disk full", session=sessions)
    assert [fault_of(e)[0] for _, _, e in answers] == [9002]
    assert sessions[0].actions == []
    sessions = []
    run(m, spv("Device.Time.LocalTimeZone", "CET-1"), session=sessions)   # saved: applied at the end
    assert [type(a).__name__ for a in sessions[0].actions] == ["ApplyChanges"]
