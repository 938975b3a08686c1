"""When the next session happens: retry backoff and the periodic timer; no I/O, no clock.

Times are plain seconds; the caller passes the clock's value and a random() function.
"""


def retry_wait(failures, minimum=5, multiplier=2000, random=None):
    """Seconds to wait after the `failures`-th consecutive failed session (TR-069 3.2.1.1):
    uniformly in [m*(k/1000)^(n-1), m*(k/1000)^n], n capped at 10."""
    if failures < 1:
        return 0.0
    n = min(failures, 10)
    ratio = multiplier / 1000.0
    low = minimum * ratio ** (n - 1)
    high = minimum * ratio ** n
    r = random() if random is not None else 0.5
    return low + (high - low) * r


def retry_window(failures, minimum=5, multiplier=2000):
    """The (low, high) bounds retry_wait() draws from."""
    return retry_wait(failures, minimum, multiplier, lambda: 0.0), \
        retry_wait(failures, minimum, multiplier, lambda: 1.0)


def next_periodic(now, interval, anchor=None, last=None):
    """Wall-clock time of the next periodic Inform after `now`.

    With `anchor` (PeriodicInformTime, as a Unix time) Informs fall on anchor + k*interval
    (TR-069 3.7.1.5 / TR-181 PeriodicInformTime); without it, `interval` after `last`
    (the end of the last successful session) or after `now`."""
    interval = max(1, int(interval))
    if anchor is not None:
        k = (now - anchor) // interval + 1
        return anchor + k * interval
    base = last if last is not None else now
    t = base + interval
    return t if t > now else now + interval
