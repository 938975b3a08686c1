"""The fleet's one adapter to the daemon's engine: a simulated device is a device.Device over
its FleetModel, and every call the fleet makes into it goes through here; no I/O.

The rest of the fleet reaches device, planner, transfers and fetch only through this file (it
uses the HTTP layer, connection.py/transport.py, and connreq.py directly). It relies on:
  device.Device       built with `model` and `worker` (this module's), its `planner`,
                      `transfers` and `model`
  planner.Planner     start(), on_timers(), due(), deadline(), poll_notifications(),
                      begin(), finish(), settings_changed(), connection_request(),
                      schedule_inform()
  session.Session     what begin() returns, driven by cwmp.py; its typed `actions`
                      (actions.py), run by Device.run with the fleet's Reboot and
                      FactoryReset (runner.py)
  transfers.Queue     due(), deadline(), begin(), finish() (the fleet's loop moves the bytes)
  diagnostics         the device's Diagnostics: settle(), resume(), fds(), tick(), close()
  fetch               Worker.plan(), source(), download_fault(), upload_fault()
  settings            get() of the ACS URL, credentials, CA file and "enabled"
  events, boot        the M Reboot event and the mark of an ordered reboot
"""

from .. import boot, config, fetch, settings
from ..actions import FactoryReset, Reboot
from ..device import Device
from ..events import M_REBOOT
from .model import FleetModel, Identity

FIRMWARE = fetch.FIRMWARE
# Every platform command is "configured", so fetch.Worker.plan() accepts what a real device
# would; none ever runs: the fleet simulates each of them.
_SIMULATED = ["(simulated by tr069client fleet)"]
CONFIGS = {version: {"platform-providers": False, "cwmp-version": version,
                     "reboot-command": _SIMULATED, "factory-reset-command": _SIMULATED,
                     "firmware-command": _SIMULATED, "config-alter-command": _SIMULATED,
                     "config-overwrite-command": _SIMULATED, "vendor-config-command": _SIMULATED,
                     "vendor-log-command": _SIMULATED}
           for version in config.CWMP_VERSIONS}


class Worker:
    """The transfer queue's worker in a fleet: plan() as a real device plans; no files, so
    nothing to clean (downloads are counted and discarded by the fleet's loop)."""

    def __init__(self):
        self.plan = fetch.Worker(CONFIGS["1.0"]).plan   # reads the configuration only

    def clean(self, keep=()):
        pass


WORKER = Worker()


def boot_device(store, template, random, version, boot_id, mono, wall):
    """Power on: a device.Device over `store`, with the template's model, as a restarted
    daemon builds it; 1 BOOT (and 0 BOOTSTRAP if need be) follows."""
    model = FleetModel(store, template)
    dev = Device(store, CONFIGS[version], Identity(model), random=random, model=model, worker=WORKER)
    # What a stopped fleet had accepted and not run: its held ScheduleInform is sent, its
    # Reboot counts as done by this power-on (M Reboot); a FactoryReset is not redone (the
    # factory values are the runner's, and a load test restarted from its file goes on).
    dev.start(boot_id, mono, wall, instead={
        Reboot: lambda a, wall: dev.events.add(M_REBOOT, a.command_key),
        FactoryReset: lambda a, wall: None})
    dev.diagnostics.resume()   # tests a reboot interrupted run again
    return dev


# --- the planner's decisions, as the daemon's loop takes them ------------------------------

def next_step(dev, mono, wall):
    """What the device does now: ("session", None), ("transfer", record), or ("sleep", the
    monotonic time to look again, or None)."""
    planner = dev.planner
    planner.on_timers(mono, wall)
    if planner.due(mono):
        return "session", None
    rec = dev.transfers.due(mono, wall)
    if rec is not None:
        return "transfer", rec
    times = [t for t in (planner.deadline(mono, wall), dev.transfers.deadline(mono, wall)) if t is not None]
    return "sleep", min(times) if times else None


def begin_session(dev, mono, wall, new_id):
    """The engine session of the device's next Inform (changes seen now ride in it)."""
    dev.planner.poll_notifications(mono)
    return dev.planner.begin(wall, new_id)


def finish_session(dev, s, url, mono, wall):
    """Record the finished session `s`, as the daemon does before its early actions."""
    dev.planner.finish(s, url, mono, wall)


def after_session(dev, mono, wall):
    """After the early actions: what the ACS changed takes effect, and what it put under
    notification gets its baseline; the view of the model is dropped until the next session."""
    dev.planner.after_acs_settings(mono, wall)
    dev.planner.poll_notifications(mono)
    dev.model.refresh()


def run_actions(dev, actions, wall, late, instead):
    """The session's actions that are `late` or not, run as the daemon runs them (a diagnostic
    test starts for real), but through `instead` ({action type: fn(action, wall)}) where the
    fleet simulates what a device would do."""
    dev.run(actions, wall, late, instead)


def diagnostics_fds(dev):
    """What the loop watches for finished tests (none before a test has run)."""
    return dev.diagnostics.fds()


def diagnostics_done(dev, mono, wall):
    """Finished tests' results into the model, 8 DIAGNOSTICS COMPLETE into the events."""
    dev.diagnostics.tick(mono, wall)


def power_off(dev):
    """The device stops (a reboot): its tests end with it."""
    dev.diagnostics.close()


def order_reboot(dev, key):
    """The Reboot action, as Operations.reboot records it: M Reboot with `key`, and the mark
    that makes the next start a boot (the simulated reboot command "returned")."""
    dev.events.add(M_REBOOT, key)
    boot.reboot_returned(dev.store)


def factory_reset(dev, factory):
    """The FactoryReset action: the device's own state is forgotten, its `factory` values
    come back; 0 BOOTSTRAP and 1 BOOT follow."""
    dev.model.factory_reset(factory)
    boot.reboot_returned(dev.store)


def installed_firmware(dev, version):
    """A firmware Download worked: the image's version runs after the reboot that follows."""
    if version:
        dev.model.set_own("Device.DeviceInfo.SoftwareVersion", version[:64])
    boot.reboot_returned(dev.store)


def connection_request(dev, in_session):
    dev.planner.connection_request(in_session)


# --- what the fleet reads of a device ---------------------------------------------------------

def acs_settings(dev):
    """(URL, username, password, CA file or None) of the device's next session."""
    m = dev.model
    return (settings.get(m, "acs-url"), settings.get(m, "username"), settings.get(m, "password"),
            settings.get(m, "ca-file") or None)


def cr_credentials(dev):
    """The (username, password) a connection request to the device must prove."""
    return settings.get(dev.model, "connection-request-username"), \
        settings.get(dev.model, "connection-request-password")


def enabled(dev):
    return settings.get(dev.model, "enabled")


def value(dev, path, default=None):
    return dev.model.value(path, default)


def set_value(dev, path, value):
    """A value the device itself keeps (its ConnectionRequestURL, a drifting counter)."""
    dev.model.set_own(path, value)


# --- transfers: the queue keeps the record, the fleet does the work -------------------------

def start_transfer(dev, rec):
    """(url as sent, username, password, expected size or None, file name) of `rec`, which
    starts now."""
    dev.transfers.begin(rec)
    return fetch.source(rec)


def end_transfer(dev, rec, code=0, message=""):
    """The transfer is over (fault `code`, 0 for success): TransferComplete is queued."""
    dev.transfers.finish(rec, code, message)


def download_fault(error, received, sized):
    """The (code, message) TransferComplete carries for a failed download, as fetch maps it."""
    fault = fetch.download_fault(error, received, sized, "memory")
    return fault.code, fault.message


def upload_fault(error):
    """The (code, message) of a failed upload, as fetch maps it."""
    fault = fetch.upload_fault(error)
    return fault.code, fault.message
