"""SOAP envelopes for CWMP: parse what an ACS sends, emit the conservative form; no I/O."""

import itertools
import re
from collections import namedtuple
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException

from . import xmlreader
from .faults import MESSAGES

NS_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CWMP_NAMESPACES = ("urn:dslforum-org:cwmp-1-0", "urn:dslforum-org:cwmp-1-1",
                   "urn:dslforum-org:cwmp-1-2")
DEFAULT_NS = CWMP_NAMESPACES[0]

# What an ACS message may hold, with room over the largest a real ACS sends: a
# GetParameterValues of 16,384 names (rpcs._MAX_NAMES; 0.7-1.3 MB, 16,400 elements, a tree
# of 2.8 MB) or a SetParameterValues of 5,000 values (0.7 MB, 15,000 elements, 3.7 MB of
# tree), an Envelope tag of well under 1 KiB with its half-dozen namespaces, depth 7
# (SetParameterAttributes' AccessList), values of up to 65,535 characters (TR-181's longest
# strings), URLs of a few KiB. Each is checked as the bytes arrive.
LIMITS = xmlreader.Limits(size=2 << 20, elements=20000, depth=32, attributes=64, namespaces=32,
                          tag=8 << 10, text=64 << 10, names=256, tree=4 << 20)

# ns: the cwmp namespace the ACS used (None if it used none); elem: the RPC element;
# refused: None, or why a request was not read to its end (it is answered with fault 9004).
Message = namedtuple("Message", "ns id hold_requests method elem refused", defaults=(None,))


class SoapError(Exception):
    """The ACS sent something that is not a usable SOAP envelope."""


class OverBudget(SoapError):
    """The ACS's message passed a budget before it was known to be a request (with its method
    and ID): the session ends, and the rest of the message is not read."""


def local(tag):
    """Local name of an ElementTree tag (`{ns}Name` or `Name`)."""
    return tag.rpartition("}")[2]


def _ns(tag):
    return tag[1:tag.index("}")] if tag[:1] == "{" else None


def child(elem, name):
    """First child of `elem` whose local name is `name`, or None."""
    for c in elem:
        if local(c.tag) == name:
            return c
    return None


def children(elem, name):
    return [c for c in elem if local(c.tag) == name]


def text(elem, name, default=None):
    """Text of the child `name` (empty string when present but empty), else `default`."""
    c = child(elem, name)
    if c is None:
        return default
    return c.text or ""


class Reader:
    """An ACS message parsed as its bytes arrive (`feed`), then `message()`. Past a budget,
    feed() raises OverBudget, unless the message is a request whose method and ID are
    known: the rest is then only counted, and the message is refused with fault 9004.
    `empty`: nothing but whitespace arrived; `raw`: what arrived, if `keep` (the debug log)."""

    def __init__(self, limits=LIMITS, keep=False):
        self._xml = xmlreader.Reader(limits)
        self.limit = limits.size
        self.too_large = "ACS sent a message of over %s" % xmlreader.size(limits.size)
        self.empty = True
        self.raw = [] if keep else None
        self._error = None     # the SoapError that makes the message unusable
        self._refused = None   # the budget a request passed

    def feed(self, data):
        data = bytes(data)
        if self.raw is not None:
            self.raw.append(data)
        if self.empty and data.strip():
            self.empty = False
        try:
            self._xml.feed(data)
        except xmlreader.OverBudget as e:
            if self._refused is None and self._error is None and _request(self._xml.root):
                self._refused = str(e)
                return
            raise OverBudget("ACS sent a message %s" % e) from None
        except (ParseError, ValueError, LookupError) as e:
            self._error = _unusable(e)

    def message(self):
        """The Message; SoapError with an operator's sentence if it is unusable."""
        if self._error is not None:
            raise self._error
        if self._refused is not None:
            root = self._xml.root
        else:
            try:
                root = self._xml.close()
            except xmlreader.OverBudget as e:
                raise OverBudget("ACS sent a message %s" % e) from None
            except (ParseError, ValueError, LookupError) as e:
                raise _unusable(e) from None
        msg = _message(root)
        return msg._replace(refused=self._refused) if self._refused else msg


def read(body, limits=LIMITS):
    """A Reader fed all of `body`; OverBudget as Reader.feed() raises it."""
    reader = Reader(limits)
    if len(body) > reader.limit:
        raise OverBudget(reader.too_large)
    for i in range(0, len(body), 65536):
        reader.feed(body[i:i + 65536])
    return reader


def parse(body, limits=LIMITS):
    """Parse a whole ACS message; raise SoapError with an operator's sentence if it is unusable."""
    return read(body, limits).message()


def _unusable(e):
    if isinstance(e, DefusedXmlException):   # a ValueError too
        return SoapError("ACS sent forbidden XML (%s)" % type(e).__name__)
    if isinstance(e, ParseError):
        return SoapError("ACS sent malformed XML: %s" % e)
    return SoapError("ACS sent undecodable XML: %s" % e)   # LookupError: an unknown encoding


def _request(root):
    """The method of the request in the Body of `root` once it has begun; None before, or
    if it is no request (a response or a Fault)."""
    body = child(root, "Body") if root is not None and local(root.tag) == "Envelope" else None
    if body is None or not len(body):
        return None
    method = local(body[0].tag)
    return None if method == "Fault" or method.endswith("Response") else method


def _message(root):
    if local(root.tag) != "Envelope":
        raise SoapError("ACS sent XML that is not a SOAP envelope (root element <%s>)" % local(root.tag))
    header = child(root, "Header")
    body_elem = child(root, "Body")
    if body_elem is None:
        raise SoapError("ACS sent a SOAP envelope without a Body")
    rpcs = list(body_elem)
    if not rpcs:
        raise SoapError("ACS sent a SOAP envelope with an empty Body")
    rpc = rpcs[0]
    ns = _ns(rpc.tag)
    msg_id = None
    hold = False
    if header is not None:
        for h in header:
            name = local(h.tag)
            if name == "ID":
                msg_id = h.text or ""
                ns = ns if ns in CWMP_NAMESPACES else _ns(h.tag)
            elif name == "HoldRequests":
                hold = (h.text or "").strip().lower() in ("1", "true")
    if ns not in CWMP_NAMESPACES:
        ns = None
    return Message(ns, msg_id, hold, local(rpc.tag), rpc)


# Characters XML 1.0 cannot carry at all, and the ones that must be escaped.
_ILLEGAL = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_NEEDS_WORK = re.compile("[&<>\"\r" + _ILLEGAL + "]")
_ILLEGAL_RE = re.compile("[" + _ILLEGAL + "]")


def escape(value):
    """Escape text for element content or a double-quoted attribute; drop non-XML chars."""
    if not _NEEDS_WORK.search(value):
        return value
    value = _ILLEGAL_RE.sub("", value)
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\r", "&#13;"))


_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"'
         ' xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"'
         ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
         ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
         ' xmlns:cwmp="%s"><SOAP-ENV:Header>'
         '<cwmp:ID SOAP-ENV:mustUnderstand="1">%s</cwmp:ID>'
         '</SOAP-ENV:Header><SOAP-ENV:Body>')
_TAIL = "</SOAP-ENV:Body></SOAP-ENV:Envelope>"


def envelope(ns, msg_id, parts):
    """Wrap body `parts` (a list of str) in an envelope; return a list of UTF-8 chunks."""
    chunks = [(_HEAD % (ns, escape(msg_id))).encode()]
    buf = []
    size = 0
    for p in parts:
        buf.append(p)
        size += len(p)
        if size >= 16384:  # bounded chunks: the pieces of one live at a time, beside the bytes so far
            chunks.append("".join(buf).encode())
            buf, size = [], 0
    buf.append(_TAIL)
    chunks.append("".join(buf).encode())
    return chunks


def element(name, value):
    """`<name>escaped value</name>`."""
    return "<%s>%s</%s>" % (name, escape(value), name)


def array(name, item_type, items):
    """A SOAP-encoded array element with the right arrayType count; items are XML strings."""
    return "".join(array_parts(name, item_type, items))


def array_parts(name, item_type, items, count=None):
    """array() as an iterator of parts (`items` may be a generator: `count` then says how
    many), made as the envelope is written: a large response is never one string, nor a list
    of them, in memory."""
    head = '<%s SOAP-ENC:arrayType="%s[%d]">' % (name, item_type, len(items) if count is None else count)
    return itertools.chain((head,), items, ("</%s>" % name,))


def value_struct(name, value, xsd_type):
    return ("<ParameterValueStruct><Name>%s</Name><Value xsi:type=\"%s\">%s</Value>"
            "</ParameterValueStruct>" % (escape(name), xsd_type, escape(value)))


# TR-069 A.5.1: the SOAP faultcode is Client for errors in the request, else Server.
_CLIENT_FAULTS = frozenset((9003, 9005, 9006, 9007, 9008, 9022))


def fault(code, message, details=()):
    """Body of a CPE fault response; `details` are SetParameterValuesFault triples."""
    extra = "".join(
        "<SetParameterValuesFault><ParameterName>%s</ParameterName><FaultCode>%d</FaultCode>"
        "<FaultString>%s</FaultString></SetParameterValuesFault>" % (escape(n), c, escape(s))
        for n, c, s in details)
    return ("<SOAP-ENV:Fault><faultcode>%s</faultcode><faultstring>CWMP fault</faultstring>"
            "<detail><cwmp:Fault><FaultCode>%d</FaultCode><FaultString>%s</FaultString>%s"
            "</cwmp:Fault></detail></SOAP-ENV:Fault>"
            % ("Client" if code in _CLIENT_FAULTS else "Server", code,
               escape(message or MESSAGES.get(code, "Fault")), extra))


def parse_fault(elem):
    """(code, message) from a SOAP Fault element sent by the ACS; code 0 if absent."""
    detail = child(elem, "detail")
    cwmp_fault = child(detail, "Fault") if detail is not None else None
    if cwmp_fault is not None:
        code = (text(cwmp_fault, "FaultCode", "") or "").strip()
        msg = text(cwmp_fault, "FaultString", "") or ""
    else:
        code, msg = "", text(elem, "faultstring", "") or ""
    return digits(code, 0), msg.strip()


def digits(value, default=None):
    """The int of up to 10 ASCII digits (an unsignedInt's width; spaces around are fine), else
    `default`: int() alone takes other scripts' digits ("²") and raises on 5,000 of them."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit() and len(value) <= 10:
        return int(value)
    return default


def parse_bool(value):
    """CWMP booleans: true/false or 1/0, any case and spacing; None if neither."""
    v = (value or "").strip().lower()
    if v in ("1", "true"):
        return True
    if v in ("0", "false"):
        return False
    return None
