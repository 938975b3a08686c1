"""The OS seam: what a provider of OS-owned values is, and the error it raises; no I/O."""


class ProviderError(Exception):
    """A provider could not read or write the OS; the message says why."""


class Provider:
    """OS-owned values under `prefix`: `get(model)` returns a flat {path: value} dict for
    the subtree; a ProviderError in place of a value fails that parameter alone (one
    value of a row that TR-181 cannot express). Optional `set(model, path, value)` returns
    True when the change needs `apply(model)` at session end; `can_set(path)` says which
    paths `set` handles.
    A provider with a longer prefix (or an equal one listed earlier) replaces another's
    values under that prefix.
    Tables under `prefix` take the ACS's AddObject only where `can_add(table)`: then
    `add(model, table)` returns (instance number, needs apply) of a row it made in the OS,
    or (None, False) to have the model keep a stored row beside the OS's; `delete(model,
    row)` removes an OS row, returning needs apply (without it OS rows cannot be deleted).
    `volatile(path)` says whether the OS may change a value while the daemon runs, so that
    a notification on it needs polling (default: every value may; False: none does)."""

    def __init__(self, prefix, get, set=None, can_set=None, apply=None, add=None, can_add=None,
                 delete=None, volatile=True):
        self.prefix = prefix
        self.get = get
        self.set = set
        self.can_set = can_set or (lambda path: set is not None)
        self.apply = apply
        self.add = add
        self.can_add = can_add or (lambda table: add is not None)
        self.delete = delete
        self.volatile = volatile if callable(volatile) else (lambda path: volatile)
