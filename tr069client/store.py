"""The persistent store: parameter values, attributes and daemon state in one JSON file
(the keys of the state, each with its owner: state.py)."""

import errno
import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:   # annotations only: the daemon does not load typing
    from typing import Callable, Optional

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
        data, damaged = read_or_set_aside(path, decode, set_aside)
        if damaged is not None:
            # A damaged file must not stop the device from reaching its ACS: keep it for
            # inspection and start over (the next Inform is a BOOTSTRAP).
            store.load_problem = "state file %s was damaged (%s)%s; starting with empty state" % (
                path, damaged[0], "; kept as " + damaged[1] if damaged[1] else "")
        elif data is not None:
            store.values, store.attrs, store.state = data
        return store

    def save(self) -> None:
        """Write everything atomically: temporary file, fsync, rename, fsync of the folder."""
        if self.path is None:
            self.dirty = False
            return
        write_file(self.path, self.encode())
        self.dirty = False

    def encode(self) -> bytes:
        """The bytes of the file that holds this store (decode() reads them back)."""
        return json.dumps({"format": FORMAT, "values": self.values, "attributes": self.attrs,
                           "state": self.state}, separators=(",", ":"), sort_keys=True).encode()

    def remove_leftovers(self) -> None:
        """Remove the temporary files of saves that a power cut or SIGKILL cut short (any pid):
        for the one process that writes the store, before it writes."""
        if self.path is None:
            return
        folder, base = os.path.split(os.path.abspath(self.path))
        try:
            names = os.listdir(folder)
        except OSError:
            return
        for name in names:
            if name.startswith(base + ".tmp.") and name[len(base) + 5:].isdigit():
                try:
                    os.unlink(os.path.join(folder, name))
                except OSError:
                    pass

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

    def contents(self) -> tuple:
        """Values, attributes and state as held, not copied: for a caller that writes them out
        at once (the fleet's state file)."""
        return self.values, self.attrs, self.state

    def snapshot(self) -> tuple:
        """A deep copy of values, attributes and state, for restore()."""
        import copy
        return copy.deepcopy(self.contents())

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
        private_folder(folder)
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


def read_or_set_aside(path: str, decode: "Callable[[bytes], object]", set_aside: bool = True) -> tuple:
    """(decode(the bytes of `path`), None); (None, None) when there is no such file; (None,
    (why, the name it is kept as or None)) when decode() raises ValueError: the damaged file
    moved to path.damaged, if `set_aside`. StoreError when the file cannot be read."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None, None
    except OSError as e:
        raise StoreError("cannot read %s: %s" % (path, e.strerror or e))
    try:
        return decode(raw), None
    except (ValueError, RecursionError) as e:
        aside = path + ".damaged" if set_aside else None
        try:
            if aside:
                os.replace(path, aside)
        except OSError:
            aside = None
        return None, (e, aside)


def decode(raw: bytes) -> tuple:
    """(values, attributes, state) from the bytes of a store file; ValueError if damaged."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:   # JSON nested too deep
        raise ValueError("nested too deep") from None
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
    return values, attrs, state


def private_folder(path: str) -> None:
    """Create the folder `path` (0700), or take group and others' access away from an existing
    one of ours: it holds the state file and the control socket."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except FileExistsError:   # a file by that name
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path) from None
    st = os.stat(path)
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.chmod(path, st.st_mode & 0o700)


def lock_writer(folder: str, wait: float = 0.0) -> "Optional[int]":
    """The right to write the state in `folder`: an open file descriptor holding an flock on
    folder/lock (given up when closed or when the process ends, SIGKILL included), or None
    when another process keeps it for `wait` seconds. The daemon holds it while it runs; an
    offline command while it writes, so that a daemon starting meanwhile reads what it wrote."""
    import fcntl
    import time
    private_folder(folder)
    fd = os.open(os.path.join(folder, "lock"), os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def _attribute_ok(a):
    return (isinstance(a, list) and len(a) == 2 and a[0] in (0, 1, 2) and isinstance(a[1], list)
            and all(isinstance(x, str) for x in a[1]))
