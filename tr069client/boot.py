"""Whether this start of the daemon is a boot: the kernel's boot id, and the mark of a reboot
tr069client ordered (Reboot, FactoryReset, firmware); owner of "boot_id" and "expect_boot".

The mark says "started" from just before the reboot command starts until it returns, then
"returned": a start that finds "returned" is a boot even if only the daemon restarted, one
that finds "started" and the same boot id knows the reboot never happened.
"""

import os

STARTED, RETURNED = "started", "returned"


def kernel_boot_id(root="/"):
    """The kernel's id of this boot, or None. Tests simulate a reboot with
    TR069CLIENT_BOOT_ID."""
    forced = os.environ.get("TR069CLIENT_BOOT_ID")
    if forced:
        return forced
    try:
        with open(os.path.join(root, "proc/sys/kernel/random/boot_id")) as f:
            return f.read().strip() or None
    except OSError:
        return None


def boot_id(store):
    """The boot id the daemon last started in (None: unknown or never started)."""
    return store.state.get("boot_id")


def started_in(store, boot_id_):
    """The daemon started in the boot `boot_id_`."""
    store.state["boot_id"] = boot_id_
    store.dirty = True


def reboot_starting(store):
    store.state["expect_boot"] = STARTED
    store.dirty = True


def reboot_returned(store):
    store.state["expect_boot"] = RETURNED
    store.dirty = True


def reboot_failed(store):
    """The reboot command failed: no boot is to be expected."""
    store.state.pop("expect_boot", None)
    store.dirty = True


def take_order(store):
    """The mark of an ordered reboot (STARTED, RETURNED, True from an older daemon, or
    False), forgotten once read."""
    order = store.state.pop("expect_boot", False)
    if order:
        store.dirty = True
    return order
