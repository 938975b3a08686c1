"""Tests of the lab ACS (tools/lab_acs.py), driven by a minimal hand-written CPE."""

import hashlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

import lab_acs as la
from conftest import REPO

NS = "urn:dslforum-org:cwmp-1-2"
ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="{ns}">'
    '<SOAP-ENV:Header><cwmp:ID SOAP-ENV:mustUnderstand="1">{id}</cwmp:ID></SOAP-ENV:Header>'
    '<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>')


def envelope(body, msg_id, ns=NS):
    return ENVELOPE.format(ns=ns, id=msg_id, body=body).encode("utf-8")


def pvs_list(values):
    return ('<ParameterList SOAP-ENC:arrayType="cwmp:ParameterValueStruct[%d]">%s'
            '</ParameterList>' % (len(values), "".join(
                '<ParameterValueStruct><Name>%s</Name><Value xsi:type="%s">%s</Value>'
                '</ParameterValueStruct>' % v for v in values)))


def inform(events=(("1 BOOT", ""),), oui="00D09E", serial="SN0001", ns=NS, msg_id="cpe-1"):
    ev = "".join("<EventStruct><EventCode>%s</EventCode><CommandKey>%s</CommandKey>"
                 "</EventStruct>" % e for e in events)
    body = ('<cwmp:Inform><DeviceId><Manufacturer>Acme</Manufacturer><OUI>%s</OUI>'
            '<ProductClass>Router</ProductClass><SerialNumber>%s</SerialNumber></DeviceId>'
            '<Event SOAP-ENC:arrayType="cwmp:EventStruct[%d]">%s</Event>'
            '<MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2024-05-01T10:00:00Z</CurrentTime>'
            '<RetryCount>0</RetryCount>%s</cwmp:Inform>' % (
                oui, serial, len(events), ev, pvs_list([
                    ("Device.RootDataModelVersion", "xsd:string", "2.19"),
                    ("Device.DeviceInfo.SoftwareVersion", "xsd:string", "1.0")])))
    return envelope(body, msg_id, ns)


class MiniCpe:
    """Just enough CPE to drive the lab ACS by hand: one kept-alive connection,
    cookie replay, and a Digest answer with its own nonce count."""

    def __init__(self, url, username="acs-user", password="acs-pass", context=None):
        u = urlsplit(url)
        self.path = u.path
        if u.scheme == "https":
            self.conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=5,
                                                    context=context)
        else:
            self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        self.username, self.password = username, password
        self.cookie = None
        self.challenge = None
        self.nc = 0
        self.last_body = b""

    def _authorization(self):
        p = la._auth_params(self.challenge.split(" ", 1)[1])
        self.nc += 1
        nc, cnonce = "%08x" % self.nc, "c0ffee%02d" % self.nc

        def md5(s):
            return hashlib.md5(s.encode()).hexdigest()
        ha1 = md5("%s:%s:%s" % (self.username, p["realm"], self.password))
        ha2 = md5("POST:%s" % self.path)
        resp = md5(":".join([ha1, p["nonce"], nc, cnonce, "auth", ha2]))
        return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", qop=auth, '
                'nc=%s, cnonce="%s", response="%s", opaque="%s"' % (
                    self.username, p["realm"], p["nonce"], self.path, nc, cnonce, resp,
                    p.get("opaque", "")))

    def post(self, body, soap_action="", headers=None, send_cookie=True, chunked=False):
        """POSTs body (b"" = the empty POST); returns (status, response, parsed root)."""
        h = {}
        if body:
            h["Content-Type"] = 'text/xml; charset="utf-8"'
            h["SOAPAction"] = soap_action
        if send_cookie and self.cookie:
            h["Cookie"] = self.cookie
        if self.challenge:
            h["Authorization"] = self._authorization()
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        if chunked:
            self.conn.request("POST", self.path, iter([body[:50], body[50:]]), h,
                              encode_chunked=True)
        else:
            self.conn.request("POST", self.path, body, h)
        r = self.conn.getresponse()
        data = r.read()
        self.last_body = data
        if r.getheader("Set-Cookie"):
            self.cookie = r.getheader("Set-Cookie").split(";")[0]
        if r.status == 401 and self.challenge is None:
            self.challenge = r.getheader("WWW-Authenticate")
            return self.post(body, soap_action, headers, send_cookie, chunked)
        root = ET.fromstring(data) if data.strip() else None
        return r.status, r, root

    def close(self):
        self.conn.close()


def rpc_of(root):
    """(method, cwmp:ID, element) of an ACS message."""
    header = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Header")
    msg_id = header.find("{%s}ID" % NS).text
    el = list(root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body"))[0]
    return el.tag.split("}")[1], msg_id, el


# ---------------------------------------------------------------- whole sessions

def test_whole_session_with_digest_and_cookie(make_lab_acs, schema_validate):
    acs = make_lab_acs(auth="digest")
    acs.queue(la.get_parameter_values(["Device.DeviceInfo.SoftwareVersion"]),
              la.set_parameter_values([("Device.ManagementServer.PeriodicInformInterval",
                                        600, "xsd:unsignedInt")], "key-1"))
    cpe = MiniCpe(acs.url)
    status, r, root = cpe.post(inform(events=[("0 BOOTSTRAP", ""), ("1 BOOT", "")]))
    assert status == 200
    method, msg_id, el = rpc_of(root)
    assert (method, msg_id) == ("InformResponse", "cpe-1")
    assert el.find("MaxEnvelopes").text == "1"
    assert re.match(r"^session=[0-9a-f]+$", cpe.cookie)
    assert r.getheader("Content-Type") == 'text/xml; charset="utf-8"'

    tc = ('<cwmp:TransferComplete><CommandKey>fw</CommandKey><FaultStruct><FaultCode>0'
          '</FaultCode><FaultString></FaultString></FaultStruct><StartTime>'
          '2024-05-01T10:00:00Z</StartTime><CompleteTime>2024-05-01T10:01:00Z'
          '</CompleteTime></cwmp:TransferComplete>')
    status, r, root = cpe.post(envelope(tc, "cpe-2"), soap_action="TransferComplete")
    assert rpc_of(root)[:2] == ("TransferCompleteResponse", "cpe-2")

    status, r, root = cpe.post(b"")
    method, msg_id, el = rpc_of(root)
    assert method == "GetParameterValues"
    assert [s.text for s in el.find("ParameterNames")] == ["Device.DeviceInfo.SoftwareVersion"]
    gpvr = ("<cwmp:GetParameterValuesResponse>%s</cwmp:GetParameterValuesResponse>"
            % pvs_list([("Device.DeviceInfo.SoftwareVersion", "xsd:string", "1.0")]))
    status, r, root = cpe.post(envelope(gpvr, msg_id), chunked=True)
    method, msg_id, el = rpc_of(root)
    assert method == "SetParameterValues"
    value = el.find("ParameterList/ParameterValueStruct/Value")
    assert (value.text, value.get("{http://www.w3.org/2001/XMLSchema-instance}type")) == (
        "600", "xsd:unsignedInt")
    spvr = "<cwmp:SetParameterValuesResponse><Status>0</Status>" \
           "</cwmp:SetParameterValuesResponse>"
    status, r, root = cpe.post(envelope(spvr, msg_id))
    assert status == 204 and root is None
    cpe.close()

    acs.wait_sessions(1)
    assert acs.problems == []
    assert (acs.auth_challenges, acs.auth_failures) == (1, 0)
    assert len(acs.sessions) == 1 and acs.sessions[0].ended
    assert [ex.status for ex in acs.sessions[0]] == [401, 200, 200, 200, 200, 204]
    info = acs.informs[0]
    assert info["events"] == [("0 BOOTSTRAP", ""), ("1 BOOT", "")]
    assert info["device_id"]["OUI"] == "00D09E"
    assert info["parameters"]["Device.RootDataModelVersion"] == "2.19"
    assert info["retry_count"] == 0
    assert acs.requests[0][0] == "TransferComplete"
    assert acs.requests[0][1]["CommandKey"] == "fw"
    assert acs.responses == [
        ("GetParameterValuesResponse",
         {"Device.DeviceInfo.SoftwareVersion": ("1.0", "xsd:string")}),
        ("SetParameterValuesResponse", {"Status": 0})]
    text = acs.transcript()
    for line in ["CPE -> ACS  Inform  events: 0 BOOTSTRAP, 1 BOOT  (2 parameters",
                 "ACS -> CPE  GetParameterValues Device.DeviceInfo.SoftwareVersion",
                 "CPE -> ACS  GetParameterValuesResponse  1 values",
                 "ACS -> CPE  204 No Content (session over)"]:
        assert line in text
    for body in acs.messages:
        schema_validate(body)


def test_problems_are_detected():
    with la.LabAcs() as acs:
        acs.queue(la.get_parameter_values(["Device."]))
        cpe = MiniCpe(acs.url)
        cpe.post(inform())
        status, r, root = cpe.post(b"", headers={"Content-Type": "text/xml",
                                                 "SOAPAction": ""})
        method, msg_id, el = rpc_of(root)
        gpvr = "<cwmp:GetParameterValuesResponse>%s</cwmp:GetParameterValuesResponse>" % (
            pvs_list([]))
        status, r, root = cpe.post(envelope(gpvr, msg_id + "-wrong"), send_cookie=False,
                                   soap_action="GetParameterValuesResponse")
        assert status == 204
        cpe.close()
        problems = acs.take_problems()
    text = "\n".join(problems)
    assert "the empty POST has a Content-Type header" in text
    assert "the empty POST has a SOAPAction header" in text
    assert "carries cwmp:ID '%s-wrong', the request had '%s'" % (msg_id, msg_id) in text
    assert "did not replay the session cookie" in text
    assert "non-empty SOAPAction" in text
    assert acs.problems == []


def test_inform_manners_are_checked():
    with la.LabAcs() as acs:
        cpe = MiniCpe(acs.url)
        cpe.post(inform(events=[], oui="00d09e", serial=""))
        cpe.post(b"")
        cpe.close()
        acs.wait_sessions(1)
    text = "\n".join(acs.problems)
    assert "OUI '00d09e' is not six upper-case hex digits" in text
    assert "SerialNumber is empty" in text
    assert "Inform carries no event" in text


def test_malformed_message_gets_400_and_server_survives():
    with la.LabAcs() as acs:
        cpe = MiniCpe(acs.url)
        cpe.conn.request("POST", "/acs", b"<not xml", {"Content-Type": "text/xml",
                                                      "SOAPAction": ""})
        r = cpe.conn.getresponse()
        r.read()
        assert r.status == 400
        assert any("malformed XML" in p for p in acs.take_problems())
        status, r, root = cpe.post(inform())
        assert status == 200
        cpe.post(b"")
        cpe.close()
        acs.wait_sessions(1)
    assert acs.problems == []


def test_session_on_new_connection_and_reused_connection_are_problems():
    with la.LabAcs() as acs:
        acs.queue(la.reboot("r1"))
        cpe = MiniCpe(acs.url)
        cpe.post(inform())
        other = MiniCpe(acs.url)
        other.cookie = cpe.cookie
        status, r, root = other.post(b"")
        assert rpc_of(root)[0] == "Reboot"
        assert "session continued on a new TCP connection" in "\n".join(acs.take_problems())
        status, r, root = other.post(envelope("<cwmp:RebootResponse/>", rpc_of(root)[1]))
        assert status == 204
        # A second session on the same connection as the first.
        cpe.cookie = None
        cpe.post(inform(events=[("1 BOOT", ""), ("M Reboot", "r1")]))
        cpe.post(b"")
        assert "reused the TCP connection" in "\n".join(acs.take_problems())
        cpe.close()
        other.close()
    assert acs.informs[1]["events"] == [("1 BOOT", ""), ("M Reboot", "r1")]


def test_stale_cookie_in_inform_is_a_problem():
    with la.LabAcs() as acs:
        cpe = MiniCpe(acs.url)
        cpe.post(inform())
        cpe.post(b"")
        cpe.close()
        again = MiniCpe(acs.url)
        again.cookie = cpe.cookie
        again.post(inform())
        again.post(b"")
        again.close()
        acs.wait_sessions(2)
    assert acs.problems == ["session 2: Inform carried the cookie of an earlier session"]


def test_foreign_nonce_is_refused_and_wrong_password_counted():
    with la.LabAcs(auth="digest") as acs:
        first = MiniCpe(acs.url)
        first.post(inform())
        first.post(b"")
        first.close()
        second = MiniCpe(acs.url)
        nonce = la._auth_params(first.challenge)["nonce"]
        second.challenge = first.challenge
        second.nc = 5
        body = inform()
        second.conn.request("POST", "/acs", body, {
            "Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": "",
            "Authorization": second._authorization()})
        r = second.conn.getresponse()
        r.read()
        assert r.status == 401
        challenge = r.getheader("WWW-Authenticate")
        assert "stale=true" in challenge and nonce not in challenge
        assert acs.auth_failures == 0
        second.challenge = challenge
        second.password = "wrong"
        second.conn.request("POST", "/acs", body, {
            "Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": "",
            "Authorization": second._authorization()})
        r = second.conn.getresponse()
        r.read()
        assert r.status == 401 and acs.auth_failures == 1
        second.close()
    assert len(acs.sessions) == 1
    assert "nonce from another connection" in acs.transcript()


def test_basic_auth_and_empty_200_end():
    with la.LabAcs(auth="basic", end_style="empty-200") as acs:
        u = urlsplit(acs.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        headers = {"Content-Type": "text/xml", "SOAPAction": ""}
        conn.request("POST", "/acs", inform(), headers)
        r = conn.getresponse()
        r.read()
        assert r.status == 401 and r.getheader("WWW-Authenticate").startswith("Basic ")
        import base64
        headers["Authorization"] = "Basic " + base64.b64encode(b"acs-user:acs-pass").decode()
        conn.request("POST", "/acs", inform(), headers)
        r = conn.getresponse()
        cookie = r.getheader("Set-Cookie").split(";")[0]
        r.read()
        assert r.status == 200
        conn.request("POST", "/acs", b"", {"Cookie": cookie})
        r = conn.getresponse()
        assert (r.status, r.read(), r.getheader("Content-Length")) == (200, b"", "0")
        conn.close()
        acs.wait_sessions(1)
    assert acs.problems == []
    assert "200 with empty body (session over)" in acs.transcript()


def test_namespace_is_the_cpes_and_a_mismatched_answer_is_a_problem():
    ns10 = "urn:dslforum-org:cwmp-1-0"
    with la.LabAcs() as acs:
        acs.queue(la.factory_reset())
        cpe = MiniCpe(acs.url)
        status, r, root = cpe.post(inform(ns=ns10))
        el = list(root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body"))[0]
        assert el.tag == "{%s}InformResponse" % ns10
        status, r, root = cpe.post(b"")
        body = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
        assert list(body)[0].tag == "{%s}FactoryReset" % ns10
        msg_id = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Header")[0].text
        status, r, root = cpe.post(envelope("<cwmp:FactoryResetResponse/>", msg_id, NS))
        assert status == 204
        cpe.close()
    assert any("namespace urn:dslforum-org:cwmp-1-2, the request was in "
               "urn:dslforum-org:cwmp-1-0" in p for p in acs.problems)


def test_namespace_option_forces_the_acs_namespace():
    ns10 = "urn:dslforum-org:cwmp-1-0"
    with la.LabAcs(namespace=ns10) as acs:
        acs.queue(la.get_rpc_methods())
        cpe = MiniCpe(acs.url)
        status, r, root = cpe.post(inform())
        assert b'xmlns:cwmp="%s"' % ns10.encode() in cpe.last_body
        status, r, root = cpe.post(b"")
        msg_id = root.find("{http://schemas.xmlsoap.org/soap/envelope/}Header")[0].text
        answer = ('<cwmp:GetRPCMethodsResponse><MethodList SOAP-ENC:arrayType="xsd:string[0]">'
                  '</MethodList></cwmp:GetRPCMethodsResponse>')
        assert cpe.post(envelope(answer, msg_id, ns10))[0] == 204
        cpe.close()
        acs.wait_sessions(1)
    assert acs.problems == []


def test_hold_requests_and_cpe_requests():
    with la.LabAcs(hold_requests=True) as acs:
        cpe = MiniCpe(acs.url)
        status, r, root = cpe.post(inform())
        assert root.find(".//{%s}HoldRequests" % NS).text == "1"
        status, r, root = cpe.post(envelope("<cwmp:GetRPCMethods/>", "cpe-2"),
                                   soap_action="GetRPCMethods")
        method, msg_id, el = rpc_of(root)
        assert method == "GetRPCMethodsResponse"
        assert [s.text for s in el.find("MethodList")] == list(la.ACS_METHODS)
        status, r, root = cpe.post(envelope("<cwmp:Kicked><Command>x</Command><Referer>y"
                                            "</Referer><Arg>z</Arg><Next>n</Next>"
                                            "</cwmp:Kicked>", "cpe-3"))
        assert ET.tostring(root).count(b"8000") == 1
        cpe.post(b"")
        cpe.close()
        acs.wait_sessions(1)
    text = "\n".join(acs.problems)
    assert "CPE sent GetRPCMethods while HoldRequests was true" in text
    assert "CPE called Kicked, which the ACS does not offer" in text


# ---------------------------------------------------------------- scripting

def test_per_session_scripts_and_responses_steering_the_next_rpc():
    with la.LabAcs() as acs:
        acs.queue_session([la.add_object("Device.NAT.PortMapping.", "k1")])
        acs.queue_session([la.get_rpc_methods()])

        def steer(method, parsed):
            if method == "AddObjectResponse":
                return la.get_parameter_values(
                    ["Device.NAT.PortMapping.%d." % parsed["InstanceNumber"]])
        acs.on_response = steer
        acs.queue(lambda a: la.delete_object("Device.NAT.PortMapping.%d." % a.responses[0][1][
            "InstanceNumber"], "k2"))
        answers = {
            "AddObject": "<cwmp:AddObjectResponse><InstanceNumber>7</InstanceNumber>"
                         "<Status>0</Status></cwmp:AddObjectResponse>",
            "GetParameterValues": "<cwmp:GetParameterValuesResponse>%s"
                                  "</cwmp:GetParameterValuesResponse>" % pvs_list([]),
            "DeleteObject": "<cwmp:DeleteObjectResponse><Status>0</Status>"
                            "</cwmp:DeleteObjectResponse>",
            "GetRPCMethods": '<cwmp:GetRPCMethodsResponse><MethodList SOAP-ENC:arrayType='
                             '"xsd:string[1]"><string>Inform</string></MethodList>'
                             '</cwmp:GetRPCMethodsResponse>',
        }
        seen = []
        for _ in range(2):
            cpe = MiniCpe(acs.url)
            cpe.post(inform())
            status, r, root = cpe.post(b"")
            while status == 200:
                method, msg_id, el = rpc_of(root)
                seen.append((method, el.findtext("ObjectName") or [
                    s.text for s in el.findall(".//string")]))
                status, r, root = cpe.post(envelope(answers[method], msg_id))
            cpe.close()
        acs.wait_sessions(2)
    assert seen == [("AddObject", "Device.NAT.PortMapping."),
                    ("GetParameterValues", ["Device.NAT.PortMapping.7."]),
                    ("DeleteObject", "Device.NAT.PortMapping.7."),
                    ("GetRPCMethods", [])]
    assert acs.responses[-1] == ("GetRPCMethodsResponse", {"MethodList": ["Inform"]})
    assert acs.problems == []


def test_every_builder_sends_a_schema_valid_request(schema_validate, tmp_path):
    rpcs = [
        la.get_rpc_methods(), la.get_parameter_names("Device.", True),
        la.get_parameter_values(["Device.DeviceInfo.", "Device.Time.Enable"]),
        la.set_parameter_values([("Device.Time.Enable", True, "xsd:boolean"),
                                 ("Device.Time.NTPServer1", "a&b<c")], "k"),
        la.get_parameter_attributes(["Device.DeviceInfo.UpTime"]),
        la.set_parameter_attributes([("Device.DeviceInfo.UpTime", 2, None),
                                     {"Name": "Device.X.", "AccessList": ["Subscriber"]}]),
        la.add_object("Device.NAT.PortMapping.", "k"), la.delete_object("Device.X.1.", "k"),
        la.reboot("k"), la.factory_reset(),
        la.download("k", "1 Firmware Upgrade Image", "http://h/f", "u", "p", 10, "f", 0),
        la.upload("k", "2 Vendor Log File", "http://h/u", "u", "p", 3),
        la.schedule_inform(30, "k"), la.get_all_queued_transfers(),
        la.get_queued_transfers(), la.cancel_transfer("k"),
    ]
    script = [[{"method": r.method} for r in rpcs[:1]] + [
        {"method": "Download", "FileType": "3 Vendor Configuration File", "URL": "http://x/c",
         "CommandKey": "c"},
        {"method": "SetParameterValues", "ParameterKey": "j",
         "ParameterList": [{"Name": "Device.A", "Value": "1", "Type": "xsd:int"}]},
        {"method": "raw", "xml": "<cwmp:Reboot><CommandKey>raw</CommandKey></cwmp:Reboot>",
         "name": "Reboot"}]]
    with la.LabAcs() as acs:
        acs.queue(*rpcs)
        acs.load_script(script)
        cpe = MiniCpe(acs.url)
        cpe.post(inform())
        status, r, root = cpe.post(b"")
        sent = []
        while status == 200:
            schema_validate(cpe.last_body)
            method, msg_id, el = rpc_of(root)
            sent.append(method)
            fault = ('<SOAP-ENV:Fault><faultcode>Client</faultcode><faultstring>CWMP fault'
                     '</faultstring><detail><cwmp:Fault><FaultCode>9000</FaultCode>'
                     '<FaultString>Method not supported</FaultString></cwmp:Fault>'
                     '</detail></SOAP-ENV:Fault>')
            status, r, root = cpe.post(envelope(fault, msg_id))
        cpe.close()
        acs.wait_sessions(1)
    assert sent == ["GetRPCMethods", "Download", "SetParameterValues", "Reboot"] + [
        r.method for r in rpcs]
    assert acs.problems == []
    assert all(m == "Fault" and p["FaultCode"] == 9000 for m, p in acs.responses)
    with pytest.raises(ValueError):
        la.rpc_from_dict({"method": "NoSuchRpc"})


# ---------------------------------------------------------------- files

def _get(url, headers=None):
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    conn.request("GET", u.path, headers=headers or {})
    r = conn.getresponse()
    return conn, r


def test_file_with_digest_auth():
    with la.LabAcs() as acs:
        data = os.urandom(100000)
        url = acs.add_file("fw.bin", data, auth="digest", username="fu", password="fp")
        conn, r = _get(url)
        r.read()
        assert r.status == 401
        challenge = r.getheader("WWW-Authenticate")
        path = urlsplit(url).path
        conn.request("GET", path, headers={"Authorization": la._client_authorization(
            challenge, "GET", path, "fu", "wrong")})
        r = conn.getresponse()
        r.read()
        assert r.status == 401 and acs.auth_failures == 1
        conn.request("GET", path, headers={"Authorization": la._client_authorization(
            r.getheader("WWW-Authenticate"), "GET", path, "fu", "fp")})
        r = conn.getresponse()
        assert (r.status, r.getheader("Content-Length")) == (200, "100000")
        assert r.read() == data
        conn.close()
        _, missing = _get(acs.file_url("nope"))
        assert missing.status == 404
        # The server records a request once its body is written, which may be after we read it.
        done = acs.wait_for(lambda a: [(r["status"], r["sent"]) for r in a.file_requests
                                       if r["name"] == "fw.bin" and r["status"] == 200])
        assert done == [(200, 100000)]


def test_file_server_dying_mid_body_and_wrong_size():
    with la.LabAcs() as acs:
        data = b"x" * 50000
        conn, r = _get(acs.add_file("dies.bin", data, die_after=1000))
        assert r.getheader("Content-Length") == "50000"
        with pytest.raises(http.client.IncompleteRead) as err:
            r.read()
        assert len(err.value.partial) == 1000
        conn.close()
        conn, r = _get(acs.add_file("short.bin", data, content_length=60000))
        with pytest.raises(http.client.IncompleteRead):
            r.read()
        conn.close()
        conn, r = _get(acs.add_file("basic.bin", b"abc", auth="basic"))
        r.read()
        assert r.status == 401
        conn.close()


def test_upload_by_put_with_basic_auth():
    with la.LabAcs() as acs:
        url = acs.upload_url("log.txt", auth="basic", username="up", password="pw")
        u = urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        conn.request("PUT", u.path, b"log body")
        r = conn.getresponse()
        r.read()
        assert r.status == 401
        import base64
        conn.request("PUT", u.path, b"log body", {
            "Authorization": "Basic " + base64.b64encode(b"up:pw").decode()})
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        conn.close()
        assert acs.uploads == {"log.txt": b"log body"}


# ---------------------------------------------------------------- connection requests

class _CrHandler(BaseHTTPRequestHandler):
    """A tiny CPE connection-request listener requiring Digest (user cr / password crp)."""
    protocol_version = "HTTP/1.1"
    seen = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        auth = self.headers.get("Authorization")
        self.seen.append(auth)
        ok = False
        if auth and auth.startswith("Digest "):
            p = la._auth_params(auth[7:])

            def md5(s):
                return hashlib.md5(s.encode()).hexdigest()
            ha1 = md5("cr:%s:crp" % p.get("realm"))
            ha2 = md5("GET:%s" % p.get("uri"))
            ok = p.get("nonce") == "n1" and p.get("uri") == self.path and p.get(
                "response") == md5(":".join([ha1, "n1", p["nc"], p["cnonce"], "auth", ha2]))
        if ok:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Digest realm="cpe", nonce="n1", qop="auth"')
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture
def cr_listener():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CrHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _CrHandler.seen = []
    yield "http://127.0.0.1:%d/cr-7f3a" % server.server_address[1]
    server.shutdown()
    server.server_close()


def test_connection_request_answers_digest(cr_listener):
    acs = la.LabAcs()
    assert acs.connection_request(cr_listener, "cr", "crp") == 200
    assert _CrHandler.seen[0] is None and _CrHandler.seen[1].startswith("Digest ")
    assert acs.connection_request(cr_listener, "cr", "bad") == 401
    assert acs.connection_request(cr_listener) == 401
    assert [s for _, s in acs.connection_requests] == [200, 401, 401]
    assert "connection request %s -> 200" % cr_listener in acs.transcript()


# ---------------------------------------------------------------- TLS and CLI

def test_https_session(tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    import ssl
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    with la.LabAcs(tls=(cert_file, key_file), auth="digest") as acs:
        assert acs.url.startswith("https://127.0.0.1:")
        cpe = MiniCpe(acs.url, context=ctx)
        assert cpe.post(inform())[0] == 200
        assert cpe.post(b"")[0] == 204
        cpe.close()
        acs.wait_sessions(1)
    assert acs.problems == []


@pytest.mark.e2e
def test_command_line_plays_a_script_until_interrupted(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps([[{"method": "Reboot", "CommandKey": "cli"}]]))
    proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "tools", "lab_acs.py"), "--port", "0",
         "--script", str(script), "--auth", "digest", "--username", "u", "--password", "p"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
        # A shell running us in the background ignores SIGINT, and children inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stdout.readline()
        url = re.search(r"listening at (\S+)", first).group(1)
        cpe = MiniCpe(url, username="u", password="p")
        cpe.post(inform())
        status, r, root = cpe.post(b"")
        method, msg_id, el = rpc_of(root)
        assert (method, el.findtext("CommandKey")) == ("Reboot", "cli")
        assert cpe.post(envelope("<cwmp:RebootResponse/>", msg_id))[0] == 204
        cpe.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    assert "ACS -> CPE  Reboot (key 'cli')" in out
    assert "1 session(s), 0 problem(s)" in out
    assert proc.returncode == 0


# ---------------------------------------------------------------- the fixture's gate

def test_fixture_gate_fails_on_problems_and_invalid_messages(lab_acs):
    from conftest import check_lab_acs
    cpe = MiniCpe(lab_acs.url)
    cpe.post(inform())
    cpe.post(b"")
    cpe.close()
    lab_acs.wait_sessions(1)
    check_lab_acs(lab_acs)                          # a clean session passes
    lab_acs.messages.append(inform().replace(b"EventStruct[1]", b"EventStruct[4]"))
    with pytest.raises(pytest.fail.Exception) as err:
        check_lab_acs(lab_acs)
    assert "arrayType says 4 items, it holds 1" in str(err.value)
    lab_acs.messages.pop()
    lab_acs.problems.append("made up")
    with pytest.raises(pytest.fail.Exception):
        check_lab_acs(lab_acs)
    assert lab_acs.take_problems() == ["made up"]


def test_the_command_line_port_is_not_the_one_the_client_listens_on(capsys):
    # Both on one machine: the lab ACS must not take the client's connection-request port.
    from tr069client import settings
    with pytest.raises(SystemExit):
        la.main(["--help"])
    port = int(re.search(r"--port PORT\s+default (\d+)", capsys.readouterr().out).group(1))
    assert port != settings.LOCAL_DEFAULTS["cr-port"]
