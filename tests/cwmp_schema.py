"""Test helper: checks CWMP messages against the official BBF schemas, and in code what
the schemas cannot see (arrayType counts, xsi:type on values, the XML declaration,
double-quoted xmlns:cwmp).

    validate(body_bytes)      # AssertionError listing every problem; b"" is valid
    check(body_bytes)         # the same problems as a list, [] when valid

The schema folder is $TR069_BBF_DIR. When that is set, a missing folder or file fails
the check. When it is unset, ../shared/bbf beside the repository is used if present;
otherwise validate() runs the code checks and then skips (pytest.skip) the schema part.
Schemas are built once per process (xmlschema is slow to build them).
"""

import functools
import os
import re
import warnings
import xml.etree.ElementTree as ET
from io import BytesIO

ENV_VAR = "TR069_BBF_DIR"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DIR = os.path.join(os.path.dirname(REPO), "shared", "bbf")

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CWMP_1_0 = "urn:dslforum-org:cwmp-1-0"
CWMP_1_1 = "urn:dslforum-org:cwmp-1-1"
CWMP_1_2 = "urn:dslforum-org:cwmp-1-2"
CWMP_NAMESPACES = (CWMP_1_0, CWMP_1_1, CWMP_1_2)

# cwmp-1-2 is checked with cwmp-1-4.xsd (minus its documentation-only xs:redefine), which
# includes 1-3 and 1-2: the 1-2 namespace then also knows the 1.3/1.4 header elements.
_MAIN_FILE = {CWMP_1_0: "cwmp-1-0.xsd", CWMP_1_1: "cwmp-1-1.xsd", CWMP_1_2: "cwmp-1-4.xsd"}
_URI_MAP = {
    "http://schemas.xmlsoap.org/soap/envelope/": "soap11/soap-envelope.xsd",
    "http://schemas.xmlsoap.org/soap/encoding/": "soap11/soap-encoding.xsd",
    "http://www.broadband-forum.org/cwmp/cwmp-1-2.xsd": "cwmp-1-2.xsd",
    "http://www.broadband-forum.org/cwmp/cwmp-1-3.xsd": "cwmp-1-3.xsd",
}
REQUIRED_FILES = sorted(set(_MAIN_FILE.values()) | set(_URI_MAP.values()))

_ARRAY_TYPE = re.compile(r"^([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)\[(\d+)\]$")


class SchemaUnavailable(Exception):
    """No schema folder is configured or found: the schema part is skipped."""


def schema_dir():
    """The folder to read schemas from; raises SchemaUnavailable when unset and absent."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return os.path.abspath(configured)
    if os.path.isdir(DEFAULT_DIR):
        return DEFAULT_DIR
    raise SchemaUnavailable("%s is unset and %s does not exist" % (ENV_VAR, DEFAULT_DIR))


@functools.lru_cache(maxsize=None)
def _load(folder):
    missing = [f for f in REQUIRED_FILES if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise AssertionError("CWMP schema folder %s (from %s) lacks %s" % (
            folder, ENV_VAR if os.environ.get(ENV_VAR) else "the default",
            ", ".join(missing)))
    try:
        import xmlschema
    except ImportError:
        raise AssertionError("xmlschema is not installed: pip install -r "
                             "tests/requirements.txt")
    mapper = {url: os.path.join(folder, rel) for url, rel in _URI_MAP.items()}
    opts = dict(uri_mapper=mapper, allow="sandbox", defuse="always", base_url=folder)
    schemas = {}
    with warnings.catch_warnings():
        # A failed import or include is only a warning in xmlschema: make it fatal.
        warnings.simplefilter("error", xmlschema.XMLSchemaImportWarning)
        warnings.simplefilter("error", xmlschema.XMLSchemaIncludeWarning)
        for ns, name in _MAIN_FILE.items():
            resource = xmlschema.XMLResource(os.path.join(folder, name), **opts)
            root = resource.root
            for redefine in [e for e in root if _local(e.tag) == "redefine"]:
                root.remove(redefine)
            schema = xmlschema.XMLSchema10(resource, **opts)
            if schema.target_namespace != ns:
                raise AssertionError("%s has target namespace %s, expected %s" % (
                    name, schema.target_namespace, ns))
            schemas[ns] = schema
    return schemas


def load_schemas():
    """{namespace: XMLSchema}; cached. Raises SchemaUnavailable or AssertionError."""
    return _load(schema_dir())


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _ns(tag):
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _parse(body):
    """Parses once, collecting every prefix declaration (xsi:type values need them)."""
    nsmap = {}
    root = None
    for event, item in ET.iterparse(BytesIO(body), events=("start-ns", "start")):
        if event == "start-ns":
            nsmap.setdefault(item[0], item[1])
        elif root is None:
            root = item
    return root, nsmap


def _code_checks(text, root, nsmap):
    problems = []
    if not text.startswith("<?xml"):
        problems.append("no XML declaration at the start of the message")
    if 'xmlns:cwmp="' not in text:
        problems.append('the cwmp prefix is not declared as xmlns:cwmp="..." (double quotes)')
    elif nsmap.get("cwmp") not in CWMP_NAMESPACES:
        problems.append("xmlns:cwmp is %r, not a CWMP namespace" % nsmap.get("cwmp"))
    used = sorted({_ns(e.tag) for e in root.iter() if _ns(e.tag).startswith("urn:dslforum")})
    if len(used) > 1:
        problems.append("elements from several CWMP namespaces: %s" % ", ".join(used))
    for el in root.iter():
        array_type = el.get("{%s}arrayType" % SOAP_ENC)
        if array_type is not None:
            m = _ARRAY_TYPE.match(array_type)
            if not m:
                problems.append("%s: malformed arrayType %r" % (_local(el.tag), array_type))
            else:
                if m.group(1) not in nsmap:
                    problems.append("%s: arrayType prefix %r is not declared" % (
                        _local(el.tag), m.group(1)))
                if int(m.group(3)) != len(el):
                    problems.append("%s: arrayType says %s items, it holds %d" % (
                        _local(el.tag), m.group(3), len(el)))
        if _local(el.tag) == "ParameterValueStruct":
            name = el.find("Name")
            for value in el.findall("Value"):
                xtype = value.get("{%s}type" % XSI)
                label = name.text if name is not None else "?"
                if not xtype:
                    problems.append("Value of %s has no xsi:type" % label)
                elif ":" in xtype and xtype.split(":", 1)[0] not in nsmap:
                    problems.append("xsi:type %r of %s uses an undeclared prefix" % (
                        xtype, label))
    return problems


def _structure(root):
    """Envelope shape: returns (problems, header elements, body element or None)."""
    if root.tag != "{%s}Envelope" % SOAP_ENV:
        return ["root element is %s, not a SOAP 1.1 Envelope" % root.tag], [], None
    kids = list(root)
    names = [k.tag for k in kids]
    header = [k for k in kids if k.tag == "{%s}Header" % SOAP_ENV]
    body = [k for k in kids if k.tag == "{%s}Body" % SOAP_ENV]
    problems = []
    if len(body) != 1 or names[-1] != body[0].tag or len(kids) - len(header) != 1:
        return ["Envelope must hold an optional Header and one Body, it holds %s"
                % [_local(n) for n in names]], [], None
    items = list(body[0])
    if len(items) != 1:
        problems.append("Body holds %d elements, expected 1" % len(items))
    return problems, list(header[0]) if header else [], items[0] if items else None


def _schema_checks(schemas, heads, item, nsmap):
    import xmlschema
    problems = []

    def check_element(el, schema):
        if el.tag not in schema.maps.elements:
            problems.append("unknown element %s (not in the %s schema)" % (
                el.tag, schema.target_namespace))
            return
        resource = xmlschema.XMLResource(el, allow="none")
        try:
            for err in schema.iter_errors(resource, namespaces=nsmap):
                problems.append("%s: %s: %s" % (_local(el.tag), err.path, err.reason))
        except Exception as e:   # xmlschema raises on some broken input (bad prefixes)
            problems.append("%s: xmlschema could not validate it: %s: %s" % (
                _local(el.tag), type(e).__name__, str(e).splitlines()[0]))

    candidates = heads + (list(item.iter()) if item is not None else [])
    used = [_ns(e.tag) for e in candidates if _ns(e.tag) in CWMP_NAMESPACES]
    schema = schemas[used[0] if used else CWMP_1_2]
    for h in heads:
        if _ns(h.tag) not in CWMP_NAMESPACES:
            problems.append("unexpected header element %s" % h.tag)
        else:
            check_element(h, schema)
    if item is None:
        return problems
    if item.tag == "{%s}Fault" % SOAP_ENV:
        # The SOAP Fault (imported by every cwmp schema) is checked without its detail,
        # whose lax content would report the cwmp:Fault twice; that is checked alone.
        detail = item.find("detail")
        shell = ET.Element(item.tag, item.attrib)
        shell.extend(ET.Element(c.tag, c.attrib) if c is detail else c for c in item)
        check_element(shell, schema)
        inner = [] if detail is None else list(detail)
        if len(inner) != 1 or _ns(inner[0].tag) not in CWMP_NAMESPACES:
            problems.append("SOAP Fault detail must hold one cwmp:Fault")
        else:
            check_element(inner[0], schema)
    elif _ns(item.tag) in CWMP_NAMESPACES:
        check_element(item, schema)
    else:
        problems.append("Body element %s is not in a CWMP namespace" % item.tag)
    return problems


def check(body, schemas=None):
    """Lists the problems of one message. schemas: from load_schemas(), or None for the
    code checks only."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body.strip():
        return []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return ["message is not UTF-8: %s" % e]
    try:
        root, nsmap = _parse(body)
    except ET.ParseError as e:
        return ["malformed XML: %s" % e]
    problems = _code_checks(text, root, nsmap)
    shape, heads, item = _structure(root)
    problems += shape
    if schemas is not None and (item is not None or heads):
        problems += _schema_checks(schemas, heads, item, nsmap)
    return problems


def _describe(body, problems):
    head = body[:2000].decode("utf-8", "replace") if isinstance(body, bytes) else body[:2000]
    return "CWMP message is not valid:\n  - %s\nmessage:\n%s" % (
        "\n  - ".join(problems), head)


def validate(body):
    """Raises AssertionError listing the problems of `body`; skips the schema part (with
    pytest.skip, after the code checks) when no schema folder is configured or found."""
    try:
        schemas = load_schemas()
    except SchemaUnavailable as e:
        problems = check(body)
        if problems:
            raise AssertionError(_describe(body, problems))
        import pytest
        pytest.skip("CWMP schema checks skipped: %s" % e)
    problems = check(body, schemas)
    if problems:
        raise AssertionError(_describe(body, problems))


def check_all(bodies):
    """Problems of many messages, each prefixed by its index; also says whether the
    schemas were used (False when none is configured or found)."""
    try:
        schemas = load_schemas()
    except SchemaUnavailable:
        schemas = None
    problems = []
    for i, body in enumerate(bodies):
        problems += ["message %d: %s" % (i, p) for p in check(body, schemas)]
    return problems, schemas is not None
