"""The CPE's RPC methods: one function per method and one table row each; no I/O."""

from . import attributes, journal, namespaces, soap
from .faults import CwmpFault, INTERNAL_ERROR, INVALID_ARGUMENTS
from .soap import array, child, children, element, escape, local, text

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
# TR-069 A.3.1: a request naming more than this is refused rather than answered slowly.
_MAX_NAMES = 16384


# An RPC function returns the inner XML of its response: a str, or an iterable of str parts
# for large answers (GetParameterValues/Names of a whole tree), made as they go out in
# 64 KiB chunks.


class Context:
    """What an RPC may touch: the model, the method table, a list of actions that the daemon
    runs after the session (reboot, transfers, ...), `ns` (the cwmp namespace of the answer)
    and `commit()`, which persists the stored state (None, or why it could not)."""

    def __init__(self, model, handlers=None, extra=None, commit=None):
        self.model = model
        self.handlers = RPCS if handlers is None else handlers
        self.actions = []
        # Whatever later layers (transfers, scheduling) hand to their RPC functions.
        self.extra = extra or {}
        self.ns = soap.DEFAULT_NS
        self.commit = commit


def _required(elem, name):
    c = child(elem, name)
    if c is None:
        raise CwmpFault(INVALID_ARGUMENTS, "argument %s is missing" % name)
    return c


def _required_text(elem, name):
    return (_required(elem, name).text or "").strip()


def _strings(elem, name):
    items = [(c.text or "").strip() for c in _required(elem, name) if local(c.tag) == "string"]
    if len(items) > _MAX_NAMES:
        raise CwmpFault(INVALID_ARGUMENTS, "too many names in %s (%d)" % (name, len(items)))
    return items


def _bool(elem, name, required=True):
    c = child(elem, name)
    if c is None:
        if required:
            raise CwmpFault(INVALID_ARGUMENTS, "argument %s is missing" % name)
        return False
    v = soap.parse_bool(c.text)
    if v is None:
        raise CwmpFault(INVALID_ARGUMENTS, "argument %s must be a boolean, not %r" % (name, c.text))
    return v


def _uint(elem, name, low=0, high=4294967295):
    """A required unsignedInt argument within [low, high] (ASCII digits: see soap.digits)."""
    raw = _required_text(elem, name)
    n = soap.digits(raw)
    if n is None or not low <= n <= high:
        raise CwmpFault(INVALID_ARGUMENTS, "%s must be an integer from %d to %d, not %r"
                        % (name, low, high, raw[:40]))
    return n


def _key(elem, name="ParameterKey"):
    """ParameterKey/CommandKey: optional in practice (some ACSs omit it), 32 chars at most."""
    value = text(elem, name)
    if value is not None and len(value) > 32:
        raise CwmpFault(INVALID_ARGUMENTS, "%s longer than 32 characters" % name)
    return value


def get_rpc_methods(ctx, req):
    # Exactly what this session accepts: the methods we have that its namespace defines.
    offered = namespaces.methods(ctx.ns)
    return array("MethodList", "xsd:string", [element("string", m) for m in ctx.handlers if m in offered])


def _saved(rpc):
    """`rpc`, its change persisted before the ACS hears it is applied (TR-069 A.3.2.1: Status 0
    says the change is in effect): when `ctx.commit()` fails, the change is undone and the
    answer is fault 9002."""
    def run(ctx, req):
        if ctx.commit is None:
            return rpc(ctx, req)
        mark = journal.Checkpoint(ctx.model)
        try:
            inner = rpc(ctx, req)
            error = ctx.commit()
            if error:
                left = mark.restore()
                raise CwmpFault(INTERNAL_ERROR, "the change was not made because it could not be "
                                "saved: %s%s" % (error, "; not undone: " + "; ".join(left) if left else ""))
        finally:
            mark.close()
        return inner
    return run


def get_parameter_names(ctx, req):
    path = _required_text(req, "ParameterPath")
    names = ctx.model.get_names(path, _bool(req, "NextLevel"))
    return soap.array_parts("ParameterList", "cwmp:ParameterInfoStruct", (
        "<ParameterInfoStruct><Name>%s</Name><Writable>%s</Writable></ParameterInfoStruct>"
        % (escape(n), "true" if w else "false") for n, w in names), len(names))


def get_parameter_values(ctx, req):
    values = ctx.model.get_values(_strings(req, "ParameterNames"))
    return soap.array_parts("ParameterList", "cwmp:ParameterValueStruct",
                            (soap.value_struct(n, v, t) for n, v, t in values), len(values))


def set_parameter_values(ctx, req):
    items = []
    for s in children(_required(req, "ParameterList"), "ParameterValueStruct"):
        name = (text(s, "Name") or "").strip()
        v = child(s, "Value")
        if not name or v is None:
            raise CwmpFault(INVALID_ARGUMENTS, "a ParameterValueStruct lacks its Name or Value")
        if len(v):   # its text would be only what comes before the first child element
            raise CwmpFault(INVALID_ARGUMENTS, "the Value of %s holds XML elements, not text" % name)
        items.append((name, v.text or "", v.get(XSI_TYPE)))
    status = ctx.model.set_values(items, _key(req))
    return element("Status", str(status))


def get_parameter_attributes(ctx, req):
    attrs = attributes.get(ctx.model, _strings(req, "ParameterNames"))
    return soap.array_parts("ParameterList", "cwmp:ParameterAttributeStruct", (
        "<ParameterAttributeStruct><Name>%s</Name><Notification>%d</Notification>%s"
        "</ParameterAttributeStruct>" % (escape(n), note, array("AccessList", "xsd:string",
                                                                  [element("string", a) for a in acl]))
        for n, note, acl in attrs), len(attrs))


def set_parameter_attributes(ctx, req):
    changes = []
    for s in children(_required(req, "ParameterList"), "SetParameterAttributesStruct"):
        name = _required_text(s, "Name")
        notification = access = None
        if _bool(s, "NotificationChange"):
            notification = _uint(s, "Notification", 0, 2)
        # GenieACS sends an empty <Notification/> when NotificationChange is false.
        if _bool(s, "AccessListChange"):
            access = [(c.text or "").strip() for c in _required(s, "AccessList") if local(c.tag) == "string"]
        changes.append((name, notification, access))
    attributes.put(ctx.model, changes)
    return ""


def add_object(ctx, req):
    n, status = ctx.model.add_object(_required_text(req, "ObjectName"), _key(req))
    return element("InstanceNumber", str(n)) + element("Status", str(status))


def delete_object(ctx, req):
    return element("Status", str(ctx.model.delete_object(_required_text(req, "ObjectName"), _key(req))))


def schedule_inform(ctx, req):
    delay = _uint(req, "DelaySeconds", 1)
    # The agent turns this into "3 SCHEDULED" + "M ScheduleInform" when the delay elapses.
    ctx.actions.append(("schedule_inform", delay, _key(req, "CommandKey") or ""))
    return ""


# The spec's method name -> function returning the inner XML of "<method>Response".
# GetRPCMethods answers with these keys (those the session's namespace has), so list only
# what works.
RPCS = {
    "GetRPCMethods": get_rpc_methods,
    "GetParameterNames": get_parameter_names,
    "GetParameterValues": get_parameter_values,
    "SetParameterValues": _saved(set_parameter_values),
    "GetParameterAttributes": get_parameter_attributes,
    "SetParameterAttributes": _saved(set_parameter_attributes),
    "AddObject": _saved(add_object),
    "DeleteObject": _saved(delete_object),
    "ScheduleInform": schedule_inform,
}
