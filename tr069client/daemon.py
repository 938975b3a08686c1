"""The daemon's one loop: select over the connection-request listener, the control socket and
a signal pipe, with the planner's timers as the timeout; sessions run synchronously inside it,
and while one waits on the ACS (or a transfer on its server) the same sockets are served."""

import os
import select
import time

try:   # the C module under signal.py, whose enums of every signal cost 0.08 MB
    import _signal as signal
except ImportError:  # pragma: no cover - not CPython
    import signal

from . import boot, config, control, http_session, identity, log, settings
from . import transport
from .cr_endpoint import CrEndpoint
from .device import Device
from .events import CONNECTION_REQUEST
from .linux import netlink
from .store import Store, StoreError, lock_writer, private_folder

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Dict, Optional

    from .session import Session

# The longest select(): beyond some 290 years of timeout it overflows, and a wake-up an hour
# costs nothing.
_MAX_SLEEP = 3600.0


def _new_id():
    return os.urandom(8).hex()


class Daemon:
    """The long-running daemon of one device; `run()` returns when it is told to stop."""

    def __init__(self, state_dir: str, config_path: "Optional[str]" = None,
                 overrides: "Optional[Dict[str, object]]" = None):
        self.state_dir = state_dir
        self.config_path = config_path
        self.overrides = overrides or {}
        self.stopping = False
        self.reload_requested = False
        self.in_session = False
        self.session_since = None    # wall time the running session began
        self.busy = False        # serving the sockets from inside a session or device operation
        self._wake = None        # the read end of the signal pipe, while run() runs
        self.cr = None           # CrEndpoint: the listener and ConnectionRequestURL
        self._save_error = None
        self._addresses = None   # netlink socket: readable when an address comes or goes
        self._next_poll = None   # monotonic time of the next timer poll of volatile values
        try:
            private_folder(state_dir)
        except OSError as e:
            raise StoreError("cannot create the state folder %s: %s" % (state_dir, e.strerror or e))
        # One daemon per state: another one running is found before the state is read, so a
        # second start (with other flags) cannot write into the running daemon's state.
        self.control = control.Server(os.path.join(state_dir, config.CONTROL_SOCKET),
                                      self._command)
        self._writer = None
        try:
            # An offline `set` or `dhcp` that found no daemon may be writing: wait for it.
            self._writer = lock_writer(state_dir, wait=10)
            if self._writer is None:
                raise StoreError("another tr069client command keeps writing %s" % state_dir)
            self.store = Store.load(os.path.join(state_dir, config.STATE_FILE))
            self.store.remove_leftovers()   # this daemon is the store's only writer now
            if self.store.load_problem:
                log.error("%s", self.store.load_problem)
            self._configure()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Give up the control socket and the right to write the state."""
        self.control.close()
        if self._writer is not None:
            os.close(self._writer)
            self._writer = None

    # --- configuration -------------------------------------------------------------------

    def _configure(self):
        """Read the config file and build the device; on an error nothing has changed."""
        cfg = config.load(self.config_path)
        cfg.update({k: v for k, v in self.overrides.items() if v is not None})
        ident = identity.resolve(cfg)
        device = Device(self.store, cfg, ident)
        changed = settings.apply_initial(device.model, {k: cfg.get(k) for k in settings.NAMES})
        log.configure(config.get(cfg, "log-level"), config.get(cfg, "syslog"))
        if changed:
            log.info("settings applied from the command line or config file: %s", ", ".join(changed))
        for name, why in settings.problems(device.model).items():
            log.warning("setting %s: the stored value is invalid: %s", name, why)
        self.settings_cfg, self.device = cfg, device
        self.model, self.planner = device.model, device.planner
        if self.cr is None:
            self.cr = CrEndpoint(self.store, device.model)
        self.cr.model = device.model
        device.stop = self._stop
        device.service = self._between_exchanges
        device.wait = self._wait_on_peer

    def reload(self) -> None:
        log.info("reloading the configuration")
        old, old_device = self.planner, self.device
        try:
            self._configure()
            self.device.diagnostics.take_over(old_device.diagnostics)   # tests keep running
            # The new planner keeps the old one's timers: a reload is not a reason to retry now.
            for name in ("retry_at", "active_at", "last_active", "extra_session"):
                setattr(self.planner, name, getattr(old, name))
            self.planner.settings_changed(time.monotonic(), time.time())
        except (config.ConfigError, identity.IdentityError, settings.SettingError) as e:
            log.error("configuration not reloaded: %s", e)
        self.cr.sync()

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        rfd, wfd = os.pipe()
        os.set_blocking(rfd, False)
        os.set_blocking(wfd, False)
        self._wake = rfd
        old_fd = signal.set_wakeup_fd(wfd)
        old_handlers = [(sig, signal.signal(sig, fn)) for sig, fn in (
            (signal.SIGTERM, self._stop), (signal.SIGINT, self._stop), (signal.SIGHUP, self._on_hup))]
        try:
            self._addresses = netlink.address_events()
            self.device.start(boot.kernel_boot_id(), time.monotonic(), time.time())
            if self.stopping:   # a held Reboot or FactoryReset ran: the next start is afresh
                return
            self.device.diagnostics.resume()   # tests a stop interrupted run again
            self.cr.sync()
            self.poll_notifications(time.monotonic())
            self.save()
            log.info("tr069client started: status %s, ACS %s", self.planner.status(),
                     log.shown_url(settings.get(self.model, "acs-url")) or "(none)")
            while not self.stopping:
                mono, wall = time.monotonic(), time.time()
                if self._next_poll is not None and mono >= self._next_poll:
                    self.poll_notifications(mono, timer=True)
                self.planner.on_timers(mono, wall)
                for t in self.device.timers:
                    t.tick(mono, wall)
                if self.stopping:
                    break
                if self.planner.due(mono):
                    self._session()
                    continue
                self.save()
                deadline = self.deadline(mono, wall)
                self._wait(rfd, None if deadline is None else min(max(0.0, deadline - mono), _MAX_SLEEP))
                if self.reload_requested:
                    self.reload_requested = False
                    self.reload()
        finally:
            for sig, handler in old_handlers:   # an embedding program gets its own back
                signal.signal(sig, handler)
            signal.set_wakeup_fd(old_fd)
            self._wake = None
            os.close(rfd)
            os.close(wfd)
            self.device.diagnostics.close()
            self.cr.close()
            if self._addresses is not None:
                self._addresses.close()
                self._addresses = None
            self.save()
            self.close()
            log.info("tr069client stopped")

    def deadline(self, mono: float, wall: float) -> "Optional[float]":
        """Monotonic time the loop must wake at, or None: nothing but a socket or a signal
        can give it work (no session planned, no volatile value watched, no client)."""
        deadlines = [d for d in [self.planner.deadline(mono, wall), self.cr.deadline(),
                                 self.control.next_deadline(), self._next_poll]
                     + [t.deadline(mono, wall) for t in self.device.timers] if d is not None]
        return min(deadlines) if deadlines else None

    def save(self) -> "Optional[str]":
        """Save the state if it changed; None, or the reason it could not be saved. A full or
        read-only flash is said once and the daemon carries on from memory, saving again
        at the next change."""
        try:
            self.store.save_if_dirty()
        except StoreError as e:
            if str(e) != self._save_error:
                self._save_error = str(e)
                log.error("cannot save the state, carrying on from memory: %s", e)
            return self._save_error
        if self._save_error is not None:
            self._save_error = None
            log.info("the state is saved again")
        return None

    def _select(self, fds, timeout, wfds=()):
        """select() over `fds` (and `wfds` for writing), the control socket and the listener;
        (readable, writable)."""
        rlist = fds + self.control.readable() + ([self._addresses] if self._addresses is not None else [])
        wlist = list(wfds) + self.control.writable()
        if self.cr.listener is not None:
            rlist += self.cr.listener.readable()
            wlist += self.cr.listener.writable()
        r, w, _ = select.select(rlist, wlist, [], timeout)
        return r, w

    def _wait(self, rfd, timeout):
        # Between sessions only, a finished diagnostic test wakes the loop (its timer's tick
        # takes the results); during a session its results wait.
        r, w = self._select([rfd] + self.device.diagnostics.fds(), timeout)
        _drain(rfd, r)
        self._service(r, w)

    def _wait_on_peer(self, readable, writable, timeout):
        """The transport's wait while an ACS or file server is not ready: select() over its
        sockets and ours, serving ours (connection requests, the CLI) meanwhile; which of
        its sockets are ready (none if ours woke us first)."""
        wake = [self._wake] if self._wake is not None else []
        nested, self.busy = self.busy, True
        try:
            r, w = self._select(list(readable) + wake, timeout, writable)
            _drain(self._wake, r)
            self._service(r, w)
        finally:
            self.busy = nested
        return [s for s in r if s in readable], [s for s in w if s in writable]

    def _wait_on_acs(self, readable, writable, timeout):
        """_wait_on_peer() for a session, which ends at once when the daemon is told to stop
        (procd sends SIGKILL 5 s after SIGTERM; a slow ACS may take longer than that)."""
        ready = ([], []) if self.stopping else self._wait_on_peer(readable, writable, timeout)
        if self.stopping:
            raise transport.TransportError("the daemon is stopping", "stopped")
        return ready

    def _service(self, r, w):
        now = time.monotonic()
        if self._addresses is not None and self._addresses in r:
            netlink.drain(self._addresses)
            self.cr.address_changed()   # ConnectionRequestURL may need another address now
            if not self.busy:
                self.poll_notifications(now)   # (a session polls all at its end)
        if self.cr.retry_due(now) and not self.busy:
            self.cr.sync()
            if self.cr.listener is not None:
                self.poll_notifications(now)   # the ACS learns the URL now (active notification)
        lsn = self.cr.listener
        if lsn is not None:
            lsn.expire(now)
            # TR-069 3.2.2: a request while a session it asked for is still to come joins it.
            lsn.pending = self.planner.extra_session if self.in_session else \
                self.planner.events.has(CONNECTION_REQUEST)
            if lsn.handle(r, w, now):
                log.debug("connection request accepted%s", " (a session follows this one)" if self.in_session else "")
                self.planner.connection_request(self.in_session)
        self.control.expire(now)
        self.control.handle(r, now)

    def _between_exchanges(self):
        """Keep the listener and control socket answering while a session runs; once told to
        stop, end the session (procd sends SIGKILL 5 s after SIGTERM)."""
        self.busy = True
        try:
            self._service(*self._select([], 0))
        finally:
            self.busy = False
        return "the daemon is stopping" if self.stopping else None

    def _poll_interval(self):
        return max(1, int(self.settings_cfg.get("notification-poll-interval", 60)))

    def poll_notifications(self, mono: float, timer: bool = False) -> None:
        """Compare the watched values with their baseline, and arm the timer of the next poll.
        Only values the OS changes by itself (volatile ones: see model.volatile) need a
        timer: the others change when the ACS or the operator sets them, after which all are
        polled, and ConnectionRequestURL when an address changes (netlink says when). A
        timer's poll reads only volatile values; without netlink it also looks again at
        our address toward the ACS."""
        if timer and self._addresses is None:
            self.cr.address_changed()
        self.cr.update_url()
        passive, active = self.planner.poll_notifications(mono, volatile_only=timer)
        if passive or active:
            log.debug("value change: %s", ", ".join(active + passive))
        needed = self._addresses is None or self.planner.watcher.any_volatile
        self._next_poll = mono + self._poll_interval() if needed else None

    # --- sessions ----------------------------------------------------------------------------

    def _session(self):
        mono, wall = time.monotonic(), time.time()
        url = settings.get(self.model, "acs-url")
        # Changes seen now (a new ConnectionRequestURL, ...) ride in this Inform.
        self.poll_notifications(mono)
        s = self.planner.begin(wall, _new_id)
        # In progress for `status` until its outcome is saved.
        self.in_session, self.session_since = True, wall
        try:
            self._exchange(s, url)
            mono, wall = time.monotonic(), time.time()
            self.planner.finish(s, url, mono, wall)
            self.device.run(s.actions, wall, late=False)
            self.save()
        finally:
            self.in_session = False
        if s.ok:
            log.info("%s", s.summary)
        else:
            log.warning("%s; %s", s.summary, self.planner.failure_note(s, mono, wall))
        if self.planner.after_acs_settings(mono, wall):
            self.cr.sync()
        # Parameters the ACS just put under notification get their baseline now, and the
        # ACS's name is looked up again (the session resolved it anyway: so may we).
        self.cr.forget_route()
        self.poll_notifications(mono)
        self.device.run(s.actions, wall, late=True)

    def _exchange(self, s: "Session", url: str) -> None:
        try:
            http = transport.AcsClient(url, settings.get(self.model, "username"), settings.get(self.model, "password"),
                                       ca_file=settings.get(self.model, "ca-file") or None,
                                       client_cert=settings.get(self.model, "client-certificate") or None,
                                       session_limit=config.get(self.settings_cfg, "session-timeout"),
                                       wait=self._wait_on_acs)
        except transport.TransportError as e:  # a URL this client cannot use
            s.abort(str(e))
        else:
            http_session.run(s, http, between=self._between_exchanges)

    # --- signals and control -----------------------------------------------------------------

    def _command(self, request):
        # Loaded by the first CLI request (with dhcp.py): a daemon nobody asks never needs it.
        from . import control_commands
        return control_commands.handle(self, request)

    def _stop(self, *signal_args):
        self.stopping = True

    def _on_hup(self, signum, frame):
        self.reload_requested = True

    def local_change(self) -> None:
        """The operator changed settings or values (control_commands.py): act on it."""
        self.planner.settings_changed(time.monotonic(), time.time())
        self.cr.sync()
        self.poll_notifications(time.monotonic())   # a local change is checked at once


def _drain(rfd, readable):
    """Empty the signal pipe if select() found it readable."""
    if rfd is not None and rfd in readable:
        try:
            while os.read(rfd, 512):
                pass
        except BlockingIOError:
            pass

