"""The daemon's one loop: select over the connection-request listener, the control socket and
a signal pipe, with the agent's timers as the timeout; sessions run synchronously inside it."""

import errno
import os
import random
import select
import signal
import socket
import time

from . import agent as agent_mod
from . import config, control, exchange, identity, listener, log, settings, transport, wiring
from .faults import CwmpFault
from .model import Model
from .store import Store

STATE_FILE = "state.json"
MS = "Device.ManagementServer."


def _boot_id(root="/"):
    # Tests simulate a reboot by giving another boot id; the kernel's otherwise.
    forced = os.environ.get("TR069CLIENT_BOOT_ID")
    if forced:
        return forced
    try:
        with open(os.path.join(root, "proc/sys/kernel/random/boot_id")) as f:
            return f.read().strip() or None
    except OSError:
        return None


def _new_id():
    return os.urandom(8).hex()


def _local_address(url):
    """The address this host uses to reach the ACS (a UDP connect sends nothing)."""
    from urllib.parse import urlsplit
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        try:
            host = host.encode("ascii")   # a str would load the idna codec (0.3 MB)
        except UnicodeEncodeError:
            pass
        info = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
        s = socket.socket(info[0], socket.SOCK_DGRAM)
        try:
            s.connect(info[4])
            return s.getsockname()[0]
        finally:
            s.close()
    except (OSError, ValueError, TypeError, IndexError):
        return None


def _listen(port, path, credentials):
    """A connection-request listener on IPv6 and IPv4 ("::", dual stack), or IPv4 alone
    where the kernel has no IPv6 (many router builds leave it out)."""
    try:
        return listener.Listener("::", port, path, credentials=credentials)
    except OSError as e:
        if e.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT,
                           socket.EAI_FAMILY, getattr(socket, "EAI_ADDRFAMILY", None)):
            raise
    return listener.Listener("0.0.0.0", port, path, credentials=credentials)


class Daemon:
    """The long-running agent; `run()` returns when it is told to stop."""

    def __init__(self, state_dir, config_path=None, overrides=None):
        self.state_dir = state_dir
        self.config_path = config_path
        self.overrides = overrides or {}
        self.stopping = False
        self.reload_requested = False
        self.in_session = False
        self.listener = None
        self._listen_error = None
        self.control = None
        self.store = Store.load(os.path.join(state_dir, STATE_FILE))
        if self.store.load_problem:
            log.error("%s", self.store.load_problem)
        self._configure()

    # --- configuration -------------------------------------------------------------------

    def _configure(self):
        self.config = config.load(self.config_path)
        cfg = dict(self.config)
        cfg.update({k: v for k, v in self.overrides.items() if v is not None})
        self.settings_cfg = cfg
        log.configure(config.get(cfg, "log-level"), config.get(cfg, "syslog"))
        self.identity = identity.resolve(cfg)
        parts = wiring.build(self.store, cfg, self.identity)
        self.model = parts.model
        changed = settings.apply_initial(self.model, {k: cfg.get(k) for k in config.SETTING_KEYS})
        if changed:
            log.info("settings applied from the command line or config file: %s", ", ".join(changed))
        self.agent = agent_mod.Agent(self.store, self.model, self.identity, random.random,
                                     parts.handlers, parts.extra,
                                     config.CWMP_VERSIONS[config.get(cfg, "cwmp-version")])
        self.parts = parts
        parts.stop = self._stop
        parts.service = self._between_exchanges
        parts.attach(self.agent)
        self.store.save_if_dirty()

    def reload(self):
        log.info("reloading the configuration")
        old = self.agent
        try:
            self._configure()
            # The new agent keeps the old one's timers: a reload is not a reason to retry now.
            for name in ("retry_at", "active_at", "last_active", "extra_session"):
                setattr(self.agent, name, getattr(old, name))
            self.agent.settings_changed(time.monotonic(), time.time())
        except (config.ConfigError, identity.IdentityError, settings.SettingError) as e:
            log.error("configuration not reloaded: %s", e)
        self._sync_listener()

    # --- the loop ----------------------------------------------------------------------------

    def run(self):
        rfd, wfd = os.pipe()
        os.set_blocking(rfd, False)
        os.set_blocking(wfd, False)
        old_fd = signal.set_wakeup_fd(wfd)
        for sig, fn in ((signal.SIGTERM, self._on_stop), (signal.SIGINT, self._on_stop),
                        (signal.SIGHUP, self._on_hup)):
            signal.signal(sig, fn)
        self.control = control.Server(os.path.join(self.state_dir, "control.sock"), self._on_control)
        try:
            self.agent.start(_boot_id(), time.monotonic(), time.time())
            self._sync_listener()
            self.store.save_if_dirty()
            log.info("tr069client started: status %s, ACS %s", self.agent.status(),
                     settings.get(self.model, "acs-url") or "(none)")
            next_poll = time.monotonic()
            while not self.stopping:
                mono, wall = time.monotonic(), time.time()
                if mono >= next_poll:
                    self._poll_notifications(mono)
                    next_poll = mono + self._poll_interval()
                self.agent.on_timers(mono, wall)
                for t in self.parts.timers:
                    t.tick(mono, wall)
                if self.stopping:
                    break
                if self.agent.due(mono):
                    self._session()
                    continue
                self.store.save_if_dirty()
                deadlines = [d for d in [self.agent.deadline(mono, wall), self._listener_deadline(),
                                         self.control.next_deadline(),
                                         next_poll]
                             + [t.deadline(mono, wall) for t in self.parts.timers] if d is not None]
                timeout = max(0.0, min(deadlines) - mono) if deadlines else None
                self._wait(rfd, timeout)
                if self.reload_requested:
                    self.reload_requested = False
                    self.reload()
        finally:
            signal.set_wakeup_fd(old_fd)
            os.close(rfd)
            os.close(wfd)
            if self.listener is not None:
                self.listener.close()
            self.control.close()
            self.store.save_if_dirty()
            log.info("tr069client stopped")

    def _wait(self, rfd, timeout):
        rlist = [rfd] + self.control.readable()
        wlist = self.control.writable()
        if self.listener is not None:
            rlist += self.listener.readable()
            wlist += self.listener.writable()
        try:
            r, w, _ = select.select(rlist, wlist, [], timeout)
        except InterruptedError:
            return
        if rfd in r:
            try:
                while os.read(rfd, 512):
                    pass
            except BlockingIOError:
                pass
        self._service(r, w)

    def _service(self, r, w):
        now = time.monotonic()
        if self.listener is not None:
            self.listener.expire(now)
            if self.listener.handle(r, w, now):
                log.debug("connection request accepted%s", " (a session follows this one)" if self.in_session else "")
                self.agent.connection_request(self.in_session)
        self.control.expire(now)
        self.control.handle(r, now)

    def _between_exchanges(self):
        """Keep the listener and control socket answering while a session runs."""
        rlist = self.control.readable()
        wlist = self.control.writable()
        if self.listener is not None:
            rlist += self.listener.readable()
            wlist += self.listener.writable()
        try:
            r, w, _ = select.select(rlist, wlist, [], 0)
        except InterruptedError:
            return
        self._service(r, w)

    def _listener_deadline(self):
        return self.listener.next_deadline() if self.listener is not None else None

    def _poll_interval(self):
        return max(1, int(self.settings_cfg.get("notification-poll-interval", 60)))

    def _poll_notifications(self, mono):
        if self.listener is None:
            self._sync_listener()
        self._update_cr_url()
        passive, active = self.agent.poll_notifications(mono)
        if passive or active:
            log.debug("value change: %s", ", ".join(active + passive))

    # --- sessions ----------------------------------------------------------------------------

    def _session(self):
        mono, wall = time.monotonic(), time.time()
        url = settings.get(self.model, "acs-url")
        # Changes seen now (a new ConnectionRequestURL, ...) ride in this Inform.
        self._poll_notifications(mono)
        s = self.agent.begin(wall, _new_id)
        self.in_session = True
        try:
            http = transport.Session(url, settings.get(self.model, "username"), settings.get(self.model, "password"),
                                     ca_file=settings.get(self.model, "ca-file") or None,
                                     client_cert=settings.get(self.model, "client-certificate") or None)
        except transport.TransportError as e:  # a URL this client cannot use
            s.abort(str(e))
        else:
            exchange.run(s, http, between=self._between_exchanges)
        finally:
            self.in_session = False
        mono, wall = time.monotonic(), time.time()
        actions = self.agent.finish(s, url, mono, wall)
        for p in self.model.pending_apply:
            try:
                p.apply(self.model)
            except Exception as e:  # an integrator's apply hook must not stop the daemon
                log.error("applying changes under %s failed: %s", p.prefix, e)
        self.store.save_if_dirty()
        if s.ok:
            log.info("%s", s.summary)
        else:
            log.warning("%s; retry %d in %.0f s", s.summary, self.agent.retry_count,
                        max(0.0, (self.agent.retry_at or mono) - mono))
        if MS + "EnableCWMP" in self.model.acs_changed:
            self._sync_listener()
            self.agent.settings_changed(mono, wall)
        # Parameters the ACS just put under notification get their baseline now.
        self._poll_notifications(mono)
        self._run_actions(actions)

    def _run_actions(self, actions):
        for a in actions:
            if not self.parts.run_action(a):
                log.warning("no handler for the action %s", a[0])

    def _update_cr_url(self):
        if self.listener is None:
            return
        addr = settings.get(self.model, "cr-address") or _local_address(settings.get(self.model, "acs-url"))
        if not addr:
            return
        url = self.listener.url(addr)
        if self.model.value(MS + "ConnectionRequestURL") != url:
            self.store.values[MS + "ConnectionRequestURL"] = url
            self.store.dirty = True
            self.model.refresh()

    def _sync_listener(self):
        """Listen for connection requests exactly while CWMP is enabled."""
        want = settings.get(self.model, "enabled")
        port = int(settings.get(self.model, "cr-port"))
        if want and self.listener is not None and port not in (0, self.listener.port):
            self.listener.close()   # the operator moved it to another port
            self.listener = None
        if want and self.listener is None:
            st = self.store.state
            if "cr_path" not in st:
                st["cr_path"] = "/" + os.urandom(10).hex()
                self.store.dirty = True
            port = int(settings.get(self.model, "cr-port"))
            try:
                self.listener = _listen(port, st["cr_path"], self._cr_credentials)
            except OSError as e:
                # Tried again at every notification poll; said once until it changes.
                error = "cannot listen for connection requests: %s" % e
                if error != self._listen_error:
                    st["last_error"] = self._listen_error = error
                    log.error("%s", error)
                return
            self._listen_error = None
            self._update_cr_url()
        elif not want and self.listener is not None:
            self.listener.close()
            self.listener = None

    def _cr_credentials(self):
        return (self.model.value(MS + "ConnectionRequestUsername", ""),
                self.model.value(MS + "ConnectionRequestPassword", ""))

    # --- signals and control -----------------------------------------------------------------

    def _on_stop(self, signum, frame):
        self.stopping = True

    def _stop(self):
        self.stopping = True

    def _on_hup(self, signum, frame):
        self.reload_requested = True

    def _on_control(self, req):
        """Requests from `tr069client inform|set|get|status|reset-config` while we run."""
        cmd = req.get("cmd")
        if cmd == "inform":
            if self.agent.status() != agent_mod.STATUS_RUNNING:
                return {"ok": False, "error": "no session possible: status is %s" % self.agent.status()}
            self.agent.inform_now()
            return {"ok": True}
        if cmd == "status":
            return {"ok": True, "status": self.agent.report(time.monotonic(), time.time())}
        if cmd == "get":
            try:
                return {"ok": True, "values": get_values(self.model, req.get("paths") or [])}
            except (settings.SettingError, CwmpFault) as e:
                return {"ok": False, "error": _message(e)}
        if cmd == "set":
            try:
                set_values(self.model, req.get("items") or [])
            except (settings.SettingError, CwmpFault) as e:
                return {"ok": False, "error": _message(e)}
            self.agent.settings_changed(time.monotonic(), time.time())
            self._sync_listener()
            self._poll_notifications(time.monotonic())   # a local change is checked at once
            self.store.save_if_dirty()
            return {"ok": True}
        if cmd == "reset-config":
            if self.in_session:
                return {"ok": False, "error": "a session is in progress; try again when it ends"}
            reset(self.store)
            if self.listener is not None:  # the open listener keeps its path
                self.store.state["cr_path"] = self.listener.path
            self.reload()
            self.agent.retry_at = None
            self.agent.start(_boot_id(), time.monotonic(), time.time())
            self._update_cr_url()
            self.store.save_if_dirty()
            return {"ok": True}
        return {"ok": False, "error": "unknown command %r" % (cmd,)}


def _message(e):
    return e.message if isinstance(e, CwmpFault) else str(e)


def get_values(model, names):
    """{name: value} for settings and TR-181 paths (secrets masked)."""
    out = {}
    for n in names:
        if n.startswith("Device."):
            for full, value, _ in model.get_values([n]):
                out[full] = value
        else:
            out[n] = settings.show(model)[n] if n in settings.names() else settings.get(model, n)
    return out


def set_values(model, items):
    """Apply KEY=VALUE pairs (settings or TR-181 paths) all or nothing."""
    import copy
    # Deep: settings live in nested dicts of the state.
    saved = copy.deepcopy((model.store.values, model.store.attrs, model.store.state))
    try:
        for k, v in items:
            if k.startswith("Device."):
                try:
                    model.set_local(k, v)
                except CwmpFault as f:
                    raise settings.SettingError("%s: %s" % (k, f.message))
            else:
                settings.put(model, k, v)
    except (settings.SettingError, CwmpFault):
        for d, old in zip((model.store.values, model.store.attrs, model.store.state), saved):
            d.clear()
            d.update(old)
        model.refresh()
        raise
    model.store.dirty = True


def reset(store):
    """Forget configuration and state (MikroTik's reset-tr069-config); the boot id stays,
    as this is no reboot: the next session is a BOOTSTRAP, not a BOOT."""
    boot_id = store.state.get("boot_id")
    store.values.clear()
    store.attrs.clear()
    store.state.clear()
    if boot_id is not None:
        store.state["boot_id"] = boot_id
    store.dirty = True
