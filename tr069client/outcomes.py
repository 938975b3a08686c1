"""The outcomes of sessions as the operator sees them: last-session-error, the retry count,
when the last session ended and the last successful one, and FirstUseDate; owner of those
keys of the state (state.py); no I/O."""

from .datatypes import format_time

# TR-181 FirstUseDate needs an absolute time: a clock before 2020 has none yet.
_SANE_CLOCK = 1577836800


def retry_count(store):
    return store.state.get("retry_count", 0)


def last_error(store):
    return store.state.get("last_error", "")


def last_success(store):
    """Wall time of the last successful session, or None."""
    return store.state.get("last_success")


def first_use(store):
    """TR-181 DeviceInfo.FirstUseDate: when the device first had both an IP connection (a
    successful session proves it) and an absolute time; the unknown time until then."""
    return format_time(store.state.get("first_use"))


def succeeded(store, wall, note=""):
    """A session succeeded at `wall`. last-session-error becomes `note` (why the URL in use is
    not the one the ACS set), else the failure of a device operation that ran after the last
    session (shown until this one), else nothing."""
    st = store.state
    st["retry_count"] = 0
    st["last_error"] = note or st.pop("operation_error", "")
    st["last_success"] = wall
    note_first_use(store)
    store.dirty = True


def note_first_use(store):
    """Fix FirstUseDate at the first successful session with a sane clock (also at start, for
    a state written before it was kept)."""
    st = store.state
    if "first_use" not in st and (st.get("last_success") or 0) > _SANE_CLOCK:
        st["first_use"] = int(st["last_success"])
        store.dirty = True


def failed(store, error):
    """A session failed with `error` (a sentence): one more consecutive failure."""
    st = store.state
    st["retry_count"] = st.get("retry_count", 0) + 1
    st["last_error"] = error
    store.dirty = True


def ended(store, wall):
    store.state["last_session"] = wall
    store.dirty = True


def retries_over(store):
    """Consecutive failures count from zero again (a boot, CWMP disabled, another URL)."""
    if store.state.get("retry_count"):
        store.state["retry_count"] = 0
        store.dirty = True


def note(store, message):
    """`message` is last-session-error until the next session says otherwise."""
    store.state["last_error"] = message
    store.dirty = True


def operation_failed(store, message):
    """A device operation failed after the ACS was answered: `message` is last-session-error,
    and stays so past the next session (which would otherwise clear it)."""
    store.state["last_error"] = store.state["operation_error"] = message
    store.dirty = True
