"""Helpers for engine tests: a model over an in-memory store, ACS messages in the styles of
real ACSs, and a driver that feeds the engine a list of ACS answers."""

import itertools
import xml.etree.ElementTree as ET

from tr069client.model import Model
from tr069client.provider import Provider
from tr069client.session import DeviceId, Session
from tr069client.store import Store

import cwmp_schema

NS10 = "urn:dslforum-org:cwmp-1-0"
NS12 = "urn:dslforum-org:cwmp-1-2"
DEVICE = DeviceId("Acme", "00D0C9", "Router", "SN0001")
IDENTITY = {
    "Device.DeviceInfo.Manufacturer": "Acme",
    "Device.DeviceInfo.ManufacturerOUI": "00D0C9",
    "Device.DeviceInfo.ProductClass": "Router",
    "Device.DeviceInfo.SerialNumber": "SN0001",
    "Device.DeviceInfo.HardwareVersion": "HW1",
    "Device.DeviceInfo.SoftwareVersion": "1.0.0",
    "Device.DeviceInfo.UpTime": "1234",
}


def make_model(store=None, providers=None, values=None):
    store = store or Store()
    if values:
        store.values.update(values)
    if providers is None:
        providers = [Provider("Device.DeviceInfo.", lambda m: dict(IDENTITY))]
    return Model(store, providers=providers)


def make_session(model=None, events=(("0 BOOTSTRAP", ""), ("1 BOOT", "")), **kw):
    ids = itertools.count(1)
    return Session(model or make_model(), DEVICE, events, kw.pop("retry_count", 0), "2026-11-25T10:00:00Z",
                   lambda: "cpe-%d" % next(ids), **kw)


class FakeHttp:
    """transport.AcsClient for http_session.run(): answers each POST with the next item, a
    (status, headers, body: str or bytes) or an exception to raise."""

    def __init__(self, *answers):
        self.answers, self.posts, self.names, self.closed = list(answers), [], [], False

    def post(self, body, soap_action="", name="request", reader=None):
        self.posts.append(body)
        self.names.append(name)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        if reader is not None:   # as the transport does
            data = answer[2]
            reader.feed(data if isinstance(data, bytes) else data.encode())
            answer = answer[:2] + (b"",)
        return answer

    def close(self):
        self.closed = True


def body(chunks):
    return b"".join(chunks) if isinstance(chunks, list) else chunks


def drive(session, answers, validate=True):
    """Feed (status, headers, body) answers (body: str, bytes or a fed soap.Reader); return
    every body the CPE posted."""
    posts = []
    answers = list(answers)
    while True:
        out = session.next_post()
        if out is None:
            break
        out = body(out)
        posts.append(out)
        if validate:
            cwmp_schema.validate(out)
        if not answers:
            raise AssertionError("the CPE posted again but the test has no more answers:\n%s" % out[-400:])
        status, headers, data = answers.pop(0)
        session.receive(status, headers, data.encode() if isinstance(data, str) else data)
    assert not answers, "the session ended with %d answers unused" % len(answers)
    return posts


# --- ACS styles ------------------------------------------------------------------------------

def genieacs(inner, msg_id="gid-1", ns=NS10):
    """GenieACS 1.2: soap-env / soap-enc prefixes, cwmp:ID with mustUnderstand."""
    return (200, {}, '<?xml version="1.0" encoding="UTF-8"?>\n<soap-env:Envelope '
            'xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" '
            'xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:cwmp="%s"><soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">%s</cwmp:ID>'
            '</soap-env:Header><soap-env:Body>%s</soap-env:Body></soap-env:Envelope>' % (ns, msg_id, inner))


def freeacs(inner, msg_id="FREEACS-1", ns=NS10):
    """FreeACS: SOAP-ENV prefixes, line breaks and indentation, cwmp:ID."""
    return (200, {}, '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope\n'
            '  xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"\n'
            '  xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"\n'
            '  xmlns:xsd="http://www.w3.org/2001/XMLSchema"\n'
            '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
            '  xmlns:cwmp="%s">\n  <SOAP-ENV:Header>\n    <cwmp:ID SOAP-ENV:mustUnderstand="1">%s</cwmp:ID>\n'
            '  </SOAP-ENV:Header>\n  <SOAP-ENV:Body>\n    %s\n  </SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n'
            % (ns, msg_id, inner))


def openacs(inner, msg_id="1", ns=NS10):
    """OpenACS: soapenv prefix, NoMoreRequests on every message, double quotes forced."""
    return (200, {}, '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:cwmp="%s"><soapenv:Header><cwmp:ID soapenv:mustUnderstand="1">%s</cwmp:ID>'
            '<cwmp:NoMoreRequests>0</cwmp:NoMoreRequests></soapenv:Header>'
            '<soapenv:Body>%s</soapenv:Body></soapenv:Envelope>' % (ns, msg_id, inner))


def bare(method_xml):
    """An ACS with default namespaces and no Header at all; `method_xml` declares its own."""
    return (200, {}, '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>%s</Body></Envelope>'
            % method_xml)


INFORM_RESPONSE = "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>"
END_204 = (204, {}, b"")
END_EMPTY_200 = (200, {}, b"  \r\n")


def parse(post):
    """(cwmp ID, method local name, method element) of a CPE post."""
    root = ET.fromstring(post)
    ns_env = "{http://schemas.xmlsoap.org/soap/envelope/}"
    header, body_ = root.find(ns_env + "Header"), root.find(ns_env + "Body")
    msg_id = None
    if header is not None:
        for h in header:
            if h.tag.endswith("}ID"):
                msg_id = h.text
    method = body_[0]
    return msg_id, method.tag.rpartition("}")[2], method


def values_of(elem):
    """{name: (value, xsi:type)} from a ParameterList of ParameterValueStructs."""
    out = {}
    for s in elem.iter("ParameterValueStruct"):
        v = s.find("Value")
        out[s.find("Name").text] = (v.text or "", v.get("{http://www.w3.org/2001/XMLSchema-instance}type"))
    return out


def fault_of(elem):
    """(code, [(name, code)]) of a SOAP Fault element the CPE sent."""
    f = [c for c in elem.find("detail") if c.tag.endswith("}Fault")][0]
    details = [(d.find("ParameterName").text, int(d.find("FaultCode").text))
               for d in f.findall("SetParameterValuesFault")]
    return int(f.find("FaultCode").text), details
