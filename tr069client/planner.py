"""The agent's decisions: which events the next Inform carries, when a session is due, and
what a finished session changes; no I/O (clocks and randomness are passed in).

Times: `mono` is a monotonic clock for delays, `wall` Unix time for what the ACS sees.
"""

from . import events as ev
from . import log, schedule, settings
from .datatypes import format_time, parse_time
from .notify import Watcher
from .session import DeviceId, Session

MS = settings.MS
# How many failed sessions a URL set by the ACS gets before the last good one returns.
URL_TRIALS = 3
STATUS_DISABLED, STATUS_WAITING, STATUS_RUNNING = "disabled", "waiting-URL", "running"


def _int(model, name, default, low=None):
    try:
        v = int(model.value(MS + name, "") or default)
    except ValueError:
        v = default
    return v if low is None or v >= low else default


class Planner:
    """One CPE's CWMP state: events, retries, schedule, notifications, ACS URL trials."""

    def __init__(self, store, model, identity, random, handlers=None, extra=None, ns=None,
                 commit=None):
        self.store = store
        # What the session calls to persist an applied change before answering the ACS
        # (store.save_now: the daemon's state file); a parameter so that tests can fail it.
        self.commit = commit or store.save_now
        self.ns = ns                # the Inform's cwmp namespace (None: the engine's default)
        self.model = model
        self.identity = identity
        self.random = random
        self.handlers = handlers
        self.extra = extra or {}
        st = store.state
        self.events = ev.EventQueue(st.setdefault("events", []))
        self.watcher = Watcher(model, st)
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
        self.cpe_requests = []      # callables returning CpeRequest lists (transfers)
        self.on_acknowledged = []   # callables(token) for answered CPE requests

    @property
    def retry_at(self):
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

    def status(self):
        if not settings.get(self.model, "enabled"):
            return STATUS_DISABLED
        if not settings.get(self.model, "acs-url"):
            return STATUS_WAITING
        return STATUS_RUNNING

    @property
    def retry_count(self):
        return self.store.state.get("retry_count", 0)

    def report(self, mono, wall):
        """The operator's view: status, last-session-error, retry-count, and the times of the
        last successful and the next planned session."""
        st = self.store.state
        status = self.status()
        nxt = self.deadline(mono, wall)
        if nxt is not None:
            nxt = wall + max(nxt, mono) - mono
        out = {
            "status": status,
            "last-session-error": st.get("last_error", ""),
            "retry-count": self.retry_count,
            "last-successful-session": format_time(st["last_success"]) if st.get("last_success") else "",
            "next-session": format_time(nxt) if nxt is not None else "",
            "pending-events": [c + (" " + k if k else "") for c, k in self.events.pending()],
        }
        trial = st.get("url_trial")
        if trial:
            out["url-on-trial"] = "%s (%d failed, falls back to %s)" % (
                log.shown_url(trial["url"]), trial["failures"], log.shown_url(trial.get("fallback") or ""))
        return out

    # --- start-up --------------------------------------------------------------------------

    def start(self, boot_id, mono, wall):
        """The daemon started; `boot_id` identifies the kernel's boot (None if unknown)."""
        st = self.store.state
        # A reboot the agent ordered (Reboot, FactoryReset, firmware) counts as a boot even
        # when the hook only restarted the daemon, once the command returned (True: an older
        # daemon's mark). One that started, never returned, and left the same boot never
        # happened: the ACS must not hear that it did.
        ordered = st.pop("expect_boot", False)
        if ordered == "started" and boot_id is not None and st.get("boot_id") == boot_id:
            ordered = False
            mine = [e for e in self.events.items if e[0] == ev.M_REBOOT][-1:]   # queued last
            for e in mine:
                self.events.items.remove(e)
            st["last_error"] = st["operation_error"] = (
                "the reboot ordered before tr069client stopped did not happen: reboot-command did "
                "not finish and the device did not restart")
            log.error("%s", st["last_error"])
            self.store.dirty = True
        if ordered or boot_id is None or st.get("boot_id") != boot_id:
            # A real boot (or the first start ever): 1 BOOT, and retry-count starts over.
            self.events.add(ev.BOOT)
            st["boot_id"] = boot_id
            st["retry_count"] = 0
            self.retry_at = None
            self.store.dirty = True
        else:
            self._resume_backoff(mono, wall)
        self._url_check()
        self._bootstrap_if_new_url()
        self.reschedule(mono, wall)

    def _bootstrap_if_new_url(self):
        url = settings.get(self.model, "acs-url")
        if url and self.store.state.get("bootstrap_url") != url:
            if self.events.add(ev.BOOTSTRAP):
                self.store.dirty = True

    def reschedule(self, mono, wall, after_session=False):
        """Recompute the periodic timer from the ManagementServer parameters."""
        if not settings.get(self.model, "periodic-inform-enabled"):
            self.periodic_at = None
            return
        interval = _int(self.model, "PeriodicInformInterval", 3600, 1)
        anchor = parse_time(self.model.value(MS + "PeriodicInformTime", ""))
        last = wall if after_session else self.store.state.get("last_success")
        self.periodic_at = schedule.next_periodic(wall, interval, anchor, last)

    def settings_changed(self, mono, wall):
        """The operator (or a reloaded config file) changed settings: apply what follows."""
        st = self.store.state
        if not settings.get(self.model, "enabled"):
            # Disabled: nothing is retried, so nothing counts as a consecutive failure.
            if st.get("retry_count") or self.retry_at is not None:
                st["retry_count"] = 0
                self.store.dirty = True
            self.retry_at = None
        if self._url_check():
            self.retry_at = None  # a new URL is tried now
        self._bootstrap_if_new_url()
        self.reschedule(mono, wall)

    def _url_check(self):
        """Note an ACS URL the operator set; True if it changed. Such a URL is nobody's
        trial, and an old fallback note no longer applies."""
        st = self.store.state
        url = settings.get(self.model, "acs-url")
        if url == st.get("last_url"):
            return False
        known = "last_url" in st
        trial = st.get("url_trial")
        if trial and trial["url"] != url:
            st.pop("url_trial")
        st.pop("url_fallback", None)
        st["last_url"] = url
        self.store.dirty = True
        return known

    # --- what makes a session due ------------------------------------------------------------

    def connection_request(self, in_session):
        """An authenticated connection request arrived."""
        if in_session:
            self.extra_session = True
        else:
            self.events.add(ev.CONNECTION_REQUEST)
            self.retry_at = None  # the ACS is asking now: no backoff
        self.store.dirty = True

    def inform_now(self):
        """The operator asked for a session (`tr069client inform`)."""
        self.retry_at = None
        self.store.state["inform_requested"] = True
        self.store.dirty = True

    def schedule_inform(self, delay, command_key, wall):
        scheduled = self.store.state.setdefault("scheduled", [])
        scheduled.append([wall + delay, command_key])
        # Bounded like the event queue: the soonest are kept.
        scheduled.sort(key=lambda s: s[0])
        del scheduled[ev.MAX_EVENTS:]
        self.store.dirty = True

    def on_timers(self, mono, wall):
        """Turn elapsed timers into events."""
        if self.periodic_at is not None and wall >= self.periodic_at:
            self.events.add(ev.PERIODIC)
            self.periodic_at = None
            self.store.dirty = True
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

    def poll_notifications(self, mono):
        """Compare notified parameters with their baseline; queue VALUE CHANGE as needed."""
        passive, active = self.watcher.poll()
        if passive or active:
            self.events.add(ev.VALUE_CHANGE)
            self.store.dirty = True
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

    def due(self, mono):
        """Should a session start now?"""
        if self.status() != STATUS_RUNNING:
            return False
        if self.retry_at is not None and mono < self.retry_at:
            return False
        return self._wanted(mono)

    def deadline(self, mono, wall):
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

    def begin(self, wall, new_id):
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
                       handlers=self.handlers, extra=self.extra, commit=self.commit,
                       **({"ns": self.ns} if self.ns else {}))

    def finish(self, s, url, mono, wall):
        """Record a finished session; returns the actions the daemon must run now."""
        st = self.store.state
        self.store.dirty = True
        left = frozenset()
        if s.informed:
            self.events.delivered(s.events)
            left = frozenset(s.events) & frozenset(tuple(e) for e in self.events.items)
            self.watcher.delivered(s.inform_params)
            if any(c == ev.BOOTSTRAP for c, _ in s.events):
                st["bootstrap_url"] = url
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
            st["url_fallback"] = "the ACS set an empty ACS URL; kept %s" % log.shown_url(url)
        elif MS + "URL" in changed and new_url != url:
            # TR-069 3.7.1.5: a new URL gets a BOOTSTRAP session, at once; it stays on
            # trial until a session with it succeeds.
            fallback = url if s.ok else st.get("last_good_url", url)
            st["url_trial"] = {"url": new_url, "fallback": fallback, "failures": 0}
            st["last_url"] = new_url
            st.pop("url_fallback", None)
            self._bootstrap_if_new_url()
        prev, self._left = self._left, (frozenset(), frozenset())
        self._settled = self._left
        if s.ok:
            self._left = (left, self._offered)
            self._settled = (self._left[0] & prev[0], self._left[1] & prev[1])
            st["retry_count"] = 0
            # After a fallback the session works, but the operator must still learn why the
            # URL is not the one the ACS set: that stays until the URL changes again.
            # So must a device operation that failed after the ACS was answered (a reboot or
            # firmware command): shown until the next successful session after this one.
            st["last_error"] = st.get("url_fallback", "") or st.pop("operation_error", "")
            st["last_success"] = wall
            st["last_good_url"] = url
            if st.get("url_trial", {}).get("url") == url:
                st.pop("url_trial")
            self.retry_at = None
        else:
            st["retry_count"] = st.get("retry_count", 0) + 1
            st["last_error"] = s.error
            self._url_trial_failed(url, s.error)
            wait = schedule.retry_wait(st["retry_count"], _int(self.model, "CWMPRetryMinimumWaitInterval", 5, 1),
                                       _int(self.model, "CWMPRetryIntervalMultiplier", 2000, 1000), self.random)
            self._back_off(mono, wall, max(wait, s.retry_after or 0))
        st["last_session"] = wall
        for a in [a for a in s.actions if a[0] == "schedule_inform"]:
            self.schedule_inform(a[1], a[2], wall)
        if s.ok or any(c in (MS + "PeriodicInformInterval", MS + "PeriodicInformTime", MS + "PeriodicInformEnable")
                       for c in changed):
            self.reschedule(mono, wall, after_session=True)
        return [a for a in s.actions if a[0] != "schedule_inform"]

    def failure_note(self, s, mono, wall):
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
        st = self.store.state
        trial = st.get("url_trial")
        if not trial or trial["url"] != url:
            return
        trial["failures"] += 1
        fallback = trial.get("fallback")
        if trial["failures"] >= URL_TRIALS and fallback and fallback != url:
            settings.put(self.model, "acs-url", fallback)
            st.pop("url_trial")
            st["last_url"] = fallback
            # The URL changed again, so the BOOTSTRAP still queued goes to the old ACS: it
            # learns at once that the device is back (TR-069 3.7.1.5).
            self.events.add(ev.BOOTSTRAP)
            st["url_fallback"] = st["last_error"] = (
                "ACS URL %s set by the ACS failed %d sessions (last: %s); returned to the last URL "
                "that worked, %s" % (log.shown_url(url), URL_TRIALS, error, log.shown_url(fallback)))
            self.retry_at = None
            st["retry_count"] = 0

