"""Diagnostic tests off the daemon's loop: each runs in a worker thread that touches no
shared state (a dict of inputs in, a dict of results out) and wakes the loop through a pipe.

The loop's interface (all calls from the loop thread):
  start(kind, inputs, device=None)  run a test; one of the same kind still running is
                                    canceled first (its result is never delivered)
  cancel(kind)                      stop a test; True if one was running
  running()                         the kinds running now
  fds()                             file descriptors to add to select()'s read list
  collect()                         [(kind, results, note)] of the tests that finished:
                                    results {relative name: value}, DiagnosticsState
                                    included; note: a one-line reason for an error, or None
  close()                           cancel everything (at daemon stop)
"""

import collections
import os


class Runner:
    """Worker threads for diagnostic tests, at most one per kind. `tests`: {kind: fn} to
    run instead of diagnostics.test(kind); `clock`: passed on to each test."""

    def __init__(self, tests=None, clock=None):
        self._tests = tests
        self._clock = clock
        self._running = {}                 # kind -> (generation, Cancel, Thread)
        self._done = collections.deque()   # (kind, generation, results, note), from workers
        self._rfd = self._wfd = None
        self._generation = 0

    def start(self, kind, inputs, device=None):
        import threading   # loaded when the first test starts, not with the daemon
        from . import test
        from .common import Cancel
        fn = self._tests[kind] if self._tests is not None else test(kind)
        self.cancel(kind)
        if self._rfd is None:
            self._rfd, self._wfd = os.pipe()
            os.set_blocking(self._rfd, False)
            os.set_blocking(self._wfd, False)
        self._generation += 1
        cancel = Cancel()
        kwargs = {"device": device}
        if self._clock is not None:
            kwargs["clock"] = self._clock
        worker = threading.Thread(target=self._work, name="diagnostics-" + kind, daemon=True,
                                  args=(kind, self._generation, fn, dict(inputs), cancel, kwargs))
        self._running[kind] = (self._generation, cancel, worker)
        worker.start()

    def cancel(self, kind):
        entry = self._running.pop(kind, None)
        if entry is None:
            return False
        entry[1].set()
        return True

    def running(self):
        return list(self._running)

    def fds(self):
        return [self._rfd] if self._rfd is not None else []

    def collect(self):
        if self._rfd is not None:
            try:
                while os.read(self._rfd, 512):
                    pass
            except BlockingIOError:
                pass
        out = []
        while self._done:
            kind, generation, results, note = self._done.popleft()
            entry = self._running.get(kind)
            if entry is not None and entry[0] == generation:
                del self._running[kind]
                out.append((kind, results, note))
        return out

    def close(self, wait=2.0):
        workers = [entry[2] for entry in self._running.values()]
        for kind in list(self._running):
            self.cancel(kind)
        for w in workers:
            w.join(wait)
        if any(w.is_alive() for w in workers):
            return   # a worker stuck in a system call may still write: leave its pipe open
        for fd in (self._rfd, self._wfd):
            if fd is not None:
                os.close(fd)
        self._rfd = self._wfd = None

    def _work(self, kind, generation, fn, inputs, cancel, kwargs):
        from .common import Canceled, Failure
        note = None
        try:
            results = fn(inputs, cancel, **kwargs)
        except Canceled:
            return
        except Failure as e:
            results, note = {"DiagnosticsState": e.state}, str(e)
        except Exception as e:   # a bug must end the test (and be said), not the thread silently
            results, note = {"DiagnosticsState": "Error_Internal"}, "%s: %s" % (type(e).__name__, e)
        if cancel.is_set():
            return
        self._done.append((kind, generation, results, note))
        try:
            os.write(self._wfd, b"!")
        except (BlockingIOError, OSError, TypeError):
            pass   # the pipe is full (the loop wakes anyway) or closed (daemon stopping)
