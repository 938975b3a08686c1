"""One simulated CPE: its index in the serial space, its own store of overrides, the
device.Device the adapter builds over it at each boot, and the few facts the loop keeps; no I/O."""

from ..store import Store
from . import engine
from .drift import Rng, device_seed

_CR_SALT = 0x5EED0C4


class Cpe:
    """Kept small on purpose (slots, no per-device copies): a fleet holds 10,000 of them.
    `dev` is the device.Device while it runs (None until its first boot)."""

    __slots__ = ("index", "rng", "store", "dev", "timer", "busy", "ready", "down", "boot_wall",
                 "drift_wall", "boots", "informed", "transfer")

    def __init__(self, index, template, seed, record=None):
        self.index = index
        self.rng = Rng(device_seed(seed, index) + 1)
        self.store = Store()
        made = factory(template, seed, index)
        if record:
            self.store.restore((dict(made, **record.get("v", {})), record.get("a", {}), record.get("s", {})))
        else:
            self.store.values.update(made)
        self.dev = self.timer = self.transfer = None
        self.busy = self.ready = self.informed = False
        self.down = True            # until its first boot
        self.boot_wall = self.drift_wall = 0.0
        self.boots = 0

    def boot(self, template, version, boot_id, mono, wall):
        """Power on (first start, or after a simulated reboot): a fresh device.Device over the
        same store, as a restarted daemon has; 1 BOOT (and 0 BOOTSTRAP if need be) follows."""
        self.boots += 1
        self.down = False
        self.boot_wall = self.drift_wall = wall
        self.dev = engine.boot_device(self.store, template, self.rng.random, version, boot_id, mono, wall)

    def drift(self, drifts, wall):
        """Move the drifting values by the time since they last moved."""
        elapsed, self.drift_wall = wall - self.drift_wall, wall
        uptime = wall - self.boot_wall
        for d in drifts:
            engine.set_value(self.dev, d.path, d.next(engine.value(self.dev, d.path), elapsed, uptime,
                                                      self.rng.random))

    def record(self, template, seed):
        """What a state file keeps of this device: values that differ from its factory ones,
        attributes, and the state; the store's own objects, for persist.save to write at once
        (a deep copy of each device's would stall the loop at every save)."""
        made = factory(template, seed, self.index)
        values, attrs, st = self.store.contents()
        return {"v": {k: v for k, v in values.items() if made.get(k) != v}, "a": attrs, "s": st}


def factory(template, seed, index):
    """Device `index`'s stamped values: the same at every call for the same seed."""
    return template.stamp(index, Rng(device_seed(seed, index)).random)


def cr_token(seed, index):
    """The secret part of device `index`'s connection-request path (stable for a seed)."""
    return "%012x" % (device_seed(seed ^ _CR_SALT, index) >> 16)
