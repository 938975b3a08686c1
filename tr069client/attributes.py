"""Parameter attributes: notification (off, passive, active) and the access list, for
Get/SetParameterAttributes (TR-069 A.3.2.4, A.3.2.5); no I/O. They live in store.attrs
as {path: [notification, [access...]]}, only where they differ from the default."""

from .faults import CwmpFault, INVALID_ARGUMENTS, NOTIFICATION_REJECTED
from .listing import params


def default_notification(param):
    """2 (active) where the model forces or defaults to it, else 0 (off)."""
    return 2 if param.active_notify in ("forceEnabled", "forceDefaultEnabled") else 0


# Kept active whatever the ACS asks: an ACS that misses a new address loses the device.
ALWAYS_ACTIVE = frozenset(("Device.ManagementServer.ConnectionRequestURL",))


def _refusal(path, param, note):
    """Why `param` cannot take the notification `note` (TR-181 activeNotify), or None."""
    if note == 2 and param.active_notify == "canDeny":
        return "active notification is not allowed (the value changes too often)"
    if note is not None and note != 2 and (param.active_notify == "forceEnabled" or path in ALWAYS_ACTIVE):
        return "it always has active notification"
    return None


def notification(model, path, param):
    a = model.store.attrs.get(path)
    return a[0] if a is not None else default_notification(param)


def answer(model, paths):
    """GetParameterAttributes: (how many, (name, notification, access list) of each), counted
    and checked before any entry is made (listing.params)."""
    n, found = params(model, paths, "attributes")
    return n, _entries(model, found)


def _entries(model, found):
    attrs = model.store.attrs
    for full, p in found:
        a = attrs.get(full)
        yield full, notification(model, full, p), list(a[1]) if a else []


def get(model, paths):
    """[(name, notification, access list)] for GetParameterAttributes."""
    return list(answer(model, paths)[1])


def put(model, changes):
    """SetParameterAttributes, all or nothing: changes are (name, notification or None,
    access list or None), a name being a parameter or an object (all parameters below)."""
    plan = []
    for name, note, access in changes:
        targets = model.params_under(name)
        if note is not None and note not in (0, 1, 2):
            raise CwmpFault(INVALID_ARGUMENTS, "Notification must be 0, 1 or 2, not %r" % note)
        if access is not None and any(a != "Subscriber" for a in access):
            raise CwmpFault(INVALID_ARGUMENTS, "AccessList may only contain \"Subscriber\"")
        refused = [(full, why) for full, p in targets for why in [_refusal(full, p, note)] if why]
        if refused and not (name.endswith(".") or name == ""):
            raise CwmpFault(NOTIFICATION_REJECTED, "%s: %s" % refused[0])
        # On an object the notification goes to every parameter that can take it: "off for
        # Device." must not fail because SoftwareVersion is always active.
        skip = set(full for full, _ in refused)
        plan.append((targets, skip, note, access))
    attrs = model.store.attrs
    for targets, skip, note, access in plan:
        for full, p in targets:
            cur = attrs.get(full) or [notification(model, full, p), []]
            if full in skip:
                cur_note = cur[0]
            else:
                cur_note = cur[0] if note is None else note
            new = [cur_note, cur[1] if access is None else sorted(set(access))]
            if new == [default_notification(p), []]:
                attrs.pop(full, None)
            else:
                attrs[full] = new
    model.store.dirty = True
