"""The fleet: the devices of one shard of the serial space, booted over a ramp, each running the
daemon's engine in one loop: sessions (at most max_sessions at once), its timers, transfers,
simulated reboots and connection requests; progress once a second and a summary at the end."""

import collections
import functools
import gc
import itertools
import os
import signal
import socket
import time

from .. import auth, listener, log
from ..actions import FactoryReset, Reboot
from ..store import StoreError
from . import engine, persist
from .cpe import Cpe, cr_token, factory
from .crserver import CrServer
from .cwmp import Visit
from .files import Transfer
from .loop import READ, Loop
from .stats import Stats

MS_CR_URL = "Device.ManagementServer.ConnectionRequestURL"
# The collector's thresholds while a fleet runs: its sessions leave no reference cycles, but
# its devices are a million long-lived objects that the default thresholds (700, 10, 10)
# walk again and again (10,000 devices: 1.25 of 7.4 CPU seconds in a storm; with these
# 0.1 of 5.8).
_GC_THRESHOLDS = (50000, 20, 20)
OPTIONS = {
    "acs_url": None, "count": 1, "shard": (0, 1), "ramp_up": 0.0, "cr_address": None,
    "cr_port": 7547, "state_dir": None, "max_sessions": 1000, "seed": None, "cwmp_version": "1.0",
    "reboot_time": 2.0, "duration": None, "once": False, "ca_file": None, "progress": None,
    "save_interval": 60.0, "drain": 10.0, "timeout": 30, "transfer_timeout": 3600,
}


def shard_range(count, shard, shards):
    """The device indices [first, last) of shard `shard` (0-based) of `shards`."""
    return count * shard // shards, count * (shard + 1) // shards


class Fleet:
    """start() builds the devices, step() serves the loop once, run() until the end, then
    close(); summary() is the JSON-able outcome. Options: see OPTIONS."""

    def __init__(self, template, **options):
        unknown = set(options) - set(OPTIONS)
        if unknown:
            raise TypeError("unknown fleet options: %s" % ", ".join(sorted(unknown)))
        self.o = dict(OPTIONS, **options)
        self.template = template
        self.loop = Loop()
        self.first, self.last = shard_range(self.o["count"], *self.o["shard"])
        self.devices = []
        self.ready = collections.deque()
        self.visits, self.transfers = {}, {}
        self.stats = self.cr = self.seed = self.state_path = None
        self.stopping = self._stop = self._hard = self.closed = False
        self._down = 0
        self._ids = itertools.count(1)
        self._run_id = os.urandom(4).hex()
        self._gc = None     # the collector's thresholds before start()

    # --- life cycle ---------------------------------------------------------------------

    def start(self):
        o = self.o
        self._gc = gc.get_threshold()
        gc.set_threshold(*_GC_THRESHOLDS)
        info, records = {}, {}
        if o["state_dir"]:
            os.makedirs(o["state_dir"], mode=0o700, exist_ok=True)
            self.state_path = persist.path_for(o["state_dir"], *o["shard"])
            info, records, problem = persist.load(self.state_path)
            if problem:
                log.warning("%s", problem)
        self.seed = o["seed"] if o["seed"] is not None else info.get("seed", 1)
        self.stats = Stats(self.loop.clock, self.last - self.first)
        self.cr = self._listen(o["cr_port"])
        self._cr_host = o["cr_address"] or listener.local_address(
            listener.resolve(o["acs_url"]) or (socket.AF_INET, ("127.0.0.1", 7547))) or "127.0.0.1"
        t0, n = self.loop.clock(), max(1, self.last - self.first)
        for j, index in enumerate(range(self.first, self.last)):
            d = Cpe(index, self.template, self.seed, records.get(index))
            d.timer = self.loop.call_at(t0 + o["ramp_up"] * j / n, functools.partial(self._boot, d))
            self.devices.append(d)
        self._down = len(self.devices)
        if o["progress"] is not None:
            self.loop.call_at(t0 + 1.0, self._tick)
        if self.state_path and o["save_interval"]:
            self.loop.call_at(t0 + o["save_interval"], self._autosave)
        return self

    def _listen(self, port):
        return listener.dual_stack(lambda address: CrServer(self.loop, address, port, self._route,
                                                            self._cr_accepted))

    def run(self, signals=True):
        """Run until stopped (stop(), SIGINT/SIGTERM, duration, or every device informed with
        `once`); the summary."""
        if self.stats is None:
            self.start()
        old = []
        if signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                old.append((sig, signal.signal(sig, lambda *a: self.stop(hard=self._stop))))
        try:
            while not self.finished():
                self.loop.run_once(0.25)
        finally:
            for sig, handler in old:
                signal.signal(sig, handler)
            self.close()
        return self.summary()

    def step(self, max_wait=0.05):
        self.loop.run_once(max_wait)

    def stop(self, hard=False):
        """End the run: no new sessions; those under way get `drain` seconds (none if hard)."""
        self._stop = True
        self._hard = self._hard or hard

    def finished(self):
        now = self.loop.clock()
        if self.o["duration"] is not None and now - self.stats.started >= self.o["duration"]:
            self._stop = True
        if not self._stop:
            return False
        if not self.stopping:
            self.stopping = True
            self._drain_until = now + self.o["drain"]
            self.ready.clear()
        busy = self.visits or self.transfers
        return not busy or self._hard or now >= self._drain_until

    def close(self):
        if self.closed:
            return
        self.closed = self.stopping = True
        if self._gc is not None:
            gc.set_threshold(*self._gc)
        for v in list(self.visits.values()):
            v.stop("the fleet is stopping")
        for t in list(self.transfers.values()):
            t.stop()
        self.loop.run_soon()
        for d in self.devices:
            if d.dev is not None and not d.down:
                self._power_off(d)
        if self.state_path:
            self.save()
        if self.cr is not None:
            self.cr.close()
        if self.o["progress"] is not None:
            self._progress_line()
        self.loop.close()

    def save(self):
        persist.save(self.state_path, {"seed": self.seed, "count": self.o["count"],
                                       "shard": list(self.o["shard"])},
                     {d.index: d.record(self.template, self.seed) for d in self.devices})

    def summary(self):
        return self.stats.summary({"shard": "%d/%d" % self.o["shard"], "first-index": self.first,
                                   "cr-refused": self.cr.refused if self.cr else 0})

    # --- devices ------------------------------------------------------------------------

    def _device(self, index):
        if self.first <= index < self.last:
            return self.devices[index - self.first]
        return None

    def _path(self, index):
        return "/%d/%s" % (index, cr_token(self.seed, index))

    def _boot(self, d):
        d.timer = None
        if self.stopping:
            return
        self._down -= 1
        d.boot(self.template, self.o["cwmp_version"], "%s.%d" % (self._run_id, d.boots + 1),
               self.loop.clock(), time.time())
        # Where this run listens: a new URL is a change the ACS hears of (active notification).
        engine.set_value(d.dev, MS_CR_URL, self.cr.url(self._cr_host, self._path(d.index)))
        self._watch_diagnostics(d)   # the tests a reboot interrupted run again
        self._wake(d)

    def _reboot(self, d):
        """Simulated: the device is unreachable for reboot_time, then boots."""
        self.stats.add("reboots")
        self._power_off(d)
        d.down = True
        self._down += 1
        self.loop.cancel(d.timer)
        d.timer = self.loop.call_at(self.loop.clock() + self.o["reboot_time"], functools.partial(self._boot, d))

    def _wake(self, d):
        """Turn the device's elapsed timers into events; start what is due, else sleep until
        its next timer."""
        if d.down:
            return          # its boot timer stands
        self.loop.cancel(d.timer)
        d.timer = None
        if d.busy or d.ready or d.transfer is not None or self.stopping:
            return
        mono, wall = self.loop.clock(), time.time()
        step, arg = engine.next_step(d.dev, mono, wall)
        if step == "session":
            d.ready = True
            self.ready.append(d)
            self._pump()
        elif step == "transfer":
            self._transfer(d, arg)
        elif arg is not None:
            d.timer = self.loop.call_at(max(arg, mono), functools.partial(self._wake, d))

    # --- sessions ---------------------------------------------------------------------------

    def _pump(self):
        while self.ready and len(self.visits) < self.o["max_sessions"] and not self.stopping:
            d = self.ready.popleft()
            d.ready = False
            if not d.busy and not d.down:
                self._session(d)

    def _new_id(self):
        return "%x" % next(self._ids)

    def _session(self, d):
        d.busy = True
        mono, wall = self.loop.clock(), time.time()
        d.drift(self.template.drifts, wall)   # moved values under notification ride along
        s = engine.begin_session(d.dev, mono, wall, self._new_id)
        self.visits[d.index] = Visit(self.loop, d, s, self._ended, self.o["ca_file"], self.o["timeout"])

    def _ended(self, v):
        d, s = v.device, v.s
        del self.visits[d.index]
        mono, wall = self.loop.clock(), time.time()
        # As the daemon records a session: its outcome, the early actions, what the ACS
        # changed, then the late actions (which may reboot the device).
        engine.finish_session(d.dev, s, v.url, mono, wall)
        self._run(d, s.actions, wall, late=False)
        engine.after_session(d.dev, mono, wall)
        d.busy = False
        if v.cause == "interrupted":
            self.stats.interrupted += 1
        else:
            self.stats.session(s.ok, v.latency, v.cause or "cwmp", s.error, s.events)
        if s.ok and not d.informed:
            d.informed = True
            self.stats.informed += 1
        self._run(d, s.actions, wall, late=True)
        if not d.down:
            self._watch_diagnostics(d)
        self._pump()
        self._wake(d)
        if self.o["once"] and self.stats.informed >= len(self.devices):
            self.stop()

    def _run(self, d, actions, wall, late):
        """Run the session's typed actions (actions.py) that are `late` or not, in order;
        Reboot and FactoryReset are simulated."""
        engine.run_actions(d.dev, actions, wall, late, {
            Reboot: lambda a, wall: self._simulate_reboot(d, a),
            FactoryReset: lambda a, wall: self._simulate_factory_reset(d)})

    def _simulate_reboot(self, d, action):
        engine.order_reboot(d.dev, action.command_key)
        self._reboot(d)

    def _simulate_factory_reset(self, d):
        self.stats.add("factory-resets")
        engine.factory_reset(d.dev, factory(self.template, self.seed, d.index))
        self._reboot(d)

    def _watch_diagnostics(self, d):
        for fd in engine.diagnostics_fds(d.dev):
            self.loop.watch(fd, READ, functools.partial(self._diagnosed, d))

    def _power_off(self, d):
        self._unwatch_diagnostics(d)
        engine.power_off(d.dev)

    def _unwatch_diagnostics(self, d):
        for fd in engine.diagnostics_fds(d.dev):
            self.loop.unwatch(fd)

    def _diagnosed(self, d, mask):
        """A test of `d` finished: its results go into its model and 8 DIAGNOSTICS COMPLETE
        follows, between sessions as on the daemon (during one, it waits for the end)."""
        if d.busy:
            return self._unwatch_diagnostics(d)   # watched again when the session has ended
        engine.diagnostics_done(d.dev, self.loop.clock(), time.time())
        self._wake(d)

    # --- transfers --------------------------------------------------------------------------

    def _transfer(self, d, rec):
        d.transfer = self.transfers[d.index] = Transfer(
            self.loop, d, rec, self._transferred, self.o["transfer_timeout"], self.o["ca_file"])

    def _transferred(self, t):
        d = t.device
        d.transfer = None
        del self.transfers[d.index]
        if t.stopped:
            return      # left "transferring": the next run's start queues it again
        kind = "upload" if t.upload else "download"
        if t.code:
            self.stats.add(kind + "-failures")
        else:
            self.stats.add(kind + "s")
            self.stats.add(kind + "-bytes", t.bytes)
        engine.end_transfer(d.dev, t.rec, t.code, t.message)
        if not t.code and t.rec.get("hook") == "firmware-command":
            # The new image runs after a reboot; TransferComplete goes with 1 BOOT (TR-069 3.7.1.5).
            engine.installed_firmware(d.dev, t.firmware_version)
            return self._reboot(d)
        self._wake(d)

    # --- connection requests ------------------------------------------------------------------

    def _route(self, path):
        parts = path.split("/")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        d = self._device(int(parts[1]))
        if d is None or not auth.equal(parts[2], cr_token(self.seed, d.index)):
            return None
        if d.down:
            return False
        return (d,) + engine.cr_credentials(d.dev)

    def _cr_accepted(self, d):
        self.stats.add("cr-accepted")
        if engine.enabled(d.dev):
            engine.connection_request(d.dev, d.busy)
            self._wake(d)

    # --- timers ---------------------------------------------------------------------------

    def _tick(self):
        self._progress_line()
        self.loop.call_at(self.loop.clock() + 1.0, self._tick)

    def _progress_line(self):
        stream = self.o["progress"]
        try:
            stream.write(self.stats.line(len(self.visits), len(self.ready), self._down) + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass

    def _autosave(self):
        try:
            self.save()
        except StoreError as e:   # a full disk must not end the run
            log.error("fleet state not saved: %s", e)
        self.loop.call_at(self.loop.clock() + self.o["save_interval"], self._autosave)
