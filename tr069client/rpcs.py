"""The CPE's RPC methods: one function per method and one table row each; no I/O."""

from . import actions, attributes, boot, journal, listing, namespaces, soap
from .faults import CwmpFault, INTERNAL_ERROR, INVALID_ARGUMENTS
from .actions import ScheduleInform
from .rpc_args import boolean, key, required, required_text, strings, uint
from .soap import array, child, children, element, escape, local, text

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Callable, List, Optional

    from .model import Model

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


# An RPC function returns the inner XML of its response: a str, or an iterable of str parts
# for large answers (GetParameterValues/Names of a whole tree), made as they go out in
# 16 KiB chunks.


class Context:
    """What an RPC may touch: the model, the method table, `actions` (actions.py: the work
    the daemon runs after the session, the one channel for it), `ns` (the cwmp namespace of
    the answer) and `commit()`, which persists the stored state (None, or why it could not).
    RPCs that need more (the transfer queue) are bound to it in the table (transfers.rpcs)."""

    def __init__(self, model: "Model", handlers: "Optional[dict]" = None,
                 commit: "Optional[Callable[[], Optional[str]]]" = None):
        self.model = model
        self.handlers = RPCS if handlers is None else handlers
        self.actions = []    # type: List[tuple]
        self.ns = soap.DEFAULT_NS
        self.commit = commit

    def defer(self, action) -> None:
        """Leave `action` (ScheduleInform, Reboot, FactoryReset) for the session's end, saved
        first: an ACS told it was accepted must not lose it to a power cut before the session
        ends. Fault 9002 when it cannot be saved."""
        self.actions.append(action)
        if self.commit is None:
            return
        store = self.model.store
        actions.hold(store, action, boot.boot_id(store))
        error = self.commit()
        if error:
            actions.unhold(store)
            self.actions.pop()
            raise CwmpFault(INTERNAL_ERROR, "the %s was not accepted because it could not be saved: %s"
                            % (type(action).__name__, error))


def get_rpc_methods(ctx, req):
    # Exactly what this session accepts: the methods we have that its namespace defines.
    offered = namespaces.methods(ctx.ns)
    return array("MethodList", "xsd:string", [element("string", m) for m in ctx.handlers if m in offered])


def _saved(rpc):
    """`rpc`, its change persisted before the ACS hears it is applied (TR-069 A.3.2.1: Status 0
    says the change is in effect): when `ctx.commit()` fails, the change is undone, with the
    work it left for the session's end, and the answer is fault 9002."""
    def run(ctx, req):
        if ctx.commit is None:
            return rpc(ctx, req)
        mark, queued = journal.Checkpoint(ctx.model), len(ctx.actions)
        try:
            inner = rpc(ctx, req)
            error = ctx.commit()
            if error:
                del ctx.actions[queued:]
                left = mark.restore()
                raise CwmpFault(INTERNAL_ERROR, "the change was not made because it could not be "
                                "saved: %s%s" % (error, "; not undone: " + "; ".join(left) if left else ""))
        finally:
            mark.close()
        return inner
    return run


def get_parameter_names(ctx, req):
    path = required_text(req, "ParameterPath")
    count, names = listing.names(ctx.model, path, boolean(req, "NextLevel"))
    return soap.array_parts("ParameterList", "cwmp:ParameterInfoStruct", (
        "<ParameterInfoStruct><Name>%s</Name><Writable>%s</Writable></ParameterInfoStruct>"
        % (escape(n), "true" if w else "false") for n, w in names), count)


def get_parameter_values(ctx, req):
    count, values = listing.values(ctx.model, strings(req, "ParameterNames"))
    return soap.array_parts("ParameterList", "cwmp:ParameterValueStruct",
                            (soap.value_struct(n, v, t) for n, v, t in values), count)


def set_parameter_values(ctx, req):
    items = []
    for s in children(required(req, "ParameterList"), "ParameterValueStruct"):
        name = (text(s, "Name") or "").strip()
        v = child(s, "Value")
        if not name or v is None:
            raise CwmpFault(INVALID_ARGUMENTS, "a ParameterValueStruct lacks its Name or Value")
        if len(v):   # its text would be only what comes before the first child element
            raise CwmpFault(INVALID_ARGUMENTS, "the Value of %s holds XML elements, not text" % name)
        items.append((name, v.text or "", v.get(XSI_TYPE)))
    status = ctx.model.set_values(items, key(req, "ParameterKey", strip=False), ctx.actions)
    return element("Status", str(status))


def get_parameter_attributes(ctx, req):
    count, attrs = attributes.answer(ctx.model, strings(req, "ParameterNames"))
    return soap.array_parts("ParameterList", "cwmp:ParameterAttributeStruct", (
        "<ParameterAttributeStruct><Name>%s</Name><Notification>%d</Notification>%s"
        "</ParameterAttributeStruct>" % (escape(n), note, array("AccessList", "xsd:string",
                                                                  [element("string", a) for a in acl]))
        for n, note, acl in attrs), count)


def set_parameter_attributes(ctx, req):
    changes = []
    for s in children(required(req, "ParameterList"), "SetParameterAttributesStruct"):
        name = required_text(s, "Name")
        notification = access = None
        if boolean(s, "NotificationChange"):
            notification = uint(s, "Notification", 0, 2)
        # GenieACS sends an empty <Notification/> when NotificationChange is false.
        if boolean(s, "AccessListChange"):
            access = [(c.text or "").strip() for c in required(s, "AccessList") if local(c.tag) == "string"]
        changes.append((name, notification, access))
    attributes.put(ctx.model, changes)
    return ""


def add_object(ctx, req):
    n, status = ctx.model.add_object(required_text(req, "ObjectName"), key(req, "ParameterKey", strip=False),
                                     ctx.actions)
    return element("InstanceNumber", str(n)) + element("Status", str(status))


def delete_object(ctx, req):
    status = ctx.model.delete_object(required_text(req, "ObjectName"), key(req, "ParameterKey", strip=False),
                                     ctx.actions)
    return element("Status", str(status))


def schedule_inform(ctx, req):
    delay = uint(req, "DelaySeconds", 1)
    # The planner turns this into "3 SCHEDULED" + "M ScheduleInform" when the delay elapses.
    ctx.defer(ScheduleInform(delay, key(req, "CommandKey", strip=False) or ""))
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
