"""The persistent store: parameter values, attributes and daemon state in one JSON file
(the keys of the state, each with its owner: state.py)."""

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Optional

FORMAT = 1


class StoreError(Exception):
    """The store file cannot be read or written; the message says which and why."""


class Store:
    """A flat `{path: value}` dict, attributes `{path: [notification, [access...]]}` and
    a `state` dict for the daemon, saved together by atomic replace."""

    def __init__(self, path: "Optional[str]" = None):
        self.path = path
        self.values = {}
        self.attrs = {}
        self.state = {}
        self.dirty = False
        # What load() had to set aside, for the daemon to report; None when all was well.
        self.load_problem = None

    @classmethod
    def load(cls, path: str, set_aside: bool = True) -> "Store":
        """Read `path`; a missing file gives an empty store, a damaged one is kept aside
        (left in place with `set_aside` false, for commands that only look)."""
        store = cls(path)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return store
        except OSError as e:
            raise StoreError("cannot read %s: %s" % (path, e.strerror or e))
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not a tr069client store (format %r)" % (data.get("format")
                                                                         if isinstance(data, dict) else None))
            values, attrs, state = data.get("values", {}), data.get("attributes", {}), data.get("state", {})
            if not (isinstance(values, dict) and isinstance(attrs, dict) and isinstance(state, dict)):
                raise ValueError("wrong structure")
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
                raise ValueError("a value that is not a string")
            if not all(_attribute_ok(a) for a in attrs.values()):
                raise ValueError("an attribute that is not [notification, [access, ...]]")
        except (ValueError, RecursionError) as e:   # RecursionError: JSON nested too deep
            # A damaged file must not stop the device from reaching its ACS: keep it for
            # inspection and start over (the next Inform is a BOOTSTRAP).
            aside = path + ".damaged" if set_aside else None
            try:
                if aside:
                    os.replace(path, aside)
            except OSError:
                aside = None
            store.load_problem = "state file %s was damaged (%s)%s; starting with empty state" % (
                path, e, "; kept as " + aside if aside else "")
            return store
        store.values, store.attrs, store.state = values, attrs, state
        return store

    def save(self) -> None:
        """Write everything atomically: temporary file, fsync, rename, fsync of the folder."""
        if self.path is None:
            self.dirty = False
            return
        write_file(self.path, json.dumps({"format": FORMAT, "values": self.values,
                                          "attributes": self.attrs, "state": self.state},
                                         separators=(",", ":"), sort_keys=True).encode())
        self.dirty = False

    def save_now(self) -> "Optional[str]":
        """Save at once (a step that must survive a power cut); None, or the reason the
        file could not be written, for the caller to report."""
        self.dirty = True
        try:
            self.save()
        except StoreError as e:
            return str(e)
        return None

    def save_if_dirty(self) -> None:
        if self.dirty:
            self.save()

    def snapshot(self) -> tuple:
        """A deep copy of values, attributes and state, for restore()."""
        import copy
        return copy.deepcopy((self.values, self.attrs, self.state))

    def restore(self, snapshot: tuple) -> None:
        """Put back what snapshot() copied (all or nothing changes); the three dicts stay the
        same objects, for whoever holds them."""
        for d, old in zip((self.values, self.attrs, self.state), snapshot):
            d.clear()
            d.update(old)
        self.dirty = True


def write_file(path: str, data: bytes) -> None:
    """Replace the file `path` by `data` atomically (temporary file, fsync, rename, fsync of
    the folder), mode 600; StoreError saying why it could not."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        # 0600: the file holds the ACS and connection-request passwords. Always a fresh
        # file (O_EXCL, O_NOFOLLOW): a symlink planted at this name is never written through.
        try:
            os.unlink(tmp)   # left by a crash of a process with the same pid
        except FileNotFoundError:
            pass
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise StoreError("cannot write %s: %s" % (path, e.strerror or e))


def _attribute_ok(a):
    return (isinstance(a, list) and len(a) == 2 and a[0] in (0, 1, 2) and isinstance(a[1], list)
            and all(isinstance(x, str) for x in a[1]))
