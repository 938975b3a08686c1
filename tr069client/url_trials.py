"""ACS URLs on trial: a URL the ACS sets is tried, and after MAX_FAILURES failed sessions
the last URL that worked returns (TR-069 3.7.1.5 gives a new URL a BOOTSTRAP, which the
planner raises); owner of "last_url", "url_trial", "url_fallback" and "last_good_url"; no
I/O. Plain functions over the store."""

from . import log

# How many failed sessions a URL set by the ACS gets before the last good one returns.
MAX_FAILURES = 3


def operator_set(store, url):
    """Note the URL in use when the operator (or a config file) may have changed it; True if
    it changed from a known one. Such a URL is nobody's trial, and an old fallback note no
    longer applies."""
    st = store.state
    if url == st.get("last_url"):
        return False
    known = "last_url" in st
    trial = st.get("url_trial")
    if trial and trial["url"] != url:
        st.pop("url_trial")
    st.pop("url_fallback", None)
    st["last_url"] = url
    store.dirty = True
    return known


def acs_set(store, new_url, old_url, session_ok):
    """The ACS changed the URL from `old_url` (in a session that succeeded or not): the new
    one is on trial until a session with it succeeds."""
    st = store.state
    fallback = old_url if session_ok else st.get("last_good_url", old_url)
    st["url_trial"] = {"url": new_url, "fallback": fallback, "failures": 0}
    st["last_url"] = new_url
    st.pop("url_fallback", None)
    store.dirty = True


def kept_empty(store, url):
    """The ACS set an empty URL, which could never be tried: `url` stays, and the note says so."""
    store.state["url_fallback"] = "the ACS set an empty ACS URL; kept %s" % log.shown_url(url)
    store.dirty = True


def succeeded(store, url):
    """A session with `url` succeeded: it is the last good URL, and no longer on trial."""
    st = store.state
    st["last_good_url"] = url
    if st.get("url_trial", {}).get("url") == url:
        st.pop("url_trial")
    store.dirty = True


def failed(store, url, error):
    """A session with `url` failed with `error`: (the URL to return to, the sentence saying
    so) once the URL on trial has failed MAX_FAILURES times, else None."""
    st = store.state
    trial = st.get("url_trial")
    if not trial or trial["url"] != url:
        return None
    trial["failures"] += 1
    store.dirty = True
    fallback = trial.get("fallback")
    if trial["failures"] < MAX_FAILURES or not fallback or fallback == url:
        return None
    st.pop("url_trial")
    st["last_url"] = fallback
    st["url_fallback"] = (
        "ACS URL %s set by the ACS failed %d sessions (last: %s); returned to the last URL "
        "that worked, %s" % (log.shown_url(url), MAX_FAILURES, error, log.shown_url(fallback)))
    return fallback, st["url_fallback"]


def note(store):
    """Why the URL in use is not the one the ACS set (stays until the URL changes), or ""."""
    return store.state.get("url_fallback", "") or ""


def describe(store):
    """The `url-on-trial` line of status, or None."""
    trial = store.state.get("url_trial")
    if not trial:
        return None
    return "%s (%d failed, falls back to %s)" % (
        log.shown_url(trial["url"]), trial["failures"], log.shown_url(trial.get("fallback") or ""))
