"""What the daemon is made of: the data model's providers, the RPC table, and the runners of
actions that wait for the end of a session. Later layers plug in here, nowhere else."""

from . import bindings, config, linux, log, operations, rpcs, settings, transfers
from .model import Model


class Parts:
    """The assembled pieces: `model`; `handlers` (the RPC table); `extra` (handed to RPC
    functions as ctx.extra); `runners` {action name: fn(*args)} for actions a session
    returns; `timers`, objects with `deadline(mono, wall)` and `tick(mono, wall)` that the
    loop serves; `attachers`, fn(agent) called once the agent exists; `stop`, set by the
    daemon, ends it (after a reboot hook, so the supervisor restarts it); `service`, set by
    the daemon, answers connection requests and control requests during long work; `wait`,
    set by the daemon, is the transport's wait that does the same while a file server is slow."""

    def __init__(self, model, handlers, extra):
        self.model = model
        self.handlers = handlers
        self.extra = extra
        self.runners = {}
        self.timers = []
        self.attachers = []
        self.stop = None
        self.service = None
        self.wait = None

    def run_action(self, action):
        fn = self.runners.get(action[0])
        if fn is None:
            return False
        fn(*action[1:])
        return True

    def attach(self, agent):
        for fn in self.attachers:
            fn(agent)


def build(store, cfg, ident, root="/"):
    """Assemble model, RPC table and action runners for one configuration."""
    handlers = dict(rpcs.RPCS)
    platform = linux.providers(ident) if config.get(cfg, "platform-providers") else []
    model = Model(store, providers=platform, config=cfg, root=root,
                  defaults=dict(linux.PRODUCT_DEFAULTS, **settings.PRODUCT_DEFAULTS))
    # Bindings win over the built-in providers (a longer or, listed first, an equal prefix),
    # and numbering their rows first gives them the low instance numbers of a new device.
    model.providers[:0] = bindings.providers(model, config.get(cfg, "bindings"),
                                             config.get(cfg, "command-timeout"))
    parts = Parts(model, handlers, {})
    ops = operations.install(parts, store, cfg)
    queue = transfers.install(parts, store, cfg, reboot=ops.restart_device)
    ops.clean = queue.worker.clean
    log.debug("RPC methods: %s", ", ".join(handlers))
    return parts
