"""Reading kernel and configuration files under a root folder ("/" or a test's sample tree)."""

import os


def path(root, name):
    return os.path.join(root, name.lstrip("/"))


def read(root, name, default=None):
    """The text of root/name without surrounding whitespace, or `default` if unreadable."""
    try:
        with open(path(root, name), "rb") as f:
            return f.read().decode("utf-8", "replace").strip()
    except OSError:   # missing, or a sysfs attribute the driver refuses (speed of a down link)
        return default


def printable(text):
    """`text` with each control character replaced by "?": names any process or user may
    choose (a process name, the host name) must still be valid TR-181 strings."""
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def read_int(root, name, default=None, base=10):
    text = read(root, name)
    try:
        return int(text, base)
    except (TypeError, ValueError):
        return default


def lines(root, name):
    """The lines of a text file, [] if unreadable."""
    text = read(root, name)
    return text.splitlines() if text else []


def listdir(root, name):
    try:
        return sorted(os.listdir(path(root, name)))
    except OSError:
        return []


def exists(root, name):
    return os.path.lexists(path(root, name))


def link_name(root, name):
    """The last segment of a symbolic link's target ("br-lan" for .../master), or None."""
    try:
        return os.path.basename(os.readlink(path(root, name)))
    except OSError:
        return None


def first(root, names):
    """(name, text) of the first readable file of `names`, or (None, None)."""
    for name in names:
        text = read(root, name)
        if text is not None:
            return name, text
    return None, None


def uptime(root):
    """Seconds since boot from /proc/uptime, or None."""
    text = read(root, "proc/uptime", "")
    try:
        return int(float(text.split()[0]))
    except (ValueError, IndexError):
        return None
