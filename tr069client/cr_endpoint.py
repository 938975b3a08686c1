"""Where the ACS reaches this device: the connection-request listener, open exactly while the
settings want it (retried with a backoff when its port cannot be bound), and the
ConnectionRequestURL it gives, on the address that routes to the ACS."""

import time

from . import listener, log, settings

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Optional

    from .model import Model
    from .store import Store

MS = settings.MS
# A listener that cannot open is tried again after 5 s, then after twice as long each time,
# up to every 5 minutes.
_LISTEN_RETRY = (5.0, 300.0)


class CrEndpoint:
    """Owns the listener (`listener`, None while closed), why it cannot open and when it is
    tried again, and the route toward the ACS; `model` is the device's current one."""

    def __init__(self, store: "Store", model: "Model"):
        self.store = store
        self.model = model
        self.listener = None
        self.error = None    # why the listener cannot open, a sentence
        self.retry = None    # (monotonic time of the next try, wait) while it cannot
        self.route = None    # (ACS URL, its address, ours toward it): once per session

    def deadline(self) -> "Optional[float]":
        """Monotonic time the listener needs the loop (a client's timeout, the next try)."""
        if self.listener is not None:
            return self.listener.next_deadline()
        return self.retry[0] if self.retry is not None else None

    def retry_due(self, now: float) -> bool:
        return self.listener is None and self.retry is not None and now >= self.retry[0]

    def status(self, mono: float) -> str:
        """The `connection-requests` line of `status`: where they are taken, or why not."""
        if self.listener is not None:
            return self.listener.describe()
        if self.error is not None:
            return "%s; trying again in %d s" % (self.error, max(1, round(self.retry[0] - mono)))
        return "off" if not settings.get(self.model, "enabled") else "off: HTTPConnectionRequestEnable is false"

    def update_url(self) -> None:
        """Set ConnectionRequestURL to where the listener is reached now."""
        if self.listener is None:
            return
        addr = settings.get(self.model, "cr-address") or self._route_address()
        if not addr:
            return
        url = self.listener.url(addr)
        if self.model.value(MS + "ConnectionRequestURL") != url:
            self.model.set_own(MS + "ConnectionRequestURL", url)

    def address_changed(self) -> None:
        """One of our addresses came or went: find ours toward the ACS again at the next
        update_url(), without a new lookup of the ACS's name once it has been found."""
        if self.route is not None and self.route[1]:
            self.route = self.route[:2] + (None,)
        else:
            self.route = None

    def forget_route(self) -> None:
        """Look the ACS's name up again at the next update_url() (once per session)."""
        self.route = None

    def _route_address(self):
        # The ACS's name is looked up once per session (and when an address changes), not at
        # every notification poll: that would send a DNS query a minute, and block the loop
        # for the resolver's timeouts while DNS is down.
        url = settings.get(self.model, "acs-url")
        if self.route is None or self.route[0] != url:
            self.route = (url, listener.resolve(url), None)
        url, peer, local = self.route
        if peer and not local:   # again until found: the route may come after the address
            local = listener.local_address(peer)
            self.route = (url, peer, local)
        return local

    def sync(self) -> None:
        """Listen for connection requests exactly while CWMP and HTTP connection requests
        (ManagementServer.HTTPConnectionRequestEnable) are enabled."""
        want = settings.get(self.model, "enabled") and \
            self.model.value(MS + "HTTPConnectionRequestEnable") != "false"
        port = int(settings.get(self.model, "cr-port"))
        if want and self.listener is not None and port not in (0, self.listener.port):
            self.close()   # the operator moved it to another port
        if want and self.listener is None:
            try:
                self.listener = listener.open_any(port, listener.cr_path(self.store), self._credentials)
            except OSError as e:
                # Tried again on a timer, backing off (a try before its time, for a settings
                # change, keeps the wait); said once until the reason changes, and by `status`.
                now, last = time.monotonic(), self.retry
                wait = _LISTEN_RETRY[0] if last is None else \
                    min(last[1] * 2, _LISTEN_RETRY[1]) if now >= last[0] else last[1]
                self.retry = (now + wait, wait)
                if str(e) != self.error:
                    self.error = str(e)
                    log.error("cannot listen for connection requests: %s", e)
                return
            if self.error is not None:
                log.info("listening for connection requests on %s", self.listener.where())
            self.error = self.retry = None
            self.update_url()
        elif not want:
            self.error = self.retry = None
            self.close()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def _credentials(self):
        return (self.model.value(MS + "ConnectionRequestUsername", ""),
                self.model.value(MS + "ConnectionRequestPassword", ""))
