#!/usr/bin/env python3
"""Lab ACS: a small scripted TR-069 ACS for tests and the demo (standard library only).

It plays queued RPCs, speaks Basic and Digest, sets a session cookie, records every
exchange, serves and accepts files, sends connection requests, and lists each breach of
CWMP manners by the CPE in `acs.problems`. It never imports tr069client: it judges the
client from outside.

Library use::

    with LabAcs(auth="digest") as acs:
        acs.queue(get_parameter_values(["Device.DeviceInfo."]))
        ...                                  # run the CPE against acs.url
        acs.wait_sessions(1)
        print(acs.transcript())
        assert not acs.problems

Command line::

    python3 tools/lab_acs.py [--port 7548] [--auth digest --username u --password p]
                             [--script FILE.json] [--file NAME=PATH ...]

A script file is a JSON list of sessions, each a list of RPCs such as
``{"method": "GetParameterValues", "ParameterNames": ["Device.DeviceInfo."]}``.
"""

import argparse
import base64
import collections
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape as _esc

__all__ = [
    "LabAcs", "Rpc", "Exchange", "LabSession", "rpc_from_dict",
    "get_rpc_methods", "get_parameter_names", "get_parameter_values",
    "set_parameter_values", "get_parameter_attributes", "set_parameter_attributes",
    "add_object", "delete_object", "reboot", "factory_reset", "download", "upload",
    "schedule_inform", "get_all_queued_transfers", "get_queued_transfers",
    "cancel_transfer", "raw",
]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
CWMP_NAMESPACES = ("urn:dslforum-org:cwmp-1-0", "urn:dslforum-org:cwmp-1-1",
                   "urn:dslforum-org:cwmp-1-2")
_XSI_TYPE = "{%s}type" % XSI
_MAX_BODY = 64 * 1024 * 1024
_CWMP_PATH = "/acs"
_REALM = "tr069client-lab"
_FILE_REALM = "lab-files"
# What the ACS answers to a CPE's GetRPCMethods; other CPE requests get fault 8000.
ACS_METHODS = ("Inform", "GetRPCMethods", "TransferComplete", "AutonomousTransferComplete")


# ---------------------------------------------------------------- RPC builders

class Rpc:
    """One ACS request: the method name, its Body fragment (cwmp: prefix) and a summary."""

    def __init__(self, method, body, summary="", whole=False):
        self.method = method      # None for raw requests that should not be matched
        self.body = body          # Body child XML, or the whole HTTP body if whole
        self.summary = summary
        self.whole = whole

    def __repr__(self):
        return "Rpc(%s %s)" % (self.method, self.summary)


def _t(name, value):
    return "<%s>%s</%s>" % (name, _esc(str(value)), name)


def _bool(value):
    return "1" if value else "0"


def _strings(tag, items):
    items = list(items)
    return '<%s soap-enc:arrayType="xsd:string[%d]">%s</%s>' % (
        tag, len(items), "".join(_t("string", s) for s in items), tag)


def _short(items, limit=3):
    items = list(items)
    text = ", ".join(str(i) for i in items[:limit])
    return text + (" ... (%d in all)" % len(items) if len(items) > limit else "")


def get_rpc_methods():
    return Rpc("GetRPCMethods", "<cwmp:GetRPCMethods></cwmp:GetRPCMethods>")


def get_parameter_names(path="", next_level=False):
    body = "<cwmp:GetParameterNames>%s%s</cwmp:GetParameterNames>" % (
        _t("ParameterPath", path), _t("NextLevel", _bool(next_level)))
    return Rpc("GetParameterNames", body, "%s (%s)" % (
        path or '""', "next level" if next_level else "whole subtree"))


def get_parameter_values(names):
    names = [names] if isinstance(names, str) else list(names)
    body = "<cwmp:GetParameterValues>%s</cwmp:GetParameterValues>" % _strings(
        "ParameterNames", names)
    return Rpc("GetParameterValues", body, _short(names))


def set_parameter_values(params, key=""):
    """params: [(name, value, xsd_type)] or [(name, value)] (then xsd:string)."""
    structs, shown = [], []
    for p in params:
        name, value = p[0], p[1]
        xtype = p[2] if len(p) > 2 else "xsd:string"
        if isinstance(value, bool):
            value = "true" if value else "false"
        structs.append('<ParameterValueStruct>%s<Value xsi:type="%s">%s</Value>'
                       '</ParameterValueStruct>' % (_t("Name", name), _esc(xtype),
                                                    _esc(str(value))))
        shown.append("%s=%s" % (name, value))
    body = ('<cwmp:SetParameterValues><ParameterList soap-enc:arrayType='
            '"cwmp:ParameterValueStruct[%d]">%s</ParameterList>%s'
            '</cwmp:SetParameterValues>' % (len(structs), "".join(structs),
                                            _t("ParameterKey", key)))
    return Rpc("SetParameterValues", body, "%s (key %r)" % (_short(shown), key))


def get_parameter_attributes(names):
    names = [names] if isinstance(names, str) else list(names)
    body = "<cwmp:GetParameterAttributes>%s</cwmp:GetParameterAttributes>" % _strings(
        "ParameterNames", names)
    return Rpc("GetParameterAttributes", body, _short(names))


def set_parameter_attributes(params):
    """params: [(name, notification or None, access_list or None)] or dicts with
    Name, Notification, AccessList; None means "no change" (as GenieACS builds it)."""
    structs, shown = [], []
    for p in params:
        if isinstance(p, dict):
            p = (p["Name"], p.get("Notification"), p.get("AccessList"))
        name = p[0]
        notif = p[1] if len(p) > 1 else None
        access = p[2] if len(p) > 2 else None
        structs.append(
            "<SetParameterAttributesStruct>%s%s%s%s%s</SetParameterAttributesStruct>" % (
                _t("Name", name), _t("NotificationChange", _bool(notif is not None)),
                _t("Notification", 0 if notif is None else int(notif)),
                _t("AccessListChange", _bool(access is not None)),
                _strings("AccessList", access or [])))
        shown.append("%s notification=%s" % (name, notif))
    body = ('<cwmp:SetParameterAttributes><ParameterList soap-enc:arrayType='
            '"cwmp:SetParameterAttributesStruct[%d]">%s</ParameterList>'
            '</cwmp:SetParameterAttributes>' % (len(structs), "".join(structs)))
    return Rpc("SetParameterAttributes", body, _short(shown))


def add_object(path, key=""):
    body = "<cwmp:AddObject>%s%s</cwmp:AddObject>" % (_t("ObjectName", path),
                                                       _t("ParameterKey", key))
    return Rpc("AddObject", body, "%s (key %r)" % (path, key))


def delete_object(path, key=""):
    body = "<cwmp:DeleteObject>%s%s</cwmp:DeleteObject>" % (_t("ObjectName", path),
                                                             _t("ParameterKey", key))
    return Rpc("DeleteObject", body, "%s (key %r)" % (path, key))


def reboot(key=""):
    return Rpc("Reboot", "<cwmp:Reboot>%s</cwmp:Reboot>" % _t("CommandKey", key),
               "(key %r)" % key)


def factory_reset():
    return Rpc("FactoryReset", "<cwmp:FactoryReset></cwmp:FactoryReset>")


def download(key, file_type, url, username="", password="", file_size=0,
             target_file_name="", delay_seconds=0, success_url="", failure_url=""):
    body = "<cwmp:Download>%s</cwmp:Download>" % "".join([
        _t("CommandKey", key), _t("FileType", file_type), _t("URL", url),
        _t("Username", username), _t("Password", password), _t("FileSize", file_size),
        _t("TargetFileName", target_file_name), _t("DelaySeconds", delay_seconds),
        _t("SuccessURL", success_url), _t("FailureURL", failure_url)])
    return Rpc("Download", body, "%s %s (size %s, key %r)" % (file_type, url, file_size,
                                                             key))


def upload(key, file_type, url, username="", password="", delay=0):
    body = "<cwmp:Upload>%s</cwmp:Upload>" % "".join([
        _t("CommandKey", key), _t("FileType", file_type), _t("URL", url),
        _t("Username", username), _t("Password", password), _t("DelaySeconds", delay)])
    return Rpc("Upload", body, "%s %s (key %r)" % (file_type, url, key))


def schedule_inform(delay, key=""):
    body = "<cwmp:ScheduleInform>%s%s</cwmp:ScheduleInform>" % (
        _t("DelaySeconds", delay), _t("CommandKey", key))
    return Rpc("ScheduleInform", body, "in %s s (key %r)" % (delay, key))


def get_all_queued_transfers():
    return Rpc("GetAllQueuedTransfers",
               "<cwmp:GetAllQueuedTransfers></cwmp:GetAllQueuedTransfers>")


def get_queued_transfers():
    return Rpc("GetQueuedTransfers", "<cwmp:GetQueuedTransfers></cwmp:GetQueuedTransfers>")


def cancel_transfer(key):
    return Rpc("CancelTransfer", "<cwmp:CancelTransfer>%s</cwmp:CancelTransfer>" % _t(
        "CommandKey", key), "(key %r)" % key)


def raw(xml, whole=False, method=None):
    """A hand-made request: `xml` is the Body child (prefixes cwmp, soap-env, soap-enc,
    xsd, xsi are declared) or, with whole=True, the entire HTTP body sent as is.
    `method` names the request so the CPE's answer is checked against it."""
    if isinstance(xml, bytes):
        xml = xml.decode("utf-8", "replace")
    return Rpc(method, xml, "%d bytes%s" % (len(xml), ", whole body" if whole else ""),
               whole=whole)


_BUILDERS = {
    "GetRPCMethods": lambda d: get_rpc_methods(),
    "GetParameterNames": lambda d: get_parameter_names(d.get("ParameterPath", ""),
                                                       d.get("NextLevel", False)),
    "GetParameterValues": lambda d: get_parameter_values(d["ParameterNames"]),
    "SetParameterValues": lambda d: set_parameter_values(
        [(p["Name"], p["Value"], p.get("Type", "xsd:string")) if isinstance(p, dict)
         else p for p in d["ParameterList"]], d.get("ParameterKey", "")),
    "GetParameterAttributes": lambda d: get_parameter_attributes(d["ParameterNames"]),
    "SetParameterAttributes": lambda d: set_parameter_attributes(d["ParameterList"]),
    "AddObject": lambda d: add_object(d["ObjectName"], d.get("ParameterKey", "")),
    "DeleteObject": lambda d: delete_object(d["ObjectName"], d.get("ParameterKey", "")),
    "Reboot": lambda d: reboot(d.get("CommandKey", "")),
    "FactoryReset": lambda d: factory_reset(),
    "Download": lambda d: download(
        d.get("CommandKey", ""), d["FileType"], d["URL"], d.get("Username", ""),
        d.get("Password", ""), d.get("FileSize", 0), d.get("TargetFileName", ""),
        d.get("DelaySeconds", 0), d.get("SuccessURL", ""), d.get("FailureURL", "")),
    "Upload": lambda d: upload(d.get("CommandKey", ""), d["FileType"], d["URL"],
                               d.get("Username", ""), d.get("Password", ""),
                               d.get("DelaySeconds", 0)),
    "ScheduleInform": lambda d: schedule_inform(d["DelaySeconds"], d.get("CommandKey", "")),
    "GetAllQueuedTransfers": lambda d: get_all_queued_transfers(),
    "GetQueuedTransfers": lambda d: get_queued_transfers(),
    "CancelTransfer": lambda d: cancel_transfer(d.get("CommandKey", "")),
    "raw": lambda d: raw(d["xml"], d.get("whole", False), d.get("name")),
}


def rpc_from_dict(d):
    """Builds an Rpc from a script entry such as {"method": "Reboot", "CommandKey": "k"}."""
    method = d.get("method")
    if method not in _BUILDERS:
        raise ValueError("unknown RPC %r in script (known: %s)" % (
            method, ", ".join(sorted(_BUILDERS))))
    return _BUILDERS[method](d)


# ---------------------------------------------------------------- parsing CPE messages

def _local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _ns(tag):
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _children(el, name):
    """The children of el's child `name` (none when it is missing)."""
    c = _child(el, name)
    return list(c) if c is not None else []


def _child(el, name):
    if el is None:
        return None
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _text(el, name, default=""):
    c = _child(el, name)
    return default if c is None else (c.text or "").strip()


def _int(s, default=None):
    try:
        return int(s)
    except (TypeError, ValueError):
        return default


def _truthy(s):
    return s.strip().lower() in ("1", "true")


def _parse_inform(el):
    dev = _child(el, "DeviceId")
    device_id = {} if dev is None else {_local(c.tag): (c.text or "").strip() for c in dev}
    events = [(_text(e, "EventCode"), _text(e, "CommandKey"))
              for e in _children(el, "Event") if _local(e.tag) == "EventStruct"]
    params, types = {}, {}
    for pvs in _children(el, "ParameterList"):
        name = _text(pvs, "Name")
        value = _child(pvs, "Value")
        params[name] = "" if value is None else (value.text or "")
        types[name] = None if value is None else value.get(_XSI_TYPE)
    return {"device_id": device_id, "events": events, "parameters": params,
            "parameter_types": types, "retry_count": _int(_text(el, "RetryCount")),
            "max_envelopes": _text(el, "MaxEnvelopes"),
            "current_time": _text(el, "CurrentTime")}


def _parse_fault(el):
    detail = _child(el, "detail")
    cf = _child(detail, "Fault")
    out = {"faultcode": _text(el, "faultcode"), "faultstring": _text(el, "faultstring"),
           "FaultCode": _int(_text(cf, "FaultCode")), "FaultString": _text(cf, "FaultString"),
           "SetParameterValuesFault": []}
    for c in cf if cf is not None else []:
        if _local(c.tag) == "SetParameterValuesFault":
            out["SetParameterValuesFault"].append({
                "ParameterName": _text(c, "ParameterName"),
                "FaultCode": _int(_text(c, "FaultCode")),
                "FaultString": _text(c, "FaultString")})
    return out


def _parse_response(name, el):
    """Turns a CPE response into a small dict; unknown shapes give their leaf texts."""
    if name == "GetParameterValuesResponse":
        out = collections.OrderedDict()
        for pvs in _children(el, "ParameterList"):
            value = _child(pvs, "Value")
            out[_text(pvs, "Name")] = ("" if value is None else (value.text or ""),
                                       None if value is None else value.get(_XSI_TYPE))
        return out
    if name == "GetParameterNamesResponse":
        return collections.OrderedDict(
            (_text(p, "Name"), _truthy(_text(p, "Writable")))
            for p in _children(el, "ParameterList"))
    if name == "GetParameterAttributesResponse":
        out = collections.OrderedDict()
        for p in _children(el, "ParameterList"):
            out[_text(p, "Name")] = {
                "Notification": _int(_text(p, "Notification")),
                "AccessList": [(s.text or "") for s in _children(p, "AccessList")]}
        return out
    if name == "GetRPCMethodsResponse":
        return {"MethodList": [(s.text or "").strip()
                               for s in _children(el, "MethodList")]}
    if name in ("GetQueuedTransfersResponse", "GetAllQueuedTransfersResponse"):
        return {"TransferList": [{_local(f.tag): (f.text or "").strip() for f in t}
                                 for t in _children(el, "TransferList")]}
    out = {}
    for c in el:
        text = (c.text or "").strip()
        out[_local(c.tag)] = _int(text, text) if _local(c.tag) in (
            "Status", "InstanceNumber", "FaultCode") else text
    return out


def _parse_cpe_request(name, el):
    if name in ("TransferComplete", "AutonomousTransferComplete"):
        fs = _child(el, "FaultStruct")
        out = {_local(c.tag): (c.text or "").strip() for c in el if len(c) == 0}
        out["FaultCode"] = _int(_text(fs, "FaultCode"), 0)
        out["FaultString"] = _text(fs, "FaultString")
        return out
    return {_local(c.tag): (c.text or "").strip() for c in el if len(c) == 0}


# ---------------------------------------------------------------- HTTP auth helpers

def _md5(s):
    return hashlib.md5(s.encode("utf-8")).hexdigest()


_AUTH_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')


def _auth_params(s):
    out = {}
    for k, v in _AUTH_PARAM.findall(s):
        if v.startswith('"'):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        out[k.lower()] = v
    return out


def _client_authorization(challenge, method, uri, username, password):
    """Answers a WWW-Authenticate challenge (Digest MD5 qop=auth, or Basic) as a client."""
    scheme = challenge.split(None, 1)[0].lower() if challenge else ""
    if scheme == "basic":
        token = base64.b64encode(("%s:%s" % (username, password)).encode()).decode()
        return "Basic " + token
    p = _auth_params(challenge[len("digest"):])
    realm, nonce = p.get("realm", ""), p.get("nonce", "")
    cnonce, nc = os.urandom(8).hex(), "00000001"
    ha1 = _md5("%s:%s:%s" % (username, realm, password))
    ha2 = _md5("%s:%s" % (method, uri))
    fields = [("username", username), ("realm", realm), ("nonce", nonce), ("uri", uri)]
    if "auth" in [q.strip() for q in p.get("qop", "").split(",")]:
        response = _md5(":".join([ha1, nonce, nc, cnonce, "auth", ha2]))
        fields += [("qop", "auth"), ("nc", nc), ("cnonce", cnonce)]
    else:
        response = _md5(":".join([ha1, nonce, ha2]))
    fields.append(("response", response))
    if "opaque" in p:
        fields.append(("opaque", p["opaque"]))
    return "Digest " + ", ".join(
        '%s=%s' % (k, v) if k in ("qop", "nc") else '%s="%s"' % (k, v) for k, v in fields)


# ---------------------------------------------------------------- records

class Exchange:
    """One HTTP request from the CPE and the ACS's answer, as seen on the wire."""

    def __init__(self, conn_id, method, path, request_headers, request_body):
        self.connection = conn_id
        self.method = method
        self.path = path
        self.request_headers = request_headers      # list of (name, value)
        self.request_body = request_body
        self.status = None
        self.response_headers = []
        self.response_body = b""
        self.cpe_message = ""      # local name of the CPE's message ("" = empty POST)
        self.acs_message = ""      # what the ACS answered ("204", "InformResponse", ...)

    def header(self, name, default=None):
        for k, v in self.request_headers:
            if k.lower() == name.lower():
                return v
        return default

    def response_header(self, name, default=None):
        for k, v in self.response_headers:
            if k.lower() == name.lower():
                return v
        return default

    def __repr__(self):
        return "Exchange(%s %s -> %s)" % (self.cpe_message or "empty", self.path, self.status)


class LabSession(list):
    """The exchanges of one CWMP session, plus its state."""

    def __init__(self, number, conn_id):
        super().__init__()
        self.number = number
        self.connection = conn_id
        self.cookie = None
        self.namespace = CWMP_NAMESPACES[-1]
        self.inform = None
        self.script = collections.deque()
        self.hold_requests = False
        self.pending = None          # (id, method, namespace) of the ACS request out
        self.cpe_done = False        # the CPE sent its empty POST
        self.hold_sent = False
        self.ended = False
        self.aborted = False


class _Conn:
    def __init__(self, conn_id, peer):
        self.id = conn_id
        self.peer = peer
        self.nonces = {}             # nonce issued on this connection -> last nc
        self.authenticated = False
        self.session = None
        self.early = []              # exchanges before the session's Inform (401s)
        self.early_lines = []        # their transcript lines, shown under the session
        self.sock = None


# ---------------------------------------------------------------- the server

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default of 5 drops the SYNs of a bootstrap storm (tools/bench_fleet.py):
    # the devices wait out TCP's retransmits, seconds each, and some time out.
    request_queue_size = 1024

    def __init__(self, addr, acs):
        self.acs = acs
        super().__init__(addr, _Handler)

    def finish_request(self, request, client_address):
        ctx = self.acs._tls_context
        if ctx is not None:
            # Handshake in the connection's thread, so a silent client blocks no one.
            request.settimeout(10)
            try:
                request = ctx.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as e:
                self.acs._note("TLS handshake from %s failed: %s" % (client_address[0], e))
                self.acs.tls_failures.append(str(e))
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            if ctx is not None:
                request.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tr069client-lab-acs/1"
    timeout = 30   # idle keep-alive connections do not hold a thread forever

    def setup(self):
        super().setup()
        self.conn = self.server.acs._open_connection(self)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.acs._close_connection(self.conn)

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        self.server.acs._handle(self, "POST")

    def do_GET(self):
        self.server.acs._handle(self, "GET")

    def do_PUT(self):
        self.server.acs._handle(self, "PUT")


class LabAcs:
    """A scripted ACS on loopback; see the module docstring."""

    def __init__(self, host="127.0.0.1", port=0, auth=None, username="acs-user",
                 password="acs-pass", tls=None, end_style="204", hold_requests=False,
                 cookie=True, namespace=None, client_ca=None, echo=None):
        if auth not in (None, "basic", "digest"):
            raise ValueError("auth must be None, 'basic' or 'digest'")
        if end_style not in ("204", "empty-200"):
            raise ValueError("end_style must be '204' or 'empty-200'")
        self.host, self.port = host, port
        self.auth, self.username, self.password = auth, username, password
        self.tls, self.end_style = tls, end_style
        self.hold_requests, self.cookie, self.namespace = hold_requests, cookie, namespace
        self.echo = echo                 # callable(line) for live transcripts (CLI)
        self.on_response = None          # callable(method, parsed) -> None | Rpc | [Rpc]
        self.problems = []
        self.sessions = []
        self.informs = []
        self.responses = []              # (method, parsed); faults as ("Fault", {...})
        self.requests = []               # CPE requests other than Inform: (method, parsed)
        self.messages = []               # every CWMP body the CPE POSTed, b"" included
        self.auth_failures = 0
        self.auth_challenges = 0
        self.tls_failures = []
        self.files = {}
        self.file_requests = []          # dicts: method, name, status, sent (body bytes)
        self.stalled = set()             # names of files whose GET is held (stall_after)
        self.uploads = {}
        self.upload_headers = {}
        self.connection_requests = []    # (url, status)
        self._upload_auth = {}
        self._lines = []
        self._planned = collections.deque()
        self._pool = collections.deque()
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._conns = {}
        self._conn_seq = 0
        self._all_nonces = set()
        self._old_cookies = set()
        self._server = None
        self._thread = None
        self._tls_context = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            if client_ca:
                ctx.load_verify_locations(client_ca)
                ctx.verify_mode = ssl.CERT_REQUIRED
            self._tls_context = ctx

    # ---- life cycle

    def start(self):
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="lab-acs", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        with self._lock:
            for f in self.files.values():
                f["release"].set()       # held GETs end (their client may be gone)
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            socks = [c.sock for c in self._conns.values() if c.sock is not None]
        for s in socks:   # wake handler threads blocked on idle keep-alive connections
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    @property
    def url(self):
        return self.base_url + _CWMP_PATH

    # ---- scripting

    def queue(self, *rpcs):
        """Adds ACS requests for the running or next sessions (after any planned ones).
        An item may be a callable(acs) returning an Rpc, a list of them, or None."""
        with self._lock:
            self._pool.extend(rpcs)

    def queue_session(self, rpcs, hold_requests=None):
        """Plans exactly what one future session sends (sessions take plans in order)."""
        with self._lock:
            self._planned.append((list(rpcs), hold_requests))

    def load_script(self, sessions):
        """Plans sessions from a parsed JSON script: a list of lists of RPC dicts."""
        for s in sessions:
            self.queue_session([rpc_from_dict(d) for d in s])

    def take_problems(self):
        """Returns the problems recorded so far and clears them (for tests that expect some)."""
        with self._lock:
            out, self.problems[:] = list(self.problems), []
            return out

    # ---- waiting (tests)

    def wait_for(self, predicate, timeout=10):
        """Waits until predicate(acs) is true; returns its last value."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self)
                left = deadline - time.monotonic()
                if value or left <= 0:
                    return value
                self._cond.wait(min(left, 0.2))

    def wait_sessions(self, n, timeout=10):
        """Waits until n sessions have ended; raises AssertionError with the transcript."""
        if not self.wait_for(lambda a: sum(1 for s in a.sessions if s.ended) >= n, timeout):
            raise AssertionError("timed out after %ss waiting for %d ended session(s); "
                                 "transcript:\n%s" % (timeout, n, self.transcript()))
        return self.sessions[:n]

    # ---- files

    def add_file(self, name, data, auth=None, username="file-user", password="file-pass",
                 die_after=None, content_length=None, stall_after=None):
        """Serves `data` at file_url(name). die_after=N closes the connection after N body
        bytes; content_length announces another size (connection closed after the body);
        stall_after=N makes the first GET send N bytes, then wait (name in acs.stalled) until
        release_file(name) or stop() before sending the rest; later GETs are not held."""
        with self._lock:
            self.files[name] = {"data": bytes(data), "auth": auth, "username": username,
                                "password": password, "die_after": die_after,
                                "content_length": content_length, "stall_after": stall_after,
                                "release": threading.Event()}
        return self.file_url(name)

    def release_file(self, name):
        """Lets a GET held by stall_after go on."""
        with self._lock:
            self.files[name]["release"].set()

    def file_url(self, name):
        return "%s/files/%s" % (self.base_url, urllib.parse.quote(name))

    def upload_url(self, name, auth=None, username="file-user", password="file-pass"):
        """URL where a PUT stores its body in acs.uploads[name]; auth is optional."""
        with self._lock:
            self._upload_auth[name] = (auth, username, password)
        return "%s/uploads/%s" % (self.base_url, urllib.parse.quote(name))

    # ---- connection requests

    def connection_request(self, url, username="", password="", timeout=5, context=None):
        """GETs a connection request URL like GenieACS: first without credentials, then
        answering a Digest (or Basic) challenge. Returns the final HTTP status."""
        u = urllib.parse.urlsplit(url)
        path = (u.path or "/") + ("?" + u.query if u.query else "")
        if u.scheme == "https":
            ctx = context or ssl._create_unverified_context()

            def make():
                return http.client.HTTPSConnection(u.hostname, u.port or 443,
                                                   timeout=timeout, context=ctx)
        else:
            def make():
                return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
        conn = make()
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            if r.status == 401 and (username or password):
                challenge = r.getheader("WWW-Authenticate", "")
                if r.will_close:
                    conn.close()
                    conn = make()
                conn.request("GET", path, headers={"Authorization": _client_authorization(
                    challenge, "GET", path, username, password)})
                r = conn.getresponse()
                r.read()
            status = r.status
        finally:
            conn.close()
        with self._lock:
            self.connection_requests.append((url, status))
        self._note("ACS -> CPE  connection request %s -> %d" % (url, status))
        return status

    # ---- transcript

    def transcript(self):
        with self._lock:
            return "\n".join(self._lines)

    def _note(self, line):
        with self._lock:
            self._lines.append(line)
            self._cond.notify_all()
        if self.echo is not None:
            self.echo(line)

    def _problem(self, text, session=None):
        if session is not None:
            text = "session %d: %s" % (session.number, text)
        with self._lock:
            self.problems.append(text)
        self._note("!! problem: " + text)

    # ---- connections

    def _open_connection(self, handler):
        with self._lock:
            self._conn_seq += 1
            c = _Conn(self._conn_seq, handler.client_address[0])
            c.sock = handler.connection
            self._conns[c.id] = c
            return c

    def _flush_early_lines(self, conn):
        lines, conn.early_lines = conn.early_lines, []
        for line in lines:
            self._note(line)

    def _close_connection(self, conn):
        with self._lock:
            self._conns.pop(conn.id, None)
            self._flush_early_lines(conn)
            s = conn.session
            if s is not None and not s.ended:
                s.ended = s.aborted = True
                self._retire_cookie(s)
                self._note("-- connection closed before session %d ended" % s.number)
            self._cond.notify_all()

    def _retire_cookie(self, s):
        if s.cookie:
            self._old_cookies.add(s.cookie)

    # ---- HTTP plumbing

    def _handle(self, h, method):
        try:
            body = self._read_body(h)
        except (ValueError, OSError) as e:
            self._problem("unreadable %s request body: %s" % (method, e))
            h.close_connection = True
            return
        ex = Exchange(h.conn.id, method, h.path, list(h.headers.items()), body)
        try:
            path = urllib.parse.urlsplit(h.path).path
            if method == "POST" and path == _CWMP_PATH:
                with self._lock:
                    self._cwmp(h, ex)
            elif method == "GET" and path.startswith("/files/"):
                self._serve_file(h, ex, urllib.parse.unquote(path[len("/files/"):]))
            elif method in ("PUT", "POST") and path.startswith("/uploads/"):
                self._store_upload(h, ex, urllib.parse.unquote(path[len("/uploads/"):]))
            else:
                self._problem("%s to unknown path %s" % (method, h.path))
                self._send(h, ex, 404, [], b"not found\n")
        except Exception:                           # the server thread must survive
            self._problem("lab ACS internal error:\n" + traceback.format_exc())
            try:
                self._send(h, ex, 500, [], b"lab ACS internal error\n")
            except OSError:
                pass
            h.close_connection = True

    def _read_body(self, h):
        if "chunked" in h.headers.get("Transfer-Encoding", "").lower():
            parts, total = [], 0
            while True:
                size = int(h.rfile.readline(100).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline(8192).strip():   # trailers
                        pass
                    return b"".join(parts)
                total += size
                if total > _MAX_BODY:
                    raise ValueError("body over %d bytes" % _MAX_BODY)
                parts.append(h.rfile.read(size))
                h.rfile.readline(10)
        n = int(h.headers.get("Content-Length") or 0)
        if n > _MAX_BODY or n < 0:
            raise ValueError("Content-Length %d out of range" % n)
        return h.rfile.read(n) if n else b""

    def _send(self, h, ex, status, headers, body, label=None):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        if status != 204:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body and h.command != "HEAD":
            h.wfile.write(body)
        h.wfile.flush()
        ex.status, ex.response_headers, ex.response_body = status, list(headers), body
        if label is not None:
            ex.acs_message = label

    # ---- authentication

    def _check_auth(self, h, conn, mode, username, password, realm):
        """Returns None when the request may pass, else (reason, stale, counts_as_failure)."""
        if mode is None:
            return None
        header = h.headers.get("Authorization")
        if not header:
            return None if conn.authenticated and realm == _REALM else (
                "no credentials", False, False)
        scheme, _, rest = header.partition(" ")
        if mode == "basic":
            try:
                user, _, pw = base64.b64decode(rest.strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return "malformed Basic credentials", False, True
            if scheme.lower() != "basic" or (user, pw) != (username, password):
                return "wrong credentials", False, True
            return None
        if scheme.lower() != "digest":
            return "%s credentials to a Digest challenge" % scheme, False, True
        p = _auth_params(rest)
        nonce = p.get("nonce", "")
        if nonce not in conn.nonces:
            why = "nonce from another connection" if nonce in self._all_nonces else (
                "unknown nonce")
            return why, True, False
        if p.get("username") != username or p.get("realm") != realm:
            return "wrong username or realm", False, True
        if p.get("uri") != h.path:
            return "digest uri %r is not the request's %r" % (p.get("uri"), h.path), False, True
        if p.get("qop") != "auth" or not p.get("cnonce") or not re.match(
                r"^[0-9a-fA-F]{8}$", p.get("nc", "")):
            return "digest without qop=auth, nc and cnonce", False, True
        if p.get("algorithm", "MD5").upper() != "MD5":
            return "digest algorithm %s" % p.get("algorithm"), False, True
        nc = int(p["nc"], 16)
        if nc <= conn.nonces[nonce]:
            return "nonce count %s reused" % p["nc"], False, True
        ha1 = _md5("%s:%s:%s" % (username, realm, password))
        ha2 = _md5("%s:%s" % (h.command, p["uri"]))
        if p.get("response", "").lower() != _md5(":".join(
                [ha1, nonce, p["nc"], p["cnonce"], "auth", ha2])):
            return "wrong credentials", False, True
        conn.nonces[nonce] = nc
        return None

    def _challenge(self, h, ex, conn, mode, realm, why, stale):
        with self._lock:
            self.auth_challenges += 1
            if mode == "basic":
                value = 'Basic realm="%s"' % realm
            else:
                nonce = os.urandom(16).hex()
                conn.nonces[nonce] = 0
                self._all_nonces.add(nonce)
                value = 'Digest realm="%s", qop="auth", nonce="%s", opaque="%s", ' \
                        'algorithm=MD5%s' % (realm, nonce, os.urandom(8).hex(),
                                             ", stale=true" if stale else "")
        self._send(h, ex, 401, [("WWW-Authenticate", value),
                                ("Content-Type", "text/plain")], b"Unauthorized\n", "401")
        return "401 Unauthorized: %s challenge (%s)" % (mode.capitalize(), why)

    def _gate(self, h, ex, conn, mode, username, password, realm):
        """Checks credentials; on refusal answers 401 and returns the transcript text."""
        refused = self._check_auth(h, conn, mode, username, password, realm)
        if refused is None:
            if mode is not None:
                conn.authenticated = conn.authenticated or realm == _REALM
            return None
        why, stale, failure = refused
        if failure:
            with self._lock:
                self.auth_failures += 1
            if why.startswith("nonce count"):
                self._problem("%s on connection %d" % (why, conn.id), conn.session)
        return self._challenge(h, ex, conn, mode, realm, why, stale)

    # ---- CWMP

    def _envelope(self, session, body_xml, msg_id, hold=False):
        ns = self.namespace or session.namespace
        hold_xml = ('<cwmp:HoldRequests soap-env:mustUnderstand="1">1</cwmp:HoldRequests>'
                    if hold else "")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<soap-env:Envelope xmlns:soap-enc="%s" xmlns:soap-env="%s" xmlns:xsd="%s" '
                'xmlns:xsi="%s" xmlns:cwmp="%s"><soap-env:Header>'
                '<cwmp:ID soap-env:mustUnderstand="1">%s</cwmp:ID>%s</soap-env:Header>'
                '<soap-env:Body>%s</soap-env:Body></soap-env:Envelope>' % (
                    SOAP_ENC, SOAP_ENV, XSD, XSI, ns, _esc(msg_id), hold_xml,
                    body_xml)).encode("utf-8")

    def _xml_headers(self):
        return [("Content-Type", 'text/xml; charset="utf-8"')]

    def _cwmp(self, h, ex):
        conn = h.conn
        body = ex.request_body
        self.messages.append(body)
        refused = self._gate(h, ex, conn, self.auth, self.username, self.password, _REALM)
        if refused:
            if conn.session and not conn.session.ended:
                conn.session.append(ex)
                self._note("ACS -> CPE  " + refused)
            else:
                conn.early.append(ex)
                conn.early_lines.append("ACS -> CPE  " + refused)
            return
        if not body.strip():
            return self._empty_post(h, ex, conn)
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            return self._bad_request(h, ex, conn, "malformed XML from the CPE: %s" % e)
        if _local(root.tag) != "Envelope" or _ns(root.tag) != SOAP_ENV:
            return self._bad_request(h, ex, conn, "CPE message is not a SOAP 1.1 Envelope "
                                     "(root %s)" % root.tag)
        body_el = _child(root, "Body")
        items = [] if body_el is None else list(body_el)
        if len(items) != 1:
            return self._bad_request(h, ex, conn, "CPE SOAP Body holds %d elements, "
                                     "expected 1" % len(items))
        el = items[0]
        name = _local(el.tag)
        ex.cpe_message = name
        header = _child(root, "Header")
        id_el = _child(header, "ID")
        msg_id = None if id_el is None else (id_el.text or "")
        if name == "Inform":
            return self._inform(h, ex, conn, el, msg_id)
        session = self._session_for(h, conn)
        if session is None:
            return self._bad_request(h, ex, conn, "%s outside a session (no Inform on "
                                     "this connection)" % name)
        session.append(ex)
        self._check_message_headers(h, session, name, is_response=(
            name.endswith("Response") or name == "Fault"))
        if name.endswith("Response") or name == "Fault":
            return self._cpe_response(h, ex, session, el, name, msg_id)
        return self._cpe_request(h, ex, session, el, name, msg_id)

    def _bad_request(self, h, ex, conn, why):
        s = conn.session if conn.session and not conn.session.ended else None
        (s.append if s else conn.early.append)(ex)
        self._problem(why, s)
        self._send(h, ex, 400, [("Content-Type", "text/plain")], (why + "\n").encode(), "400")
        self._note("ACS -> CPE  400 Bad Request (%s)" % why.split(":")[0])

    def _session_for(self, h, conn):
        s = conn.session
        if s is not None and not s.ended:
            return s
        cookie = self._cookie_of(h)
        for other in self.sessions:
            if not other.ended and other.cookie and other.cookie == cookie:
                self._problem("the session continued on a new TCP connection (%d, was %d)"
                              % (conn.id, other.connection), other)
                conn.session = other
                return other
        return None

    def _cookie_of(self, h):
        for part in (h.headers.get_all("Cookie") or []):
            for kv in part.split(";"):
                k, _, v = kv.strip().partition("=")
                if k == "session":
                    return v
        return None

    def _check_message_headers(self, h, session, name, is_response):
        ct = h.headers.get("Content-Type")
        if ct is None or ct.split(";")[0].strip().lower() != "text/xml":
            self._problem("%s sent with Content-Type %r, not text/xml" % (name, ct), session)
        action = h.headers.get("SOAPAction")
        if action is None:
            self._problem("%s sent without a SOAPAction header" % name, session)
        elif is_response and action.strip().strip('"') != "":
            self._problem("response %s sent with a non-empty SOAPAction %r" % (name, action),
                          session)
        if self.cookie and session.cookie and session.inform is not None \
                and self._cookie_of(h) != session.cookie:
            self._problem("%s did not replay the session cookie (Cookie: %r)" % (
                name, h.headers.get("Cookie")), session)

    def _inform(self, h, ex, conn, el, msg_id):
        if conn.session is not None:
            old = conn.session
            if not old.ended:
                self._problem("Inform inside the open session %d" % old.number, old)
                old.ended = old.aborted = True
                self._retire_cookie(old)
            else:
                self._problem("new session reused the TCP connection of session %d"
                              % old.number)
        s = LabSession(len(self.sessions) + 1, conn.id)
        s.namespace = _ns(el.tag)
        if self._planned:
            rpcs, hold = self._planned.popleft()
            s.script.extend(rpcs)
            s.hold_requests = self.hold_requests if hold is None else hold
        else:
            s.hold_requests = self.hold_requests
        self.sessions.append(s)
        conn.session = s
        s.extend(conn.early)
        conn.early = []
        s.append(ex)
        self._note("--- session %d (connection %d from %s)" % (s.number, conn.id, conn.peer))
        self._flush_early_lines(conn)
        if s.namespace not in CWMP_NAMESPACES:
            self._problem("Inform in unknown namespace %r" % s.namespace, s)
            s.namespace = CWMP_NAMESPACES[-1]
        self._check_message_headers(h, s, "Inform", is_response=False)
        old_cookie = self._cookie_of(h)
        if old_cookie and old_cookie in self._old_cookies:
            self._problem("Inform carried the cookie of an earlier session", s)
        info = _parse_inform(el)
        info["namespace"] = s.namespace
        info["id"] = msg_id
        s.inform = info
        self.informs.append(info)
        self._check_inform(s, info)
        ev = ", ".join(c + (" [%s]" % k if k else "") for c, k in info["events"])
        self._note("CPE -> ACS  Inform  events: %s  (%d parameters, RetryCount %s)" % (
            ev or "none", len(info["parameters"]), info["retry_count"]))
        headers = self._xml_headers()
        if self.cookie:
            s.cookie = os.urandom(12).hex()
            headers.append(("Set-Cookie", "session=%s; Path=/" % s.cookie))
        reply = self._envelope(s, "<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes>"
                               "</cwmp:InformResponse>",
                               msg_id if msg_id else os.urandom(6).hex(), s.hold_requests)
        s.hold_sent = s.hold_requests
        self._send(h, ex, 200, headers, reply, "InformResponse")
        self._note("ACS -> CPE  InformResponse" + ("  (HoldRequests)" if s.hold_sent else ""))

    def _check_inform(self, s, info):
        dev = info["device_id"]
        for field in ("Manufacturer", "OUI", "ProductClass", "SerialNumber"):
            if field not in dev:
                self._problem("Inform DeviceId has no %s" % field, s)
        if "OUI" in dev and not re.match(r"^[0-9A-F]{6}$", dev["OUI"]):
            self._problem("Inform DeviceId OUI %r is not six upper-case hex digits"
                          % dev["OUI"], s)
        if "SerialNumber" in dev and not dev["SerialNumber"]:
            self._problem("Inform DeviceId SerialNumber is empty", s)
        if not info["events"]:
            self._problem("Inform carries no event", s)
        if len(set(info["events"])) != len(info["events"]):
            self._problem("Inform repeats an event: %r" % (info["events"],), s)
        if info["max_envelopes"] != "1":
            self._problem("Inform MaxEnvelopes is %r, not 1" % info["max_envelopes"], s)
        if info["retry_count"] is None:
            self._problem("Inform RetryCount missing or not a number", s)

    def _cpe_request(self, h, ex, s, el, name, msg_id):
        if s.cpe_done:
            self._problem("CPE sent %s after its empty POST" % name, s)
        if s.hold_sent:
            self._problem("CPE sent %s while HoldRequests was true" % name, s)
        parsed = _parse_cpe_request(name, el)
        self.requests.append((name, parsed))
        if name in ("TransferComplete", "AutonomousTransferComplete"):
            self._note("CPE -> ACS  %s  key %r, fault %s %s" % (
                name, parsed.get("CommandKey", ""), parsed["FaultCode"],
                parsed["FaultString"]))
            body = "<cwmp:%sResponse></cwmp:%sResponse>" % (name, name)
            label = name + "Response"
        elif name == "GetRPCMethods":
            self._note("CPE -> ACS  GetRPCMethods")
            body = ("<cwmp:GetRPCMethodsResponse>%s</cwmp:GetRPCMethodsResponse>"
                    % _strings("MethodList", ACS_METHODS))
            label = "GetRPCMethodsResponse"
        else:
            self._note("CPE -> ACS  %s" % name)
            self._problem("CPE called %s, which the ACS does not offer" % name, s)
            body = ("<soap-env:Fault><faultcode>Server</faultcode><faultstring>CWMP fault"
                    "</faultstring><detail><cwmp:Fault><FaultCode>8000</FaultCode>"
                    "<FaultString>Method not supported</FaultString></cwmp:Fault></detail>"
                    "</soap-env:Fault>")
            label = "Fault 8000"
        reply = self._envelope(s, body, msg_id if msg_id else os.urandom(6).hex(),
                               s.hold_requests)
        self._send(h, ex, 200, self._xml_headers(), reply, label)
        self._note("ACS -> CPE  " + label)

    def _cpe_response(self, h, ex, s, el, name, msg_id):
        pending, s.pending = s.pending, None
        if pending is None:
            self._problem("CPE sent %s but no ACS request was outstanding" % name, s)
        else:
            req_id, req_method, req_ns = pending
            if req_id is not None and msg_id != req_id:
                self._problem("%s carries cwmp:ID %r, the request had %r" % (
                    name, msg_id, req_id), s)
            if req_method and name != "Fault" and name != req_method + "Response":
                self._problem("CPE answered %s with %s" % (req_method, name), s)
            inner = _child(_child(el, "detail"), "Fault") if name == "Fault" else el
            got_ns = _ns(inner.tag) if inner is not None else ""
            if req_ns is not None and got_ns != req_ns:
                self._problem("%s is in namespace %s, the request was in %s" % (
                    name, got_ns or "(none)", req_ns), s)
        if name == "Fault":
            parsed = _parse_fault(el)
            parsed["request"] = pending[1] if pending else None
            self._note("CPE -> ACS  Fault %s %s  (to %s)" % (
                parsed["FaultCode"], parsed["FaultString"], parsed["request"]))
            for f in parsed["SetParameterValuesFault"]:
                self._note("              %s: %s %s" % (
                    f["ParameterName"], f["FaultCode"], f["FaultString"]))
        else:
            parsed = _parse_response(name, el)
            self._note_response(name, parsed)
        self.responses.append((name, parsed))
        if self.on_response is not None:
            more = self.on_response(name, parsed)
            if more is not None:
                more = more if isinstance(more, (list, tuple)) else [more]
                s.script.extendleft(reversed(list(more)))
        self._send_next(h, ex, s)

    def _note_response(self, name, parsed):
        if name == "GetParameterValuesResponse":
            self._note("CPE -> ACS  %s  %d values" % (name, len(parsed)))
            for i, (k, (v, t)) in enumerate(parsed.items()):
                if i == 8:
                    self._note("              ... %d more" % (len(parsed) - 8))
                    break
                self._note("              %s = %r (%s)" % (k, v, t))
        elif name == "GetParameterNamesResponse":
            self._note("CPE -> ACS  %s  %d names" % (name, len(parsed)))
        elif name == "GetParameterAttributesResponse":
            self._note("CPE -> ACS  %s  %s" % (name, _short(
                "%s notification %s" % (k, v["Notification"]) for k, v in parsed.items())))
        else:
            shown = {k: v for k, v in parsed.items() if not isinstance(v, (list, dict))}
            extra = "  " + ", ".join("%s %s" % kv for kv in shown.items()) if shown else ""
            if "MethodList" in parsed:
                extra = "  " + ", ".join(parsed["MethodList"])
            if "TransferList" in parsed:
                extra = "  %d transfers" % len(parsed["TransferList"])
            self._note("CPE -> ACS  %s%s" % (name, extra))

    def _empty_post(self, h, ex, conn):
        s = self._session_for(h, conn)
        if s is None:
            return self._bad_request(h, ex, conn, "empty POST outside a session")
        s.append(ex)
        self._note("CPE -> ACS  (empty POST)")
        if ex.request_body:
            self._problem("the empty POST carries %d bytes of whitespace"
                          % len(ex.request_body), s)
        for hdr in ("Content-Type", "SOAPAction"):
            if h.headers.get(hdr) is not None:
                self._problem("the empty POST has a %s header (%r)" % (
                    hdr, h.headers.get(hdr)), s)
        if self.cookie and s.cookie and self._cookie_of(h) != s.cookie:
            self._problem("the empty POST did not replay the session cookie (Cookie: %r)"
                          % h.headers.get("Cookie"), s)
        if s.pending is not None:
            self._problem("empty POST while the answer to %s (ID %s) was outstanding" % (
                s.pending[1], s.pending[0]), s)
            s.pending = None
        s.cpe_done = True
        self._send_next(h, ex, s)

    def _next_rpc(self, s):
        while True:
            if s.script:
                item = s.script.popleft()
            elif self._pool:
                item = self._pool.popleft()
            else:
                return None
            if callable(item) and not isinstance(item, Rpc):
                item = item(self)
                if isinstance(item, (list, tuple)):
                    s.script.extendleft(reversed(list(item)))
                    continue
            if item is not None:
                return item

    def _send_next(self, h, ex, s):
        rpc = self._next_rpc(s)
        if rpc is None:
            s.ended = True
            self._retire_cookie(s)
            if self.end_style == "204":
                self._send(h, ex, 204, [], b"", "204")
                self._note("ACS -> CPE  204 No Content (session over)")
            else:
                self._send(h, ex, 200, [], b"", "empty 200")
                self._note("ACS -> CPE  200 with empty body (session over)")
            return
        ns = self.namespace or s.namespace
        if rpc.whole:
            body = rpc.body.encode("utf-8")
            s.pending = (None, rpc.method, None)
        else:
            msg_id = "lab-%d-%s" % (len(s) + 1, os.urandom(4).hex())
            body = self._envelope(s, rpc.body, msg_id, s.hold_requests)
            s.pending = (msg_id, rpc.method, ns)
        s.hold_sent = s.hold_requests
        label = rpc.method or "raw request"
        self._send(h, ex, 200, self._xml_headers(), body, label)
        self._note(("ACS -> CPE  %s %s" % (label, rpc.summary)).rstrip())

    # ---- files

    def _serve_file(self, h, ex, name):
        with self._lock:
            f = self.files.get(name)
        self._note("CPE -> ACS  GET /files/%s" % name)
        if f is None:
            self._send(h, ex, 404, [], b"no such file\n")
            self._note("ACS -> CPE  404 (no file %r)" % name)
            self._record_file(name, 404, 0)
            return
        refused = self._gate(h, ex, h.conn, f["auth"], f["username"], f["password"],
                             _FILE_REALM)
        if refused:
            self._record_file(name, 401, 0)
            self._note("ACS -> CPE  " + refused)
            return
        data = f["data"]
        length = len(data) if f["content_length"] is None else f["content_length"]
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(length))
        h.end_headers()
        with self._lock:
            stall, f["stall_after"] = f["stall_after"], None
        if stall is not None:
            return self._serve_held(h, ex, name, f, data, min(stall, len(data)))
        sent = len(data) if f["die_after"] is None else min(f["die_after"], len(data))
        h.wfile.write(data[:sent])
        h.wfile.flush()
        ex.status = 200
        if sent != len(data) or length != len(data):
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._record_file(name, 200, sent)
        self._note("ACS -> CPE  200 %s (%d of %d bytes sent, Content-Length %d)" % (
            name, sent, len(data), length))

    def _record_file(self, name, status, sent, **extra):
        # Recorded after the body is written, so the client may be done before this runs:
        # tests wait on the condition rather than read the list at once.
        with self._cond:
            self.file_requests.append(dict(method="GET", name=name, status=status, sent=sent,
                                           **extra))
            self._cond.notify_all()

    def _serve_held(self, h, ex, name, f, data, stall):
        sent = 0
        try:
            h.wfile.write(data[:stall])
            h.wfile.flush()
            sent = stall
            with self._lock:
                self.stalled.add(name)
                self._cond.notify_all()
            self._note("ACS -> CPE  200 %s: %d of %d bytes sent, held until released" % (
                name, stall, len(data)))
            f["release"].wait()
            h.wfile.write(data[stall:])
            h.wfile.flush()
            sent = len(data)
        except OSError as e:              # the client went away while held: expected here
            h.close_connection = True
            self._note("-- %s: client gone after %d bytes (%s)" % (name, sent, e))
        finally:
            with self._lock:
                self.stalled.discard(name)
        ex.status = 200
        self._record_file(name, 200, sent, held=True)
        self._note("ACS -> CPE  200 %s (%d of %d bytes sent after a hold)" % (name, sent, len(data)))

    def _store_upload(self, h, ex, name):
        self._note("CPE -> ACS  %s /uploads/%s (%d bytes)" % (h.command, name,
                                                              len(ex.request_body)))
        with self._lock:
            mode, user, pw = self._upload_auth.get(name, (None, "", ""))
        refused = self._gate(h, ex, h.conn, mode, user, pw, _FILE_REALM)
        if refused:
            self._note("ACS -> CPE  " + refused)
            return
        with self._lock:
            self.uploads[name] = ex.request_body
            self.upload_headers[name] = list(ex.request_headers)
            self._cond.notify_all()
        self._send(h, ex, 200, [], b"")
        self._note("ACS -> CPE  200 upload %s stored" % name)


# ---------------------------------------------------------------- command line

def main(argv=None):
    ap = argparse.ArgumentParser(description="A small scripted TR-069 ACS for the lab.")
    ap.add_argument("--host", default="127.0.0.1")
    # Not 7547: that is where the client on the same machine listens for connection requests.
    ap.add_argument("--port", type=int, default=7548, help="default %(default)s")
    ap.add_argument("--auth", choices=["none", "basic", "digest"], default="none")
    ap.add_argument("--username", default="acs-user")
    ap.add_argument("--password", default="acs-pass")
    ap.add_argument("--cert", help="PEM certificate: serve HTTPS")
    ap.add_argument("--key", help="PEM key of --cert (default: inside --cert)")
    ap.add_argument("--end-style", choices=["204", "empty-200"], default="204")
    ap.add_argument("--no-cookie", action="store_true", help="set no session cookie")
    ap.add_argument("--hold-requests", action="store_true")
    ap.add_argument("--script", help="JSON file: a list of sessions, each a list of RPCs")
    ap.add_argument("--file", action="append", default=[], metavar="NAME=PATH",
                    help="serve PATH at /files/NAME")
    args = ap.parse_args(argv)
    tls = (args.cert, args.key or args.cert) if args.cert else None
    acs = LabAcs(host=args.host, port=args.port,
                 auth=None if args.auth == "none" else args.auth, username=args.username,
                 password=args.password, tls=tls, end_style=args.end_style,
                 hold_requests=args.hold_requests, cookie=not args.no_cookie,
                 echo=lambda line: print(line, flush=True))
    try:
        if args.script:
            with open(args.script, encoding="utf-8") as f:
                acs.load_script(json.load(f))
        for spec in args.file:
            name, _, path = spec.partition("=")
            with open(path, "rb") as f:
                acs.add_file(name, f.read())
        acs.start()
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("lab_acs: %s" % e, file=sys.stderr)
        return 2
    print("lab ACS listening at %s (auth %s); Ctrl-C stops it" % (acs.url, args.auth),
          flush=True)
    for name in acs.files:
        print("serving %s" % acs.file_url(name), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        acs.stop()
    print("%d session(s), %d problem(s)" % (len(acs.sessions), len(acs.problems)))
    for p in acs.problems:
        print("  - " + p)
    return 1 if acs.problems else 0


if __name__ == "__main__":
    sys.exit(main())
