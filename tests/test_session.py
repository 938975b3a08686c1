"""The session engine driven with literal SOAP in the styles of real ACSs; no sockets."""

import pytest

from tr069client import session as sess, soap

from _engine import (END_204, END_EMPTY_200, INFORM_RESPONSE, NS10, NS12, bare, drive, fault_of,
                     freeacs, genieacs, make_model, make_session, openacs, parse, values_of)

FORCED = ["Device.RootDataModelVersion", "Device.DeviceInfo.HardwareVersion",
          "Device.DeviceInfo.SoftwareVersion", "Device.DeviceInfo.ProvisioningCode",
          "Device.ManagementServer.ParameterKey", "Device.ManagementServer.ConnectionRequestURL",
          "Device.ManagementServer.AliasBasedAddressing"]


def test_inform_carries_device_id_events_and_forced_parameters():
    s = make_session(retry_count=3)
    posts = drive(s, [genieacs(INFORM_RESPONSE), END_204])
    msg_id, method, inform = parse(posts[0])
    assert method == "Inform" and msg_id == "cpe-1"
    assert b'xmlns:cwmp="urn:dslforum-org:cwmp-1-0"' in posts[0]
    dev = inform.find("DeviceId")
    assert [dev.find(k).text for k in ("Manufacturer", "OUI", "ProductClass", "SerialNumber")] == \
        ["Acme", "00D0C9", "Router", "SN0001"]
    assert [e.find("EventCode").text for e in inform.find("Event")] == ["0 BOOTSTRAP", "1 BOOT"]
    assert inform.find("MaxEnvelopes").text == "1"
    assert inform.find("RetryCount").text == "3"
    assert inform.find("CurrentTime").text == "2026-11-25T10:00:00Z"
    params = values_of(inform)
    assert sorted(params) == sorted(FORCED)
    assert params["Device.RootDataModelVersion"] == ("2.19", "xsd:string")
    assert params["Device.DeviceInfo.HardwareVersion"] == ("HW1", "xsd:string")
    assert params["Device.ManagementServer.AliasBasedAddressing"][1] == "xsd:boolean"
    assert posts[1] == b""  # the empty POST
    assert s.done and s.ok and s.informed and s.error is None


def test_genieacs_provisioning_session():
    model = make_model()
    s = make_session(model)
    answers = [
        genieacs(INFORM_RESPONSE, "1"),
        genieacs("<cwmp:GetParameterNames><ParameterPath>Device.NAT.</ParameterPath>"
                 "<NextLevel>0</NextLevel></cwmp:GetParameterNames>", "2"),
        genieacs('<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[2]">'
                 "<string>Device.DeviceInfo.UpTime</string><string>Device.ManagementServer.</string>"
                 "</ParameterNames></cwmp:GetParameterValues>", "3"),
        genieacs("<cwmp:AddObject><ObjectName>Device.NAT.PortMapping.</ObjectName>"
                 "<ParameterKey>key-add</ParameterKey></cwmp:AddObject>", "4"),
        genieacs('<cwmp:SetParameterValues><ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[3]">'
                 '<ParameterValueStruct><Name>Device.NAT.PortMapping.1.Enable</Name>'
                 '<Value xsi:type="xsd:boolean">true</Value></ParameterValueStruct>'
                 '<ParameterValueStruct><Name>Device.NAT.PortMapping.1.ExternalPort</Name>'
                 '<Value xsi:type="xsd:unsignedInt">8080</Value></ParameterValueStruct>'
                 '<ParameterValueStruct><Name>Device.NAT.PortMapping.1.Description</Name>'
                 '<Value xsi:type="xsd:string">web &amp; co &lt;1&gt;</Value></ParameterValueStruct>'
                 "</ParameterList><ParameterKey>key-spv</ParameterKey></cwmp:SetParameterValues>", "5"),
        genieacs('<cwmp:SetParameterAttributes><ParameterList soap-enc:arrayType="cwmp:SetParameterAttributesStruct[1]">'
                 "<SetParameterAttributesStruct><Name>Device.NAT.PortMapping.1.Description</Name>"
                 "<NotificationChange>false</NotificationChange><Notification></Notification>"
                 "<AccessListChange>true</AccessListChange>"
                 '<AccessList soap-enc:arrayType="xsd:string[1]"><string>Subscriber</string></AccessList>'
                 "</SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>", "6"),
        END_204,
    ]
    posts = drive(s, answers)
    assert [parse(p)[:2] for p in posts[2:]] == [
        ("2", "GetParameterNamesResponse"), ("3", "GetParameterValuesResponse"),
        ("4", "AddObjectResponse"), ("5", "SetParameterValuesResponse"),
        ("6", "SetParameterAttributesResponse")]
    names = {s_.find("Name").text: s_.find("Writable").text for s_ in parse(posts[2])[2].iter("ParameterInfoStruct")}
    assert names["Device.NAT."] == "false"
    assert names["Device.NAT.PortMapping."] == "true"   # GenieACS adds only to writable tables
    assert names["Device.NAT.PortMappingNumberOfEntries"] == "false"
    values = values_of(parse(posts[3])[2])
    assert values["Device.DeviceInfo.UpTime"] == ("1234", "xsd:unsignedInt")
    assert values["Device.ManagementServer.Password"] == ("", "xsd:string")   # secured
    add = parse(posts[4])[2]
    assert (add.find("InstanceNumber").text, add.find("Status").text) == ("1", "0")
    assert parse(posts[5])[2].find("Status").text == "0"
    assert model.value("Device.NAT.PortMapping.1.Description") == "web & co <1>"
    assert model.value("Device.NAT.PortMapping.1.Enable") == "true"
    assert model.value("Device.NAT.PortMappingNumberOfEntries") == "1"
    assert model.value("Device.ManagementServer.ParameterKey") == "key-spv"
    assert model.store.attrs["Device.NAT.PortMapping.1.Description"] == [0, ["Subscriber"]]
    assert s.ok and s.methods == ["GetParameterNames", "GetParameterValues", "AddObject",
                                  "SetParameterValues", "SetParameterAttributes"]


def test_freeacs_vendor_config_file_gpv_gives_empty_list_and_204():
    s = make_session()
    posts = drive(s, [
        freeacs(INFORM_RESPONSE),
        freeacs('<cwmp:GetParameterValues><ParameterNames SOAP-ENC:arrayType="xsd:string[1]">'
                "<string>Device.DeviceInfo.VendorConfigFile.</string></ParameterNames>"
                "</cwmp:GetParameterValues>", "FREEACS-2"),
        END_204])
    msg_id, method, resp = parse(posts[2])
    assert (msg_id, method) == ("FREEACS-2", "GetParameterValuesResponse")
    plist = resp.find("ParameterList")
    assert len(plist) == 0
    assert plist.get("{http://schemas.xmlsoap.org/soap/encoding/}arrayType") == "cwmp:ParameterValueStruct[0]"
    assert s.ok


def test_openacs_no_more_requests_is_ignored():
    s = make_session()
    posts = drive(s, [
        openacs(INFORM_RESPONSE),
        openacs("<cwmp:GetRPCMethods></cwmp:GetRPCMethods>", "77"),
        END_204])
    msg_id, method, resp = parse(posts[2])
    assert (msg_id, method) == ("77", "GetRPCMethodsResponse")
    methods = [x.text for x in resp.find("MethodList")]
    assert "GetParameterValues" in methods and "Download" not in methods
    assert s.ok


def test_empty_200_ends_the_session_like_204():
    s = make_session()
    drive(s, [genieacs(INFORM_RESPONSE), END_EMPTY_200])
    assert s.ok and s.done


def test_default_namespace_without_header_is_answered_in_the_acs_namespace():
    s = make_session()
    posts = drive(s, [
        bare('<InformResponse xmlns="%s"><MaxEnvelopes>1</MaxEnvelopes></InformResponse>' % NS12),
        bare('<GetParameterValues xmlns="%s"><ParameterNames><string>Device.DeviceInfo.SerialNumber'
             "</string></ParameterNames></GetParameterValues>" % NS12),
        END_204])
    assert b'xmlns:cwmp="%s"' % NS12.encode() in posts[2]
    assert values_of(parse(posts[2])[2]) == {"Device.DeviceInfo.SerialNumber": ("SN0001", "xsd:string")}


def test_each_request_answered_in_its_own_namespace():
    s = make_session()
    posts = drive(s, [
        genieacs(INFORM_RESPONSE, ns=NS10),
        genieacs("<cwmp:GetRPCMethods/>", "a", ns=NS12),
        END_204])
    assert b'xmlns:cwmp="%s"' % NS12.encode() in posts[2]


def test_faults_for_unknown_method_names_and_values():
    model = make_model()
    enable_before = model.value("Device.ManagementServer.PeriodicInformEnable")
    s = make_session(model)
    posts = drive(s, [
        genieacs(INFORM_RESPONSE),
        genieacs("<cwmp:X_ACME_Frobnicate/>", "f1"),
        genieacs('<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[1]">'
                 "<string>Device.NoSuchThing</string></ParameterNames></cwmp:GetParameterValues>", "f2"),
        genieacs('<cwmp:SetParameterValues><ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[3]">'
                 '<ParameterValueStruct><Name>Device.ManagementServer.PeriodicInformInterval</Name>'
                 '<Value xsi:type="xsd:unsignedInt">0</Value></ParameterValueStruct>'
                 '<ParameterValueStruct><Name>Device.DeviceInfo.UpTime</Name>'
                 '<Value xsi:type="xsd:unsignedInt">5</Value></ParameterValueStruct>'
                 '<ParameterValueStruct><Name>Device.ManagementServer.PeriodicInformEnable</Name>'
                 '<Value xsi:type="xsd:boolean">%s</Value></ParameterValueStruct>'
                 "</ParameterList><ParameterKey>bad</ParameterKey></cwmp:SetParameterValues>"
                 % ("0" if enable_before == "true" else "1"), "f3"),
        END_204])
    assert fault_of(parse(posts[2])[2]) == (9000, [])
    assert fault_of(parse(posts[3])[2]) == (9005, [])
    code, details = fault_of(parse(posts[4])[2])
    assert code == 9003
    assert details == [("Device.ManagementServer.PeriodicInformInterval", 9007),
                       ("Device.DeviceInfo.UpTime", 9008)]
    # All or nothing: the valid third parameter was not applied, the key not stored.
    assert model.value("Device.ManagementServer.PeriodicInformEnable") == enable_before
    assert model.value("Device.ManagementServer.ParameterKey") == ""
    assert b"<faultcode>Client</faultcode>" in posts[4]


@pytest.mark.parametrize("answer, fragment", [
    ((200, {}, b"<soap-env:Envelope><unclosed>"), "malformed XML"),
    ((200, {}, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
      b"<x>&b;</x>"), "forbidden XML"),
    ((200, {}, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'),
     "forbidden XML"),
    ((200, {}, b"<html><body>Welcome to nginx</body></html>"), "not a SOAP envelope"),
    ((500, {}, b"oops"), "HTTP 500"),
    ((204, {}, b""), "without answering the Inform"),
])
def test_bad_answers_to_the_inform_end_the_session_with_a_clear_error(answer, fragment):
    s = make_session()
    drive(s, [answer])
    assert s.done and not s.ok and not s.informed
    assert fragment in s.error


def test_malformed_acs_request_mid_session_fails_cleanly():
    s = make_session()
    drive(s, [genieacs(INFORM_RESPONSE), (200, {}, b"<soap-env:Envelope><soap-env:Body:Fault>")])
    assert not s.ok and s.informed and "malformed XML" in s.error


def _fed(answer, limits, piece=64):
    """`answer` with its body fed to a soap.Reader in pieces, as the transport does."""
    reader, body = soap.Reader(limits), answer[2].encode()
    for i in range(0, len(body), piece):
        reader.feed(body[i:i + piece])
    return answer[0], answer[1], reader


def test_a_request_over_a_budget_is_answered_with_fault_9004_and_the_session_goes_on():
    s = make_session()
    deep = genieacs("<cwmp:GetParameterValues><ParameterNames>%s</ParameterNames></cwmp:GetParameterValues>"
                    % ("<a>" * 100), "deep-1")
    posts = drive(s, [genieacs(INFORM_RESPONSE), _fed(deep, soap.LIMITS._replace(depth=8)), END_204])
    msg_id, method, fault = parse(posts[2])
    assert (msg_id, method, fault_of(fault)) == ("deep-1", "Fault", (9004, []))
    assert b"GetParameterValues refused: a message nested deeper than 8 elements" in posts[2]
    assert s.ok and s.methods == ["GetParameterValues"]


@pytest.mark.parametrize("informed", [False, True])
def test_a_message_over_a_budget_before_its_request_ends_the_session(informed):
    wide = genieacs(INFORM_RESPONSE if not informed else "<cwmp:GetRPCMethods/>")
    wide = (200, {}, wide[2].replace("<soap-env:Envelope ", "<soap-env:Envelope%s " % "".join(
        ' a%d="1"' % i for i in range(99000))))
    s = make_session()
    drive(s, ([genieacs(INFORM_RESPONSE)] if informed else []) + [wide])
    assert s.done and not s.ok and s.informed == informed
    assert s.error == "ACS sent a message with more than 64 attributes on one element"


def test_inform_fault_is_a_failed_session():
    s = make_session()
    drive(s, [genieacs("<soap-env:Fault><faultcode>Server</faultcode><faultstring>CWMP fault</faultstring>"
                       "<detail><cwmp:Fault><FaultCode>8005</FaultCode><FaultString>Retry request</FaultString>"
                       "</cwmp:Fault></detail></soap-env:Fault>")])
    assert not s.ok and s.error == "ACS refused the Inform with fault 8005: Retry request"


def test_503_with_retry_after():
    s = make_session()
    drive(s, [(503, {"retry-after": "60"}, b"")])
    assert not s.ok and s.retry_after == 60 and "overloaded" in s.error


def _tc(token="t1"):
    return sess.CpeRequest("TransferComplete", sess.transfer_complete("ck", 0, "", "2026-11-25T10:00:00Z",
                                                                      "2026-11-25T10:01:00Z"), token)


def test_cpe_request_sent_after_inform_response_and_acknowledged():
    s = make_session(cpe_requests=[_tc()])
    posts = drive(s, [genieacs(INFORM_RESPONSE),
                      genieacs("<cwmp:TransferCompleteResponse/>"),
                      END_204])
    assert parse(posts[1])[1] == "TransferComplete"
    assert posts[2] == b"" and s.acknowledged == ["t1"]


def test_hold_requests_keeps_cpe_requests_back():
    s = make_session(cpe_requests=[_tc()])
    held = genieacs(INFORM_RESPONSE)
    held = (200, {}, held[2].replace('</cwmp:ID>', '</cwmp:ID><cwmp:HoldRequests soap-env:mustUnderstand="1">'
                                     'true</cwmp:HoldRequests>'))
    posts = drive(s, [held, END_204])
    assert posts[1] == b"" and s.acknowledged == [] and s.ok


def test_genieacs_malformed_fault_to_unknown_cpe_method_is_not_a_crash():
    s = make_session(cpe_requests=[_tc()])
    posts = drive(s, [genieacs(INFORM_RESPONSE),
                      (200, {}, b'<soap-env:Envelope><soap-env:Body><soap-env:Body:Fault><faultcode>Client'),
                      END_204])
    assert posts[2] == b"" and s.ok and s.acknowledged == []


def test_unescaped_ampersand_in_download_url_is_repaired():
    from tr069client import soap
    msg = soap.parse(genieacs("<cwmp:Download><URL>http://fs/f?a=1&b=2</URL></cwmp:Download>")[2].encode())
    assert msg.method == "Download" and soap.text(msg.elem, "URL") == "http://fs/f?a=1&b=2"


def test_values_with_control_characters_are_scrubbed():
    model = make_model(values={"Device.DeviceInfo.ProvisioningCode": "a\x01b\x1fc&d"})
    s = make_session(model)
    posts = drive(s, [genieacs(INFORM_RESPONSE), END_204])
    assert values_of(parse(posts[0])[2])["Device.DeviceInfo.ProvisioningCode"][0] == "abc&d"


def test_next_post_after_done_is_none_and_misuse_raises():
    s = make_session()
    drive(s, [genieacs(INFORM_RESPONSE), END_204])
    assert s.next_post() is None
    with pytest.raises(RuntimeError):
        s.receive(200, {}, b"")


@pytest.mark.parametrize("value, seconds", [("\u00b2", None), ("9" * 5000, None), ("9999999999", 86400)])
def test_an_odd_retry_after_is_ignored_or_capped(value, seconds):
    s = make_session()
    drive(s, [(503, {"retry-after": value}, b"")])
    assert not s.ok and "overloaded" in s.error and s.retry_after == seconds


def test_inform_lists_each_parameter_once_in_first_seen_order():
    extra = ["Device.DeviceInfo.UpTime", "Device.DeviceInfo.HardwareVersion", "Device.DeviceInfo.UpTime",
             "Device.NoSuch.Thing"]
    s = make_session(inform_params=extra)
    posts = drive(s, [genieacs(INFORM_RESPONSE), END_204])
    names = [n.text for n in parse(posts[0])[2].iter("Name")]
    assert names == FORCED + ["Device.DeviceInfo.UpTime"]


def test_the_log_line_counts_repeated_requests():
    s = make_session()
    gpv = ('<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[1]">'
           "<string>Device.DeviceInfo.UpTime</string></ParameterNames></cwmp:GetParameterValues>")
    drive(s, [genieacs(INFORM_RESPONSE)] + [genieacs(gpv, "g%d" % i) for i in range(3)]
          + [genieacs("<cwmp:GetRPCMethods/>", "r"), END_204])
    assert s.summary == ("session done (0 BOOTSTRAP, 1 BOOT); ACS asked: GetParameterValues x3, "
                         "GetRPCMethods")


# --- which methods each namespace has (issues 9.2, 15.8) -----------------------------------------

NS11 = "urn:dslforum-org:cwmp-1-1"


def _device_session(ns):
    import fuzz_checks
    engine = fuzz_checks.Engine()
    return engine.session({"ns": ns, "events": [("1 BOOT", "")], "cpe": []}), engine.handlers


@pytest.mark.parametrize("ns", [NS10, NS11, NS12])
def test_get_rpc_methods_lists_exactly_what_the_session_accepts(ns):
    s, handlers = _device_session(ns)
    posts = drive(s, [genieacs(INFORM_RESPONSE, ns=ns), genieacs("<cwmp:GetRPCMethods/>", ns=ns)]
                  + [genieacs("<cwmp:%s/>" % m, "m-%s" % m, ns=ns) for m in sorted(handlers)] + [END_204])
    listed = [x.text for x in parse(posts[2])[2].find("MethodList")]
    refused = [m for m, p in zip(sorted(handlers), posts[3:]) if parse(p)[1] == "Fault"
               and fault_of(parse(p)[2])[0] == 9000]
    assert sorted(listed) == sorted(set(handlers) - set(refused))
    assert ("GetAllQueuedTransfers" in listed) == (ns != NS10)
    assert ("CancelTransfer" in listed) == (ns == NS12)


def test_a_request_in_a_foreign_namespace_is_judged_in_the_namespace_of_its_answer():
    # The answer goes out in the envelope's cwmp namespace (here the ID header's, cwmp-1-0),
    # so cwmp-1-0 decides whether CancelTransfer exists, not the element's own namespace.
    s, _ = _device_session(NS10)
    posts = drive(s, [genieacs(INFORM_RESPONSE), genieacs(
        '<x:CancelTransfer xmlns:x="urn:example:other"><CommandKey>k</CommandKey></x:CancelTransfer>', "c1"),
        END_204])
    assert b'xmlns:cwmp="%s"' % NS10.encode() in posts[2]
    assert fault_of(parse(posts[2])[2]) == (9000, [])
    assert b"CancelTransfer is not part of urn:dslforum-org:cwmp-1-0" in posts[2]
