"""Values that move between Informs (uptime, counters, random walks) and the seeded generator
each device draws from; no I/O, no clock: times are passed in.

A drift spec in a template is one of
    {"uptime": true}                            seconds since the device booted
    {"counter": [low, high]}                    grows by low..high per second (wraps at the type's top)
    {"walk": step, "min": a, "max": b}          moves by -step..step at each Inform, kept in [a, b]
"""

_MASK = (1 << 64) - 1
_TOP = {"unsignedInt": 1 << 32, "unsignedLong": 1 << 64, "int": 1 << 31, "long": 1 << 63}


class DriftError(ValueError):
    """A drift spec that cannot work; one line."""


class Rng:
    """SplitMix64: a whole generator in one integer, so each of 10,000 devices has its own
    reproducible stream for a few bytes (random.Random keeps 2.5 KB of state)."""

    __slots__ = ("state",)

    def __init__(self, seed):
        self.state = seed & _MASK

    def random(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return ((z ^ (z >> 31)) >> 11) * (1.0 / (1 << 53))


def device_seed(seed, index):
    """The seed of device `index` in a fleet seeded with `seed`: unrelated streams per device."""
    rng = Rng(seed * 0x100000001B3 + index)
    rng.random()
    return rng.state


class Drift:
    """One parameter's movement; next() gives its new value as a wire string."""

    __slots__ = ("path", "kind", "low", "high", "top")

    def __init__(self, path, spec, ptype):
        self.path = path
        if ptype not in _TOP:
            raise DriftError("%s is of type %s: only integer parameters drift" % (path, ptype))
        self.top = _TOP[ptype]
        if not isinstance(spec, dict) or len(set(spec) & {"uptime", "counter", "walk"}) != 1:
            raise DriftError("drift of %s: expected {\"uptime\": true}, {\"counter\": [low, high]} "
                             "or {\"walk\": step, \"min\": a, \"max\": b}" % path)
        if "uptime" in spec:
            self.kind, self.low, self.high = "uptime", 0, 0
        elif "counter" in spec:
            rate = spec["counter"]
            if not (isinstance(rate, list) and len(rate) == 2 and all(_number(x) and x >= 0 for x in rate)
                    and rate[0] <= rate[1]):
                raise DriftError("drift of %s: counter is [low, high] per second, 0 <= low <= high" % path)
            self.kind, self.low, self.high = "counter", rate[0], rate[1]
        else:
            step, low, high = spec["walk"], spec.get("min", 0), spec.get("max", self.top - 1)
            if not (_number(step) and step >= 0 and _number(low) and _number(high) and low <= high):
                raise DriftError("drift of %s: walk is a step >= 0 with min <= max" % path)
            self.kind, self.low, self.high = "walk", (step, low), high

    def next(self, value, elapsed, uptime, random):
        """The value after `elapsed` seconds, on a device up for `uptime` seconds."""
        if self.kind == "uptime":
            return str(max(0, int(uptime)))
        try:
            old = int(value)
        except (TypeError, ValueError):
            old = 0
        if self.kind == "counter":
            grown = old + int(elapsed * (self.low + (self.high - self.low) * random()))
            return str(grown % self.top if old >= 0 else grown)
        step, low = self.low
        moved = old + int(round((2 * random() - 1) * step))
        return str(int(min(self.high, max(low, moved))))


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)
