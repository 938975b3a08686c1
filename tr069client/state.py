"""The persisted state of one device: every key of the state file's "state" object, with the
one module that writes it (and keeps its default) and what it means; no I/O.

Only the owner writes a key (tests/test_state.py walks the package and fails on a write from
elsewhere); other modules go through the owner's functions. The file's two other parts,
"values" and "attributes", belong to the data model (model.py, tables.py, attributes.py).
"""

from collections import namedtuple

# `kept`: survives `reset-config` and FactoryReset (which forget everything else).
Key = namedtuple("Key", "name owner meaning kept")

KEYS = {k.name: k for k in (
    # The session planner's timing (planner.py).
    Key("retry_backoff", "planner", "[wall time, wait] of the retry backoff a restart waits out", False),
    Key("inform_requested", "planner", "the operator asked for a session (`tr069client inform`)", False),
    Key("scheduled", "planner", "[wall time, CommandKey] of each ScheduleInform still to come", False),
    Key("bootstrap_url", "planner", "the ACS URL that last took a 0 BOOTSTRAP", False),
    # Work a session accepted and has not run yet (actions.py).
    Key("deferred", "actions", "[action, [fields], boot id] of each ScheduleInform, Reboot and FactoryReset "
        "the ACS was told was accepted, until it runs", False),
    # Events waiting for an Inform (events.py; the one EventQueue is the planner's).
    Key("events", "events", "pending Inform events as [code, CommandKey]", False),
    # The record of sessions the operator sees (outcomes.py).
    Key("retry_count", "outcomes", "consecutive failed sessions (the Inform's RetryCount)", False),
    Key("last_error", "outcomes", "last-session-error: why the last session failed, or a note", False),
    Key("operation_error", "outcomes", "a device operation that failed after the ACS was answered", False),
    Key("last_success", "outcomes", "wall time of the last successful session", False),
    Key("last_session", "outcomes", "wall time the last session ended", False),
    Key("first_use", "outcomes", "wall time of the first session with a sane clock (FirstUseDate)", False),
    # Boots (boot.py).
    Key("boot_id", "boot", "the kernel's boot id at the last start: another one is a boot", True),
    Key("expect_boot", "boot", "a reboot tr069client ordered: \"started\" or \"returned\"", False),
    # ACS URLs set by the ACS, on trial (url_trials.py).
    Key("last_url", "url_trials", "the ACS URL last noted, to see the operator change it", False),
    Key("url_trial", "url_trials", "{url, fallback, failures} of a URL the ACS set, until it works", False),
    Key("url_fallback", "url_trials", "why the URL in use is not the one the ACS set", False),
    Key("last_good_url", "url_trials", "the last ACS URL a session succeeded with", False),
    # Value-change notification (notify.py).
    Key("notify_baseline", "notify", "{path: value} the ACS last learned of each notified parameter", False),
    Key("notify_pending", "notify", "changed paths not yet informed, by notification", False),
    # Transfers (transfers.py).
    Key("transfers", "transfers", "the Download and Upload records, oldest first", False),
    Key("transfers_next", "transfers", "the id of the next transfer", False),
    # Instance numbers (instances.py).
    Key("next_instance", "instances", "{table: the next instance number}", False),
    Key("instances", "instances", "{table: {key: number}} of the rows the OS gives", False),
    Key("bound_instances", "instances", "{table: {key: number}} of the rows bindings give", False),
    # Settings (settings.py).
    Key("settings", "settings", "{setting: value} of the settings that are no TR-181 parameter", False),
    Key("applied", "settings", "{setting: value} last applied from the flags or the config file", False),
    # The connection-request listener (listener.py).
    Key("cr_path", "listener", "the random path of ConnectionRequestURL", False),
    # ACS discovery (dhcp.py).
    Key("dhcp_url", "dhcp", "the ACS URL DHCP gave last", False),
    # Fleet mode's simulated devices (fleet/model.py): their template's rows they no longer have.
    Key("deleted_rows", "fleet.model", "template rows (\"X.N.\") the ACS deleted from this device", False),
)}


def reset(store):
    """Forget configuration and state (reset-config, FactoryReset): the values, the
    attributes and every key but those `kept` (the boot id: this is no reboot)."""
    kept = {k: v for k, v in store.state.items() if k in KEYS and KEYS[k].kept}
    store.values.clear()
    store.attrs.clear()
    store.state.clear()
    store.state.update(kept)
    store.dirty = True
