"""What the daemon is made of: the data model's providers, the RPC table, and the runners of
actions that wait for the end of a session. Later layers plug in here, nowhere else."""

import os

from . import identity, log, rpcs, settings
from .model import Model, Provider


class Parts:
    """The assembled pieces: `model`; `handlers` (the RPC table); `extra` (handed to RPC
    functions as ctx.extra); `runners` {action name: fn(*args)} for actions a session
    returns; `timers`, objects with `deadline(mono, wall)` and `tick(mono, wall)` that the
    loop serves; `attachers`, fn(agent) called once the agent exists; `stop`, set by the
    daemon, ends it (after a reboot hook, so the supervisor restarts it)."""

    def __init__(self, model, handlers, extra):
        self.model = model
        self.handlers = handlers
        self.extra = extra
        self.runners = {}
        self.timers = []
        self.attachers = []
        self.stop = None

    def run_action(self, action):
        fn = self.runners.get(action[0])
        if fn is None:
            return False
        fn(*action[1:])
        return True

    def attach(self, agent):
        for fn in self.attachers:
            fn(agent)


def _uptime(root):
    try:
        with open(os.path.join(root, "proc/uptime")) as f:
            return str(int(float(f.read().split()[0])))
    except (OSError, ValueError, IndexError):
        return None


def identity_provider(ident, root="/"):
    """Device.DeviceInfo identity (from the config or the machine) and UpTime."""
    params = {identity.PARAMS[k]: v for k, v in ident.items()}

    def get(model):
        out = dict(params)
        up = _uptime(root)
        if up is not None:
            out["Device.DeviceInfo.UpTime"] = up
        return out
    return Provider("Device.DeviceInfo.", get)


def build(store, cfg, ident, root="/"):
    """Assemble model, RPC table and action runners for one configuration."""
    providers = [identity_provider(ident, root)]
    handlers = dict(rpcs.RPCS)
    model = Model(store, providers=providers, config=cfg, root=root, defaults=settings.PRODUCT_DEFAULTS)
    parts = Parts(model, handlers, {})
    log.debug("RPC methods: %s", ", ".join(handlers))
    return parts
