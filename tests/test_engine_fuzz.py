"""A fixed-seed slice of tools/fuzz_engine.py (issues 11.2, 15.8): whatever the ACS sends, in
cwmp-1-0, 1-1 and 1-2, no exception escapes the engine, every message it sends is valid in the
namespace it must be in, and its state stays valid; and the fuzzer sees each kind of problem."""

import json

import fuzz_checks
import fuzz_engine
from tr069client import rpcs, soap


def test_a_fixed_seed_slice_finds_nothing():
    report = fuzz_engine.fuzz(seed=1, count=2500, sample=0.2)
    assert report.problems == {}, "\n".join("%s x%d: %s\n%s" % (p["kind"], p["count"], sig, p["detail"])
                                            for sig, p in report.problems.items())
    # Every position of a session and every source of messages was exercised.
    assert {k.split(":")[0] for k in report.sources} == {"inform", "cpe", "acs"}
    assert {k.split(": ")[1] for k in report.sources if k.startswith("acs")} >= {
        "generated", "tree-mutated", "byte-mutated", "end", "http-status", "wrong-place"}
    assert report.outcomes["session done"] and report.outcomes["answer SetParameterValuesResponse"]
    assert report.counts["validated: new shape"] and report.counts["reload checks"]


def test_the_invariant_on_answers_sees_a_wrong_namespace_and_an_unknown_element():
    schemas = fuzz_checks.cwmp_schema.load_schemas()
    ns10, ns12 = soap.CWMP_NAMESPACES[0], soap.CWMP_NAMESPACES[2]
    answer = b"".join(soap.envelope(ns10, "x", ["<cwmp:CancelTransferResponse/>"]))
    assert any("unknown element" in p for p in fuzz_checks.answer_problems(ns10, answer, schemas))
    answer = b"".join(soap.envelope(ns12, "x", ["<cwmp:GetRPCMethodsResponse>" + soap.array(
        "MethodList", "xsd:string", ["<string>Inform</string>"]) + "</cwmp:GetRPCMethodsResponse>"]))
    assert fuzz_checks.answer_problems(ns10, answer, schemas) == ["answered outside %s" % ns10]
    request = b'<Envelope xmlns:c="%s"><Header><c:ID>1</c:ID></Header><Body><GetRPCMethods/></Body></Envelope>'
    assert fuzz_checks.expected_namespace(ns12, request % ns10.encode()) == ns10
    assert fuzz_checks.expected_namespace(ns12, b"<not xml") is None


def test_an_escaping_exception_is_found_with_a_minimal_reproducer(monkeypatch, tmp_path):
    def broken(ctx, req):
        if soap.text(req, "ParameterKey") == "boom":
            raise KeyError("boom")
        return rpcs.add_object(ctx, req)
    monkeypatch.setitem(rpcs.RPCS, "AddObject", broken)
    monkeypatch.setattr(fuzz_engine.Messages, "_text", lambda self, name: "boom" if name == "ParameterKey" else
                        self.rng.choice(["Device.NAT.PortMapping.", "1"]))
    report = fuzz_engine.fuzz(seed=3, count=1500, sample=0.0, out=str(tmp_path))
    sig = "KeyError in session._handle"   # the innermost frame of tr069client
    assert sig in report.problems, report.problems.keys()
    with open(report.problems[sig]["file"]) as f:
        repro = json.load(f)
    sessions = fuzz_engine._decode(repro["sessions"])
    assert len(sessions) == 1 and b"boom" in sessions[0]["steps"][-1][2]
    assert len(sessions[0]["steps"][-1][2]) < 400     # cut down from 600 bytes and more
    assert [s for _, s, _ in fuzz_engine.replay(sessions, fuzz_checks.cwmp_schema.load_schemas())] == [sig]


def test_a_state_that_is_no_json_and_a_wrong_count_are_found():
    engine = fuzz_checks.Engine()
    engine.store.state["bad"] = {1, 2}
    assert "TypeError" in fuzz_checks.store_problems(engine)[0][0]
    engine.store.state["bad"] = float("nan")
    assert "NaN is not JSON" in fuzz_checks.store_problems(engine)[0][0]
    del engine.store.state["bad"]
    assert fuzz_checks.store_problems(engine)[0] == [] and fuzz_checks.model_problems(engine) == []
    engine.model.add_object("Device.NAT.PortMapping.", None)
    engine.model.values()["Device.NAT.PortMappingNumberOfEntries"] = "2"
    assert fuzz_checks.model_problems(engine) == ["Device.NAT.PortMappingNumberOfEntries is 2, the table has 1 rows"]
    assert "after a reload Device.NAT.PortMappingNumberOfEntries differs" in fuzz_checks.reload_problems(engine, engine.store.encode())[0]
    engine.store.values["Device.NAT.PortMapping.7.Enable"] = "maybe"
    assert fuzz_checks.model_problems(engine)[:2] == [
        "stored value of Device.NAT.PortMapping.7.Enable, whose object does not exist",
        'stored value of Device.NAT.PortMapping.7.Enable is invalid: "maybe" is not a boolean (true, false, 1 or 0)']


def test_a_password_in_the_debug_trace_is_found(monkeypatch):
    # A redactor by pattern (the one before issue 11.5) misses a Value before its Name, a Name
    # with a prefix, a Password with an xsi:type and a password in a URL.
    import re
    monkeypatch.setattr(fuzz_checks.redact, "soap_text", lambda body: re.sub(
        r"(<Password>)[^<]*", r"\1[redacted]", body.decode("utf-8", "replace")))
    report = fuzz_engine.fuzz(seed=1, count=1000, sample=0.0)
    assert set(report.problems) == {"a password shows in the debug trace"}


def test_an_action_a_power_cut_loses_is_found(monkeypatch):
    # The cuts between sessions' answers and their ends see what a start no longer carries out.
    from tr069client import actions
    monkeypatch.setattr(actions, "hold", lambda store, action, boot_id: None)
    report = fuzz_engine.fuzz(seed=2, count=5000, sample=0.0)
    assert {"a Reboot answered before a cut was lost", "a ScheduleInform answered before a cut was lost",
            "a FactoryReset answered before a cut did not happen"} <= set(report.problems)
