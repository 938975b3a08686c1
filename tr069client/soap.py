"""SOAP envelopes for CWMP: parse what an ACS sends, emit the conservative form; no I/O."""

import re
from collections import namedtuple
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .faults import MESSAGES

NS_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CWMP_NAMESPACES = ("urn:dslforum-org:cwmp-1-0", "urn:dslforum-org:cwmp-1-1",
                   "urn:dslforum-org:cwmp-1-2")
DEFAULT_NS = CWMP_NAMESPACES[0]

# ns: the cwmp namespace the ACS used (None if it used none); elem: the RPC element.
Message = namedtuple("Message", "ns id hold_requests method elem")


class SoapError(Exception):
    """The ACS sent something that is not a usable SOAP envelope."""


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


_BARE_AMP = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
_MAX_PARSE = 4 * 1024 * 1024
# Each element costs about 100 bytes of tree: 4 MiB of "<a/>" would take 100 MB. Every
# element has at least one "<", so this bounds the tree at about 10 MB, while a request
# naming 16,384 parameters (rpcs._MAX_NAMES) uses about 33,000.
_MAX_TAGS = 100000


def parse(body):
    """Parse an ACS message; raise SoapError with an operator's sentence if it is unusable."""
    if len(body) > _MAX_PARSE:
        raise SoapError("ACS sent a message of %d bytes, more than this client accepts" % len(body))
    if body.count(b"<") > _MAX_TAGS:
        raise SoapError("ACS sent a message of more than %d XML tags, more than this client accepts"
                        % _MAX_TAGS)
    try:
        root = _parse_xml(body)
    except ParseError as e:
        # GenieACS puts Download URLs into the XML unescaped ("?a=1&b=2"): repair only that.
        repaired = _BARE_AMP.sub(b"&amp;", body)
        if repaired == body:
            raise SoapError("ACS sent malformed XML: %s" % e)
        try:
            root = _parse_xml(repaired)
        except ParseError:
            raise SoapError("ACS sent malformed XML: %s" % e)
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


def _parse_xml(body):
    try:
        return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise SoapError("ACS sent forbidden XML (%s)" % type(e).__name__)
    except (ValueError, LookupError) as e:   # LookupError: an encoding Python does not know
        raise SoapError("ACS sent undecodable XML: %s" % e)


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
        if size >= 65536:  # keep chunks bounded: bodies of 10,000 values stay a list of 64 KiB pieces
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


def array_parts(name, item_type, items):
    """array() as a list of parts, so a large response is never one string in memory."""
    return ['<%s SOAP-ENC:arrayType="%s[%d]">' % (name, item_type, len(items))] + items + ["</%s>" % name]


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
