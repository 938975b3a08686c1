"""What the log may show of a CWMP message: the message as parsed, its passwords blanked by their
meaning, whatever the XML's prefixes, order or xsi:types; no I/O.

A password is the text of any `Password` element (Download, Upload, ScheduleDownload,
ChangeDUState), the Value of a parameter the data model marks secured (or does not know: an
unknown parameter may be anyone's password), and the password of a URL's user:password@. A
message is parsed within a budget (xmlreader.py), as the engine parses the ACS's; one that
cannot be parsed is shown only by its size and checksum, never as text.
"""

import re
import zlib

from . import log, metadata, soap, xmlreader
from .soap import escape, local

BLANK = "[redacted]"
# The engine's budget, with room for our own largest answers (a GetParameterValues of
# 16,384 values is some 50,000 elements): a debug log never costs more than that.
_LIMITS = soap.LIMITS._replace(size=4 << 20, elements=100000, tree=24 << 20)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s,<>\"']+")
# Prefixes of the namespaces a message is written back with (the parser keeps none).
_PREFIXES = dict({soap.NS_ENV: "SOAP-ENV", "http://schemas.xmlsoap.org/soap/encoding/": "SOAP-ENC",
                  "http://www.w3.org/2001/XMLSchema": "xsd", "http://www.w3.org/2001/XMLSchema-instance": "xsi"},
                 **{ns: "cwmp" for ns in soap.CWMP_NAMESPACES})


def soap_text(body: bytes, meta=None) -> str:
    """`body` (bytes) as text for the log, with every password replaced by [redacted]."""
    if not body.strip():
        return "(empty)"
    root = _parse(body)
    if root is None:
        return "(%d bytes that are not XML this client reads; crc32 %08x)" % (len(body), zlib.crc32(body))
    _blank(root, meta or metadata.load())
    return _write(root)


def _parse(body):
    """The root element of `body`, or None if it is no XML within the budget."""
    reader = xmlreader.Reader(_LIMITS)
    try:
        for i in range(0, len(body), 65536):
            reader.feed(body[i:i + 65536])
        return reader.close()
    except Exception:   # noqa: B902 - whatever the parser refuses is shown by size only
        return None


def _blank(root, meta):
    for elem in root.iter():
        name = local(elem.tag)
        if name == "Password":
            _clear(elem)
        elif name == "ParameterValueStruct" and _secret_values(elem, meta):
            for value in [c for c in elem if local(c.tag) == "Value"]:
                _clear(value)
        elif elem.text and "://" in elem.text:
            elem.text = _urls(elem.text)
        for key, value in elem.items():
            if "://" in value:
                elem.set(key, _urls(value))


def _urls(text):
    return _URL.sub(lambda m: log.shown_url(m.group()), text)


def _secret_values(struct, meta):
    """Whether the Values of a ParameterValueStruct are (or may be) a password: one of its Names
    is a secured parameter or none is a parameter of the model."""
    names = [(c.text or "").strip() for c in struct if local(c.tag) == "Name"]
    params = [meta.param(metadata.generic(n)) for n in names]
    return not params or any(p is None or p.secured for p in params)


def _clear(elem):
    """Blank what `elem` holds, text and elements alike (a Value may hold elements)."""
    if elem.text or len(elem):
        del elem[:]
        elem.text = BLANK


class _Names:
    """A prefix for each namespace of the message, declared once on its root."""

    def __init__(self):
        self.prefix = {}

    def qname(self, tag):
        if tag[:1] != "{":
            return tag
        uri, _, name = tag[1:].partition("}")
        prefix = self.prefix.get(uri)
        if prefix is None:
            prefix = _PREFIXES.get(uri, "ns")
            taken = set(self.prefix.values())
            if prefix in taken:
                prefix = next(p for p in ("%s%d" % (prefix, n) for n in range(1, 99)) if p not in taken)
            self.prefix[uri] = prefix
        return "%s:%s" % (prefix, name)


def _write(root):
    """The text of the tree under `root`; iterative, as a message may nest many elements."""
    names = _Names()
    out = [None]
    stack = [(root, False)]
    head = None
    while stack:
        elem, closing = stack.pop()
        tag = names.qname(elem.tag)
        if closing:
            out.append("</%s>%s" % (tag, escape(elem.tail or "") if elem is not root else ""))
            continue
        attrs = "".join(' %s="%s"' % (names.qname(k), escape(v)) for k, v in elem.items())
        if elem is root:
            head = (tag, attrs, escape(elem.text or ""))
        else:
            out.append("<%s%s>%s" % (tag, attrs, escape(elem.text or "")))
        stack.append((elem, True))
        stack.extend((c, False) for c in reversed(elem))
    decls = "".join(' xmlns:%s="%s"' % (p, escape(u)) for u, p in names.prefix.items())
    out[0] = "<%s%s%s>%s" % (head[0], decls, head[1], head[2])
    return "".join(out)
