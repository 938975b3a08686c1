"""The session planner: which events the next Inform carries, when a session is due
(retry backoff, periodic timer, ScheduleInform, notification throttle, connection
requests), and what a finished session changes; owner of the one EventQueue and of the
planner's keys of the state (state.py); no I/O (clocks and randomness are passed in).

Times: `mono` is a monotonic clock for delays, `wall` Unix time for what the ACS sees.
"""

from . import boot, log, outcomes, schedule, settings, url_trials
from . import events as ev
from .datatypes import format_time, parse_time
from .notify import Watcher
from .session import DeviceId, Session

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Callable, Dict, List, Optional

    from .model import Model
    from .store import Store

MS = settings.MS
STATUS_DISABLED, STATUS_WAITING, STATUS_RUNNING = "disabled", "waiting-URL", "running"


def _int(model, name, default, low=None):
    try:
        v = int(model.value(MS + name, "") or default)
    except ValueError:
        v = default
    return v if low is None or v >= low else default


class Planner:
    """One CPE's session planning: its events, retries, timers and notifications; `begin()`
    makes the engine of the next session, `finish()` records how it went."""

    def __init__(self, store: "Store", model: "Model", identity: "Dict[str, str]",
                 random: "Callable[[], float]", handlers: "Optional[dict]" = None,
                 ns: "Optional[str]" = None, commit: "Optional[Callable[[], Optional[str]]]" = None):
        self.store = store
        # What the session calls to persist an applied change before answering the ACS
        # (store.save_now: the daemon's state file); a parameter so that tests can fail it.
        self.commit = commit or store.save_now
        self.ns = ns                # the Inform's cwmp namespace (None: the engine's default)
        self.model = model
        self.identity = identity
        self.random = random
        self.handlers = handlers
        # The device's one event queue: transfers and operations raise their events in it.
        self.events = ev.EventQueue(store)
        self.watcher = Watcher(model, store.state)
        self._retry_at = None       # mono: earliest next attempt after a failure
        self.periodic_at = None     # wall: next periodic Inform
        self.active_at = None       # mono: earliest VALUE CHANGE session (throttle)
        self.last_active = None     # mono: when the last VALUE CHANGE was delivered
        self.extra_session = False  # a connection request came during a session
        # What successful sessions carried but could not settle (transfer events the ACS has
        # not acknowledged, requests it held or refused), as (events, request tokens). Left
        # over once, it gets one more session at once; left over twice in a row, it waits for
        # another reason, or an ACS that never takes it would get a loop of sessions.
        self._left = self._settled = (frozenset(), frozenset())
        self._offered = frozenset()
        self.cpe_requests = []      # type: List[Callable[[], list]]  # CpeRequests (transfers)
        self.on_acknowledged = []   # type: List[Callable[[object], None]]  # answered CPE requests

    @property
    def retry_at(self) -> "Optional[float]":
        """Monotonic time of the earliest next attempt after a failure, or None."""
        return self._retry_at

    @retry_at.setter
    def retry_at(self, mono):
        self._retry_at = mono
        if mono is None and self.store.state.pop("retry_backoff", None) is not None:
            self.store.dirty = True

    def _back_off(self, mono, wall, wait):
        # Kept as wall time in the state, so a daemon restarted (or crashing in a loop)
        # during the backoff waits out the rest rather than calling the ACS at once.
        self._retry_at = mono + wait
        self.store.state["retry_backoff"] = [wall + wait, wait]
        self.store.dirty = True

    def _resume_backoff(self, mono, wall):
        backoff = self.store.state.get("retry_backoff")
        try:
            until, wait = float(backoff[0]), float(backoff[1])
        except (TypeError, ValueError, IndexError):
            self.retry_at = None
            return
        # A clock set back while the daemon was down cannot stretch the wait beyond its length.
        left = min(until - wall, wait)
        self.retry_at = mono + left if left > 0 else None

    # --- state the operator sees ---------------------------------------------------------

    def status(self) -> str:
        if not settings.get(self.model, "enabled"):
            return STATUS_DISABLED
        if not settings.get(self.model, "acs-url"):
            return STATUS_WAITING
        return STATUS_RUNNING

    @property
    def retry_count(self) -> int:
        return outcomes.retry_count(self.store)

    def report(self, mono: float, wall: float) -> "Dict[str, object]":
        """The operator's view: status, last-session-error, retry-count, and the times of the
        last successful and the next planned session."""
        status = self.status()
        nxt = self.deadline(mono, wall)
        if nxt is not None:
            nxt = wall + max(nxt, mono) - mono
        out = {
            "status": status,
            "last-session-error": outcomes.last_error(self.store),
            "retry-count": self.retry_count,
            "last-successful-session": format_time(outcomes.last_success(self.store))
            if outcomes.last_success(self.store) else "",
            "next-session": format_time(nxt) if nxt is not None else "",
            "pending-events": [c + (" " + k if k else "") for c, k in self.events.pending()],
        }
        trial = url_trials.describe(self.store)
        if trial:
            out["url-on-trial"] = trial
        return out

    # --- start-up --------------------------------------------------------------------------

    def start(self, boot_id: "Optional[str]", mono: float, wall: float) -> None:
        """The daemon started; `boot_id` identifies the kernel's boot (None if unknown)."""
        # A reboot tr069client ordered (Reboot, FactoryReset, firmware) counts as a boot even
        # when the command only restarted the daemon, once it returned (True: an older
        # daemon's mark). One that started, never returned, and left the same boot never
        # happened: the ACS must not hear that it did.
        ordered = boot.take_order(self.store)
        if ordered == boot.STARTED and boot_id is not None and boot.boot_id(self.store) == boot_id:
            ordered = False
            self.events.remove_last(ev.M_REBOOT)
            message = ("the reboot ordered before tr069client stopped did not happen: reboot-command "
                       "did not finish and the device did not restart")
            outcomes.operation_failed(self.store, message)
            log.error("%s", message)
        if ordered or boot_id is None or boot.boot_id(self.store) != boot_id:
            # A real boot (or the first start ever): 1 BOOT, and retry-count starts over.
            self.events.add(ev.BOOT)
            boot.started_in(self.store, boot_id)
            outcomes.retries_over(self.store)
            self.retry_at = None
        else:
            self._resume_backoff(mono, wall)
        outcomes.note_first_use(self.store)
        self._url_check()
        self._bootstrap_if_new_url()
        self.reschedule(mono, wall)

    def _bootstrap_if_new_url(self):
        url = settings.get(self.model, "acs-url")
        if url and self.store.state.get("bootstrap_url") != url:
            self.events.add(ev.BOOTSTRAP)

    def reschedule(self, mono: float, wall: float, after_session: bool = False) -> None:
        """Recompute the periodic timer from the ManagementServer parameters."""
        if not settings.get(self.model, "periodic-inform-enabled"):
            self.periodic_at = None
            return
        interval = _int(self.model, "PeriodicInformInterval", 3600, 1)
        anchor = parse_time(self.model.value(MS + "PeriodicInformTime", ""))
        last = wall if after_session else outcomes.last_success(self.store)
        self.periodic_at = schedule.next_periodic(wall, interval, anchor, last)

    def settings_changed(self, mono: float, wall: float) -> None:
        """The operator (or a reloaded config file) changed settings: apply what follows."""
        if not settings.get(self.model, "enabled"):
            # Disabled: nothing is retried, so nothing counts as a consecutive failure.
            outcomes.retries_over(self.store)
            self.retry_at = None
        if self._url_check():
            self.retry_at = None  # a new URL is tried now
        self._bootstrap_if_new_url()
        self.reschedule(mono, wall)

    def after_acs_settings(self, mono: float, wall: float) -> bool:
        """After a session: act on the ACS's change of EnableCWMP or
        HTTPConnectionRequestEnable as on the operator's; whether there was one (the loop
        then opens or closes its connection-request listener)."""
        if {MS + "EnableCWMP", MS + "HTTPConnectionRequestEnable"} & self.model.acs_changed:
            self.settings_changed(mono, wall)
            return True
        return False

    def _url_check(self):
        return url_trials.operator_set(self.store, settings.get(self.model, "acs-url"))

    # --- what makes a session due ------------------------------------------------------------

    def connection_request(self, in_session: bool) -> None:
        """An authenticated connection request arrived."""
        if in_session:
            self.extra_session = True
        else:
            self.events.add(ev.CONNECTION_REQUEST)
            self.retry_at = None  # the ACS is asking now: no backoff
        self.store.dirty = True

    def inform_now(self) -> None:
        """The operator asked for a session (`tr069client inform`)."""
        self.retry_at = None
        self.store.state["inform_requested"] = True
        self.store.dirty = True

    def schedule_inform(self, delay: int, command_key: str, wall: float) -> None:
        """ScheduleInform: "3 SCHEDULED" and "M ScheduleInform" `delay` seconds from `wall`."""
        scheduled = self.store.state.setdefault("scheduled", [])
        scheduled.append([wall + delay, command_key])
        # Bounded like the event queue: the soonest are kept.
        scheduled.sort(key=lambda s: s[0])
        del scheduled[ev.MAX_EVENTS:]
        self.store.dirty = True

    def on_timers(self, mono: float, wall: float) -> None:
        """Turn elapsed timers into events."""
        if self.periodic_at is not None and wall >= self.periodic_at:
            self.events.add(ev.PERIODIC)
            self.periodic_at = None
        elif self.periodic_at is not None and \
                self.periodic_at - wall > _int(self.model, "PeriodicInformInterval", 3600, 1) + 1:
            # The wall clock went back (NTP after a boot with a wrong clock): start over
            # from now rather than waiting out the jump.
            self.reschedule(mono, wall, after_session=True)
        due = [s for s in self.store.state.get("scheduled", []) if s[0] <= wall]
        if due:
            for _, key in due:
                self.events.add(ev.SCHEDULED)
                self.events.add(ev.M_SCHEDULE_INFORM, key)
            self.store.state["scheduled"] = [s for s in self.store.state["scheduled"] if s[0] > wall]
            self.store.dirty = True

    def poll_notifications(self, mono: float, volatile_only: bool = False) -> "tuple":
        """Compare notified parameters (`volatile_only`: those the OS may change by itself)
        with their baseline; queue VALUE CHANGE as needed."""
        passive, active = self.watcher.poll(volatile_only)
        if passive or active:
            self.events.add(ev.VALUE_CHANGE)
            self.store.dirty = True   # the watcher's pending changes, even if the event was queued
        if active and self.active_at is None:
            self._arm_active(mono)
        return passive, active

    def _arm_active(self, mono):
        # TR-181 DefaultActiveNotificationThrottle: at most one such session per interval.
        throttle = _int(self.model, "DefaultActiveNotificationThrottle", 0, 0)
        last = self.last_active
        self.active_at = mono if last is None else max(mono, last + throttle)

    def _wanted(self, mono):
        carried, tried = self._settled
        for code, key in self.events.items:
            if code != ev.VALUE_CHANGE and (code, key) not in carried:
                return True
        if self.watcher.has_active() and (self.active_at is None or mono >= self.active_at):
            return True
        if self.store.state.get("inform_requested") or self.extra_session:
            return True
        return any(r.token not in tried for f in self.cpe_requests for r in (f() or ()))

    def due(self, mono: float) -> bool:
        """Should a session start now?"""
        if self.status() != STATUS_RUNNING:
            return False
        if self.retry_at is not None and mono < self.retry_at:
            return False
        return self._wanted(mono)

    def deadline(self, mono: float, wall: float) -> "Optional[float]":
        """Monotonic time at which a session can next become due (None: no timer leads to
        one): the first reason for a session, but no earlier than the retry backoff allows.
        An expired backoff with nothing wanted is no deadline: the loop would wake at once,
        find nothing due, and wake again."""
        if self.status() != STATUS_RUNNING:
            return None
        reasons = self._timers(mono, wall) + ([mono] if self._wanted(mono) else [])
        if not reasons:
            return None
        return max(min(reasons), self.retry_at) if self.retry_at is not None else min(reasons)

    def _timers(self, mono, wall):
        """Monotonic times of the timers that raise a reason for a session."""
        times = []
        if self.periodic_at is not None:
            times.append(mono + max(0.0, self.periodic_at - wall))
        for due_wall, _ in self.store.state.get("scheduled", []):
            times.append(mono + max(0.0, due_wall - wall))
        if self.active_at is not None and self.watcher.has_active():
            times.append(self.active_at)
        return times

    # --- one session -------------------------------------------------------------------------

    def begin(self, wall: float, new_id: "Callable[[], str]") -> Session:
        """The engine for the next session."""
        self._bootstrap_if_new_url()
        # TR-069 3.2.2: a request that came during the last session gets one more session,
        # which says why it happens; so does an operator's `inform` with nothing else to say.
        if self.extra_session or (self.store.state.pop("inform_requested", None) and not self.events.items):
            self.events.add(ev.CONNECTION_REQUEST)
        self.extra_session = False
        self.store.state.pop("inform_requested", None)
        ident = self.identity
        requests = []
        for f in self.cpe_requests:
            requests.extend(f() or ())
        self._offered = frozenset(r.token for r in requests)
        return Session(self.model, DeviceId(ident["manufacturer"], ident["oui"], ident["product-class"],
                                            ident["serial-number"]),
                       self.events.pending(), self.retry_count, format_time(wall), new_id,
                       inform_params=self.watcher.begin_inform(), cpe_requests=requests,
                       handlers=self.handlers, commit=self.commit,
                       **({"ns": self.ns} if self.ns else {}))

    def finish(self, s: Session, url: str, mono: float, wall: float) -> None:
        """Record how the session `s` with the ACS at `url` went. Its actions (s.actions) are
        the loop's to run (device.py)."""
        self.store.dirty = True
        left = frozenset()
        if s.informed:
            self.events.delivered(s.events)
            left = frozenset(s.events) & frozenset(tuple(e) for e in self.events.items)
            self.watcher.delivered(s.inform_params)
            if any(c == ev.BOOTSTRAP for c, _ in s.events):
                self.store.state["bootstrap_url"] = url
            if any(c == ev.VALUE_CHANGE for c, _ in s.events):
                # In memory only: a monotonic time means nothing after a reboot.
                self.last_active = mono
                self.active_at = None
            if self.watcher.inform_params():
                # Changes seen after this Inform was built still need their event (and,
                # if active, their own throttled session).
                self.events.add(ev.VALUE_CHANGE)
                if self.watcher.has_active():
                    self._arm_active(mono)
        else:
            self.events.session_failed(s.events, False)
        for token in s.acknowledged:
            for f in self.on_acknowledged:
                f(token)
        # What the ACS set becomes the baseline, and its exemption from notification ends.
        self.watcher.accept_acs_changes()
        changed = self.model.acs_changed
        new_url = settings.get(self.model, "acs-url")
        if MS + "URL" in changed and not new_url.strip():
            # An empty URL cannot even be tried, so it could never fall back: keep ours.
            settings.put(self.model, "acs-url", url)
            url_trials.kept_empty(self.store, url)
        elif MS + "URL" in changed and new_url != url:
            # TR-069 3.7.1.5: a new URL gets a BOOTSTRAP session, at once; it stays on
            # trial until a session with it succeeds.
            url_trials.acs_set(self.store, new_url, url, s.ok)
            self._bootstrap_if_new_url()
        prev, self._left = self._left, (frozenset(), frozenset())
        self._settled = self._left
        if s.ok:
            self._left = (left, self._offered)
            self._settled = (self._left[0] & prev[0], self._left[1] & prev[1])
            # After a fallback the session works, but the operator must still learn why the
            # URL is not the one the ACS set: that stays until the URL changes again.
            outcomes.succeeded(self.store, wall, url_trials.note(self.store))
            url_trials.succeeded(self.store, url)
            self.retry_at = None
        else:
            outcomes.failed(self.store, s.error)
            self._url_trial_failed(url, s.error)
            wait = schedule.retry_wait(self.retry_count, _int(self.model, "CWMPRetryMinimumWaitInterval", 5, 1),
                                       _int(self.model, "CWMPRetryIntervalMultiplier", 2000, 1000), self.random)
            self._back_off(mono, wall, max(wait, s.retry_after or 0))
        outcomes.ended(self.store, wall)
        if s.ok or any(c in (MS + "PeriodicInformInterval", MS + "PeriodicInformTime", MS + "PeriodicInformEnable")
                       for c in changed):
            self.reschedule(mono, wall, after_session=True)

    def failure_note(self, s: Session, mono: float, wall: float) -> str:
        """How the log line of `s`, a failed session just finished, ends: when its retry
        comes, or why none does. RetryCount counts the failure either way."""
        nxt = self.deadline(mono, wall)
        if nxt is not None and self._wanted(mono):
            return "retry %d in %.0f s" % (self.retry_count, max(0.0, nxt - mono))
        pending = set(self.events.pending())
        gone = [c for c, k in s.events if (c, k) not in pending]
        if gone and not s.informed:
            # TR-069 3.7.1.5 (Table 7): 6 CONNECTION REQUEST is discarded when its session fails.
            note = "not retried (TR-069 3.7.1.5: %s %s discarded when the session fails)" % (
                " and ".join(gone), "is" if len(gone) == 1 else "are")
        else:
            note = "nothing is left to retry" + (" (the ACS took the Inform)" if s.informed else "")
        if nxt is None:
            return note + "; no session planned"
        return note + "; next session at " + format_time(wall + max(nxt, mono) - mono)

    def _url_trial_failed(self, url, error):
        back = url_trials.failed(self.store, url, error)
        if back is not None:
            fallback, note = back
            settings.put(self.model, "acs-url", fallback)
            # The URL changed again, so the BOOTSTRAP still queued goes to the old ACS: it
            # learns at once that the device is back (TR-069 3.7.1.5).
            self.events.add(ev.BOOTSTRAP)
            outcomes.note(self.store, note)
            outcomes.retries_over(self.store)
            self.retry_at = None
