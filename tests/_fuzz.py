"""Fuzzing the session engine: ACS requests mutated from a corpus of valid ones, sent in every
CWMP namespace; every answer must be valid in the namespace it is sent in (the schema of that
namespace, cwmp_schema's code checks) and the engine must never raise.

    problems = run(seed=1, count=300)          # [] when every answer was valid
    for ns, body in requests(seed, count): ...  # the mutated requests, for another driver
    answer_problems(ns_sent, body_in, answer)   # the invariant, for another driver
    engine(ns)()                                # a session of the engine under test

Deterministic for a seed: no clock, no sockets; the engine is the real one (model, transfer
queue, Reboot/FactoryReset), its state in memory.
"""

import random
import xml.etree.ElementTree as ET

import cwmp_schema
from tr069client import fetch, namespaces, operations, rpcs, soap, transfers
from tr069client.events import EventQueue
from tr069client.store import Store

from _engine import END_204, INFORM_RESPONSE, genieacs, make_model, make_session

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
FOREIGN = "urn:example:not-cwmp"
_PV = '<ParameterValueStruct><Name>%s</Name><Value xsi:type="%s">%s</Value></ParameterValueStruct>'

# Valid requests of every method a CPE may be asked (and some it does not implement).
CORPUS = [
    "<cwmp:GetRPCMethods/>",
    "<cwmp:GetParameterNames><ParameterPath>Device.ManagementServer.</ParameterPath>"
    "<NextLevel>true</NextLevel></cwmp:GetParameterNames>",
    '<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[2]">'
    "<string>Device.DeviceInfo.</string><string>Device.ManagementServer.URL</string>"
    "</ParameterNames></cwmp:GetParameterValues>",
    '<cwmp:SetParameterValues><ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[2]">'
    + _PV % ("Device.ManagementServer.PeriodicInformInterval", "xsd:unsignedInt", "600")
    + _PV % ("Device.DeviceInfo.ProvisioningCode", "xsd:string", "fuzz")
    + "</ParameterList><ParameterKey>pk</ParameterKey></cwmp:SetParameterValues>",
    '<cwmp:GetParameterAttributes><ParameterNames soap-enc:arrayType="xsd:string[1]">'
    "<string>Device.ManagementServer.</string></ParameterNames></cwmp:GetParameterAttributes>",
    '<cwmp:SetParameterAttributes><ParameterList soap-enc:arrayType="cwmp:SetParameterAttributesStruct[1]">'
    "<SetParameterAttributesStruct><Name>Device.DeviceInfo.ProvisioningCode</Name>"
    "<NotificationChange>true</NotificationChange><Notification>1</Notification>"
    "<AccessListChange>true</AccessListChange>"
    '<AccessList soap-enc:arrayType="xsd:string[1]"><string>Subscriber</string></AccessList>'
    "</SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>",
    "<cwmp:AddObject><ObjectName>Device.NAT.PortMapping.</ObjectName><ParameterKey>a</ParameterKey>"
    "</cwmp:AddObject>",
    "<cwmp:DeleteObject><ObjectName>Device.NAT.PortMapping.1.</ObjectName><ParameterKey>d</ParameterKey>"
    "</cwmp:DeleteObject>",
    "<cwmp:ScheduleInform><DelaySeconds>60</DelaySeconds><CommandKey>s</CommandKey></cwmp:ScheduleInform>",
    "<cwmp:Reboot><CommandKey>r</CommandKey></cwmp:Reboot>",
    "<cwmp:FactoryReset/>",
    "<cwmp:Download><CommandKey>fw</CommandKey><FileType>1 Firmware Upgrade Image</FileType>"
    "<URL>http://fs.example/fw.bin</URL><Username>u</Username><Password>p</Password>"
    "<FileSize>1000</FileSize><TargetFileName>fw.bin</TargetFileName><DelaySeconds>3600</DelaySeconds>"
    "<SuccessURL></SuccessURL><FailureURL></FailureURL></cwmp:Download>",
    "<cwmp:Download><CommandKey>cfg</CommandKey><FileType>3 Vendor Configuration File</FileType>"
    "<URL>http://fs.example/site.alter</URL><Username></Username><Password></Password>"
    "<FileSize>0</FileSize><TargetFileName></TargetFileName><DelaySeconds>3600</DelaySeconds>"
    "<SuccessURL></SuccessURL><FailureURL></FailureURL></cwmp:Download>",
    "<cwmp:Upload><CommandKey>up</CommandKey><FileType>1 Vendor Configuration File</FileType>"
    "<URL>http://fs.example/up</URL><Username></Username><Password></Password>"
    "<DelaySeconds>3600</DelaySeconds></cwmp:Upload>",
    "<cwmp:Upload><CommandKey>log</CommandKey><FileType>4 Vendor Log File 2</FileType>"
    "<URL>http://fs.example/log</URL><Username></Username><Password></Password>"
    "<DelaySeconds>3600</DelaySeconds></cwmp:Upload>",
    "<cwmp:GetQueuedTransfers/>",
    "<cwmp:GetAllQueuedTransfers/>",
    "<cwmp:CancelTransfer><CommandKey>fw</CommandKey></cwmp:CancelTransfer>",
    "<cwmp:GetOptions><OptionName>x</OptionName></cwmp:GetOptions>",
    "<cwmp:ChangeDUState><Operations/><CommandKey>c</CommandKey></cwmp:ChangeDUState>",
    "<cwmp:X_ACME_Frobnicate/>",
]
METHOD_NAMES = sorted(set(m for ns in namespaces.METHODS.values() for m in ns)) + ["X_ACME_Frobnicate"]
ODD_TEXT = ["", " ", "0", "1", "-1", "4294967295", "4294967296", "9" * 40, "true", "false", "x" * 300,
            "\u00b2", "\u0661", "Device.", "Device.NAT.PortMapping.", "Device.NAT.PortMapping.1.",
            "Device.NoSuch.", "Device.ManagementServer.URL", "1 Firmware Upgrade Image",
            "2 Web Content", "3 Vendor Configuration File", "2 Vendor Log File",
            "3 Vendor Configuration File 7", "4 Vendor Log File 1", "X 00D0C9 Thing", "http://fs/x.alter",
            "http://fs/y.overwrite", "ftp://fs/x", "fw", "<&>", "k" * 33, "Subscriber"]
ODD_NAMES = ["Name", "Value", "string", "ParameterKey", "CommandKey", "FileType", "URL", "NextLevel",
             "Notification", "X", "ParameterList"]


def _request(rng, inner, ns):
    """One mutated request: its bytes."""
    wrapper = ET.fromstring('<w xmlns:cwmp="%s" xmlns:soap-enc="%s" xmlns:xsi="%s" xmlns:xsd="%s">%s</w>' % (
        ns, soap.NS_ENV.replace("envelope", "encoding"), cwmp_schema.XSI, "http://www.w3.org/2001/XMLSchema",
        inner))
    method = wrapper[0]
    for _ in range(rng.randrange(4)):
        _mutate(rng, method)
    where = rng.choice(["same", "same", "other", "foreign", "none"])
    name = method.tag.rpartition("}")[2]
    if where == "other":
        method.tag = "{%s}%s" % (rng.choice([n for n in soap.CWMP_NAMESPACES if n != ns]), name)
    elif where == "foreign":
        method.tag = "{%s}%s" % (FOREIGN, name)
    elif where == "none":
        method.tag = name
    header = rng.choice(["id", "id", "none", "hold"])
    head = ""
    if header != "none":
        head = '<soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">fz-%d</cwmp:ID>%s</soap-env:Header>' % (
            rng.randrange(10 ** 6), "<cwmp:HoldRequests>1</cwmp:HoldRequests>" if header == "hold" else "")
    body = ET.tostring(method, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?><soap-env:Envelope xmlns:soap-env="%s" xmlns:cwmp="%s">'
            "%s<soap-env:Body>%s</soap-env:Body></soap-env:Envelope>" % (SOAP_ENV, ns, head, body)).encode()


def _mutate(rng, method):
    nodes = [(p, c) for p in method.iter() for c in p]
    what = rng.randrange(5)
    if what == 0 and nodes:                       # drop an element
        parent, c = rng.choice(nodes)
        parent.remove(c)
    elif what == 1 and nodes:                     # duplicate one
        parent, c = rng.choice(nodes)
        parent.insert(list(parent).index(c), ET.fromstring(ET.tostring(c)))
    elif what == 2:                               # odd text in a leaf
        leaves = [e for e in method.iter() if len(e) == 0]
        rng.choice(leaves).text = rng.choice(ODD_TEXT)
    elif what == 3 and nodes:                     # another element's name
        rng.choice(nodes)[1].tag = rng.choice(ODD_NAMES)
    else:                                         # another method's name for these arguments
        ns = method.tag[1:].partition("}")[0]
        method.tag = "{%s}%s" % (ns, rng.choice(METHOD_NAMES))


def requests(seed, count):
    """(session namespace, request bytes) pairs, the same for the same seed."""
    rng = random.Random(seed)
    for _ in range(count):
        ns = rng.choice(soap.CWMP_NAMESPACES)
        yield ns, _request(rng, rng.choice(CORPUS), ns)


def expected_namespace(session_ns, body):
    """The namespace an answer to `body` must be in: the cwmp namespace of the request's method
    element, else of its ID header, else the session's."""
    root = ET.fromstring(body)
    spaces = [e.tag[1:].partition("}")[0] for e in list(root.find("{%s}Body" % SOAP_ENV))[:1]]
    header = root.find("{%s}Header" % SOAP_ENV)
    spaces += [h.tag[1:].partition("}")[0] for h in (header if header is not None else ())
               if h.tag.endswith("}ID")]
    return next((n for n in spaces if n in soap.CWMP_NAMESPACES), session_ns)


def answer_problems(session_ns, body, answer, schemas):
    """What is wrong with `answer` (bytes) to the request `body` in a session in `session_ns`."""
    want = expected_namespace(session_ns, body)
    problems = cwmp_schema.check(answer, schemas)
    if ('xmlns:cwmp="%s"' % want).encode() not in answer:
        problems.append("answered outside %s" % want)
    return problems


def engine(ns):
    """A factory of sessions in `ns` over one engine: model, transfer queue, Reboot and FactoryReset."""
    store = Store()
    model = make_model(store)
    cmds = {name: ["true"] for name in ("firmware-command", "config-alter-command",
                                         "config-overwrite-command", "vendor-config-command",
                                         "vendor-log-command")}
    queue = transfers.Queue(store, EventQueue(store), lambda: fetch.Worker(dict(cmds, **{"download-dir": "/nonexistent"})))
    handlers = dict(rpcs.RPCS, **transfers.rpcs(queue), **operations.RPCS)
    return lambda: make_session(model, handlers=handlers, ns=ns, commit=store.save_now)


def run(seed=1, count=300):
    """Feed `count` mutated requests to engines of every namespace; the problems found."""
    schemas = cwmp_schema.load_schemas()
    engines = {ns: engine(ns) for ns in soap.CWMP_NAMESPACES}
    sessions = {}
    problems = []
    for n, (ns, body) in enumerate(requests(seed, count)):
        s = sessions.get(ns)
        if s is None or s.done:
            s = sessions[ns] = engines[ns]()
            s.next_post()
            status, headers, text = genieacs(INFORM_RESPONSE, ns=ns)
            s.receive(status, headers, text.encode())
            s.next_post()     # the empty POST: the ACS's turn
        try:
            s.receive(200, {}, body)
            out = s.next_post()
        except Exception as e:    # a bug, whatever the request
            problems.append("request %d: the engine raised %s: %s\n%s" % (n, type(e).__name__, e, body.decode()))
            sessions[ns] = None
            continue
        if out is None:           # the request ended the session (it was no request at all)
            continue
        answer = b"".join(out)
        found = answer_problems(ns, body, answer, schemas)
        if found:
            problems.append("request %d in %s: %s\nrequest: %s\nanswer: %s" % (
                n, ns, "; ".join(found), body.decode(), answer.decode()[:1500]))
    for s in sessions.values():
        if s is not None and not s.done:
            s.receive(*END_204)
    return problems
