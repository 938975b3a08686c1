"""What the fleet counts: sessions by outcome and cause, latencies in a log histogram, transfers,
connection requests, and the process's memory; the progress line and the JSON summary."""

import math
import os

_BASE, _RATIO = 1e-4, 1.05     # latency buckets: 0.1 ms, then 5 % wider each
_SENTENCES = 20                # distinct error sentences kept for the summary


class Histogram:
    """Counts of values in log-spaced buckets: quantiles within 5 %, in constant memory."""

    def __init__(self):
        self.counts = {}
        self.n = 0
        self.max = 0.0

    def add(self, x):
        k = 0 if x <= _BASE else int(math.log(x / _BASE) / math.log(_RATIO)) + 1
        self.counts[k] = self.counts.get(k, 0) + 1
        self.n += 1
        self.max = max(self.max, x)

    def quantile(self, q):
        """The upper edge of the bucket holding the q-quantile (0 when empty)."""
        if not self.n:
            return 0.0
        rank, seen = q * self.n, 0
        for k in sorted(self.counts):
            seen += self.counts[k]
            if seen >= rank:
                return min(self.max, _BASE * _RATIO ** k)
        return self.max


def rss():
    """(VmRSS, VmHWM) of this process in bytes, from /proc (0 where unknown)."""
    found = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    found[line[:5]] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return found.get("VmRSS", 0), found.get("VmHWM", 0)


class Stats:
    """Counters of one fleet run; line() once a second, summary() at the end."""

    def __init__(self, clock, devices):
        self.clock = clock
        self.started = clock()
        self.devices = devices
        self.informed = 0           # devices with at least one successful session
        self.ok = self.failed = self.interrupted = 0
        self.causes = {}            # failure cause (transport kind, "overloaded", "cwmp") -> count
        self.sentences = {}         # the first distinct error sentences -> count
        self.events = {}            # event code -> sessions that carried it (delivered)
        self.latency = Histogram()
        self.counts = dict.fromkeys(("cr-accepted", "cr-refused", "downloads", "download-bytes",
                                     "download-failures", "uploads", "upload-bytes", "upload-failures",
                                     "reboots", "factory-resets"), 0)
        self._window = Histogram()
        self._window_start, self._window_ok = self.started, 0
        self.baseline_rss = rss()[0]

    def add(self, key, n=1):
        self.counts[key] += n

    def session(self, ok, latency, cause=None, error=None, events=()):
        if ok:
            self.ok += 1
            self.latency.add(latency)
            self._window.add(latency)
            for code, _ in events:
                self.events[code] = self.events.get(code, 0) + 1
            return
        self.failed += 1
        self.causes[cause] = self.causes.get(cause, 0) + 1
        if error in self.sentences or len(self.sentences) < _SENTENCES:
            self.sentences[error] = self.sentences.get(error, 0) + 1

    def line(self, active, waiting, down):
        """The progress line for stderr; starts a new one-second window."""
        now = self.clock()
        span = max(1e-9, now - self._window_start)
        rate = (self.ok - self._window_ok) / span
        w = self._window
        causes = ", ".join("%s %d" % kv for kv in sorted(self.causes.items())) or "none"
        text = ("%5.0fs informed %d/%d | sessions ok %d failed %d (%s) | %.1f/s | p50 %.0f ms p99 %.0f ms"
                " | active %d waiting %d down %d | rss %.0f MB" % (
                    now - self.started, self.informed, self.devices, self.ok, self.failed, causes, rate,
                    w.quantile(0.5) * 1000, w.quantile(0.99) * 1000, active, waiting, down, rss()[0] / 1e6))
        self._window, self._window_start, self._window_ok = Histogram(), now, self.ok
        return text

    def summary(self, extra=None):
        now = self.clock()
        elapsed = max(1e-9, now - self.started)
        current, peak = rss()
        times = os.times()
        out = {
            "devices": self.devices, "informed": self.informed, "elapsed-s": round(elapsed, 3),
            "sessions": {"ok": self.ok, "failed": self.failed, "interrupted": self.interrupted,
                         "per-second": round(self.ok / elapsed, 2), "failures-by-cause": self.causes,
                         "errors": self.sentences, "events": self.events},
            "latency-ms": {q: round(self.latency.quantile(v) * 1000, 2) for q, v in
                           (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))},
            "cpu-s": round(times[0] + times[1], 2),
            "rss-mb": round(current / 1e6, 1), "peak-rss-mb": round(peak / 1e6, 1),
            "rss-per-device-kb": round((current - self.baseline_rss) / 1e3 / max(1, self.devices), 2),
        }
        out.update(self.counts)
        out.update(extra or {})
        return out
