"""What the running daemon does for each command of the CLI over the control socket
(`tr069client inform|status|get|set|dhcp|reset-config`): one function per command and one
table row each; the daemon (daemon.py) is passed in."""

import time

from . import boot, datatypes, dhcp, listener, planner, settings, state
from .faults import CwmpFault

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from .daemon import Daemon


def handle(d: "Daemon", req: dict) -> dict:
    """The reply to the request `req` (a JSON object with "cmd")."""
    fn = COMMANDS.get(req.get("cmd"))
    if fn is None:
        return {"ok": False, "error": "unknown command %r" % (req.get("cmd"),)}
    return fn(d, req)


def inform(d, req):
    if d.planner.status() != planner.STATUS_RUNNING:
        return {"ok": False, "error": "no session possible: status is %s" % d.planner.status()}
    d.planner.inform_now()
    return {"ok": True}


def status(d, req):
    report = d.planner.report(time.monotonic(), time.time())
    report["session-in-progress"] = "since " + datatypes.format_time(d.session_since) \
        if d.in_session else ""
    report["connection-requests"] = d.cr.status(time.monotonic())
    return {"ok": True, "status": report}


def get(d, req):
    try:
        paths = req.get("paths") or []
        return {"ok": True, "values": settings.get_values(d.model, paths),
                "invalid": settings.problems(d.model, paths)}
    except (settings.SettingError, CwmpFault) as e:
        return {"ok": False, "error": _message(e)}


def set_(d, req):
    later = []
    reply = _change(d, lambda: settings.set_values(d.model, req.get("items") or [], later))
    if reply.get("ok") and later:   # a diagnostic test set to Requested starts now
        wall = time.time()
        d.device.run(later, wall, late=False)
        d.device.run(later, wall, late=True)
    return reply


def dhcp_(d, req):
    done = []
    reply = _change(d, lambda: done.extend(dhcp.apply(d.model, req.get("options") or {})))
    if done:   # what DHCP's options did: the settings applied and those kept
        return dict(reply, applied=done[0], kept=done[1])
    return reply


def reset_config(d, req):
    if d.busy:  # the state would be pulled away from under the running work
        return {"ok": False, "error": "a session or device operation is in progress; "
                                     "try again when it ends"}
    state.reset(d.store)
    if d.cr.listener is not None:  # the open listener keeps its path
        listener.keep_path(d.store, d.cr.listener.path)
    d.reload()
    d.planner.retry_at = None
    d.planner.start(boot.kernel_boot_id(), time.monotonic(), time.time())
    d.cr.update_url()
    return _saved(d.save())


def _change(d, change):
    """Run `change()` (settings, all or nothing) and act on it as on any local change."""
    try:
        change()
    except (settings.SettingError, CwmpFault, dhcp.DhcpError, ValueError) as e:
        return {"ok": False, "error": _message(e)}
    d.local_change()
    return _saved(d.save())


def _message(e):
    return e.message if isinstance(e, CwmpFault) else str(e)


def _saved(error):
    """The reply to a command that changed the state."""
    if error is None:
        return {"ok": True}
    return {"ok": False, "error": "in effect until the daemon stops, but not saved: %s" % error}


COMMANDS = {
    "inform": inform,
    "status": status,
    "get": get,
    "set": set_,
    "dhcp": dhcp_,
    "reset-config": reset_config,
}
