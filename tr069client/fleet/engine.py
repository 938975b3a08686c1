"""The fleet's one adapter to the daemon's engine: a device's model, agent and transfer queue
built from the daemon's own classes, and every call the fleet makes into them; no I/O.

The rest of the fleet reaches agent, model, store, settings, transfers, fetch and operations
only through this file (it uses the HTTP layer, connection.py/transport.py/auth.py, and the
listener's request parsing directly, and persist.py writes its file with store.Store), so
re-pointing the fleet after a renovation of those modules is this file. It relies on:
  agent.Agent       start(), begin(), finish(), due(), deadline(), on_timers(),
                    poll_notifications(), connection_request(), settings_changed(),
                    retry_at; its state in store.state; actions as tuples ("reboot", key),
                    ("factory_reset",)
  session.Session   what begin() returns, driven by cwmp.py: next_post(), receive(),
                    abort(), done, ok, error, events
  model.Model       values()/value() over `_defaults` (FleetModel replaces both so a device
                    holds no copy of the template), `_view`, `_index`, `_reindex()` (the
                    template's rows indexed once), `_static_defaults()`, `refresh()`,
                    `acs_changed`
  store.Store       values, attrs, state (one per device, never saved by itself)
  transfers.Queue   the RPCs' add/cancel/listing, the agent's requests/acknowledged, its
                    `items` and `_finish()` (the fleet runs a transfer itself, without blocking)
  fetch             Worker.plan (every platform command "configured", never run),
                    _download_fault, _file_name, _credentials, _encoded, FIRMWARE
  settings          get() of the ACS URL, credentials, CA file and "enabled";
                    PRODUCT_DEFAULTS; reset() for FactoryReset
  events.EventQueue M Reboot
"""

import time

from .. import config, fetch, identity, linux, operations, rpcs, settings, transfers
from ..agent import Agent
from ..events import M_REBOOT, EventQueue
from ..faults import SERVER_AUTH_FAILURE, UPLOAD_FAILURE
from ..model import Model
from ..store import Store

MS = "Device.ManagementServer."
HANDLERS = dict(rpcs.RPCS, **operations.RPCS)
HANDLERS.update(transfers.RPCS)
FIRMWARE = fetch.FIRMWARE
QUEUED, TRANSFERRING, DONE = transfers.QUEUED, transfers.TRANSFERRING, transfers.DONE
# fetch.Worker.plan() refuses a transfer whose platform command is not configured: in the fleet
# every one is simulated, so each is "configured" with a command that never runs.
_SIMULATED = {name: ["(simulated by tr069client fleet)"] for name in (
    "firmware-command", "config-alter-command", "config-overwrite-command",
    "vendor-config-command", "vendor-log-command")}
_WORKER = fetch.Worker(_SIMULATED)


def model_defaults(meta):
    """{path: value} of every parameter outside tables, as the daemon's model starts them."""
    defaults = dict(linux.PRODUCT_DEFAULTS, **settings.PRODUCT_DEFAULTS)
    return dict(Model(Store(), meta, defaults=defaults)._static_defaults())


def index_rows(meta, shared):
    """The table rows of the values `shared`, indexed as the model indexes them, and the
    ...NumberOfEntries values that count them."""
    scratch = Model(Store(), meta)
    scratch._defaults = shared
    view = scratch.values()
    return scratch._index, {k: view[k] for k in view if k.endswith("NumberOfEntries")}


def new_store(values):
    """A device's store, holding its factory values."""
    store = Store()
    store.values.update(values)
    return store


def acs_settings(model):
    """(URL, username, password, CA file or None) of the device's next session."""
    return (settings.get(model, "acs-url"), settings.get(model, "username"),
            settings.get(model, "password"), settings.get(model, "ca-file") or None)


def cr_credentials(model):
    """The (username, password) a connection request to the device must prove."""
    return model.value(MS + "ConnectionRequestUsername", ""), model.value(MS + "ConnectionRequestPassword", "")


def enabled(model):
    return settings.get(model, "enabled")


class FleetModel(Model):
    """A Model whose defaults are the template's shared dict, never copied: the store holds
    only this device's overrides, and the whole view exists only during a session."""

    def __init__(self, store, template):
        Model.__init__(self, store, template.meta)
        self._defaults = template.shared
        self._active = template.default_active
        self._rows = template.index

    def values(self):
        if self._view is None:
            view = dict(self._defaults)
            dead = tuple(self.store.state.get("deleted_rows", ()))
            if dead:
                for k in [k for k in view if k.startswith(dead)]:
                    del view[k]
            view.update(self.store.values)
            self._failed, self._owners = {}, {}
            self._view = view
            self._reindex()
        return self._view

    def _own_rows(self):
        """Whether this device added or deleted table rows (a path the template lacks)."""
        return bool(self.store.state.get("deleted_rows")) or any(
            k not in self._defaults for k in self.store.values)

    def _reindex(self):
        # A device with no rows of its own has the template's: indexed and counted once.
        if self._own_rows():
            return Model._reindex(self)
        self._index = self._rows

    def value(self, path, default=None):
        # Between sessions the agent asks a few settings: answered without building a view.
        if self._view is not None or (path.endswith("NumberOfEntries") and self._own_rows()):
            return self.values().get(path, default)
        v = self.store.values.get(path)
        if v is not None:
            return v
        dead = self.store.state.get("deleted_rows")
        if dead and path.startswith(tuple(dead)):
            return default
        return self._defaults.get(path, default)

    def notified(self, kind):
        out = [path for path, (n, _) in self.store.attrs.items() if n == kind]
        if kind == 2:
            out.extend(p for p in self._active if p not in self.store.attrs)
        return out

    def delete_object(self, path, key):
        status = Model.delete_object(self, path, key)
        if any(k.startswith(path) for k in self._defaults):
            # A template row is gone for this device only: remembered, and its number never
            # given again.
            st = self.store.state
            st.setdefault("deleted_rows", []).append(path)
            table, _, n = path[:-1].rpartition(".")
            counters = st.setdefault("next_instance", {})
            counters[table + "."] = max(counters.get(table + ".", 1), int(n) + 1)
        return status


class _Identity(object):
    """The agent's identity dict, read from the model (no copy per device)."""

    __slots__ = ("model",)

    def __init__(self, model):
        self.model = model

    def __getitem__(self, key):
        return self.model.value(identity.PARAMS[key], "")


def build(store, template, random, version="1.0"):
    """(model, agent, queue) of one device over `store`, as the daemon wires them."""
    model = FleetModel(store, template)
    queue = transfers.Queue(store, _WORKER, clock=time.time)
    agent = Agent(store, model, _Identity(model), random, HANDLERS, {"transfers": queue},
                  config.CWMP_VERSIONS[version])
    queue.attach(agent)
    return model, agent, queue


def boot(store, template, random, version, boot_id, mono, wall):
    """Power on: fresh engine objects over the device's store, as a restarted daemon has
    them; (model, agent, queue)."""
    parts = build(store, template, random, version)
    parts[1].start(boot_id, mono, wall)
    return parts


# --- the agent's decisions, as the daemon's loop takes them ------------------------------

def next_step(agent, queue, mono, wall):
    """What the device does now: ("session", None), ("transfer", record), or ("sleep", the
    monotonic time to look again, or None)."""
    agent.on_timers(mono, wall)
    if agent.due(mono):
        return "session", None
    rec = due_transfer(queue, wall)
    if rec is not None:
        return "transfer", rec
    when = agent.deadline(mono, wall)
    if when is not None and when <= mono:
        # Only a backoff that is over can be "due" with no reason for a session: it ends.
        # (The daemon, whose loop takes this deadline as it is, wakes at once, in a loop.)
        agent.retry_at = None
        when = agent.deadline(mono, wall)
    nxt = next_transfer(queue)
    if nxt is not None:
        when = min(when if when is not None else nxt, mono + max(0.0, nxt - wall))
    return "sleep", when


def begin_session(agent, mono, wall, new_id):
    """The engine session of the device's next Inform (changes seen now ride in it)."""
    agent.poll_notifications(mono)
    return agent.begin(wall, new_id)


def end_session(agent, model, s, url, mono, wall):
    """Record the finished session `s` as the daemon does; the actions it left to run."""
    actions = agent.finish(s, url, mono, wall)
    if any(p.startswith(MS) for p in model.acs_changed):
        agent.settings_changed(mono, wall)
    agent.poll_notifications(mono)      # what the ACS just put under notification
    model.refresh()                     # the view lives only during a session
    return actions


def connection_request(agent, in_session):
    agent.connection_request(in_session)


def order_reboot(store, key):
    """The Reboot action: 1 BOOT and M Reboot in the first session after the boot."""
    EventQueue(store.state.setdefault("events", [])).add(M_REBOOT, key)
    store.state["expect_boot"] = True


def factory_reset(store, values):
    """The FactoryReset action: the device's own state is forgotten, its factory values come
    back; 0 BOOTSTRAP and 1 BOOT follow."""
    settings.reset(store)
    store.values.update(values)
    store.state["expect_boot"] = True


def installed_firmware(store, version):
    """A firmware Download worked: the image's version runs after the reboot that follows."""
    if version:
        store.values["Device.DeviceInfo.SoftwareVersion"] = version[:64]
    store.state["expect_boot"] = True


def cr_url(store, url):
    store.values[MS + "ConnectionRequestURL"] = url


# --- transfers: the queue keeps the record, the fleet does the work ------------------------

def due_transfer(queue, wall):
    """The transfer to run now, the one Queue.tick() would pick, or None."""
    for rec in queue.items:
        if rec["state"] == QUEUED and rec["due"] <= wall:
            return rec
    return None


def next_transfer(queue):
    """Wall time when the next queued transfer is due, or None."""
    times = [r["due"] for r in queue.items if r["state"] == QUEUED]
    return min(times) if times else None


def start_transfer(rec, wall):
    rec["state"] = TRANSFERRING
    rec["tries"] += 1
    rec["start"] = rec["start"] or wall


def requeue(rec):
    """A transfer cut short by the fleet's end runs again (from the start) at the next run."""
    rec["state"] = QUEUED


def requeue_interrupted(store):
    """At start: transfers a killed fleet left under way are queued again, as Queue.recover
    does for the daemon (without its files: the fleet keeps none)."""
    for rec in store.state.get("transfers", ()):
        if rec.get("state") == TRANSFERRING:
            requeue(rec)


def end_transfer(queue, rec, code=0, message=""):
    """The transfer is over (fault `code`, 0 for success): TransferComplete is queued."""
    queue._finish(rec, code, message)


def transfer_source(rec):
    """(url as sent, username, password, expected size or None, file name) of a transfer."""
    username, password = fetch._credentials(rec["url"], rec["username"], rec["password"])
    return fetch._encoded(rec["url"]), username, password, rec["size"] or None, fetch._file_name(rec)


def download_fault(error, received, sized):
    """The (code, message) TransferComplete carries for a failed download, as fetch maps it."""
    fault = fetch._download_fault(error, received, sized, "memory")
    return fault.code, fault.message


def upload_fault(error):
    """The (code, message) of a failed upload, as fetch.Worker gives it."""
    return (SERVER_AUTH_FAILURE if error.kind == "auth" else UPLOAD_FAILURE), error.message
